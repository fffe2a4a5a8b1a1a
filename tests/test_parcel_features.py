"""Express and mail features on hand-built silver rows: the PCCC identity rule as of the record's
day, PCCC usage, split shipments, declared vs paid, watch lists, contents words, no leakage."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from pyspark.sql import functions as F
from pyspark.sql import types as T

from features import parcels
from features.entity_state import HistorySums
from features.express import express_features, express_features_from
from features.mail import mail_features
from features.parcels import ParcelReferences, parcel_labels
from jobs.sources import EXPRESS, MAIL, PCCC_REGISTRY, PLATFORM_ORDERS, WATCH_LISTS

D = dt.date(2024, 3, 10)
HISTORY = [T.StructField("_valid_from", T.DateType()), T.StructField("_valid_to", T.DateType())]


def _frame(spark, spec, rows: list[dict], extra_fields: list[T.StructField] = ()):
    fields = [*spec.silver_schema().fields, *[T.StructField(c.name, c.dtype) for c in spec.silver_extra],
              *extra_fields]
    schema = T.StructType(fields)
    return spark.createDataFrame([tuple(r.get(f.name) for f in fields) for r in rows], schema)


def _parcel(awb: str, day: dt.date = D, **fields) -> dict:
    row = {"house_awb": awb, "master_awb": "180-1", "arrival_date": day, "courier_id": "C1",
           "country_of_departure": "CN", "country_of_origin": "CN", "seller_id": "S1", "platform": None,
           "order_id": None, "recipient_pccc": "P000000000001", "recipient_name": "김민수",
           "recipient_phone": "010-1111-2222", "recipient_postcode": "04524", "item_description": "t-shirt",
           "hs6_code": "610910", "quantity": 1, "gross_weight_kg": 0.5, "declared_value": 20.0,
           "currency": "USD", "clearance_type": "list", "purpose": "personal"}
    row.update(fields)
    return row


@pytest.fixture(scope="module")
def refs(spark):
    registry = _frame(spark, PCCC_REGISTRY, [
        {"pccc": "P000000000001", "holder_name": "김민수", "phone": "010-1111-2222", "status": "active",
         "_valid_from": D - dt.timedelta(days=30)},
        {"pccc": "P000000000002", "holder_name": "이영희", "phone": "010-3333-4444", "status": "active",
         "_valid_from": D - dt.timedelta(days=30), "_valid_to": D - dt.timedelta(days=5)},
        {"pccc": "P000000000002", "holder_name": "이영희", "phone": "010-3333-4444", "status": "suspended",
         "_valid_from": D - dt.timedelta(days=5)},
        {"pccc": "P000000000003", "holder_name": "박지훈", "phone": "010-5555-6666", "status": "active",
         "_valid_from": D - dt.timedelta(days=30)},
    ], HISTORY)
    watch = _frame(spark, WATCH_LISTS, [
        {"agency": "KCS", "key_type": "seller", "key_value": "S9", "risk_level": 3,
         "valid_from": D - dt.timedelta(days=3), "_valid_from": D - dt.timedelta(days=30)},
        {"agency": "MFDS", "key_type": "keyword", "key_value": "melatonin", "risk_level": 3,
         "valid_from": D - dt.timedelta(days=30), "_valid_from": D - dt.timedelta(days=30)},
        {"agency": "MFDS", "key_type": "keyword", "key_value": "Melatonin", "risk_level": 1,
         "valid_from": D - dt.timedelta(days=30), "_valid_from": D - dt.timedelta(days=30)},
        {"agency": "MFDS", "key_type": "keyword", "key_value": "vitamin", "risk_level": 2,
         "valid_from": D - dt.timedelta(days=30), "valid_to": D - dt.timedelta(days=1),
         "_valid_from": D - dt.timedelta(days=30)},
    ], HISTORY)
    orders = _frame(spark, PLATFORM_ORDERS, [
        {"platform": "TEMU", "order_id": "O1", "order_date": D - dt.timedelta(days=4), "buyer_pccc": "P000000000001",
         "amount_paid_krw": 270000.0},
        {"platform": "TEMU", "order_id": "O2", "order_date": D + dt.timedelta(days=1), "amount_paid_krw": 9.0},
        # one order id twice: an order older than the look-back (not this parcel's) and the parcel's own
        {"platform": "TEMU", "order_id": "O3", "order_date": D - dt.timedelta(days=70), "buyer_pccc": "P000000000001",
         "amount_paid_krw": 1_000_000.0},
        {"platform": "TEMU", "order_id": "O3", "order_date": D - dt.timedelta(days=2), "buyer_pccc": "P000000000003",
         "amount_paid_krw": 100_000.0},
        # and a second matching one, paid less, by the recipient: the lowest ratio and "any buyer differs" count
        {"platform": "TEMU", "order_id": "O3", "order_date": D - dt.timedelta(days=3), "buyer_pccc": "P000000000001",
         "amount_paid_krw": 50_000.0},
    ])
    return ParcelReferences(registry, watch, orders)


EXPRESS_ROWS = [
    _parcel("A1", platform="TEMU", order_id="O1", declared_value=50.0),
    _parcel("A2", recipient_name="최수진", recipient_phone="010-9999-0000", platform="TEMU", order_id="O2"),
    _parcel("A3", recipient_pccc="P999999999999"),
    _parcel("A4", recipient_pccc="P000000000002", recipient_name="이영희", recipient_phone="010-3333-4444"),
    _parcel("A5", D - dt.timedelta(days=10), recipient_pccc="P000000000002", recipient_name="이영희",
            recipient_phone="010-3333-4444", inspection_date=D, inspection_outcome=1),
    *[_parcel(f"A{6 + i}", day, recipient_pccc="P000000000003", recipient_name="박지훈",
              recipient_phone="010-5555-6666", seller_id="S2", declared_value=100.0)
      for i, day in enumerate([D - dt.timedelta(days=1), D, D])],
    _parcel("A9", seller_id="S9"),
    _parcel("A10", D - dt.timedelta(days=5), seller_id="S9", inspection_date=D - dt.timedelta(days=2),
            inspection_outcome=2),
    _parcel("A11", item_description="Melatonin 10mg"),
    _parcel("A12", item_description="vitamin C"),  # "vitamin" was listed until the day before
    _parcel("A13", D - dt.timedelta(days=2), item_description="Vitamin D"),
    _parcel("A14", platform="TEMU", order_id="O3", declared_value=50.0),
    _parcel("A15", recipient_pccc=None),  # no PCCC: no usage or split-shipment figures, not one big window
    _parcel("A16", recipient_pccc=""),
]


@pytest.fixture(scope="module")
def express(spark, refs) -> pd.DataFrame:
    silver = _frame(spark, EXPRESS, EXPRESS_ROWS)
    return express_features(silver, silver, refs).toPandas().set_index("house_awb")


def test_pccc_identity_rule_uses_the_registry_as_of_the_record_day(express):
    assert express.loc["A1", "pccc_identity_fail"] == 0
    assert express.loc["A2", ["pccc_name_mismatch", "pccc_phone_mismatch", "pccc_identity_fail"]].tolist() == [1, 1, 1]
    assert express.loc["A3", "pccc_unregistered"] == 1 and express.loc["A3", "pccc_identity_fail"] == 1
    assert express.loc["A4", "pccc_suspended"] == 1  # suspended five days before D
    assert express.loc["A5", "pccc_suspended"] == 0  # still active ten days before D


def test_pccc_usage_and_split_shipments_look_back_only(express):
    assert express.loc["A1", "pccc_distinct_names_30d"] == 2 and express.loc["A2", "pccc_distinct_phones_30d"] == 2
    assert express.loc["A6", "pccc_seller_parcels_7d"] == 1  # the later parcels are not known on its day
    assert express.loc["A8", "pccc_seller_parcels_7d"] == 3
    assert express.loc["A8", "pccc_seller_value_usd_7d"] == pytest.approx(300.0)
    assert express.loc["A8", "pccc_seller_value_to_de_minimis_7d"] == pytest.approx(2.0)
    assert express.loc["A8", "just_under_de_minimis"] == 0


def test_records_without_a_pccc_have_no_windowed_figures(express):
    windowed = ["pccc_parcels_30d", "pccc_distinct_names_30d", "pccc_parcels_7d", "pccc_seller_value_usd_7d"]
    assert express.loc[["A15", "A16"], windowed].isna().all().all()
    assert express.loc["A15", "pccc_missing"] == 1 and express.loc["A16", "pccc_missing"] == 1
    assert express.loc["A1", "pccc_parcels_30d"] >= 2  # the PCCC's own window is unaffected


def test_windows_read_only_the_earlier_rows_given(spark, refs, express):
    """The daily path: the records of D with the rows of the 29 days before as `earlier` give the
    windowed figures the full build gives, and a row 30 days before D is outside the window."""
    rows = [*EXPRESS_ROWS, _parcel("B1", D - dt.timedelta(days=30)), _parcel("B2", D - dt.timedelta(days=29))]
    silver = _frame(spark, EXPRESS, rows)
    day = F.col("arrival_date")
    earlier = silver.where(day.between(F.lit(D - dt.timedelta(days=29)), F.lit(D - dt.timedelta(days=1))))
    daily = express_features_from(silver.where(day == F.lit(D)), HistorySums(parcel_labels(silver)), refs,
                                  earlier).toPandas().set_index("house_awb")
    full = express_features(silver, silver, refs).toPandas().set_index("house_awb")
    windowed = [c for c in daily.columns
                if c.startswith(("pccc_parcels", "pccc_distinct", "pccc_seller", "pccc_value"))]
    pd.testing.assert_frame_equal(daily[windowed].sort_index(), full.loc[daily.index, windowed].sort_index())
    # P...01's parcels: A1, A2, A9, A11, A12, A14 of D, A13 (D-2), A10 (D-5) and B2 (D-29); not B1 (D-30)
    assert daily.loc["A1", "pccc_parcels_30d"] == 9


def test_declared_value_against_the_amount_paid(express):
    assert express.loc["A1", "paid_known"] == 1
    assert express.loc["A1", "declared_to_paid"] == pytest.approx(50 * 1350 / 270000)
    assert express.loc["A2", "paid_known"] == 0  # its order is dated after the arrival
    assert express.loc["A14", "declared_to_paid"] == pytest.approx(50 * 1350 / 100_000)  # not the order of D-70
    assert express.loc["A14", "buyer_pccc_differs"] == 1 and express.loc["A1", "buyer_pccc_differs"] == 0


def test_watch_lists_in_force_on_the_record_day_and_contents_words(express):
    assert express.loc["A9", "watch_seller_level"] == 3
    assert express.loc["A10", "watch_seller_level"] == 0  # listed three days before D, parcel five
    assert express.loc["A11", "watch_keyword_level"] == 3 and express.loc["A11", "contents_supplement_word"] == 1
    assert express.loc["A1", "watch_keyword_level"] == 0
    assert express.loc["A12", "watch_keyword_level"] == 0 and express.loc["A13", "watch_keyword_level"] == 2


def test_a_long_keyword_list_is_matched_the_same_way(spark, refs, express, monkeypatch):
    """Keywords beyond `KEYWORD_EXPRESSION_LIMIT` go through the array path: same levels."""
    monkeypatch.setattr(parcels, "KEYWORD_EXPRESSION_LIMIT", 1)
    silver = _frame(spark, EXPRESS, EXPRESS_ROWS)
    again = express_features(silver, silver, refs).toPandas().set_index("house_awb")
    pd.testing.assert_frame_equal(again.sort_index(), express.sort_index())


def test_express_features_of_day_d_ignore_labels_of_day_d_and_later(spark, refs, express):
    def alter(row: dict) -> dict:  # labels known on D or later: flipped, or added where there were none
        if row.get("inspection_date") is None:
            return dict(row, inspection_date=D + dt.timedelta(days=1), inspection_outcome=2)
        if row["inspection_date"] >= D:
            return dict(row, inspection_outcome=1 - min(row["inspection_outcome"], 1))
        return row

    altered = [alter(r) for r in EXPRESS_ROWS]
    assert altered != EXPRESS_ROWS
    silver = _frame(spark, EXPRESS, altered)
    again = express_features(silver, silver, refs).toPandas().set_index("house_awb")
    pd.testing.assert_frame_equal(again.sort_index(), express.sort_index(), check_like=True)
    assert express.loc["A9", "seller_n"] == 1  # A10's label (known D-2) does count


def test_mail_gift_with_supplement_words_and_identity(spark, refs):
    rows = [{"mail_id": "EE123456785KR", "posting_country": "US", "arrival_date": D, "mail_class": "EMS",
             "sender_name": "J. Smith", "recipient_name": "홍길동", "recipient_pccc": "P000000000001",
             "contents_description": "Vitamin C gummies", "contents_category": "gift", "declared_value": 30.0,
             "currency": "USD", "weight_kg": 1.2},
            {"mail_id": "RR123456785KR", "posting_country": "CN", "arrival_date": D, "mail_class": "registered",
             "sender_name": "Li Wei", "recipient_name": None, "recipient_pccc": None,
             "contents_description": "book", "contents_category": "gift", "declared_value": 10.0,
             "currency": "USD", "weight_kg": 0.4}]
    silver = _frame(spark, MAIL, rows)
    out = mail_features(silver, silver, refs).toPandas().set_index("mail_id")
    assert out.loc["EE123456785KR", "gift_with_regulated_words"] == 1
    assert out.loc["RR123456785KR", "gift_with_regulated_words"] == 0
    assert out.loc["EE123456785KR", "pccc_name_mismatch"] == 1  # 홍길동 is not the holder
    assert out.loc["RR123456785KR", "pccc_missing"] == 1
    assert out.loc["EE123456785KR", "value_to_de_minimis"] == pytest.approx(30 / 200)

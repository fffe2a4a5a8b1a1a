"""One day of each channel, vectorised: the landing rows and, beside them, the ground truth."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from generator.config import Rates
from generator.world import COUNTRIES, COUNTRY_WEIGHTS, FTA_TAX_TYPE, World, digit_strings, zero_padded

FX_KRW = {"USD": 1350.0, "CNY": 187.0, "EUR": 1470.0, "JPY": 9.1}
DRUGS = np.array(["methamphetamine", "cannabis", "MDMA", "cocaine", "ketamine", "synthetic cannabinoid"])
INNOCENT_GOODS = np.array(["운동화", "티셔츠", "휴대폰 케이스", "가방", "화장품", "장난감", "이어폰", "양말",
                           "커피 원두", "shoes", "t-shirt", "phone case", "bag", "cosmetics", "toy", "earphones",
                           "tea"])
REGULATED_GOODS = np.array(["diet pill", "melatonin", "sibutramine capsule", "시부트라민", "멜라토닌", "finasteride"])
SUPPLEMENTS = np.array(["vitamin C", "omega-3", "melatonin", "probiotics", "프로폴리스", "홍삼 extract",
                        "glucosamine", "비타민", "painkiller", "antibiotics"])
MAIL_GOODS = {"gift": ["clothes", "book", "snacks", "toy", "선물"], "sample": ["fabric sample", "parts sample"],
              "merchandise": ["shoes", "bag", "electronics", "cosmetics"], "documents": ["documents", "contract"],
              "returned_goods": ["returned shoes", "returned bag"]}
CRITICAL_COUNTRIES = {"MX": 6.0, "TH": 3.0, "US": 2.0, "NL": 3.0, "CA": 2.0}


@dataclass
class DayBatch:
    """A channel's landing rows for one day and their hidden truth (never read by the pipeline)."""

    rows: pd.DataFrame
    truth: pd.DataFrame


def _risk_p(rate: float, weight: np.ndarray) -> np.ndarray:
    """Per-record probability with mean about `rate`, concentrated where `weight` is high."""
    return np.clip(rate * weight / max(weight.mean() if len(weight) else 1.0, 1e-9), 0, 0.95)


def _risk_weighted(rng: np.random.Generator, rate: float, weight: np.ndarray) -> np.ndarray:
    """Bernoulli draws of `_risk_p`."""
    return rng.random(len(weight)) < _risk_p(rate, weight)


def _any_of(*probabilities: np.ndarray) -> np.ndarray:
    """P(at least one pattern): the oracle's fraud probability."""
    stay = np.ones_like(probabilities[0])
    for p in probabilities:
        stay = stay * (1 - p)
    return 1 - stay


def _shock_and_surge(world: World, day: dt.date, hs_idx: np.ndarray, rng: np.random.Generator):
    """Apply supply shocks (fewer imports, one dominant origin) and price surges for `day`."""
    price_mult = np.ones(len(hs_idx))
    forced_origin = np.full(len(hs_idx), "", dtype=object)
    for ev in world.events:
        if day < ev["start"]:
            continue
        hit = pd.Series(world.hs6[hs_idx]).isin(ev["hs6"]).to_numpy()
        if ev["kind"] == "price_surge":
            price_mult[hit] *= ev["magnitude"]
        else:
            drop = hit & (rng.random(len(hs_idx)) > ev["magnitude"])
            hs_idx[drop] = rng.choice(len(world.hs6), int(drop.sum()), p=world.hs_weight)
            stay = hit & ~drop & (rng.random(len(hs_idx)) < ev["concentration"])
            forced_origin[stay] = ev["country"]
    return hs_idx, price_mult, forced_origin


def declarations(world: World, day: dt.date, n: int, rates: Rates, rng: np.random.Generator) -> DayBatch:
    """General-cargo declarations in the KCS schema (labels empty: they arrive as inspection results)."""
    hs_idx = rng.choice(len(world.hs6), n, p=world.hs_weight)
    hs_idx, price_mult, forced_origin = _shock_and_surge(world, day, hs_idx, rng)
    imp = rng.choice(len(world.importers), n, p=_volume_weights(len(world.importers)))
    dec = rng.integers(0, len(world.declarants), n)
    sel = rng.integers(0, len(world.sellers), n)
    origin = rng.choice(COUNTRIES, n, p=COUNTRY_WEIGHTS / COUNTRY_WEIGHTS.sum())
    origin = np.where(forced_origin != "", forced_origin, origin).astype(object)
    departure = np.where(rng.random(n) < 0.85, origin, rng.choice(COUNTRIES, n)).astype(object)
    mass = np.round(np.exp(rng.normal(4.5, 2.0, n)) + 0.1, 1)
    true_price = mass * world.hs_unit_price[hs_idx] * np.exp(rng.normal(0, 0.3, n)) * price_mult
    tax = world.hs_tax[hs_idx].astype(float)
    tax_type = np.where(rng.random(n) < 0.45, [FTA_TAX_TYPE[c] for c in origin], rng.choice(["A", "C", "E1"], n))

    risk = (3 * world.importer_risk_on(day)[imp] + world.declarant_risk[dec] + world.seller_risk_on(day)[sel]
            + world.hs_risk[hs_idx])
    country_risk = np.array([CRITICAL_COUNTRIES.get(c, 1.0) for c in departure])
    p = {"drugs": _risk_p(rates.decl_drugs, risk * country_risk), "under": _risk_p(rates.decl_under_valuation, risk),
         "origin": _risk_p(rates.decl_origin_misdeclaration, risk),
         "watch": _risk_p(rates.decl_watchlisted_goods, risk)}
    # The new pattern (from `new_pattern_day`): goods declared under a lower-duty HS code of the same
    # chapter by importers whatever their past; the legacy rules look for cheap goods, not for these.
    new_pattern = day >= world.start + dt.timedelta(days=rates.new_pattern_day)
    p["misclassified"] = (_risk_p(rates.decl_misclassification, world.hs_tax[hs_idx] + 1.0) if new_pattern
                          else np.zeros(n))
    drugs = rng.random(n) < p["drugs"]
    under = ~drugs & (rng.random(n) < p["under"])
    origin_fraud = ~drugs & ~under & (rng.random(n) < p["origin"])
    watch = ~drugs & ~under & ~origin_fraud & (rng.random(n) < p["watch"])
    misclassified = ~drugs & ~under & ~origin_fraud & ~watch & (rng.random(n) < p["misclassified"])
    innocent = ~(drugs | under | origin_fraud | watch | misclassified)
    cheap = innocent & (rng.random(n) < rates.decl_lookalike_cheap)  # genuinely cheap: declared = true price
    true_price[cheap] *= rng.uniform(0.25, 0.5, int(cheap.sum()))
    transshipped = innocent & ~cheap & (rng.random(n) < rates.decl_lookalike_origin)

    declared = true_price.copy()
    declared[under] *= rng.uniform(0.2, 0.55, int(under.sum()))
    fake_origin = rng.choice(["VN", "CL", "AU", "US", "DE"], int(origin_fraud.sum()))
    departure[origin_fraud] = "CN"
    origin[origin_fraud] = fake_origin
    tax_type[origin_fraud] = [FTA_TAX_TYPE.get(c, "FAS1") for c in fake_origin]
    hubs = rng.choice(["SG", "HK", "NL"], int(transshipped.sum()))  # genuine origin, shipped through a hub
    departure[transshipped] = hubs
    tax_type[transshipped] = [FTA_TAX_TYPE.get(c, "FAS1") for c in origin[transshipped]]
    watch_hs = np.flatnonzero(pd.Series(world.hs6).isin(world.watch_hs).to_numpy())
    if watch.any() and len(watch_hs):
        hs_idx[watch] = rng.choice(watch_hs, int(watch.sum()))
        tax[watch] = world.hs_tax[hs_idx[watch]]
    true_tax = tax.copy()
    if misclassified.any():
        lower = np.flatnonzero(world.hs_tax <= 3)
        hs_idx[misclassified] = rng.choice(lower, int(misclassified.sum()))
        tax[misclassified] = world.hs_tax[hs_idx[misclassified]]

    fraud_type = np.select([drugs, under, origin_fraud, watch, misclassified],
                           ["drugs", "under_valuation", "origin_misdeclaration", "prohibited", "misclassification"], "")
    duty_gap = np.select([under, origin_fraud, watch, misclassified],
                         [(true_price - declared) * (tax / 100 + 0.1), true_price * 0.08, true_price * 0.1,
                          true_price * np.maximum(true_tax - tax, 1.0) / 100], 0.0)
    ids = (rng.choice(90_000_000, n, replace=False) + 10_000_000).astype(str)
    ids = np.char.add(f"{day:%y%m%d}", ids)
    rows = pd.DataFrame({
        "Declaration ID": ids, "Date": day.isoformat(),
        "Office ID": rng.choice(["10", "20", "30", "40", "41", "50", "60", "62", "70", "80"], n),
        "Process Type": rng.choice(["B", "A", "C"], n, p=[0.85, 0.1, 0.05]),
        "Import Type": rng.choice(["11", "21", "29"], n, p=[0.9, 0.06, 0.04]),
        "Import Use": rng.choice(["21", "11", "22"], n, p=[0.8, 0.1, 0.1]),
        "Payment Type": rng.choice(["11", "43", "13"], n, p=[0.75, 0.15, 0.1]),
        "Mode of Transport": rng.choice(["10", "40"], n, p=[0.55, 0.45]),
        "Declarant ID": world.declarants[dec], "Importer ID": world.importers[imp],
        "Seller ID": np.where(rng.random(n) < 0.1, "", world.sellers[sel]),
        "Courier ID": np.where(rng.random(n) < 0.18, rng.choice(world.couriers, n), ""),
        "HS6 Code": world.hs6[hs_idx], "Country of Departure": departure, "Country of Origin": origin,
        "Tax Rate": tax, "Tax Type": tax_type,
        "Country of Origin Indicator": rng.choice(["Y", "B", "G", "N"], n),
        "Net Mass": mass, "Item Price": np.round(declared, 2), "Fraud": "", "Critical Fraud": "",
    })
    truth = _truth("declarations", ids, day, fraud_type, true_price, duty_gap, drugs, rng)
    truth["fraud_probability"] = _any_of(*p.values())
    return DayBatch(rows, truth)


def express(world: World, day: dt.date, n: int, rates: Rates, rng: np.random.Generator) -> DayBatch:
    """Express parcels (one per house AWB) with their platform orders' true amounts in the truth."""
    holder = rng.integers(0, len(world.pccc), n)
    seller = rng.integers(0, len(world.sellers), n)
    departure = rng.choice(["CN", "US", "JP", "DE", "HK", "VN"], n, p=[0.55, 0.2, 0.1, 0.05, 0.05, 0.05]).astype(object)
    currency = np.where(departure == "CN", np.where(rng.random(n) < 0.3, "CNY", "USD"),
                        np.where(departure == "JP", "JPY", np.where(departure == "DE", "EUR", "USD")))
    fx = np.vectorize(FX_KRW.get, otypes=[float])(currency)
    true_usd = np.exp(rng.normal(3.5, 0.8, n))
    limit = np.where(departure == "US", 200.0, 150.0)

    # Split shipments: some buyers cut one large purchase into 2-4 parcels just under the limit.
    splitter = rng.random(n) < rates.express_split_buyers / 2.5
    parts = rng.integers(2, 5, n)
    group = np.repeat(np.arange(n), np.where(splitter, parts, 1))[:n]
    first = np.r_[True, group[1:] != group[:-1]][:n]  # [:n]: no first parcel on a day without parcels
    is_split = splitter[group]
    holder, seller, departure = holder[group], seller[group], departure[group]
    currency, fx, limit = currency[group], fx[group], limit[group]
    true_usd = np.where(is_split, limit * rng.uniform(0.7, 0.98, n), true_usd)

    name = world.holder_name[holder].astype(object)
    phone = world.holder_phone[holder].astype(object)
    pccc = world.pccc[holder].astype(object)
    weight = 1 + 4 * world.seller_risk_on(day)[seller]
    drugs = _risk_weighted(rng, rates.express_drugs, weight)
    shared = ~drugs & (rng.random(n) < rates.express_pccc_shared)
    unregistered = ~drugs & ~shared & (rng.random(n) < rates.express_pccc_unregistered)
    suspended_pool = np.flatnonzero(world.holder_status == "suspended")
    suspended = ~drugs & ~shared & ~unregistered & (rng.random(n) < rates.express_pccc_suspended)
    name[shared] = world.holder_name[rng.integers(0, len(world.pccc), int(shared.sum()))]
    phone[shared] = world.holder_phone[rng.integers(0, len(world.pccc), int(shared.sum()))]
    pccc[unregistered] = digit_strings(rng, int(unregistered.sum()), 12, "P")
    if len(suspended_pool):
        pick = rng.choice(suspended_pool, int(suspended.sum()))
        pccc[suspended], name[suspended], phone[suspended] = world.pccc[pick], world.holder_name[pick], \
            world.holder_phone[pick]
    watch_seller = ~drugs & (rng.random(n) < rates.express_watchlisted_seller)
    seller_ids = world.sellers[seller].astype(object)
    seller_ids[watch_seller] = rng.choice(world.watch_sellers, int(watch_seller.sum()))
    under = ~drugs & ~is_split & _risk_weighted(rng, rates.express_under_valuation, weight)

    declared_usd = true_usd.copy()
    declared_usd[under] *= rng.uniform(0.15, 0.5, int(under.sum()))
    declared = np.round(declared_usd * FX_KRW["USD"] / fx, 2)
    description = rng.choice(INNOCENT_GOODS, n).astype(object)
    description[watch_seller] = rng.choice(REGULATED_GOODS, int(watch_seller.sum()))
    online = rng.random(n) < 0.75
    platform = np.where(online, rng.choice(world.platforms, n, p=world.platform_weights), "")
    order_id = np.where(online, np.char.add("O", rng.integers(10**9, 10**10, n).astype(str)), "")
    purpose = np.where(rng.random(n) < 0.93, "personal", "commercial")
    clearance = np.where((declared_usd <= limit) & (purpose == "personal"), "list", "full")
    serial = 6 if n <= 10**6 else 7  # one more digit for a day of more than a million parcels
    awb = np.char.add(f"E{day:%y%m%d}", zero_padded(rng.choice(10**serial, n, replace=False), serial))
    awb = awb.astype(object)
    misuse = shared | unregistered | suspended
    fraud_type = np.select([drugs, watch_seller, misuse, under, is_split],
                           ["drugs", "regulated_undeclared", "pccc_misuse", "under_valuation", "split_shipment"], "")
    true_krw = true_usd * FX_KRW["USD"]
    duty_gap = np.select([under, is_split, misuse], [(true_usd - declared_usd) * FX_KRW["USD"] * 0.18,
                                                     true_krw * 0.18, true_krw * 0.1], 0.0)
    hs6 = np.where(rng.random(n) < 0.8, world.hs6[rng.choice(len(world.hs6), n, p=world.hs_weight)], "")
    rows = pd.DataFrame({
        "House AWB": awb, "Master AWB": np.char.add("180-", rng.integers(10**7, 10**8, n).astype(str)),
        "Arrival Date": day.isoformat(), "Courier ID": rng.choice(world.couriers, n),
        "Country of Departure": departure, "Country of Origin": departure, "Seller ID": seller_ids,
        "Platform": platform, "Order ID": order_id, "Recipient PCCC": pccc, "Recipient Name": name,
        "Recipient Phone": phone, "Recipient Postcode": world.postcodes[holder], "Item Description": description,
        "HS6 Code": hs6, "Quantity": rng.integers(1, 4, n), "Gross Weight": np.round(rng.gamma(2, 0.6, n) + 0.05, 2),
        "Declared Value": declared, "Currency": currency, "Clearance Type": clearance, "Purpose": purpose,
    })
    truth = _truth("express", awb, day, fraud_type, true_krw, duty_gap, drugs, rng)
    uniform = np.full(n, rates.express_pccc_shared + rates.express_pccc_unregistered + rates.express_pccc_suspended
                      + rates.express_watchlisted_seller)
    truth["fraud_probability"] = _any_of(_risk_p(rates.express_drugs, weight), uniform, is_split.astype(float),
                                         _risk_p(rates.express_under_valuation, weight) * ~is_split)
    truth["split_group"] = np.where(is_split, group, -1)
    truth["paid_krw"] = np.round(true_krw, 0)
    truth["first_in_group"] = first
    return DayBatch(rows, truth)


def platform_orders(express_rows: pd.DataFrame, express_truth: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """The platforms' own records of the express parcels bought online (true amount paid)."""
    online = express_rows["Order ID"] != ""
    ex = express_rows[online]
    arrival = pd.to_datetime(ex["Arrival Date"])
    lag = pd.to_timedelta(rng.integers(2, 11, len(ex)), unit="D")
    return pd.DataFrame({
        "Platform": ex["Platform"].values, "Order ID": ex["Order ID"].values,
        "Order Date": (arrival - lag).dt.strftime("%Y-%m-%d").values,
        "Buyer PCCC": ex["Recipient PCCC"].values, "Buyer Name": ex["Recipient Name"].values,
        "Buyer Phone": ex["Recipient Phone"].values, "Product": ex["Item Description"].values,
        "Site": np.char.add(np.char.lower(ex["Platform"].values.astype(str)), ".com"),
        "Seller ID": ex["Seller ID"].values, "Quantity": ex["Quantity"].values,
        "Amount Paid": express_truth.loc[online.values, "paid_krw"].values,
    })


def s10_ids(rng: np.random.Generator, prefixes: np.ndarray, countries: np.ndarray) -> np.ndarray:
    """UPU S10 item ids: 2-letter service prefix, 8-digit serial, check digit, country."""
    serial = rng.integers(0, 10**8, len(prefixes))
    digits = (serial[:, None] // (10 ** np.arange(7, -1, -1))) % 10
    total = digits @ np.array([8, 6, 4, 2, 3, 5, 9, 7])
    check = 11 - total % 11
    check = np.where(check == 10, 0, np.where(check == 11, 5, check))
    body = np.char.add(zero_padded(serial, 8), check.astype(str))
    return np.char.add(np.char.add(prefixes.astype(str), body), countries.astype(str))


def mail(world: World, day: dt.date, n: int, rates: Rates, rng: np.random.Generator) -> DayBatch:
    """International postal items; supplements and medicines sent as undeclared gifts."""
    country = rng.choice(["CN", "US", "JP", "VN", "PH", "TH", "DE", "CA"], n, p=[.3, .25, .12, .1, .08, .07, .04, .04])
    mail_class = rng.choice(["EMS", "parcel", "registered", "small_packet"], n, p=[.35, .25, .15, .25])
    prefix = np.select([mail_class == "EMS", mail_class == "parcel", mail_class == "registered"], ["E", "C", "R"], "L")
    prefix = np.char.add(prefix.astype(str), rng.choice(list("ABCDEFGHJKLMNPQRSTUVWXYZ"), n))
    mail_id = s10_ids(rng, prefix, country)
    category = rng.choice(list(MAIL_GOODS), n, p=[.35, .1, .35, .15, .05]).astype(object)
    description = np.array([MAIL_GOODS[c][i % len(MAIL_GOODS[c])] for i, c in
                            zip(rng.integers(0, 10, n), category, strict=True)], dtype=object)
    country_risk = np.array([CRITICAL_COUNTRIES.get(c, 1.0) for c in country])
    drugs = _risk_weighted(rng, rates.mail_drugs, country_risk)
    supplements = ~drugs & (rng.random(n) < rates.mail_supplements_as_gift)
    category[supplements] = "gift"
    description[supplements] = rng.choice(SUPPLEMENTS, int(supplements.sum()))
    description[drugs] = rng.choice(["tea", "candles", "books", "toy", "coffee"], int(drugs.sum()))
    # Real vitamin gifts from family abroad: the same words, nothing to declare.
    vitamins = ~drugs & ~supplements & (rng.random(n) < rates.mail_lookalike_vitamins)
    category[vitamins] = "gift"
    description[vitamins] = rng.choice(["vitamin C", "비타민", "omega-3"], int(vitamins.sum()))
    value = np.round(np.exp(rng.normal(3.2, 0.9, n)), 2)
    holder = rng.integers(0, len(world.pccc), n)
    pccc = np.where(rng.random(n) < 0.4, world.pccc[holder], "")
    fraud_type = np.select([drugs, supplements], ["drugs", "regulated_undeclared"], "")
    true_krw = value * FX_KRW["USD"]
    rows = pd.DataFrame({
        "Item ID": mail_id, "Posting Country": country, "Arrival Date": day.isoformat(), "Mail Class": mail_class,
        "Sender": rng.choice(["J. Smith", "Li Wei", "Tanaka", "Nguyen", "M. Garcia", "Kim (overseas)"], n),
        "Recipient Name": world.holder_name[holder], "Recipient PCCC": pccc, "Contents": description,
        "Category": category, "Declared Value": value, "Currency": "USD",
        "Weight": np.round(rng.gamma(2, 0.4, n) + 0.02, 2),
    })
    truth = _truth("mail", mail_id, day, fraud_type, true_krw, np.where(supplements, true_krw * 0.1, 0.0), drugs, rng)
    truth["fraud_probability"] = _any_of(_risk_p(rates.mail_drugs, country_risk),
                                         np.full(n, rates.mail_supplements_as_gift))
    return DayBatch(rows, truth)


def _truth(channel: str, keys: np.ndarray, day: dt.date, fraud_type: np.ndarray, true_krw: np.ndarray,
           duty_gap: np.ndarray, drugs: np.ndarray, rng: np.random.Generator) -> pd.DataFrame:
    n = len(keys)
    return pd.DataFrame({
        "channel": channel, "record_key": keys, "date": day.isoformat(),
        "fraud": (fraud_type != "").astype(int), "outcome": np.where(drugs, 2, (fraud_type != "").astype(int)),
        "fraud_type": fraud_type, "true_value_krw": np.round(true_krw, 0), "duty_gap_krw": np.round(duty_gap, 0),
        "drug_type": np.where(drugs, rng.choice(DRUGS, n), ""),
        "seized_kg": np.where(drugs, np.round(rng.gamma(1.2, 0.4, n) + 0.01, 3), 0.0),
    })


def _volume_weights(n: int) -> np.ndarray:
    w = 1.0 / np.arange(1, n + 1) ** 0.8
    return w / w.sum()

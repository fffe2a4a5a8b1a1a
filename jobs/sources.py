"""Each landing source described once, as data: columns and types, key, date column.

Ingestion, validation, quarantine, MERGE and the Dagster assets of every source are generated
from these descriptions; adding a source means adding a `SourceSpec` (and its rules in
`expectations/`), not a module.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from pyspark.sql import Column as SparkColumn
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

SourceKind = Literal["event", "reference", "feedback"]
PersonalKind = Literal["pccc", "phone", "name"]


def restore_hs6_leading_zero(hs6: SparkColumn) -> SparkColumn:
    """A five-digit HS code is a six-digit one that lost its leading zero (chapters 01-09 stored as
    a number, e.g. by a spreadsheet): put it back; anything else is left for the format rule."""
    return F.when(hs6.rlike("^[0-9]{5}$"), F.concat(F.lit("0"), hs6)).otherwise(hs6)


@dataclass(frozen=True)
class Column:
    """One column: its snake_case name in the lake, its header in landing files, its silver type,
    and the repair of a known delivery artefact applied to the delivered string before the rules."""

    name: str
    header: str
    dtype: T.DataType
    description: str = ""
    repair: Callable[[SparkColumn], SparkColumn] | None = None
    # Personal data ("pccc", "phone" or "name"): masked wherever a value is shown outside the lake.
    personal: PersonalKind | None = None

    def repaired(self, delivered: SparkColumn) -> SparkColumn:
        """The delivered string with this column's repair applied (unchanged when it has none)."""
        return self.repair(delivered) if self.repair else delivered


@dataclass(frozen=True)
class SourceSpec:
    """A landing source: where its files land, what they hold, and how rows are identified."""

    name: str
    description: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    date_column: str | None
    kind: SourceKind = "event"
    # Silver-only columns that later steps fill (inspection outcomes merged onto channel records).
    silver_extra: tuple[Column, ...] = ()
    # Landed columns that inspection feedback also sets: an empty value in a re-delivery keeps them.
    label_columns: tuple[str, ...] = ()

    @property
    def partition_column(self) -> str | None:
        """Silver partition column: the record date for events and feedback; none for reference
        tables, which are small and keep history rows instead."""
        return None if self.kind == "reference" else self.date_column

    @property
    def personal_columns(self) -> dict[str, PersonalKind]:
        """Columns holding personal data, with the kind of mask they take."""
        return {c.name: c.personal for c in self.columns if c.personal}

    @property
    def column_names(self) -> list[str]:
        """The lake column names, in declared order."""
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        """The column called `name`."""
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(f"{self.name} has no column {name!r}")

    def typed(self, delivered: DataFrame) -> DataFrame:
        """Rows as delivered (string columns named by the landing headers) in the silver types,
        with each column's repair; a value that does not cast becomes null (trusted sources only:
        landing goes through the rules instead)."""
        return delivered.select([c.repaired(F.col(f"`{c.header}`")).try_cast(c.dtype).alias(c.name)
                                 for c in self.columns])

    def silver_schema(self) -> T.StructType:
        """Explicit typed schema of the silver table's business columns (as landed)."""
        return T.StructType([T.StructField(c.name, c.dtype, True) for c in self.columns])


def _c(name: str, header: str, dtype: T.DataType, description: str,
       repair: Callable[[SparkColumn], SparkColumn] | None = None, personal: PersonalKind | None = None) -> Column:
    return Column(name, header, dtype, description, repair, personal)


INSPECTION_COLUMNS = (
    _c("inspection_date", "", T.DateType(), "Date of the latest inspection result (null: not inspected)"),
    _c("inspection_outcome", "", T.IntegerType(), "0 clear, 1 fraud, 2 critical"),
    _c("inspection_finding", "", T.StringType(), "What the inspection found"),
)

DECLARATIONS = SourceSpec(
    name="declarations",
    description="Import declarations of general cargo, one row per declared item (public KCS schema).",
    columns=(
        _c("declaration_id", "Declaration ID", T.StringType(), "Declaration identifier (key)"),
        _c("date", "Date", T.DateType(), "Declaration date (partition)"),
        _c("office_id", "Office ID", T.StringType(), "Customs office"),
        _c("process_type", "Process Type", T.StringType(), "Clearance process type"),
        _c("import_type", "Import Type", T.StringType(), "Import type code"),
        _c("import_use", "Import Use", T.StringType(), "Import use code"),
        _c("payment_type", "Payment Type", T.StringType(), "Payment type code"),
        _c("mode_of_transport", "Mode of Transport", T.StringType(), "Transport mode code"),
        _c("declarant_id", "Declarant ID", T.StringType(), "Customs broker / declarant"),
        _c("importer_id", "Importer ID", T.StringType(), "Importer"),
        _c("seller_id", "Seller ID", T.StringType(), "Foreign seller"),
        _c("courier_id", "Courier ID", T.StringType(), "Express courier (empty for general cargo)"),
        _c("hs6_code", "HS6 Code", T.StringType(), "Harmonized System 6-digit code",
           restore_hs6_leading_zero),
        _c("country_of_departure", "Country of Departure", T.StringType(), "ISO-3166 alpha-2"),
        _c("country_of_origin", "Country of Origin", T.StringType(), "ISO-3166 alpha-2"),
        _c("tax_rate", "Tax Rate", T.DoubleType(), "Duty rate, percent"),
        _c("tax_type", "Tax Type", T.StringType(), "Tariff type (FTA / preferential codes)"),
        _c("country_of_origin_indicator", "Country of Origin Indicator", T.StringType(),
           "How origin was marked"),
        _c("net_mass", "Net Mass", T.DoubleType(), "Net mass, kg"),
        _c("item_price", "Item Price", T.DoubleType(), "Declared item price, KRW"),
        _c("fraud", "Fraud", T.IntegerType(), "Inspection outcome: 1 fraud, 0 clear, empty unknown"),
        _c("critical_fraud", "Critical Fraud", T.IntegerType(),
           "0 none, 1 fraud, 2 critical (public-safety threat), empty unknown"),
    ),
    key=("declaration_id",),
    date_column="date",
    silver_extra=INSPECTION_COLUMNS,
    label_columns=("fraud", "critical_fraud"),
)

EXPRESS = SourceSpec(
    name="express",
    description="Express cargo, one row per house air waybill.",
    columns=(
        _c("house_awb", "House AWB", T.StringType(), "House air waybill number (key)"),
        _c("master_awb", "Master AWB", T.StringType(), "Master air waybill number"),
        _c("arrival_date", "Arrival Date", T.DateType(), "Arrival date (partition)"),
        _c("courier_id", "Courier ID", T.StringType(), "Express courier"),
        _c("country_of_departure", "Country of Departure", T.StringType(), "ISO-3166 alpha-2"),
        _c("country_of_origin", "Country of Origin", T.StringType(), "ISO-3166 alpha-2"),
        _c("seller_id", "Seller ID", T.StringType(), "Foreign seller"),
        _c("platform", "Platform", T.StringType(), "E-commerce platform (empty when not bought online)"),
        _c("order_id", "Order ID", T.StringType(), "Platform order id"),
        _c("recipient_pccc", "Recipient PCCC", T.StringType(), "Personal customs clearance code (P + 12 digits)",
           personal="pccc"),
        _c("recipient_name", "Recipient Name", T.StringType(), "Recipient name (personal data)", personal="name"),
        _c("recipient_phone", "Recipient Phone", T.StringType(), "Recipient phone (personal data)", personal="phone"),
        _c("recipient_postcode", "Recipient Postcode", T.StringType(), "5-digit Korean postcode"),
        _c("item_description", "Item Description", T.StringType(), "Declared contents"),
        _c("hs6_code", "HS6 Code", T.StringType(), "HS 6-digit code (may be missing)",
           restore_hs6_leading_zero),
        _c("quantity", "Quantity", T.IntegerType(), "Pieces"),
        _c("gross_weight_kg", "Gross Weight", T.DoubleType(), "kg"),
        _c("declared_value", "Declared Value", T.DoubleType(), "In `currency`"),
        _c("currency", "Currency", T.StringType(), "ISO-4217"),
        _c("clearance_type", "Clearance Type", T.StringType(), "list (small personal goods) or full declaration"),
        _c("purpose", "Purpose", T.StringType(), "personal or commercial"),
    ),
    key=("house_awb",),
    date_column="arrival_date",
    silver_extra=INSPECTION_COLUMNS,
)

MAIL = SourceSpec(
    name="mail",
    description="International mail, one row per postal item (UPU S10 id).",
    columns=(
        _c("mail_id", "Item ID", T.StringType(), "UPU S10 item id with check digit (key)"),
        _c("posting_country", "Posting Country", T.StringType(), "ISO-3166 alpha-2"),
        _c("arrival_date", "Arrival Date", T.DateType(), "Arrival date (partition)"),
        _c("mail_class", "Mail Class", T.StringType(), "EMS, parcel, registered, small_packet"),
        _c("sender_name", "Sender", T.StringType(), "Sender name", personal="name"),
        _c("recipient_name", "Recipient Name", T.StringType(), "Recipient name (personal data)", personal="name"),
        _c("recipient_pccc", "Recipient PCCC", T.StringType(), "PCCC, often missing", personal="pccc"),
        _c("contents_description", "Contents", T.StringType(), "CN22/CN23 contents description"),
        _c("contents_category", "Category", T.StringType(), "gift, sample, merchandise, documents, returned_goods"),
        _c("declared_value", "Declared Value", T.DoubleType(), "In `currency`"),
        _c("currency", "Currency", T.StringType(), "ISO-4217"),
        _c("weight_kg", "Weight", T.DoubleType(), "kg"),
    ),
    key=("mail_id",),
    date_column="arrival_date",
    silver_extra=INSPECTION_COLUMNS,
)

PLATFORM_ORDERS = SourceSpec(
    name="platform_orders",
    description="Orders received from e-commerce platforms, joined to express and mail items.",
    columns=(
        _c("platform", "Platform", T.StringType(), "Platform code"),
        _c("order_id", "Order ID", T.StringType(), "Order id (key with platform)"),
        _c("order_date", "Order Date", T.DateType(), "Order date (partition)"),
        _c("buyer_pccc", "Buyer PCCC", T.StringType(), "Buyer's PCCC", personal="pccc"),
        _c("buyer_name", "Buyer Name", T.StringType(), "Personal data", personal="name"),
        _c("buyer_phone", "Buyer Phone", T.StringType(), "Personal data", personal="phone"),
        _c("product_name", "Product", T.StringType(), "Product name"),
        _c("site", "Site", T.StringType(), "Order site"),
        _c("seller_id", "Seller ID", T.StringType(), "Seller"),
        _c("quantity", "Quantity", T.IntegerType(), "Pieces"),
        _c("amount_paid_krw", "Amount Paid", T.DoubleType(), "KRW"),
    ),
    key=("platform", "order_id"),
    date_column="order_date",
)

PCCC_REGISTRY = SourceSpec(
    name="pccc_registry",
    description="Personal customs clearance code registry; history kept (valid from/to).",
    columns=(
        _c("pccc", "PCCC", T.StringType(), "P + 12 digits (key)", personal="pccc"),
        _c("holder_name", "Holder Name", T.StringType(), "Personal data", personal="name"),
        _c("phone", "Phone", T.StringType(), "Personal data", personal="phone"),
        _c("issue_date", "Issue Date", T.DateType(), "When the code was issued"),
        _c("status", "Status", T.StringType(), "active, suspended (misuse), revoked"),
    ),
    key=("pccc",),
    date_column=None,
    kind="reference",
)

INSPECTION_RESULTS = SourceSpec(
    name="inspection_results",
    description="Inspection outcomes (the feedback): merged onto the inspected channel record.",
    columns=(
        _c("channel", "Channel", T.StringType(), "declarations, express or mail"),
        _c("record_key", "Record Key", T.StringType(), "Key of the inspected record in its channel"),
        _c("inspection_date", "Inspection Date", T.DateType(), "Date of the result (partition)"),
        _c("outcome", "Outcome", T.IntegerType(), "0 clear, 1 fraud, 2 critical"),
        _c("finding", "Finding", T.StringType(), "under_valuation, pccc_misuse, drugs, prohibited, counterfeit, "
           "origin_misdeclaration, misclassification, regulated_undeclared, split_shipment or empty"),
        _c("seized_kg", "Seized kg", T.DoubleType(), "Seized quantity, kg"),
        _c("drug_type", "Drug Type", T.StringType(), "When drugs were found"),
        _c("additional_duty_krw", "Additional Duty", T.DoubleType(), "Duty assessed, KRW"),
    ),
    key=("channel", "record_key"),
    date_column="inspection_date",
    kind="feedback",
)

WATCH_LISTS = SourceSpec(
    name="watch_lists",
    description="Border-agency risk watch lists (food & drug, environment, labour, nuclear safety); history kept.",
    columns=(
        _c("agency", "Agency", T.StringType(), "MFDS, ME, MOEL, NSSC, KCS"),
        _c("key_type", "Key Type", T.StringType(), "hs6, seller, keyword, country"),
        _c("key_value", "Key Value", T.StringType(), "The watched value"),
        _c("risk_level", "Risk Level", T.IntegerType(), "1 low .. 3 high"),
        _c("reason", "Reason", T.StringType(), "Why it is watched"),
        _c("valid_from", "Valid From", T.DateType(), "Listed from"),
        _c("valid_to", "Valid To", T.DateType(), "Listed until (empty: open)"),
    ),
    key=("agency", "key_type", "key_value"),
    date_column=None,
    kind="reference",
)

MONITORED_ITEMS = SourceSpec(
    name="monitored_items",
    description="Item masters: price disclosure (86), surge checks (831), C-EWS key import/export items; history kept.",
    columns=(
        _c("item_code", "Item Code", T.StringType(), "Item code (key with list)"),
        _c("list_type", "List", T.StringType(), "price_disclosure, surge_check, supply_import, supply_export"),
        _c("name_ko", "Name (KO)", T.StringType(), "Korean name"),
        _c("name_en", "Name (EN)", T.StringType(), "English name"),
        _c("hs6_codes", "HS6 Codes", T.StringType(), "HS6 codes, ';'-separated"),
    ),
    key=("item_code", "list_type"),
    date_column=None,
    kind="reference",
)

SOURCES: dict[str, SourceSpec] = {
    spec.name: spec
    for spec in (DECLARATIONS, EXPRESS, MAIL, PLATFORM_ORDERS, PCCC_REGISTRY, INSPECTION_RESULTS, WATCH_LISTS,
                 MONITORED_ITEMS)
}
# Channels whose records get inspection outcomes, and the key an inspection result refers to.
INSPECTED_CHANNELS: dict[str, SourceSpec] = {"declarations": DECLARATIONS, "express": EXPRESS, "mail": MAIL}

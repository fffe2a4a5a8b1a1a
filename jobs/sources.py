"""Each landing source described once, as data: columns and types, key, date column.

Ingestion, validation, quarantine, MERGE and the Dagster assets of every source are generated
from these descriptions; adding a source means adding a `SourceSpec` (and its rules in
`expectations/`), not a module.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import types as T


@dataclass(frozen=True)
class Column:
    """One column: its snake_case name in the lake, its header in landing files, its silver type."""

    name: str
    header: str
    dtype: T.DataType
    description: str = ""


@dataclass(frozen=True)
class SourceSpec:
    """A landing source: where its files land, what they hold, and how rows are identified."""

    name: str
    description: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    date_column: str

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

    def silver_schema(self) -> T.StructType:
        """Explicit typed schema of the silver table's business columns."""
        return T.StructType([T.StructField(c.name, c.dtype, True) for c in self.columns])


def _c(name: str, header: str, dtype: T.DataType, description: str) -> Column:
    return Column(name, header, dtype, description)


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
        _c("hs6_code", "HS6 Code", T.StringType(), "Harmonized System 6-digit code"),
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
)

SOURCES: dict[str, SourceSpec] = {spec.name: spec for spec in (DECLARATIONS,)}

"""Point-in-time risk profiles: for every record, what was known about its importer, declarant,
seller, HS code, countries ... strictly before the record's day.

The trick that keeps it linear: per (entity, day) put the labelled history's daily counts and the
records' days in one table, take running sums over the *preceding* rows of each entity, and join
back on (entity, day). A label of day D or later can never reach a record of day D."""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

# Entities (and pairs) profiled for declarations; a pair is profiled on its concatenated key.
DECLARATION_ENTITIES: dict[str, tuple[str, ...]] = {
    "importer": ("importer_id",),
    "declarant": ("declarant_id",),
    "seller": ("seller_id",),
    "courier": ("courier_id",),
    "office": ("office_id",),
    "hs6": ("hs6_code",),
    "hs4": ("hs4",),
    "origin": ("country_of_origin",),
    "departure": ("country_of_departure",),
    "importer_hs4": ("importer_id", "hs4"),
    "declarant_importer": ("declarant_id", "importer_id"),
    "seller_origin": ("seller_id", "country_of_origin"),
    "hs6_origin": ("hs6_code", "country_of_origin"),
    "office_hs4": ("office_id", "hs4"),
    "tax_type": ("tax_type",),
    "import_use": ("import_use",),
    "payment_type": ("payment_type",),
    "origin_indicator": ("country_of_origin_indicator",),
    "process_type": ("process_type",),
    "transport": ("mode_of_transport",),
    "importer_seller": ("importer_id", "seller_id"),
    "importer_origin": ("importer_id", "country_of_origin"),
    "declarant_hs4": ("declarant_id", "hs4"),
    "seller_hs6": ("seller_id", "hs6_code"),
    "importer_office": ("importer_id", "office_id"),
    # HS6 crossed with how the goods are declared: the strongest signal on the public sample
    # (precision@10% 0.86 -> 0.93 when these were added).
    "hs6_departure": ("hs6_code", "country_of_departure"),
    "hs6_origin_departure": ("hs6_code", "country_of_origin", "country_of_departure"),
    "hs6_tax_type": ("hs6_code", "tax_type"),
    "hs6_origin_tax_type": ("hs6_code", "country_of_origin", "tax_type"),
    "hs4_origin": ("hs4", "country_of_origin"),
    "hs6_office": ("hs6_code", "office_id"),
    "hs6_origin_indicator": ("hs6_code", "country_of_origin_indicator"),
    "hs6_process": ("hs6_code", "process_type"),
    "hs6_import_use": ("hs6_code", "import_use"),
    "hs6_origin_transport": ("hs6_code", "country_of_origin", "mode_of_transport"),
    # Identical consignments: the same goods at the same net mass (and value), and the same goods on
    # the same route in the same size band. Repeat shipments of one line of goods keep their outcome;
    # on the public sample 87 % of declarations share HS6 and net mass with another one and 96 % of
    # those groups have a single outcome (benchmarks/kcs_backtest.py); precision@10% 0.94 -> 1.00 with them.
    "hs6_mass": ("hs6_code", "net_mass"),
    "consignment": ("hs6_code", "net_mass", "item_price"),
    "hs6_route_mass_band": ("hs6_code", "country_of_origin", "country_of_departure", "mass_band"),
}
MASS_BAND_WIDTH = 0.5  # of log1p(net mass, kg): bands about 1.65x wide
SMOOTHING = 20.0  # pseudo-observations pulling a small entity's rate toward the overall prior


def entity_key(columns: tuple[str, ...]) -> Column:
    """One string key for an entity or a pair (null parts become empty)."""
    return F.concat_ws("|", *[F.coalesce(F.col(c).cast("string"), F.lit("")) for c in columns])


# Key columns `with_derived_keys` adds, and the column each is derived from.
DERIVED_KEYS = {"hs4": "hs6_code", "mass_band": "net_mass"}


def entity_input_columns(entities: dict[str, tuple[str, ...]]) -> set[str]:
    """The record columns the profiles of `entities` read (a derived key's source for the key)."""
    return {DERIVED_KEYS.get(c, c) for columns in entities.values() for c in columns}


def with_derived_keys(df: DataFrame) -> DataFrame:
    """Columns profiles need that the schema does not carry: HS4 and the net-mass size band. (HS6
    codes arrive six digits long: landing and `read_kcs_csv` repair a lost leading zero.)"""
    if "hs6_code" in df.columns:
        df = df.withColumn("hs4", F.substring("hs6_code", 1, 4))
    if "net_mass" in df.columns:
        df = df.withColumn("mass_band", F.floor(F.log1p(F.greatest(F.col("net_mass"), F.lit(0.0))) / MASS_BAND_WIDTH))
    return df


def sums_before_each_day(asked: DataFrame, daily: DataFrame, keys: list[str], sums: list[str]) -> DataFrame:
    """For every (keys, `_day`) row of `asked`: the sums of the `sums` columns (of either side) over the same
    keys' *earlier* days (0 when none), and `_last`, the latest earlier day whose first sum is
    non-zero. This one running-sum grid makes every profile point-in-time."""
    grid = asked.join(daily, [*keys, "_day"], "full").fillna(0, sums)
    before = Window.partitionBy(*keys).orderBy("_day").rowsBetween(Window.unboundedPreceding, -1)
    running = [F.coalesce(F.sum(c).over(before), F.lit(0)).alias(c) for c in sums]
    last = F.max(F.when(F.col(sums[0]) > 0, F.col("_day"))).over(before).alias("_last")
    return grid.select(*keys, "_day", *running, last)


def label_counts_long(labelled: DataFrame, entities: dict[str, tuple[str, ...]],
                      label_day_column: str = "label_date") -> DataFrame:
    """Per (entity type, entity, day the labels became known): labelled count `_n`, frauds `_f`,
    critical finds `_c`. The overall counts, which the smoothing prior is made of, are the entity
    type `GLOBAL` with the empty entity."""
    exploded = labelled.select(F.col(label_day_column).alias("_day"), "fraud", "critical",
                               _entity_keys({**entities, GLOBAL: ()})).select("_day", "fraud", "critical", "_e._etype",
                                                                              "_e._entity")
    return exploded.groupBy("_etype", "_entity", "_day").agg(
        F.count(F.lit(1)).alias("_n"), F.sum("fraud").alias("_f"), F.sum("critical").alias("_c"))


def record_counts_long(asked: DataFrame) -> DataFrame:
    """Per (entity type, entity, day): `_r`, the records of the entity that day, labelled or not
    (a label-free frequency encoding). `asked` is `asked_entities`' output."""
    return asked.groupBy("_etype", "_entity", "_day").agg(F.count(F.lit(1)).alias("_r"))


def prior_rates(n: Column | int, f: Column | int, c: Column | int) -> tuple[Column | float, Column | float]:
    """The smoothing prior (fraud, critical) from the overall labelled, fraud and critical counts
    known before a day (it must be point-in-time too: a global rate over all history would leak
    future labels). Columns in, columns out; numbers in, numbers out (the same arithmetic)."""
    return (f + 0.2) / (n + 1), (c + 0.01) / (n + 1)


PROFILE_STATS = ("n", "frauds", "fraud_rate", "critical_rate", "days_since", "records")
GLOBAL = "__all__"  # entity type of the overall counts (the prior)
PROFILE_SUMS = ["_n", "_f", "_c", "_r"]


def _entity_keys(entities: dict[str, tuple[str, ...]]) -> Column:
    """One (`_etype`, `_entity`, `_i`: the entity type's position) row per profiled entity of each
    row (exploded)."""
    return F.explode(F.array(*[F.struct(F.lit(name).alias("_etype"), entity_key(cols).alias("_entity"),
                                        F.lit(i).alias("_i"))
                               for i, (name, cols) in enumerate(entities.items())])).alias("_e")


def asked_entities(records: DataFrame, entities: dict[str, tuple[str, ...]], record_id: str,
                   day_column: str) -> DataFrame:
    """(record, `_day`, `_etype`, `_entity`, `_i`): one row per record and profiled entity."""
    return records.select(record_id, F.col(day_column).alias("_day"), _entity_keys(entities)).select(
        record_id, "_day", "_e._etype", "_e._entity", "_e._i")


def _stat_columns(n: Column, f: Column, c: Column, r: Column, last: Column, day: Column, prior_f: Column,
                  prior_c: Column, prefix: str = "") -> list[Column]:
    """The profile statistics from what was known before the row's day: counts `n`, `f`, `c`,
    `r`, the last label day `last` and the prior `prior_f`, `prior_c` (named `<prefix><stat>`).
    The one formula both the full rebuild and the daily state use."""
    return [
        n.cast("double").alias(f"{prefix}n"),
        f.cast("double").alias(f"{prefix}frauds"),
        ((f + SMOOTHING * prior_f) / (n + SMOOTHING)).alias(f"{prefix}fraud_rate"),
        ((c + SMOOTHING * prior_c) / (n + SMOOTHING)).alias(f"{prefix}critical_rate"),
        F.datediff(day, last).cast("double").alias(f"{prefix}days_since"),
        r.cast("double").alias(f"{prefix}records"),
    ]


def profile_values(sums: DataFrame) -> DataFrame:
    """(`_etype`, `_entity`, `_day`) and the profile statistics of each, from its sums."""
    return sums.select("_etype", "_entity", "_day", *_stat_columns(
        *[F.col(c) for c in ("_n", "_f", "_c", "_r", "_last", "_day", "_prior_f", "_prior_c")]))


def pivot_profiles(records: DataFrame, long: DataFrame, entities: dict[str, tuple[str, ...]],
                   record_id: str) -> DataFrame:
    """Long-form profile values (record, `_i`: the entity type's position, statistics) back to one
    row per record with `<entity>_<stat>` columns, joined to `records` (every column of it is kept:
    pass the id and day, or the rows other entity types were already joined to). Every record has
    one long row per entity type, so the record's rows sorted by position put entity type i at
    index i: each column is then one array lookup (a pivot would evaluate every (entity, statistic)
    aggregate on every long row)."""
    stats = F.struct(F.col("_i"), *[F.col(stat) for stat in PROFILE_STATS])
    per_record = long.groupBy(record_id).agg(F.array_sort(F.collect_list(stats)).alias("_a"))
    wide = per_record.select(record_id, *[F.col("_a")[i][stat].alias(f"{name}_{stat}")
                                          for i, name in enumerate(entities) for stat in PROFILE_STATS])
    return records.join(wide, record_id, "left")


def profile_features(
    records: DataFrame,
    labelled: DataFrame,
    entities: dict[str, tuple[str, ...]] = DECLARATION_ENTITIES,
    record_id: str = "declaration_id",
    day_column: str = "date",
    label_day_column: str = "label_date",
) -> DataFrame:
    """Per record and entity: labelled count, fraud count, smoothed fraud and critical rates, days
    since the entity's last labelled record, all from `labelled` rows whose `label_day_column` is
    before the record's day; and `records`, the entity's records (labelled or not) on earlier days.
    `labelled` needs the entity columns, `fraud` (0/1) and `critical` (0/1).

    Every entity is handled in one pass: (record, entity type, entity) rows in long form share one
    running-sum grid, then pivot back to `<entity>_<stat>` columns (a join per entity would make a
    plan Spark takes longer to optimise than to run). `profile_features_from_state` gives the same
    values from the entity state kept day by day."""
    records = with_derived_keys(records)
    labelled = with_derived_keys(labelled)
    asked = asked_entities(records, entities, record_id, day_column)
    labels = label_counts_long(labelled, entities, label_day_column)
    stats = sums_before_each_day(record_counts_long(asked), labels.where(F.col("_etype") != GLOBAL),
                                 ["_etype", "_entity"], PROFILE_SUMS)
    days = records.select(F.col(day_column).alias("_day")).distinct()
    overall = sums_before_each_day(days, labels.where(F.col("_etype") == GLOBAL).drop("_etype", "_entity"), [],
                                   ["_n", "_f", "_c"])
    prior_f, prior_c = prior_rates(F.col("_n"), F.col("_f"), F.col("_c"))
    prior = overall.select("_day", prior_f.alias("_prior_f"), prior_c.alias("_prior_c"))
    values = profile_values(stats.join(prior, "_day", "left"))
    return pivot_profiles(records.select(record_id, day_column), asked.join(values, ["_etype", "_entity", "_day"],
                                                                            "left"), entities, record_id)


# Entity types joined to the day's records one by one, wide, by broadcast: the smallest types, up
# to this many, each of at most this many entities. The rest go through the long form (one row per
# record and type, joined to the state and regrouped per record): a chain of joins slows with every
# column it carries. The declarations' day features of the 1M day (`benchmarks/wide_joins.py`, warm
# JVM): all 37 types long 79.9 s, 12 wide 60.6 s, 20 wide 56.0 s, 26 wide 56.2 s.
WIDE_JOINS = 20
BROADCAST_STATE_ROWS = 200_000


def profile_features_from_state(records: DataFrame, state: DataFrame, entities: dict[str, tuple[str, ...]],
                                record_id: str, day_column: str, broadcast_rows: int = BROADCAST_STATE_ROWS,
                                wide_joins: int = WIDE_JOINS, carry: bool = False) -> DataFrame:
    """`profile_features` for the records of one day from the entity state as it stood before that
    day (`features.entity_state`: cumulative counts per entity type and entity): joins on the day's
    entities instead of a running sum over all history. The smallest entity types are joined one
    by one from one broadcast relation (no shuffle); the others in long form, as `profile_features`
    regroups its grid. With `carry`, every column of `records` is kept (else the key and day)."""
    kept = list(records.columns) if carry else [record_id, day_column]
    records = with_derived_keys(records)
    sizes = {row["etype"]: row for row in state.groupBy("etype").agg(
        F.count(F.lit(1)).alias("entities"), *[F.sum(c).alias(c) for c in "nfc"]).collect()}
    overall = sizes.get(GLOBAL)
    prior_f, prior_c = [F.lit(rate) for rate in prior_rates(*[int(overall[c] or 0) if overall else 0
                                                              for c in "nfc"])]
    count = {name: sizes[name]["entities"] if name in sizes else 0 for name in entities}
    wide = [name for name in sorted(entities, key=count.get)[:wide_joins] if count[name] <= broadcast_rows]
    position = {name: i for i, name in enumerate(entities)}
    frame = records.select(*kept, *[entity_key(entities[name]).alias(f"_k{position[name]}") for name in wide])
    # One relation for all the wide types, keyed "<type>|<entity>" (the same plan under every join).
    shared = F.broadcast(state.where(F.col("etype").isin(wide)).select(
        F.concat_ws("|", "etype", "entity").alias("_key"), *"nfcr", "last_label_day"))
    for name in wide:
        i = position[name]
        counts = [F.col(f"_s.{c}").alias(f"_{c}{i}") for c in "nfcr"] + [F.col("_s.last_label_day").alias(f"_last{i}")]
        on = F.concat_ws("|", F.lit(name), F.col(f"_k{i}")) == F.col("_s._key")
        frame = frame.join(shared.alias("_s"), on, "left").select(*frame.columns, *counts)
    stats = {}
    for name in wide:
        i = position[name]
        n, f, c, r = [F.coalesce(F.col(f"_{s}{i}"), F.lit(0)) for s in "nfcr"]
        stats[name] = _stat_columns(n, f, c, r, F.col(f"_last{i}"), F.col(day_column), prior_f, prior_c, f"{name}_")
    frame = frame.select(*kept, *[column for name in wide for column in stats[name]])
    rest = {name: columns for name, columns in entities.items() if name not in wide}
    if rest:
        asked = asked_entities(records, rest, record_id, day_column)
        sums = state.where(F.col("etype").isin(list(rest))).select(
            F.col("etype").alias("_etype"), F.col("entity").alias("_entity"),
            *[F.col(c).alias(f"_{c}") for c in "nfcr"], F.col("last_label_day").alias("_last"))
        long = asked.join(sums, ["_etype", "_entity"], "left").fillna(0, PROFILE_SUMS)
        long = long.select(record_id, "_i", *_stat_columns(
            *[F.col(c) for c in ("_n", "_f", "_c", "_r", "_last", "_day")], prior_f, prior_c))
        frame = pivot_profiles(frame, long, rest, record_id)
    return frame.select(*kept, *profile_columns(entities))


def profile_columns(entities: dict[str, tuple[str, ...]]) -> list[str]:
    """The `<entity>_<stat>` columns of the profiles of `entities`."""
    return [f"{name}_{stat}" for name in entities for stat in PROFILE_STATS]

"""The one way data leaves the lake: personal data masked, formula-looking text neutralised, CSV in
UTF-8 with a BOM (so Excel shows Korean text), Parquet beside it, files replaced atomically.

Masks: PCCC `P1234****5678`, phone `010-****-5678`, name to its first character plus `*`."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pandas as pd
from pyspark.sql import Column
from pyspark.sql import functions as F

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def mask_pccc(pccc: Column) -> Column:
    """`P123456789012` -> `P1234****9012` (null stays null; anything too short to keep a part of
    becomes `****`)."""
    return (F.when(pccc.isNull(), F.lit(None))
            .when(F.length(pccc) >= 9, F.concat(F.substring(pccc, 1, 5), F.lit("****"), F.substring(pccc, -4, 4)))
            .otherwise(F.lit("****")))


def mask_phone(phone: Column) -> Column:
    """`010-1234-5678` or `01012345678` -> `010-****-5678`; `02-555-1234` -> `02-****-1234`."""
    digits = F.regexp_replace(phone, "[^0-9]", "")
    # the area or carrier prefix: the first group when dashed (at most 3 digits), else 3 digits
    group = F.regexp_replace(F.split(phone, "-").getItem(0), "[^0-9]", "")
    first = F.when(F.instr(phone, "-") > 0, F.substring(group, 1, 3)).otherwise(F.substring(digits, 1, 3))
    return (F.when(phone.isNull(), F.lit(None))
            .when(F.length(digits) >= 8, F.concat(first, F.lit("-****-"), F.substring(digits, -4, 4)))
            .otherwise(F.lit("****")))


def mask_name(name: Column) -> Column:
    """`김민수` -> `김*`, `John Smith` -> `J*`; a one-character name becomes `*`."""
    trimmed = F.trim(name)
    return (F.when(name.isNull(), F.lit(None))
            .when(F.length(trimmed) >= 2, F.concat(F.substring(trimmed, 1, 1), F.lit("*")))
            .otherwise(F.lit("*")))


PCCC_IN_TEXT = r"[Pp][0-9]{12}"
PHONE_IN_TEXT = r"0[0-9]{1,2}[- .]?[0-9]{3,4}[- .]?[0-9]{4}"


def scrub_text(text: Column) -> Column:
    """Free text (a contents description) with anything shaped like a PCCC or a phone number
    replaced by `****`: senders write them into descriptions."""
    return F.regexp_replace(F.regexp_replace(text, PCCC_IN_TEXT, "P****"), PHONE_IN_TEXT, "****")


def neutralise_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """Text cells a spreadsheet would run as a formula (starting with =, +, -, @, tab or carriage
    return) get a leading apostrophe, so they are shown as text."""
    out = frame.copy()
    for column in out.columns:
        if out[column].dtype == object:
            out[column] = out[column].map(_neutralise)
    return out


def _neutralise(value: object) -> object:
    return "'" + value if isinstance(value, str) and value.startswith(FORMULA_STARTS) else value


def _atomic_write(path: Path, write) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o644)  # published files are for others to read (mkstemp makes them private)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def write_text(text: str, path: Path) -> Path:
    """`text` as a UTF-8 file, replaced atomically (a reader never sees half a page)."""
    _atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
    return path


def write_csv(frame: pd.DataFrame, path: Path) -> Path:
    """`frame` as CSV, UTF-8 with BOM, formulas neutralised, replaced atomically."""
    safe = neutralise_formulas(frame)
    _atomic_write(path, lambda tmp: safe.to_csv(tmp, index=False, encoding="utf-8-sig"))
    return path


def write_parquet(frame: pd.DataFrame, path: Path) -> Path:
    """`frame` as Parquet, replaced atomically."""
    _atomic_write(path, lambda tmp: frame.to_parquet(tmp, index=False))
    return path

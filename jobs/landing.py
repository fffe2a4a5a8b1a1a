"""Read landing files: find a day's files, detect their encoding, split them into raw rows.

Every record becomes one raw row with its file, line number and checksum; a line that cannot be
parsed (wrong column count, unclosed quote, truncated) keeps its text and a `parse_error` instead
of being dropped, so it can be quarantined with the reason. A quoted field may hold commas and
newlines (RFC 4180). Parsing works on a file's bytes (`parse_landing_bytes`), so it runs where the
bytes are: on the Spark executors (`jobs/bronze.py`); the driver only lists files.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from pyspark.sql import SparkSession

from jobs.sources import SourceSpec
from jobs.storage import ListedFile, Location, join, list_files

ENCODINGS = ("utf-8-sig", "cp949")
MAX_RECORD_LINES = 50  # a quoted field may hold newlines (RFC 4180); a record longer than this is broken


@dataclass
class RawRow:
    """One record of a landing file, as strings keyed by lake column name."""

    line_number: int
    values: dict[str, str | None]
    raw_line: str
    parse_error: str | None = None


@dataclass
class LandingFile:
    """A parsed landing file: where it came from, how it was decoded, and its records column by
    column (`values[name][i]` is record i's value of lake column `name`)."""

    path: str
    checksum: str
    size_bytes: int
    encoding: str | None
    status: str  # ok | empty | header_only | undecodable | bad_header
    line_numbers: list[int] = field(default_factory=list)
    raw_lines: list[str] = field(default_factory=list)
    errors: list[str | None] = field(default_factory=list)
    values: dict[str, list[str | None] | pa.Array | pa.ChunkedArray] = field(default_factory=dict)

    def add_error(self, line_number: int, raw_line: str, error: str) -> None:
        """A record that could not be read: its text and why, no values."""
        self.line_numbers.append(line_number)
        self.raw_lines.append(raw_line)
        self.errors.append(error)
        for column in self.values.values():
            column.append(None)

    def column(self, name: str) -> pa.Array:
        """Column `name` of every record, as Arrow strings (null: empty or not read)."""
        values = self.values[name]
        return values if isinstance(values, pa.ChunkedArray | pa.Array) else pa.array(values, pa.string())

    @property
    def rows(self) -> list[RawRow]:
        """The records as objects (for inspection and tests; bronze reads the columns)."""
        columns = {name: self.column(name).to_pylist() for name in self.values}
        return [RawRow(n, {name: column[i] for name, column in columns.items()}, raw, error)
                for i, (n, raw, error) in enumerate(zip(self.line_numbers, self.raw_lines, self.errors, strict=True))]


def day_folder(landing_dir: Location, source: str, day: dt.date | str) -> Location:
    """The landing folder of one source and day: <landing>/<source>/YYYY-MM-DD."""
    return join(landing_dir, source, str(day))


def list_landing_files(spark: SparkSession, landing_dir: Location, source: str,
                       day: dt.date | str) -> list[ListedFile]:
    """The day's CSV files in delivery order: modification time, then the name as tie-break
    (name them so that a later delivery sorts later: a plain copy resets modification times).
    Listed through Hadoop's FileSystem API, so the landing zone may be object storage."""
    files = list_files(spark, str(day_folder(landing_dir, source, day)), suffix=".csv")
    return sorted(files, key=lambda f: (f.modified_ms, f.name))


def decode_bytes(data: bytes) -> tuple[str, str]:
    """Decode landing bytes as UTF-8 (with or without BOM) or else CP949 (superset of EUC-KR).

    Strict UTF-8 almost never accepts CP949-encoded Korean, so the order is decisive.
    Raises UnicodeDecodeError when neither fits."""
    last_error: UnicodeDecodeError | None = None
    for encoding in ENCODINGS:
        try:
            return data.decode(encoding), ("utf-8" if encoding == "utf-8-sig" else encoding)
        except UnicodeDecodeError as err:
            last_error = err
    assert last_error is not None
    raise last_error


def _parse_line(line: str) -> list[str]:
    return next(csv.reader([line], strict=True))


def _single_record(text: str) -> list[str] | None:
    """The fields of `text` when it is exactly one well-formed CSV record, else None."""
    try:
        records = list(csv.reader(io.StringIO(text, newline=""), strict=True))
    except csv.Error:
        return None
    return records[0] if len(records) == 1 else None


Record = tuple[int, str, list[str] | None, str | None]  # first line index, raw text, fields, error


def split_records(lines: list[str], expected_fields: int) -> list[Record]:
    """(index of the first line, raw text, fields or None, error) for every record of `lines`
    (physical lines with their line ends). A record is one line, or several when a quoted field
    holds a newline (RFC 4180) and the lines together make one record of `expected_fields`
    fields; a line that starts a quoted field nobody closes that way within `MAX_RECORD_LINES`
    lines stays a one-line error, and the lines after it are read again."""
    stripped = [line.rstrip("\r\n") for line in lines]
    kept = [i for i, line in enumerate(stripped) if line.strip()]
    try:  # the common case, one C loop: every non-blank line is one well-formed record
        fields = list(csv.reader((stripped[i] for i in kept), strict=True))
        if len(fields) == len(kept):
            return [(i, stripped[i], f, None) for i, f in zip(kept, fields, strict=True)]
    except csv.Error:
        pass
    out: list[Record] = []
    i = 0
    while i < len(lines):
        if not stripped[i].strip():
            i += 1
            continue
        try:
            out.append((i, stripped[i], _parse_line(stripped[i]), None))
            i += 1
            continue
        except csv.Error as err:
            error = f"malformed CSV line: {err}"
        for end in range(i + 1, min(i + MAX_RECORD_LINES, len(lines))):
            text = "".join(lines[i:end + 1])
            joined = _single_record(text)
            if joined is not None and len(joined) == expected_fields:
                out.append((i, text.rstrip("\r\n"), joined, None))
                i = end + 1
                break
        else:
            out.append((i, stripped[i], None, error))
            i += 1
    return out


def _header_index(spec: SourceSpec, header: list[str]) -> tuple[dict[str, int], list[str]]:
    """Map lake column names to header positions (header text or snake name, case-insensitive)."""
    positions = {h.strip().lower(): i for i, h in enumerate(header)}
    index: dict[str, int] = {}
    missing: list[str] = []
    for col in spec.columns:
        pos = positions.get(col.header.lower(), positions.get(col.name.lower()))
        if pos is None:
            missing.append(col.header)
        else:
            index[col.name] = pos
    return index, missing


def parse_landing_file(path: Path, spec: SourceSpec) -> LandingFile:
    """Read one landing file from disk into raw records (see `parse_landing_bytes`)."""
    return parse_landing_bytes(Path(path).read_bytes(), spec, str(path))


def parse_landing_bytes(data: bytes, spec: SourceSpec, path: str) -> LandingFile:
    """A landing file's bytes as raw records; problems become record-level parse errors, never
    drops: an empty, undecodable or headerless file is one error row."""
    landing = LandingFile(path=path, checksum=hashlib.sha256(data).hexdigest(), size_bytes=len(data),
                          encoding=None, status="ok", values={name: [] for name in spec.column_names})
    if not data.strip():
        landing.status = "empty"
        landing.add_error(0, "", "empty file (no header, no rows)")
        return landing
    try:
        text, landing.encoding = decode_bytes(data)
    except UnicodeDecodeError as err:
        landing.status = "undecodable"
        landing.add_error(0, "", f"file is neither UTF-8 nor CP949 ({err.reason} at byte {err.start})")
        return landing

    lines = text.splitlines(keepends=True)
    try:
        header = _parse_line(lines[0].rstrip("\r\n"))
    except csv.Error as err:
        header, missing = [], [f"unparseable header ({err})"]
    index, missing = _header_index(spec, header) if header else ({}, ["unparseable header"])
    if not missing and _fast_columns(landing, text, lines, len(header), index):
        return landing
    records = split_records(lines[1:], len(header))
    if missing:
        landing.status = "bad_header"
        reason = f"header lacks columns: {', '.join(missing)}"
        for start, raw, _, _ in records:
            landing.add_error(start + 2, raw, reason)
        if not records:
            landing.add_error(1, lines[0].rstrip("\r\n"), reason)
        return landing
    if not records:
        landing.status = "header_only"
        return landing
    _add_records(landing, records, index, len(header), unterminated=not text.endswith(("\n", "\r")))
    return landing


def _fast_columns(landing: LandingFile, text: str, lines: list[str], width: int, index: dict[str, int]) -> bool:
    """The common case in one vectorised pass (pyarrow's CSV reader): every non-blank line is
    one well-formed record of `width` fields. False (nothing added) when the file is anything
    else, and the careful record-by-record reading takes over."""
    data = [i for i, line in enumerate(lines[1:]) if line.strip()]
    if not data:
        return False
    try:
        table = pacsv.read_csv(
            io.BytesIO(text.encode("utf-8")),
            read_options=pacsv.ReadOptions(skip_rows=1, column_names=[f"c{i}" for i in range(width)],
                                           use_threads=False),
            parse_options=pacsv.ParseOptions(newlines_in_values=False),
            convert_options=pacsv.ConvertOptions(column_types={f"c{i}": pa.string() for i in range(width)},
                                                 strings_can_be_null=False, quoted_strings_can_be_null=False))
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return False
    if table.num_rows != len(data) or not text.endswith(("\n", "\r")):
        return False
    landing.line_numbers = [i + 2 for i in data]  # line 1 is the header
    landing.raw_lines = [lines[i + 1].rstrip("\r\n") for i in data]
    landing.errors = [None] * len(data)
    for name, pos in index.items():
        trimmed = pc.utf8_trim_whitespace(table.column(pos))
        landing.values[name] = pc.if_else(pc.equal(trimmed, ""), pa.scalar(None, pa.string()), trimmed)
    return True


def _add_records(landing: LandingFile, records: list[Record], index: dict[str, int], width: int,
                 unterminated: bool) -> None:
    """Append the records in order: good ones by column, broken ones as errors with their text."""
    last_start = records[-1][0]
    kept: list[list[str] | None] = []
    for start, raw, fields, error in records:
        hint = " (last line without newline: file may be truncated)" if unterminated and start == last_start else ""
        if fields is None:
            error = f"{error}{hint}"
        elif len(fields) != width:
            error = f"wrong column count: expected {width}, got {len(fields)}{hint}"
        landing.line_numbers.append(start + 2)  # line 1 is the header
        landing.raw_lines.append(raw)
        landing.errors.append(error)
        kept.append(fields if error is None else None)
    for name, pos in index.items():  # column by column: one comprehension each, not a dict per record
        landing.values[name].extend([(f[pos].strip() or None) if f is not None else None for f in kept])

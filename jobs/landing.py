"""Read landing files: find a day's files, detect their encoding, split them into raw rows.

Every physical line becomes one raw row with its file, line number and checksum; a line that
cannot be parsed (wrong column count, unclosed quote, truncated) keeps its text and a
`parse_error` instead of being dropped, so it can be quarantined with the reason.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from jobs.sources import SourceSpec

ENCODINGS = ("utf-8-sig", "cp949")


@dataclass
class RawRow:
    """One data line of a landing file, as strings keyed by lake column name."""

    line_number: int
    values: dict[str, str | None]
    raw_line: str
    parse_error: str | None = None


@dataclass
class LandingFile:
    """A parsed landing file: where it came from, how it was decoded, and its raw rows."""

    path: Path
    checksum: str
    size_bytes: int
    modified_at: float
    encoding: str | None
    status: str  # ok | empty | header_only | undecodable | bad_header
    rows: list[RawRow] = field(default_factory=list)


def day_folder(landing_dir: Path, source: str, day: dt.date | str) -> Path:
    """The landing folder of one source and day: <landing>/<source>/YYYY-MM-DD."""
    return Path(landing_dir) / source / str(day)


def list_landing_files(landing_dir: Path, source: str, day: dt.date | str) -> list[Path]:
    """The day's CSV files in delivery order (modification time, then name): later files win."""
    folder = day_folder(landing_dir, source, day)
    if not folder.is_dir():
        return []
    files = [p for p in folder.iterdir() if p.is_file() and p.suffix.lower() == ".csv"]
    return sorted(files, key=lambda p: (p.stat().st_mtime, p.name))


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
    """Read one landing file into raw rows; problems become row-level parse errors, never drops."""
    data = path.read_bytes()
    stat = path.stat()
    landing = LandingFile(
        path=path,
        checksum=hashlib.sha256(data).hexdigest(),
        size_bytes=len(data),
        modified_at=stat.st_mtime,
        encoding=None,
        status="ok",
    )
    empty_values: dict[str, str | None] = {name: None for name in spec.column_names}
    if not data.strip():
        landing.status = "empty"
        landing.rows.append(RawRow(0, dict(empty_values), "", "empty file (no header, no rows)"))
        return landing
    try:
        text, landing.encoding = decode_bytes(data)
    except UnicodeDecodeError as err:
        landing.status = "undecodable"
        landing.rows.append(
            RawRow(0, dict(empty_values), "", f"file is neither UTF-8 nor CP949 ({err.reason} at byte {err.start})")
        )
        return landing

    lines = text.splitlines()
    try:
        header = _parse_line(lines[0])
    except csv.Error as err:
        header, missing = [], [f"unparseable header ({err})"]
    index, missing = _header_index(spec, header) if header else ({}, ["unparseable header"])
    data_lines = [(n, line) for n, line in enumerate(lines[1:], start=2) if line.strip()]
    if missing:
        landing.status = "bad_header"
        reason = f"header lacks columns: {', '.join(missing)}"
        landing.rows = [RawRow(n, dict(empty_values), line, reason) for n, line in data_lines]
        if not landing.rows:
            landing.rows.append(RawRow(1, dict(empty_values), lines[0], reason))
        return landing
    if not data_lines:
        landing.status = "header_only"
        return landing

    last_line_number = data_lines[-1][0]
    unterminated = not text.endswith(("\n", "\r"))
    for number, line in data_lines:
        truncated_hint = " (last line without newline: file may be truncated)" if (
            unterminated and number == last_line_number) else ""
        try:
            fields = _parse_line(line)
        except csv.Error as err:
            landing.rows.append(
                RawRow(number, dict(empty_values), line, f"malformed CSV line: {err}{truncated_hint}")
            )
            continue
        if len(fields) != len(header):
            landing.rows.append(
                RawRow(number, dict(empty_values), line,
                       f"wrong column count: expected {len(header)}, got {len(fields)}{truncated_hint}")
            )
            continue
        values = {name: (fields[pos].strip() or None) for name, pos in index.items()}
        landing.rows.append(RawRow(number, values, line))
    return landing

"""Read landing files: find a day's files, detect their encoding, split them into raw rows.

Every record becomes one raw row with its file, line number and checksum; a line that cannot be
parsed (wrong column count, unclosed quote, truncated) keeps its text and a `parse_error` instead
of being dropped, so it can be quarantined with the reason. A quoted field may hold commas and
newlines (RFC 4180). Parsing works on a file's bytes in blocks (`parse_landing_blocks`; a local file
is read a chunk at a time, `parse_local_landing_blocks`), so it runs where the bytes are, one
block's records in memory at a time: on the Spark executors (`jobs/bronze.py`); the driver only
lists files.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import hashlib
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from pyspark.sql import SparkSession

from jobs.sources import SourceSpec
from jobs.storage import ListedFile, Location, join, list_files

BLOCK_BYTES = 32 * 1024 * 1024  # a big file is parsed in blocks of about this size
READ_BYTES = 8 * 1024 * 1024  # a local file is read (and a CP949 file transcoded) a chunk of this size at a time
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
    # Python lists when read record by record, Arrow arrays from the vectorised pass.
    line_numbers: list[int] | pa.Array = field(default_factory=list)
    raw_lines: list[str] | pa.Array = field(default_factory=list)
    errors: list[str | None] | pa.Array = field(default_factory=list)
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

    def lineage(self, name: str, arrow_type: pa.DataType) -> pa.Array:
        """`line_numbers`, `raw_lines` or `errors` as an Arrow array of `arrow_type`."""
        values = getattr(self, name)
        if isinstance(values, pa.Array | pa.ChunkedArray):
            return values.cast(arrow_type)
        return pa.array(values, arrow_type)

    @property
    def rows(self) -> list[RawRow]:
        """The records as objects (for inspection and tests; bronze reads the columns)."""
        columns = {name: self.column(name).to_pylist() for name in self.values}
        lineage = [self.lineage(name, t).to_pylist() for name, t in
                   (("line_numbers", pa.int64()), ("raw_lines", pa.string()), ("errors", pa.string()))]
        return [RawRow(n, {name: column[i] for name, column in columns.items()}, raw, error)
                for i, (n, raw, error) in enumerate(zip(*lineage, strict=True))]


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
    """Read one landing file from disk into raw records, all in one `LandingFile` (see
    `parse_local_landing_blocks`)."""
    return _joined(list(parse_local_landing_blocks(Path(path), spec, str(path))), spec)


def to_utf8(data: bytes) -> tuple[bytes, str]:
    """The file's content as UTF-8 bytes and the encoding it came in: UTF-8 (a BOM dropped; the
    same bytes, no copy, validated by Arrow) or else CP949 (transcoded). Raises
    UnicodeDecodeError when neither fits."""
    body = data[len(codecs.BOM_UTF8):] if data.startswith(codecs.BOM_UTF8) else data
    if _is_utf8(body):
        return body, "utf-8"
    return cp949_to_utf8(data), "cp949"


def _is_utf8(data: bytes) -> bool:
    try:
        _text_array(pa.py_buffer(data)).validate(full=True)
        return True
    except pa.ArrowInvalid:
        return False


class CodingError(ValueError):
    """Bytes that are not CP949, at `start`..`end` (offsets in the whole file)."""

    def __init__(self, reason: str, start: int, end: int) -> None:
        super().__init__(f"{reason} at byte {start}")
        self.reason, self.start, self.end = reason, start, end


def cp949_chunks_to_utf8(chunks: Iterable[bytes]) -> bytes:
    """CP949 bytes, given a chunk at a time (a file as it is read, or slices of its bytes),
    transcoded to UTF-8 (never the whole file as a Python str, which takes up to four bytes a
    character); raises CodingError with the file's byte offsets."""
    decoder = codecs.getincrementaldecoder("cp949")()
    out = io.BytesIO()
    start = 0
    for chunk in chunks:
        pending = len(decoder.getstate()[0])  # the first byte of a character the last chunk cut
        try:
            out.write(decoder.decode(chunk).encode("utf-8"))
        except UnicodeDecodeError as err:
            raise CodingError(err.reason, start - pending + err.start, start - pending + err.end) from None
        start += len(chunk)
    try:
        out.write(decoder.decode(b"", final=True).encode("utf-8"))
    except UnicodeDecodeError as err:  # the file ends inside a two-byte character
        raise CodingError(err.reason, start - 1, start) from None
    return out.getvalue()  # CPython hands over the buffer itself: no copy


def cp949_to_utf8(data: bytes, chunk_bytes: int = READ_BYTES) -> bytes:
    """`cp949_chunks_to_utf8` over slices of `data`; a UnicodeDecodeError names the file's byte
    offset."""
    try:
        return cp949_chunks_to_utf8(data[i:i + chunk_bytes] for i in range(0, len(data), chunk_bytes))
    except CodingError as err:
        raise UnicodeDecodeError("cp949", data, err.start, err.end, err.reason) from None


@dataclass(frozen=True)
class FileScan:
    """What one pass over a local file learns: its checksum and size, whether it is blank (empty
    or whitespace only) and whether it is UTF-8 (after a BOM, if any)."""

    checksum: str
    size: int
    blank: bool
    utf8: bool
    bom: bool


def scan_file(path: Path, chunk_bytes: int = READ_BYTES) -> FileScan:
    """One pass over a local file a chunk at a time: SHA-256, size, blank, UTF-8 (validated by
    Arrow up to each chunk's last newline, which never falls inside a character)."""
    digest, valid = hashlib.sha256(), True
    with path.open("rb") as f:
        head = f.read(len(codecs.BOM_UTF8))
        bom = head == codecs.BOM_UTF8
        digest.update(head)
        size, blank, carry = len(head), head.isspace(), b"" if bom else head
        while chunk := f.read(chunk_bytes):
            digest.update(chunk)
            size += len(chunk)
            blank = blank and chunk.isspace()
            if valid:
                piece = carry + chunk
                cut = piece.rfind(b"\n") + 1
                valid, carry = (_is_utf8(piece[:cut]), piece[cut:]) if cut else (True, piece)
    return FileScan(checksum=digest.hexdigest(), size=size, blank=blank or size == 0,
                    utf8=valid and _is_utf8(carry), bom=bom)


def read_utf8(path: Path, scan: FileScan, chunk_bytes: int = READ_BYTES) -> tuple[bytes, str]:
    """`to_utf8` for a local file: a UTF-8 file read once (after its BOM), a CP949 file transcoded
    as it is read, so its bytes are never held in both encodings. Raises CodingError."""
    with path.open("rb") as f:
        if scan.utf8:
            f.seek(len(codecs.BOM_UTF8) if scan.bom else 0)
            return f.read(), "utf-8"
        return cp949_chunks_to_utf8(iter(lambda: f.read(chunk_bytes), b"")), "cp949"


def _text_array(buffer: pa.Buffer) -> pa.Array:
    """One Arrow string holding the whole buffer, without copying it."""
    offsets = pa.array([0, buffer.size], pa.int64()).buffers()[1]
    return pa.Array.from_buffers(pa.large_string(), 1, [None, offsets, buffer])


def parse_landing_bytes(data: bytes, spec: SourceSpec, path: str) -> LandingFile:
    """A landing file's bytes as raw records, all in one `LandingFile` (see
    `parse_landing_blocks`, which bronze uses so that a big file is never held parsed whole)."""
    return _joined(list(parse_landing_blocks(data, spec, path)), spec)


def _joined(blocks: list[LandingFile], spec: SourceSpec) -> LandingFile:
    """One file's blocks as one `LandingFile`."""
    if len(blocks) == 1:
        return blocks[0]
    joined = _block_like(blocks[0], spec)
    for name, arrow_type in (("line_numbers", pa.int64()), ("raw_lines", pa.string()), ("errors", pa.string())):
        setattr(joined, name, _concatenated([b.lineage(name, arrow_type) for b in blocks], arrow_type))
    joined.values = {name: _concatenated([b.column(name) for b in blocks], pa.string()) for name in joined.values}
    return joined


def _concatenated(parts: list[pa.Array | pa.ChunkedArray], arrow_type: pa.DataType) -> pa.ChunkedArray:
    """The blocks' arrays as one chunked array, chunk by chunk (never value by value)."""
    chunks = [c for part in parts for c in (part.chunks if isinstance(part, pa.ChunkedArray) else [part])]
    return pa.chunked_array(chunks, arrow_type)


def _block_like(landing: LandingFile, spec: SourceSpec) -> LandingFile:
    """An empty block of the same file (path, checksum, size, encoding, status)."""
    return LandingFile(path=landing.path, checksum=landing.checksum, size_bytes=landing.size_bytes,
                       encoding=landing.encoding, status=landing.status, values={n: [] for n in spec.column_names})


def parse_landing_blocks(data: bytes, spec: SourceSpec, path: str,
                         block_bytes: int = BLOCK_BYTES) -> Iterator[LandingFile]:
    """A landing file's bytes as raw records, in consecutive blocks of about `block_bytes` (each a
    `LandingFile` of the same file, line numbers continuing), so parsing a big file needs memory
    for one block at a time; problems become record-level parse errors, never drops: an empty,
    undecodable or headerless file is one error row. A block that is not plain one-line records
    (a quoted newline, an unclosed quote) hands the rest of the file to the record-by-record
    reading, which starts where a record starts: every line before it was a record of its own.
    Pass the bytes without keeping another reference: a CP949 file's are dropped once transcoded."""
    landing = _new_landing(path, hashlib.sha256(data).hexdigest(), len(data), spec)
    if not data or data.isspace():
        yield _empty(landing)
        return
    try:
        utf8, landing.encoding = to_utf8(data)
    except UnicodeDecodeError as err:
        yield _undecodable(landing, err.reason, err.start)
        return
    del data  # the UTF-8 bytes are all that is read from here on
    yield from _utf8_blocks(landing, utf8, spec, block_bytes)


def parse_local_landing_blocks(file: Path, spec: SourceSpec, path: str, block_bytes: int = BLOCK_BYTES,
                               chunk_bytes: int = READ_BYTES) -> Iterator[LandingFile]:
    """`parse_landing_blocks` for a local file, read a chunk at a time: one pass for the checksum
    and the encoding, then the file as UTF-8 (a CP949 file transcoded as it is read), so only its
    UTF-8 bytes are ever held whole."""
    scan = scan_file(file, chunk_bytes)
    landing = _new_landing(path, scan.checksum, scan.size, spec)
    if scan.blank:
        yield _empty(landing)
        return
    try:
        utf8, landing.encoding = read_utf8(file, scan, chunk_bytes)
    except CodingError as err:
        yield _undecodable(landing, err.reason, err.start)
        return
    yield from _utf8_blocks(landing, utf8, spec, block_bytes)


def _new_landing(path: str, checksum: str, size: int, spec: SourceSpec) -> LandingFile:
    return LandingFile(path=path, checksum=checksum, size_bytes=size, encoding=None, status="ok",
                       values={name: [] for name in spec.column_names})


def _empty(landing: LandingFile) -> LandingFile:
    landing.status = "empty"
    landing.add_error(0, "", "empty file (no header, no rows)")
    return landing


def _undecodable(landing: LandingFile, reason: str, at: int) -> LandingFile:
    landing.status = "undecodable"
    landing.add_error(0, "", f"file is neither UTF-8 nor CP949 ({reason} at byte {at})")
    return landing


def _utf8_blocks(landing: LandingFile, utf8: bytes, spec: SourceSpec, block_bytes: int) -> Iterator[LandingFile]:
    """The records of a file's UTF-8 bytes, in blocks (see `parse_landing_blocks`)."""
    header_end = utf8.find(b"\n")
    first_line = (utf8 if header_end < 0 else utf8[:header_end]).decode("utf-8").rstrip("\r")
    try:
        header = _parse_line(first_line)
    except csv.Error:
        header = []
    index, missing = _header_index(spec, header) if header else ({}, ["unparseable header"])
    terminated = utf8.endswith((b"\n", b"\r"))
    start, line = header_end + 1, 2  # the first record's byte offset and line number
    if not missing and header_end >= 0 and terminated:
        buffer = pa.py_buffer(utf8)
        while start < len(utf8):
            cut = utf8.find(b"\n", start + block_bytes)
            end = len(utf8) if cut < 0 else cut + 1
            block = _block_like(landing, spec)
            if not _fast_columns(block, buffer.slice(start, end - start), len(header), index, first_line=line):
                break
            yield block
            line += utf8.count(b"\n", start, end)
            start = end
    if start > header_end + 1:  # blocks were read; what they did not cover, record by record
        records = split_records(utf8[start:].decode("utf-8").splitlines(keepends=True), len(header))
        if records:
            _add_records(landing, records, index, len(header), unterminated=False, first_line=line)
            yield landing
        return
    text = utf8.decode("utf-8")
    lines = text.splitlines(keepends=True)
    records = split_records(lines[1:], len(header))
    if missing:
        landing.status = "bad_header"
        reason = f"header lacks columns: {', '.join(missing)}"
        for first, raw, _, _ in records:
            landing.add_error(first + 2, raw, reason)
        if not records:
            landing.add_error(1, lines[0].rstrip("\r\n"), reason)
        yield landing
        return
    if not records:
        landing.status = "header_only"
    else:
        _add_records(landing, records, index, len(header), unterminated=not terminated)
    yield landing


def wrong_column_count(width: int, got: int) -> str:
    """The parse error of a record with another number of fields than the header (the same text
    from the vectorised pass and the record-by-record reading)."""
    return f"wrong column count: expected {width}, got {got}"


def _fast_columns(landing: LandingFile, body: pa.Buffer, width: int, index: dict[str, int],
                  first_line: int = 2) -> bool:
    """The common case in one vectorised pass, with no Python object per line: pyarrow's CSV
    reader for the fields and Arrow string kernels for the raw lines, when every non-blank line
    of `body` (the UTF-8 bytes after the header) is one record: of `width` fields, or a line of
    another field count with no quote character in it (a cut or padded line, quarantined as
    `wrong column count` exactly as the record-by-record reading says it; without a quote it
    cannot be part of a multi-line record). False (nothing added) when the file is anything
    else, and the careful record-by-record reading takes over."""
    if body.size == 0:
        return False
    short: list[tuple[int, int]] = []  # (row number among the non-blank lines, 1-based; its field count)

    def other_field_count(row: pacsv.InvalidRow) -> str:
        if row.number is None or '"' in row.text:
            return "error"  # the reader stops with ArrowInvalid: the careful reading takes over
        short.append((row.number, row.actual_columns))
        return "skip"

    try:
        table = pacsv.read_csv(
            pa.BufferReader(body),
            read_options=pacsv.ReadOptions(column_names=[f"c{i}" for i in range(width)], use_threads=False),
            parse_options=pacsv.ParseOptions(newlines_in_values=False, invalid_row_handler=other_field_count),
            convert_options=pacsv.ConvertOptions(column_types={f"c{i}": pa.string() for i in range(width)},
                                                 strings_can_be_null=False, quoted_strings_can_be_null=False))
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return False
    lines = pc.utf8_rtrim(pc.list_flatten(pc.split_pattern(_text_array(body), "\n")), characters="\r")
    data = pc.indices_nonzero(pc.not_equal(pc.utf8_trim_whitespace(lines), ""))
    if table.num_rows + len(short) != len(data):
        return False
    landing.line_numbers = pc.add(data.cast(pa.int64()), first_line)
    landing.raw_lines = lines.take(data).cast(pa.string())
    if short:
        bad = np.array([number - 1 for number, _ in short], dtype=np.int64)
        good = np.ones(len(data), dtype=bool)
        good[bad] = False
        # the table's row of each line, null on the lines it skipped
        rows = np.cumsum(good, dtype=np.int64) - 1
        take = pa.array(rows, mask=~good)
        errors = np.full(len(data), None, dtype=object)
        errors[bad] = [wrong_column_count(width, count) for _, count in short]
        landing.errors = pa.array(errors, pa.string())
    else:
        take = None
        landing.errors = pa.nulls(len(data), pa.string())
    for name, pos in index.items():
        column = table.column(pos) if take is None else table.column(pos).take(take)
        trimmed = pc.utf8_trim_whitespace(column)
        landing.values[name] = pc.if_else(pc.equal(trimmed, ""), pa.scalar(None, pa.string()), trimmed)
    return True


def _add_records(landing: LandingFile, records: list[Record], index: dict[str, int], width: int,
                 unterminated: bool, first_line: int = 2) -> None:
    """Append the records in order: good ones by column, broken ones as errors with their text."""
    last_start = records[-1][0]
    kept: list[list[str] | None] = []
    for start, raw, fields, error in records:
        hint = " (last line without newline: file may be truncated)" if unterminated and start == last_start else ""
        if fields is None:
            error = f"{error}{hint}"
        elif len(fields) != width:
            error = f"{wrong_column_count(width, len(fields))}{hint}"
        landing.line_numbers.append(start + first_line)
        landing.raw_lines.append(raw)
        landing.errors.append(error)
        kept.append(fields if error is None else None)
    for name, pos in index.items():  # column by column: one comprehension each, not a dict per record
        landing.values[name].extend([(f[pos].strip() or None) if f is not None else None for f in kept])

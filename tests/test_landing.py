"""Landing-file parsing: encodings and every kind of broken file, without Spark."""

from __future__ import annotations

import codecs

import pyarrow as pa
import pytest

import jobs.landing as landing_module
from jobs.landing import cp949_to_utf8, parse_landing_blocks, parse_landing_file
from jobs.sources import DECLARATIONS
from tests.conftest import declaration_line, write_landing


def test_utf8_file_parses_every_line(tmp_path):
    path = write_landing(tmp_path, "a.csv", [declaration_line("1"), declaration_line("2")])
    parsed = parse_landing_file(path, DECLARATIONS)
    assert parsed.encoding == "utf-8" and parsed.status == "ok"
    assert [r.line_number for r in parsed.rows] == [2, 3]
    assert parsed.rows[0].values["declaration_id"] == "1"
    assert parsed.rows[0].values["courier_id"] is None  # empty string -> missing
    assert all(r.parse_error is None for r in parsed.rows)


def test_cp949_file_is_detected_and_decoded(tmp_path):
    path = write_landing(tmp_path, "kr.csv", [declaration_line("1", seller_id="한국무역상사")], encoding="cp949")
    parsed = parse_landing_file(path, DECLARATIONS)
    assert parsed.encoding == "cp949"
    assert parsed.rows[0].values["seller_id"] == "한국무역상사"


def test_undecodable_file_is_one_error_row(tmp_path):
    folder = tmp_path / "declarations" / "2020-03-02"
    folder.mkdir(parents=True)
    path = folder / "bin.csv"
    path.write_bytes(b"\xff\xfe\xfa\x00\x81\x00garbage")
    parsed = parse_landing_file(path, DECLARATIONS)
    assert parsed.status == "undecodable"
    assert "neither UTF-8 nor CP949" in parsed.rows[0].parse_error


def test_wrong_column_count_and_unclosed_quote_are_parse_errors(tmp_path):
    lines = [declaration_line("1"), "2,2020-03-02,30", declaration_line("3", seller_id='"ACME, Inc')]
    parsed = parse_landing_file(write_landing(tmp_path, "a.csv", lines), DECLARATIONS)
    errors = {r.line_number: r.parse_error for r in parsed.rows}
    assert errors[2] is None
    assert errors[3] == "wrong column count: expected 22, got 3"
    assert errors[4].startswith("malformed CSV line")
    assert parsed.rows[1].raw_line == "2,2020-03-02,30"


def test_empty_file_is_one_error_row(tmp_path):
    path = write_landing(tmp_path, "empty.csv", [], header=False, trailing_newline=False)
    parsed = parse_landing_file(path, DECLARATIONS)
    assert parsed.status == "empty"
    assert len(parsed.rows) == 1 and parsed.rows[0].parse_error.startswith("empty file")


def test_header_only_file_has_no_rows(tmp_path):
    parsed = parse_landing_file(write_landing(tmp_path, "h.csv", []), DECLARATIONS)
    assert parsed.status == "header_only" and parsed.rows == []


def test_truncated_last_line_is_flagged(tmp_path):
    full = declaration_line("2")
    path = write_landing(tmp_path, "t.csv", [declaration_line("1"), full[: len(full) // 2]], trailing_newline=False)
    parsed = parse_landing_file(path, DECLARATIONS)
    assert parsed.rows[0].parse_error is None
    assert "file may be truncated" in parsed.rows[1].parse_error


def test_missing_header_columns_quarantine_every_row(tmp_path):
    folder = tmp_path / "declarations" / "2020-03-02"
    folder.mkdir(parents=True)
    path = folder / "x.csv"
    path.write_text("Declaration ID,Date\n1,2020-03-02\n")
    parsed = parse_landing_file(path, DECLARATIONS)
    assert parsed.status == "bad_header"
    assert parsed.rows[0].parse_error.startswith("header lacks columns: Office ID")


def test_rfc4180_quoted_newlines_and_commas_are_one_field(tmp_path):
    lines = [declaration_line("1", seller_id='"ACME, Inc"'),
             declaration_line("2", seller_id='"Line one\nline two"'),
             declaration_line("3", seller_id='"unclosed'), declaration_line("4")]
    parsed = parse_landing_file(write_landing(tmp_path, "q.csv", lines), DECLARATIONS)
    by_id = {r.values["declaration_id"]: r for r in parsed.rows if r.parse_error is None}
    assert by_id["1"].values["seller_id"] == "ACME, Inc"
    assert by_id["2"].values["seller_id"] == "Line one\nline two" and by_id["2"].line_number == 3
    assert by_id["4"].line_number == 6  # after the two-line record and the broken line
    broken = [r for r in parsed.rows if r.parse_error]
    assert [r.line_number for r in broken] == [5] and broken[0].parse_error.startswith("malformed CSV line")


def test_lines_of_another_field_count_keep_the_vectorised_pass(tmp_path, monkeypatch):
    """A day with a few cut or padded lines (what a national file usually has) is still read in
    one vectorised pass, with exactly what the record-by-record reading says of every line."""
    lines = [declaration_line(str(i)) for i in range(1, 6)]
    lines[1:1] = ["2,2020-03-02,30", ""]
    lines.append(declaration_line("9") + ",extra")
    path = write_landing(tmp_path, "a.csv", lines)
    fast = parse_landing_file(path, DECLARATIONS)
    assert isinstance(fast.line_numbers, pa.Array)  # not the per-record Python lists
    monkeypatch.setattr(landing_module, "_fast_columns", lambda *args, **kwargs: False)
    careful = parse_landing_file(path, DECLARATIONS)
    assert isinstance(careful.line_numbers, list)
    assert fast.rows == careful.rows
    errors = {r.line_number: r.parse_error for r in fast.rows if r.parse_error}
    assert errors == {3: "wrong column count: expected 22, got 3", 9: "wrong column count: expected 22, got 23"}


def test_a_short_line_with_a_quote_is_read_record_by_record(tmp_path):
    """A short line holding a quote may be the start of a multi-line record: the careful reading."""
    lines = [declaration_line("1"), '2,"2020-03-02,30', declaration_line("3")]
    parsed = parse_landing_file(write_landing(tmp_path, "a.csv", lines), DECLARATIONS)
    assert isinstance(parsed.line_numbers, list)
    assert [r.parse_error is None for r in parsed.rows] == [True, False, True]


def test_a_file_read_in_small_blocks_gives_the_same_records(tmp_path):
    """Bronze reads a big file in blocks (memory for one block at a time): line numbers go on
    across blocks, and a block with a quoted newline hands the rest to the careful reading."""
    lines = [declaration_line(str(i)) for i in range(1, 9)]
    lines[2:2] = ["2,2020-03-02,30", ""]
    lines.insert(7, declaration_line("q", seller_id='"Line one\nline two"'))
    lines.append(declaration_line("u", seller_id='"unclosed'))
    path = write_landing(tmp_path, "b.csv", [*lines, declaration_line("last")])
    whole = parse_landing_file(path, DECLARATIONS)
    blocks = list(parse_landing_blocks(path.read_bytes(), DECLARATIONS, str(path), block_bytes=150))
    vectorised = [b for b in blocks if isinstance(b.line_numbers, pa.Array)]
    assert len(vectorised) >= 2 and blocks[: len(vectorised)] == vectorised  # vectorised blocks first,
    assert len(blocks) == len(vectorised) + 1  # then the rest record by record
    rows = [r for b in blocks for r in b.rows]
    assert rows == whole.rows and rows[-1].line_number == 15  # the quoted newline counts as a line
    assert {b.checksum for b in blocks} == {whole.checksum} and {b.status for b in blocks} == {"ok"}


def test_cp949_is_transcoded_a_chunk_at_a_time_with_file_offsets_in_errors():
    """A chunk boundary inside a two-byte character changes nothing; an error names the file's byte."""
    text = "수입신고,한국무역상사\n" * 50
    data = text.encode("cp949")
    assert cp949_to_utf8(data, chunk_bytes=7) == text.encode("utf-8")
    for cut in range(96, 104):  # a bad byte pair at every position relative to the chunks
        broken = data[:cut] + b"\xff\xff" + data[cut:]
        with pytest.raises(UnicodeDecodeError) as whole:
            broken.decode("cp949")
        for chunk_bytes in (5, 7, 8):
            with pytest.raises(UnicodeDecodeError) as err:
                cp949_to_utf8(broken, chunk_bytes=chunk_bytes)
            assert err.value.start == whole.value.start


def cut_inside_first_korean(text: str) -> bytes:
    """`text` in CP949, ending after the first byte of its first Korean character."""
    first = next(i for i, ch in enumerate(text) if ord(ch) > 127)
    return text[:first].encode("cp949") + text[first].encode("cp949")[:1]


@pytest.mark.parametrize("chunk_bytes", [1, 2, 5, 64, 8 * 1024 * 1024])
def test_a_local_file_read_a_chunk_at_a_time_parses_as_its_bytes_do(tmp_path, chunk_bytes):
    """Bronze reads a local file in chunks (checksum and encoding in one pass, then UTF-8 read once
    or CP949 transcoded as it is read): the same records, checksum and errors as from its bytes,
    whatever the chunk size cuts (a BOM, a two- or three-byte character, a line)."""
    header = ",".join(c.name for c in DECLARATIONS.columns)
    korean = [declaration_line("1", seller_id="한국무역상사"), declaration_line("2", seller_id="수입")]
    text = "\n".join([header, *korean, "2,2020-03-02,30"]) + "\n"
    files = {
        "utf8.csv": text.encode("utf-8"),
        "bom.csv": codecs.BOM_UTF8 + text.encode("utf-8"),
        "cp949.csv": text.encode("cp949"),
        "cp949_broken.csv": text.encode("cp949")[:120] + b"\xff\xff" + text.encode("cp949")[120:],
        "cut_inside_a_character.csv": cut_inside_first_korean(f"{header}\n{korean[0]}"),
        "empty.csv": b"",
        "blank.csv": b" \n\r\n ",
        "no_newline.csv": header.encode("utf-8"),
    }
    for name, data in files.items():
        path = tmp_path / name
        path.write_bytes(data)
        local = list(landing_module.parse_local_landing_blocks(path, DECLARATIONS, name, chunk_bytes=chunk_bytes))
        from_bytes = list(parse_landing_blocks(data, DECLARATIONS, name))
        assert [(b.checksum, b.size_bytes, b.encoding, b.status, b.rows) for b in local] == \
            [(b.checksum, b.size_bytes, b.encoding, b.status, b.rows) for b in from_bytes], name
    statuses = {name: parse_landing_file(tmp_path / name, DECLARATIONS).status for name in files}
    assert statuses["cp949_broken.csv"] == statuses["cut_inside_a_character.csv"] == "undecodable"
    assert statuses["empty.csv"] == statuses["blank.csv"] == "empty"
    assert parse_landing_file(tmp_path / "bom.csv", DECLARATIONS).encoding == "utf-8"

"""Hostile files: each gives a clear per-file or per-row reject, the other files still ingest, nothing is lost."""

from __future__ import annotations

import json
import os
from pathlib import Path

import openpyxl
import polars as pl
import pytest

from sachsong.sources.ingest import ingest_directory
from sachsong.sources.legacy_fonts import encode_legacy

GOOD = "Họ và tên,Ngày sinh,Số CCCD\nNguyễn Văn Anh,1990,044090001234\nTrần Thị Bích,1985,045185004321\n"


def _count(result, name: str) -> dict:
    rows = result.counts.filter(pl.col("source_file") == name).to_dicts()
    assert len(rows) == 1, name
    return rows[0]


def _rejects(result, name: str) -> pl.DataFrame:
    return result.rejects.filter(pl.col("source_file") == name).sort("source_row", nulls_last=True)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    folder = tmp_path / "exports_of_a_province"
    folder.mkdir()
    (folder / "good.csv").write_text(GOOD, encoding="utf-8")
    return folder


def _assert_good_file_survives(result) -> None:
    good = result.table.filter(pl.col("source_file") == "good.csv")
    assert good["full_name"].to_list() == ["Nguyễn Văn Anh", "Trần Thị Bích"]
    assert result.balanced()


def test_empty_file_says_so(root: Path) -> None:
    (root / "empty.csv").write_bytes(b"")
    (root / "blank.csv").write_bytes(b"\n \r\n\t\n")
    result = ingest_directory(root)
    assert _count(result, "empty.csv")["status"] == "empty"
    assert _count(result, "empty.csv")["error"] == "empty file (no bytes)"
    assert _count(result, "blank.csv")["status"] == "empty"
    assert "no data: empty.csv: empty file (no bytes)" in result.describe()
    _assert_good_file_survives(result)


def test_header_only_is_zero_rows_not_an_error(root: Path) -> None:
    (root / "header_only.csv").write_text("Họ và tên,Ngày sinh\n", encoding="utf-8")
    result = ingest_directory(root)
    count = _count(result, "header_only.csv")
    assert (count["status"], count["rows_in"], count["rows_out"]) == ("no_rows", 0, 0)
    assert count["error"] == "header only: 0 data rows"
    assert list(result.file_errors()) == []
    _assert_good_file_survives(result)


def test_binary_garbage_is_rejected_whole(root: Path) -> None:
    (root / "garbage.csv").write_bytes(os.urandom(4096) + b"\x00" * 512)
    result = ingest_directory(root)
    count = _count(result, "garbage.csv")
    assert count["status"] == "failed"
    assert "binary content" in count["error"]
    reject = _rejects(result, "garbage.csv").row(0, named=True)
    assert reject["source_row"] is None and "binary content" in reject["reason"]
    assert any(line.startswith("garbage.csv: binary content") for line in result.file_errors())
    _assert_good_file_survives(result)


def test_truncated_utf8_character_at_the_end_rejects_only_the_last_row(root: Path) -> None:
    data = "Họ và tên,Địa chỉ\nNguyễn Văn Anh,Thôn 1\nLê Thị Na,Thôn Ơ".encode()[:-1]  # half of "Ơ"
    (root / "truncated.csv").write_bytes(data)
    result = ingest_directory(root)
    count = _count(result, "truncated.csv")
    assert (count["rows_in"], count["rows_out"], count["rows_rejected"]) == (2, 1, 1)
    assert count["encoding"] == "utf-8"
    reject = _rejects(result, "truncated.csv").row(0, named=True)
    assert reject["source_row"] == 2
    assert reject["field"] == "Địa chỉ"
    assert reject["reason"] == "undecodable bytes in the field"
    assert reject["raw_line"] == "Lê Thị Na,Thôn \ufffd"
    _assert_good_file_survives(result)


def test_wrong_delimiter_from_the_registry_is_a_clear_file_reject(root: Path) -> None:
    (root / "semicolons.csv").write_text(GOOD.replace(",", ";"), encoding="utf-8")
    registry = root.parent / "registry.yaml"
    registry.write_text('sources:\n  - {id: x, glob: "semicolons.csv", delimiter: ","}\n', encoding="utf-8")
    result = ingest_directory(root, registry=registry)
    error = _count(result, "semicolons.csv")["error"]
    assert "no recognisable name column" in error
    assert "is the delimiter really comma?" in error
    _assert_good_file_survives(result)
    # Without the registry's wrong word, sniffing reads the same file.
    assert ingest_directory(root).table.filter(pl.col("source_file") == "semicolons.csv").height == 2


def test_ragged_rows_are_rejected_one_by_one(root: Path) -> None:
    text = (
        "Họ và tên,Ngày sinh,Số CCCD\n"
        "Nguyễn Văn Anh,1990,044090001234\n"
        "Lê Thị Na,1991\n"  # too few
        "Phạm Văn Đức,1970,044070000001,extra,fields\n"  # too many
        "Đỗ Thị Hoa;1992;044192000002\n"  # another delimiter: one field
        '"Võ, Văn Tâm",1993,044093000003\n'  # quoted comma: fine
    )
    (root / "ragged.csv").write_text(text, encoding="utf-8")
    result = ingest_directory(root)
    count = _count(result, "ragged.csv")
    assert (count["rows_in"], count["rows_out"], count["rows_rejected"]) == (5, 2, 3)
    rejects = _rejects(result, "ragged.csv")
    assert rejects["source_row"].to_list() == [2, 3, 4]
    assert rejects["reason"].to_list() == [
        "expected 3 fields, found 2",
        "expected 3 fields, found 5",
        "expected 3 fields, found 1",
    ]
    assert rejects["raw_line"].to_list()[0] == "Lê Thị Na,1991"
    published = result.table.filter(pl.col("source_file") == "ragged.csv")
    assert published["full_name"].to_list() == ["Nguyễn Văn Anh", "Võ, Văn Tâm"]
    assert published["source_row"].to_list() == [1, 5]
    _assert_good_file_survives(result)


def test_ragged_rows_with_a_multiline_field_use_the_row_by_row_parser(root: Path) -> None:
    text = (
        "Họ và tên,Địa chỉ,Ngày sinh\n"
        'Nguyễn Văn Anh,"Thôn 1\nxã Quảng Ninh",1990\n'
        "Lê Thị Na,1991\n"
        "Trần Văn Bảo,Thôn 2,1992\n"
    )
    (root / "multiline.csv").write_text(text, encoding="utf-8")
    result = ingest_directory(root)
    count = _count(result, "multiline.csv")
    assert count["dialect"] == "delimited comma (row-by-row parse)"
    assert (count["rows_in"], count["rows_out"], count["rows_rejected"]) == (3, 2, 1)
    published = result.table.filter(pl.col("source_file") == "multiline.csv")
    assert published["address"].to_list() == ["Thôn 1\nxã Quảng Ninh", "Thôn 2"]
    assert _rejects(result, "multiline.csv")["source_row"].to_list() == [2]


def test_duplicated_headers_use_the_first_and_say_so(root: Path) -> None:
    text = "Họ và tên,Ngày sinh,Họ và tên\nNguyễn Văn Anh,1990,Nguyen Van Anh\n"
    (root / "dup.csv").write_text(text, encoding="utf-8")
    result = ingest_directory(root)
    assert result.table.filter(pl.col("source_file") == "dup.csv")["full_name"].to_list() == [
        "Nguyễn Văn Anh"
    ]
    count = _count(result, "dup.csv")
    assert "duplicate header 'Họ và tên' (column 3)" in count["notes"]
    assert count["extra_columns"] == 1


def test_huge_field_is_a_row_reject_and_the_limit_is_configurable(root: Path) -> None:
    big = "x" * (5 * 1024 * 1024)
    text = f"Họ và tên,Địa chỉ\nNguyễn Văn Anh,Thôn 1\nLê Thị Na,{big}\nTrần Văn Bảo,Thôn 3\n"
    (root / "big.csv").write_text(text, encoding="utf-8")
    result = ingest_directory(root)
    rejects = _rejects(result, "big.csv")
    assert rejects.select("source_row", "field", "reason").rows() == [
        (2, "Địa chỉ", "field longer than 1,000,000 bytes")
    ]
    assert len(rejects["raw_line"][0]) == 500
    assert result.table.filter(pl.col("source_file") == "big.csv")["full_name"].to_list() == [
        "Nguyễn Văn Anh",
        "Trần Văn Bảo",
    ]
    _assert_good_file_survives(result)
    roomy = ingest_directory(root, max_field_bytes=10 * 1024 * 1024)
    assert roomy.table.filter(pl.col("source_file") == "big.csv").height == 3


def test_nul_byte_rejects_its_row(root: Path) -> None:
    (root / "nul.csv").write_bytes("Họ và tên,Ngày sinh\nNguyễn Văn Anh,19\x0090\nLê Thị Na,1991\n".encode())
    result = ingest_directory(root)
    rejects = _rejects(result, "nul.csv")
    assert rejects.select("source_row", "field", "reason").rows() == [
        (1, "Ngày sinh", "NUL byte in the field")
    ]
    assert result.table.filter(pl.col("source_file") == "nul.csv")["full_name"].to_list() == ["Lê Thị Na"]
    assert result.balanced()


def test_mixed_encodings_in_one_file_are_decoded_per_line_and_flagged(root: Path) -> None:
    lines = [
        "Họ và tên,Ngày sinh\n",
        "Nguyễn Văn Anh,1990\n",
        "Trần Thị Bích Thủy,1985\n",
        "Đặng Văn Dũng,1979\n",
    ]
    data = lines[0].encode() + lines[1].encode() + encode_legacy(lines[2], "cp1258") + lines[3].encode()
    (root / "mixed.csv").write_bytes(data)
    result = ingest_directory(root)
    published = result.table.filter(pl.col("source_file") == "mixed.csv")
    assert published["full_name"].to_list() == ["Nguyễn Văn Anh", "Trần Thị Bích Thủy", "Đặng Văn Dũng"]
    count = _count(result, "mixed.csv")
    assert count["encoding"] == "mixed utf-8+cp1258"
    assert count["rows_flagged"] == 1
    warnings = result.warnings.filter(pl.col("source_file") == "mixed.csv")
    assert warnings.select("source_row", "reason").rows() == [
        (2, "line not UTF-8: decoded with the legacy encoding")
    ]
    assert "rows published with a warning: 1" in result.describe()


def test_xlsx_with_several_sheets_and_merged_header_rows(root: Path) -> None:
    workbook = openpyxl.Workbook()
    first = workbook.active
    first.title = "Thôn 1"
    first.append(["DANH SÁCH NHÂN KHẨU"])
    first.merge_cells("A1:D1")
    first.append(["STT", "Họ và tên", "Thông tin cá nhân", None])
    first.merge_cells("C2:D2")
    first.append([None, None, "Ngày sinh", "Số CCCD"])
    first.merge_cells("A2:A3")
    first.merge_cells("B2:B3")
    first.append([1, "Nguyễn Văn Anh", "12/03/1990", "044090001234"])
    first.append([2, "Lê Thị Na", "1991", "044191000002"])
    second = workbook.create_sheet("Thôn 2")
    for row in list(first.iter_rows(values_only=True))[:3]:
        second.append(list(row))
    second.append([1, "Trần Văn Bảo", "1992", "044092000003"])
    workbook.create_sheet("Trống")
    notes = workbook.create_sheet("Ghi chú")
    notes.append(["Người lập biểu", "Ngày lập"])
    notes.append(["Cán bộ tư pháp", "01/07/2025"])
    workbook.save(root / "sheets.xlsx")
    result = ingest_directory(root)
    published = result.table.filter(pl.col("source_file") == "sheets.xlsx")
    assert published.select("full_name", "date_of_birth", "citizen_id", "source_row").rows() == [
        ("Nguyễn Văn Anh", "12/03/1990", "044090001234", 1),
        ("Lê Thị Na", "1991", "044191000002", 2),
        ("Trần Văn Bảo", "1992", "044092000003", 3),
    ]
    count = _count(result, "sheets.xlsx")
    assert count["status"] == "ok"
    # The notes sheet's row is not data, but it is counted: rejected with the sheet and the reason.
    # Its first row names no field either, so it may be data: both rows are counted.
    assert "sheet 'Ghi chú': 2 row(s) rejected" in count["notes"]
    assert (count["rows_in"], count["rows_out"], count["rows_rejected"]) == (5, 3, 2)
    assert _rejects(result, "sheets.xlsx").select("source_row", "reason").rows() == [
        (4, "sheet 'Ghi chú': no recognisable name column in its header"),
        (5, "sheet 'Ghi chú': no recognisable name column in its header"),
    ]
    _assert_good_file_survives(result)


def test_xlsx_values_under_no_header_are_counted_not_lost(root: Path) -> None:
    workbook = openpyxl.Workbook()
    workbook.active.append(["Họ và tên", "Ngày sinh"])
    workbook.active.append(["Nguyễn Văn Anh", "1990", "ghi chú lạc cột"])
    workbook.save(root / "spill.xlsx")
    result = ingest_directory(root)
    count = _count(result, "spill.xlsx")
    assert (count["rows_out"], count["extra_columns"]) == (1, 1)
    assert "'column_3'" in count["notes"]


def test_xlsx_without_a_name_column_is_rejected(root: Path) -> None:
    workbook = openpyxl.Workbook()
    workbook.active.append(["Mã", "Giá trị"])
    workbook.active.append(["A", 1])
    workbook.save(root / "no_names.xlsx")
    (root / "fake.xlsx").write_bytes(b"PK\x03\x04 this is not a zip archive")
    result = ingest_directory(root)
    assert "no sheet with a recognisable name column" in _count(result, "no_names.xlsx")["error"]
    assert "not a readable spreadsheet" in _count(result, "fake.xlsx")["error"]
    _assert_good_file_survives(result)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("42", "JSON is a int, not a list of records"),
        ('"danh sach"', "JSON is a str, not a list of records"),
        ('{"a": [1], "b": [2]}', "JSON object's lists hold no objects (2 item(s) of other kinds)"),
        ('{"ho_ten": "Nguyễn Văn Anh"', "invalid JSON"),
        ("[1, 2, 3]", "JSON list holds no objects"),
    ],
)
def test_json_that_is_not_a_list_of_records_is_rejected(root: Path, content: str, message: str) -> None:
    (root / "bad.json").write_text(content, encoding="utf-8")
    result = ingest_directory(root)
    count = _count(result, "bad.json")
    assert count["status"] == "failed"
    assert message in count["error"]
    _assert_good_file_survives(result)


def test_json_lines_with_a_broken_line(root: Path) -> None:
    lines = [json.dumps({"ho_ten": "Nguyễn Văn Anh"}), "{broken", json.dumps(["not", "an", "object"])]
    (root / "lines.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = ingest_directory(root)
    assert _rejects(result, "lines.jsonl").select("source_row", "reason").rows() == [
        (2, "invalid JSON: Expecting property name enclosed in double quotes"),
        (3, "line is a list, not an object"),
    ]
    assert _count(result, "lines.jsonl")["rows_out"] == 1
    assert result.balanced()


def test_path_tricks_are_refused(root: Path, tmp_path: Path) -> None:
    outside = tmp_path / "secret.csv"
    outside.write_text("Họ và tên\nNgười Ngoài Cuộc\n", encoding="utf-8")
    (root / "link_out.csv").symlink_to(outside)
    (root / "link_in.csv").symlink_to(root / "good.csv")
    (root / "..%2f..%2fetc%2fpasswd.csv").write_text("Họ và tên\nKẻ Gian\n", encoding="utf-8")
    (tmp_path / "elsewhere").mkdir()
    (root / "linked_folder").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    result = ingest_directory(root)
    assert "Người Ngoài Cuộc" not in result.table["full_name"].to_list()
    assert "Kẻ Gian" not in result.table["full_name"].to_list()
    assert "outside the sources folder" in _count(result, "link_out.csv")["error"]
    assert _count(result, "link_in.csv")["status"] == "skipped"
    assert "path tricks" in _count(result, "..%2f..%2fetc%2fpasswd.csv")["error"]
    assert "not followed" in _count(result, "linked_folder")["error"]
    assert result.table.height == 2  # good.csv once, not twice through the inner link
    _assert_good_file_survives(result)


def test_file_name_that_is_not_utf8_is_refused(root: Path) -> None:
    os.close(os.open(os.fsencode(root) + b"/x\xe0_tcvn3_name.csv", os.O_CREAT | os.O_WRONLY))
    result = ingest_directory(root)
    assert _count(result, "x\ufffd_tcvn3_name.csv")["error"] == "file name is not valid UTF-8: refused"
    _assert_good_file_survives(result)


def test_everything_at_once_conserves_every_row(root: Path) -> None:
    (root / "empty.csv").write_bytes(b"")
    (root / "garbage.bin").write_bytes(os.urandom(2048))
    (root / "ragged.csv").write_text("Họ và tên,Ngày sinh\nA,1\nB\nC,3,4\n", encoding="utf-8")
    (root / "tcvn3.csv").write_bytes(encode_legacy("Họ tên;Năm sinh\nPhạm Văn Đức;1970\n", "tcvn3"))
    (root / "nul.csv").write_bytes(b"name,dob\nAn,1\x00\nBinh,2\n")
    result = ingest_directory(root)
    counts = result.counts
    assert result.balanced()
    rows_in = int(counts["rows_in"].sum())
    assert rows_in == result.table.height + result.rejects.filter(pl.col("source_row").is_not_null()).height
    assert rows_in == 2 + 3 + 1 + 2
    summary = result.describe().splitlines()[0]
    assert summary == f"{counts.height} files, {rows_in} rows in = {result.table.height} out + 3 rejected"

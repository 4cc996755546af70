"""Report-template exports as commune offices make them in Excel: title block, two-row merged header, column
numbers, page-break repeated headers, template and footer rows, and columns split by the template."""

from __future__ import annotations

import codecs
import csv
import io
from pathlib import Path

import openpyxl
import polars as pl

from sachsong.sources.headers import map_header
from sachsong.sources.ingest import ingest_directory
from sachsong.sources.layout import describe, join_split_columns, template_rows
from sachsong.sources.legacy_fonts import encode_legacy

TITLE = [
    ["UỶ BAN NHÂN DÂN XÃ HẢI BA", "", "", "", "", "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "", "", "", "", ""],
    ["", "", "", "", "", "Độc lập - Tự do - Hạnh phúc", "", "", "", "", ""],
    ["DANH SÁCH NHÂN KHẨU THƯỜNG TRÚ NĂM 2025", "", "", "", "", "", "", "", "", "", ""],
]
# Two header lines: "Ngày sinh", "Giới tính" and "Địa chỉ thường trú" merged over their leaves.
UPPER = ["STT", "Họ và tên đệm", "Tên", "Ngày sinh", "", "", "Giới tính", "", "Địa chỉ thường trú", "", ""]
LOWER = ["", "", "", "Ngày", "Tháng", "Năm", "Nam", "Nữ", "Thôn, xóm", "Xã", "Huyện"]
NUMBERS = [f"({i})" for i in range(1, 12)]
PAGE_1 = [
    ["1", "Nguyễn Văn", "Anh", "5", "3", "1985", "x", "", "Thôn Đông", "Hải Ba", "Hải Lăng"],
    ["2", "Trần Thị Bích", "Thủy", "", "", "1990", "", "x", "Thôn Tây", "Hải Ba", "Hải Lăng"],
    ["3", "Đặng Quốc", "Dương", "17", "11", "1978", "X", "", "", "Hải Ba", "Hải Lăng"],
]
PAGE_2 = [
    ["4", "Lê Thị", "Hoa", "01", "12", "2001", "", "x", "Thôn Cộng Hòa", "Hải Ba", "Hải Lăng"],
    ["5", "Phạm", "Bình", "9", "9", "1969", "x", "x", "Thôn Đông", "Hải Ba", "Hải Lăng"],
    ["6", "", "", "", "", "", "", "", "", "", ""],
]
FOOTER = [
    ["Tổng cộng: 5 người", "", "", "", "", "", "", "", "", "", ""],
    ["", "", "", "", "", "", "", "", "", "", ""],
    ["", "", "", "", "", "", "", "", "Hải Ba, ngày 15 tháng 3 năm 2025", "", ""],
    ["Người lập biểu", "", "", "", "", "", "", "", "TM. UBND XÃ", "", ""],
    ["(Ký, ghi rõ họ tên)", "", "", "", "", "", "", "", "CHỦ TỊCH", "", ""],
    ["Võ Văn Tám", "", "", "", "", "", "", "", "Hồ Thị Lan", "", ""],
]
DATA_ROWS = [*PAGE_1, UPPER, LOWER, *PAGE_2, *FOOTER]  # rows under the header, as ingest counts them
ROWS = [*TITLE, UPPER, LOWER, NUMBERS, *PAGE_1, UPPER, LOWER, *PAGE_2, *FOOTER]
EXPECTED_RECORDS = [
    # (source row, full name, date of birth, sex, address)
    (2, "Nguyễn Văn Anh", "05/03/1985", "Nam", "Thôn Đông, Hải Ba, Hải Lăng"),
    (3, "Trần Thị Bích Thủy", "1990", "Nữ", "Thôn Tây, Hải Ba, Hải Lăng"),
    (4, "Đặng Quốc Dương", "17/11/1978", "Nam", "Hải Ba, Hải Lăng"),
    (7, "Lê Thị Hoa", "01/12/2001", "Nữ", "Thôn Cộng Hòa, Hải Ba, Hải Lăng"),
    (8, "Phạm Bình", "09/09/1969", None, "Thôn Đông, Hải Ba, Hải Lăng"),
]
EXPECTED_TEMPLATE = {
    1: "column-number row",
    5: "repeated header",
    6: "repeated header",
    9: "STT-only row",
    10: "total row",
    11: "empty row",
    12: "date line",
    13: "signature row",
    14: "signature row",
    15: "signature row",
}


def _csv_bytes(rows: list[list[str]], encoding: str) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    text = buffer.getvalue()
    if encoding == "utf-8-sig":
        return codecs.BOM_UTF8 + text.encode("utf-8")
    return encode_legacy(text, encoding)


def _xlsx(path: Path, rows: list[list[str]]) -> None:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    for values in rows:
        # Excel keeps numbers typed in number cells as numbers: column numbers 1..n, day, month, year.
        sheet.append([int(v) if v.isdigit() else (v or None) for v in values])
    header_line = len(TITLE) + 1
    for first, last in ((4, 6), (7, 8), (9, 11)):  # merged group labels over their leaves
        sheet.merge_cells(start_row=header_line, start_column=first, end_row=header_line, end_column=last)
    for column in (1, 2, 3):  # STT and the name columns span both header lines
        sheet.merge_cells(
            start_row=header_line, start_column=column, end_row=header_line + 1, end_column=column
        )
    workbook.save(path)


def _check_report(result: object, name: str, template: dict[int, str], notes: str) -> None:
    table = result.table.filter(pl.col("source_file") == name).sort("source_row")
    got = list(table.select("source_row", "full_name", "date_of_birth", "sex", "address").iter_rows())
    assert got == EXPECTED_RECORDS
    rejects = result.rejects.filter(pl.col("source_file") == name).sort("source_row")
    kinds = rejects.select("source_row", pl.col("reason").str.strip_prefix("template row: "))
    assert dict(kinds.iter_rows()) == template
    assert rejects["reason"].str.starts_with("template row: ").all()
    assert rejects["field"].is_null().all()
    assert not rejects["reason"].str.contains("Tám|Lan|Hải").any()  # no personal value in a reason
    count = result.counts.filter(pl.col("source_file") == name).row(0, named=True)
    assert count["rows_in"] == count["rows_out"] + count["rows_rejected"] == len(template) + 5
    assert count["rows_out"] == 5
    assert notes in count["notes"]
    if name.endswith(".csv"):  # the title block and the group row (the spreadsheet reader does not say so)
        assert "4 line(s) above the header skipped" in count["notes"]
    warnings = result.warnings.filter(pl.col("source_file") == name)
    assert warnings.select("source_row", "reason").rows() == [
        (8, "sex marks: both Nam and Nữ are marked; sex left empty")
    ]
    assert result.balanced()


CSV_NOTES = (
    "10 template rows dropped: 1 empty row, 1 column-number row, 2 repeated headers, 1 total row, "
    "3 signature rows, 1 date line, 1 STT-only row"
)


def test_commune_report_csv_utf8_sig(tmp_path: Path) -> None:
    (tmp_path / "hai_ba.csv").write_bytes(_csv_bytes(ROWS, "utf-8-sig"))
    result = ingest_directory(tmp_path)
    assert result.counts["encoding"].to_list() == ["utf-8-sig"]
    _check_report(result, "hai_ba.csv", EXPECTED_TEMPLATE, CSV_NOTES)


def test_commune_report_csv_cp1258(tmp_path: Path) -> None:
    (tmp_path / "hai_ba.csv").write_bytes(_csv_bytes(ROWS, "cp1258"))
    result = ingest_directory(tmp_path)
    assert result.counts["encoding"].to_list() == ["cp1258"]
    assert "encoding cp1258 chosen: 100% valid" in result.counts["notes"][0]
    _check_report(result, "hai_ba.csv", EXPECTED_TEMPLATE, CSV_NOTES)


def test_a_file_two_encodings_read_equally_well_is_rejected_whole_with_the_reason(tmp_path: Path) -> None:
    (tmp_path / "ghi_chu.csv").write_bytes(b"Ho va ten,Ghi chu\nNguyen Van An,Kh\xf4 Qu\xf4\n")
    result = ingest_directory(tmp_path)
    count = result.counts.row(0, named=True)
    assert count["status"] == "failed"
    assert count["error"].startswith(
        "encoding is ambiguous: cp1258, tcvn3 and vni read the text about equally"
    )
    assert result.table.is_empty()


def test_commune_report_xlsx_with_merged_header(tmp_path: Path) -> None:
    # The "1 2 3 … n" variant of the column-number row, typed as numbers; the spreadsheet reader drops the empty
    # row before counting, so the rows below it come one earlier.
    numbers = [str(i) for i in range(1, 12)]
    _xlsx(tmp_path / "hai_ba.xlsx", [*ROWS[:5], numbers, *[r for r in ROWS[6:] if any(r)]])
    result = ingest_directory(tmp_path)
    template = {row - (row > 11): kind for row, kind in EXPECTED_TEMPLATE.items() if kind != "empty row"}
    notes = CSV_NOTES.replace("10 template rows dropped: 1 empty row,", "9 template rows dropped:")
    _check_report(result, "hai_ba.xlsx", template, notes)


def test_one_row_split_header_with_year_only_and_address_parts(tmp_path: Path) -> None:
    header = ["STT", "Họ, tên đệm", "Tên", "Ngày sinh", "Tháng sinh", "Năm sinh", "Nam", "Nữ"]
    header += ["Số nhà", "Thôn, xóm", "Xã, phường", "Huyện, quận", "Tỉnh, thành phố", "Số CCCD"]
    rows = [
        header,
        [str(i) for i in range(1, 15)],
        ["1", "Hồ Thị", "Mai", "", "", "1954", "", "x", "12", "Xóm 3", "Xã Quảng Phú", "", "Quảng Bình", ""],
        [
            "2",
            "Ngô",
            "Lâm",
            "3",
            "4",
            "1960",
            "",
            "",
            "",
            "Thôn 1",
            "Xã Quảng Phú",
            "Quảng Trạch",
            "Quảng Bình",
            "",
        ],
        ["3", "", "", "", "", "", "", "", "", "", "", "", "", ""],
    ]
    (tmp_path / "quang_phu.csv").write_bytes(_csv_bytes(rows, "cp1258"))
    result = ingest_directory(tmp_path)
    table = result.table.sort("source_row")
    assert table.select("full_name", "date_of_birth", "sex", "address").rows() == [
        ("Hồ Thị Mai", "1954", "Nữ", "12, Xóm 3, Xã Quảng Phú, Quảng Bình"),
        ("Ngô Lâm", "03/04/1960", None, "Thôn 1, Xã Quảng Phú, Quảng Trạch, Quảng Bình"),
    ]
    assert result.warnings["reason"].to_list() == ["sex marks: neither Nam nor Nữ is marked; sex left empty"]
    assert result.rejects["reason"].to_list() == [
        "template row: column-number row",
        "template row: STT-only row",
    ]
    count = result.counts.row(0, named=True)
    assert count["rows_in"] == 4 == count["rows_out"] + count["rows_rejected"]


def test_year_written_under_nam_or_nu_is_the_date_of_birth(tmp_path: Path) -> None:
    rows = [["TT", "Họ và tên", "Năm sinh", ""], ["", "", "Nam", "Nữ"], ["1", "Lý Văn Hùng", "1947", ""]]
    rows.append(["2", "Lý Thị Út", "", "1950"])
    (tmp_path / "ho_khau.csv").write_bytes(_csv_bytes(rows, "utf-8-sig"))
    result = ingest_directory(tmp_path)
    assert result.table.select("full_name", "date_of_birth", "sex").rows() == [
        ("Lý Văn Hùng", "1947", "Nam"),
        ("Lý Thị Út", "1950", "Nữ"),
    ]


def test_keywords_inside_real_records_do_not_drop_them() -> None:
    header = ["STT", "Họ và tên", "Ngày sinh", "Địa chỉ", "Ghi chú"]
    frame = pl.DataFrame(
        {
            "c0": ["1", "2", "3", None],
            "c1": ["Nguyễn Văn Cộng", "Trần Văn Tổng", "Lê Thị Na", None],
            "c2": ["ngày 05 tháng 10 năm 1955", "1960", "1970", None],
            "c3": ["Xã Cộng Hòa", "Cộng: thôn 2", "Ủy ban nhân dân xã cũ", None],
            "c4": ["Ghi chú: chuyển đến", "", "Người lập hồ sơ", "Ghi chú: số liệu đến 30/6"],
            "source_row": [1, 2, 3, 4],
        }
    )
    found = template_rows(frame, header, map_header(header))
    assert found.rows() == [(4, "note row")]


def test_a_row_of_numbers_that_is_not_a_column_number_row_is_kept() -> None:
    header = ["STT", "Họ và tên", "Số nhà", "Tổ"]
    frame = pl.DataFrame(
        {
            "c0": ["1", "2"],
            "c1": ["Võ Văn Ba", None],
            "c2": ["12", "15"],
            "c3": ["3", "4"],
            "source_row": [1, 2],
        }
    )
    assert template_rows(frame, header, map_header(header)).is_empty()


def test_describe_counts_kinds_in_a_fixed_order() -> None:
    kinds = pl.Series(["repeated header", "column-number row", "repeated header"])
    assert describe(kinds) == "3 template rows dropped: 1 column-number row, 2 repeated headers"


def test_records_after_a_mid_file_signature_block_are_kept() -> None:
    # A register of names and addresses only, signed at the foot of page 1, then page 2 goes on.
    header = ["STT", "Họ và tên", "Địa chỉ"]
    frame = pl.DataFrame(
        {
            "c0": ["1", "Người lập biểu", None, "2", None, "3", None],
            "c1": [
                "Nguyễn Văn An",
                None,
                "Lê Văn Tám",
                "Trần Thị Na",
                "Hồ Văn Lợi",
                "Võ Thị Mai",
                "Phan Văn Ba",
            ],
            "c2": ["Thôn 1", "TM. UBND XÃ", None, "Thôn 2", "Thôn 3", None, "Đinh Văn Tư"],
            "source_row": [1, 2, 3, 4, 5, 6, 7],
        }
    )
    found = template_rows(frame, header, map_header(header))
    # Rows 3 and 5 have no STT but records follow them; row 7, after the last record, is the signers' names.
    assert found.rows() == [(2, "signature row"), (7, "signature row")]


def test_a_page_header_repeated_in_capitals_is_found_among_many_records() -> None:
    header = ["STT", "Họ và tên", "Ngày sinh", "Giới tính"]
    people = [[str(i), "Nguyễn Văn An", "1990", "Nam"] for i in range(1, 501)]
    rows = [
        *people[:250],
        ["STT", "HỌ VÀ TÊN", "NGÀY SINH", "GIỚI TÍNH"],
        ["(1)", "(2)", "(3)", "(4)"],
        *people[250:],
    ]
    frame = pl.DataFrame(
        {f"c{i}": [r[i] for r in rows] for i in range(4)} | {"source_row": list(range(1, len(rows) + 1))}
    )
    assert template_rows(frame, header, map_header(header)).rows() == [
        (251, "repeated header"),
        (252, "column-number row"),
    ]


def test_lines_of_a_utf8_file_in_an_ambiguous_8bit_encoding_are_rejected_alone(tmp_path: Path) -> None:
    data = "Họ và tên,Ghi chú\nNguyễn Văn Anh,Thôn Đông\n".encode() + b"Nguyen Van Ba,Kh\xf4 Qu\xf4\n"
    (tmp_path / "ghep.csv").write_bytes(data + "Trần Thị Bích,Xóm Giữa\n".encode())
    result = ingest_directory(tmp_path)
    assert result.table["full_name"].to_list() == ["Nguyễn Văn Anh", "Trần Thị Bích"]
    assert result.rejects.select("source_row", "field", "reason").rows() == [
        (2, "Ghi chú", "undecodable bytes in the field")
    ]
    assert "1 line(s) are not UTF-8 and not decoded: encoding is ambiguous" in result.counts["notes"][0]
    assert result.balanced()


def test_given_name_alone_is_said_and_a_row_without_name_parts_has_no_name(tmp_path: Path) -> None:
    rows = [
        ["STT", "Phần họ", "Tên", "Năm sinh"],
        ["1", "Nguyễn Văn", "Anh", "1990"],
        ["2", "Lê", "", "1991"],
    ]
    (tmp_path / "ten.csv").write_bytes(_csv_bytes(rows, "utf-8-sig"))
    result = ingest_directory(tmp_path)
    assert result.table["full_name"].to_list() == ["Anh", None]
    assert "no family-name column recognised" in result.counts["notes"][0]


def test_a_lone_nu_column_marks_women_and_says_nothing_of_the_others() -> None:
    frame = pl.DataFrame({"c0": ["x", None, "1975"], "source_row": [1, 2, 3]})
    clean = {"_sex_female_mark": pl.when(pl.col("c0").str.len_bytes() > 0).then(pl.col("c0"))}
    joined, _notes, warnings = join_split_columns(frame, clean)
    assert frame.select(**joined).rows() == [("Nữ", None), (None, None), ("Nữ", "1975")]
    assert warnings.is_empty()


def test_section_labels_grouping_people_are_template_rows() -> None:
    header = ["", "STT", "Họ và tên", "Ngày sinh", "Giới tính"]
    frame = pl.DataFrame(
        {
            "c0": pl.Series([None] * 6, dtype=pl.String),
            "c1": ["I. ẤP BÌNH HÒA", "1", "2", "II/ Ấp Mỹ Lộc", "3", None],
            "c2": [None, "Nguyễn Văn An", "Lê Thị Na", None, "Trần Văn Ba", "A. Tổ 5"],
            "c3": [None, "1990", "1991", None, "1992", None],
            "c4": [None, "Nam", "Nữ", None, "Nam", None],
            "source_row": [1, 2, 3, 4, 5, 6],
        }
    )
    found = template_rows(frame, header, map_header(header))
    assert found.rows() == [(1, "section row"), (4, "section row"), (6, "section row")]

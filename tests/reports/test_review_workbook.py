"""The stewards' review workbook: written Vietnamese first, filled as a steward's Excel would, read back whole."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from pathlib import Path

import openpyxl
import polars as pl
import pytest

from sachsong.matching.dedupe import dedupe_standardized
from sachsong.matching.review import DecisionFileError, read_decision_file, read_decisions, resolve_decisions
from sachsong.reports.review_workbook import STEWARD_FIELDS, write_review_workbook

NAMES = ["Nguyễn Văn An", "Trần Thị Bình", "Lê Văn Cường", "Phạm Thị Dung", "Hoàng Văn Em", "Vũ Thị Gấm"]


def review_queue(pairs: int = 6) -> pl.DataFrame:
    """A review queue as matching.review.build_review gives it when the records carry a record_key."""
    if pairs == 0:
        return review_queue(1).clear()
    rows = []
    for i in range(pairs):
        name = NAMES[i % len(NAMES)]
        rows.append(
            {
                "left_row_uid": 2 * i,
                "right_row_uid": 2 * i + 1,
                "probability": 0.9 - i / 10,
                "match_weight": 3.5 - i,
                "reason": "different sex" if i == 1 else "uncertain score",
                "left_record_key": f"xa_a:{100 + i}",
                "right_record_key": f"xa_b:h{i:04d}",
                "left_record_id": str(100 + i),
                "right_record_id": None,
                "left_source_id": "xa_a",
                "right_source_id": "xa_b",
                "left_name_norm": name,
                "right_name_norm": name.replace("Văn", "Van"),
                "left_dob": date(1980 + i, 1 + i, 2),
                "right_dob": date(1980 + i, 1 + i, 2),
                "left_dob_precision": "day",
                "right_dob_precision": "year" if i == 2 else "day",
                "left_sex_code": "M",
                "right_sex_code": "F" if i == 1 else "M",
                "left_cccd": f"0440{80 + i}000{i:03d}",
                "right_cccd": None,
                "left_phone_e164": f"+8491100{i:04d}",
                "right_phone_e164": f"+8491100{i:04d}",
                "left_address": f"Thôn {i}, xã Hải Lăng",
                "right_address": f"thon {i} hai lang",
                "left_updated_ts": datetime(2025, 1, 1),
                "right_updated_ts": datetime(2025, 6, 1),
                "decision": None,
            }
        )
    return pl.DataFrame(rows, schema_overrides={"decision": pl.String, "right_cccd": pl.String})


def fill(path: Path, answers: dict[int, str | None], sheet: str = "Rà soát") -> None:
    """Type decisions into column A as a steward's Excel would (openpyxl keeps the drop-down and formats)."""
    workbook = openpyxl.load_workbook(path)
    for row, value in answers.items():
        workbook[sheet].cell(row=row, column=1).value = value  # cell(value=None) would not clear it
    workbook.save(path)


def test_workbook_round_trip_as_a_steward_fills_it(tmp_path):
    review = review_queue()
    xlsx, csv_path = write_review_workbook(
        review, tmp_path / "reports", fields=STEWARD_FIELDS, run_id="run-7"
    )
    assert (xlsx.name, csv_path.name) == ("review_queue.xlsx", "review_queue.csv")

    workbook = openpyxl.load_workbook(xlsx)
    assert workbook.sheetnames == ["Rà soát", "Hướng dẫn"]
    sheet = workbook["Rà soát"]
    labels = [c.value for c in sheet[1]]
    names = [c.value for c in sheet[2]]
    assert labels[:3] == ["Quyết định", "Họ tên (bản ghi 1)", "Họ tên (bản ghi 2)"]
    assert {
        "Ngày sinh (bản ghi 1)",
        "Giới tính (bản ghi 2)",
        "Số CCCD (bản ghi 1)",
        "Điện thoại (bản ghi 1)",
    } <= set(labels)
    assert {"Địa chỉ (bản ghi 2)", "Nguồn (bản ghi 1)"} <= set(labels)
    assert names[0] == "decision" and names[-2:] == ["left_record_key", "right_record_key"]
    assert "left_updated_ts" not in names and "left_row_uid" not in names  # only what a steward needs
    # The two records side by side, as the Vietnamese read dates and sex.
    first = dict(zip(names, [c.value for c in sheet[3]], strict=True))
    assert first["left_dob"] == "02/01/1980" and first["left_sex_code"] == "Nam"
    third = dict(zip(names, [c.value for c in sheet[5]], strict=True))
    assert third["right_dob"] == "1982"  # only the year is known on that side
    second = dict(zip(names, [c.value for c in sheet[4]], strict=True))
    assert second["right_sex_code"] == "Nữ" and second["reason"].startswith("khác giới tính")
    assert first["left_record_key"] == "xa_a:100" and first["right_record_key"] == "xa_b:h0000"
    assert (
        sheet.column_dimensions["A"].width > sheet.column_dimensions[_letter(names, "left_record_key")].width
    )
    (validation,) = sheet.data_validations.dataValidation
    assert validation.type == "list" and validation.formula1 == '"giống,khác,chưa rõ"'
    assert str(validation.sqref) == f"A3:A{review.height + 2}"
    guide = [row[0] for row in workbook["Hướng dẫn"].iter_rows(values_only=True) if row[0]]
    english = guide.index("English")
    assert any("giống" in line for line in guide[:english]) and any(
        "same" in line for line in guide[english:]
    )
    assert "run-7" in guide[0]

    # Vietnamese values, mixed case, without diacritics, a row left empty, one marked unsure.
    fill(xlsx, {3: "Giống", 4: "KHÁC", 5: "chua ro", 7: "  giong ", 8: "Different"})
    decided = read_decisions(xlsx)
    assert decided.columns == ["left_record_key", "right_record_key", "decision", "file_row"]
    assert decided.rows() == [
        ("xa_a:100", "xa_b:h0000", "same", 3),
        ("xa_a:101", "xa_b:h0001", "different", 4),
        ("xa_a:102", "xa_b:h0002", "unsure", 5),
        ("xa_a:104", "xa_b:h0004", "same", 7),
        ("xa_a:105", "xa_b:h0005", "different", 8),
    ]


def _letter(names: list[str], column: str) -> str:
    from openpyxl.utils import get_column_letter

    return get_column_letter(names.index(column) + 1)


def test_csv_is_utf8_with_bom_and_english_names_second(tmp_path):
    _, csv_path = write_review_workbook(review_queue(3), tmp_path, fields=STEWARD_FIELDS, run_id="r1")
    raw = csv_path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows[0][0] == "Quyết định" and rows[0][1] == "Họ tên (bản ghi 1)"
    assert rows[1][0] == "decision" and rows[1][-2:] == ["left_record_key", "right_record_key"]
    assert len(rows) == 2 + 3 and all(len(r) == len(rows[0]) for r in rows)

    # A steward answers in Excel and saves "CSV UTF-8" (BOM kept); a vi-VN Excel separates with ';'.
    rows[2][0], rows[4][0] = "Khác", "GIỐNG"
    for separator, name in ((",", "comma.csv"), (";", "semicolon.csv")):
        out = io.StringIO()
        csv.writer(out, delimiter=separator).writerows(rows)
        path = tmp_path / name
        path.write_bytes(b"\xef\xbb\xbf" + out.getvalue().encode("utf-8"))
        assert read_decisions(path).select("decision", "file_row").rows() == [("different", 3), ("same", 5)]
    # Excel's plain "CSV" on a Vietnamese Windows: Windows-1258, the tone of "chưa rõ" a combining mark.
    rows[2][0], rows[4][0] = "ch\u01b0a ro\u0303", "kha\u0301c"  # ư precomposed, the tones combining
    out = io.StringIO()
    csv.writer(out).writerows(rows[1:])
    ansi = tmp_path / "ansi.csv"
    ansi.write_bytes(out.getvalue().encode("cp1258", errors="replace"))  # names it cannot hold become '?'

    assert read_decisions(ansi).select("decision", "file_row").rows() == [("unsure", 2), ("different", 4)]


def test_formula_like_text_is_neutralized_and_keys_read_back_exactly(tmp_path):
    review = review_queue(4).with_columns(
        pl.Series(
            "left_name_norm", ['=HYPERLINK("http://x.example","bấm")', "+84911000000", "-1+2", "@SUM(A1)"]
        ),
        pl.Series("left_record_key", ["=1+1", "xa_a:1", "xa_a:2", "xa_a:3"]),
    )
    xlsx, csv_path = write_review_workbook(review, tmp_path, fields=STEWARD_FIELDS, run_id="r1")
    sheet = openpyxl.load_workbook(xlsx)["Rà soát"]
    cells = [cell for row in sheet.iter_rows() for cell in row]
    assert all(cell.data_type != "f" and cell.hyperlink is None for cell in cells)
    texts = [c.value for c in cells if isinstance(c.value, str)]
    assert not [t for t in texts if t and t[0] in "=+-@"]
    assert '\'=HYPERLINK("http://x.example","bấm")' in texts and "'+84911000000" in texts
    rows = list(csv.reader(io.StringIO(csv_path.read_text(encoding="utf-8-sig"))))
    text_columns = [i for i, name in enumerate(rows[1]) if name not in ("probability", "match_weight")]
    assert not [row[i] for row in rows for i in text_columns if row[i] and row[i][0] in "=+-@"]
    assert "'-1+2" in [row[1] for row in rows]

    fill(xlsx, {3: "giống"})
    assert read_decisions(xlsx)["left_record_key"].to_list() == ["=1+1"]  # the quote was ours: removed again


def test_a_bad_value_refuses_the_whole_file_naming_row_and_field(tmp_path):
    xlsx, _ = write_review_workbook(review_queue(), tmp_path, fields=STEWARD_FIELDS, run_id="r1")
    fill(xlsx, {3: "giống", 4: "khác", 6: "Nguyễn Văn An"})  # a name pasted into the decision column
    with pytest.raises(DecisionFileError) as caught:
        read_decisions(xlsx)
    message = str(caught.value)
    assert "review_queue.xlsx: row 6, field 'decision'" in message and "refused" in message
    assert "Nguyễn" not in message and "Nguyen" not in message

    fill(xlsx, {6: None})
    workbook = openpyxl.load_workbook(xlsx)
    names = [c.value for c in workbook["Rà soát"][2]]
    workbook["Rà soát"].cell(row=4, column=names.index("right_record_key") + 1).value = None
    workbook.save(xlsx)
    with pytest.raises(DecisionFileError, match="row 4, field 'right_record_key': empty"):
        read_decisions(xlsx)


def test_wrong_sheet_and_missing_key_columns_are_refused(tmp_path):
    xlsx, _ = write_review_workbook(review_queue(2), tmp_path, fields=STEWARD_FIELDS, run_id="r1")
    workbook = openpyxl.load_workbook(xlsx)
    workbook["Rà soát"].title = "Sheet1"
    workbook.save(tmp_path / "renamed.xlsx")
    with pytest.raises(DecisionFileError, match=r"renamed\.xlsx: no sheet 'Rà soát'"):
        read_decisions(tmp_path / "renamed.xlsx")

    workbook = openpyxl.load_workbook(xlsx)
    sheet = workbook["Rà soát"]
    names = [c.value for c in sheet[2]]
    sheet.delete_cols(names.index("left_record_key") + 1)
    sheet["A3"] = "giống"
    workbook.save(tmp_path / "nokey.xlsx")
    with pytest.raises(DecisionFileError, match=r"nokey\.xlsx: no column 'left_record_key'"):
        read_decisions(tmp_path / "nokey.xlsx")

    (tmp_path / "notes.txt").write_text("giống")
    with pytest.raises(DecisionFileError, match=r"notes\.txt"):
        read_decisions(tmp_path / "notes.txt")


def test_english_header_row_deleted_falls_back_on_the_vietnamese_labels(tmp_path):
    xlsx, _ = write_review_workbook(review_queue(3), tmp_path, fields=STEWARD_FIELDS, run_id="r1")
    workbook = openpyxl.load_workbook(xlsx)
    workbook["Rà soát"].delete_rows(2)
    workbook["Rà soát"]["A3"] = "khác"  # the second pair, moved up to spreadsheet row 3
    workbook.save(xlsx)
    assert read_decisions(xlsx).rows() == [("xa_a:101", "xa_b:h0001", "different", 3)]


def test_workbook_needs_record_keys(tmp_path):
    with pytest.raises(ValueError, match="record_key"):
        write_review_workbook(
            review_queue(2).drop("left_record_key"), tmp_path, fields=STEWARD_FIELDS, run_id="r"
        )


def test_empty_queue_still_gives_a_readable_workbook(tmp_path):
    xlsx, csv_path = write_review_workbook(review_queue(0), tmp_path, fields=STEWARD_FIELDS, run_id="r1")
    assert read_decisions(xlsx).height == 0 and read_decisions(csv_path).height == 0


# --- the matcher reads the steward's workbook (`sachsong dedupe --decisions review_queue.xlsx`) ---------------
STD_SCHEMA = {
    "row_uid": pl.Int64,
    "record_key": pl.String,
    "record_id": pl.String,
    "source_id": pl.String,
    "name_norm": pl.String,
    "name_key": pl.String,
    "family_name": pl.String,
    "middle_name": pl.String,
    "given_name": pl.String,
    "dob": pl.Date,
    "dob_precision": pl.String,
    "sex_code": pl.String,
    "cccd": pl.String,
    "cmnd": pl.String,
    "phone_e164": pl.String,
    "ward_code": pl.String,
    "province_code": pl.String,
    "address_status": pl.String,
    "address": pl.String,
    "updated_ts": pl.Datetime("us"),
}


def residents() -> pl.DataFrame:
    people = [
        ("Nguyễn Văn An", "nguyen van an", date(1970, 1, 1), "M"),
        ("Trần Thị Bình", "tran thi binh", date(1985, 5, 5), "F"),
        ("Lê Văn Cường", "le van cuong", date(1990, 9, 9), "M"),
        ("Đỗ Thị Hạnh", "do thi hanh", date(1961, 3, 8), "F"),
    ]
    rows = []
    for i, (name, key, born, sex) in enumerate(people):
        family, *middle, given = name.split()
        rows.append(
            {
                "row_uid": i,
                "record_key": f"xa_a:{i}",
                "record_id": str(i),
                "source_id": "xa_a",
                "name_norm": name,
                "name_key": key,
                "family_name": family,
                "middle_name": " ".join(middle),
                "given_name": given,
                "dob": born,
                "dob_precision": "day",
                "sex_code": sex,
                "cccd": None,
                "cmnd": None,
                "phone_e164": None,
                "ward_code": "19001",
                "province_code": "44",
                "address_status": "exact",
                "address": f"Thôn {i}",
                "updated_ts": datetime(2025, 1, 1),
            }
        )
    return pl.DataFrame(rows, schema=STD_SCHEMA)


def test_dedupe_applies_the_filled_workbook_by_record_key_after_re_ordering(tmp_path):
    std = residents()
    review = pl.DataFrame(
        {
            "left_record_key": ["xa_a:0", "xa_a:1"],
            "right_record_key": ["xa_a:2", "xa_a:3"],
            "left_name_norm": ["Nguyễn Văn An", "Trần Thị Bình"],
            "right_name_norm": ["Lê Văn Cường", "Đỗ Thị Hạnh"],
            "probability": [0.5, 0.4],
        }
    )
    xlsx, _ = write_review_workbook(review, tmp_path, fields=STEWARD_FIELDS, run_id="r1")
    fill(xlsx, {3: "Giống", 4: "chưa rõ"})
    # Another night: the export came in another order, so every row_uid changed.
    shuffled = std.reverse().with_columns(
        pl.int_range(100, 100 + std.height, dtype=pl.Int64).alias("row_uid")
    )
    uid = dict(zip(shuffled["record_key"], shuffled["row_uid"], strict=True))
    assert resolve_decisions(read_decision_file(xlsx), shuffled).rows() == [
        (min(uid["xa_a:0"], uid["xa_a:2"]), max(uid["xa_a:0"], uid["xa_a:2"]), "same")
    ]
    result = dedupe_standardized(shuffled, decisions=xlsx)
    assert result.decisions_applied == 1
    # The next queue is keyed too.
    assert {"left_record_key", "right_record_key"} <= set(result.review.columns)
    cluster = dict(zip(result.clusters["row_uid"], result.clusters["cluster_id"], strict=True))
    assert cluster[uid["xa_a:0"]] == cluster[uid["xa_a:2"]]  # "giống" honoured on the records, not the rows
    assert cluster[uid["xa_a:1"]] != cluster[uid["xa_a:3"]]  # "chưa rõ" decides nothing

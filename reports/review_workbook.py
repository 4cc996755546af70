"""The stewards' review workbook: the uncertain pairs of a run as `review_queue.xlsx` + `review_queue.csv`,
Vietnamese first, for stewards to decide and drop into the store's `decisions/` folder.

Layout of the sheet `Rà soát` (the reader, `matching.review.read_decisions`, relies on it):
- row 1: Vietnamese labels; row 2: the English column names (the machine-readable header the reader keys on;
  when a steward deletes it, the reader falls back on the Vietnamese labels of the decision and key columns);
- column A `decision` (Quyết định) with a drop-down giống / khác / chưa rõ; then each field the steward needs,
  record 1 beside record 2 (a cell pair that differs is highlighted); the pair's probability, match weight and
  reason; last, narrow and grey, `left_record_key`, `right_record_key`: what a decision is keyed by.
The sheet `Hướng dẫn` explains it in Vietnamese, then English. The CSV has the same columns and the same two
header rows, in UTF-8 with a BOM so Excel reads the diacritics.

Every text cell is neutralized against formula injection (`sachsong.safetext`) and the workbook writes strings
as strings; the reader removes the leading quote again.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import polars as pl

from sachsong.matching.review import (
    DECISION_CHOICES_VI,
    DECISION_COLUMN,
    GUIDE_SHEET,
    KEY_COLUMNS,
    REQUIRED_LABELS_VI,
    REVIEW_SHEET,
    DecisionFileError,
    read_decisions,
)
from sachsong.safetext import neutralize_frame, safe_workbook
from sachsong.store.layout import BUILDING_SUFFIX, make_private_dir, private_files

__all__ = [
    "FIELD_LABELS",
    "STEWARD_FIELDS",
    "DecisionFileError",
    "read_decisions",
    "steward_table",
    "write_review_workbook",
]

XLSX_NAME = "review_queue.xlsx"
CSV_NAME = "review_queue.csv"

# What a steward needs to tell two residents apart (what the sources said, standardized), in display order.
STEWARD_FIELDS: tuple[str, ...] = (
    "name_norm",
    "dob",
    "sex_code",
    "cccd",
    "cmnd",
    "phone_e164",
    "address",
    "ward_code",
    "source_id",
)
# field → (Vietnamese label, English label, column width)
FIELD_LABELS: dict[str, tuple[str, str, int]] = {
    "full_name": ("Họ tên", "Full name", 24),
    "name_norm": ("Họ tên", "Full name", 24),
    "dob": ("Ngày sinh", "Date of birth", 12),
    "dob_precision": ("Độ chính xác ngày sinh", "Birth date precision", 10),
    "sex_code": ("Giới tính", "Sex", 9),
    "cccd": ("Số CCCD", "Citizen ID (CCCD)", 15),
    "cmnd": ("Số CMND", "Old ID card (CMND)", 12),
    "citizen_id": ("Số CCCD", "Citizen ID", 15),
    "phone_e164": ("Điện thoại", "Phone", 14),
    "phone": ("Điện thoại", "Phone", 14),
    "address": ("Địa chỉ", "Address", 36),
    "ward_code": ("Mã xã/phường", "Ward code", 10),
    "source_id": ("Nguồn", "Source", 14),
    "record_id": ("Mã bản ghi ở nguồn", "Record id at the source", 14),
    "updated_ts": ("Cập nhật lúc", "Updated at", 16),
    "business_name": ("Tên hộ kinh doanh", "Business name", 24),
    "owner_name": ("Chủ hộ", "Owner", 22),
    "owner_citizen_id": ("Số CCCD chủ hộ", "Owner's citizen ID", 15),
    "tax_code": ("Mã số thuế", "Tax code", 15),
}
# The reasons `matching.review.build_review` gives, in Vietnamese (the English follows in brackets).
REASONS_VI: dict[str, str] = {
    "uncertain score": "điểm chưa đủ chắc chắn",
    "different CCCD": "khác số CCCD",
    "different sex": "khác giới tính",
    "different given name": "khác tên",
    "different generation": "năm sinh cách xa (khác thế hệ)",
    "near given name only": "tên gần giống, không có bằng chứng khác",
    "link cut: would join records that cannot be one person": "liên kết bị cắt: sẽ nối các bản ghi không thể là cùng một đối tượng",
}
SEX_VI = {"M": "Nam", "F": "Nữ"}
_SIDES = (("left", "1"), ("right", "2"))
_TAIL_COLUMNS: tuple[tuple[str, str, int], ...] = (
    ("probability", "Xác suất cùng một {unit}", 11),
    ("match_weight", "Điểm khớp", 9),
    ("reason", "Lý do đưa vào rà soát", 30),
    ("left_record_key", REQUIRED_LABELS_VI["left_record_key"], 10),
    ("right_record_key", REQUIRED_LABELS_VI["right_record_key"], 10),
)


def steward_table(
    review: pl.DataFrame, fields: Sequence[str], *, unit_vi: str = "người"
) -> tuple[pl.DataFrame, list[str]]:
    """The review queue as the steward sees it: `(table, Vietnamese labels)`, the table's columns named in English.

    Fields absent from `review` (a register without phones) are left out. Dates read as the Vietnamese write
    them (dd/mm/yyyy, or the year alone when only the year is known), sex as Nam / Nữ.
    """
    missing = [c for c in KEY_COLUMNS if c not in review.columns]
    if missing:
        raise ValueError(
            f"the review queue has no {', '.join(missing)}: decisions are keyed by record_key (the records "
            "given to build_review need a record_key column)"
        )
    shown = [
        f for f in dict.fromkeys(fields) if f"left_{f}" in review.columns and f"right_{f}" in review.columns
    ]
    decision = (
        pl.col(DECISION_COLUMN).cast(pl.String)
        if DECISION_COLUMN in review.columns
        else pl.lit(None, dtype=pl.String)
    )
    columns: list[pl.Expr] = [decision.alias(DECISION_COLUMN)]
    labels = [REQUIRED_LABELS_VI[DECISION_COLUMN]]
    for field in shown:
        label = FIELD_LABELS.get(field, (field, field, 16))[0]
        for side, number in _SIDES:
            columns.append(_display(review, field, side).alias(f"{side}_{field}"))
            labels.append(f"{label} (bản ghi {number})")
    for name, label, _width in _TAIL_COLUMNS:
        labels.append(label.format(unit=unit_vi))
        if name not in review.columns:
            columns.append(pl.lit(None, dtype=pl.String).alias(name))
        elif name == "reason":
            reason = pl.col("reason").cast(pl.String)
            vietnamese = reason.replace_strict(REASONS_VI, default=None, return_dtype=pl.String)
            columns.append(
                pl.when(vietnamese.is_not_null())
                .then(vietnamese + pl.lit(" (") + reason + pl.lit(")"))
                .otherwise(reason)
                .alias("reason")
            )
        elif name in KEY_COLUMNS:
            columns.append(pl.col(name).cast(pl.String))
        else:
            columns.append(pl.col(name).cast(pl.Float64).round(4 if name == "probability" else 2))
    return review.select(columns), labels


def _display(review: pl.DataFrame, field: str, side: str) -> pl.Expr:
    column = f"{side}_{field}"
    dtype = review.schema[column]
    value = pl.col(column)
    if dtype == pl.Date:
        day = value.dt.strftime("%d/%m/%Y")
        precision = f"{side}_dob_precision"
        if field == "dob" and precision in review.columns:
            return pl.when(pl.col(precision) == "year").then(value.dt.strftime("%Y")).otherwise(day)
        return day
    if isinstance(dtype, pl.Datetime):
        return value.dt.strftime("%d/%m/%Y %H:%M")
    if isinstance(dtype, pl.List):
        return value.cast(pl.List(pl.String)).list.join(", ")
    if field == "sex_code":
        return value.cast(pl.String).replace(SEX_VI)
    return value.cast(pl.String)


def write_review_workbook(
    review: pl.DataFrame,
    directory: Path,
    *,
    fields: Sequence[str] = STEWARD_FIELDS,
    run_id: str,
    unit_vi: str = "người",
    unit_en: str = "person",
) -> list[Path]:
    """Write `directory/review_queue.xlsx` and `directory/review_queue.csv`; returns both paths.

    `review` is `matching.review.build_review`'s queue (with `left_record_key`, `right_record_key`). Each file is
    written aside and renamed into place, so a reader never sees half a workbook.
    """
    directory = Path(directory)
    table, labels = steward_table(review, fields, unit_vi=unit_vi)
    # Text cells only: probability and weight stay numbers (a negative weight is not a formula).
    flat = neutralize_frame(table)
    with private_files():
        make_private_dir(directory)
        xlsx = _replace_atomically(
            directory / XLSX_NAME, lambda tmp: _write_xlsx(flat, labels, tmp, run_id, unit_vi, unit_en)
        )
        csv_path = _replace_atomically(directory / CSV_NAME, lambda tmp: _write_csv(flat, labels, tmp))
    return [xlsx, csv_path]


def _replace_atomically(path: Path, write: Callable[[Path], None]) -> Path:
    staging = path.with_name(f".{path.name}{BUILDING_SUFFIX}")
    try:
        write(staging)
        os.replace(staging, path)
    finally:
        staging.unlink(missing_ok=True)
    return path


def _write_csv(flat: pl.DataFrame, labels: list[str], path: Path) -> None:
    header = io.StringIO()
    writer = csv.writer(header, lineterminator="\n")
    writer.writerow(labels)
    writer.writerow(flat.columns)
    body = flat.write_csv(include_header=False)
    with open(path, "w", encoding="utf-8-sig", newline="") as handle:
        handle.write(header.getvalue())
        handle.write(body)


def _write_xlsx(
    flat: pl.DataFrame, labels: list[str], path: Path, run_id: str, unit_vi: str, unit_en: str
) -> None:
    from xlsxwriter.utility import xl_rowcol_to_cell

    workbook = safe_workbook(path, nan_inf_to_errors=True)
    try:
        label_format = workbook.add_format(
            {"bold": True, "text_wrap": True, "valign": "top", "bg_color": "#DDEBF7", "border": 1}
        )
        english_format = {"italic": True, "font_color": "#595959", "font_size": 9, "bg_color": "#F2F2F2"}
        key_format = {"font_color": "#A6A6A6", "font_size": 8}
        decision_format = {"bg_color": "#FFF2CC", "bold": True}
        differs = workbook.add_format({"bg_color": "#FCE4D6"})
        widths = {DECISION_COLUMN: 14}
        for name in flat.columns:
            field = name.split("_", 1)[1] if name.startswith(("left_", "right_")) else name
            if field in FIELD_LABELS:
                widths[name] = FIELD_LABELS[field][2]
        widths.update({name: width for name, _label, width in _TAIL_COLUMNS})
        flat.write_excel(
            workbook,
            worksheet=REVIEW_SHEET,
            position=(1, 0),
            table_style=None,
            header_format=english_format,
            column_formats={DECISION_COLUMN: decision_format, **dict.fromkeys(KEY_COLUMNS, key_format)},
            column_widths={c: w for c, w in widths.items() if c in flat.columns},
            float_precision=4,
            autofilter=True,
        )
        sheet = workbook.get_worksheet_by_name(REVIEW_SHEET)
        sheet.set_row(0, 45)
        sheet.write_row(0, 0, labels, label_format)
        sheet.freeze_panes(2, 1)
        last = 1 + max(flat.height, 1)
        choices = list(DECISION_CHOICES_VI)
        sheet.data_validation(
            2,
            0,
            last,
            0,
            {
                "validate": "list",
                "source": choices,
                "error_type": "warning",  # the reader decides; a pasted "same" must not be blocked
                "input_title": "Quyết định / Decision",
                "input_message": "giống = cùng một (same); khác = khác nhau (different); chưa rõ = chưa quyết (unsure)",
                "error_title": "Giá trị không hợp lệ",
                "error_message": "Chọn giống, khác hoặc chưa rõ. / Choose giống, khác or chưa rõ.",
            },
        )
        # Highlight a field whose two records differ, so the steward's eye goes where the question is.
        for index, name in enumerate(flat.columns):
            partner = flat.columns[index + 1] if index + 1 < flat.width else None
            if name.startswith("left_") and name not in KEY_COLUMNS and partner == f"right_{name[5:]}":
                one, two = (
                    xl_rowcol_to_cell(2, index, col_abs=True),
                    xl_rowcol_to_cell(2, index + 1, col_abs=True),
                )
                sheet.conditional_format(
                    2,
                    index,
                    last,
                    index + 1,
                    {
                        "type": "formula",
                        "criteria": f'=AND({one}<>"",{two}<>"",{one}<>{two})',
                        "format": differs,
                    },
                )
        if flat.height == 0:
            sheet.write_string(2, 1, "Không có cặp nào cần rà soát. / No pairs to review.")
        _write_guide(workbook, flat.height, run_id, unit_vi, unit_en)
        sheet.activate()
    finally:
        workbook.close()


def _write_guide(workbook: Any, pairs: int, run_id: str, unit_vi: str, unit_en: str) -> None:
    guide = workbook.add_worksheet(GUIDE_SHEET)
    title = workbook.add_format({"bold": True, "font_size": 13})
    heading = workbook.add_format({"bold": True})
    text = workbook.add_format({"text_wrap": True, "valign": "top"})
    guide.set_column(0, 0, 110)
    lines: list[tuple[str, object]] = [
        (f"Hàng đợi rà soát trùng lặp — lần chạy {run_id}: {pairs} cặp", title),
        (f"Mỗi dòng ở trang '{REVIEW_SHEET}' là hai bản ghi có thể là cùng một {unit_vi}.", text),
        (
            "Xem hai bản ghi cạnh nhau (ô tô màu là chỗ hai bản ghi khác nhau), rồi chọn ở cột đầu tiên 'Quyết định':",
            text,
        ),
        (f"• giống — hai bản ghi là cùng một {unit_vi}: sẽ được gộp lại.", text),
        (f"• khác — hai bản ghi là hai {unit_vi} khác nhau: sẽ không bao giờ bị gộp.", text),
        ("• chưa rõ — chưa quyết định được: cặp này sẽ còn trong hàng đợi.", text),
        ("• Để trống nếu chưa xem: dòng trống được bỏ qua.", text),
        (
            "Không sửa hai cột cuối (Khóa bản ghi 1, Khóa bản ghi 2): quyết định được ghi theo các khóa này nên "
            "vẫn đúng khi dữ liệu được xuất lại hoặc sắp xếp lại. Không đổi tên trang, không xóa hai dòng tiêu đề.",
            text,
        ),
        (
            "Tệp này được ghi lại mỗi đêm: hãy sao chép ra trước khi điền. Điền xong, lưu (dạng .xlsx hoặc CSV "
            "UTF-8) và đặt vào thư mục 'decisions' của kho dữ liệu; lần chạy đêm tiếp theo sẽ đọc và áp dụng, "
            "và các đêm sau vẫn tiếp tục áp dụng. Quyết định sau cùng cho một cặp là quyết định có hiệu lực.",
            text,
        ),
        (
            "Tệp có lỗi (giá trị khác ba lựa chọn, thiếu khóa, sai tên trang) bị từ chối toàn bộ — không áp dụng "
            "một phần — và được chuyển vào 'decisions/refused/' kèm tệp .why.txt ghi rõ dòng và cột cần sửa. "
            "Quyết định về một bản ghi không còn trong dữ liệu được báo lại, không được áp dụng.",
            text,
        ),
        ("", text),
        ("English", heading),
        (f"Review queue — run {run_id}: {pairs} pairs", heading),
        (f"Each row of the sheet '{REVIEW_SHEET}' shows two records that may be the same {unit_en}.", text),
        (
            "Compare them side by side (shaded cells differ) and choose in the first column, 'Quyết định' (decision):",
            text,
        ),
        (f"• giống (same) — one {unit_en}: the records will be merged.", text),
        (f"• khác (different) — two different {unit_en}s: they will never be merged.", text),
        ("• chưa rõ (unsure) — not decided yet: the pair stays in the queue.", text),
        ("• Leave it empty if you have not looked: empty rows are skipped.", text),
        (
            "Do not edit the last two columns (record keys): decisions are keyed by them, so they stay right when "
            "the data is exported again or re-ordered. Do not rename the sheet or delete the two header rows.",
            text,
        ),
        (
            "This file is rewritten every night: copy it before filling it in. Save it (.xlsx or CSV UTF-8) into "
            "the store's 'decisions' folder; the next night reads and applies it, and every later night keeps "
            "applying it. The latest decision on a pair is the one that counts.",
            text,
        ),
        (
            "A file with an error (a value other than the three choices, a missing key, a renamed sheet) is refused "
            "whole — never half-applied — and moved to 'decisions/refused/' with a .why.txt naming the row and "
            "column to fix. A decision naming a record that no longer exists is reported, not applied.",
            text,
        ),
    ]
    for row, (line, style) in enumerate(lines):
        guide.write_string(row, 0, line, style)

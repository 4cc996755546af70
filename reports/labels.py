"""Every label of the scorecard in Vietnamese (default) and English.

The labels naming the register (its title, what its golden records count: persons, businesses, …) are templates
filled from the dataset spec of the store being reported on (`register_labels`).
"""

from __future__ import annotations

from collections.abc import Mapping

LABELS: dict[str, tuple[str, str]] = {
    "scorecard": ("Bảng điểm chất lượng dữ liệu", "Data quality scorecard"),
    "register": ("Cơ sở dữ liệu", "Register"),
    "subtitle": (
        "Đúng · Đủ · Sạch · Sống — mục tiêu 100%",
        "Correct · Sufficient · Clean · Live — target 100%",
    ),
    "province": ("Tỉnh/thành phố", "Province"),
    "as_of": ("Số liệu đến ngày", "Data as of"),
    "run": ("Lần chạy", "Run"),
    "generated": ("Tạo lúc", "Generated"),
    "switch_language": ("English", "Tiếng Việt"),
    "switch_language_hint": ("Chuyển sang tiếng Anh", "Switch to Vietnamese"),
    "print": ("In", "Print"),
    "contents": ("Mục lục", "Contents"),
    "overview": ("Tổng quan", "Overview"),
    "trend": ("Diễn biến qua các lần chạy", "Trend over runs"),
    "communes": ("Xếp hạng xã/phường", "Commune ranking"),
    "drilldown": ("Chi tiết theo xã/phường", "Details per commune"),
    "rules": ("Theo quy tắc kiểm tra", "By rule"),
    "sources": ("Theo nguồn dữ liệu", "By source"),
    "runs": ("Danh sách lần chạy", "Run list"),
    "downloads": ("Tải về", "Downloads"),
    "coverage": ("Độ phủ xã/phường mới", "New-commune coverage"),
    "coverage_text": ("xã/phường mới có dữ liệu", "new communes have data"),
    "outcomes": ("Kết quả xử lý bản ghi", "What happened to the records"),
    "outcome_clean": ("Sạch, công bố nguyên trạng", "Clean, published as received"),
    "outcome_fixed": ("Đã sửa chắc chắn (lỗi Excel), công bố", "Repaired with certainty (spreadsheet damage), published"),
    "outcome_flagged": ("Đáng ngờ, công bố kèm cảnh báo cho cán bộ", "Suspicious, published with a warning for stewards"),
    "outcome_quarantined": ("Cách ly, chờ sửa tại nguồn", "Quarantined, waiting for a fix at the source"),
    "missing_communes": (
        "Xã/phường chưa có dữ liệu (điểm “đủ” = 0)",
        "Communes with no data (“sufficient” score 0)",
    ),
    "no_missing": ("Mọi xã/phường mới đều có dữ liệu.", "Every new commune has data."),
    "target": ("Mục tiêu", "Target"),
    "records": ("Bản ghi", "Records"),
    "passing": ("Đạt", "Passing"),
    "share": ("Tỷ lệ đạt", "Share passing"),
    "change": ("Thay đổi so với lần trước", "Change since previous run"),
    "change_short": ("Thay đổi", "Change"),
    "no_previous": ("chưa có lần trước", "no previous run"),
    "rank": ("Hạng", "Rank"),
    "commune": ("Xã/phường", "Commune"),
    "code": ("Mã", "Code"),
    "rule": ("Quy tắc", "Rule"),
    "description": ("Mô tả", "Description"),
    "criterion": ("Tiêu chí", "Criterion"),
    "severity": ("Mức độ", "Severity"),
    "findings": ("Số lỗi phát hiện", "Findings"),
    "records_affected": ("Bản ghi bị ảnh hưởng", "Records affected"),
    "examples": ("Ví dụ (mã bản ghi đã che)", "Examples (masked record ids)"),
    "dataset_level": ("cấp tập dữ liệu", "dataset level"),
    "no_findings": ("Không có lỗi nào.", "No findings."),
    "source": ("Nguồn", "Source"),
    "status": ("Trạng thái", "Status"),
    "started": ("Bắt đầu", "Started"),
    "finished": ("Kết thúc", "Finished"),
    "rows_in": ("Dòng vào", "Rows in"),
    "rows_published": ("Đã công bố", "Published"),
    "rows_quarantined": ("Cách ly", "Quarantined"),
    "rows_rejected": ("Từ chối", "Rejected"),
    "failed_runs_note": (
        "Lần chạy lỗi được liệt kê nhưng không tính vào diễn biến.",
        "Failed runs are listed but left out of the trends.",
    ),
    "one_run_note": (
        "Mới có một lần chạy được công bố: diễn biến sẽ hiện sau lần chạy tiếp theo.",
        "Only one published run so far: trends appear after the next run.",
    ),
    "data_docs": (
        "Kết quả kiểm định Great Expectations (Data Docs)",
        "Great Expectations validation results (Data Docs)",
    ),
    "data_docs_note": (
        "trang kỹ thuật; cần Internet để hiển thị đầy đủ kiểu dáng",
        "engineering page; needs the Internet for its styling",
    ),
    "excel": ("Bảng tính Excel (in được)", "Excel workbook (print-ready)"),
    "json": ("Dữ liệu JSON", "JSON data"),
    "csv_scores": ("Điểm (CSV)", "Scores (CSV)"),
    "csv_trend": ("Diễn biến (CSV)", "Trend (CSV)"),
    "csv_runs": ("Lần chạy (CSV)", "Runs (CSV)"),
    "bands": ("Ngưỡng màu", "Bands"),
    "band_green": ("Xanh", "Green"),
    "band_amber": ("Vàng", "Amber"),
    "band_red": ("Đỏ", "Red"),
    "band_n/a": ("Không áp dụng", "Not applicable"),
    "below": ("dưới mức đó", "below"),
    "privacy": (
        "Báo cáo chỉ gồm số liệu tổng hợp và mã bản ghi đã che; không có họ tên, số điện thoại hay số định danh.",
        "This report holds aggregate figures and masked record ids only: no names, phone numbers or identity numbers.",
    ),
    "offline": (
        "Trang hoạt động ngoại tuyến, không tải gì từ Internet.",
        "This page works offline and loads nothing from the Internet.",
    ),
    "unresolved": ("Chưa xác định được xã/phường", "Commune not resolved"),
    "no_data": ("không có dữ liệu", "no data"),
    "rule_level_note": (
        "Mỗi quy tắc có tỷ lệ đạt riêng (bản ghi, xã/phường hoặc nguồn không bị quy tắc đó đánh dấu). "
        "Quy tắc chưa phát hiện gì vẫn được liệt kê với 100%.",
        "Each rule has its own pass rate (records, communes or sources it did not flag). Rules that found "
        "nothing are listed at 100%.",
    ),
    "criterion_correct": ("Đúng", "Correct"),
    "criterion_sufficient": ("Đủ", "Sufficient"),
    "criterion_clean": ("Sạch", "Clean"),
    "criterion_live": ("Sống", "Live"),
    "criterion_overall": ("Chung (cả bốn)", "Overall (all four)"),
    "criterion_help_correct": ("giá trị hợp lệ, khớp nguồn gốc", "values valid and consistent"),
    "criterion_help_sufficient": ("đủ thông tin bắt buộc", "required fields present"),
    "criterion_help_clean": ("không trùng, một chuẩn", "no duplicates, one standard form"),
    "criterion_help_live": ("cập nhật trong hạn", "updated within its window"),
    "criterion_help_overall": ("đạt cả bốn tiêu chí", "meets all four criteria"),
    "severity_error": ("lỗi", "error"),
    "severity_warning": ("cảnh báo", "warning"),
    "status_published": ("đã công bố", "published"),
    "status_failed": ("lỗi", "failed"),
    "status_gate_failed": ("không qua cổng kiểm định", "failed the publish gate"),
    "current": ("hiện hành", "current"),
    "nothing_published": (
        "Chưa có lần chạy nào được công bố: chưa có điểm. Xem danh sách lần chạy bên dưới để biết lý do.",
        "No run has been published yet, so there are no scores. See the run list below for why.",
    ),
    "open_details": ("Xem chi tiết", "Show details"),
    "checked": ("Đã kiểm tra", "Checked"),
    "failing": ("Không đạt", "Failing"),
    "unit_records": ("bản ghi", "records"),
    "unit_communes": ("xã/phường", "communes"),
    "unit_sources": ("nguồn", "sources"),
    "unit_runs": ("lần chạy", "run"),
    "dataset_rule_communes": (
        "quy tắc cấp tập dữ liệu: đếm theo xã/phường",
        "dataset-level rule: counted in communes",
    ),
    "dataset_rule_sources": (
        "quy tắc cấp tập dữ liệu: đếm theo nguồn dữ liệu",
        "dataset-level rule: counted in sources",
    ),
    "dataset_rule_runs": (
        "quy tắc cấp tập dữ liệu: đếm cả lần chạy",
        "dataset-level rule: counted on the whole run",
    ),
    "rules_errors": (
        "Quy tắc mức lỗi — tính vào điểm tiêu chí",
        "Error rules — these count against the criterion scores",
    ),
    "rules_warnings": (
        "Quy tắc mức cảnh báo — không tính vào điểm",
        "Warning rules — these do not count against the scores",
    ),
    "rules_warnings_note": (
        "Cảnh báo là việc cần rà soát hoặc đã được xử lý tự động (ví dụ bản ghi trùng được gộp thành hồ sơ gốc); "
        "tỷ lệ ở đây không tô màu vì không làm giảm điểm.",
        "Warnings are to review, or are handled automatically (e.g. duplicate records are merged into golden "
        "records); their rates are not coloured because they do not lower any score.",
    ),
    "how_to_read": ("Cách đọc bảng điểm", "How to read this scorecard"),
    "read_errors_only": (
        "Điểm của mỗi tiêu chí là tỷ lệ bản ghi không có lỗi nào (mức “lỗi”) của tiêu chí đó, so với mục tiêu 100%. "
        "Cảnh báo không làm giảm điểm.",
        "Each criterion's score is the share of records with no error-level finding of that criterion, against "
        "a 100% target. Warnings never lower a score.",
    ),
    "read_records_published": ("bản ghi được công bố", "records published"),
    "read_review": ("cặp chưa chắc chắn chờ rà soát", "uncertain pairs awaiting review"),
    "read_quarantine": (
        "Bản ghi bị cách ly vẫn được tính: bản ghi lỗi là bản ghi không đạt, không phải bản ghi bị bỏ qua.",
        "Quarantined records are still counted: a failing record is not a missing one.",
    ),
    "read_dataset_rules": (
        "Quy tắc cấp tập dữ liệu (xã/phường chưa có bản ghi, nguồn không được làm mới) được tính theo đơn vị "
        "riêng: số xã/phường hoặc số nguồn đạt trên số đã kiểm tra.",
        "Dataset-level rules (commune has no records, source not refreshed) are scored in their own unit: "
        "communes or sources passing out of those checked.",
    ),
    "clean_card_note": ("gộp trùng", "duplicates merged"),
    "read_quarantined": ("bản ghi bị cách ly", "records quarantined"),
    "sources_note": (
        "Nguồn kém nhất ở đầu bảng. Mỗi nguồn là một tệp xuất của một hệ thống cũ (thường của một xã/phường cũ).",
        "Worst sources first. Each source is one export of an old system (usually one old commune's).",
    ),
    "more_sources": ("Các nguồn còn lại", "The other sources"),
    "drilldown_note": (
        "Dòng nền đỏ là lỗi (làm giảm điểm), nền vàng là cảnh báo (không làm giảm điểm).",
        "Red rows are errors (they lower the score), amber rows are warnings (they do not).",
    ),
}


# Filled per report: {title_vi}/{title_en} name the register, {unit_vi}/{unit_en}/{unit_en_one} what one golden
# record is (e.g. "hộ kinh doanh" / "businesses" / "business"), {unit_en_title} the English unit capitalised.
REGISTER_LABELS: dict[str, tuple[str, str]] = {
    "title": ("Bảng điểm chất lượng dữ liệu — {title_vi}", "Data quality scorecard — {title_en}"),
    "read_duplicates": (
        "Bản ghi trùng (cùng một {unit_vi} ở nhiều sổ/nguồn) là cảnh báo, không phải lỗi: chúng được gộp thành "
        "hồ sơ gốc (golden record) và các cặp chưa chắc chắn chờ cán bộ quyết định. Vì vậy điểm “Sạch” chỉ đếm lỗi.",
        "Duplicate records (the same {unit_en_one} in several registers or sources) are warnings, not errors: they "
        "are merged into golden records, and uncertain pairs wait for a steward's decision. So “Clean” counts "
        "errors only.",
    ),
    "read_golden": ("{unit_vi} (hồ sơ gốc)", "{unit_en} (golden records)"),
    "golden_unit": ("{unit_vi}", "{unit_en}"),
    "golden_count": ("Số {unit_vi} (hồ sơ gốc)", "{unit_en_title} (golden records)"),
}


def register_labels(
    title_vi: str, title_en: str, unit_vi: str, unit_en: str, unit_en_one: str
) -> dict[str, tuple[str, str]]:
    """Every label, those naming the register filled in for this one (the dataset spec's title and unit)."""
    values = {
        "title_vi": title_vi,
        "title_en": title_en,
        "unit_vi": unit_vi,
        "unit_en": unit_en,
        "unit_en_one": unit_en_one,
        "unit_en_title": unit_en[:1].upper() + unit_en[1:],
    }
    filled = {key: (vi.format_map(values), en.format_map(values)) for key, (vi, en) in REGISTER_LABELS.items()}
    return {**LABELS, **filled}


def label(key: str, labels: Mapping[str, tuple[str, str]] = LABELS) -> tuple[str, str]:
    """(Vietnamese, English) for a label key; unknown keys show the key itself in both languages."""
    return labels.get(key, (key, key))

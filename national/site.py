"""`build_national`: every province store under a folder → the national scorecard site, exports and store.

Output folder:
- `index.html` + `assets/` (the province site's stylesheet and script, copied from the reports room, plus the
  map's few rules): works from file:// with no network;
- `national.xlsx`, `national.json`, `provinces.csv`, `cross_province_counts.csv`, `cross_province_conflicts.csv`;
- `national.duckdb` + `parquet/` (the national store: `provinces`, `cross_province_links`,
  `cross_province_counts`, `cross_province_conflicts`).
Links into each province's own site are relative, so the whole tree (stores and national folder) can be copied.
No file written here holds a name, a CCCD/CMND, a date of birth or a phone: only codes, ids, counts and shares.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import polars as pl
import xlsxwriter
from jinja2 import Environment
from markupsafe import Markup

from sachsong.national.collect import (
    SCORED_STATUSES,
    STATUSES,
    find_stores,
    mark_stale_and_duplicates,
    province_table,
    provinces_reference,
    read_store,
    trend_table,
)
from sachsong.national.linkage import TIER_CCCD, TIER_CMND, LinkResult, link_provinces, write_national_store
from sachsong.national.tilemap import tile_map
from sachsong.reports.charts import trend_chart
from sachsong.reports.exports import BAND_FORMATS, write_atomically, write_text_atomically
from sachsong.reports.labels import label as report_label
from sachsong.reports.scores import SCORE_CRITERIA, Targets, load_targets
from sachsong.reports.site import bilingual, scorecard_environment
from sachsong.safetext import SAFE_WORKBOOK_OPTIONS, neutralize_formula, neutralize_frame, visible_frame
from sachsong.store.layout import REPORTS_DIR

HERE = Path(__file__).parent
REPORT_ASSETS = HERE.parent / "reports" / "assets"
try:  # the installed reports room's assets (the same folder in an editable install)
    from sachsong.reports import site as _report_site

    REPORT_ASSETS = _report_site.ASSETS
except ImportError:  # pragma: no cover - the reports room is a dependency of this one
    pass
ASSETS = HERE / "assets"
TEMPLATES = HERE / "templates"
DEFAULT_STALE_DAYS = 2  # a nightly province more than two nights behind the newest one is labelled stale

LABELS: dict[str, tuple[str, str]] = {
    "title": ("Bảng điểm chất lượng dữ liệu dân cư toàn quốc", "National residents data quality scorecard"),
    "provinces": ("Xếp hạng 34 tỉnh/thành phố", "The 34 provinces ranked"),
    "map": ("Bản đồ theo tiêu chí", "Map by criterion"),
    "status": ("Tình trạng", "Status"),
    "reason": ("Lý do", "Reason"),
    "persons": ("Công dân (hồ sơ gốc)", "Persons (golden records)"),
    "communes_covered": ("Xã/phường có dữ liệu", "Communes covered"),
    "received_clean": ("Sạch khi tiếp nhận", "Clean as received"),
    "site": ("Trang của tỉnh", "Province site"),
    "open_site": ("Mở", "Open"),
    "not_listed": ("Tỉnh chưa có điểm", "Provinces without scores"),
    "all_scored": ("Mọi tỉnh đều có điểm mới.", "Every province has current scores."),
    "as_of_mixed": (
        "Các tỉnh có số liệu đến những ngày khác nhau; cột “Số liệu đến ngày” ghi rõ từng tỉnh.",
        "Provinces' scores are as of different dates; the “Data as of” column shows each one.",
    ),
    "linkage": ("Liên kết công dân giữa các tỉnh", "Citizens linked across provinces"),
    "linkage_text": (
        "Cùng một số CCCD hợp lệ ở hai tỉnh là cùng một công dân (bậc chính xác). Bậc thứ hai (cùng CMND, "
        "ngày sinh đầy đủ và tên) cần cán bộ xác nhận. Không hiển thị tên, số định danh hay số điện thoại.",
        "The same valid CCCD in two provinces is the same citizen (exact tier). The second tier (same CMND, "
        "full date of birth and name) needs a steward's confirmation. No names, ID numbers or phones are shown.",
    ),
    "tier_cccd": ("CCCD trùng (chính xác)", "Same CCCD (exact)"),
    "tier_cmnd_dob_name": (
        "CMND + ngày sinh + tên (cần xác nhận)",
        "CMND + date of birth + name (to review)",
    ),
    "links": ("Liên kết", "Links"),
    "conflicts": ("Mâu thuẫn cần xử lý", "Conflicts for stewards"),
    "conflicts_text": (
        "Cùng CCCD nhưng khác ngày sinh hoặc giới tính: một trong hai sổ ghi sai. Mỗi dòng chỉ ghi mã tỉnh và "
        "mã người (cluster_id) của từng bên.",
        "Same CCCD, different date of birth or sex: one of the two registers is wrong. Each row names only the "
        "province code and person id (cluster_id) on each side.",
    ),
    "no_conflicts": ("Không có mâu thuẫn.", "No conflicts."),
    "suspect_ids": (
        "số CCCD xuất hiện ở quá nhiều người (số giữ chỗ hoặc nhập sai): không dùng để liên kết",
        "CCCDs held by too many persons (placeholders or typing accidents): not used for linking",
    ),
    "province_a": ("Tỉnh A", "Province A"),
    "province_b": ("Tỉnh B", "Province B"),
    "person_a": ("Mã người A", "Person id A"),
    "person_b": ("Mã người B", "Person id B"),
    "dob_conflict": ("Khác ngày sinh", "Different date of birth"),
    "sex_conflict": ("Khác giới tính", "Different sex"),
    "trends": ("Diễn biến từng tỉnh (chung)", "Trend per province (overall)"),
    "stores_read": ("Kho đã đọc", "Stores read"),
    "reference_date": ("Ngày đối chiếu", "Reference date"),
    "stale_after": ("Quá hạn sau", "Stale after"),
    "days": ("ngày", "days"),
    "more_conflicts": ("dòng khác trong tệp tải về", "more rows in the download"),
    "yes": ("Có", "Yes"),
    "no": ("Không", "No"),
    "status_ok": ("Mới", "Current"),
    "status_stale": ("Cũ (quá hạn)", "Stale"),
    "status_failed": ("Lần chạy cuối lỗi", "Last run failed"),
    "status_nothing_published": ("Chưa công bố", "Nothing published"),
    "status_refused": ("Bị từ chối (sai mã tỉnh)", "Refused (province label)"),
    "status_duplicate": ("Kho trùng tỉnh", "Duplicate store"),
    "status_unreadable": ("Không đọc được", "Unreadable"),
    "status_no_store": ("Chưa có kho", "No store"),
}

# Vietnamese column headers of the CSV and Excel exports (the JSON keeps the machine names and lists these).
HEADERS_VI: dict[str, str] = {
    "province_code": "Mã tỉnh",
    "province_name": "Tỉnh/thành phố",
    "status": "Tình trạng",
    "reason": "Lý do",
    "run_id": "Lần chạy",
    "as_of": "Số liệu đến ngày",
    "last_run_status": "Kết quả lần chạy cuối",
    "last_run_as_of": "Lần chạy cuối: số liệu đến ngày",
    "records": "Bản ghi",
    "persons": "Công dân (hồ sơ gốc)",
    "quarantined": "Bản ghi cách ly",
    "communes_covered": "Xã/phường có dữ liệu",
    "communes_total": "Tổng số xã/phường",
    "received_clean": "Sạch khi tiếp nhận",
    "site": "Trang của tỉnh",
    "tier": "Bậc liên kết",
    "province_a": "Tỉnh A",
    "person_a": "Mã người A",
    "province_b": "Tỉnh B",
    "person_b": "Mã người B",
    "links": "Số liên kết",
    "conflicts": "Số mâu thuẫn",
    "dob_conflict": "Khác ngày sinh",
    "sex_conflict": "Khác giới tính",
}
for _criterion in SCORE_CRITERIA:
    _name = report_label(f"criterion_{_criterion}")[0]
    HEADERS_VI[_criterion] = _name
    HEADERS_VI[f"{_criterion}_band"] = f"Mức – {_name}"
    HEADERS_VI[f"{_criterion}_rank"] = f"Hạng – {_name}"
EXPORT_COLUMNS = (
    "province_code",
    "province_name",
    "status",
    "as_of",
    *[c for criterion in SCORE_CRITERIA for c in (criterion, f"{criterion}_band", f"{criterion}_rank")],
    "records",
    "persons",
    "quarantined",
    "communes_covered",
    "communes_total",
    "received_clean",
    "run_id",
    "last_run_status",
    "last_run_as_of",
    "site",
    "reason",
)


@dataclass(frozen=True)
class NationalResult:
    index: Path
    provinces: pl.DataFrame
    links: LinkResult
    database: Path
    stores_read: int

    def describe(self) -> str:
        counts = self.provinces.group_by("status").len().sort("status")
        statuses = ", ".join(f"{r['status']}: {r['len']}" for r in counts.iter_rows(named=True))
        return (
            f"{self.stores_read} store(s) read; provinces {statuses}; "
            f"{self.links.total(TIER_CCCD)} CCCD link(s), {self.links.total(TIER_CMND)} flagged "
            f"CMND link(s), {self.links.conflicts.height} conflict(s)"
        )


# ----------------------------------------------------------------------------------------------- labels
@lru_cache(maxsize=512)
def t(key: str) -> Markup:
    vi, en = LABELS.get(key) or report_label(key)
    return bilingual(vi, en)


# ------------------------------------------------------------------------------------------------ build
def _site_links(provinces: pl.DataFrame, output_dir: Path) -> pl.DataFrame:
    """Relative link from the national index to each province's own site, where that site exists."""
    links = []
    for store in provinces.get_column("store").to_list():
        href = None
        if store:
            index = Path(store) / REPORTS_DIR / "index.html"
            if index.is_file():
                try:
                    href = Path(os.path.relpath(index.resolve(), output_dir.resolve())).as_posix()
                except ValueError:  # another drive (Windows): no relative path exists
                    href = index.resolve().as_uri()
        links.append(href)
    return provinces.with_columns(pl.Series("site", links, dtype=pl.String))


def build_national(
    stores_dir: str | Path,
    output_dir: str | Path,
    *,
    targets: Targets | Mapping[str, Any] | str | Path | None = None,
    stale_days: int = DEFAULT_STALE_DAYS,
    reference_date: date | None = None,
    map_criterion: str = "overall",
    memory_limit: str = "2GB",
) -> NationalResult:
    """Read every province store under `stores_dir` read-only; write the national site and store to `output_dir`."""
    stores_dir, output_dir = Path(stores_dir), Path(output_dir)
    if not stores_dir.is_dir():
        raise FileNotFoundError(f"{stores_dir}: no such folder of province stores")
    if map_criterion not in SCORE_CRITERIA:
        raise ValueError(f"map criterion {map_criterion!r}: expected one of {', '.join(SCORE_CRITERIA)}")
    targets = load_targets(targets)
    reference = provinces_reference()
    known = set(reference.get_column("province_code").to_list())
    output_resolved = output_dir.resolve()
    stores = [s for s in find_stores(stores_dir) if s.resolve() != output_resolved]
    # Stores are independent and the reads are DuckDB/polars work that releases the GIL: a few threads overlap
    # one store's file opening with another's scan.
    with ThreadPoolExecutor(max_workers=max(1, min(4, os.cpu_count() or 1))) as pool:
        reads = list(pool.map(lambda path: read_store(path, known), stores))
    reference_date = mark_stale_and_duplicates(reads, stale_days, reference_date)
    provinces = _site_links(province_table(reads, reference, targets), output_dir)
    golden = {
        r.province_code: r.golden
        for r in reads
        if r.status in SCORED_STATUSES and r.province_code and r.golden is not None
    }
    output_dir.mkdir(parents=True, exist_ok=True)
    links = link_provinces(golden, memory_limit=memory_limit)
    trend = trend_table(reads)
    export = _export_frame(provinces)
    database = write_national_store(
        output_dir,
        {
            "provinces": export,
            "province_trend": trend,
            "cross_province_links": links.links,
            "cross_province_counts": links.counts,
            "cross_province_conflicts": links.conflicts,
        },
    )
    meta = {
        "title": LABELS["title"][0],
        "generated_at": datetime.now(UTC).replace(microsecond=0).isoformat(),
        "reference_date": reference_date.isoformat() if reference_date else None,
        "stale_days": stale_days,
        "stores_read": len(stores),
        "links_cccd": links.total(TIER_CCCD),
        "links_cmnd_dob_name": links.total(TIER_CMND),
        "conflicts": links.conflicts.height,
        "suspect_ids": links.suspect_ids,
    }
    _write_exports(output_dir, export, links, trend, meta, targets)
    _copy_assets(output_dir)
    html = _render(provinces, links, trend, meta, targets, map_criterion)
    index = write_text_atomically(output_dir / "index.html", html)
    return NationalResult(index, provinces, links, database, len(stores))


def _export_frame(provinces: pl.DataFrame) -> pl.DataFrame:
    return visible_frame(provinces.select([c for c in EXPORT_COLUMNS if c in provinces.columns]))


def _copy_assets(output_dir: Path) -> None:
    assets_out = output_dir / "assets"
    assets_out.mkdir(exist_ok=True)
    for folder in (REPORT_ASSETS, ASSETS):
        for asset in folder.iterdir():
            if asset.is_file():
                write_atomically(
                    assets_out / asset.name, lambda staging, a=asset: shutil.copyfile(a, staging)
                )


# ---------------------------------------------------------------------------------------------- exports
def _jsonable(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime | date) else value


def _vi_headers(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.rename({c: HEADERS_VI.get(c, c) for c in frame.columns})


def _write_csv(path: Path, frame: pl.DataFrame) -> Path:
    # A BOM lets Excel on Windows open the Vietnamese text as UTF-8; formula-like cells are neutralized.
    content = b"\xef\xbb\xbf" + _vi_headers(neutralize_frame(frame)).write_csv().encode("utf-8")
    return write_atomically(path, lambda staging: staging.write_bytes(content))


def _write_exports(
    output_dir: Path,
    provinces: pl.DataFrame,
    links: LinkResult,
    trend: pl.DataFrame,
    meta: dict[str, Any],
    targets: Targets,
) -> None:
    payload = {
        "meta": meta,
        "headers_vi": {c: HEADERS_VI.get(c, c) for c in provinces.columns},
        "provinces": [{k: _jsonable(v) for k, v in r.items()} for r in provinces.iter_rows(named=True)],
        "cross_province_counts": links.counts.to_dicts(),
        "cross_province_conflicts": links.conflicts.to_dicts(),
        "trend": [{k: _jsonable(v) for k, v in r.items()} for r in trend.iter_rows(named=True)],
    }
    write_text_atomically(output_dir / "national.json", json.dumps(payload, ensure_ascii=False, indent=1))
    _write_csv(output_dir / "provinces.csv", provinces)
    _write_csv(output_dir / "cross_province_counts.csv", links.counts)
    _write_csv(output_dir / "cross_province_conflicts.csv", links.conflicts)
    write_atomically(
        output_dir / "national.xlsx",
        lambda staging: _write_workbook(staging, provinces, links, meta, targets),
    )


def _excel_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.replace(tzinfo=None).isoformat(sep=" ", timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    return neutralize_formula(value)


def _write_workbook(
    path: Path, provinces: pl.DataFrame, links: LinkResult, meta: dict[str, Any], targets: Targets
) -> None:
    with xlsxwriter.Workbook(str(path), dict(SAFE_WORKBOOK_OPTIONS)) as workbook:
        header = workbook.add_format(
            {"bold": True, "bg_color": "#dde4ee", "text_wrap": True, "valign": "top"}
        )
        percent = workbook.add_format({"num_format": "0.0%"})
        integer = workbook.add_format({"num_format": "#,##0"})
        bands = {
            b: workbook.add_format({"bg_color": c, "num_format": "0.0%"}) for b, c in BAND_FORMATS.items()
        }
        sheets = (
            ("Tỉnh", provinces),
            ("Liên kết", links.counts),
            ("Mâu thuẫn", links.conflicts),
        )
        for name, frame in sheets:
            sheet = workbook.add_worksheet(name)
            sheet.set_landscape()
            sheet.set_paper(9)  # A4
            sheet.fit_to_pages(1, 0)
            sheet.repeat_rows(0)
            sheet.set_header(f"&L&8{meta['title'].replace('&', '&&')}&R&8{name}")
            sheet.set_footer("&C&8&P / &N")
            sheet.freeze_panes(1, 2 if name == "Tỉnh" else 0)
            for column, key in enumerate(frame.columns):
                sheet.write(0, column, HEADERS_VI.get(key, key), header)
                width = 9 if key.endswith(("_rank", "_band")) else 14
                sheet.set_column(column, column, 40 if key in ("reason", "province_name") else width)
            band_columns = {c: f"{c}_band" for c in SCORE_CRITERIA if f"{c}_band" in frame.columns}
            for row_index, row in enumerate(frame.iter_rows(named=True), start=1):
                for column, key in enumerate(frame.columns):
                    value = row[key]
                    if value is None:
                        continue
                    if key in band_columns:
                        sheet.write_number(
                            row_index, column, value, bands.get(row[band_columns[key]], percent)
                        )
                    elif key == "received_clean":
                        sheet.write_number(row_index, column, value, percent)
                    elif isinstance(value, bool):
                        sheet.write_boolean(row_index, column, value)
                    elif isinstance(value, int):
                        sheet.write_number(row_index, column, value, integer)
                    elif isinstance(value, float):
                        sheet.write_number(row_index, column, value)
                    else:
                        sheet.write_string(row_index, column, str(_excel_value(value)))
        info = workbook.add_worksheet("Thông tin")
        info.set_column(0, 0, 30)
        info.set_column(1, 1, 70)
        rows = [
            ("Tiêu đề", meta["title"]),
            ("Tạo lúc (UTC)", meta["generated_at"]),
            ("Ngày đối chiếu", meta["reference_date"] or "—"),
            ("Quá hạn sau (ngày)", str(meta["stale_days"])),
            ("Ngưỡng xanh / vàng", f"{targets.default.green:.0%} / {targets.default.amber:.0%}"),
            ("Liên kết CCCD", str(meta["links_cccd"])),
            ("Liên kết CMND + ngày sinh + tên", str(meta["links_cmnd_dob_name"])),
            ("Mâu thuẫn", str(meta["conflicts"])),
            ("CCCD dùng chung bất thường (không liên kết)", str(meta["suspect_ids"])),
        ]
        for index, (key, value) in enumerate(rows):
            info.write_string(index, 0, key, header)
            info.write_string(index, 1, str(neutralize_formula(value)))


# --------------------------------------------------------------------------------------------- rendering
def _environment() -> Environment:
    return scorecard_environment(TEMPLATES, t)


CONFLICTS_SHOWN = 200  # the page lists the first ones; the CSV and the national store hold them all


def _render(
    provinces: pl.DataFrame,
    links: LinkResult,
    trend: pl.DataFrame,
    meta: dict[str, Any],
    targets: Targets,
    map_criterion: str,
) -> str:
    shown = visible_frame(provinces)
    rows = shown.to_dicts()
    scored = [r for r in rows if r["status"] in SCORED_STATUSES]
    unscored = [r for r in rows if r["status"] != "ok"]  # stale and failed are scored, and listed here too
    as_of_dates = {r["as_of"] for r in scored if r["as_of"] is not None}
    maps = []
    for criterion in SCORE_CRITERIA:
        tiles = [
            {
                "province_code": r["province_code"],
                "province_name": r["province_name"],
                "share": r.get(criterion),
                "band": r.get(f"{criterion}_band"),
                "status": r["status"],
            }
            for r in rows
            if r["province_code"]
        ]
        # A province with a scored store wins its tile over a refused or unreadable store claiming it.
        tiles.sort(key=lambda tile: tile["status"] in SCORED_STATUSES)
        maps.append(
            {
                "criterion": criterion,
                "open": criterion == map_criterion,
                "svg": Markup(tile_map(tiles, criterion, f"map-{criterion}-title")),
            }
        )
    charts = []
    overall = trend.filter(pl.col("criterion") == "overall")
    names = {r["province_code"]: r["province_name"] for r in rows}
    for code in sorted({r["province_code"] for r in scored}):
        series = overall.filter(pl.col("province_code") == code).sort("as_of", "run_id")
        points = [
            (str(r["as_of"]), r["share"], _band(r["share"], targets)) for r in series.iter_rows(named=True)
        ]
        if points:
            charts.append(
                {
                    "code": code,
                    "name": names.get(code) or code,
                    "svg": Markup(
                        trend_chart(points, targets.for_criterion("overall"), f"trend-{code}-title")
                    ),
                }
            )
    rankings = {
        criterion: sorted(
            (r for r in scored if r.get(criterion) is not None),
            key=lambda r, c=criterion: (r[f"{c}_rank"], r["province_code"]),
        )
        for criterion in SCORE_CRITERIA
    }
    conflicts = links.conflicts
    status_order = {s: i for i, s in enumerate(STATUSES)}
    unscored.sort(key=lambda r: (status_order.get(r["status"], 99), r["province_code"] or ""))
    return (
        _environment()
        .get_template("national.html.j2")
        .render(
            meta=meta,
            provinces=scored,
            unscored=unscored,
            rankings=rankings,
            maps=maps,
            charts=charts,
            counts=links.counts.to_dicts(),
            totals={TIER_CCCD: links.total(TIER_CCCD), TIER_CMND: links.total(TIER_CMND)},
            conflicts=conflicts.head(CONFLICTS_SHOWN).to_dicts(),
            conflicts_total=conflicts.height,
            as_of_mixed=len(as_of_dates) > 1,
            targets=targets,
            generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            labels_json=Markup(
                json.dumps(
                    {k: {"vi": LABELS_SWITCH[k][0], "en": LABELS_SWITCH[k][1]} for k in LABELS_SWITCH},
                    ensure_ascii=False,
                ).replace("<", "\\u003c")
            ),
        )
    )


LABELS_SWITCH = {k: report_label(k) for k in ("switch_language", "switch_language_hint")}


def _band(share: float | None, targets: Targets) -> str:
    if share is None:
        return "n/a"
    thresholds = targets.for_criterion("overall")
    return "green" if share >= thresholds.green else "amber" if share >= thresholds.amber else "red"

"""Downloads of the scorecard: an Excel workbook formatted for printing, and JSON + CSV of the same scores.

Only aggregate scores and run metadata are written: never record values, names or identity numbers.

Every file is written aside (a temporary file in the same folder), fsynced and renamed over the old one, so a
disk filling or a crash mid-report leaves the previous complete file. Every text cell of the CSV and Excel
downloads goes through `sachsong.safetext.neutralize_formula` (OWASP CSV injection), and workbooks never turn
strings into formulas, hyperlinks or numbers.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import polars as pl
from xlsxwriter.utility import xl_col_to_name

from sachsong.reports.scores import SCORE_CRITERIA, Targets
from sachsong.safetext import neutralize_formula, neutralize_frame, safe_workbook

BAND_FORMATS = {"green": "#c6efce", "amber": "#ffeb9c", "red": "#ffc7ce", "n/a": "#e7e6e6"}


@dataclass(frozen=True)
class ExportTables:
    """What the exports are made of: the current run's scores (with change columns), the trend, the run list."""

    province: pl.DataFrame
    communes: pl.DataFrame
    sources: pl.DataFrame
    rules: pl.DataFrame
    trend: pl.DataFrame
    runs: pl.DataFrame
    scores: pl.DataFrame  # every level, long format, for JSON/CSV


# Columns of the runs table safe to publish (a run's free-text message may quote input data: left out).
RUN_COLUMN_TYPES: dict[str, pl.DataType] = {
    "run_id": pl.String(),
    "province_code": pl.String(),
    "as_of": pl.Date(),
    "started_at": pl.Datetime("us"),
    "finished_at": pl.Datetime("us"),
    "status": pl.String(),
    "rows_in": pl.Int64(),
    "rows_published": pl.Int64(),
    "rows_quarantined": pl.Int64(),
    "rows_rejected": pl.Int64(),
}


def safe_runs(runs: pl.DataFrame | None) -> pl.DataFrame:
    """The run list restricted to publishable columns; columns an older store lacks are null."""
    if runs is None:
        return pl.DataFrame(schema=RUN_COLUMN_TYPES)
    return runs.select(
        [
            pl.col(c) if c in runs.columns else pl.lit(None, dtype=t).alias(c)
            for c, t in RUN_COLUMN_TYPES.items()
        ]
    )


def write_atomically(path: Path, write: Callable[[Path], None]) -> Path:
    """Call `write(staging)` on a new file beside `path`, fsync it and rename it over `path`.

    Readers see the old complete file or the new complete one; a failure (a full disk, an exception mid-write)
    removes the staging file and leaves `path` as it was.
    """
    path = Path(path)
    staging = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        write(staging)
        with open(staging, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(staging, path)
    except BaseException:
        staging.unlink(missing_ok=True)
        raise
    try:
        directory = os.open(path.parent, os.O_RDONLY)
    except OSError:  # a folder that cannot be opened (some platforms): the rename is still atomic
        return path
    try:
        os.fsync(directory)
    except OSError:
        pass
    finally:
        os.close(directory)
    return path


def write_text_atomically(path: Path, text: str) -> Path:
    """`text` (UTF-8) written aside and renamed over `path`."""
    return write_atomically(path, lambda staging: staging.write_bytes(text.encode("utf-8")))


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def write_json(path: Path, tables: ExportTables, meta: dict[str, Any]) -> Path:
    payload = {
        "meta": {k: _jsonable(v) for k, v in meta.items()},
        "scores": [{k: _jsonable(v) for k, v in row.items()} for row in tables.scores.iter_rows(named=True)],
        # Each rule in its own unit: `checked`/`failing` count communes or sources for dataset-level rules.
        "rules": [{k: _jsonable(v) for k, v in row.items()} for row in tables.rules.iter_rows(named=True)],
        "trend": [{k: _jsonable(v) for k, v in row.items()} for row in tables.trend.iter_rows(named=True)],
        "runs": [{k: _jsonable(v) for k, v in row.items()} for row in tables.runs.iter_rows(named=True)],
    }
    return write_text_atomically(path, json.dumps(payload, ensure_ascii=False, indent=1))


def _csv_ready(frame: pl.DataFrame) -> pl.DataFrame:
    nested = [c for c, t in frame.schema.items() if isinstance(t, pl.List | pl.Struct)]
    return neutralize_frame(frame.drop(nested))


def write_csvs(output_dir: Path, tables: ExportTables) -> list[Path]:
    paths = []
    for name, frame in (("scores", tables.scores), ("trend", tables.trend), ("runs", tables.runs)):
        path = output_dir / f"{name}.csv"
        # A BOM lets Excel on Windows open the Vietnamese text as UTF-8.
        content = b"\xef\xbb\xbf" + _csv_ready(frame).write_csv().encode("utf-8")
        paths.append(write_atomically(path, lambda staging, content=content: staging.write_bytes(content)))
    return paths


def _excel_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.replace(tzinfo=None).isoformat(sep=" ", timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list):
        value = ", ".join(str(v) for v in value)
    return neutralize_formula(value)


def write_workbook(path: Path, tables: ExportTables, meta: dict[str, Any], targets: Targets) -> Path:
    """One sheet per level (province, communes, sources, rules, trend, runs), ready to print."""
    return write_atomically(path, lambda staging: _write_workbook(staging, tables, meta, targets))


def _write_workbook(path: Path, tables: ExportTables, meta: dict[str, Any], targets: Targets) -> None:
    workbook = safe_workbook(path, remove_timezone=True)
    header = workbook.add_format(
        {
            "bold": True,
            "bg_color": "#1f3a5f",
            "font_color": "#ffffff",
            "border": 1,
            "text_wrap": True,
            "valign": "top",
        }
    )
    percent = workbook.add_format({"num_format": "0.0%"})
    change = workbook.add_format({"num_format": "+0.0%;-0.0%;0.0%"})
    integer = workbook.add_format({"num_format": "#,##0"})
    band_formats = {band: workbook.add_format({"bg_color": colour}) for band, colour in BAND_FORMATS.items()}
    title = f"{meta.get('title', 'Scorecard')} — {meta.get('province_label', '')} — {meta.get('as_of', '')}"

    sheets = (
        ("province", tables.province),
        ("communes", tables.communes),
        ("sources", tables.sources),
        ("rules", tables.rules),
        ("trend", tables.trend),
        ("runs", tables.runs),
    )
    for name, frame in sheets:
        frame = _csv_ready(frame)
        sheet = workbook.add_worksheet(name)
        sheet.set_landscape()
        sheet.set_paper(9)  # A4
        sheet.fit_to_pages(1, 0)  # fit to width, as many pages down as needed
        sheet.repeat_rows(0)
        sheet.set_header(f"&L&8{title.replace('&', '&&')}&R&8{name}")
        sheet.set_footer("&C&8&P / &N")
        sheet.freeze_panes(1, 0)
        columns = frame.columns
        for col, column in enumerate(columns):
            sheet.write(0, col, neutralize_formula(column), header)
            values = frame.get_column(column).to_list()
            longest = max(
                [len(column), *(len(str(_excel_value(v))) for v in values if v is not None)], default=8
            )
            fmt = None
            if column in ("share", "previous_share", *SCORE_CRITERIA):
                fmt = percent
            elif column == "change" or column.endswith("_change"):
                fmt = change
            elif column in (
                "records",
                "passing",
                "checked",
                "failing",
                "rows_in",
                "rows_published",
                "rows_quarantined",
                "rows_rejected",
            ):
                fmt = integer
            sheet.set_column(col, col, min(max(longest + 2, 8), 48), fmt)
            for row, value in enumerate(values, start=1):
                value = _excel_value(value)
                if value is None:
                    sheet.write_blank(row, col, None, fmt)
                else:
                    sheet.write(row, col, value, fmt)
        if "band" in columns and frame.height:
            band_col = columns.index("band")
            last_col = len(columns) - 1
            band_letter = xl_col_to_name(band_col)
            for band, fmt in band_formats.items():
                sheet.conditional_format(
                    1,
                    0,
                    frame.height,
                    last_col,
                    {"type": "formula", "criteria": f'=${band_letter}2="{band}"', "format": fmt},
                )
        # Wide sheets (communes, sources): one share column per criterion, coloured by its own thresholds.
        for col, column in enumerate(columns):
            if column not in SCORE_CRITERIA or "band" in columns or not frame.height:
                continue
            thresholds = targets.for_criterion(column)
            cell = f"{xl_col_to_name(col)}2"
            rules = (
                (f"=ISBLANK({cell})", "n/a"),
                (f"={cell}>={thresholds.green}", "green"),
                (f"={cell}>={thresholds.amber}", "amber"),
                (f"={cell}<{thresholds.amber}", "red"),
            )
            for formula, band in rules:
                sheet.conditional_format(
                    1,
                    col,
                    frame.height,
                    col,
                    {
                        "type": "formula",
                        "criteria": formula,
                        "format": band_formats[band],
                        "stop_if_true": True,
                    },
                )
        if frame.height:
            sheet.autofilter(0, 0, frame.height, max(len(columns) - 1, 0))
    info = workbook.add_worksheet("about")
    info.set_column(0, 0, 28)
    info.set_column(1, 1, 80)
    rows = [(k, _excel_value(v)) for k, v in meta.items()]
    rows.append(
        ("bands", f"green ≥ {targets.default.green:.0%}, amber ≥ {targets.default.amber:.0%}, red below")
    )
    for criterion, thresholds in targets.per_criterion.items():
        rows.append(
            (f"bands ({criterion})", f"green ≥ {thresholds.green:.0%}, amber ≥ {thresholds.amber:.0%}")
        )
    for row, (key, value) in enumerate(rows):
        info.write(row, 0, neutralize_formula(str(key)), header)
        info.write(row, 1, neutralize_formula(str(value)))
    workbook.close()

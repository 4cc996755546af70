"""The ministries' scorecard: a self-contained static site (+ Excel, JSON, CSV) built from the store.

Reads the store read-only, through `store.reader`: the live snapshot (records and findings of the live run; the
register it holds, from its manifest) and the history (`runs`, `score_history`). The register's dataset spec
names its tables, what its golden records count (persons, businesses, …) and its rule pack. Only non-personal
columns are ever selected: ids, codes, rule ids, criteria and severities. A finding's `value` is read only when
it is a 5-digit ward code of a dataset-level finding; names, phones and identity numbers never enter this module.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb
import pandera.polars as pa
import polars as pl
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup, escape

from sachsong.reports.charts import share_bar, trend_chart
from sachsong.reports.drilldown import commune_rule_counts
from sachsong.reports.exports import (
    ExportTables,
    safe_runs,
    write_atomically,
    write_csvs,
    write_json,
    write_text_atomically,
    write_workbook,
)
from sachsong.reports.labels import LABELS, label, register_labels
from sachsong.reports.scores import (
    PUBLISHED,
    SCORE_CRITERIA,
    SCORE_SCHEMA,
    UNRESOLVED_WARD,
    Targets,
    compare_with_previous,
    compute_scores,
    load_targets,
    province_wards,
    rule_catalogue,
    score_trend,
    with_units,
)
from sachsong.safetext import visible_frame
from sachsong.schema import CRITERIA, FINDING_SCHEMA
from sachsong.spec import DatasetSpec, get_dataset
from sachsong.store import reader
from sachsong.store.layout import CURRENT_POINTER, StoreError

HERE = Path(__file__).parent
ASSETS = HERE / "assets"
TEMPLATES = HERE / "templates"

# Store tables every register publishes beside its own records and golden tables.
QUARANTINE_TABLE = "quarantine"
REVIEW_TABLE = "review_queue"
# The source table lists the worst sources; the rest (often hundreds at 100%) fold into a <details>.
SOURCES_SHOWN = 25
# The only record columns the report ever reads.
SAFE_RECORD_COLUMNS = ("row_uid", "record_id", "source_id", "ward_code", "province_code", "source_row")


class ReportError(RuntimeError):
    """The store cannot be reported on (missing, unreadable, or nothing published yet)."""


# ------------------------------------------------------------------------------------------------- reading
def _not_loaded(frame: pl.DataFrame) -> pl.DataFrame:
    raise RuntimeError("a report's stand-in dataset spec standardizes nothing")


def register_spec(name: str) -> DatasetSpec:
    """The dataset spec of the register a store holds. A register whose folder is not on this machine (or does
    not load) still gets a report: its tables by the spec's naming, generic unit labels, and the rules that fired
    (a broken or absent spec must not hide the scores)."""
    try:
        return get_dataset(name)
    except Exception:  # any failure of a dataset folder's own code: report without it
        return DatasetSpec(
            name=name,
            columns={},
            contract=pa.DataFrameSchema({}),
            standardize=_not_loaded,
            title_vi=name,
            title_en=name,
        )


def counted_tables(spec: DatasetSpec) -> dict[str, str]:
    """Tables whose row counts (never their contents) the overview explains, by role: records published, golden
    records (the register's unit, after merging duplicates), records quarantined, uncertain pairs for a steward."""
    return {
        "records": spec.records_table,
        "golden": spec.golden_table,
        "quarantine": QUARANTINE_TABLE,
        "review_queue": REVIEW_TABLE,
    }


@dataclass
class StoreView:
    """What the report needs from a store, with personal columns never read."""

    store_dir: Path
    run_id: str | None
    records: pl.DataFrame  # SAFE_RECORD_COLUMNS present in the snapshot
    findings: pl.DataFrame  # FINDING_SCHEMA minus message; value only for dataset-level ward codes
    runs: pl.DataFrame | None
    history: pl.DataFrame
    data_docs: Path | None
    table_counts: dict[str, int] = field(default_factory=dict)  # row counts by counted_tables role
    spec: DatasetSpec | None = None  # the register the snapshot holds


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _live_run_id(store_dir: Path, runs: pl.DataFrame | None) -> str | None:
    run_id = reader.current_run_id(store_dir)
    if run_id is not None:
        return run_id
    if runs is not None and runs.height:  # no pointer: the latest published run whose snapshot exists
        published = runs.filter(pl.col("status") == PUBLISHED)
        for candidate in reversed(published.get_column("run_id").to_list()):
            if reader.snapshot_exists(store_dir, candidate):
                return candidate
    return None


def _read_history(store_dir: Path) -> tuple[pl.DataFrame | None, pl.DataFrame]:
    runs, scores = reader.read_history_tables(store_dir)
    history = pl.DataFrame(schema=SCORE_SCHEMA)
    if scores is not None and scores.width:
        history = scores.select([c for c in SCORE_SCHEMA if c in scores.columns]).with_columns(
            [pl.col(c).cast(t) for c, t in SCORE_SCHEMA.items() if c in scores.columns]
            + [pl.lit(None, dtype=t).alias(c) for c, t in SCORE_SCHEMA.items() if c not in scores.columns]
        ).select(list(SCORE_SCHEMA))
    return runs, history


def _read_snapshot(
    connection: duckdb.DuckDBPyConnection, spec: DatasetSpec, where: str
) -> tuple[pl.DataFrame, pl.DataFrame, dict[str, int]]:
    tables = reader.table_columns(connection)
    record_tables = (spec.records_table, QUARANTINE_TABLE)
    parts = []
    for table in record_tables:
        present = tables.get(table)
        if not present or "row_uid" not in present:
            continue
        wanted = [c for c in SAFE_RECORD_COLUMNS if c in present]
        parts.append(connection.sql(f"SELECT {', '.join(wanted)} FROM {_ident(table)}").pl())
    if not parts:
        raise ReportError(f"{where}: no records table ({' or '.join(record_tables)}) with a row_uid column")
    records = pl.concat(parts, how="diagonal_relaxed").unique("row_uid", keep="first", maintain_order=True)
    for column in ("record_id", "source_id", "ward_code", "province_code"):
        if column not in records.columns:
            records = records.with_columns(pl.lit(None, dtype=pl.String).alias(column))
    finding_columns = tables.get("findings")
    schema = {c: t for c, t in FINDING_SCHEMA.items() if c != "message"}
    if not finding_columns:
        findings = pl.DataFrame(schema=schema)
    else:
        needed = ("row_uid", "rule_id", "criterion", "severity")
        missing = [c for c in needed if c not in finding_columns]
        if missing:
            raise ReportError(f"{where}: table 'findings' lacks column(s) {missing}")
        select = [
            c
            for c in ("row_uid", "record_id", "source_id", "rule_id", "criterion", "severity")
            if c in finding_columns
        ]
        value = (
            "CASE WHEN row_uid IS NULL AND regexp_full_match(CAST(value AS VARCHAR), '[0-9]{5}') "
            "THEN CAST(value AS VARCHAR) END AS value"
            if "value" in finding_columns
            else "CAST(NULL AS VARCHAR) AS value"
        )
        findings = connection.sql(f"SELECT {', '.join(select)}, {value} FROM findings").pl()
        findings = findings.with_columns(
            [
                pl.col(c).cast(t) if c in findings.columns else pl.lit(None, dtype=t).alias(c)
                for c, t in schema.items()
            ]
        ).select(list(schema))
    counts = {
        role: int(connection.execute(f"SELECT count(*) FROM {_ident(table)}").fetchall()[0][0])
        for role, table in counted_tables(spec).items()
        if table in tables
    }
    return records, findings, counts


def read_store(store_dir: str | Path) -> StoreView:
    """Everything the report needs from the store, read-only."""
    store_dir = Path(store_dir)
    if not store_dir.is_dir():
        raise ReportError(f"{store_dir}: no such store directory")
    try:
        return _read_store(store_dir)
    except (StoreError, ValueError, duckdb.Error) as error:
        raise ReportError(f"{store_dir}: cannot be read ({error})") from error


def _read_store(store_dir: Path) -> StoreView:
    runs, history = _read_history(store_dir)
    run_id = _live_run_id(store_dir, runs)
    records = pl.DataFrame(
        schema={c: pl.String for c in SAFE_RECORD_COLUMNS if c != "source_row"}
    ).with_columns(pl.col("row_uid").cast(pl.Int64))
    findings = pl.DataFrame(schema={c: t for c, t in FINDING_SCHEMA.items() if c != "message"})
    counts: dict[str, int] = {}
    spec = register_spec(reader.snapshot_dataset(store_dir, run_id))
    if run_id is not None:
        if not reader.snapshot_exists(store_dir, run_id):
            raise ReportError(f"{store_dir / CURRENT_POINTER} names run {run_id}, but its snapshot does not exist")
        connection = reader.open_snapshot(store_dir, run_id)
        try:
            records, findings, counts = _read_snapshot(connection, spec, f"{store_dir}: snapshot {run_id}")
        finally:
            connection.close()
    elif history.is_empty() and (runs is None or runs.is_empty()):
        raise ReportError(
            f"{store_dir}: nothing published yet (no {CURRENT_POINTER}, no runs, no score history)"
        )
    return StoreView(
        store_dir, run_id, records, findings, runs, history, reader.data_docs_index(store_dir), counts, spec
    )


# ----------------------------------------------------------------------------------------- view building
def bilingual(vi: str, en: str) -> Markup:
    """Both languages side by side; CSS shows the one the reader chose."""
    vi_html, en_html = escape(vi), escape(en)
    if vi_html == en_html:
        return vi_html
    return Markup(f'<span lang="vi" class="vi">{vi_html}</span><span lang="en" class="en">{en_html}</span>')


def _labels(spec: DatasetSpec | None) -> Mapping[str, tuple[str, str]]:
    """Every label, those naming the register filled from its spec (a view built by hand: the default one's)."""
    spec = spec or register_spec(reader.DEFAULT_DATASET)
    return register_labels(spec.title_vi, spec.title_en, spec.unit.vi, spec.unit.en, spec.unit.en_one)


def labeller(spec: DatasetSpec | None) -> Callable[[str], Markup]:
    """The page's `t(key)`: a label in both languages, those naming the register filled from its spec."""
    labels = _labels(spec)
    rendered: dict[str, Markup] = {}

    def t(key: str) -> Markup:
        if key not in rendered:
            rendered[key] = bilingual(*label(key, labels))
        return rendered[key]

    return t


def number(value: Any) -> Markup:
    if value is None:
        return Markup("—")
    text = f"{int(value):,}"
    return bilingual(text.replace(",", "."), text)


def pct(share: Any) -> Markup:
    if share is None:
        return Markup('<abbr class="na" title="n/a">—</abbr>')
    text = f"{share * 100:.1f}%"
    return bilingual(text.replace(".", ","), text)


def delta(change: Any) -> Markup:
    if change is None:
        return Markup('<span class="delta none">—</span>')
    points = change * 100
    arrow, css = ("▲", "up") if points > 0.05 else ("▼", "down") if points < -0.05 else ("=", "same")
    text = f"{points:+.1f}"
    return Markup('<span class="delta {}">{} {}</span>').format(
        css, arrow, bilingual(text.replace(".", ",") + " điểm %", text + " pp")
    )


def _province_info(province_code: str) -> tuple[str, pl.DataFrame]:
    try:
        wards = province_wards(province_code)
    except Exception:  # reference data unreadable: codes still identify communes
        wards = pl.DataFrame(schema={"ward_code": pl.String, "ward_name": pl.String})
    name = province_code
    if "province_name" in wards.columns and wards.height:
        name = wards.get_column("province_name")[0] or province_code
    return name, wards


def _rules_of(spec: DatasetSpec | None) -> pl.DataFrame | None:
    """The register's rule catalogue, from its spec's pack; None when it has none or it does not load (a broken
    pack must not hide the scores: the rules that fired are then all the report knows of)."""
    if spec is None or spec.rules is None:
        return None
    try:
        return rule_catalogue(spec.rules)
    except Exception:  # any failure of the pack or of the Python checks it names
        return None


def _rule_catalogue(findings: pl.DataFrame, rules: pl.DataFrame | None) -> dict[str, dict[str, str]]:
    """Rule descriptions, severity and unit from the register's rule catalogue; rules only seen in findings get
    their severity and criterion from there. A finding's message is never used (it may quote the value)."""
    catalogue: dict[str, dict[str, str]] = {}
    for row in (rules if rules is not None else pl.DataFrame()).iter_rows(named=True):
        catalogue[row["rule_id"]] = {
            "vi": row["message_vi"] or "",
            "en": row["message_en"] or "",
            "criterion": row["criterion"],
            "severity": row["severity"] or "",
            "scope": row["scope"] or "row",
            "unit": row["unit"] or "records",
        }
    if findings.height:
        seen = findings.group_by("rule_id").agg(
            pl.col("severity").mode().sort().first(),
            pl.col("criterion").mode().sort().first(),
            pl.col("row_uid").is_null().all().alias("dataset_level"),
        )
        for row in seen.iter_rows(named=True):
            entry = catalogue.setdefault(row["rule_id"], {"vi": "", "en": "", "criterion": row["criterion"]})
            if not entry.get("severity"):
                entry["severity"] = row["severity"]
            entry.setdefault("scope", "dataset" if row["dataset_level"] else "row")
    return catalogue


def _wide(scores: pl.DataFrame, level: str) -> pl.DataFrame:
    """One row per key with `<criterion>` share, `<criterion>_band` and overall change columns."""
    rows = scores.filter(pl.col("level") == level)
    if rows.is_empty():
        return pl.DataFrame(schema={"key": pl.String, "records": pl.Int64})
    base = rows.group_by("key").agg(pl.col("records").max())
    for criterion in SCORE_CRITERIA:
        part = rows.filter(pl.col("criterion") == criterion).select(
            "key",
            pl.col("share").alias(criterion),
            pl.col("band").alias(f"{criterion}_band"),
            pl.col("change").alias(f"{criterion}_change"),
        )
        base = base.join(part, on="key", how="left")
    return base


def _ranked_communes(scores: pl.DataFrame, ward_names: pl.DataFrame) -> pl.DataFrame:
    wide = _wide(scores, "commune")
    if wide.is_empty():
        return wide.with_columns(
            pl.lit(None, dtype=pl.String).alias("name"), pl.lit(None, dtype=pl.Int64).alias("rank")
        )
    names = ward_names.select(pl.col("ward_code").alias("key"), pl.col("ward_name").alias("name"))
    return (
        wide.join(names, on="key", how="left")
        .sort(
            # Unresolved addresses are not a commune: always last, whatever their score.
            [pl.col("key") == UNRESOLVED_WARD, "overall", "records", "key"],
            descending=[False, True, True, False],
            nulls_last=True,
        )
        .with_row_index("rank", offset=1)
        .with_columns(pl.col("rank").cast(pl.Int64))
    )


def _nothing_published(view: StoreView) -> ReportData:
    """Only failed runs so far: a page with the run list (so stewards see why) and empty score tables."""
    runs = safe_runs(view.runs)
    codes = runs.get_column("province_code").drop_nulls()
    province_code = str(codes[-1]) if codes.len() else "?"
    province_name, wards = _province_info(province_code) if codes.len() else ("?", pl.DataFrame())
    empty = compare_with_previous(pl.DataFrame(schema=SCORE_SCHEMA), view.history, view.runs)
    ward_names = (
        wards.select("ward_code", "ward_name")
        if "ward_name" in wards.columns
        else pl.DataFrame(schema={"ward_code": pl.String, "ward_name": pl.String})
    )
    return ReportData(
        run_id=None,
        province_code=province_code,
        province_name=province_name,
        as_of=None,
        scores=empty,
        trend=score_trend(pl.DataFrame(schema=SCORE_SCHEMA), view.runs, level=None),
        runs=runs,
        communes=_ranked_communes(empty, ward_names),
        sources=_wide(empty, "source"),
        rules=empty,
        drilldown=pl.DataFrame(schema={"ward_code": pl.String}),
        ward_names=ward_names,
        rule_catalogue={},
        published=False,
        spec=view.spec,
    )


@dataclass(frozen=True)
class ReportData:
    """All tables of one report, computed once and shared by the page and the exports."""

    run_id: str | None
    province_code: str
    province_name: str
    as_of: date | None
    scores: pl.DataFrame  # current run, every level, with previous_share / change
    trend: pl.DataFrame  # published runs' scores (all levels) for this province, oldest first
    runs: pl.DataFrame
    communes: pl.DataFrame  # wide, ranked
    sources: pl.DataFrame  # wide
    rules: pl.DataFrame  # long, rule level
    drilldown: pl.DataFrame
    ward_names: pl.DataFrame
    rule_catalogue: dict[str, dict[str, str]]
    published: bool = True  # False: no run was ever published; the page shows the run list only
    table_counts: dict[str, int] = field(default_factory=dict)  # by counted_tables role
    spec: DatasetSpec | None = None  # the register reported on: its title, unit and rule pack


def _run_field(runs: pl.DataFrame | None, run_id: str | None, column: str) -> Any:
    if runs is None or run_id is None or column not in runs.columns:
        return None
    match = runs.filter(pl.col("run_id") == run_id)
    return match.get_column(column)[0] if match.height else None


def prepare(view: StoreView, targets: Targets) -> ReportData:
    """Scores of the live run (from the history, or computed from the snapshot), changes, trend and drill-down."""
    history = view.history
    run_id = view.run_id
    if run_id is None:  # no live snapshot: report on the latest published scored run, if any
        published = score_trend(history, view.runs, level="province")
        if published.is_empty():
            return _nothing_published(view)
        run_id = published.get_column("run_id")[-1]
    current = history.filter(pl.col("run_id") == run_id)
    province_code = (
        _run_field(view.runs, run_id, "province_code")
        or (current.get_column("province_code")[0] if current.height else None)
        or (
            view.records.get_column("province_code").drop_nulls().mode().sort().first()
            if view.records.height
            else None
        )
    )
    if province_code is None:
        raise ReportError(
            f"{view.store_dir}: cannot tell the province of run {run_id} (no runs row, no scores)"
        )
    province_code = str(province_code)
    province_name, wards = _province_info(province_code)
    # Scores written before rule units existed spread dataset-level rules over records; the live snapshot is
    # at hand, so score it again rather than show "commune has no records" at 100%.
    legacy = current.height > 0 and current.get_column("unit").null_count() == current.height
    pack_rules = _rules_of(view.spec)
    if current.is_empty() or (legacy and run_id == view.run_id):
        # the history lacks this run's scores (or has them in the old form): compute them from the snapshot
        as_of = (
            current.get_column("as_of")[0]
            if current.height
            else _run_field(view.runs, run_id, "as_of") or datetime.now(UTC).date()
        )
        history = history.filter(pl.col("run_id") != run_id)
        current = compute_scores(
            view.records,
            view.findings,
            run_id,
            as_of,
            province_code,
            wards=wards.select("ward_code"),
            targets=targets,
            rules=pack_rules,
        )
        history = pl.concat([history, current], how="vertical_relaxed")
    history = with_units(history)
    as_of = current.get_column("as_of")[0]
    scores = compare_with_previous(current, history, view.runs)
    trend = score_trend(history, view.runs, level=None, province_code=province_code, always=[run_id])
    runs = safe_runs(view.runs)
    ward_names = wards.select("ward_code", "ward_name") if "ward_name" in wards.columns else wards
    drill = (
        commune_rule_counts(view.records, view.findings)
        if view.run_id is not None
        else pl.DataFrame(schema={"ward_code": pl.String})
    )
    catalogue = _rule_catalogue(view.findings, pack_rules)
    rules = scores.filter(pl.col("level") == "rule").sort("share", "key", nulls_last=True)
    return ReportData(
        run_id=run_id,
        province_code=province_code,
        province_name=province_name,
        as_of=as_of,
        scores=scores,
        trend=trend,
        runs=runs,
        communes=_ranked_communes(scores, ward_names),
        # Worst sources first: a province has hundreds of old-commune exports, mostly at 100%.
        sources=_wide(scores, "source").sort(
            "overall", "records", "key", descending=[False, True, False], nulls_last=True
        ),
        rules=rules,
        drilldown=drill,
        ward_names=ward_names,
        rule_catalogue=catalogue,
        table_counts=view.table_counts,
        spec=view.spec,
    )


# --------------------------------------------------------------------------------------------- rendering
def scorecard_environment(templates: Path, labels: Callable[[str], Markup]) -> Environment:
    """The Jinja environment of a bilingual scorecard page (the province's and the national one): autoescaped,
    with `t` (the page's labels), `bi`, the criteria, and the pct / delta / number filters."""
    environment = Environment(
        loader=FileSystemLoader(str(templates)),
        autoescape=select_autoescape(["html", "j2"], default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.globals.update(t=labels, bi=bilingual, criteria=SCORE_CRITERIA)
    environment.filters.update(pct=pct, delta=delta, number=number)
    return environment


def _environment(spec: DatasetSpec | None) -> Environment:
    return scorecard_environment(TEMPLATES, labeller(spec))


def _register(spec: DatasetSpec | None) -> dict[str, str]:
    """The register's names for the page and the downloads."""
    spec = spec or register_spec(reader.DEFAULT_DATASET)
    return {
        "name": spec.name,
        "title_vi": spec.title_vi,
        "title_en": spec.title_en,
        "unit_vi": spec.unit.vi,
        "unit_en": spec.unit.en,
    }


def _page_context(data: ReportData, targets: Targets, data_docs_href: str | None) -> dict[str, Any]:
    province_rows = {
        r["criterion"]: r for r in data.scores.filter(pl.col("level") == "province").iter_rows(named=True)
    }
    cards = []
    for criterion in SCORE_CRITERIA:
        row = province_rows.get(criterion, {})
        thresholds = targets.for_criterion(criterion)
        cards.append(
            {
                "criterion": criterion,
                "share": row.get("share"),
                "band": row.get("band", "n/a"),
                "records": row.get("records"),
                "passing": row.get("passing"),
                "change": row.get("change"),
                "bar": Markup(
                    share_bar(row.get("share"), row.get("band", "n/a"), thresholds, f"card-{criterion}-title")
                ),
            }
        )
    coverage = (
        data.scores.filter(pl.col("level") == "coverage").row(0, named=True)
        if data.scores.filter(pl.col("level") == "coverage").height
        else None
    )
    outcomes = data.scores.filter(pl.col("level") == "outcome").select("key", "passing", "records", "share")
    names = dict(data.ward_names.iter_rows()) if data.ward_names.height else {}
    missing = (
        data.communes.filter(pl.col("records") == 0).sort("key").select("key", "name").to_dicts()
        if data.communes.height
        else []
    )
    province_trend = data.trend.filter(pl.col("level") == "province")
    charts = []
    for criterion in SCORE_CRITERIA:
        series = province_trend.filter(pl.col("criterion") == criterion).sort("run_order")
        points = [(str(r["as_of"]), r["share"], r["band"] or "n/a") for r in series.iter_rows(named=True)]
        charts.append(
            {
                "criterion": criterion,
                "svg": Markup(
                    trend_chart(points, targets.for_criterion(criterion), f"trend-{criterion}-title")
                ),
                "runs": len(points),
            }
        )
    drill_groups: dict[str, list[dict[str, Any]]] = {}
    drilldown = data.drilldown
    if "examples" in drilldown.columns:  # joined here, once, rather than looped over in the template
        drilldown = drilldown.with_columns(
            pl.col("examples").list.join(" ; ").alias("examples_text"),
            pl.col("examples").list.len().alias("example_count"),
        ).drop("examples")
    for row in drilldown.iter_rows(named=True):
        drill_groups.setdefault(row["ward_code"], []).append(row)
    communes = data.communes.to_dicts()
    for commune in communes:
        commune["details"] = drill_groups.get(commune["key"], [])
    runs = data.runs.to_dicts()
    for run in runs:
        run["is_current"] = run.get("run_id") == data.run_id
    rules = []
    for row in data.rules.iter_rows(named=True):
        info = data.rule_catalogue.get(row["key"], {})
        rules.append(
            {
                **row,
                "vi": info.get("vi", ""),
                "en": info.get("en", ""),
                "severity": info.get("severity", ""),
                "failing": (row["records"] or 0) - (row["passing"] or 0),
            }
        )
    # Errors count against the criterion scores, warnings do not: two tables, so a red warning rule (e.g.
    # duplicates, merged into golden records) is not read as contradicting a 100% criterion.
    error_rules = [r for r in rules if r["severity"] != "warning"]
    warning_rules = [r for r in rules if r["severity"] == "warning"]
    counts = data.table_counts
    published_runs = data.trend.select("run_id").unique().height
    return {
        "data": data,
        "names": names,
        "cards": cards,
        "coverage": coverage,
        "outcomes": outcomes.to_dicts(),
        "missing": missing,
        "charts": charts,
        "published_runs": published_runs,
        "communes": communes,
        "sources": data.sources.to_dicts(),
        "sources_shown": SOURCES_SHOWN,
        "rules": rules,
        "error_rules": error_rules,
        "warning_rules": warning_rules,
        "counts": counts,
        "rule_catalogue": data.rule_catalogue,
        "runs": runs,
        "has_failed_runs": any(r.get("status") != PUBLISHED for r in runs),
        "targets": targets,
        "data_docs_href": data_docs_href,
        "generated": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "labels_json": Markup(_labels_json()),
        "unresolved": UNRESOLVED_WARD,
        "criteria4": CRITERIA,
        "register": _register(data.spec),
        # The tab's title in the page's default language: the register, then where.
        "page_title": f"{_register(data.spec)['title_vi']} — {data.province_name} · {label('scorecard')[0]}",
    }


def _labels_json() -> str:
    import json

    # The script only needs the language button's own labels; everything else is rendered in both languages.
    keys = ("switch_language", "switch_language_hint")
    payload = {key: {"vi": LABELS[key][0], "en": LABELS[key][1]} for key in keys}
    return json.dumps(payload, ensure_ascii=False).replace("<", "\\u003c")


def _rules_export(data: ReportData) -> pl.DataFrame:
    """The rule table as the page shows it: each rule in its own unit (`checked`, `failing`), whether it counts
    against the criterion scores (errors do, warnings do not), and its bilingual description."""
    info = pl.DataFrame(
        [
            (
                rule_id,
                entry.get("severity") or None,
                entry.get("scope") or None,
                entry.get("vi"),
                entry.get("en"),
            )
            for rule_id, entry in data.rule_catalogue.items()
        ],
        schema={
            "rule_id": pl.String,
            "severity": pl.String,
            "scope": pl.String,
            "message_vi": pl.String,
            "message_en": pl.String,
        },
        orient="row",
    )
    return (
        data.rules.rename({"key": "rule_id"})
        .join(info, on="rule_id", how="left")
        .select(
            "rule_id",
            "criterion",
            "severity",
            (pl.col("severity") != "warning").fill_null(True).alias("counts_in_score"),
            pl.col("scope").fill_null(
                pl.when(pl.col("unit") == "records").then(pl.lit("row")).otherwise(pl.lit("dataset"))
            ),
            "unit",
            pl.col("records").alias("checked"),
            "passing",
            (pl.col("records") - pl.col("passing")).alias("failing"),
            "share",
            "band",
            "previous_share",
            "change",
            "message_vi",
            "message_en",
        )
    )


def _export_tables(data: ReportData) -> ExportTables:
    names = data.ward_names.select(pl.col("ward_code").alias("key"), pl.col("ward_name").alias("name"))
    long_cols = ["criterion", "unit", "records", "passing", "share", "band", "previous_share", "change"]
    province = data.scores.filter(pl.col("level").is_in(["province", "coverage", "outcome"])).select(
        "level", "key", *long_cols
    )
    share_cols = [c for c in SCORE_CRITERIA if c in data.communes.columns]
    communes = data.communes.select(
        *[c for c in ("rank", "key", "name", "records") if c in data.communes.columns],
        *share_cols,
        *[f"{c}_change" for c in ("overall",) if f"{c}_change" in data.communes.columns],
    ).rename({"key": "ward_code", "name": "ward_name"}, strict=False)
    sources = data.sources.select(
        *[c for c in ("key", "records") if c in data.sources.columns],
        *[c for c in SCORE_CRITERIA if c in data.sources.columns],
    ).rename({"key": "source_id"}, strict=False)
    rules = _rules_export(data)
    trend = data.trend.filter(pl.col("level").is_in(["province", "coverage"])).select(
        "run_id", "as_of", "level", "criterion", "unit", "records", "passing", "share", "band"
    )
    scores = data.scores.join(names, on="key", how="left").drop("run_order", strict=False)
    return ExportTables(province, communes, sources, rules, trend, data.runs, scores)


def build_report(
    store_dir: Path, output_dir: Path, *, targets: Targets | Mapping[str, Any] | str | Path | None = None
) -> Path:
    """Write the scorecard site to `output_dir` (index.html + assets/ + scores.xlsx/.json/.csv); returns index.html.

    Works from file:// with no network. Raises ReportError naming the store path when there is nothing to show.
    """
    store_dir, output_dir = Path(store_dir), Path(output_dir)
    targets = load_targets(targets)
    view = read_store(store_dir)
    data = _visible_text(prepare(view, targets))
    output_dir.mkdir(parents=True, exist_ok=True)
    assets_out = output_dir / "assets"
    assets_out.mkdir(exist_ok=True)
    for asset in ASSETS.iterdir():
        if asset.is_file():
            write_atomically(assets_out / asset.name, lambda staging, a=asset: shutil.copyfile(a, staging))
    data_docs_href = None
    if view.data_docs is not None:
        try:
            data_docs_href = Path(_relpath(view.data_docs, output_dir)).as_posix()
        except ValueError:  # another drive on Windows: an absolute file URI still works locally
            data_docs_href = view.data_docs.resolve().as_uri()
    tables = _export_tables(data)
    labels = _labels(data.spec)
    register = _register(data.spec)
    meta = {
        "title": label("title", labels)[0],
        "dataset": register["name"],
        "register": " / ".join((register["title_vi"], register["title_en"])),
        "unit": " / ".join((register["unit_vi"], register["unit_en"])),
        "golden_records": data.table_counts.get("golden"),
        "province_code": data.province_code,
        "province_label": f"{data.province_name} ({data.province_code})",
        "run_id": data.run_id,
        "as_of": data.as_of,
        "generated_at": datetime.now(UTC).replace(microsecond=0),
        "scores_count": " / ".join(label("read_errors_only", labels)),
        "units": " / ".join(label("read_dataset_rules", labels)),
        "duplicates": " / ".join(label("read_duplicates", labels)),
    }
    write_workbook(output_dir / "scores.xlsx", tables, meta, targets)
    write_json(output_dir / "scores.json", tables, meta)
    write_csvs(output_dir, tables)
    html = _environment(data.spec).get_template("index.html.j2").render(**_page_context(data, targets, data_docs_href))
    index = output_dir / "index.html"
    write_text_atomically(index, html)
    return index


def _visible_text(data: ReportData) -> ReportData:
    """Bidi overrides, zero-width and control characters (a file name's, as a source id) shown as `\u202e`
    escapes in every table of the page and the downloads, so no name shows reversed or partly hidden."""
    frames = {
        name: visible_frame(value)
        for name, value in vars(data).items()
        if isinstance(value, pl.DataFrame) and name != "ward_names"
    }
    return replace(data, **frames)


def _relpath(target: Path, start: Path) -> str:
    import os

    return os.path.relpath(target.resolve(), start.resolve())

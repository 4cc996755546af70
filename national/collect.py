"""Read every province store under one folder, read-only, into one table of provinces and their scores.

Each store is read at one moment: `CURRENT` is read once and every later read goes to that snapshot's own folder
(snapshots are immutable; a publish running meanwhile writes a new folder and switches `CURRENT` without touching
this one), and the history's scores are taken for that run id only. Nothing here writes to a store.

A store's province comes from its data, not its folder name: the run row (`runs.province_code`) and the
snapshot manifest must agree with each other and with the province code most of the published records resolve
to. A store that fails this guard is refused, with the reason listed on the national page, never rolled up.
Only codes, counts, shares and dates are read: no record column that could carry a name, a number or a phone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from sachsong.reports.scores import SCORE_CRITERIA, Targets, band_expr
from sachsong.store.history import read_runs, read_score_history
from sachsong.store.layout import (
    CURRENT_POINTER,
    HISTORY_DATABASE,
    SNAPSHOT_PARQUET_DIR,
    SNAPSHOTS_DIR,
    StoreError,
)
from sachsong.store.reader import current_run_id, read_manifest

RECORDS_TABLE = "residents_records"
GOLDEN_TABLE = "residents_golden"
PUBLISHED = "published"

# Why a province has no scores on the national page (or has them with a warning).
STATUS_OK = "ok"
STATUS_FAILED = "failed"  # the last run failed; the live snapshot (if any) is older
STATUS_STALE = "stale"  # the live snapshot's as_of is more than `stale_days` behind the newest province
STATUS_NO_STORE = "no_store"
STATUS_NOTHING = "nothing_published"
STATUS_REFUSED = "refused"  # guard: the store's recorded province disagrees with its data, or is unknown
STATUS_UNREADABLE = "unreadable"
STATUS_DUPLICATE = "duplicate"  # a second store for a province already taken by a newer one
STATUSES = (
    STATUS_OK,
    STATUS_STALE,
    STATUS_FAILED,
    STATUS_NOTHING,
    STATUS_REFUSED,
    STATUS_DUPLICATE,
    STATUS_UNREADABLE,
    STATUS_NO_STORE,
)
# Statuses whose scores are shown and ranked (with their label); the others have none.
SCORED_STATUSES = (STATUS_OK, STATUS_STALE, STATUS_FAILED)

PROVINCE_SCHEMA: dict[str, pl.DataType] = {
    "province_code": pl.String(),
    "province_name": pl.String(),
    "status": pl.String(),
    "reason": pl.String(),
    "store": pl.String(),  # the store folder's path as given (relative links are computed from it)
    "run_id": pl.String(),
    "as_of": pl.Date(),
    "last_run_status": pl.String(),
    "last_run_as_of": pl.Date(),
    "records": pl.Int64(),
    "persons": pl.Int64(),
    "quarantined": pl.Int64(),
    "communes_covered": pl.Int64(),
    "communes_total": pl.Int64(),
    "received_clean": pl.Float64(),  # as received: share of records that arrived with nothing to repair or flag
}


@dataclass
class StoreRead:
    """One store folder as read (or refused)."""

    path: Path
    province_code: str | None
    status: str
    reason: str = ""
    run_id: str | None = None
    as_of: date | None = None
    last_run_status: str | None = None
    last_run_as_of: date | None = None
    counts: dict[str, int] = field(default_factory=dict)
    scores: pl.DataFrame | None = None  # this run's score rows (province, coverage, outcome levels)
    trend: pl.DataFrame | None = None  # published runs' province-level scores
    golden: Path | None = None  # the live snapshot's golden Parquet file

    def row(self) -> dict[str, Any]:
        return {
            "province_code": self.province_code,
            "status": self.status,
            "reason": self.reason or None,
            "store": str(self.path),
            "run_id": self.run_id,
            "as_of": self.as_of,
            "last_run_status": self.last_run_status,
            "last_run_as_of": self.last_run_as_of,
        }


def provinces_reference() -> pl.DataFrame:
    """The 34 provinces (post-2025): `province_code, province_name`, from the reference data."""
    from sachsong.standardize.reference import load_reference

    return (
        load_reference()
        .new_wards.group_by("province_code")
        .agg(pl.col("province_name").first(), pl.len().alias("communes_total"))
        .with_columns(pl.col("communes_total").cast(pl.Int64))
        .sort("province_code")
    )


def find_stores(stores_dir: Path) -> list[Path]:
    """Store folders directly under `stores_dir` (or `stores_dir` itself when it is one store)."""

    def is_store(path: Path) -> bool:
        return any((path / name).exists() for name in (CURRENT_POINTER, HISTORY_DATABASE, SNAPSHOTS_DIR))

    if is_store(stores_dir):
        return [stores_dir]
    return sorted(p for p in stores_dir.iterdir() if p.is_dir() and is_store(p))


def _records_majority(parquet: Path) -> tuple[str | None, int, int]:
    """(most frequent province code of the published records, its count, records with a code)."""
    with duckdb.connect() as connection:
        rows = connection.execute(
            "SELECT province_code, count(*) AS n FROM read_parquet(?) WHERE province_code IS NOT NULL "
            "GROUP BY ALL ORDER BY n DESC, province_code LIMIT 2",
            [str(parquet)],
        ).fetchall()
        total = connection.execute(
            "SELECT count(province_code) FROM read_parquet(?)", [str(parquet)]
        ).fetchall()[0][0]
    if not rows:
        return None, 0, 0
    return str(rows[0][0]), int(rows[0][1]), int(total)


def _as_date(value: Any) -> date | None:
    if value is None:
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def read_store(path: Path, known_codes: set[str]) -> StoreRead:
    """Read one store (never writing to it); problems become a status and a reason, not an exception."""
    try:
        return _read_store(path, known_codes)
    except (StoreError, duckdb.Error, pl.exceptions.PolarsError, OSError, ValueError) as error:
        # The error names files and kinds of problems; store files hold no personal values in their paths.
        return StoreRead(path, None, STATUS_UNREADABLE, f"{type(error).__name__}: {error}")


def _read_store(path: Path, known_codes: set[str]) -> StoreRead:
    runs = read_runs(path)
    run_id = current_run_id(path)  # read once: every later read goes to this snapshot
    last = runs.sort("started_at", nulls_last=False).tail(1) if runs.height else None
    last_status = last.get_column("status")[0] if last is not None else None
    last_as_of = _as_date(last.get_column("as_of")[0]) if last is not None else None
    recorded_codes = {str(c) for c in runs.get_column("province_code").drop_nulls().to_list()}
    if run_id is None:
        code = (
            str(last.get_column("province_code")[0])
            if last is not None and last.get_column("province_code")[0] is not None
            else None
        )
        status = STATUS_NOTHING if runs.height or (path / HISTORY_DATABASE).exists() else STATUS_UNREADABLE
        reason = (
            f"{path}: no snapshot published yet (last run: {last_status})"
            if runs.height
            else f"{path}: no {CURRENT_POINTER} and no runs"
        )
        return StoreRead(path, code, status, reason, None, None, last_status, last_as_of)
    snapshot = path / SNAPSHOTS_DIR / run_id
    manifest = read_manifest(snapshot)
    run_row = runs.filter(pl.col("run_id") == run_id)
    run_code = run_row.get_column("province_code")[0] if run_row.height else None
    manifest_code = manifest.get("province_code")
    as_of = _as_date(manifest.get("as_of")) or (
        _as_date(run_row.get_column("as_of")[0]) if run_row.height else None
    )
    result = StoreRead(path, None, STATUS_OK, "", run_id, as_of, last_status, last_as_of)
    result.counts = {k: int(v) for k, v in (manifest.get("row_counts") or {}).items()}
    claimed = {str(c) for c in (run_code, manifest_code) if c is not None}
    if len(claimed) != 1:
        result.status = STATUS_REFUSED
        result.reason = (
            f"{path}: run {run_id} records province {run_code!r} but its manifest says {manifest_code!r}"
            if claimed
            else f"{path}: run {run_id} records no province code (runs.province_code, manifest)"
        )
        return result
    code = claimed.pop()
    result.province_code = code
    if code not in known_codes:
        result.status = STATUS_REFUSED
        result.reason = f"{path}: province code {code!r} is not one of the 34 provinces"
        return result
    parquet_dir = snapshot / SNAPSHOT_PARQUET_DIR
    records = parquet_dir / f"{RECORDS_TABLE}.parquet"
    golden = parquet_dir / f"{GOLDEN_TABLE}.parquet"
    for table in (records, golden):
        if not table.is_file():
            result.status = STATUS_UNREADABLE
            result.reason = f"{path}: snapshot {run_id} has no {table.name}"
            return result
    majority, majority_n, coded = _records_majority(records)
    if majority is None:
        result.status = STATUS_REFUSED
        result.reason = (
            f"{path}: recorded province {code}, but no published record of {RECORDS_TABLE} "
            "resolved to a province, so the label cannot be checked"
        )
        return result
    if majority != code:
        result.status = STATUS_REFUSED
        result.reason = (
            f"{path}: recorded province {code}, but {majority_n} of {coded} published records "
            f"({RECORDS_TABLE}.province_code) are in province {majority}"
        )
        return result
    if len(recorded_codes - {code}) > 0:
        # Earlier runs under another code: the trend would mix provinces; the scores of this run still stand.
        result.reason = (
            f"{path}: earlier runs recorded other province code(s) {sorted(recorded_codes - {code})}"
        )
    result.golden = golden
    history = read_score_history(path)
    if history.height:
        history = history.filter(pl.col("province_code").cast(pl.String) == code)
        result.scores = history.filter(
            (pl.col("run_id") == run_id) & pl.col("level").is_in(["province", "coverage", "outcome"])
        )
        published = runs.filter(pl.col("status") == PUBLISHED).get_column("run_id")
        result.trend = history.filter(
            (pl.col("level") == "province") & pl.col("run_id").is_in(published.implode())
        ).select("run_id", "as_of", "criterion", "share")
    if result.scores is None or result.scores.filter(pl.col("level") == "province").is_empty():
        result.scores = _scores_from_snapshot(path)
    if last_status is not None and last_status != PUBLISHED:
        result.status = STATUS_FAILED
        result.reason = (
            f"{path}: the last run ({last_as_of}) ended '{last_status}'; the scores shown are "
            f"of the live snapshot {run_id} (as of {as_of})"
        )
    return result


def _scores_from_snapshot(path: Path) -> pl.DataFrame:
    """Scores of the live snapshot when the history lacks them: the province report's own computation."""
    from sachsong.reports.site import prepare
    from sachsong.reports.site import read_store as read_report_store

    data = prepare(read_report_store(path), Targets())
    return data.scores.filter(pl.col("level").is_in(["province", "coverage", "outcome"]))


def mark_stale_and_duplicates(reads: list[StoreRead], stale_days: int, reference: date | None) -> date | None:
    """Label stores whose as_of is more than `stale_days` behind `reference` (default: the newest as_of) and
    refuse all but the newest store of a province claimed twice. Returns the reference date used."""
    scored = [r for r in reads if r.status in SCORED_STATUSES and r.as_of is not None]
    if reference is None and scored:
        reference = max(r.as_of for r in scored if r.as_of is not None)
    by_code: dict[str, list[StoreRead]] = {}
    for read in scored:
        by_code.setdefault(read.province_code or "", []).append(read)
    for code, group in by_code.items():
        group.sort(key=lambda r: (r.as_of or date.min, r.run_id or ""), reverse=True)
        for other in group[1:]:
            other.status = STATUS_DUPLICATE
            other.reason = (
                f"{other.path}: province {code} also has the newer store {group[0].path} "
                f"(as of {group[0].as_of}); this one (as of {other.as_of}) is not rolled up"
            )
    for read in reads:
        if read.status == STATUS_OK and reference is not None and read.as_of is not None:
            behind = (reference - read.as_of).days
            if behind > stale_days:
                read.status = STATUS_STALE
                read.reason = (
                    f"{read.path}: scores as of {read.as_of}, {behind} days behind {reference} "
                    f"(threshold {stale_days} days)"
                )
    return reference


def province_table(reads: list[StoreRead], reference: pl.DataFrame, targets: Targets) -> pl.DataFrame:
    """One row per province of the 34 (plus refused/unknown stores): status, counts and one share + band +
    rank column per criterion. Ranks are among scored provinces, best first (ties share a rank)."""
    rows = []
    score_rows = []
    taken: set[str] = set()
    for read in reads:
        row = read.row()
        if read.status in SCORED_STATUSES and read.province_code:
            taken.add(read.province_code)
            row["records"] = read.counts.get(RECORDS_TABLE)
            row["persons"] = read.counts.get(GOLDEN_TABLE)
            row["quarantined"] = read.counts.get("quarantine")
            scores = read.scores if read.scores is not None else pl.DataFrame()
            if scores.height:
                coverage = scores.filter(pl.col("level") == "coverage")
                if coverage.height:
                    row["communes_covered"] = coverage.get_column("passing")[0]
                clean = scores.filter((pl.col("level") == "outcome") & (pl.col("key") == "clean"))
                if clean.height:
                    row["received_clean"] = clean.get_column("share")[0]
                score_rows.append(
                    scores.filter(pl.col("level") == "province").select(
                        pl.lit(read.province_code).alias("province_code"),
                        pl.col("criterion").cast(pl.String),
                        pl.col("share").cast(pl.Float64),
                        pl.col("records").cast(pl.Int64).alias("scored_records"),
                    )
                )
        rows.append(row)
    for code in reference.get_column("province_code").to_list():
        if code not in taken and not any(r.province_code == code for r in reads):
            rows.append({"province_code": code, "status": STATUS_NO_STORE, "reason": None})
    schema = {k: v for k, v in PROVINCE_SCHEMA.items() if k not in ("province_name", "communes_total")}
    frame = pl.DataFrame(rows, schema=schema, orient="row") if rows else pl.DataFrame(schema=schema)
    frame = frame.join(reference, on="province_code", how="left")
    # No store but the province has a store listed under another status: still say which province lacks scores.
    wide = frame
    long = (
        pl.concat(score_rows)
        if score_rows
        else pl.DataFrame(
            schema={
                "province_code": pl.String,
                "criterion": pl.String,
                "share": pl.Float64,
                "scored_records": pl.Int64,
            }
        )
    )
    scored_codes = frame.filter(pl.col("status").is_in(SCORED_STATUSES)).get_column("province_code")
    long = long.filter(pl.col("province_code").is_in(scored_codes.implode()))
    for criterion in SCORE_CRITERIA:
        part = (
            long.filter(pl.col("criterion") == criterion)
            .unique("province_code", keep="first")
            .select(
                "province_code",
                pl.col("share").alias(criterion),
                band_expr(pl.col("share"), pl.lit(criterion), targets).alias(f"{criterion}_band"),
                pl.col("share").rank("min", descending=True).cast(pl.Int64).alias(f"{criterion}_rank"),
            )
        )
        wide = wide.join(part, on="province_code", how="left")
    for criterion in SCORE_CRITERIA:
        wide = wide.with_columns(pl.col(f"{criterion}_band").fill_null("n/a"))
    order = {status: index for index, status in enumerate(STATUSES)}
    return (
        wide.with_columns(pl.col("status").replace_strict(order, default=len(order)).alias("_status_order"))
        .sort(["overall_rank", "_status_order", "province_code"], nulls_last=True)
        .drop("_status_order")
    )


def trend_table(reads: list[StoreRead]) -> pl.DataFrame:
    """Published runs' province-level scores of every scored province (oldest first)."""
    parts = [
        r.trend.with_columns(pl.lit(r.province_code).alias("province_code"))
        for r in reads
        if r.status in SCORED_STATUSES and r.trend is not None and r.trend.height
    ]
    schema = {
        "province_code": pl.String,
        "run_id": pl.String,
        "as_of": pl.Date,
        "criterion": pl.String,
        "share": pl.Float64,
    }
    if not parts:
        return pl.DataFrame(schema=schema)
    return pl.concat([p.select(list(schema)).cast(schema) for p in parts]).sort(  # type: ignore[arg-type]
        "province_code", "as_of", "run_id"
    )

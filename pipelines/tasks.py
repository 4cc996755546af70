"""Prefect tasks: each wraps one call into a room and logs what it did in row counts (never names, phones or IDs).

Caching: every task's results are persisted under `<store>/.prefect-results` and keyed by the task's source plus
a *fingerprint* of its inputs — the SHA-256 of the export files and of the rooms' code and rule packs — instead of
the frames themselves (hashing millions of rows to build a key would cost more than some steps). A rerun after a
failure therefore finds ingest, standardize, checks and matching done and resumes at the step that failed; a
changed file or a changed rule re-runs only what depends on it. Publish, history and report are never cached.

Retries: I/O steps (ingest, publish, history, report) retry twice, and only on I/O errors — a room's ValueError
about bad data would fail the same way again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
from prefect import get_run_logger, task
from prefect.cache_policies import INPUTS, NO_CACHE, TASK_SOURCE

RESULTS_DIR = ".prefect-results"
CACHE_EXPIRATION = timedelta(days=7)
# Room packages whose code and data (rule packs, YAML registries) decide what a cached result contains.
CODE_ROOMS = ("sachsong", "sachsong.sources", "sachsong.standardize", "sachsong.rules", "sachsong.matching")


# ------------------------------------------------------------------------------------------- fingerprints
def file_fingerprint(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def code_fingerprint() -> str:
    """SHA-256 over the rooms' Python files and rule/registry YAML: a code change invalidates cached results."""
    import importlib

    digest = hashlib.sha256()
    for module_name in CODE_ROOMS:
        module = importlib.import_module(module_name)
        root = Path(module.__file__).parent
        for path in sorted(root.rglob("*")):
            if path.suffix in (".py", ".yaml", ".yml", ".json") and "__pycache__" not in path.parts:
                digest.update(f"{module_name}/{path.relative_to(root).as_posix()}\0".encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()


def combine_fingerprints(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode("utf-8")).hexdigest()


def _is_io_error(task: Any, task_run: Any, state: Any) -> bool:
    try:
        state.result()
    except (OSError, duckdb.IOException):
        return True
    except Exception:
        return False
    return False


# ------------------------------------------------------------------------------------------ result shapes
# Tasks return these plain containers (frames and counts), not the rooms' result objects, so persisted results
# stay picklable and independent of the rooms' internals.
@dataclass
class Ingested:
    table: pl.DataFrame  # canonical raw rows + lineage (source_file, source_row)
    rejects: pl.DataFrame  # row rejects (source_row set) and whole-file rejects (source_row null)
    counts: pl.DataFrame  # one row per file: source_file, status, rows_in, rows_out, rows_rejected, ...
    file_errors: list[str] = field(default_factory=list)


@dataclass
class CheckTables:
    findings: pl.DataFrame
    passed: pl.DataFrame
    quarantine: pl.DataFrame


@dataclass
class MatchTables:
    clusters: pl.DataFrame
    golden: pl.DataFrame
    review: pl.DataFrame


@dataclass
class Combined:
    standardized: pl.DataFrame  # every standardized record, row_uid renumbered table-wide
    exports: pl.DataFrame  # row_uid → export (which file a record came from), for the conservation check
    rejects: pl.DataFrame
    rows_in: dict[str, int]  # per source file, from ingest's accounting
    rows_rejected: dict[str, int]  # per source file: rows rejected one by one


# ------------------------------------------------------------------------------------------------- ingest
def ingest_sources(root: Path) -> Ingested:
    """Ingest every export under `root` with the sources room; refuse an unbalanced result."""
    from sachsong.sources.ingest import ingest_directory

    result = ingest_directory(root)
    if not result.balanced():
        raise ValueError(
            f"ingest of {root} is not balanced (rows in != rows out + rejected):\n{result.describe()}"
        )
    return Ingested(result.table, result.rejects, result.counts, list(result.file_errors()))


@task(
    name="ingest",
    retries=2,
    retry_delay_seconds=2,
    retry_condition_fn=_is_io_error,
    persist_result=True,
    cache_policy=TASK_SOURCE + INPUTS,
    cache_expiration=CACHE_EXPIRATION,
)
def ingest_task(root: str, fingerprint: str) -> Ingested:
    ingested = ingest_sources(Path(root))
    logger = get_run_logger()
    statuses = ingested.counts.group_by("status").len().sort("status").rows()
    logger.info(
        "ingest: %d files (%s), %d rows in, %d read, %d rows rejected",
        ingested.counts.height,
        ", ".join(f"{status}={n}" for status, n in statuses),
        int(ingested.counts.get_column("rows_in").sum() or 0),
        ingested.table.height,
        int(ingested.counts.get_column("rows_rejected").sum() or 0),
    )
    for error in ingested.file_errors:
        logger.warning("ingest: file rejected whole: %s", error)
    return ingested


# -------------------------------------------------------------------------------------------- standardize
@task(
    name="standardize",
    task_run_name="standardize {export}",
    persist_result=True,
    cache_policy=TASK_SOURCE + (INPUTS - "raw"),
    cache_expiration=CACHE_EXPIRATION,
)
def standardize_task(raw: pl.DataFrame, export: str, fingerprint: str) -> pl.DataFrame:
    from sachsong.standardize.residents import standardize_residents

    standardized = standardize_residents(raw)
    if standardized.height != raw.height:
        raise ValueError(
            f"standardize {export}: {raw.height} rows in but {standardized.height} out; "
            "standardization must keep every row"
        )
    statuses = (
        standardized.get_column("address_status").value_counts().sort("address_status").rows()
        if "address_status" in standardized.columns
        else []
    )
    get_run_logger().info(
        "standardize %s: %d rows; addresses %s",
        export,
        standardized.height,
        ", ".join(f"{status}={count}" for status, count in statuses) or "n/a",
    )
    return standardized


# ---------------------------------------------------------------------------------------------- combine
def combine_exports(
    ingested: Ingested, exports: Sequence[str], standardized: Sequence[pl.DataFrame]
) -> Combined:
    """Stack the per-export standardized tables in export order and renumber `row_uid` table-wide."""
    heights = [frame.height for frame in standardized]
    mapping = (
        pl.DataFrame(
            {"export": list(exports), "rows": heights}, schema={"export": pl.String, "rows": pl.Int64}
        )
        .filter(pl.col("rows") > 0)
        .select(pl.col("export").repeat_by("rows").explode())
        .with_row_index("row_uid")
        .with_columns(pl.col("row_uid").cast(pl.Int64))
    )
    frames = [frame for frame in standardized if frame.height]
    if frames:
        stacked = pl.concat(frames, how="diagonal_relaxed")
    else:
        from sachsong.standardize.residents import standardize_residents

        stacked = standardize_residents(ingested.table.clear())
    stacked = stacked.with_columns(pl.int_range(0, pl.len(), dtype=pl.Int64).alias("row_uid"))
    counts = ingested.counts.select("source_file", "rows_in", "rows_rejected").rows()
    return Combined(
        standardized=stacked,
        exports=mapping,
        rejects=ingested.rejects,
        rows_in={file: int(rows_in or 0) for file, rows_in, _ in counts},
        rows_rejected={file: int(rejected or 0) for file, _, rejected in counts},
    )


@task(
    name="combine",
    persist_result=True,
    cache_policy=TASK_SOURCE + (INPUTS - "ingested" - "standardized"),
    cache_expiration=CACHE_EXPIRATION,
)
def combine_task(
    ingested: Ingested, exports: list[str], standardized: list[pl.DataFrame], fingerprint: str
) -> Combined:
    combined = combine_exports(ingested, exports, standardized)
    get_run_logger().info(
        "combine: %d exports, %d rows in, %d standardized, %d rejected",
        len(exports),
        sum(combined.rows_in.values()),
        combined.standardized.height,
        sum(combined.rows_rejected.values()),
    )
    return combined


# ---------------------------------------------------------------------------------------------- checks
@task(
    name="checks",
    task_run_name="checks ({stage})",
    persist_result=True,
    cache_policy=TASK_SOURCE + (INPUTS - "standardized" - "clusters"),
    cache_expiration=CACHE_EXPIRATION,
)
def check_task(
    standardized: pl.DataFrame,
    as_of: date,
    province_code: str,
    stage: str,
    fingerprint: str,
    clusters: pl.DataFrame | None = None,
) -> CheckTables:
    from sachsong.rules.engine import check_standardized

    result = check_standardized(standardized, as_of, clusters=clusters, province_code=province_code)
    tables = CheckTables(result.findings, result.passed, result.quarantine)
    by_criterion = (
        tables.findings.group_by("criterion", "severity").len().sort("criterion", "severity").rows()
        if tables.findings.height
        else []
    )
    get_run_logger().info(
        "checks (%s): %d records, %d passed, %d quarantined, %d findings [%s]",
        stage,
        standardized.height,
        tables.passed.height,
        tables.quarantine.height,
        tables.findings.height,
        ", ".join(f"{c}/{s}={n}" for c, s, n in by_criterion),
    )
    return tables


# --------------------------------------------------------------------------------------------- matching
@task(
    name="matching",
    persist_result=True,
    cache_policy=TASK_SOURCE + (INPUTS - "records"),
    cache_expiration=CACHE_EXPIRATION,
)
def match_task(records: pl.DataFrame, fingerprint: str) -> MatchTables:
    from sachsong.matching.dedupe import dedupe_standardized

    result = dedupe_standardized(records)
    tables = MatchTables(result.clusters, result.golden, result.review)
    merged = (
        tables.clusters.filter(pl.col("cluster_size") > 1).height
        if "cluster_size" in tables.clusters.columns
        else 0
    )
    get_run_logger().info(
        "matching: %d records → %d golden records (%d records in multi-record clusters), %d pairs to review",
        records.height,
        tables.golden.height,
        merged,
        tables.review.height,
    )
    return tables


# ------------------------------------------------------------------------------------------------ scores
@task(name="scores", cache_policy=NO_CACHE)
def score_task(
    records: pl.DataFrame, findings: pl.DataFrame, run_id: str, as_of: date, province_code: str
) -> pl.DataFrame:
    from sachsong.reports.scores import compute_scores

    scores = compute_scores(records, findings, run_id, as_of, province_code)
    get_run_logger().info("scores: %d score rows for %d records", scores.height, records.height)
    return scores


# ---------------------------------------------------------------------------------------------- publish
@task(
    name="publish", retries=2, retry_delay_seconds=2, retry_condition_fn=_is_io_error, cache_policy=NO_CACHE
)
def publish_task(store_dir: str, tables: dict[str, pl.DataFrame], run: dict[str, Any], gate: Any) -> Any:
    from sachsong.store.publish import publish_snapshot

    result = publish_snapshot(Path(store_dir), tables, run, gate=gate)
    logger = get_run_logger()
    if result.published:
        logger.info("publish: %s", result.describe())
    else:
        logger.error("publish: %s", result.describe())
    return result


@task(
    name="history", retries=2, retry_delay_seconds=1, retry_condition_fn=_is_io_error, cache_policy=NO_CACHE
)
def history_task(store_dir: str, run_row: dict[str, Any], scores: pl.DataFrame | None) -> None:
    from sachsong.store.history import append_scores, record_run

    if scores is not None and scores.height:
        append_scores(Path(store_dir), scores, run_row["run_id"])
    record_run(Path(store_dir), run_row)
    get_run_logger().info("history: run %s recorded as %s", run_row["run_id"], run_row["status"])


@task(name="report", retries=2, retry_delay_seconds=1, retry_condition_fn=_is_io_error, cache_policy=NO_CACHE)
def report_task(store_dir: str, output_dir: str) -> str:
    from sachsong.reports.site import build_report

    index = build_report(Path(store_dir), Path(output_dir))
    get_run_logger().info("report: %s", index)
    return str(index)

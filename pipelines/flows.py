"""The nightly flow of one province: ingest → standardize → checks → matching → checks with clusters → scores →
publish (gated) → history → report.

Every input row ends up published, quarantined or rejected; the flow proves it per export file (conservation)
before publishing and fails the run otherwise. A failure at any step records a `failed` run in the store's
history and leaves the previous snapshot live; a failing publish gate records `gate_failed`.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import polars as pl
from prefect import flow, get_run_logger
from prefect.filesystems import LocalFileSystem
from sachsong.pipelines.tasks import (
    CACHE_EXPIRATION,
    RESULTS_DIR,
    CheckTables,
    Combined,
    MatchTables,
    check_task,
    code_fingerprint,
    combine_fingerprints,
    combine_task,
    file_fingerprint,
    history_task,
    ingest_task,
    match_task,
    publish_task,
    report_task,
    score_task,
    standardize_task,
)

CLUSTER_COLUMNS = ("cluster_id", "cluster_size", "confidence")


class RunFailed(RuntimeError):
    """The nightly run did not publish; the previous snapshot stays live. The message names the step."""


class GateFailed(RunFailed):
    """The publish gate refused the candidate snapshot (recorded as `gate_failed`)."""


class ConservationError(RunFailed):
    """Some input rows were neither published, quarantined nor rejected (or were counted twice)."""


# ------------------------------------------------------------------------------------------------ inputs
def source_fingerprints(root: Path) -> dict[str, str]:
    """SHA-256 of every file ingest may read under `root` (relative POSIX path → hash), hidden files and the demo
    generator's `truth/` excluded. Keys ingest's cache and, per file, standardize's."""
    found: dict[str, str] = {}
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if relative.parts[0] == "truth" or any(part.startswith(".") for part in relative.parts):
            continue
        if path.is_file():
            found[relative.as_posix()] = file_fingerprint(path)
    return found


def _file_digest(files: dict[str, str], source_file: str, fallback: str) -> str:
    # Ingest names files relative to `exports/` when the sources folder has one (the demo layout).
    return files.get(source_file) or files.get(f"exports/{source_file}") or fallback


def make_run_id(province: str, as_of: date, started: datetime) -> str:
    """`<province>-<as_of>-<UTC start>`: unique per run, sortable, safe as a directory name."""
    return f"{province}-{as_of:%Y%m%d}-{started:%Y%m%dT%H%M%S%f}Z"


def _as_date(value: str | date | None) -> date:
    if value is None:
        return date.today()
    if isinstance(value, datetime):
        return value.date()
    return value if isinstance(value, date) else date.fromisoformat(value)


# ------------------------------------------------------------------------------------------ conservation
def conservation(combined: Combined, checks: CheckTables) -> tuple[dict[str, dict[str, int]], list[str]]:
    """Per export: rows in == published + quarantined + rejected, each standardized row in exactly one place.

    Returns the per-export counts (recorded in `runs.counts_per_source`) and the violations (empty when whole).
    """
    problems: list[str] = []
    passed = checks.passed.select(pl.col("row_uid").cast(pl.Int64), pl.lit("published").alias("outcome"))
    quarantined = checks.quarantine.select(
        pl.col("row_uid").cast(pl.Int64), pl.lit("quarantined").alias("outcome")
    )
    outcomes = pl.concat([passed, quarantined])
    twice = outcomes.group_by("row_uid").len().filter(pl.col("len") > 1).height
    if twice:
        problems.append(f"{twice} records are both published and quarantined (or repeated)")
    unknown = outcomes.join(combined.exports, on="row_uid", how="anti").height
    if unknown:
        problems.append(f"{unknown} published/quarantined rows have a row_uid that no input row has")
    per_export = (
        combined.exports.join(outcomes.unique("row_uid"), on="row_uid", how="left")
        .group_by("export")
        .agg(
            (pl.col("outcome") == "published").sum().alias("published"),
            (pl.col("outcome") == "quarantined").sum().alias("quarantined"),
            pl.col("outcome").is_null().sum().alias("lost"),
        )
    )
    counted = {row["export"]: row for row in per_export.iter_rows(named=True)}
    counts: dict[str, dict[str, int]] = {}
    for export, rows_in in combined.rows_in.items():
        row = counted.get(export, {"published": 0, "quarantined": 0, "lost": 0})
        entry = {
            "rows_in": rows_in,
            "published": int(row["published"]),
            "quarantined": int(row["quarantined"]),
            "rejected": combined.rows_rejected.get(export, 0),
        }
        counts[export] = entry
        accounted = entry["published"] + entry["quarantined"] + entry["rejected"]
        if int(row["lost"]):
            problems.append(f"{export}: {row['lost']} standardized rows neither published nor quarantined")
        if accounted != rows_in:
            problems.append(
                f"{export}: {rows_in} rows in but {entry['published']} published + {entry['quarantined']} "
                f"quarantined + {entry['rejected']} rejected = {accounted}"
            )
    return counts, problems


def published_records(checks: CheckTables, match: MatchTables) -> pl.DataFrame:
    """The records that passed, each with its cluster (the person it was matched to)."""
    cluster_columns = [c for c in CLUSTER_COLUMNS if c in match.clusters.columns]
    clusters = match.clusters.select(pl.col("row_uid").cast(pl.Int64), *cluster_columns)
    records = checks.passed.drop([c for c in cluster_columns if c in checks.passed.columns])
    return records.join(clusters, on="row_uid", how="left").sort("row_uid")


# ----------------------------------------------------------------------------------------------- the flow
@dataclass
class RunContext:
    province: str
    sources: Path
    store: Path
    as_of: date
    run_id: str
    started_at: datetime
    step: str = "start"


def _prune_results(results_dir: Path) -> None:
    """Drop cached task results older than the cache expiry so the store does not grow without bound."""
    if not results_dir.is_dir():
        return
    cutoff = time.time() - CACHE_EXPIRATION.total_seconds()
    for path in results_dir.iterdir():
        if path.is_file() and path.stat().st_mtime < cutoff:
            path.unlink(missing_ok=True)


def results_storage(results_dir: Path) -> str:
    """A saved LocalFileSystem block for this store's task results (Prefect wants result storage server-side, so
    Dask workers can resolve it too); its name is derived from the directory, so each store keeps its own cache."""
    path = str(results_dir.resolve())
    name = "sachsong-results-" + hashlib.sha256(path.encode("utf-8")).hexdigest()[:16]
    LocalFileSystem(basepath=path).save(name, overwrite=True)
    return f"local-file-system/{name}"


def _run_row(ctx: RunContext, status: str, message: str, **fields: Any) -> dict[str, Any]:
    return {
        "run_id": ctx.run_id,
        "province_code": ctx.province,
        "as_of": ctx.as_of,
        "started_at": ctx.started_at,
        "finished_at": datetime.now(UTC),
        "status": status,
        "message": message,
        **fields,
    }


def _record_failure(ctx: RunContext, message: str, fields: dict[str, Any]) -> None:
    from sachsong.store.history import record_run

    try:
        record_run(ctx.store, _run_row(ctx, "failed", message, **fields))
    except Exception as error:  # the history itself may be what broke; the flow still fails with the cause
        get_run_logger().error("could not record the failed run in history: %s", error)


def nightly_run(ctx: RunContext) -> dict[str, Any]:
    """The body of the flow: run inside a Prefect flow (its task runner decides where tasks execute)."""
    from sachsong.store.gate import GoldenGate

    logger = get_run_logger()
    fields: dict[str, Any] = {}
    try:
        ctx.step = "discover"
        files = source_fingerprints(ctx.sources)
        if not files:
            raise FileNotFoundError(f"{ctx.sources}: no files to ingest")
        code = code_fingerprint()
        inputs_key = combine_fingerprints(code, *(f"{name}:{digest}" for name, digest in files.items()))
        fields["input_fingerprint"] = inputs_key
        logger.info(
            "run %s: province %s, as of %s, %d files", ctx.run_id, ctx.province, ctx.as_of, len(files)
        )

        results = ctx.store / RESULTS_DIR
        results.mkdir(parents=True, exist_ok=True)
        _prune_results(results)
        storage = results_storage(results)

        def stored(task_: Any) -> Any:
            return task_.with_options(result_storage=storage)

        ctx.step = "ingest"
        ingested = stored(ingest_task)(str(ctx.sources), inputs_key)
        fields["rows_in"] = int(ingested.counts.get_column("rows_in").sum() or 0)
        fields["rows_rejected"] = int(ingested.counts.get_column("rows_rejected").sum() or 0)

        ctx.step = "standardize"
        # One task per export file: they run in parallel on the task runner and are cached per file, so a
        # changed export re-standardizes alone.
        parts = ingested.table.partition_by("source_file", as_dict=True, maintain_order=True)
        exports = sorted(key[0] for key in parts)
        # A file's raw rows depend on its bytes, the registry (column mappings) and the code.
        registry = [f"{name}:{digest}" for name, digest in files.items() if name.endswith((".yaml", ".yml"))]
        shared_key = combine_fingerprints(code, *registry)
        file_keys = [
            combine_fingerprints(shared_key, name, _file_digest(files, name, inputs_key)) for name in exports
        ]
        futures = stored(standardize_task).map(
            raw=[parts[(name,)] for name in exports], export=exports, fingerprint=file_keys
        )
        standardized = [future.result() for future in futures]
        ctx.step = "combine"
        combined = stored(combine_task)(ingested, exports, standardized, fingerprint=inputs_key)

        ctx.step = "checks"
        first = stored(check_task)(combined.standardized, ctx.as_of, ctx.province, "initial", inputs_key)
        ctx.step = "matching"
        match = stored(match_task)(first.passed, fingerprint=inputs_key)
        ctx.step = "checks"
        checks = stored(check_task)(
            combined.standardized,
            ctx.as_of,
            ctx.province,
            "with clusters",
            inputs_key,
            clusters=match.clusters,
        )

        ctx.step = "conservation"
        counts, problems = conservation(combined, checks)
        fields["counts_per_source"] = counts
        fields["rows_published"] = checks.passed.height
        fields["rows_quarantined"] = checks.quarantine.height
        if problems:
            raise ConservationError("; ".join(problems))

        ctx.step = "scores"
        records_for_scores = combined.standardized.join(
            match.clusters.select(pl.col("row_uid").cast(pl.Int64), "cluster_id"), on="row_uid", how="left"
        )
        scores = score_task(records_for_scores, checks.findings, ctx.run_id, ctx.as_of, ctx.province)

        ctx.step = "publish"
        tables = {
            "residents_records": published_records(checks, match),
            "residents_golden": match.golden,
            "quarantine": checks.quarantine,
            "findings": checks.findings,
            "rejects": combined.rejects,
            "review_queue": match.review,
        }
        run_meta = {"run_id": ctx.run_id, "province_code": ctx.province, "as_of": ctx.as_of.isoformat()}
        published = publish_task(str(ctx.store), tables, run_meta, GoldenGate())
        fields["table_hashes"] = published.table_hashes
        if not published.published:
            history_task(str(ctx.store), _run_row(ctx, "gate_failed", published.gate.message, **fields), None)
            raise GateFailed(f"publish gate refused run {ctx.run_id}: {published.gate.message}")

        ctx.step = "history"
        history_task(str(ctx.store), _run_row(ctx, "published", published.describe(), **fields), scores)
    except GateFailed:
        raise  # already recorded as gate_failed
    except Exception as error:
        _record_failure(ctx, f"{ctx.step}: {type(error).__name__}: {error}", fields)
        if isinstance(error, RunFailed):
            raise
        raise RunFailed(f"run {ctx.run_id} failed at {ctx.step}: {type(error).__name__}: {error}") from error

    # The snapshot is live and recorded; a report failure fails the flow but does not unpublish.
    ctx.step = "report"
    report = report_task(str(ctx.store), str(ctx.store / "reports"))
    summary = {
        "run_id": ctx.run_id,
        "status": "published",
        "province": ctx.province,
        "as_of": ctx.as_of.isoformat(),
        "store": str(ctx.store),
        "snapshot": str(published.snapshot_dir),
        "report": report,
        "table_hashes": published.table_hashes,
        "row_counts": published.row_counts,
        "counts_per_source": counts,
    }
    logger.info("run %s published: %s", ctx.run_id, json.dumps(published.row_counts))
    return summary


def make_task_runner(dask_address: str) -> Any:
    """`local` → a 2-worker LocalCluster, `local-threads` → an in-process one, else a scheduler address."""
    from prefect_dask import DaskTaskRunner

    if dask_address == "local":
        return DaskTaskRunner(cluster_kwargs={"n_workers": 2, "threads_per_worker": 1})
    if dask_address == "local-threads":
        return DaskTaskRunner(cluster_kwargs={"n_workers": 1, "threads_per_worker": 2, "processes": False})
    return DaskTaskRunner(address=dask_address)


@flow(name="province-nightly-dask")
def province_nightly_on_dask(
    province: str, sources: str, store: str, as_of: str, run_id: str, started_at: str
) -> dict[str, Any]:
    ctx = RunContext(
        province,
        Path(sources),
        Path(store),
        date.fromisoformat(as_of),
        run_id,
        datetime.fromisoformat(started_at),
    )
    return nightly_run(ctx)


@flow(name="province-nightly")
def province_nightly(
    province: str,
    sources: str,
    store: str,
    as_of: str | date | None = None,
    dask_address: str | None = None,
) -> dict[str, Any]:
    """One province's nightly run; returns a summary (run id, snapshot, report, counts). Raises if not published."""
    started = datetime.now(UTC)
    run_date = _as_date(as_of)
    store_dir = Path(store)
    store_dir.mkdir(parents=True, exist_ok=True)
    ctx = RunContext(
        str(province),
        Path(sources),
        store_dir,
        run_date,
        make_run_id(str(province), run_date, started),
        started,
    )
    if not ctx.sources.is_dir():
        _record_failure(ctx, f"start: {ctx.sources} is not a directory", {})
        raise RunFailed(f"{ctx.sources}: sources directory not found")
    if dask_address:
        runner = make_task_runner(dask_address)
        return province_nightly_on_dask.with_options(task_runner=runner)(
            ctx.province,
            str(ctx.sources),
            str(ctx.store),
            run_date.isoformat(),
            ctx.run_id,
            started.isoformat(),
        )
    return nightly_run(ctx)

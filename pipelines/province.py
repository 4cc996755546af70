"""One province's night for one register, as a plain function: `run_province(spec, sources, store, as_of, …)`.

ingest + standardize (in batches of export files, in parallel) → checks → matching (with its duplicate findings)
∥ publish gate → conservation → scores → publish → history → report.

This function owns the sequence and conservation: every input row ends up published, quarantined or rejected,
proved per export file before publishing (the run fails otherwise). A failure at any step records a `failed` run
in the store's history and leaves the previous snapshot live; a failing publish gate records `gate_failed`. The
compute steps keep their outputs under `<store>/.work/` keyed by their inputs' fingerprints, so a rerun resumes
where the failed run stopped (see `pipelines.steps`).

Steps run through a `runner`: `DirectRunner` calls them in this process (threads for the batches); the Prefect
flow (`pipelines.flows`) passes one that runs each step as a Prefect task. The CLI, the benchmarks and the flow
all call this function.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Protocol

import polars as pl

from sachsong.asof import parse_as_of
from sachsong.pipelines.steps import (
    WORK_DIR,
    StepOutput,
    check_step,
    code_fingerprint,
    combine_fingerprints,
    decisions_step,
    file_fingerprint,
    gate_step,
    history_step,
    identity_step,
    import_rooms,
    load_standardized,
    match_step,
    plan_batches,
    prepare_file_key,
    prepare_step,
    prune_work,
    publish_step,
    report_step,
    review_workbook_step,
    score_step,
    step_logger,
)
from sachsong.redact import redact
from sachsong.spec import DatasetSpec, get_dataset

LEGACY_RESULTS_DIR = ".prefect-results"  # where earlier versions pickled whole frames; removed on sight


class RunFailed(RuntimeError):
    """The nightly run did not publish; the previous snapshot stays live. The message names the step."""


class GateFailed(RunFailed):
    """The publish gate refused the candidate snapshot (recorded as `gate_failed`)."""


class ProvinceMismatch(RunFailed):
    """The exports' addresses are mostly in another province than the one the run was asked to publish."""


# The run is refused when another province holds more than this share of the resolved addresses (and there are
# enough of them to judge): a province published under the wrong code would poison every roll-up.
PROVINCE_MAJORITY = 0.5
PROVINCE_EVIDENCE = 20


def check_province(asked: str, resolved: dict[str, int]) -> None:
    """Raise ProvinceMismatch when most resolved addresses are in one other province."""
    total = sum(resolved.values())
    if total < PROVINCE_EVIDENCE:
        return
    top, count = max(resolved.items(), key=lambda item: (item[1], item[0]))
    if top != asked and count > PROVINCE_MAJORITY * total:
        mine = resolved.get(asked, 0)
        raise ProvinceMismatch(
            f"asked to publish province {asked}, but {count:,} of the {total:,} resolved addresses "
            f"({count / total:.0%}) are in province {top} and {mine:,} in {asked}: check --province"
        )


class ConservationError(RunFailed):
    """Some input rows were neither published, quarantined nor rejected (or were counted twice)."""


# ------------------------------------------------------------------------------------------------ inputs
@dataclass(frozen=True)
class SourceInputs:
    """What ingest will read under a sources folder: each file (as ingest names it) with its size and hash."""

    files: dict[str, tuple[int, str]]  # source_file → (bytes, SHA-256)
    registry: str  # hash of the source registry YAML at the folder's top (column mappings), "" without one
    source_ids: dict[str, str] = field(default_factory=dict)  # source_file → its default source id (readable ones)

    def file_keys(self, code: str) -> dict[str, str]:
        """Each file's `prepare_file_key`: an export whose key held last night is not read again tonight."""
        return {
            name: prepare_file_key(code, self.registry, name, digest, self.source_ids.get(name, ""))
            for name, (_, digest) in self.files.items()
        }

    def fingerprint(self, code: str) -> str:
        return combine_fingerprints(
            code, self.registry, *(f"{name}:{digest}" for name, (_, digest) in self.files.items())
        )


def source_inputs(root: Path) -> SourceInputs:
    """Fingerprint every file ingest accounts for under `root` (hidden files and the demo's `truth/` are not)."""
    from sachsong.sources.ingest import REGISTRY_FILE_NAMES, default_source_ids, source_file_paths

    files: dict[str, tuple[int, str]] = {}
    for name, path in source_file_paths(root).items():
        try:
            if path.is_symlink() or not path.is_file():
                raise OSError("not a regular file")
            files[name] = (path.stat().st_size, file_fingerprint(path))
        except OSError as error:  # refused by ingest too (links, bad names): its outcome depends on the name
            files[name] = (0, f"unreadable:{type(error).__name__}")
    # A linked registry is refused by ingest unread; it is not read here either.
    registries = [root / n for n in REGISTRY_FILE_NAMES if (root / n).is_file() and not (root / n).is_symlink()]
    registry = file_fingerprint(registries[0]) if registries else ""
    return SourceInputs(files, registry, default_source_ids(root))


def make_run_id(province: str, as_of: date, started: datetime) -> str:
    """`<province>-<as_of>-<UTC start>`: unique per run, sortable, safe as a directory name."""
    return f"{province}-{as_of:%Y%m%d}-{started:%Y%m%dT%H%M%S%f}Z"


def _resident_mb() -> int | None:
    """This process's resident memory now (MB), from /proc (Linux); None elsewhere."""
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 2**20
    except (OSError, ValueError, IndexError):
        return None


def _workers() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


# ------------------------------------------------------------------------------------------ conservation
def conservation(
    records: pl.DataFrame, file_counts: pl.DataFrame, published: pl.DataFrame, quarantined: pl.DataFrame
) -> tuple[dict[str, dict[str, int]], list[str]]:
    """Per export: rows in == published + quarantined + rejected, each standardized row in exactly one place.

    `records`: every standardized row (`row_uid`, `source_file`); `file_counts`: ingest's accounting
    (`source_file`, `rows_in`, `rows_rejected`); `published`/`quarantined`: the `row_uid`s of each outcome.
    Returns the per-export counts (recorded in `runs.counts_per_source`) and the violations (empty when whole).
    """
    problems: list[str] = []
    outcomes = pl.concat(
        [
            published.select(pl.col("row_uid").cast(pl.Int64), pl.lit("published").alias("outcome")),
            quarantined.select(pl.col("row_uid").cast(pl.Int64), pl.lit("quarantined").alias("outcome")),
        ]
    )
    twice = outcomes.group_by("row_uid").len().filter(pl.col("len") > 1).height
    if twice:
        problems.append(f"{twice} records are both published and quarantined (or repeated)")
    exports = records.select(pl.col("row_uid").cast(pl.Int64), pl.col("source_file").alias("export"))
    unknown = outcomes.join(exports, on="row_uid", how="anti").height
    if unknown:
        problems.append(f"{unknown} published/quarantined rows have a row_uid that no input row has")
    per_export = (
        exports.join(outcomes.unique("row_uid"), on="row_uid", how="left")
        .group_by("export")
        .agg(
            (pl.col("outcome") == "published").sum().alias("published"),
            (pl.col("outcome") == "quarantined").sum().alias("quarantined"),
            pl.col("outcome").is_null().sum().alias("lost"),
        )
    )
    counted = {row["export"]: row for row in per_export.iter_rows(named=True)}
    counts: dict[str, dict[str, int]] = {}
    for export, rows_in, rejected in file_counts.select("source_file", "rows_in", "rows_rejected").rows():
        row = counted.pop(export, {"published": 0, "quarantined": 0, "lost": 0})
        entry = {
            "rows_in": int(rows_in or 0),
            "published": int(row["published"]),
            "quarantined": int(row["quarantined"]),
            "rejected": int(rejected or 0),
        }
        counts[export] = entry
        accounted = entry["published"] + entry["quarantined"] + entry["rejected"]
        if int(row["lost"]):
            problems.append(f"{export}: {row['lost']} standardized rows neither published nor quarantined")
        if accounted != entry["rows_in"]:
            problems.append(
                f"{export}: {entry['rows_in']} rows in but {entry['published']} published + "
                f"{entry['quarantined']} quarantined + {entry['rejected']} rejected = {accounted}"
            )
    for export in counted:
        problems.append(f"{export}: standardized rows from a file ingest did not account for")
    return counts, problems


@dataclass
class RunContext:
    province: str
    sources: Path
    store: Path
    as_of: date
    run_id: str
    started_at: datetime
    step: str = "start"
    # Publish even when the live snapshot has a later as_of (a deliberate re-run of an earlier night).
    replace_newer: bool = False
    step_seconds: dict[str, float] = field(default_factory=dict)
    # The process's peak resident memory (MB) when each step ended: the step that raises it is the one to cut.
    # A high-water mark, so it includes the threads' work and any earlier run in the same process.
    step_peak_rss_mb: dict[str, int] = field(default_factory=dict)
    # What the process still held when each step ended: a step that leaves memory behind raises the next's peak.
    step_held_rss_mb: dict[str, int] = field(default_factory=dict)
    _clock: float = 0.0

    def begin(self, step: str) -> None:
        """Start timing `step` (ending the one before): the summary reports seconds per step."""
        now = time.perf_counter()
        if self._clock and self.step not in ("start",):
            self.step_seconds[self.step] = round(self.step_seconds.get(self.step, 0.0) + now - self._clock, 3)
            self.step_peak_rss_mb[self.step] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
            held = _resident_mb()
            if held is not None:
                self.step_held_rss_mb[self.step] = held
        self.step, self._clock = step, now


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
        step_logger().error("could not record the failed run in history: %s", error)


# ------------------------------------------------------------------------------------------------ runners
class StepRunner(Protocol):
    """How steps execute: `call` one now, `submit` one to run beside the caller, `map` one over argument sets."""

    def call(self, step: Callable[..., Any], **kwargs: Any) -> Any: ...

    def submit(self, step: Callable[..., Any], **kwargs: Any) -> Any: ...  # has .result()

    def map(self, step: Callable[..., Any], calls: list[dict[str, Any]]) -> list[Any]: ...


class DirectRunner:
    """Steps called in this process; batches and the gate on a thread pool of `workers` threads."""

    def __init__(self, workers: int | None = None) -> None:
        self.workers = max(2, workers or _workers())

    def call(self, step: Callable[..., Any], **kwargs: Any) -> Any:
        return step(**kwargs)

    def submit(self, step: Callable[..., Any], **kwargs: Any) -> Future:
        pool = ThreadPoolExecutor(max_workers=1)
        future = pool.submit(step, **kwargs)
        pool.shutdown(wait=False)
        return future

    def map(self, step: Callable[..., Any], calls: list[dict[str, Any]]) -> list[Any]:
        with ThreadPoolExecutor(max_workers=self.workers) as pool:
            futures = [pool.submit(step, **kwargs) for kwargs in calls]
            return [future.result() for future in futures]


# ------------------------------------------------------------------------------------------- the night
def references_for(spec: DatasetSpec, stores: Mapping[str, Path] | None) -> dict[str, tuple[str, list[str]]]:
    """Other registers' published tables this register's cross-register rules read, from their live snapshots:
    `published_residents` (the persons' identity numbers) when a residents store is given and published."""
    from sachsong.store.reader import current_snapshot, snapshot_table_path

    references: dict[str, tuple[str, list[str]]] = {}
    for name, store in (stores or {}).items():
        if name == spec.name:
            continue
        try:
            snapshot = current_snapshot(store)
        except Exception:  # a broken store is the same as none for a cross-check: the rule is skipped, said so
            snapshot = None
        if snapshot is None:
            continue
        other = get_dataset(name)
        path = snapshot_table_path(snapshot, other.records_table)
        if path.is_file():
            columns = [c for c in ("cccd", "citizen_id_digits") if c in pl.read_parquet_schema(path)]
            references[f"published_{name}"] = (str(path), columns)
    return references


def run_province(
    spec: DatasetSpec | str,
    sources: str | Path,
    store: str | Path,
    as_of: str | date | None,
    *,
    province: str,
    runner: StepRunner | None = None,
    workers: int | None = None,
    replace_newer: bool = False,
    reference_stores: Mapping[str, Path] | None = None,
    run_id: str | None = None,
    started_at: datetime | None = None,
    full: bool = False,
) -> dict[str, Any]:
    """Run one province's night for one register and publish it; returns the summary. Raises RunFailed (the
    previous snapshot stays live) when it does not publish.

    `full`: a rebuild from scratch — the step cache is emptied first, so every step recomputes; ids are still
    mapped onto the live snapshot's, so unchanged persons keep theirs exactly as on a cached night."""
    from sachsong.store.gate import GoldenGate
    from sachsong.store.layout import make_private_store

    spec = get_dataset(spec)
    runner = runner or DirectRunner(workers)
    started = started_at or datetime.now(UTC)
    run_date = parse_as_of(as_of)
    store_dir = make_private_store(Path(store))  # it holds personal data: 0700 from the first run on
    ctx = RunContext(
        str(province),
        Path(sources),
        store_dir,
        run_date,
        run_id or make_run_id(str(province), run_date, started),
        started,
        replace_newer=replace_newer,
    )
    if not ctx.sources.is_dir():
        _record_failure(ctx, f"start: {ctx.sources} is not a directory", {})
        raise RunFailed(f"{ctx.sources}: sources directory not found")
    logger = step_logger()
    fields: dict[str, Any] = {}
    dataset = spec.reference
    import_rooms()
    try:
        ctx.begin("discover")
        inputs = source_inputs(ctx.sources)
        if not inputs.files:
            raise FileNotFoundError(f"{ctx.sources}: no files to ingest")
        code = combine_fingerprints(code_fingerprint(), spec.fingerprint())
        inputs_key = inputs.fingerprint(code)
        fields["input_fingerprint"] = inputs_key
        work = ctx.store / WORK_DIR
        if full:
            shutil.rmtree(work, ignore_errors=True)
        if work.is_symlink() or (work.exists() and not work.is_dir()):
            # The work folder holds only what the run can compute again: something else in its place goes.
            logger.warning("%s is not a folder: removed, every step computes again", work)
            work.unlink()
        work.mkdir(mode=0o700, parents=True, exist_ok=True)
        prune_work(work)
        shutil.rmtree(ctx.store / LEGACY_RESULTS_DIR, ignore_errors=True)
        batches = plan_batches({name: size for name, (size, _) in inputs.files.items()}, workers or _workers())
        logger.info(
            "run %s: %s of province %s, as of %s, %d files (%.1f MB) in %d batches",
            ctx.run_id,
            spec.name,
            ctx.province,
            ctx.as_of,
            len(inputs.files),
            sum(size for size, _ in inputs.files.values()) / 1e6,
            len(batches),
        )

        ctx.begin("ingest+standardize")
        # A batch's rows are its files' rows, and each file's depend only on its key's parts.
        file_keys = inputs.file_keys(code)
        batch_keys = [combine_fingerprints("batch", *(file_keys[name] for name in files)) for files in batches]
        labels = [f"{i + 1}/{len(batches)} ({files[0]} … {len(files)} files)" for i, files in enumerate(batches)]
        prepared: list[StepOutput] = runner.map(
            prepare_step,
            [
                {"dataset": dataset, "sources": str(ctx.sources), "files": files, "work_dir": str(work),
                 "key": key, "label": label, "file_keys": {name: file_keys[name] for name in files},
                 "file_digests": {name: inputs.files[name][1] for name in files}}
                for files, key, label in zip(batches, batch_keys, labels, strict=True)
            ],
        )
        resolved: dict[str, int] = {}
        for batch in prepared:
            for province_code, count in batch.counts.get("provinces", {}).items():
                resolved[province_code] = resolved.get(province_code, 0) + count
        check_province(ctx.province, resolved)
        fields["rows_in"] = sum(batch.counts["rows_in"] for batch in prepared)
        fields["rows_rejected"] = sum(batch.counts["rows_rejected"] for batch in prepared)
        std_key = combine_fingerprints(*batch_keys)

        ctx.begin("checks")
        references = references_for(spec, reference_stores)
        checks_key = combine_fingerprints(
            std_key, ctx.as_of.isoformat(), ctx.province, "checks",
            *(f"{name}:{file_fingerprint(Path(path))}" for name, (path, _) in sorted(references.items())),
        )
        checks = runner.call(
            check_step, dataset=dataset, batches=prepared, as_of=ctx.as_of, province_code=ctx.province,
            work_dir=str(work), key=checks_key, references=references,
        )
        ctx.begin("decisions")
        decided = runner.call(decisions_step, store_dir=str(ctx.store), checks=checks, run_id=ctx.run_id,
                              work_dir=str(work))
        decisions_summary = {k: decided[k] for k in ("active", "stale", "refused")}

        ctx.begin("matching")
        match_key = combine_fingerprints(checks_key, "matching", decided["fingerprint"])
        match = runner.call(
            match_step, dataset=dataset, checks=checks, batches=prepared, as_of=ctx.as_of, work_dir=str(work),
            key=match_key, decisions=decided["path"] if decided["active"] else None,
        )
        gate = GoldenGate(
            id_column=spec.gate.get("key"), key_columns=spec.gate.get("not_null", ()), table=spec.golden_table
        )
        ctx.begin("identity ∥ gate")
        # The gate reads only the golden table: it runs beside the id assignment instead of inside publish.
        gate_future = runner.submit(gate_step, store_dir=str(ctx.store), match=match, gate=gate)
        identity = runner.call(
            identity_step, dataset=dataset, store_dir=str(ctx.store), checks=checks, match=match, batches=prepared,
            run_id=ctx.run_id, work_dir=str(work), key=combine_fingerprints(match_key, "identity", ctx.run_id),
        )
        gate_result = gate_future.result()

        ctx.begin("conservation")
        records = load_standardized(prepared, ["source_file"])
        file_counts = pl.concat([batch.read("counts") for batch in prepared], how="diagonal_relaxed")
        quarantined = checks.read("quarantine", ["row_uid"])
        passed = checks.read("passed_uids")
        counts, problems = conservation(records, file_counts, passed, quarantined)
        fields["counts_per_source"] = counts
        fields["rows_published"] = passed.height
        fields["rows_quarantined"] = quarantined.height
        if problems:
            raise ConservationError("; ".join(problems))
        logger.info(
            "conservation: %d files, %d rows in = %d published + %d quarantined + %d rejected",
            len(counts),
            fields["rows_in"],
            passed.height,
            quarantined.height,
            fields["rows_rejected"],
        )

        ctx.begin("scores")
        scores = runner.call(
            score_step, dataset=dataset, batches=prepared, checks=checks, match=match, run_id=ctx.run_id,
            as_of=ctx.as_of, province_code=ctx.province,
        )

        ctx.begin("publish")
        if not gate_result.result.passed:
            message = gate_result.result.message
            runner.call(history_step, store_dir=str(ctx.store),
                        run_row=_run_row(ctx, "gate_failed", message, **fields), scores=None)
            raise GateFailed(f"publish gate refused run {ctx.run_id}: {message}")
        run_meta = {
            "run_id": ctx.run_id,
            "province_code": ctx.province,
            "as_of": ctx.as_of.isoformat(),
            "dataset": spec.name,
        }
        published_row = _run_row(ctx, "published", f"published snapshot {ctx.run_id}", **fields)
        published = runner.call(
            publish_step, dataset=dataset, store_dir=str(ctx.store), batches=prepared, checks=checks, match=match,
            run=run_meta, gate=gate_result, run_row=published_row, replace_newer=ctx.replace_newer,
            identity=identity,
        )
        fields["table_hashes"] = published.table_hashes
        if not published.published:
            runner.call(history_step, store_dir=str(ctx.store),
                        run_row=_run_row(ctx, "gate_failed", published.gate.message, **fields), scores=None)
            raise GateFailed(f"publish gate refused run {ctx.run_id}: {published.gate.message}")

    except GateFailed:
        raise  # already recorded as gate_failed
    except Exception as error:
        # Our own errors name files, rows and fields; a library's may quote the value it choked on.
        detail = str(error) if isinstance(error, RunFailed) else redact(str(error))
        _record_failure(ctx, f"{ctx.step}: {type(error).__name__}: {detail}", fields)
        if isinstance(error, RunFailed):
            raise
        raise RunFailed(f"run {ctx.run_id} failed at {ctx.step}: {type(error).__name__}: {detail}") from None

    # The snapshot is live and recorded (publish wrote its run row before switching CURRENT); a failure from here
    # on fails the run but does not unpublish, and adds no second run row.
    ctx.begin("history")
    runner.call(history_step, store_dir=str(ctx.store), run_row=None, scores=scores, run_id=ctx.run_id)
    ctx.begin("report")
    report = runner.call(report_step, store_dir=str(ctx.store), output_dir=str(ctx.store / "reports"))
    workbook = runner.call(review_workbook_step, dataset=dataset, store_dir=str(ctx.store), match=match,
                           run_id=ctx.run_id)
    ctx.begin("done")
    reused = [o.step for o in (*prepared, checks, match) if o.reused]
    summary = {
        "run_id": ctx.run_id,
        "status": "published",
        "dataset": spec.name,
        "province": ctx.province,
        "as_of": ctx.as_of.isoformat(),
        "store": str(ctx.store),
        "snapshot": str(published.snapshot_dir),
        "report": report,
        "review_workbook": workbook,
        "decisions": decisions_summary,
        "table_hashes": published.table_hashes,
        "row_counts": published.row_counts,
        "counts_per_source": counts,
        "batches": len(prepared),
        "reused_steps": reused,
        # Exports not read again tonight: unchanged since a night whose work is still in the store.
        "files_reused": sum(b.counts["files"] if b.reused else b.counts.get("files_reused", 0) for b in prepared),
        "pairs_compared": match.counts.get("pairs_compared", 0),
        "pairs_reused": match.counts.get("pairs_reused", 0),
        "step_seconds": dict(ctx.step_seconds),
        "step_peak_rss_mb": dict(ctx.step_peak_rss_mb),
        "step_held_rss_mb": dict(ctx.step_held_rss_mb),
    }
    logger.info("run %s published: %s", ctx.run_id, json.dumps(published.row_counts))
    logger.info(
        "seconds per step: %s%s",
        ", ".join(f"{step} {seconds:.1f}" for step, seconds in ctx.step_seconds.items()),
        f" (reused: {', '.join(sorted(set(reused)))})" if reused else "",
    )
    logger.info(
        "peak memory (MB) when each step ended: %s",
        ", ".join(f"{step} {mb}" for step, mb in ctx.step_peak_rss_mb.items()),
    )
    if ctx.step_held_rss_mb:
        logger.info(
            "memory held (MB) when each step ended: %s",
            ", ".join(f"{step} {mb}" for step, mb in ctx.step_held_rss_mb.items()),
        )
    return summary

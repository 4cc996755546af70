"""The Prefect flows: a thin wrapper over `pipelines.province.run_province`, each step a Prefect task (named,
logged in the UI, the I/O steps retried on I/O errors). The sequence, conservation and failure handling live in
`run_province`; the CLI and the benchmarks call the same function.

Steps keep their own resumable cache (`<store>/.work/`, keyed by input fingerprints, see `pipelines.steps`):
Prefect's cache policies hash task inputs, and the inputs here are paths whose bytes decide the result, so the
tasks use NO_CACHE and the steps decide reuse themselves.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from prefect import flow, task
from prefect.cache_policies import NO_CACHE
from prefect.task_runners import ThreadPoolTaskRunner

from sachsong.pipelines.province import (
    ConservationError,
    GateFailed,
    ProvinceMismatch,
    RunFailed,
    _workers,
    check_province,
    conservation,
    run_province,
    source_inputs,
)
from sachsong.pipelines.steps import is_io_error
from sachsong.redact import install_log_redaction

__all__ = [
    "ConservationError",
    "GateFailed",
    "PrefectRunner",
    "ProvinceMismatch",
    "RunFailed",
    "check_province",
    "conservation",
    "province_nightly",
    "source_inputs",
]

_IO_RETRIES = {"retries": 2, "retry_delay_seconds": 1, "retry_condition_fn": is_io_error}
TASK_OPTIONS: dict[str, dict[str, Any]] = {
    "prepare_step": {"name": "ingest+standardize", "task_run_name": "ingest+standardize {label}"},
    "check_step": {"name": "checks"},
    "match_step": {"name": "matching"},
    "gate_step": {"name": "gate"},
    "identity_step": {"name": "identity"},
    "decisions_step": {"name": "steward decisions"},
    "review_workbook_step": {"name": "review workbook", **_IO_RETRIES},
    "score_step": {"name": "scores"},
    "publish_step": {"name": "publish", **_IO_RETRIES, "retry_delay_seconds": 2},
    "history_step": {"name": "history", **_IO_RETRIES},
    "report_step": {"name": "report", **_IO_RETRIES},
}


class PrefectRunner:
    """Runs each step of `run_province` as a Prefect task on the flow's task runner."""

    def __init__(self) -> None:
        self._tasks: dict[Callable[..., Any], Any] = {}

    def _task(self, step: Callable[..., Any]) -> Any:
        if step not in self._tasks:
            options = TASK_OPTIONS.get(step.__name__, {"name": step.__name__})
            self._tasks[step] = task(step, cache_policy=NO_CACHE, **options)
        return self._tasks[step]

    def call(self, step: Callable[..., Any], **kwargs: Any) -> Any:
        return self._task(step)(**kwargs)

    def submit(self, step: Callable[..., Any], **kwargs: Any) -> Any:
        return self._task(step).submit(**kwargs)

    def map(self, step: Callable[..., Any], calls: list[dict[str, Any]]) -> list[Any]:
        futures = [self._task(step).submit(**kwargs) for kwargs in calls]
        return [future.result() for future in futures]


def _redact_logs() -> None:
    # Every handler Prefect logs through (console, the server's log table) drops values a library error quotes.
    install_log_redaction("prefect", "prefect.flow_runs", "prefect.task_runs", "prefect.extra", "sachsong.pipeline")


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
    province: str,
    sources: str,
    store: str,
    as_of: str,
    run_id: str,
    started_at: str,
    replace_newer: bool = False,
    dataset: str = "residents",
    reference_stores: dict[str, str] | None = None,
    full: bool = False,
) -> dict[str, Any]:
    _redact_logs()
    return run_province(
        dataset,
        sources,
        store,
        as_of,
        province=province,
        runner=PrefectRunner(),
        replace_newer=replace_newer,
        reference_stores={k: Path(v) for k, v in (reference_stores or {}).items()},
        run_id=run_id,
        started_at=datetime.fromisoformat(started_at),
        full=full,
    )


# One thread per CPU: Prefect's default thread pool is unbounded, so all of a big province's ingest batches ran
# at once, each holding its files' rows.
@flow(name="province-nightly", task_runner=ThreadPoolTaskRunner(max_workers=max(2, _workers())))
def province_nightly(
    province: str,
    sources: str,
    store: str,
    as_of: str | date | None = None,
    dask_address: str | None = None,
    replace_newer: bool = False,
    dataset: str = "residents",
    reference_stores: dict[str, str] | None = None,
    full: bool = False,
) -> dict[str, Any]:
    """One province's nightly run of one register; returns a summary (run id, snapshot, report, counts). Raises
    RunFailed if not published."""
    _redact_logs()
    stores = {k: Path(v) for k, v in (reference_stores or {}).items()}
    if dask_address:
        from sachsong.asof import parse_as_of
        from sachsong.pipelines.province import make_run_id

        started = datetime.now(UTC)
        run_date = parse_as_of(as_of)
        runner = make_task_runner(dask_address)
        return province_nightly_on_dask.with_options(task_runner=runner)(
            str(province),
            str(sources),
            str(store),
            run_date.isoformat(),
            make_run_id(str(province), run_date, started),
            started.isoformat(),
            replace_newer,
            dataset,
            {k: str(v) for k, v in stores.items()},
            full,
        )
    return run_province(
        dataset,
        sources,
        store,
        as_of,
        province=str(province),
        runner=PrefectRunner(),
        replace_newer=replace_newer,
        reference_stores=stores,
        full=full,
    )

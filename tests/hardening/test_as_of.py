"""Time-dependent rules and scores read the run's `as_of`, never the wall clock: the same exports run "five years
later" make every record stale, and that run's history and scores carry the date it was given."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl

from .conftest import PROVINCE, Baseline, Demo, assert_store_intact, copy_store

LATER = "2031-11-01"


def _stale_records(connection) -> int:
    return connection.execute(
        "SELECT count(DISTINCT row_uid) FROM findings WHERE rule_id = 'updated_stale'"
    ).fetchall()[0][0]


def test_the_run_date_not_the_clock_decides_what_is_stale(
    baseline: Baseline, demo: Demo, prefect_api: str, tmp_path: Path
) -> None:
    from sachsong.pipelines.flows import province_nightly
    from sachsong.store.history import read_runs, read_score_history
    from sachsong.store.reader import open_current

    connection = open_current(baseline.store)
    try:
        stale_then = _stale_records(connection)
        records_then = connection.execute(
            "SELECT (SELECT count(*) FROM residents_records) + (SELECT count(*) FROM quarantine)"
        ).fetchall()[0][0]
    finally:
        connection.close()

    store = copy_store(baseline.store, tmp_path / "store")
    summary = province_nightly(PROVINCE, str(demo.sources), str(store), as_of=LATER)
    assert assert_store_intact(store) == summary["run_id"]

    connection = open_current(store)
    try:
        stale_later = _stale_records(connection)
        timestamped = connection.execute(
            "SELECT count(*) FROM (SELECT updated_ts FROM residents_records UNION ALL "
            "SELECT updated_ts FROM quarantine) WHERE updated_ts IS NOT NULL AND updated_ts < DATE '2030-01-01'"
        ).fetchall()[0][0]
    finally:
        connection.close()
    # The demo's updates all fall within a year before 2026-11-01: few are stale then, all of them five years on.
    assert stale_then < records_then / 4
    assert stale_later == timestamped > stale_then

    run = read_runs(store).filter(pl.col("run_id") == summary["run_id"]).row(0, named=True)
    assert run["as_of"] == date.fromisoformat(LATER)
    scores = read_score_history(store).filter(pl.col("run_id") == summary["run_id"])
    assert scores.height > 0
    assert set(scores["as_of"].cast(pl.Date).to_list()) == {date.fromisoformat(LATER)}

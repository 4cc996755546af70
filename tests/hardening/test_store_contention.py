"""The store under contention (issue 13, class 7) and its permissions (class 9).

Another process holds history.duckdb or the publish lock; two runs publish at once with different `as_of`; a
publish fails after building and is retried with the same run id. Holders are real other processes (a DuckDB
connection, an flock) so the locks behave as in production; they hold until the test tells them to let go, so no
assertion depends on timing.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pytest

from sachsong.store import history, publish
from sachsong.store.history import PENDING_DIR, read_runs, record_run
from sachsong.store.layout import SNAPSHOTS_DIR, StoreBusyError
from sachsong.store.publish import StaleRunError, publish_snapshot
from sachsong.store.reader import current_manifest, current_run_id, read_current_table

HOLD_HISTORY = """
import duckdb, pathlib, sys, time
store, ready, release, mode = sys.argv[1:5]
connection = duckdb.connect(str(pathlib.Path(store) / "history.duckdb"), read_only=(mode == "read"))
connection.execute("SELECT 1").fetchall()
pathlib.Path(ready).write_text("held")
while not pathlib.Path(release).exists():
    time.sleep(0.02)
connection.close()
"""

HOLD_PUBLISH_LOCK = """
import pathlib, sys, time
from sachsong.store.publish import publish_lock
store, ready, release = sys.argv[1:4]
with publish_lock(pathlib.Path(store), run_id="run-holding-the-lock"):
    pathlib.Path(ready).write_text("held")
    while not pathlib.Path(release).exists():
        time.sleep(0.02)
"""


@contextmanager
def held_by_other_process(script: str, store: Path, *extra: str) -> Iterator[tuple[subprocess.Popen, Path]]:
    """Run `script` in another Python process until the block ends; yields (process, release file)."""
    ready, release = store.parent / f"ready-{time.time_ns()}", store.parent / f"release-{time.time_ns()}"
    child = subprocess.Popen([sys.executable, "-c", script, str(store), str(ready), str(release), *extra])
    try:
        while not ready.exists():
            if child.poll() is not None:
                raise AssertionError(f"the holder process exited with {child.returncode}")
            time.sleep(0.02)
        yield child, release
    finally:
        release.touch()
        child.wait(timeout=60)


def frames(n: int) -> dict[str, pl.DataFrame]:
    return {
        "residents_golden": pl.DataFrame({"cluster_id": [f"P{i}" for i in range(n)], "ward_code": ["18880"] * n}),
        "review_queue": pl.DataFrame(),
    }


def nightly(store: Path, run_id: str, as_of: str, n: int = 4, **options: Any) -> str:
    """What the flow does around publish: record the run before the switch; record a failure if it fails."""
    row = {"run_id": run_id, "province_code": "44", "as_of": as_of, "started_at": datetime.now(UTC)}

    def record_published(manifest: Mapping[str, Any]) -> None:
        record_run(store, {**row, "status": "published", "table_hashes": manifest["table_hashes"]}, wait=0.5)

    try:
        publish_snapshot(
            store, frames(n), {"run_id": run_id, "as_of": as_of}, before_switch=record_published, **options
        )
    except Exception as error:
        message = f"publish: {type(error).__name__}: {error}"
        failed = {**row, "status": "failed", "finished_at": datetime.now(UTC), "message": message}
        record_run(store, failed, wait=0.5)
        raise
    return "published"


def statuses(store: Path) -> list[tuple[str, str]]:
    return [(r["run_id"], r["status"]) for r in read_runs(store).iter_rows(named=True)]


def snapshot_names(store: Path) -> list[str]:
    return sorted(p.name for p in (store / SNAPSHOTS_DIR).iterdir())


def test_a_reader_holding_history_briefly_is_waited_for(tmp_path, monkeypatch):
    store = tmp_path / "store"
    nightly(store, "r1", "2026-11-01")
    monkeypatch.setenv("SACHSONG_HISTORY_WAIT", "60")
    with held_by_other_process(HOLD_HISTORY, store, "read") as (_, release):
        # The reader lets go while publish is waiting for it.
        threading.Timer(1.0, release.touch).start()
        publish_snapshot(
            store,
            frames(5),
            {"run_id": "r2", "as_of": "2026-11-02"},
            before_switch=lambda manifest: record_run(store, {"run_id": "r2", "status": "published"}),
        )
    assert current_run_id(store) == "r2"
    assert statuses(store) == [("r1", "published"), ("r2", "published")]


def test_a_reader_holding_history_too_long_does_not_stop_the_night(tmp_path):
    store = tmp_path / "store"
    nightly(store, "r1", "2026-11-01")
    # A read-only holder (a report, a notebook): writers wait, readers still read.
    with held_by_other_process(HOLD_HISTORY, store, "read"):
        # The run row cannot reach history.duckdb in time: it is journalled and the snapshot goes live.
        assert nightly(store, "r2", "2026-11-02", n=7) == "published"
        assert current_run_id(store) == "r2" and read_current_table(store, "residents_golden").height == 7
        assert statuses(store) == [("r1", "published"), ("r2", "published")]
        assert len(list((store / PENDING_DIR).glob("*.json"))) == 1
    # The next write that gets the database folds the journal in, once.
    nightly(store, "r3", "2026-11-03")
    assert statuses(store) == [("r1", "published"), ("r2", "published"), ("r3", "published")]
    assert not list((store / PENDING_DIR).glob("*.json"))
    connection = duckdb.connect(str(store / "history.duckdb"), read_only=True)
    try:
        assert connection.execute("SELECT count(*) FROM runs").fetchall()[0][0] == 3
    finally:
        connection.close()


def test_a_publish_failing_after_its_build_is_recorded_and_its_retry_succeeds(tmp_path):
    store = tmp_path / "store"
    nightly(store, "r1", "2026-11-01")
    calls = []

    def history_unavailable_once(manifest: Mapping[str, Any]) -> None:
        calls.append(manifest["run_id"])
        if len(calls) == 1:
            raise duckdb.IOException("Could not set lock on file history.duckdb")
        record_run(store, {"run_id": "r2", "status": "published", "as_of": "2026-11-02"})

    def attempt() -> None:
        try:
            publish_snapshot(
                store, frames(7), {"run_id": "r2", "as_of": "2026-11-02"}, before_switch=history_unavailable_once
            )
        except duckdb.IOException as error:
            record_run(store, {"run_id": "r2", "status": "failed", "message": f"publish: {error}"})
            raise

    with pytest.raises(duckdb.IOException):
        attempt()
    # Nothing changed for readers, no snapshot is left that history does not know, the failure is recorded.
    assert current_run_id(store) == "r1" and snapshot_names(store) == ["r1"]
    assert not list((store / SNAPSHOTS_DIR).glob("*.tmp"))
    assert statuses(store) == [("r1", "published"), ("r2", "failed")]
    # Prefect retries the task with the same run id: no FileExistsError.
    attempt()
    assert current_run_id(store) == "r2" and read_current_table(store, "residents_golden").height == 7
    assert statuses(store) == [("r1", "published"), ("r2", "failed"), ("r2", "published")]


def test_scores_wait_for_the_history_then_fail_with_a_clear_message(tmp_path, monkeypatch):
    store = tmp_path / "store"
    nightly(store, "r1", "2026-11-01")
    monkeypatch.setenv("SACHSONG_HISTORY_WAIT", "0.3")
    scores = pl.DataFrame({"criterion": ["correct"], "share": [0.5]})
    with held_by_other_process(HOLD_HISTORY, store, "write") as (holder, _), pytest.raises(StoreBusyError) as busy:
        history.append_scores(store, scores, "r1")
    assert f"process {holder.pid} has held the history database for more than 0.3 s" in str(busy.value)
    assert history.append_scores(store, scores, "r1") == 1


def test_a_retry_after_a_crash_between_build_and_switch_rebuilds(tmp_path, monkeypatch):
    store = tmp_path / "store"
    nightly(store, "r1", "2026-11-01")
    # A crash (kill -9) right after the rename left r2 complete on disk but never live and never recorded.
    monkeypatch.setattr(publish, "switch_current", lambda *a: (_ for _ in ()).throw(SystemExit("killed")))
    monkeypatch.setattr(publish.shutil, "rmtree", lambda *a, **k: None)  # the crash cleans nothing up
    with pytest.raises(SystemExit):
        publish_snapshot(store, frames(9), {"run_id": "r2", "as_of": "2026-11-02"})
    monkeypatch.undo()
    assert "r2" in snapshot_names(store) and current_run_id(store) == "r1"
    nightly(store, "r2", "2026-11-02", n=8)
    assert current_run_id(store) == "r2" and read_current_table(store, "residents_golden").height == 8


def test_the_publish_lock_times_out_naming_its_holder(tmp_path, monkeypatch):
    store = tmp_path / "store"
    nightly(store, "r1", "2026-11-01")
    with held_by_other_process(HOLD_PUBLISH_LOCK, store) as (holder, _):
        with pytest.raises(StoreBusyError) as failed:
            nightly(store, "r2", "2026-11-02", lock_timeout=0.3)
        message = str(failed.value)
        assert f"pid {holder.pid}" in message and "run-holding-the-lock" in message and "r2" in message
        monkeypatch.setenv("SACHSONG_PUBLISH_LOCK_TIMEOUT", "0.2")
        with pytest.raises(StoreBusyError, match=r"waited 0\.2 s"):
            publish_snapshot(store, frames(3), {"run_id": "r3"})
    assert current_run_id(store) == "r1" and snapshot_names(store) == ["r1"]
    assert statuses(store) == [("r1", "published"), ("r2", "failed")]
    nightly(store, "r2", "2026-11-02")  # free again: the same run goes through
    assert current_run_id(store) == "r2"


def test_an_older_run_does_not_replace_a_newer_snapshot_unless_told(tmp_path):
    store = tmp_path / "store"
    nightly(store, "night-02", "2026-11-02")
    with pytest.raises(StaleRunError) as refused:
        nightly(store, "night-01", "2026-11-01")
    message = str(refused.value)
    assert "2026-11-01" in message and "2026-11-02" in message and "replace_newer" in message
    assert current_run_id(store) == "night-02" and snapshot_names(store) == ["night-02"]
    assert statuses(store) == [("night-02", "published"), ("night-01", "failed")]
    # A rerun of the same night is not older; an explicit replace_newer goes back in time.
    nightly(store, "night-02-rerun", "2026-11-02")
    nightly(store, "night-01", "2026-11-01", replace_newer=True)
    assert current_manifest(store)["as_of"] == "2026-11-01"


def test_concurrent_runs_leave_the_newest_as_of_live(tmp_path):
    store = tmp_path / "store"
    outcomes: dict[str, str] = {}

    def run(run_id: str, as_of: str) -> None:
        try:
            outcomes[run_id] = nightly(store, run_id, as_of)
        except StaleRunError:
            outcomes[run_id] = "refused"

    for attempt in range(3):
        threads = [
            threading.Thread(target=run, args=(f"old-{attempt}", f"2026-10-{10 + attempt:02d}")),
            threading.Thread(target=run, args=(f"new-{attempt}", f"2026-11-{10 + attempt:02d}")),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert current_manifest(store)["as_of"] == f"2026-11-{10 + attempt:02d}"
        assert outcomes[f"new-{attempt}"] == "published"
    assert all(outcome in ("published", "refused") for outcome in outcomes.values())


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_store_is_private_to_its_owner(tmp_path):
    previous = os.umask(0o022)
    try:
        store = tmp_path / "store"
        (store / "work").mkdir(parents=True)  # the flow makes its work folder (and so the store) first
        assert _mode(store) == 0o755
        nightly(store, "r1", "2026-11-01")
        with held_by_other_process(HOLD_HISTORY, store, "read"):
            nightly(store, "r2", "2026-11-02")  # journals its run row
        assert os.umask(0o022) == 0o022  # the process umask is restored
    finally:
        os.umask(previous)
    directories = [store, store / SNAPSHOTS_DIR, store / SNAPSHOTS_DIR / "r1", store / PENDING_DIR]
    # The work folder is the flow's own (made before the store existed); the store's 0700 root closes it too.
    directories += [p for p in store.rglob("*") if p.is_dir() and p.name != "work"]
    for directory in directories:
        assert _mode(directory) == 0o700, directory
    files = [p for p in store.rglob("*") if p.is_file()]
    assert {p.name for p in files} >= {"CURRENT", "history.duckdb", "store.duckdb", "manifest.json"}
    for path in files:
        assert _mode(path) & 0o077 == 0, path


def test_the_prefect_home_and_database_the_cli_uses_are_private(tmp_path, monkeypatch):
    from sachsong.pipelines.cli import _private_prefect_home

    home = tmp_path / "prefect-home"
    home.mkdir(mode=0o755)
    home.chmod(0o755)
    database = home / "prefect.db"
    database.write_bytes(b"")
    database.chmod(0o644)
    monkeypatch.setenv("PREFECT_HOME", str(home))
    _private_prefect_home()
    assert (_mode(home), _mode(database)) == (0o700, 0o600)
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path / "new-home"))
    _private_prefect_home()  # created private
    assert _mode(tmp_path / "new-home") == 0o700

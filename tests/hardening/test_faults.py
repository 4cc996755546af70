"""Nothing is published half: `kill -9` of `sachsong run` at any step leaves the last published snapshot live and
whole, and the next run completes and publishes the same tables an uninterrupted run does.

The run is a real child process (its own interpreter, the session's Prefect server); its output is watched for
the step, then its whole process group gets SIGKILL — no cleanup handler, `finally` or atexit runs.
(In-process exceptions at each step are covered by tests/pipelines/test_flow.py.)
"""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from .conftest import (
    AS_OF,
    PROVINCE,
    Baseline,
    Demo,
    assert_store_intact,
    child_env,
    copy_store,
    run_command,
)


def _line(pattern: str) -> Callable[[str, Path], bool]:
    compiled = re.compile(pattern)
    return lambda line, store: bool(compiled.search(line))


def _building_snapshot(line: str, store: Path) -> bool:
    # publish writes snapshots/<run_id>.tmp/ before the rename that makes it a snapshot
    return any((store / "snapshots").glob("*.tmp/*"))


# Step → when to pull the plug. Lines are the Prefect log lines the child prints as it goes.
KILL_POINTS: dict[str, Callable[[str, Path], bool]] = {
    "ingest": _line(r"Beginning flow run"),  # the flow has started; ingest is its first step
    "standardize": _line(r"Task run '(ingest|standardize)"),  # first export(s) done, the rest in flight
    "matching": _line(r"Task run 'checks"),  # the checks done, matching starts
    "publish": _building_snapshot,  # the new snapshot is half written
    "report": _line(r"Task run 'history"),  # published and recorded; the scorecard is being built
}
# Step → a line that must NOT have appeared yet when the kill landed (proves the kill came in that step).
NOT_YET = {
    "ingest": r"Task run '",
    "standardize": r"Task run 'checks",
    "matching": r"Task run 'matching",
    "publish": r"Task run 'publish",
    "report": r"Task run 'report",
}


def run_and_kill(
    command: list[str],
    env: dict[str, str],
    store: Path,
    trigger: Callable[[str, Path], bool],
    timeout: float = 300,
) -> str:
    """Start `command` in its own process group, SIGKILL the group as soon as `trigger` fires; its output."""
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
    )
    lines: queue.Queue[str | None] = queue.Queue()

    def read() -> None:
        for text in process.stdout:
            lines.put(text)
        lines.put(None)

    threading.Thread(target=read, daemon=True).start()
    output: list[str] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            try:
                line = lines.get(timeout=0.01)
            except queue.Empty:
                line = ""
            if line is None:
                raise AssertionError("the run ended before the kill point:\n" + "".join(output[-40:]))
            output.append(line)
            if trigger(line, store):
                os.killpg(process.pid, signal.SIGKILL)
                break
        else:
            raise AssertionError("kill point not reached in time:\n" + "".join(output[-40:]))
    finally:
        if process.poll() is None and time.monotonic() >= deadline:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=60)
    # Whatever the child had written before it died tells how far it really got.
    while (line := lines.get(timeout=30)) is not None:
        output.append(line)
    assert process.returncode == -signal.SIGKILL, "".join(output[-40:])
    return "".join(output)


def _assert_killed_run_changed_nothing(store: Path, live: str, runs_before: int) -> None:
    from sachsong.store.history import read_runs
    from sachsong.store.reader import current_run_id

    assert current_run_id(store) == live
    assert assert_store_intact(store) == live
    runs = read_runs(store)
    # A killed run cannot record itself; whatever it did record is not a publish.
    assert runs.height >= runs_before
    assert set(runs["status"][runs_before:].to_list()) <= {"failed"}


def _rerun_publishes(store: Path, demo: Demo, baseline: Baseline, live: str) -> None:
    from sachsong.pipelines.flows import province_nightly
    from sachsong.store.reader import current_manifest

    summary = province_nightly(PROVINCE, str(demo.sources), str(store), as_of=AS_OF)
    assert summary["run_id"] != live
    assert assert_store_intact(store) == summary["run_id"]
    # Resuming after a crash publishes exactly what an uninterrupted run published (but the change feed, which
    # names its own run).
    expected = current_manifest(baseline.store)["table_hashes"]
    assert {k: v for k, v in summary["table_hashes"].items() if k != "changes"} == {
        k: v for k, v in expected.items() if k != "changes"
    }
    leftovers = sorted(p.name for p in (store / "snapshots").iterdir() if p.name.endswith(".tmp"))
    assert leftovers == []


@pytest.mark.parametrize(
    "step",
    [
        pytest.param("ingest", marks=pytest.mark.slow),
        pytest.param("standardize", marks=pytest.mark.slow),
        pytest.param("matching", marks=pytest.mark.slow),
        "publish",
        pytest.param("report", marks=pytest.mark.slow),
    ],
)
def test_kill_9_at_a_step_keeps_the_last_snapshot_and_the_next_run_publishes(
    step: str, baseline: Baseline, demo: Demo, prefect_api: str, tmp_path: Path
) -> None:
    from sachsong.store.history import read_runs

    store = copy_store(baseline.store, tmp_path / "store")
    live = assert_store_intact(store)
    runs_before = read_runs(store).height
    output = run_and_kill(
        run_command(demo.sources, store), child_env(tmp_path / "home", prefect_api), store, KILL_POINTS[step]
    )
    assert not re.search(NOT_YET[step], output), f"the kill landed after {step}:\n{output[-3000:]}"
    if step == "report":
        # Killed after publish and history: the new snapshot is live, recorded and whole.
        new = assert_store_intact(store)
        assert new != live and read_runs(store).height == runs_before + 1
        live = new
    else:
        _assert_killed_run_changed_nothing(store, live, runs_before)
    _rerun_publishes(store, demo, baseline, live)


# Runs `sachsong run`, SIGKILLing itself the moment the history of a published run is about to be written: after
# CURRENT has switched to the new snapshot, before `runs` knows about it.
KILL_BEFORE_HISTORY = """
import os, signal, sys
import sachsong.store.history as history

def killer(original):
    def wrapped(store_dir, row, *args, **kwargs):
        if not isinstance(row, dict) or row.get("status") == "published":
            os.kill(os.getpid(), signal.SIGKILL)
        return original(store_dir, row, *args, **kwargs)
    return wrapped

history.record_run = killer(history.record_run)
history.append_scores = killer(history.append_scores)
from sachsong.pipelines.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.slow
def test_kill_9_between_publish_and_history_leaves_a_recorded_snapshot(
    baseline: Baseline, demo: Demo, prefect_api: str, tmp_path: Path
) -> None:
    from sachsong.store.history import read_runs

    store = copy_store(baseline.store, tmp_path / "store")
    assert_store_intact(store)
    command = [sys.executable, "-c", KILL_BEFORE_HISTORY, *run_command(demo.sources, store)[1:]]
    process = subprocess.run(
        command,
        env=child_env(tmp_path / "home", prefect_api),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=300,
        check=False,
    )
    assert process.returncode == -signal.SIGKILL, process.stdout[-3000:]
    assert len(read_runs(store)) >= 1
    # Whichever snapshot is live, history must record it with its hashes.
    now_live = assert_store_intact(store)
    _rerun_publishes(store, demo, baseline, now_live)

"""`sachsong run` with no Prefect server configured: the run starts its own temporary server, publishes through it,
and leaves no server process behind; a server that dies before answering makes way for Prefect's own start."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sachsong.pipelines.run import TemporaryServer
from sachsong.store.reader import current_run_id

from .conftest import (
    Demo,
    assert_store_intact,
    child_env,
    kill_run,
    run_command,
    run_processes,
    wait_run_gone,
)


def test_a_run_without_a_configured_server_publishes_and_leaves_no_server_running(demo: Demo, tmp_path: Path) -> None:
    store = tmp_path / "store"
    env = child_env(tmp_path / "home", None)
    env.pop("PREFECT_API_URL", None)
    # Its own session: every process the run starts (the server included) is in this group, and must be gone.
    log = tmp_path / "run.log"
    with log.open("w", encoding="utf-8") as sink:
        # A file, not a pipe: a leftover server holding the pipe open would keep us waiting for its end.
        child = subprocess.Popen(
            run_command(demo.sources, store), env=env, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            child.wait(timeout=300)
        finally:
            stray = bool(run_processes(child.pid))
            if stray:
                kill_run(child.pid)
    output = log.read_text(encoding="utf-8")
    assert child.returncode == 0, output[-3000:]
    assert "published" in output
    assert current_run_id(store) is not None
    assert_store_intact(store)
    # The run's own server answered: Prefect did not start a second one.
    assert "Starting temporary server" not in output
    assert not stray, "a process of the run (the temporary server?) outlived it"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the server's parent-death signal is Linux's")
def test_a_run_killed_outright_leaves_no_server_behind(demo: Demo, tmp_path: Path) -> None:
    env = child_env(tmp_path / "home", None)
    env.pop("PREFECT_API_URL", None)
    child = subprocess.Popen(
        run_command(demo.sources, tmp_path / "store"),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not [pid for pid in run_processes(child.pid) if pid != child.pid]:
            assert child.poll() is None and time.monotonic() < deadline, "the run started no server"
            time.sleep(0.05)
        # No exit handler runs on SIGKILL: only the kernel can tell the server its run is gone.
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        left = wait_run_gone(child.pid, 20)
        assert not left, f"the temporary server outlived the run that started it: {left}"
    finally:
        kill_run(child.pid)


def test_a_server_that_dies_before_answering_is_not_used(monkeypatch) -> None:
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    server = TemporaryServer()
    assert server.process is not None
    server.process.kill()
    server.process.wait()
    assert server.wait(timeout=5) is None
    assert server.process is None

"""The `sachsong` script from outside, as an operator or a scheduler runs it: exit codes, output that arrives whole
(also through a slow pipe or one closed early), files complete after the quick exit (exit handlers + os._exit), and
the run's temporary Prefect server: not started when a server is configured (environment or profile), and never left
behind, also when the run's first server dies, the run starts another, and the run is then killed.

Every child runs in its own session, so its processes (its process group, and its server's, in the same session)
can be checked and killed afterwards."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

import polars as pl
import pytest

from sachsong.store.reader import current_run_id

from .conftest import SACHSONG, Demo, child_env, kill_run, run_command, run_processes, wait_run_gone

LINUX = os.path.isdir("/proc/self")


def _server_free_env(home: Path, api_url: str | None = None) -> dict[str, str]:
    env = child_env(home, api_url)
    if api_url is None:
        env.pop("PREFECT_API_URL", None)
    for name in ("PREFECT_PROFILE", "PREFECT_PROFILES_PATH"):
        env.pop(name, None)
    return env


def _servers(group: int) -> dict[int, str]:
    return {pid: command for pid, command in run_processes(group).items() if "uvicorn" in command}


def _dead_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_usage_error_exits_2_with_its_whole_message_and_leaves_nothing(tmp_path: Path) -> None:
    command = run_command(tmp_path / "sources", tmp_path / "store")
    command[command.index("--province") + 1] = "9x"
    child = subprocess.Popen(
        command,
        env=_server_free_env(tmp_path / "home"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = child.communicate(timeout=120)
        left = wait_run_gone(child.pid, 20)
    finally:
        kill_run(child.pid)
    assert child.returncode == 2, err
    assert out == ""
    assert err.startswith("usage: sachsong run"), err
    assert err.rstrip().endswith("'9x' is not a province code: two digits, e.g. 44 (Quảng Trị)"), err
    assert not left, f"processes outlived an argument error: {left}"


def _read_slowly(stream) -> str:
    chunks = []
    while chunk := stream.read(37):
        chunks.append(chunk)
        time.sleep(0.002)
    return b"".join(chunks).decode("utf-8")


def _slow_pipe(command: list[str], env: dict[str, str]) -> tuple[int, str, str]:
    """The command with stdout read a few bytes at a time (a slow consumer: the writer blocks on a full pipe)."""
    child = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True
    )
    try:
        out = _read_slowly(child.stdout)
        err = child.stderr.read().decode("utf-8")
        child.wait(timeout=300)
    finally:
        kill_run(child.pid)
    return child.returncode, out, err


def test_ingest_and_check_files_hold_what_the_commands_printed(demo: Demo, tmp_path: Path) -> None:
    """The quick exit skips the interpreter's tear-down: every output file must already be whole and readable, and
    the summary must arrive complete through a slow pipe."""
    env = _server_free_env(tmp_path / "home")
    raw, rejects = tmp_path / "raw.parquet", tmp_path / "rejects.csv"
    code, out, err = _slow_pipe(
        [str(SACHSONG), "ingest", str(demo.exports), "--output", str(raw), "--rejects", str(rejects)], env
    )
    assert code == 0, err
    counted = re.search(r"(\d+) files, (\d+) rows in = (\d+) out \+ (\d+) rejected", out)
    assert counted, out
    files, rows_in, rows_out, rejected = map(int, counted.groups())
    assert files == len(demo.files) + 1  # the kept exports and the hand-written broken one
    assert rows_in == rows_out + rejected
    assert rejected >= 1, "the broken export's rows must be rejected"
    assert pl.read_parquet(raw).height == rows_out
    assert pl.read_csv(rejects, infer_schema_length=0).height == rejected
    assert out.endswith("\n")

    findings, quarantine = tmp_path / "findings.csv", tmp_path / "quarantine.parquet"
    code, out, err = _slow_pipe(
        [
            str(SACHSONG),
            "check",
            str(raw),
            "--output",
            str(findings),
            "--quarantine",
            str(quarantine),
            "--as-of",
            "2026-11-01",
        ],
        env,
    )
    assert code == 0, err
    checked = re.search(r"(\d+) rows checked .*: (\d+) passed, (\d+) quarantined", out)
    found = re.search(r"^(\d+) findings", out, re.MULTILINE)
    assert checked and found, out
    assert int(checked.group(1)) == rows_out
    assert int(found.group(1)) > 0
    assert pl.read_csv(findings, infer_schema_length=0).height == int(found.group(1))
    assert pl.read_parquet(quarantine).height == int(checked.group(3))


def test_a_reader_that_closes_early_gets_no_broken_pipe_traceback(tmp_path: Path) -> None:
    child = subprocess.Popen(
        [str(SACHSONG), "rules", "list"],
        env=_server_free_env(tmp_path / "home"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        child.stdout.close()  # no reader left: the first line written meets a broken pipe
        err = child.stderr.read().decode("utf-8")
        child.wait(timeout=120)
        left = wait_run_gone(child.pid, 20)
    finally:
        kill_run(child.pid)
    assert not left, f"processes outlived the command: {left}"
    assert "Traceback" not in err, err[-800:]


def _write_profile(home: Path, api_url: str) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "profiles.toml").write_text(
        f'active = "ops"\n\n[profiles.ops]\nPREFECT_API_URL = "{api_url}"\n', encoding="utf-8"
    )


@pytest.mark.skipif(not LINUX, reason="watches the run's processes through /proc")
@pytest.mark.parametrize(
    "where",
    [
        "environment",
        "profile",
    ],
)
def test_a_configured_server_is_used_and_no_temporary_one_starts(
    where: str, demo: Demo, tmp_path: Path
) -> None:
    """A configured server that does not answer: the run must try it (and fail, rc 1, naming it), never start one."""
    url = f"http://127.0.0.1:{_dead_port()}/api"
    home = tmp_path / "home"
    if where == "environment":
        env = _server_free_env(home, url)
    else:
        _write_profile(home, url)
        env = _server_free_env(home)
    log = tmp_path / "run.log"
    spawned: dict[int, str] = {}
    with log.open("w", encoding="utf-8") as sink:
        child = subprocess.Popen(
            run_command(demo.sources, tmp_path / "store"),
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + 300
            while child.poll() is None:
                if time.monotonic() > deadline:
                    pytest.fail("a run whose configured server is down did not end within 5 minutes")
                spawned.update(_servers(child.pid))
                time.sleep(0.02)
            left = wait_run_gone(child.pid, 20)
        finally:
            kill_run(child.pid)
    output = log.read_text(encoding="utf-8")
    if child.returncode != 1 or f"Failed to reach API at {url}" not in output:
        pytest.fail(f"the run did not try the configured server (rc {child.returncode}): {output[-2000:]}")
    assert current_run_id(tmp_path / "store") is None
    assert not left, f"processes outlived the run: {left}"
    assert not spawned, f"a temporary server was started although {where} names one: {spawned}"


@pytest.mark.skipif(not LINUX, reason="closes the reading end of the run's stdout and checks exit status")
def test_a_run_whose_reader_stops_after_one_line_still_exits_0_when_it_publishes(
    demo: Demo, tmp_path: Path
) -> None:
    store = tmp_path / "store"
    err_log = tmp_path / "stderr.log"
    with err_log.open("w", encoding="utf-8") as sink:
        child = subprocess.Popen(
            run_command(demo.sources, store),
            env=_server_free_env(tmp_path / "home"),
            stdout=subprocess.PIPE,
            stderr=sink,
            text=True,
            start_new_session=True,
        )
        try:
            first = child.stdout.readline()  # like `| head -1`: one line, then the reader is gone
            child.stdout.close()
            child.wait(timeout=300)
            left = wait_run_gone(child.pid, 20)
        finally:
            kill_run(child.pid)
    errors = err_log.read_text(encoding="utf-8")
    assert first.startswith("nightly run:"), first
    if current_run_id(store) is None:
        pytest.fail(f"the run did not publish (rc {child.returncode}): {errors[-2000:]}")
    assert not left, f"processes outlived the run: {left}"
    assert child.returncode == 0, f"published, yet rc {child.returncode}: {errors[-600:]}"
    assert "BrokenPipeError" not in errors, errors[-600:]


@pytest.mark.skipif(not LINUX, reason="watches the run's processes through /proc")
def test_ctrl_c_mid_flow_ends_the_run_promptly_and_leaves_nothing(demo: Demo, tmp_path: Path) -> None:
    """The terminal's Ctrl-C signals the whole foreground process group. This is a liveness bound, not a speed
    measurement: the same signal sent to the main process alone ends the run in about a second."""
    store = tmp_path / "store"
    log = tmp_path / "run.log"
    with log.open("w", encoding="utf-8") as sink:
        child = subprocess.Popen(
            run_command(demo.sources, store),
            env=_server_free_env(tmp_path / "home"),
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + 180
            while "Beginning flow run" not in log.read_text(encoding="utf-8"):
                if child.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"the flow never began (rc {child.returncode})")
                time.sleep(0.02)
            if not _servers(child.pid):
                pytest.fail("the run's own server is not running mid-flow")
            os.killpg(child.pid, signal.SIGINT)
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                raise AssertionError("Ctrl-C mid-flow: the run was still running 15 s later") from None
            left = wait_run_gone(child.pid, 20)
        finally:
            kill_run(child.pid)
    assert child.returncode != 0
    assert current_run_id(store) is None
    assert not left, f"processes outlived the interrupted run: {left}"


@pytest.mark.skipif(not LINUX, reason="the parent-death signal and /proc are Linux's")
def test_the_fallback_server_dies_with_a_run_killed_outright(demo: Demo, tmp_path: Path) -> None:
    """The run's first server is killed before it answers: the server the run falls back to must die with the run
    too (Prefect's own temporary server, the earlier fallback, outlived a run killed outright)."""
    child = subprocess.Popen(
        run_command(demo.sources, tmp_path / "store"),
        env=_server_free_env(tmp_path / "home"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        own: set[int] = set()
        fallback: dict[int, str] = {}
        while not fallback:
            if child.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"no fallback server appeared (rc {child.returncode}, servers seen {own})")
            for pid, command in _servers(child.pid).items():
                if not own:
                    # The run's own server, still importing: killed before it answers, so the run must fall back.
                    os.kill(pid, signal.SIGKILL)
                    own.add(pid)
                elif pid not in own:
                    fallback[pid] = command
            time.sleep(0.01)
        time.sleep(1.0)  # let it get going
        if child.poll() is not None:
            pytest.fail(f"the run ended before it could be killed (rc {child.returncode})")
        os.kill(child.pid, signal.SIGKILL)  # a scheduler's hard timeout: no exit handler runs
        child.wait(timeout=60)
        left = wait_run_gone(child.pid, 10)  # the run's own server is gone ~2 s after such a kill
    finally:
        kill_run(child.pid)
    assert not left, f"Prefect's temporary server outlived the killed run: {left}"

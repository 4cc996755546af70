"""The deployment as operators run it: a real Prefect server, a process work pool, `prefect deploy` of the repo's
prefect.yaml (a copy pointing at a tiny province and a temporary store), a run of the deployment, and a worker
that executes it with `--run-once`. Everything goes through the `prefect` command line, as docs/run-nightly.md
shows it."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
import yaml

from sachsong.store.history import read_runs
from sachsong.store.reader import current_manifest

from .conftest import AS_OF

REPO = Path(__file__).resolve().parents[2]
PREFECT = str(Path(sys.executable).with_name("prefect"))
POOL = "sachsong-test"
DEPLOYMENT = "demo-44"

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _prefect_env(home: Path, api_url: str) -> dict[str, str]:
    # Nothing from the developer's own Prefect profile or from the test harness may leak in.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(
        PREFECT_HOME=str(home),
        PREFECT_PROFILES_PATH=str(home / "profiles.toml"),
        PREFECT_API_URL=api_url,
        PREFECT_API_DATABASE_CONNECTION_URL=f"sqlite+aiosqlite:///{home / 'prefect.db'}",
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_UI_ENABLED="false",
        DO_NOT_TRACK="1",
        GX_ANALYTICS_ENABLED="false",
    )
    return env


def _prefect(env: dict[str, str], *args: str, timeout: float = 120) -> str:
    completed = subprocess.run(
        [PREFECT, *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert completed.returncode == 0, (
        f"prefect {' '.join(args)} failed:\n{completed.stdout}\n{completed.stderr}"
    )
    return completed.stdout


def _wait_healthy(api_url: str, server: subprocess.Popen, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(f"prefect server exited with {server.returncode}")
        try:
            if httpx.get(f"{api_url}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"prefect server not healthy after {timeout} s")


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _deployment_file(target: Path, sources: Path, store: Path) -> Path:
    """The repo's prefect.yaml with the test pool and parameters pointing at temporary folders."""
    config = yaml.safe_load((REPO / "prefect.yaml").read_text(encoding="utf-8"))
    [deployment] = [d for d in config["deployments"] if d["name"] == DEPLOYMENT]
    deployment["work_pool"]["name"] = POOL
    deployment["parameters"].update(sources=str(sources), store=str(store), as_of=AS_OF)
    config["deployments"] = [deployment]
    target.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return target


def test_deployment_runs_on_a_process_worker(demo_sources: Path, tmp_path: Path) -> None:
    home = tmp_path / "prefect-home"
    home.mkdir()
    port = _free_port()
    api_url = f"http://127.0.0.1:{port}/api"
    env = _prefect_env(home, api_url)
    store = tmp_path / "store"
    prefect_file = _deployment_file(tmp_path / "prefect.yaml", demo_sources, store)

    server = subprocess.Popen(
        [PREFECT, "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        _wait_healthy(api_url, server)
        _prefect(env, "work-pool", "create", "--type", "process", POOL)
        _prefect(env, "--no-prompt", "deploy", "--all", "--prefect-file", str(prefect_file))

        deployment = httpx.get(f"{api_url}/deployments/name/province-nightly/{DEPLOYMENT}", timeout=10).json()
        assert deployment["work_pool_name"] == POOL
        assert deployment["parameters"]["store"] == str(store)
        # No pull section: the worker runs the flow from the checkout it was deployed from.
        [pull] = deployment["pull_steps"]
        assert pull["prefect.deployments.steps.set_working_directory"]["directory"] == str(REPO)
        [schedule] = deployment["schedules"]
        assert schedule["schedule"]["cron"] == "0 2 * * *"
        assert schedule["schedule"]["timezone"] == "Asia/Ho_Chi_Minh"

        started = _prefect(env, "deployment", "run", f"province-nightly/{DEPLOYMENT}")
        triggered = re.search(r"UUID:\s*([0-9a-f-]{36})", started).group(1)
        worker = subprocess.run(
            [PREFECT, "worker", "start", "--pool", POOL, "--run-once"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=240,
        )
        assert worker.returncode == 0, worker.stdout[-3000:] + worker.stderr[-3000:]

        runs = httpx.post(
            f"{api_url}/flow_runs/filter",
            json={"deployments": {"id": {"any_": [deployment["id"]]}}},
            timeout=10,
        ).json()
        ours = [run for run in runs if run["id"] == triggered]
        states = [(run["state"]["type"], run["state"]["message"]) for run in ours]
        assert [state for state, _ in states] == ["COMPLETED"], f"{states}\n{worker.stdout[-4000:]}"
        # Anything else is the scheduler's: future nightly runs at 02:00 Vietnam time.
        hanoi = ZoneInfo("Asia/Ho_Chi_Minh")
        for run in runs:
            if run["id"] != triggered:
                assert run["state"]["type"] == "SCHEDULED"
                at = datetime.fromisoformat(run["expected_start_time"]).astimezone(hanoi)
                assert (at.hour, at.minute) == (2, 0)
    finally:
        _stop(server)

    manifest = current_manifest(store)
    assert manifest is not None and manifest["row_counts"]["residents_records"] > 0
    history = read_runs(store)
    assert history["status"].to_list() == ["published"]
    assert history["run_id"].to_list() == [manifest["run_id"]]

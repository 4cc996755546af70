"""The national Prefect flow runs the room on the planted stores and returns where the site is."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("DO_NOT_TRACK", "1")


@pytest.fixture(scope="module")
def prefect_harness():
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


def test_national_task_calls_the_room(stores: Path, tmp_path: Path) -> None:
    from sachsong.pipelines.national_flow import national_task

    summary = national_task.fn(str(stores), str(tmp_path / "national"), 2, None, "live")
    assert Path(summary["index"]).is_file()
    assert '<details open data-criterion="live">' in Path(summary["index"]).read_text(encoding="utf-8")
    assert {r["province_code"] for r in summary["not_current"] if r["status"] == "refused"} == {"48"}


@pytest.mark.slow  # a Prefect test server starts for it (minutes on the loaded shared machine)
def test_national_flow(stores: Path, tmp_path: Path, prefect_harness: None) -> None:
    from sachsong.pipelines.national_flow import national_nightly

    summary = national_nightly(stores=str(stores), output=str(tmp_path / "national"), stale_days=2)
    assert Path(summary["index"]).is_file()
    assert Path(summary["database"]).name == "national.duckdb"
    statuses = {row["province_code"]: row["status"] for row in summary["not_current"]}
    assert statuses["48"] == "refused" and statuses["46"] == "stale" and statuses["96"] == "failed"
    assert "3 CCCD link(s)" in summary["summary"]


def test_deployment_scheduled_after_the_provinces() -> None:
    import yaml

    config = yaml.safe_load(
        (Path(__file__).resolve().parents[2] / "prefect.yaml").read_text(encoding="utf-8")
    )
    deployments = {d["name"]: d for d in config["deployments"]}
    national = deployments["national"]
    assert national["entrypoint"] == "pipelines/national_flow.py:national_nightly"
    province_hours = [
        int(s["cron"].split()[1])
        for name, d in deployments.items()
        if name != "national"
        for s in d["schedules"]
    ]
    [schedule] = national["schedules"]
    assert int(schedule["cron"].split()[1]) > max(province_hours)
    assert schedule["timezone"] == "Asia/Ho_Chi_Minh"

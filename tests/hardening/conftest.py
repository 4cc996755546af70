"""Hardening fixtures: one Prefect test server, one generated province, and helpers to run `sachsong run` in a
child process and to prove a store is intact.

The demo is cut down to a handful of exports (one of each format the generator writes, then the largest) plus one
hand-written export with broken rows, so a whole nightly run takes seconds and every outcome (published,
quarantined, rejected) occurs.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pytest

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")

AS_OF = "2026-11-01"
PROVINCE = "44"
DEMO_PERSONS = 150
DEMO_SEED = 23
EXPORTS_KEPT = 7
TABLES = {
    "residents_records",
    "residents_golden",
    "quarantine",
    "findings",
    "rejects",
    "review_queue",
    "source_files",
}
SACHSONG = Path(sys.executable).with_name("sachsong")

# A hand-written export whose rows ingest must reject one by one (too many / too few fields). Its people are made
# up here, so the leak test scans for them too: rejected rows carry their raw line into the store.
BROKEN_EXPORT = "zz_broken_rows.csv"
BROKEN_PEOPLE = [
    # (full name, citizen id, phone)
    ("Hoàng Thị Xuân Mai", "044185012345", "0912 345 678"),
    ("Đặng Văn Quyết", "045079054321", "0987654321"),
    ("Tôn Nữ Thu Hà", "046190067890", "+84 935 111 222"),
]
BROKEN_TEXT = (
    "Họ và tên,Số CCCD,Điện thoại,Ngày sinh\n"
    f"{BROKEN_PEOPLE[0][0]},{BROKEN_PEOPLE[0][1]},{BROKEN_PEOPLE[0][2]},12/03/1985\n"
    f"{BROKEN_PEOPLE[1][0]},{BROKEN_PEOPLE[1][1]},{BROKEN_PEOPLE[1][2]},01/01/1979,thừa,cột\n"
    f"{BROKEN_PEOPLE[2][0]},{BROKEN_PEOPLE[2][1]}\n"
)
BROKEN_ROWS = 3  # data rows in BROKEN_TEXT, counted by hand


@dataclass(frozen=True)
class Demo:
    sources: Path  # the folder `sachsong run --sources` reads (exports/ inside)
    exports: Path
    records: pl.DataFrame  # the generator's truth, one row per record of the kept exports
    persons: pl.DataFrame  # the people behind those records
    files: dict[str, dict]  # source_file → the generator's description of that export (format, encoding, ...)


@pytest.fixture(scope="session")
def prefect_api(tmp_path_factory: pytest.TempPathFactory) -> str:
    """One Prefect test server for the session; child processes reach it through PREFECT_API_URL."""
    from prefect.settings import PREFECT_API_URL
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield PREFECT_API_URL.value()


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    from sachsong.demo.residents import write_demo

    generated = tmp_path_factory.mktemp("generated")
    write_demo(generated, province=PROVINCE, persons=DEMO_PERSONS, seed=DEMO_SEED)
    meta = json.loads((generated / "truth" / "meta.json").read_text(encoding="utf-8"))
    files = {entry["source_file"]: entry for entry in meta["files"]}
    by_format: dict[str, str] = {}
    for name, entry in sorted(files.items(), key=lambda item: -item[1]["rows"]):
        by_format.setdefault(entry["format"], name)
    chosen = list(by_format.values())
    chosen += [n for n, _ in sorted(files.items(), key=lambda i: -i[1]["rows"]) if n not in chosen]
    kept = chosen[: max(EXPORTS_KEPT, len(by_format))]

    sources = tmp_path_factory.mktemp("sources")
    exports = sources / "exports"
    for name in kept:
        target = exports / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(generated / "exports" / name, target)
    (exports / BROKEN_EXPORT).write_text(BROKEN_TEXT, encoding="utf-8")
    records = pl.read_parquet(generated / "truth" / "records.parquet").filter(
        pl.col("source_file").is_in(kept)
    )
    persons = pl.read_parquet(generated / "truth" / "persons.parquet").join(
        records.select("person_id").unique(), on="person_id", how="semi"
    )
    return Demo(sources, exports, records, persons, {name: files[name] for name in kept})


def child_env(home: Path, api_url: str | None) -> dict[str, str]:
    """The environment of a `sachsong run` child: its own PREFECT_HOME, the session's server, no phoning home."""
    env = dict(os.environ)
    env.update(
        PREFECT_HOME=str(home),
        GX_ANALYTICS_ENABLED="false",
        DO_NOT_TRACK="1",
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PYTHONUNBUFFERED="1",
    )
    if api_url:
        env["PREFECT_API_URL"] = api_url
    home.mkdir(parents=True, exist_ok=True)
    return env


def run_command(sources: Path, store: Path) -> list[str]:
    return [
        str(SACHSONG),
        "run",
        "--sources",
        str(sources),
        "--store",
        str(store),
        "--as-of",
        AS_OF,
        "--province",
        PROVINCE,
    ]


def run_cli(sources: Path, store: Path, home: Path, api_url: str, timeout: float = 300) -> tuple[int, str]:
    """`sachsong run` in a child process; (exit code, everything it wrote to stdout and stderr)."""
    done = subprocess.run(
        run_command(sources, store),
        env=child_env(home, api_url),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
        check=False,
    )
    return done.returncode, done.stdout


def assert_store_intact(store: Path) -> str:
    """CURRENT names a complete snapshot: its DuckDB opens read-only, every table's content hash recomputed from
    the database equals the manifest's and the `runs` row's, and its Parquet copies hold the same row counts.
    Returns the live run id."""
    from sachsong.store.history import read_runs
    from sachsong.store.publish import table_content_hash
    from sachsong.store.reader import current_run_id, current_snapshot, open_current, read_manifest

    run_id = current_run_id(store)
    assert run_id is not None, f"{store}: CURRENT is missing"
    snapshot = current_snapshot(store)
    assert snapshot is not None and not snapshot.name.endswith(".tmp")
    manifest = read_manifest(snapshot)
    assert manifest["run_id"] == run_id
    connection = open_current(store)
    try:
        present = {
            row[0]
            for row in connection.execute("SELECT table_name FROM information_schema.tables").fetchall()
        }
        assert present >= TABLES, f"snapshot {run_id} lacks {TABLES - present}"
        recomputed = {table: table_content_hash(connection, table) for table in manifest["table_hashes"]}
        counts = {
            table: connection.execute(f'SELECT count(*) FROM "{table}"').fetchall()[0][0]
            for table in manifest["row_counts"]
        }
    finally:
        connection.close()
    assert recomputed == manifest["table_hashes"], f"snapshot {run_id}: tables differ from their manifest"
    assert counts == manifest["row_counts"]
    for table, rows in counts.items():
        assert pl.read_parquet(snapshot / "parquet" / f"{table}.parquet").height == rows, table
    runs = read_runs(store).filter(pl.col("run_id") == run_id)
    assert runs.height == 1, f"live snapshot {run_id} has {runs.height} rows in history.runs (want 1)"
    row = runs.row(0, named=True)
    assert row["status"] == "published"
    assert json.loads(row["table_hashes"]) == recomputed
    return run_id


@dataclass(frozen=True)
class Baseline:
    store: Path
    output: str  # everything `sachsong run` wrote to stdout and stderr
    run_id: str


@pytest.fixture(scope="session")
def baseline(demo: Demo, prefect_api: str, tmp_path_factory: pytest.TempPathFactory) -> Baseline:
    """One real nightly run of the demo through the CLI, in a child process, with its whole output kept."""
    work = tmp_path_factory.mktemp("baseline")
    store = work / "store"
    code, output = run_cli(demo.sources, store, work / "prefect-home", prefect_api)
    assert code == 0, output[-3000:]
    return Baseline(store, output, assert_store_intact(store))


def copy_store(store: Path, target: Path, with_cache: bool = False) -> Path:
    """A copy of a store; without the flow's work caches (hidden folders such as `.work`, `.prefect-results`)
    unless asked, so every step really runs again."""
    ignore = None if with_cache else shutil.ignore_patterns(".*")
    shutil.copytree(store, target, ignore=ignore)
    return target


def run_processes(session: int) -> dict[int, str]:
    """pid → command line of every live process of a run started with `start_new_session=True` (`session` is its
    pid): its process group, and its temporary server's (a group of its own, so the terminal's Ctrl-C reaches the
    run alone, in the run's session). Linux (/proc)."""
    members = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            # After the name: state, ppid, pgrp, session; a zombie only waits for its parent to read its status.
            if session not in (int(fields[2]), int(fields[3])) or fields[0] == "Z":
                continue
            command = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except (OSError, IndexError, ValueError):
            continue
        members[int(stat.parent.name)] = command
    return members


def wait_run_gone(session: int, seconds: float) -> dict[int, str]:
    """What of the run is still alive after up to `seconds` (a killed run's server needs ~2 s to notice)."""
    deadline = time.monotonic() + seconds
    while (left := run_processes(session)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


def kill_run(session: int) -> None:
    """SIGKILL every process of the run (its group and its server's)."""
    for pid in run_processes(session):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)

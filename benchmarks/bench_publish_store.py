"""The publish step alone, on a real night's step files: how long `_write_tables` takes to build a snapshot.

    .venv/bin/python benchmarks/bench_publish_store.py --store STORE [--baseline OLD_PUBLISH.py] [--repeats 3]
                                                       [--memory-limit 5GB] [--workdir DIR]

STORE is a store a night has just run on (`sachsong run ... --store STORE`), its `.work` folder intact. The
script takes that night's step outputs (the newest checks, matching and identity folders, and the newest prepare
folders that add up to the checks' record count, in the order of the live snapshot's row_uids), builds the
snapshot's tables with `pipelines.steps.snapshot_tables` and, in a fresh child process each time, writes them
with `store.publish._write_tables` into a scratch folder. With `--baseline`, a copy of another version of
store/publish.py (e.g. `git show REV:store/publish.py > /tmp/publish_before.py`) runs too, alternating with the
current one, so both are measured under the same machine load.

Prints per version the median wall and CPU seconds (user + system of the child, all threads), the per-table
seconds of the median run, the database and Parquet sizes, and whether every table's content hash equals the
live snapshot's (it must: the same tables, however written). No asserts on timing: read the ratios.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType


def night_tables(store: Path) -> tuple[dict, dict]:
    """The live snapshot's tables as `snapshot_tables` builds them from `.work`, and the live manifest."""
    import polars as pl

    from sachsong.pipelines.steps import STEP_MANIFEST, WORK_DIR, StepOutput, snapshot_tables
    from sachsong.store.reader import current_snapshot, read_manifest

    work = store / WORK_DIR

    def output(directory: Path) -> StepOutput:
        recorded = json.loads((directory / STEP_MANIFEST).read_text(encoding="utf-8"))
        return StepOutput(directory.parent.name, recorded["key"], str(directory), recorded["counts"], reused=True)

    def by_age(step: str) -> list[Path]:  # newest first: a reused step's manifest is touched when reused
        folders = [d for d in (work / step).iterdir() if (d / STEP_MANIFEST).is_file()]
        return sorted(folders, key=lambda d: (d / STEP_MANIFEST).stat().st_mtime, reverse=True)

    checks, match, identity = (output(by_age(step)[0]) for step in ("checks", "matching", "identity"))
    batches, rows = [], 0
    for folder in by_age("prepare"):
        if rows >= checks.counts["records"]:
            break
        batch = output(folder)
        batches.append(batch)
        rows += batch.counts["rows_in"] - batch.counts["rows_rejected"]
    if rows != checks.counts["records"]:
        raise SystemExit(f"{work}: no set of newest prepare folders holds the checks' {checks.counts['records']} rows")
    snapshot = current_snapshot(store)
    manifest = read_manifest(snapshot)
    # The batches' order decides the row_uids: the live records table says which batch came first.
    published = pl.read_parquet(
        snapshot / "parquet" / "residents_records.parquet", columns=["row_uid", "source_file", "source_row"]
    )

    def first_row_uid(batch: StepOutput) -> int:
        head = pl.read_parquet(batch.path("standardized"), columns=["source_file", "source_row"], n_rows=1000)
        return head.join(published, on=["source_file", "source_row"]).get_column("row_uid").min()

    batches.sort(key=first_row_uid)
    return snapshot_tables(manifest.get("dataset", "residents"), batches, checks, match, identity), manifest


def load_publish(path: str | None) -> ModuleType:
    if path is None:
        from sachsong.store import publish

        return publish
    spec = importlib.util.spec_from_file_location("publish_baseline", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def child(store: Path, module_path: str | None, memory_limit: str, workdir: Path) -> dict:
    tables, manifest = night_tables(store)
    publish = load_publish(module_path)
    # The baseline module has its own ParquetQuery class.
    tables = {name: publish.ParquetQuery(q.sql, q.files, q.row_numbers) for name, q in tables.items()}
    building = Path(tempfile.mkdtemp(dir=workdir)) / "snapshot"
    building.mkdir()
    seconds: dict[str, float] = {}
    before = resource.getrusage(resource.RUSAGE_SELF)
    clock = time.perf_counter()
    _, hashes = publish._write_tables(building, tables, memory_limit, seconds)
    wall = time.perf_counter() - clock
    after = resource.getrusage(resource.RUSAGE_SELF)
    database_mb = (building / "store.duckdb").stat().st_size / 1e6
    parquet_mb = sum(p.stat().st_size for p in (building / "parquet").iterdir()) / 1e6
    shutil.rmtree(building.parent)
    return {
        "wall": wall,
        "cpu": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
        "seconds": seconds,
        "same_hashes": hashes == manifest["table_hashes"],
        "database_mb": database_mb,
        "parquet_mb": parquet_mb,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--store", type=Path, required=True)
    parser.add_argument("--baseline", help="another version of store/publish.py, run alternately")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--memory-limit", default="5GB", help="the flow's PUBLISH_MEMORY on this machine")
    parser.add_argument("--workdir", type=Path, help="scratch folder (default: next to the store)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    workdir = args.workdir or args.store.parent
    if args.child is not None:
        print(json.dumps(child(args.store, args.child or None, args.memory_limit, workdir)))
        return
    versions = {"current": ""} | ({"baseline": args.baseline} if args.baseline else {})
    runs: dict[str, list[dict]] = {name: [] for name in versions}
    for _ in range(args.repeats):
        for name, module_path in versions.items():
            command = [sys.executable, __file__, "--store", str(args.store), "--memory-limit", args.memory_limit,
                       "--workdir", str(workdir), "--child", module_path]  # fmt: skip
            done = subprocess.run(command, capture_output=True, text=True)
            if done.returncode:
                raise SystemExit(f"{name} failed:\n{done.stderr}")
            runs[name].append(json.loads(done.stdout.strip().splitlines()[-1]))
    medians = {}
    for name, measured in runs.items():
        wall = statistics.median(run["wall"] for run in measured)
        medians[name] = (wall, statistics.median(run["cpu"] for run in measured))
        typical = min(measured, key=lambda run: abs(run["wall"] - wall))
        walls = ", ".join(f"{run['wall']:.1f}" for run in measured)
        print(
            f"{name}: wall {wall:.2f} s (runs {walls}), "
            f"CPU {medians[name][1]:.2f} s, store.duckdb {typical['database_mb']:.0f} MB, "
            f"Parquet {typical['parquet_mb']:.0f} MB, hashes as published: "
            f"{all(run['same_hashes'] for run in measured)}"
        )
        print("  " + ", ".join(f"{table} {s:.2f}" for table, s in typical["seconds"].items() if s >= 0.05))
    if "baseline" in medians:
        (wall, cpu), (old_wall, old_cpu) = medians["current"], medians["baseline"]
        print(f"current / baseline: wall {wall / old_wall:.2f}, CPU {cpu / old_cpu:.2f}")


if __name__ == "__main__":
    main()

"""The whole nightly flow on a generated province, against matching alone measured in the same run.

    .venv/bin/python benchmarks/bench_flow.py --persons 20000 [--dask local] [--workdir DIR]
    .venv/bin/python benchmarks/bench_flow.py --demo DIR            # an existing `sachsong demo-data DIR`

Two phases, each in its own Python process so their peak memory is measured apart:
1. direct: `run_province` (the function the flow wraps) with its steps called directly, no Prefect — its
   matching step is the yardstick;
2. flow: the nightly flow cold on a new store, then again on the same store (resumed from the work cache);
   the flow's own seconds per step come from its summary. The rooms' code is fingerprinted once for both runs.

Prints seconds and ratios: flow / matching alone, and flow / direct room calls (orchestration overhead: task
runs, Parquet hand-over, the gate, publish, history, report). No timing asserts: read the ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
AS_OF = date(2026, 11, 1)


def _peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6  # kilobytes on Linux


def phase_direct(demo: Path, province: str) -> dict:
    """The same pipeline function the flow wraps, with its steps called directly (no Prefect), cold."""
    import tempfile

    from sachsong.pipelines.province import DirectRunner, run_province

    cpu = time.process_time()
    with tempfile.TemporaryDirectory() as scratch:
        summary = run_province(
            "residents", demo, Path(scratch) / "store", AS_OF, province=province, runner=DirectRunner()
        )
    return {
        "records": summary["row_counts"].get("residents_records", 0),
        "steps": summary["step_seconds"],
        "cpu": time.process_time() - cpu,
        "peak_rss_gb": _peak_rss_gb(),
    }


def phase_flow(demo: Path, store: Path, province: str, dask: str | None) -> dict:
    from prefect import flow

    import sachsong.pipelines.flows as flows
    import sachsong.pipelines.province as province_module

    # Fingerprint the rooms' code once: a colleague saving a room's file between the cold run and the rerun
    # would otherwise (rightly) invalidate the cache and turn the rerun into a second cold run.
    code = province_module.code_fingerprint()
    province_module.code_fingerprint = lambda: code

    @flow(name="bench-warm-up")
    def warm_up() -> int:
        return 1

    clock = time.perf_counter()
    warm_up()  # the temporary Prefect server starts once per process: keep its start-up out of the flow times
    server = time.perf_counter() - clock
    runs = []
    for _ in range(2):  # cold, then a rerun on the same store
        clock, cpu = time.perf_counter(), time.process_time()
        summary = flows.province_nightly(
            province, str(demo), str(store), as_of=AS_OF.isoformat(), dask_address=dask
        )
        runs.append(
            {
                "seconds": time.perf_counter() - clock,
                "cpu": time.process_time() - cpu,
                "steps": summary["step_seconds"],
                "batches": summary["batches"],
                "reused": sorted(set(summary["reused_steps"])),
            }
        )
    return {"server_start": server, "cold": runs[0], "rerun": runs[1], "peak_rss_gb": _peak_rss_gb()}


def _run_phase(args: list[str]) -> dict:
    """Run one phase in a child process; its last stdout line is the phase's JSON."""
    completed = subprocess.run(
        [sys.executable, __file__, *args], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    if completed.returncode != 0:
        raise SystemExit(
            f"phase {args[:2]} failed (exit {completed.returncode}):\n{completed.stdout[-4000:]}"
        )
    return json.loads(completed.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=20000)
    parser.add_argument("--demo", default=None, help="an existing demo folder (skips generation)")
    parser.add_argument("--province", default="44")
    parser.add_argument("--dask", default=None, help="Dask address or 'local'")
    parser.add_argument("--workdir", default=None, help="kept after the run when given")
    parser.add_argument("--phase", choices=["direct", "flow"], help=argparse.SUPPRESS)
    parser.add_argument("--store", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.phase == "direct":
        print(json.dumps(phase_direct(Path(args.demo), args.province)))
        return
    if args.phase == "flow":
        print(json.dumps(phase_flow(Path(args.demo), Path(args.store), args.province, args.dask)))
        return

    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="bench_flow_"))
    workdir.mkdir(parents=True, exist_ok=True)
    if args.demo:
        demo = Path(args.demo)
    else:
        from sachsong.demo.residents import write_demo

        demo = workdir / "demo"
        clock = time.perf_counter()
        summary = write_demo(demo, province=args.province, persons=args.persons)
        print(f"demo: {summary.describe().splitlines()[0]}  ({time.perf_counter() - clock:.1f} s)")
    store = workdir / "store"
    shutil.rmtree(store, ignore_errors=True)

    common = ["--demo", str(demo), "--province", args.province]
    direct = _run_phase(["--phase", "direct", *common])
    flow_args = ["--phase", "flow", "--store", str(store), *common]
    flowed = _run_phase([*flow_args, "--dask", args.dask] if args.dask else flow_args)

    matching = direct["steps"]["matching"]
    direct_total = sum(direct["steps"].values())
    cold, rerun = flowed["cold"], flowed["rerun"]
    print(
        f"records: {direct['records']}   flow batches: {cold['batches']}   runner: {args.dask or 'threads'}"
    )
    print(f"matching alone:             {matching:8.2f} s   1.00x")
    print(f"pipeline, direct (no Prefect): {direct_total:5.2f} s   {direct_total / matching:5.2f}x matching")
    print(
        f"nightly flow (cold):        {cold['seconds']:8.2f} s   {cold['seconds'] / matching:5.2f}x matching, "
        f"{cold['seconds'] / direct_total:5.2f}x direct"
    )
    print(
        f"nightly flow (rerun/cache): {rerun['seconds']:8.2f} s   {rerun['seconds'] / matching:5.2f}x matching, "
        f"{rerun['seconds'] / cold['seconds']:5.2f}x cold flow   (reused: {', '.join(rerun['reused'])})"
    )
    # CPU seconds of each phase's process (all threads; the temporary Prefect server is another process): steadier
    # than wall clock on a shared machine.
    print(
        f"CPU seconds: direct {direct['cpu']:.1f}, flow cold {cold['cpu']:.1f} "
        f"({cold['cpu'] / direct['cpu']:.2f}x direct), rerun {rerun['cpu']:.1f}"
    )
    print(f"prefect temporary server start: {flowed['server_start']:.1f} s (not counted above)")
    print(f"peak RSS: direct {direct['peak_rss_gb']:.2f} GB, flow {flowed['peak_rss_gb']:.2f} GB")
    print("direct, per step:  " + ", ".join(f"{k} {v:.1f} s" for k, v in direct["steps"].items()))
    print("flow cold, per step: " + ", ".join(f"{k} {v:.1f} s" for k, v in cold["steps"].items()))
    print("flow rerun, per step: " + ", ".join(f"{k} {v:.1f} s" for k, v in rerun["steps"].items()))
    if not args.workdir:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()

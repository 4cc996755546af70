"""The whole nightly flow on a generated province, against matching alone measured in the same run.

    .venv/bin/python benchmarks/bench_flow.py --persons 20000 [--dask local] [--workdir DIR]

Prints seconds and ratios: flow / matching alone, and flow / the same room calls made directly (no Prefect),
which isolates orchestration overhead (task runs, persisted results, the gate, history, report). A second flow
run on the same store shows what the cache saves on a rerun. No timing asserts: read the ratios.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from datetime import date
from pathlib import Path

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=20000)
    parser.add_argument("--province", default="44")
    parser.add_argument("--dask", default=None, help="Dask address or 'local'")
    parser.add_argument("--workdir", default=None, help="kept after the run when given")
    args = parser.parse_args()

    from sachsong.matching.dedupe import dedupe_standardized
    from sachsong.pipelines.flows import province_nightly
    from sachsong.rules.engine import check_standardized
    from sachsong.sources.demo import write_demo
    from sachsong.sources.ingest import ingest_directory
    from sachsong.standardize.residents import standardize_residents

    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="bench_flow_"))
    as_of = date(2026, 11, 1)
    demo = workdir / "demo"
    clock = time.perf_counter()
    summary = write_demo(demo, province=args.province, persons=args.persons)
    print(f"demo: {summary.describe().splitlines()[0]}  ({time.perf_counter() - clock:.1f} s)")

    # The same room calls, direct (baseline for orchestration overhead), with matching timed alone.
    clock = time.perf_counter()
    ingested = ingest_directory(demo)
    standardized = standardize_residents(ingested.table)
    first = check_standardized(standardized, as_of, province_code=args.province)
    match_clock = time.perf_counter()
    matched = dedupe_standardized(first.passed)
    matching_alone = time.perf_counter() - match_clock
    check_standardized(standardized, as_of, clusters=matched.clusters, province_code=args.province)
    direct = time.perf_counter() - clock

    from prefect import flow

    @flow(name="bench-warm-up")
    def warm_up() -> int:
        return 1

    clock = time.perf_counter()
    warm_up()  # the temporary Prefect server starts once per process: keep its start-up out of the flow times
    print(f"prefect temporary server start: {time.perf_counter() - clock:.1f} s (not counted below)")

    store = workdir / "store"
    clock = time.perf_counter()
    province_nightly(args.province, str(demo), str(store), as_of=as_of.isoformat(), dask_address=args.dask)
    flow_cold = time.perf_counter() - clock
    clock = time.perf_counter()
    province_nightly(args.province, str(demo), str(store), as_of=as_of.isoformat(), dask_address=args.dask)
    flow_rerun = time.perf_counter() - clock

    records = standardized.height
    print(f"records: {records}")
    print(f"matching alone:             {matching_alone:8.2f} s   1.00x")
    print(f"room calls, direct:         {direct:8.2f} s   {direct / matching_alone:5.2f}x matching")
    print(
        f"nightly flow (cold):        {flow_cold:8.2f} s   {flow_cold / matching_alone:5.2f}x matching, "
        f"{flow_cold / direct:5.2f}x direct"
    )
    print(
        f"nightly flow (rerun/cache): {flow_rerun:8.2f} s   {flow_rerun / matching_alone:5.2f}x matching, "
        f"{flow_rerun / flow_cold:5.2f}x cold flow"
    )
    if not args.workdir:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()

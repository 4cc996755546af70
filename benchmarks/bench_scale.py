"""The whole nightly flow at province scale: wall time per million records and peak memory of the run.

    .venv/bin/python benchmarks/bench_scale.py --persons 100000
    .venv/bin/python benchmarks/bench_scale.py --compare 700000,7000000     # ≈ 1M vs ≈ 10M records
    (--persons 700000,7000000 is the same)

The 10M run is a documented command, not a CI step: it needs tens of GB of disk for the demo exports and the
store, and most of an hour on 2 cores.

For each size: the demo province is generated (`sachsong demo-data`, not timed), then `sachsong run` runs in a
child process against one Prefect server started here (so its start-up is not counted, as in production where the
server is already up). Peak RSS is that child tree's, read with `resource.getrusage(RUSAGE_CHILDREN)` in a
measuring process that runs nothing else. Baselines, measured in the same run:
- `sachsong ingest` of the same exports (reading every file, the least any run must do): flow / ingest;
- with --compare, the first size's seconds per million records: how far from linear the larger sizes are.
No thresholds: read the ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

AS_OF = "2026-11-01"
KILL_ABOVE_ENV = "SACHSONG_BENCH_KILL_ABOVE_GB"
SACHSONG = Path(sys.executable).with_name("sachsong")


def measure(command: list[str], env: dict[str, str], log: Path) -> dict[str, float]:
    """Run `command` from a fresh measuring process: wall seconds and the peak RSS (MiB) of its process tree."""
    probe = [sys.executable, __file__, "--measure", str(log), "--", *command]
    done = subprocess.run(probe, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        lines = done.stdout.strip().splitlines()
        # The figures of a failed run still matter (how far it got, how much memory it held): print them.
        figures = json.loads(lines[-1]) if lines else {}
        if figures.get("killed_above_limit"):
            sys.exit(
                f"{' '.join(command[:2])}: killed, its processes held more than {env[KILL_ABOVE_ENV]} GB; "
                f"{json.dumps(figures)}; log: {log}"
            )
        sys.exit(
            f"measuring {' '.join(command[:2])} failed: {json.dumps(figures)}\n{done.stderr[-3000:]}\nlog: {log}"
        )
    return json.loads(done.stdout.strip().splitlines()[-1])


def _tree_rss_bytes(root: int) -> int:
    """Resident bytes of `root` and all its descendants now (from /proc: Linux only)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as handle:
                parent = int(handle.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(parent, []).append(int(entry))
    total, stack, page = 0, [root], os.sysconf("SC_PAGE_SIZE")
    while stack:
        pid = stack.pop()
        try:
            with open(f"/proc/{pid}/statm", encoding="ascii") as handle:
                total += int(handle.read().split()[1]) * page
        except (OSError, IndexError, ValueError):
            pass
        stack.extend(children.get(pid, []))
    return total


def _measure_child(log: Path, command: list[str]) -> None:
    # RUSAGE_CHILDREN is the largest resident set among this process's waited-for descendants: this process runs
    # exactly one command, so that is the command's process tree (Prefect's and Dask's children included).
    # With KILL_ABOVE_GB set, the tree's summed RSS is polled and the run killed past it: a size that does not
    # fit must fail alone, not take the shared machine down with it.
    limit = float(os.environ.get(KILL_ABOVE_ENV) or 0) * 1e9
    started = time.perf_counter()
    killed = False
    tree_peak = 0
    with open(log, "w", encoding="utf-8") as output:
        child = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
        while child.poll() is None:
            if limit:
                tree_peak = max(tree_peak, _tree_rss_bytes(child.pid))
                if tree_peak > limit:
                    os.killpg(child.pid, 9)
                    killed = True
            time.sleep(0.5)
        code = child.wait()
    wall = time.perf_counter() - started
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    result = {
        "wall_s": wall,
        "peak_rss_mib": peak_kib / 1024,
        "exit_code": code,
        "killed_above_limit": killed,
    }
    if limit:
        result["tree_peak_rss_mib"] = tree_peak / 2**20
    print(json.dumps(result))
    sys.exit(0 if code == 0 else 1)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_prefect_server(home: Path) -> tuple[subprocess.Popen, str]:
    """A Prefect server for the children (its start-up kept out of the timings)."""
    port = _free_port()
    env = dict(os.environ, PREFECT_HOME=str(home), PREFECT_SERVER_ANALYTICS_ENABLED="false", DO_NOT_TRACK="1")
    server = subprocess.Popen(
        [str(SACHSONG.with_name("prefect")), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}/api"
    import urllib.request

    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                if response.status == 200:
                    return server, url
        except OSError:
            time.sleep(0.5)
    server.kill()
    sys.exit("the Prefect server did not start within 180 s")


# The demo generator holds a whole province in memory (≈2.3 GB per million persons): larger sizes are generated
# as shards of at most this many persons, each with its own seed, written into one exports folder.
SHARD_PERSONS = 1_000_000


def generate_demo(persons: int, demo: Path, env: dict[str, str], province: str) -> None:
    """`sachsong demo-data` into `demo`; above SHARD_PERSONS, shards 2… go to `exports/shard-<k>/` (ingest walks
    sub-folders; same-named files in two shards get distinct source ids). Reused when `demo` is complete."""
    done = demo / "complete.txt"
    if done.is_file() and done.read_text(encoding="utf-8").strip() == f"{persons} {province}":
        return
    shutil.rmtree(demo, ignore_errors=True)
    shards = max(1, -(-persons // SHARD_PERSONS))
    for shard in range(shards):
        size = persons // shards + (1 if shard < persons % shards else 0)
        target = demo if shard == 0 else demo.with_name(f"{demo.name}.shard-{shard + 1}")
        command = [str(SACHSONG), "demo-data", str(target), "--persons", str(size), "--province", province]
        command += ["--seed", str(7 + shard)]
        subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL)
        if shard:
            os.rename(target / "exports", demo / "exports" / f"shard-{shard + 1}")
            shutil.rmtree(target)
    done.write_text(f"{persons} {province}\n", encoding="utf-8")


def run_size(persons: int, workdir: Path, env: dict[str, str], province: str, dask: str | None) -> dict:
    from sachsong.store.history import read_runs

    demo, store = workdir / f"demo-{persons}", workdir / f"store-{persons}"
    clock = time.perf_counter()
    generate_demo(persons, demo, env, province)
    generated = time.perf_counter() - clock
    exports_bytes = sum(p.stat().st_size for p in (demo / "exports").rglob("*") if p.is_file())

    ingest = measure(
        [str(SACHSONG), "ingest", str(demo), "--output", str(workdir / f"ingest-{persons}.parquet")],
        env,
        workdir / f"ingest-{persons}.log",
    )
    command = [str(SACHSONG), "run", "--sources", str(demo), "--store", str(store), "--as-of", AS_OF]
    command += ["--province", province] + (["--dask", dask] if dask else [])
    flow = measure(command, env, workdir / f"run-{persons}.log")
    run = read_runs(store).row(-1, named=True)
    if run["status"] != "published":
        sys.exit(f"run at {persons} persons did not publish: {run['message']}")
    records = int(run["rows_in"])
    return {
        "persons": persons,
        "records": records,
        "exports_mib": exports_bytes / 2**20,
        "generate_s": generated,
        "ingest_s": ingest["wall_s"],
        "flow_s": flow["wall_s"],
        "flow_s_per_million": flow["wall_s"] / records * 1e6,
        "peak_rss_mib": flow["peak_rss_mib"],
        "ingest_peak_rss_mib": ingest["peak_rss_mib"],
    }


def report(results: list[dict]) -> None:
    first = results[0]
    print()
    print(
        f"{'persons':>9} {'records':>10} {'exports':>9} {'ingest':>8} {'flow':>9} {'flow/ingest':>11} "
        f"{'s per 1M rec':>12} {'vs first':>8} {'marginal':>10} {'peak RSS':>9}"
    )
    for previous, r in zip([None, *results], results, strict=False):
        # Seconds per extra million records between two sizes: the fixed start-up cost drops out.
        marginal = (
            (r["flow_s"] - previous["flow_s"]) / (r["records"] - previous["records"]) * 1e6
            if previous and r["records"] != previous["records"]
            else None
        )
        print(
            f"{r['persons']:>9} {r['records']:>10} {r['exports_mib']:>7.1f}MB {r['ingest_s']:>7.1f}s "
            f"{r['flow_s']:>8.1f}s {r['flow_s'] / r['ingest_s']:>10.2f}x {r['flow_s_per_million']:>11.1f}s "
            f"{r['flow_s_per_million'] / first['flow_s_per_million']:>7.2f}x "
            f"{'' if marginal is None else f'{marginal:.1f}s':>10} {r['peak_rss_mib'] / 1024:>7.2f}GB"
        )
    print(
        "\nflow/ingest: the whole nightly run against reading the same exports once (same machine, same run); "
        "vs first: seconds per million records against the first size's (1.00 = linear scaling); marginal: "
        "seconds per extra million records from the previous size (fixed start-up cost excluded)."
    )
    print(json.dumps(results, indent=1))


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--measure":
        _measure_child(Path(sys.argv[2]), sys.argv[sys.argv.index("--") + 1 :])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--persons",
        default="100000",
        help="demo size in persons, or several comma-separated (default 100000)",
    )
    parser.add_argument("--compare", help="comma-separated sizes in persons, e.g. 700000,7000000")
    parser.add_argument("--province", default="44")
    parser.add_argument("--dask", default=None, help="Dask address or 'local' (passed to sachsong run)")
    parser.add_argument("--workdir", default=None, help="kept after the run when given")
    parser.add_argument(
        "--kill-above-gb",
        type=float,
        default=None,
        help="kill a run whose process tree holds more than this (GB) and report it (default: no limit)",
    )
    args = parser.parse_args()
    sizes = [int(size) for size in (args.compare or args.persons).split(",")]

    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="bench_scale_"))
    workdir.mkdir(parents=True, exist_ok=True)
    home = workdir / "prefect-home"
    server, api_url = start_prefect_server(home)
    env = dict(
        os.environ,
        PREFECT_HOME=str(home),
        PREFECT_API_URL=api_url,
        GX_ANALYTICS_ENABLED="false",
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        DO_NOT_TRACK="1",
    )
    if args.kill_above_gb:
        env[KILL_ABOVE_ENV] = str(args.kill_above_gb)
    print(f"workdir {workdir}, Prefect server {api_url}, sizes {sizes} persons", flush=True)
    results = []
    try:
        for persons in sizes:
            result = run_size(persons, workdir, env, args.province, args.dask)
            print(
                f"{persons} persons: {result['records']} records, flow {result['flow_s']:.1f} s, "
                f"peak RSS {result['peak_rss_mib']:.0f} MiB (demo generated in {result['generate_s']:.1f} s)",
                flush=True,
            )
            results.append(result)
    finally:
        os.killpg(server.pid, 9)
        server.wait()
    report(results)
    if not args.workdir:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()

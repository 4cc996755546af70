"""Dedupe keeping every scored pair (keep_pairs=True) against the lean mode the nightly flow uses (keep_pairs=False:
compare and score per chunk of candidate pairs, only what clustering and the review queue need kept), issue 7.

    .venv/bin/python benchmarks/bench_dedupe_lean.py                           # synthetic 30k records
    .venv/bin/python benchmarks/bench_dedupe_lean.py --records 1000000
    .venv/bin/python benchmarks/bench_dedupe_lean.py --input std.parquet       # a standardized table
    .venv/bin/python benchmarks/bench_dedupe_lean.py --pair-chunk 500000

Each mode runs in its own child process on the same input: it reads the table, then a thread samples the RSS
every 10 ms while `dedupe_standardized` runs. Prints wall seconds, peak RSS and its rise over the loaded input,
the ratios lean / keep, and whether both modes gave identical clusters, golden records and review queue
(`DataFrame.equals`). jemalloc is told to return freed pages at once (as the CLI does), so the RSS follows what
is live. No asserts on timing: read the ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("_RJEM_MALLOC_CONF", "dirty_decay_ms:0,muzzy_decay_ms:0")

import polars as pl

OUTPUTS = ("clusters", "golden", "review")


def _rss_gb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e9


def child(input_path: str, keep_pairs: bool, pair_chunk: int, out_dir: str) -> None:
    """One dedupe run: prints a JSON line of figures, writes its outputs as Parquet into `out_dir`."""
    from sachsong.matching.dedupe import DedupeConfig, dedupe_standardized

    std = pl.read_parquet(input_path)
    std = std.drop([c for c in ("person_id", "household_id") if c in std.columns])  # the synth's truth
    loaded = _rss_gb()
    peak = [loaded]
    running = threading.Event()
    running.set()

    def sample() -> None:
        while running.is_set():
            peak[0] = max(peak[0], _rss_gb())
            time.sleep(0.01)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    start = time.perf_counter()
    result = dedupe_standardized(std, config=DedupeConfig(keep_pairs=keep_pairs, pair_chunk=pair_chunk))
    seconds = time.perf_counter() - start
    running.clear()
    sampler.join()
    mode = "keep" if keep_pairs else "lean"
    for name in OUTPUTS:
        getattr(result, name).write_parquet(Path(out_dir) / f"{mode}_{name}.parquet")
    figures = {
        "mode": mode,
        "records": std.height,
        "pairs": result.pairs_scored,
        "review": result.review.height,
        "seconds": round(seconds, 2),
        "peak_gb": round(peak[0], 3),
        "rise_gb": round(peak[0] - loaded, 3),
        "timings": {k: round(v, 2) for k, v in result.timings.items()},
    }
    print(json.dumps(figures), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--input", help="a standardized residents table (.parquet); default: synthetic records"
    )
    parser.add_argument("--records", type=int, default=30_000, help="synthetic records when no --input")
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--pair-chunk", type=int, default=2_000_000)
    parser.add_argument("--child", nargs=4, metavar=("INPUT", "KEEP", "CHUNK", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        input_path, keep, chunk, out_dir = args.child
        child(input_path, keep == "1", int(chunk), out_dir)
        return
    with tempfile.TemporaryDirectory(prefix="bench_dedupe_lean_") as work:
        input_path = args.input
        if input_path is None:
            sys.path.insert(0, str(Path(__file__).resolve().parent))
            from dedupe_synth import make_residents, persons_for_records

            input_path = str(Path(work) / "std.parquet")
            make_residents(persons_for_records(args.records), seed=args.seed).write_parquet(input_path)
        figures = {}
        for keep in ("1", "0"):
            command = [sys.executable, __file__, "--child", input_path, keep, str(args.pair_chunk), work]
            done = subprocess.run(command, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                sys.exit(f"child keep_pairs={keep == '1'} failed:\n{done.stderr}")
            row = json.loads(done.stdout.strip().splitlines()[-1])
            figures[row["mode"]] = row
            print(json.dumps(row))
        keep, lean = figures["keep"], figures["lean"]
        print(
            f"{keep['records']} records, {keep['pairs']} candidate pairs, pair_chunk {args.pair_chunk}: "
            f"peak {keep['peak_gb']:.2f} -> {lean['peak_gb']:.2f} GB (x{lean['peak_gb'] / keep['peak_gb']:.2f}), "
            f"rise over the input {keep['rise_gb']:.2f} -> {lean['rise_gb']:.2f} GB "
            f"(x{lean['rise_gb'] / max(keep['rise_gb'], 1e-9):.2f}), "
            f"time {keep['seconds']:.1f} -> {lean['seconds']:.1f} s (x{lean['seconds'] / keep['seconds']:.2f})"
        )
        for name in OUTPUTS:
            same = pl.read_parquet(Path(work) / f"keep_{name}.parquet").equals(
                pl.read_parquet(Path(work) / f"lean_{name}.parquet")
            )
            print(f"{name}: {'identical' if same else 'DIFFERENT'}")


if __name__ == "__main__":
    main()

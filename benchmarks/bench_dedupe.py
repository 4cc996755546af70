"""Dedupe accuracy and speed on synthetic Vietnamese residents, against an exact-match baseline in the same run.

    .venv/bin/python benchmarks/bench_dedupe.py                    # 30k records
    .venv/bin/python benchmarks/bench_dedupe.py --records 1000000  # 1M records
    .venv/bin/python benchmarks/bench_dedupe.py --records 10000 30000 100000
    .venv/bin/python benchmarks/bench_dedupe.py --noise harder     # every noise rate doubled, digit swaps

Baseline (measured here, same data): exact-match dedupe — records with the same CCCD, or the same folded name and
date of birth, are one person (transitively). Reported: pairwise precision / recall / F1 (no labels are used by
the matcher; truth only scores it), wall time, peak RSS, and ratios against the baseline.
"""

from __future__ import annotations

import argparse
import gc
import resource
import sys
import time
from pathlib import Path

import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent))

from dedupe_metrics import pairwise_scores
from dedupe_synth import Noise, make_residents, persons_for_records

from sachsong.matching.cluster import connected_components
from sachsong.matching.dedupe import dedupe_standardized

# Splink 5 on 1.02M records on this machine class, measured by compare_splink.py (round 3, this repo's tuned
# model, docs/matching-benchmarks.md); not re-measured in this run — compare_splink.py does both in one run.
SPLINK_REFERENCE = {"records": 1_020_000, "seconds": 205.3, "peak_gb": 3.86}


def peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024  # Linux: KiB


def exact_baseline(std: pl.DataFrame) -> pl.Series:
    """Cluster label per record: same CCCD or same (name_key, dob), closed transitively."""
    edges = []
    for keys in (["cccd"], ["name_key", "dob"]):
        grouped = std.filter(pl.all_horizontal(pl.col(k).is_not_null() for k in keys)).select(
            "row_uid", pl.col("row_uid").min().over(keys).alias("anchor")
        )
        edges.append(
            grouped.filter(pl.col("row_uid") != pl.col("anchor")).select(
                pl.col("anchor").alias("left_uid"), pl.col("row_uid").alias("right_uid")
            )
        )
    components = connected_components(std["row_uid"], pl.concat(edges))
    return std.select("row_uid").join(components, on="row_uid", maintain_order="left")["component"]


# `--noise harder`: every noise rate of the default synth doubled, plus 1% adjacent-digit swaps in the birth
# year, the CCCD serial and the phone (a stress test of blocking and comparisons, not the benchmark's figure).
HARDER_NOISE = {
    "name_typo": 0.12,
    "no_diacritics": 0.12,
    "drop_middle": 0.10,
    "tone_change": 0.06,
    "dob_swap": 0.08,
    "dob_year_only": 0.10,
    "dob_digit": 0.06,
    "dob_missing": 0.06,
    "id_missing": 0.30,
    "id_typo": 0.02,
    "phone_changed": 0.24,
    "phone_missing": 0.30,
    "ward_moved": 0.08,
    "ward_missing": 0.06,
    "sex_missing": 0.10,
    "sex_wrong": 0.006,
    "dob_year_swap": 0.01,
    "id_swap": 0.01,
    "phone_swap": 0.01,
}


def run(records: int, seed: int, noise: str = "default") -> dict[str, float]:
    persons = persons_for_records(records)
    start = time.perf_counter()
    std = make_residents(persons, seed=seed, noise=Noise(**HARDER_NOISE) if noise == "harder" else None)
    generated = time.perf_counter() - start
    truth = std["person_id"]
    matcher_input = std.drop("person_id", "household_id")  # the matcher never sees the truth
    gc.collect()

    start, cpu_start = time.perf_counter(), time.process_time()
    baseline = exact_baseline(matcher_input)
    baseline_seconds = time.perf_counter() - start
    baseline_cpu = time.process_time() - cpu_start
    base = pairwise_scores(baseline, truth)

    start, cpu_start = time.perf_counter(), time.process_time()
    result = dedupe_standardized(matcher_input)
    seconds = time.perf_counter() - start
    cpu_seconds = time.process_time() - cpu_start
    ours = pairwise_scores(
        matcher_input.select("row_uid").join(result.clusters, on="row_uid", maintain_order="left")[
            "cluster_id"
        ],
        truth,
    )
    return {
        "records": std.height,
        "persons": persons,
        "generate_s": generated,
        "baseline_s": baseline_seconds,
        "baseline_precision": base["precision"],
        "baseline_recall": base["recall"],
        "baseline_f1": base["f1"],
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
        "baseline_cpu_s": baseline_cpu,
        "precision": ours["precision"],
        "recall": ours["recall"],
        "f1": ours["f1"],
        "pairs": result.pairs.height,
        "review": result.review.height,
        "peak_rss_gb": peak_rss_gb(),
        "timings": result.timings,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, nargs="+", default=[30_000])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--noise", choices=("default", "harder"), default="default")
    args = parser.parse_args()
    for records in args.records:
        r = run(records, args.seed, args.noise)
        print(f"\n== {r['records']:,} records ({r['persons']:,} persons; synth {r['generate_s']:.1f}s) ==")
        print(f"{'':22}{'precision':>10}{'recall':>10}{'F1':>10}{'wall s':>10}{'CPU s':>10}")
        print(
            f"{'exact-match baseline':22}{r['baseline_precision']:>10.4f}{r['baseline_recall']:>10.4f}"
            f"{r['baseline_f1']:>10.4f}{r['baseline_s']:>10.2f}{r['baseline_cpu_s']:>10.2f}"
        )
        print(
            f"{'sachsong matcher':22}{r['precision']:>10.4f}{r['recall']:>10.4f}{r['f1']:>10.4f}"
            f"{r['seconds']:>10.2f}{r['cpu_seconds']:>10.2f}"
        )
        print(
            f"ratios vs baseline: F1 ×{r['f1'] / r['baseline_f1']:.3f}, recall ×{r['recall'] / r['baseline_recall']:.3f},"
            f" wall time ×{r['seconds'] / max(r['baseline_s'], 1e-9):.1f},"
            f" CPU time ×{r['cpu_seconds'] / max(r['baseline_cpu_s'], 1e-9):.1f}"
        )
        print(
            f"candidate pairs {r['pairs']:,} ({r['pairs'] / r['records']:.1f} per record), "
            f"review queue {r['review']:,}; peak RSS of this process {r['peak_rss_gb']:.2f} GB"
        )
        print("stages: " + ", ".join(f"{k} {v:.2f}s" for k, v in r["timings"].items()))
        scale = r["records"] / SPLINK_REFERENCE["records"]
        print(
            f"Splink reference (not this run): {SPLINK_REFERENCE['seconds']:.0f}s / "
            f"{SPLINK_REFERENCE['peak_gb']} GB on 1.02M; scaled linearly to this size "
            f"{SPLINK_REFERENCE['seconds'] * scale:.1f}s → matcher ×{SPLINK_REFERENCE['seconds'] * scale / r['seconds']:.1f}"
            " faster"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

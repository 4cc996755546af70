"""Dedupe on the demo province (demo/residents.py): raw exports → ingest → standardize →
dedupe, scored against the demo's truth `person_id`, with the exact-match baseline in the same run.

    .venv/bin/python benchmarks/dedupe_demo.py --persons 5000

An independent check of the matcher on data it was not tuned on (different generator, real ingest and
standardization in front of it).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_dedupe import exact_baseline
from dedupe_metrics import pairwise_scores


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    from sachsong.demo.residents import write_demo
    from sachsong.matching.dedupe import dedupe_standardized
    from sachsong.sources.ingest import ingest_directory
    from sachsong.standardize.residents import standardize_residents

    with tempfile.TemporaryDirectory() as tmp:
        write_demo(Path(tmp), persons=args.persons, seed=args.seed)
        raw = ingest_directory(Path(tmp) / "exports").table
        truth = pl.read_parquet(Path(tmp) / "truth" / "records.parquet")
    std = standardize_residents(raw)
    labelled = std.join(
        truth.select("source_file", "source_row", "person_id"),
        left_on=[pl.col("source_file").str.split("/").list.last(), "source_row"],
        right_on=[pl.col("source_file").str.split("/").list.last(), "source_row"],
        how="left",
    )
    labelled = std.select("row_uid").join(
        labelled.select("row_uid", "person_id"), on="row_uid", how="left", maintain_order="left"
    )
    known = labelled["person_id"].is_not_null()
    print(f"{std.height} records, {int(known.sum())} with truth, {labelled['person_id'].n_unique()} persons")

    start = time.perf_counter()
    baseline = exact_baseline(std)
    baseline_s = time.perf_counter() - start
    start = time.perf_counter()
    result = dedupe_standardized(std)
    seconds = time.perf_counter() - start
    ours = std.select("row_uid").join(result.clusters, on="row_uid", maintain_order="left")["cluster_id"]
    for name, labels, secs in (
        ("exact-match baseline", baseline, baseline_s),
        ("sachsong matcher", ours, seconds),
    ):
        s = pairwise_scores(labels.filter(known), labelled["person_id"].filter(known))
        print(
            f"{name:22} precision {s['precision']:.4f} recall {s['recall']:.4f} F1 {s['f1']:.4f}  {secs:.2f}s"
        )
    print(result.describe())
    return 0


if __name__ == "__main__":
    sys.exit(main())

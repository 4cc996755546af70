"""Head-to-head dedupe: sachsong's matcher vs a tuned Splink 5 (DuckDB) on the same standardized records.

    .venv/bin/python benchmarks/compare_splink.py                           # 30k synthetic records
    .venv/bin/python benchmarks/compare_splink.py --records 200000
    .venv/bin/python benchmarks/compare_splink.py --source demo --records 30000   # ingest → standardize first
    .venv/bin/python benchmarks/compare_splink.py --records 1000000 --splink-floor 0   # the 1M run (see docs)

Needs the `bench` extra (`pip install -e '.[bench]'`: splink, recordlinkage).

Both matchers read the same standardized table (Parquet in a scratch directory) in their own subprocess, so the
peak RSS of one never pollutes the other; a third subprocess that only reads the table gives the floor (Python,
polars and the data). Peak RSS comes from `os.wait4`, the per-child form of `getrusage(RUSAGE_CHILDREN)`:
RUSAGE_CHILDREN itself is a maximum over every child reaped so far, so a smaller second child would be hidden.

sachsong runs with no labels at all. Splink gets every advantage the reference setup had: comparisons on folded
name parts (sachsong's `name_key`, so DuckDB's byte-wise Jaro-Winkler sees ASCII), term-frequency adjustments on
names and phone, u by random sampling, m by EM over three blocking rules, and its match-weight threshold chosen
with the labels (the one maximizing pairwise F1, searched over connected components of its predictions — the same
clustering `cluster_pairwise_predictions_at_threshold` does, which the worker runs once, timed, at probability
0.95 and which is checked to agree). Splink is also reported at that label-free 0.95.
Timed: from the standardized table in memory (Splink: in DuckDB) to a cluster id per record. Reading the input
and writing results are not timed for either.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent))

from dedupe_metrics import pairwise_scores

DEMO_RECORDS_PER_PERSON = 1.6  # roughly, for sizing `--source demo` by records
SPLINK_DEFAULT_PROBABILITY = 0.95
# The matchers read only these columns (plus the raw ones sachsong's checks expect); the truth stays outside.
TRUTH_COLUMNS = ("person_id", "household_id")


# --------------------------------------------------------------------------------------------------------------
# Input: the same standardized records for both matchers


def synth_input(records: int, seed: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Synthetic standardized records and their truth (`row_uid, person_id`)."""
    from dedupe_synth import make_residents, persons_for_records

    std = make_residents(persons_for_records(records), seed=seed)
    return std.drop(TRUTH_COLUMNS), std.select("row_uid", "person_id")


def demo_input(records: int, seed: int, scratch: Path) -> tuple[pl.DataFrame, pl.DataFrame]:
    """A demo province's exports → ingest → standardize; truth joined on lineage (records the demo injected
    without a person are left out of the scoring, not of the matching)."""
    from sachsong.demo.residents import write_demo
    from sachsong.sources.ingest import ingest_directory
    from sachsong.standardize.residents import standardize_residents

    demo_dir = scratch / "demo"
    write_demo(demo_dir, persons=max(200, int(records / DEMO_RECORDS_PER_PERSON)), seed=seed)
    std = standardize_residents(ingest_directory(demo_dir).table)
    truth = pl.read_parquet(demo_dir / "truth" / "records.parquet").select(
        "source_file", "source_row", "person_id"
    )
    labelled = std.select("row_uid", "source_file", "source_row").join(
        truth, on=["source_file", "source_row"], how="left"
    )
    return std, labelled.select("row_uid", "person_id").filter(pl.col("person_id").is_not_null())


# --------------------------------------------------------------------------------------------------------------
# Workers (each in its own subprocess)


def worker_floor(input_path: Path, output_dir: Path) -> dict[str, Any]:
    """Read the table and nothing else: the memory every worker pays before matching."""
    std = pl.read_parquet(input_path)
    return {"rows": std.height}


def worker_sachsong(input_path: Path, output_dir: Path) -> dict[str, Any]:
    from sachsong.matching.dedupe import dedupe_standardized

    std = pl.read_parquet(input_path)
    start, cpu_start = time.perf_counter(), time.process_time()
    result = dedupe_standardized(std)
    seconds = time.perf_counter() - start
    cpu_seconds = time.process_time() - cpu_start
    result.clusters.select("row_uid", "cluster_id").write_parquet(output_dir / "sachsong_clusters.parquet")
    return {
        "seconds": seconds,
        "cpu_s": cpu_seconds,
        "stages": result.timings,
        "candidate_pairs": result.pairs.height,
        "review_pairs": result.review.height,
    }


SPLINK_INPUT_SQL = """
CREATE TABLE records AS
WITH src AS (
    SELECT row_uid, nullif(trim(name_key), '') AS name_key, dob, dob_precision, sex_code,
           cccd, cmnd, phone_e164, ward_code
    FROM read_parquet(?)
), parts AS (
    SELECT *, string_split(name_key, ' ') AS words FROM src
)
SELECT
    row_uid AS unique_id,
    name_key,
    words[1] AS family_key,
    CASE WHEN len(words) >= 2 THEN words[-1] END AS given_key,
    CASE WHEN len(words) >= 3 THEN array_to_string(words[2:-2], ' ') END AS middle_key,
    dob,
    dob_precision,
    year(dob) AS birth_year,
    sex_code,
    cccd,
    cmnd,
    phone_e164,
    ward_code
FROM parts
"""


def splink_settings() -> Any:
    """Comparisons, blocking rules and term frequencies of the tuned Splink model."""
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl
    from splink import SettingsCreator, block_on

    def name_part(column: str, jw: list[float]) -> Any:
        levels = [cll.NullLevel(column), cll.ExactMatchLevel(column, term_frequency_adjustments=True)]
        levels += [cll.JaroWinklerLevel(column, t) for t in jw]
        return cl.CustomComparison([*levels, cll.ElseLevel()], output_column_name=column)

    dob = cl.CustomComparison(
        [
            cll.NullLevel("dob"),
            cll.CustomLevel(
                "dob_l = dob_r AND dob_precision_l = 'day' AND dob_precision_r = 'day'", "exact date"
            ),
            cll.CustomLevel(
                "year(dob_l) = year(dob_r) AND (dob_precision_l = 'year' OR dob_precision_r = 'year')",
                "same year, one side year-only",
            ),
            cll.CustomLevel(
                "year(dob_l) = year(dob_r) AND month(dob_l) = day(dob_r) AND day(dob_l) = month(dob_r)",
                "day and month swapped",
            ),
            cll.CustomLevel(
                "levenshtein(strftime(dob_l, '%Y%m%d'), strftime(dob_r, '%Y%m%d')) <= 1", "one digit off"
            ),
            cll.CustomLevel("abs(date_diff('day', dob_l, dob_r)) <= 366", "within a year"),
            # Parents and children share name, address and phone: a generation apart must weigh against.
            cll.CustomLevel("abs(date_diff('day', dob_l, dob_r)) <= 5 * 366", "within five years"),
            cll.ElseLevel(),
        ],
        output_column_name="dob",
    )
    exact_or_one_edit = cl.CustomComparison(
        [
            cll.NullLevel("cccd"),
            cll.ExactMatchLevel("cccd"),
            cll.LevenshteinLevel("cccd", 1),
            cll.ElseLevel(),
        ],
        output_column_name="cccd",
    )
    phone = cl.CustomComparison(
        [
            cll.NullLevel("phone_e164"),
            cll.ExactMatchLevel("phone_e164", term_frequency_adjustments=True),
            cll.ElseLevel(),
        ],
        output_column_name="phone_e164",
    )
    return SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="unique_id",
        comparisons=[
            name_part("family_key", [0.92]),
            name_part("middle_key", [0.88]),
            name_part("given_key", [0.92, 0.8]),
            dob,
            exact_or_one_edit,
            cl.ExactMatch("cmnd"),
            phone,
            cl.ExactMatch("ward_code"),
            cl.ExactMatch("sex_code"),
        ],
        blocking_rules_to_generate_predictions=[
            block_on("cccd"),
            block_on("cmnd"),
            block_on("phone_e164"),
            block_on("given_key", "birth_year"),
            block_on("family_key", "given_key", "dob"),
            block_on("family_key", "dob"),
            block_on("name_key", "ward_code"),
        ],
        retain_matching_columns=False,
        retain_intermediate_calculation_columns=False,
    )


def worker_splink(
    input_path: Path, output_dir: Path, floor_weight: float, u_pairs: float, em_pairs: float, seed: int
) -> dict[str, Any]:
    import logging

    import duckdb
    from splink import DuckDBAPI, Linker, block_on

    con = duckdb.connect()
    stages: dict[str, float] = {}
    start = clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        stages[name] = now - clock
        clock = now

    con.execute(SPLINK_INPUT_SQL, [str(input_path)])  # read + fold name parts; the read is subtracted below
    read_and_prepare = time.perf_counter() - start
    db_api = DuckDBAPI(con)
    linker = Linker(db_api.register("records"), splink_settings(), log_level=logging.ERROR)
    start = clock = time.perf_counter()
    cpu_start = time.process_time()  # every thread of this process (DuckDB's included)
    linker.training.estimate_probability_two_random_records_match(
        [block_on("cccd"), block_on("name_key", "dob")], recall=0.7
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=u_pairs, seed=seed)
    lap("estimate_u")
    # Each EM rule trains m for the comparisons it does not block on: names from same-dob pairs, dob from same-name.
    for rule in (block_on("dob"), block_on("name_key")):
        linker.training.estimate_parameters_using_expectation_maximisation(
            rule, estimate_without_term_frequencies=True, max_pairs=em_pairs
        )
    lap("em")
    predictions = linker.inference.predict(threshold_match_weight=floor_weight)
    lap("predict")
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(
        predictions, threshold_match_probability=SPLINK_DEFAULT_PROBABILITY
    )
    lap("cluster")
    seconds = time.perf_counter() - start
    cpu_seconds = time.process_time() - cpu_start
    pairs_path = output_dir / "splink_predictions.parquet"
    con.execute(
        f"COPY (SELECT unique_id_l, unique_id_r, match_weight FROM {predictions.physical_name}) "
        f"TO '{pairs_path}' (FORMAT parquet)"
    )
    con.execute(
        f"COPY (SELECT unique_id AS row_uid, cluster_id FROM {clusters.physical_name}) "
        f"TO '{output_dir / 'splink_clusters_default.parquet'}' (FORMAT parquet)"
    )
    predicted = con.execute(f"SELECT count(*) FROM {predictions.physical_name}").fetchall()[0][0]
    return {
        "seconds": seconds,
        "cpu_s": cpu_seconds,
        "read_and_prepare_s": read_and_prepare,
        "stages": stages,
        "predicted_pairs": predicted,
    }


def run_worker(kind: str, input_path: Path, output_dir: Path, extra: list[str]) -> dict[str, Any]:
    """One worker in a fresh interpreter; its own peak RSS from wait4 (bytes on Linux: ru_maxrss is KiB)."""
    command = [sys.executable, str(Path(__file__).resolve()), "--worker", kind]
    command += ["--input", str(input_path), "--output", str(output_dir), *extra]
    start = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE)
    assert proc.stdout is not None
    out = proc.stdout.read().decode()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"{kind} worker failed with exit code {proc.returncode}")
    result = json.loads(out.strip().splitlines()[-1])
    result["peak_rss_gb"] = usage.ru_maxrss / 1024 / 1024
    result["process_s"] = time.perf_counter() - start
    return result


# --------------------------------------------------------------------------------------------------------------
# Scoring


def clusters_at(nodes: pl.Series, pairs: pl.DataFrame, weight: float) -> pl.DataFrame:
    """Connected components of the predicted pairs at or above `weight` (what Splink's clustering does)."""
    from sachsong.matching.cluster import connected_components

    edges = pairs.filter(pl.col("match_weight") >= weight).select(
        pl.col("unique_id_l").alias("left_uid"), pl.col("unique_id_r").alias("right_uid")
    )
    return connected_components(nodes, edges)


def score_labels(labels: pl.DataFrame, truth: pl.DataFrame, label: str) -> dict[str, float]:
    scored = truth.join(labels, on="row_uid", how="left")
    return pairwise_scores(scored[label], scored["person_id"])


def best_splink_threshold(
    nodes: pl.Series, pairs: pl.DataFrame, truth: pl.DataFrame, floor_weight: float
) -> tuple[float, dict[str, float], list[tuple[float, float]]]:
    """The match weight maximizing pairwise F1: a coarse sweep (1.0), then a fine one (0.25) around the best."""
    curve: dict[float, dict[str, float]] = {}

    def evaluate(weight: float) -> float:
        if weight not in curve:
            curve[weight] = score_labels(clusters_at(nodes, pairs, weight), truth, "component")
        return curve[weight]["f1"]

    top = max(pairs["match_weight"].max() or floor_weight, floor_weight)
    best = floor_weight
    evaluate(best)
    for step in range(1, math.ceil(top - floor_weight) + 1):
        weight = floor_weight + step
        if evaluate(weight) > curve[best]["f1"]:
            best = weight
        # F1 over thresholds rises then falls: stop well past the peak instead of clustering up to the top.
        if weight > best + 3 and curve[weight]["f1"] < curve[best]["f1"] - 0.05:
            break
    fine = [best + quarter / 4 for quarter in range(-4, 5) if best + quarter / 4 >= floor_weight]
    best = max(fine, key=evaluate)
    return best, curve[best], sorted((w, s["f1"]) for w, s in curve.items())


# --------------------------------------------------------------------------------------------------------------
# Main


def prepare(args: argparse.Namespace, scratch: Path) -> tuple[Path, pl.DataFrame, float]:
    start = time.perf_counter()
    if args.source == "synth":
        std, truth = synth_input(args.records, args.seed)
    else:
        std, truth = demo_input(args.records, args.seed, scratch)
    input_path = scratch / "standardized.parquet"
    std.write_parquet(input_path)
    return input_path, truth, time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=30_000)
    parser.add_argument("--source", choices=("synth", "demo"), default="synth")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--splink-floor",
        type=float,
        default=-5.0,
        help="lowest match weight Splink's predict keeps (the threshold search starts here)",
    )
    parser.add_argument("--u-pairs", type=float, default=1e7, help="Splink u sampling: max_pairs")
    parser.add_argument("--em-pairs", type=float, default=5e6, help="Splink EM: max_pairs per rule")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--worker", choices=("floor", "sachsong", "splink"), help=argparse.SUPPRESS)
    parser.add_argument("--input", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--output", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.worker:
        if args.worker == "splink":
            result = worker_splink(
                args.input, args.output, args.splink_floor, args.u_pairs, args.em_pairs, args.seed
            )
        elif args.worker == "sachsong":
            result = worker_sachsong(args.input, args.output)
        else:
            result = worker_floor(args.input, args.output)
        print(json.dumps(result))
        return 0

    import splink

    with tempfile.TemporaryDirectory(prefix="compare_splink_") as tmp:
        scratch = Path(tmp)
        input_path, truth, prep_s = prepare(args, scratch)
        records = pl.scan_parquet(input_path).select(pl.len()).collect().item()
        print(
            f"{records:,} standardized records ({args.source}, seed {args.seed}; {truth.height:,} labelled, "
            f"{truth['person_id'].n_unique():,} persons) prepared in {prep_s:.1f}s"
        )
        splink_args = ["--splink-floor", str(args.splink_floor), "--u-pairs", str(args.u_pairs)]
        splink_args += ["--em-pairs", str(args.em_pairs), "--seed", str(args.seed)]
        floor = run_worker("floor", input_path, scratch, [])
        ours = run_worker("sachsong", input_path, scratch, [])
        print(f"sachsong done in {ours['seconds']:.1f}s", flush=True)
        theirs = run_worker("splink", input_path, scratch, splink_args)
        print(f"Splink {splink.__version__} done in {theirs['seconds']:.1f}s", flush=True)

        ours_scores = score_labels(
            pl.read_parquet(scratch / "sachsong_clusters.parquet"), truth, "cluster_id"
        )
        splink_default = pl.read_parquet(scratch / "splink_clusters_default.parquet")
        default_scores = score_labels(splink_default, truth, "cluster_id")
        pairs = pl.read_parquet(scratch / "splink_predictions.parquet")
        nodes = pl.read_parquet(input_path, columns=["row_uid"])["row_uid"]
        # Our components at Splink's own threshold must equal Splink's clusters, or the sweep measures something else.
        default_weight = math.log2(SPLINK_DEFAULT_PROBABILITY / (1 - SPLINK_DEFAULT_PROBABILITY))
        replay = clusters_at(nodes, pairs, default_weight)
        agree = score_labels(replay, splink_default.rename({"cluster_id": "person_id"}), "component")
        best_weight, best_scores, curve = best_splink_threshold(nodes, pairs, truth, args.splink_floor)

    rows = [
        ("sachsong (no labels)", ours_scores, ours),
        (f"Splink @ p≥{SPLINK_DEFAULT_PROBABILITY}", default_scores, theirs),
        (f"Splink best (w≥{best_weight:g})", best_scores, theirs),
    ]
    print(f"\n{'':28}{'precision':>10}{'recall':>10}{'F1':>10}{'wall s':>10}{'CPU s':>10}{'peak GB':>10}")
    for name, s, run in rows:
        print(
            f"{name:28}{s['precision']:>10.4f}{s['recall']:>10.4f}{s['f1']:>10.4f}"
            f"{run['seconds']:>10.1f}{run['cpu_s']:>10.1f}{run['peak_rss_gb']:>10.2f}"
        )
    print(f"{'floor (read the table only)':28}{'':>40}{floor['peak_rss_gb']:>10.2f}")
    time_ratio = ours["seconds"] / theirs["seconds"]
    cpu_ratio = ours["cpu_s"] / theirs["cpu_s"]
    rss_ratio = ours["peak_rss_gb"] / theirs["peak_rss_gb"]
    # Above the floor only means something when a matcher actually grew past reading the table.
    splink_growth = theirs["peak_rss_gb"] - floor["peak_rss_gb"]
    above_floor = (
        (ours["peak_rss_gb"] - floor["peak_rss_gb"]) / splink_growth if splink_growth > 0.02 else None
    )
    print(
        f"\nsachsong vs Splink: wall time ×{time_ratio:.2f} ({1 / time_ratio:.1f}x faster), CPU time ×{cpu_ratio:.2f},"
        f" peak RSS ×{rss_ratio:.2f}"
        f" (above the floor {'n/a' if above_floor is None else f'×{above_floor:.2f}'}); F1 {ours_scores['f1'] - best_scores['f1']:+.4f} vs Splink's"
        f" best, {ours_scores['f1'] - default_scores['f1']:+.4f} vs Splink @ 0.95"
    )
    # A nightly deployment could train Splink once and reuse the model: compare against scoring alone too.
    splink_scoring = theirs["stages"]["predict"] + theirs["stages"]["cluster"]
    print(
        f"vs Splink's predict + cluster alone (a model trained once, reused): time ×"
        f"{ours['seconds'] / splink_scoring:.2f}"
    )
    print("sachsong stages: " + ", ".join(f"{k} {v:.1f}s" for k, v in ours["stages"].items()))
    print(
        "Splink stages: "
        + ", ".join(f"{k} {v:.1f}s" for k, v in theirs["stages"].items())
        + f" (+ read and fold in DuckDB {theirs['read_and_prepare_s']:.1f}s, untimed)"
    )
    print(
        f"pairs scored: sachsong {ours['candidate_pairs']:,}, Splink {theirs['predicted_pairs']:,} kept at"
        f" weight ≥ {args.splink_floor:g}; replaying Splink's clustering at p≥0.95 agrees: "
        f"{agree['f1']:.6f} pairwise F1 with Splink's own"
    )
    near = [(w, f) for w, f in curve if abs(w - best_weight) <= 3]
    print(
        "Splink F1 by match-weight threshold near its best: " + ", ".join(f"{w:g}:{f:.4f}" for w, f in near)
    )
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "records": records,
                    "source": args.source,
                    "seed": args.seed,
                    "splink_version": splink.__version__,
                    "floor": floor,
                    "sachsong": {**ours, **ours_scores},
                    "splink_default": {**theirs, **default_scores},
                    "splink_best": {**theirs, **best_scores, "threshold_weight": best_weight},
                    "ratios": {
                        "time": time_ratio,
                        "cpu": cpu_ratio,
                        "time_vs_splink_scoring_only": ours["seconds"] / splink_scoring,
                        "peak_rss": rss_ratio,
                        "rss_above_floor": above_floor,
                    },
                },
                indent=2,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark: the scorecards on N synthetic records.

Builds, in a temporary directory, N synthetic records of province 44 (row_uid, ids, source, commune), their
findings (row-level errors and warnings of the residents pack's rules, plus dataset-level ones naming empty
communes and stale sources) and a store of 3 published runs (snapshots + history), then times:

- `compute_scores` on the N records, warm (median of --repeat calls);
- `build_report` on the 3-run store (site + Excel + JSON + CSV), warm;
- the cold start: the first `compute_scores` and the first `build_report` in a fresh child process (imports,
  reference data, rule pack, Jinja template), timed apart from the warm calls.

Ratios are against baselines measured in the same run on the same frames: a plain polars group_by count of the
findings per (rule, criterion, severity), and the same findings joined to the records and counted per
(commune, criterion) — the least any per-commune scoring must do.

    .venv/bin/python benchmarks/bench_reports.py [--records 300000] [--repeat 3] [--seed 7]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import numpy as np
import polars as pl

from sachsong.reports.scores import compute_scores, province_wards, rule_catalogue

PROVINCE = "44"
FIRST_AS_OF = date(2026, 11, 1)
RUNS = 3
FINDING_RATE = 0.12  # row-level findings per record (errors and warnings of random pack rules)


def synthetic_run(records: int, seed: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Records (the report's columns only) and findings with the shapes of a real run."""
    rng = np.random.default_rng(seed)
    wards = province_wards(PROVINCE).get_column("ward_code").to_numpy()
    # A few communes send nothing; about 1% of records resolve to no commune.
    empty_wards = set(wards[rng.choice(len(wards), size=3, replace=False)])
    sending = np.array([w for w in wards if w not in empty_wards])
    ward = sending[rng.integers(0, len(sending), records)].astype(object)
    ward[rng.random(records) < 0.01] = None
    sources = np.array([f"src_{i:03d}" for i in range(max(2, records // 1500))])
    source = sources[rng.integers(0, len(sources), records)]
    frame = pl.DataFrame(
        {
            "row_uid": np.arange(records, dtype=np.int64),
            "record_id": [f"HK-{i:08d}" for i in range(records)],
            "source_id": source,
            "source_row": rng.integers(1, 5000, records),
            "ward_code": pl.Series(ward, dtype=pl.String),
            "province_code": PROVINCE,
        }
    )
    catalogue = rule_catalogue().filter(pl.col("scope") == "row")
    count = int(records * FINDING_RATE)
    picks = catalogue[rng.integers(0, catalogue.height, count)]
    flagged = rng.integers(0, records, count)
    row_findings = pl.DataFrame(
        {
            "row_uid": flagged.astype(np.int64),
            "record_id": frame.get_column("record_id").gather(flagged),
            "source_id": frame.get_column("source_id").gather(flagged),
            "rule_id": picks.get_column("rule_id"),
            "criterion": picks.get_column("criterion"),
            "severity": picks.get_column("severity"),
            "message": "synthetic",
            "value": None,
        },
        schema_overrides={"value": pl.String},
    )
    stale = sources[rng.choice(len(sources), size=max(1, len(sources) // 20), replace=False)]
    dataset_rows = [
        (None, None, None, "commune_without_records", "sufficient", "error", "synthetic", w)
        for w in empty_wards
    ] + [(None, None, s, "source_not_refreshed", "live", "warning", "synthetic", s) for s in stale]
    dataset = pl.DataFrame(dataset_rows, schema=row_findings.schema, orient="row")
    return frame, pl.concat([row_findings, dataset])


def write_store(root: Path, records: int, seed: int) -> tuple[Path, pl.DataFrame, pl.DataFrame]:
    """A store of RUNS published runs (layout of docs/ARCHITECTURE.md); returns the live run's frames."""
    store = root / "store"
    history = []
    runs = []
    for number in range(RUNS):
        as_of = FIRST_AS_OF + timedelta(days=number)
        run_id = f"{PROVINCE}-{as_of:%Y%m%d}"
        frame, findings = synthetic_run(records, seed + number)
        history.append(compute_scores(frame, findings, run_id, as_of, PROVINCE))
        started = datetime.combine(as_of, datetime.min.time()) + timedelta(hours=2)
        runs.append((run_id, PROVINCE, as_of, started, started + timedelta(minutes=20), "published", records))
        snapshot = store / "snapshots" / run_id
        snapshot.mkdir(parents=True)
        connection = duckdb.connect(str(snapshot / "store.duckdb"))
        try:
            connection.register("records_frame", frame)
            connection.register("findings_frame", findings)
            connection.execute("CREATE TABLE residents_records AS SELECT * FROM records_frame")
            connection.execute("CREATE TABLE quarantine AS SELECT * FROM records_frame LIMIT 0")
            connection.execute("CREATE TABLE findings AS SELECT * FROM findings_frame")
            connection.execute(
                "CREATE TABLE residents_golden AS SELECT DISTINCT row_uid // 2 AS cluster_id FROM records_frame"
            )
            connection.execute("CREATE TABLE review_queue AS SELECT row_uid FROM records_frame LIMIT 50")
        finally:
            connection.close()
    run_frame = pl.DataFrame(
        runs,
        schema={
            "run_id": pl.String,
            "province_code": pl.String,
            "as_of": pl.Date,
            "started_at": pl.Datetime("us"),
            "finished_at": pl.Datetime("us"),
            "status": pl.String,
            "rows_in": pl.Int64,
        },
        orient="row",
    ).with_columns(
        pl.col("rows_in").alias("rows_published"),
        pl.lit(0, dtype=pl.Int64).alias("rows_quarantined"),
        pl.lit(0, dtype=pl.Int64).alias("rows_rejected"),
    )
    connection = duckdb.connect(str(store / "history.duckdb"))
    try:
        connection.register("runs_frame", run_frame)
        connection.register("scores_frame", pl.concat(history))
        connection.execute("CREATE TABLE runs AS SELECT * FROM runs_frame")
        connection.execute("CREATE TABLE score_history AS SELECT * FROM scores_frame")
    finally:
        connection.close()
    (store / "CURRENT").write_text(runs[-1][0] + "\n", encoding="utf-8")
    return store, frame, findings


def timed(function, repeat: int) -> float:
    """Median wall-clock seconds of `repeat` calls."""
    seconds = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds)


COLD_SCRIPT = """
import json, sys, time
start = time.perf_counter()
import polars as pl
from sachsong.reports.scores import compute_scores
from sachsong.reports.site import build_report
imported = time.perf_counter()
records = pl.read_parquet(sys.argv[1]); findings = pl.read_parquet(sys.argv[2])
loaded = time.perf_counter()
compute_scores(records, findings, "cold", "2026-11-03", "44")
scored = time.perf_counter()
build_report(sys.argv[3], sys.argv[4])
built = time.perf_counter()
print(json.dumps({"import": imported - start, "compute_scores": scored - loaded, "build_report": built - scored}))
"""


def cold_start(root: Path, store: Path, frame: pl.DataFrame, findings: pl.DataFrame) -> dict[str, float]:
    """First calls in a fresh interpreter: imports, reference data, rule pack and template loading included."""
    frame.write_parquet(root / "records.parquet")
    findings.write_parquet(root / "findings.parquet")
    output = subprocess.run(
        [
            sys.executable,
            "-c",
            COLD_SCRIPT,
            str(root / "records.parquet"),
            str(root / "findings.parquet"),
            str(store),
            str(root / "cold-site"),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(output.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=300_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    from sachsong.reports.site import build_report

    with tempfile.TemporaryDirectory(prefix="bench-reports-") as tmp:
        root = Path(tmp)
        start = time.perf_counter()
        store, frame, findings = write_store(root, args.records, args.seed)
        setup = time.perf_counter() - start
        print(
            f"{args.records:,} records × {RUNS} runs, {findings.height:,} findings in the live run "
            f"(store built in {setup:.1f} s)"
        )
        cold = cold_start(root, store, frame, findings)

        def baseline_count() -> None:
            findings.group_by("rule_id", "criterion", "severity").len()

        def baseline_commune() -> None:
            (
                findings.filter(pl.col("severity") == "error")
                .join(frame.select("row_uid", "ward_code"), on="row_uid")
                .group_by("ward_code", "criterion")
                .agg(pl.col("row_uid").n_unique())
            )

        def scores() -> None:
            compute_scores(frame, findings, "bench", FIRST_AS_OF + timedelta(days=RUNS), PROVINCE)

        def report() -> None:
            build_report(store, root / "site")

        scores()  # warm: reference data and rule pack cached, as in a long-lived worker
        report()
        seconds = {
            "baseline: group_by count of findings": timed(baseline_count, args.repeat),
            "baseline: findings ⋈ records, count per commune": timed(baseline_commune, args.repeat),
            "compute_scores (warm)": timed(scores, args.repeat),
            "build_report, 3-run store (warm)": timed(report, args.repeat),
        }
    base = seconds["baseline: group_by count of findings"]
    commune_base = seconds["baseline: findings ⋈ records, count per commune"]
    width = max(len(name) for name in seconds)
    print(f"{'step':<{width}}  {'seconds':>8}  {'× count':>9}  {'× commune':>9}")
    for name, value in seconds.items():
        print(f"{name:<{width}}  {value:8.3f}  {value / base:9.1f}  {value / commune_base:9.1f}")
    print(
        f"cold start in a fresh process: imports {cold['import']:.2f} s, first compute_scores "
        f"{cold['compute_scores']:.2f} s (warm ×{cold['compute_scores'] / seconds['compute_scores (warm)']:.1f}), "
        f"first build_report {cold['build_report']:.2f} s "
        f"(warm ×{cold['build_report'] / seconds['build_report, 3-run store (warm)']:.1f})"
    )


if __name__ == "__main__":
    main()

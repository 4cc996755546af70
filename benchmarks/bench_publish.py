"""Publishing a big records table as a polars DataFrame vs as a ParquetQuery that DuckDB streams (issue 7).

    .venv/bin/python benchmarks/bench_publish.py [--rows 1000000] [--batches 8] [--memory-limits 2GB,512MB]
                                                 [--workdir DIR] [--keep]

Generates `--rows` standardized-looking records (30 columns, mostly strings, Vietnamese text) as one Parquet
file per batch, plus a clusters file in another order — the flow's step outputs. Then, each in its own child
process, publishes the `residents_records` table (passed rows LEFT JOIN clusters, ORDER BY row_uid):
- frame: as the flow does today — polars reads every batch, joins the clusters, sorts, `publish_snapshot` gets
  the DataFrame;
- query: `publish_snapshot` gets a `ParquetQuery` over the same files (once per `--memory-limits` value);
- imports: only imports polars, duckdb and the store (the floor every child pays).

A wrapper process starts each child and reads its peak RSS with `resource.getrusage(RUSAGE_CHILDREN)`, so each
figure is that one child's. Prints wall seconds, peak RSS and ratios query / frame, and checks that both ways
published the same content hash. No asserts on timing: read the ratios.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sachsong.vietnamese_names import FAMILY_NAME_SHARES

RECORDS_SQL = (
    "SELECT p.*, c.cluster_id, c.cluster_size, c.confidence "
    "FROM passed AS p LEFT JOIN clusters AS c USING (row_uid) ORDER BY row_uid"
)
FAMILY = [name for name, _ in FAMILY_NAME_SHARES[:14]]  # the demo's most common family names
MIDDLE = ["Văn", "Thị", "Đức", "Minh", "Ngọc", "Thanh", "Hữu", "Quốc", "Xuân", "Thuý"]
GIVEN = [
    "An",
    "Bình",
    "Chi",
    "Dũng",
    "Giang",
    "Hoà",
    "Hùng",
    "Lan",
    "Linh",
    "Mai",
    "Nam",
    "Phúc",
    "Sĩ",
    "Tâm",
]
STREETS = ["Lê Lợi", "Trần Hưng Đạo", "Nguyễn Huệ", "Hai Bà Trưng", "Điện Biên Phủ", "Lý Thường Kiệt"]


def generate(workdir: Path, rows: int, batches: int, seed: int = 7) -> dict:
    """Write `batches` passed-row files and one clusters file; one batch in memory at a time."""
    import numpy as np
    import polars as pl

    workdir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    wards = [f"{code:05d}" for code in rng.choice(30000, size=120, replace=False)]
    per_batch = -(-rows // batches)
    passed_files = []
    for batch in range(batches):
        first, last = batch * per_batch, min(rows, (batch + 1) * per_batch)
        n = last - first

        def pick(values: list[str], size: int = n) -> pl.Series:
            return pl.Series(values).gather(rng.integers(0, len(values), size))

        uid = pl.int_range(first, last, eager=True, dtype=pl.Int64)
        family, middle, given = pick(FAMILY), pick(MIDDLE), pick(GIVEN)
        ward = pick(wards)
        digits = pl.Series(rng.integers(0, 10**12, n)).cast(pl.String).str.zfill(12)
        phone = pl.Series(rng.integers(0, 10**8, n)).cast(pl.String).str.zfill(8)
        house = pl.Series(rng.integers(1, 400, n)).cast(pl.String)
        frame = pl.DataFrame(
            {
                "row_uid": uid,
                "record_id": "R" + uid.cast(pl.String),
                "source_id": pick([f"src_{i:02d}" for i in range(12)]),
                "full_name": family + " " + middle + " " + given,
                "date_of_birth": pl.Series(rng.integers(0, 28000, n)).cast(pl.Date).dt.strftime("%d/%m/%Y"),
                "sex": pick(["Nam", "Nữ", "nam", "NU"]),
                "citizen_id": digits,
                "phone": "09" + phone,
                "address": "Số " + house + " " + pick(STREETS) + ", Phường " + ward,
                "commune_code": ward,
                "updated_at": pick([f"2026-{m:02d}-15" for m in range(1, 11)]),
                "name_norm": family + " " + middle + " " + given,
                "name_key": (family + " " + middle + " " + given).str.to_lowercase(),
                "family_name": family,
                "middle_name": middle,
                "given_name": given,
                "dob": pl.Series(rng.integers(0, 28000, n)).cast(pl.Date),
                "dob_precision": pick(["day", "day", "day", "year"]),
                "sex_code": pick(["M", "F"]),
                "cccd": digits,
                "cmnd": pick(["", "", "", "012345678"]),
                "phone_e164": "+849" + phone,
                "ward_code": ward,
                "province_code": pick(["44", "45"]),
                "address_status": pick(["exact", "exact", "fuzzy", "ambiguous", "unmatched"]),
                "source_file": pick([f"exports/xa_{i:03d}/nhan_khau.csv" for i in range(40)]),
                "source_row": pl.Series(rng.integers(1, 200000, n), dtype=pl.Int64),
            }
        )
        path = workdir / f"passed_{batch:03d}.parquet"
        frame.write_parquet(path)
        passed_files.append(str(path))
    # Clusters in another order than the records, one in twenty records unclustered (the join keeps them).
    uids = pl.Series(rng.permutation(rows), dtype=pl.Int64)
    uids = uids.filter(uids % 20 != 0)
    pl.DataFrame(
        {
            "row_uid": uids,
            "cluster_id": "P" + (uids // 2).cast(pl.String).str.zfill(8),
            "cluster_size": pl.Series(rng.integers(1, 4, uids.len()), dtype=pl.UInt32),
            "confidence": pl.Series(rng.random(uids.len())).round(9),
        }
    ).write_parquet(workdir / "clusters.parquet")
    columns = len(pl.read_parquet_schema(passed_files[0])) + 3
    size = sum(Path(p).stat().st_size for p in [*passed_files, str(workdir / "clusters.parquet")])
    return {"passed": passed_files, "clusters": [str(workdir / "clusters.parquet")], "columns": columns,
            "parquet_mb": size / 1e6}  # fmt: skip


def worker(mode: str, files: dict, store: Path, memory_limit: str) -> dict:
    """One way of publishing, in this (child) process."""
    clock = time.perf_counter()
    import duckdb  # noqa: F401  (imported in every mode, so the imports floor is comparable)
    import polars as pl

    from sachsong.store import ParquetQuery, publish_snapshot

    if mode == "imports":
        return {"seconds": time.perf_counter() - clock}
    if mode == "frame":
        passed = pl.concat([pl.read_parquet(p) for p in files["passed"]], how="diagonal_relaxed")
        clusters = pl.read_parquet(files["clusters"][0])
        table = passed.join(clusters, on="row_uid", how="left").sort("row_uid")
        del passed, clusters
    else:
        table = ParquetQuery(RECORDS_SQL, {"passed": files["passed"], "clusters": files["clusters"]})
    result = publish_snapshot(
        store, {"residents_records": table}, {"run_id": "bench"}, memory_limit=memory_limit
    )
    return {
        "seconds": time.perf_counter() - clock,
        "rows": result.row_counts["residents_records"],
        "hash": result.table_hashes["residents_records"],
    }


def measure(args: list[str]) -> dict:
    """Run one worker as this process's only child: RUSAGE_CHILDREN is then that child's own peak."""
    clock = time.perf_counter()
    completed = subprocess.run([sys.executable, __file__, "--worker", *args], capture_output=True, text=True)
    wall = time.perf_counter() - clock
    if completed.returncode != 0:
        raise SystemExit(f"worker {args[0]} failed:\n{completed.stderr[-3000:]}")
    report = json.loads(completed.stdout.strip().splitlines()[-1])
    report["wall"] = wall
    report["peak_rss_gb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1e6  # KiB on Linux
    return report


def run_measured(workdir: Path, mode: str, files_json: Path, memory_limit: str) -> dict:
    store = workdir / f"store_{mode}_{memory_limit}"
    shutil.rmtree(store, ignore_errors=True)
    args = [mode, str(files_json), str(store), memory_limit]
    completed = subprocess.run([sys.executable, __file__, "--measure", *args], capture_output=True, text=True)
    if completed.returncode != 0:
        raise SystemExit(f"{mode} failed:\n{completed.stderr[-3000:]}")
    shutil.rmtree(store, ignore_errors=True)
    return json.loads(completed.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--batches", type=int, default=8)
    parser.add_argument("--memory-limits", default="2GB,512MB", help="one query run per DuckDB memory limit")
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--keep", action="store_true", help="keep the generated files")
    parser.add_argument("--worker", nargs=4, metavar=("MODE", "FILES", "STORE", "LIMIT"))
    parser.add_argument("--measure", nargs=4, metavar=("MODE", "FILES", "STORE", "LIMIT"))
    options = parser.parse_args()

    if options.worker:
        mode, files_json, store, limit = options.worker
        print(json.dumps(worker(mode, json.loads(Path(files_json).read_text()), Path(store), limit)))
        return
    if options.measure:
        print(json.dumps(measure(options.measure)))
        return

    workdir = options.workdir or Path(tempfile.mkdtemp(prefix="bench_publish_"))
    try:
        clock = time.perf_counter()
        files = generate(workdir / "steps", options.rows, options.batches)
        files_json = workdir / "files.json"
        files_json.write_text(json.dumps(files))
        print(
            f"generated {options.rows:,} rows x {files['columns']} columns in {options.batches} batch files "
            f"({files['parquet_mb']:.0f} MB Parquet) in {time.perf_counter() - clock:.1f} s"
        )
        limits = options.memory_limits.split(",")
        runs = {"imports": run_measured(workdir, "imports", files_json, limits[0])}
        runs["frame"] = run_measured(workdir, "frame", files_json, limits[0])
        for limit in limits:
            runs[f"query {limit}"] = run_measured(workdir, "query", files_json, limit)

        floor = runs["imports"]["peak_rss_gb"]
        print(f"\n{'way':<16}{'wall s':>8}{'in-child s':>12}{'peak RSS GB':>13}{'above imports GB':>18}")
        for name, run in runs.items():
            print(
                f"{name:<16}{run['wall']:>8.1f}{run['seconds']:>12.1f}{run['peak_rss_gb']:>13.2f}"
                f"{run['peak_rss_gb'] - floor:>18.2f}"
            )
        frame = runs["frame"]
        print("\nratios query / frame (below 1: the query way is cheaper)")
        for name, run in runs.items():
            if name.startswith("query"):
                print(
                    f"  {name:<14} wall {run['wall'] / frame['wall']:.2f}   "
                    f"peak RSS {run['peak_rss_gb'] / frame['peak_rss_gb']:.2f}   "
                    f"peak RSS above imports {(run['peak_rss_gb'] - floor) / (frame['peak_rss_gb'] - floor):.2f}"
                )
        hashes = {run["hash"] for name, run in runs.items() if name != "imports"}
        rows = {run["rows"] for name, run in runs.items() if name != "imports"}
        print(f"\nsame content hash and rows every way: {len(hashes) == 1 and rows == {options.rows}}")
    finally:
        if not options.keep:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()

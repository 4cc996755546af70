"""Ingest speed: ~1M residents across ~50 exports (mostly CSV, a few xlsx and legacy-encoded files).

Prints rows/s of `ingest_directory` and its ratio against plain `polars.read_csv` of the same CSV files,
measured in the same run (and, when the standardize room is installed, ingest + standardize against the 30 s
target for 1M records on 2 cores).

    .venv/bin/python benchmarks/bench_ingest.py [--rows 1000000] [--files 50] [--keep DIR]
"""

from __future__ import annotations

import argparse
import codecs
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

from sachsong.sources.ingest import ingest_directory
from sachsong.sources.legacy_fonts import encode_legacy

FAMILY = [
    "Nguyễn",
    "Trần",
    "Lê",
    "Phạm",
    "Hoàng",
    "Huỳnh",
    "Phan",
    "Vũ",
    "Võ",
    "Đặng",
    "Bùi",
    "Đỗ",
    "Hồ",
    "Ngô",
]
FAMILY_P = np.array([38, 11, 9.5, 7, 5, 5, 4.5, 4, 4, 2.1, 2, 1.4, 1.3, 1.3])
MIDDLE = ["Văn", "Thị", "Hữu", "Đức", "Minh", "Ngọc", "Thanh", "Quốc", "Xuân", "Thu"]
GIVEN = [
    "Anh",
    "Bình",
    "Châu",
    "Dũng",
    "Hà",
    "Hải",
    "Hạnh",
    "Hòa",
    "Hùng",
    "Hương",
    "Lan",
    "Long",
    "Mai",
    "Nam",
]
PLACES = ["Quảng Ninh", "Hải Lăng", "Đồng Hới", "Lệ Thủy", "Gio Linh", "Cam Lộ", "Triệu Phong", "Bố Trạch"]
HEADERS = [
    [
        "Mã hồ sơ",
        "Họ và tên",
        "Ngày sinh",
        "Giới tính",
        "Số CCCD",
        "Số điện thoại",
        "Địa chỉ",
        "Ngày cập nhật",
    ],
    ["ID", "HO_TEN", "NGAY_SINH", "GIOI_TINH", "CCCD/CMND", "SDT", "NOI_THUONG_TRU", "cap_nhat_luc"],
    ["record_id", "full_name", "dob", "gender", "id_number", "phone", "address", "updated_at"],
]


def _frame(rng: np.random.Generator, rows: int, offset: int) -> pl.DataFrame:
    family = rng.choice(FAMILY, rows, p=FAMILY_P / FAMILY_P.sum())
    names = (
        pl.Series(family)
        + " "
        + pl.Series(rng.choice(MIDDLE, rows))
        + " "
        + pl.Series(rng.choice(GIVEN, rows))
    )
    years = rng.integers(1930, 2024, rows)
    return pl.DataFrame(
        {
            "id": [f"HS{offset + i:08d}" for i in range(rows)],
            "name": names,
            "dob": pl.Series(rng.integers(1, 29, rows)).cast(pl.String).str.zfill(2)
            + "/"
            + pl.Series(rng.integers(1, 13, rows)).cast(pl.String).str.zfill(2)
            + "/"
            + pl.Series(years).cast(pl.String),
            "sex": rng.choice(["Nam", "Nữ"], rows),
            "cccd": pl.Series(rng.integers(0, 10**12, rows)).cast(pl.String).str.zfill(12),
            "phone": "09" + pl.Series(rng.integers(0, 10**8, rows)).cast(pl.String).str.zfill(8),
            "address": "Thôn "
            + pl.Series(rng.integers(1, 20, rows)).cast(pl.String)
            + ", xã "
            + pl.Series(rng.choice(PLACES, rows)),
            "updated": pl.Series(["2025-06-30"] * rows),
        }
    )


def write_exports(folder: Path, total_rows: int, files: int, seed: int = 7) -> list[Path]:
    """~total_rows across `files` exports; returns the CSV files (for the polars baseline)."""
    rng = np.random.default_rng(seed)
    per_file = total_rows // files
    csv_files: list[Path] = []
    for index in range(files):
        frame = _frame(rng, per_file, index * per_file)
        frame.columns = HEADERS[index % len(HEADERS)]
        if index in (3, 27, 41):  # a few communes still send spreadsheets (smaller: xlsx is slow to write)
            frame.head(min(per_file, 5000)).write_excel(
                folder / f"xa_{index:02d}.xlsx", worksheet="Nhân khẩu"
            )
            continue
        path = folder / f"xa_{index:02d}.csv"
        separator = ";" if index % 4 == 1 else ","
        frame.write_csv(path, separator=separator)
        if index % 10 == 5:  # a legacy font export
            path.write_bytes(
                encode_legacy(path.read_text(encoding="utf-8"), "tcvn3" if index % 20 == 5 else "cp1258")
            )
        elif index % 7 == 2:  # Excel's "CSV UTF-8" adds a BOM
            path.write_bytes(codecs.BOM_UTF8 + path.read_bytes())
        csv_files.append(path)
    return csv_files


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--files", type=int, default=50)
    parser.add_argument("--keep", help="write the exports here and keep them")
    args = parser.parse_args()

    folder = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench_ingest_"))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        started = time.perf_counter()
        csv_files = write_exports(folder, args.rows, args.files)
        print(f"wrote {args.files} exports in {time.perf_counter() - started:.1f} s → {folder}")

        started, cpu_started = time.perf_counter(), time.process_time()
        baseline_rows = sum(
            pl.read_csv(
                path, infer_schema=False, encoding="utf8-lossy", separator=";" if i % 4 == 1 else ","
            ).height
            for i, path in ((int(p.stem.split("_")[1]), p) for p in csv_files)
        )
        baseline, baseline_cpu = time.perf_counter() - started, time.process_time() - cpu_started

        started, cpu_started = time.perf_counter(), time.process_time()
        result = ingest_directory(folder)
        ingest, ingest_cpu = time.perf_counter() - started, time.process_time() - cpu_started
        assert result.balanced(), result.describe()
        csv_rows = result.table.filter(pl.col("source_file").str.ends_with(".csv")).height
        assert csv_rows == baseline_rows, (csv_rows, baseline_rows)

        print(result.describe().splitlines()[0])
        print(
            f"baseline polars.read_csv (CSV files only, no decoding/mapping): {baseline:.2f} s, {baseline_rows:,} rows"
        )
        print(f"ingest_directory (all files): {ingest:.2f} s, {result.table.height / ingest:,.0f} rows/s")
        print(f"ratio ingest / plain read_csv: {ingest / baseline:.1f}× wall clock")
        # CPU seconds (all threads) are steadier than wall clock on a machine shared with other jobs.
        print(
            f"CPU time: ingest {ingest_cpu:.2f} s, read_csv {baseline_cpu:.2f} s, ratio {ingest_cpu / baseline_cpu:.1f}×"
        )

        try:
            from sachsong.standardize.residents import standardize_residents
        except ImportError:
            print("standardize room not installed: ingest + standardize not measured")
            return
        started = time.perf_counter()
        standardized = standardize_residents(result.table)
        standardize = time.perf_counter() - started
        total = ingest + standardize
        print(
            f"ingest + standardize of {standardized.height:,} records: {total:.1f} s "
            f"(standardize {standardize:.1f} s); target 30 s for 1M → {'OK' if total * 1e6 / standardized.height < 30 else 'OVER'}"
        )
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()

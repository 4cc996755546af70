"""Benchmark: all residents rules on N synthetic standardized records.

Prints the time of `check_standardized` (every rule of the residents pack, one pass, with and without the
pandera contract) as a ratio against a baseline measured in the same run on the same frame: one trivial polars
filter. Target: the whole check under 10 s for 1M records on 2 cores.

It also prints how far `check_standardized` raises the process's peak RSS (sampled from /proc/self/statm by a
thread), with `keep_rows=True` (passed rows copied) and `keep_rows=False` (passed row ids only, as the nightly
flow asks), against the size of the table itself. The allocator is told to return freed memory at once so
the figures are not inflated by earlier steps.

    .venv/bin/python benchmarks/bench_rules.py [--rows 1000000] [--seed 7]
"""

from __future__ import annotations

import os

# Before polars loads: jemalloc otherwise keeps freed pages and RSS overstates what a step holds.
os.environ.setdefault("_RJEM_MALLOC_CONF", "dirty_decay_ms:0,muzzy_decay_ms:0")

import argparse
import gc
import threading
import time
from collections.abc import Callable
from datetime import date, datetime

import numpy as np
import polars as pl

from sachsong.rules.engine import check_standardized, load_pack
from sachsong.rules.python_checks import known_commune_codes, new_ward_codes
from sachsong.schema import LINEAGE_COLUMNS, RAW_SCHEMA, STANDARD_COLUMNS

AS_OF = date(2026, 1, 15)
FAMILY = (
    ["Nguyễn"] * 38
    + ["Trần"] * 12
    + ["Lê"] * 10
    + ["Phạm"] * 7
    + ["Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng"] * 3
)
MIDDLE = ["Văn", "Thị", "Hữu", "Đức", "Ngọc", "Minh", "Thanh", "Quang"]
GIVEN = [
    "An",
    "Bình",
    "Cường",
    "Dung",
    "Hà",
    "Hùng",
    "Lan",
    "Linh",
    "Mai",
    "Nam",
    "Phương",
    "Quân",
    "Thảo",
    "Tuấn",
]


def synthetic_standardized(rows: int, seed: int) -> pl.DataFrame:
    """Standardized residents with realistic shapes and a few percent of each fault the rules look for."""
    rng = np.random.default_rng(seed)
    wards = np.array(new_ward_codes("44"))
    names = (
        pl.Series(np.array(FAMILY)[rng.integers(0, len(FAMILY), rows)])
        + " "
        + pl.Series(np.array(MIDDLE)[rng.integers(0, len(MIDDLE), rows)])
        + " "
        + pl.Series(np.array(GIVEN)[rng.integers(0, len(GIVEN), rows)])
    )
    frame = pl.DataFrame(
        {
            "row_uid": np.arange(rows, dtype=np.int64),
            "source_id": np.array(["nhan_khau_a", "nhan_khau_b", "ho_tich_c"])[rng.integers(0, 3, rows)],
            "name_norm": names,
            "dob_days": rng.integers(0, 36_500, rows),  # born 1925-2024
            "sex_code": np.where(rng.random(rows) < 0.5, "M", "F"),
            "fault": rng.random(rows),
            "ward_code": wards[rng.integers(0, len(wards), rows)],
            "serial": rng.integers(0, 1_000_000, rows),
            "updated_offset": rng.integers(0, 500 * 86_400, rows),
        }
    ).with_columns((pl.lit(date(1925, 1, 1)) + pl.duration(days=pl.col("dob_days"))).alias("dob"))
    year = pl.col("dob").dt.year()
    century_sex = (
        pl.when(year >= 2000).then(2).otherwise(0) + pl.when(pl.col("sex_code") == "F").then(1).otherwise(0)
    ).cast(pl.String)
    cccd = (
        pl.lit("044")
        + century_sex
        + (year % 100).cast(pl.String).str.zfill(2)
        + pl.col("serial").cast(pl.String).str.zfill(6)
    )
    fault = pl.col("fault")
    frame = frame.with_columns(
        record_id=pl.format("{}-{}", pl.col("source_id"), pl.col("row_uid")),
        full_name=pl.when(fault < 0.01)
        .then(pl.lit("?"))
        .when(fault < 0.03)
        .then(pl.col("name_norm").str.to_uppercase())
        .otherwise(pl.col("name_norm")),
        date_of_birth=pl.col("dob").dt.strftime("%d/%m/%Y"),
        sex=pl.when(pl.col("sex_code") == "M").then(pl.lit("Nam")).otherwise(pl.lit("Nữ")),
        citizen_id=pl.when(fault.is_between(0.03, 0.05)).then(pl.lit(None, pl.String)).otherwise(cccd),
        phone=pl.lit("0912345678"),
        address=pl.lit("Quảng Trị"),
        commune_code=pl.when(fault.is_between(0.05, 0.06))
        .then(pl.lit("99999"))
        .otherwise(pl.col("ward_code")),
        updated_ts=pl.lit(datetime(2026, 1, 14)) - pl.duration(seconds=pl.col("updated_offset")),
        phone_status=pl.when(fault.is_between(0.06, 0.07)).then(pl.lit("invalid")).otherwise(pl.lit("ok")),
        address_status=pl.when(fault.is_between(0.07, 0.08))
        .then(pl.lit("ambiguous"))
        .otherwise(pl.lit("exact")),
    )
    frame = frame.with_columns(
        name_key=pl.col("name_norm")
        .str.to_lowercase()
        .str.normalize("NFKD")
        .str.replace_all(r"\p{Mn}", "")
        .str.replace_all("đ", "d"),
        family_name=pl.col("name_norm").str.split(" ").list.first(),
        middle_name=pl.col("name_norm").str.split(" ").list.get(1),
        given_name=pl.col("name_norm").str.split(" ").list.last(),
        updated_at=pl.col("updated_ts").dt.strftime("%Y-%m-%d %H:%M:%S"),
        dob_precision=pl.lit("day"),
        dob_status=pl.lit("ok"),
        citizen_id_digits=pl.col("citizen_id"),
        cccd=pl.col("citizen_id"),
        cmnd=pl.lit(None, pl.String),
        cccd_province_code=pl.col("citizen_id").str.slice(0, 3),
        cccd_sex=pl.when(pl.col("citizen_id").str.slice(3, 1).is_in(["0", "2"]))
        .then(pl.lit("M"))
        .when(pl.col("citizen_id").is_not_null())
        .then(pl.lit("F")),
        cccd_birth_year=pl.when(pl.col("citizen_id").is_not_null()).then(year).cast(pl.Int32),
        phone_e164=pl.when(pl.col("phone_status") == "ok").then(pl.lit("+84912345678")),
        province_code=pl.lit("44"),
        ward_candidates=pl.lit(None, pl.List(pl.String)),
        source_file=pl.lit("exports/x.csv"),
        source_row=pl.col("row_uid") + 1,
    )
    schema = {**RAW_SCHEMA, **LINEAGE_COLUMNS, **STANDARD_COLUMNS}
    return frame.select([pl.col(name).cast(dtype) for name, dtype in schema.items()])


def _rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def peak_rss_rise(function: Callable[[], object]) -> float:
    """Bytes by which function() raises the process's peak RSS above where it started (sampled every 5 ms)."""
    gc.collect()
    start = _rss_bytes()
    peak = start
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _rss_bytes())
            time.sleep(0.005)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    result = function()
    peak = max(peak, _rss_bytes())  # the result is still alive here: it counts
    done.set()
    sampler.join()
    del result
    return peak - start


def best_of(repeats: int, function) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()

    start = time.perf_counter()
    std = synthetic_standardized(args.rows, args.seed)
    pack = load_pack("residents")
    known_commune_codes(), new_ward_codes("44")  # reference data is loaded once per process, not per check
    print(
        f"{std.height:,} synthetic standardized records, {len(pack.rules)} rules (setup {time.perf_counter() - start:.1f} s)"
    )

    baseline = best_of(args.repeats, lambda: std.filter(pl.col("phone_status") == "invalid"))
    rules_only = best_of(
        args.repeats,
        lambda: check_standardized(std, AS_OF, pack, province_code="44", validate_contract=False),
    )
    with_contract = best_of(args.repeats, lambda: check_standardized(std, AS_OF, pack, province_code="44"))
    result = check_standardized(std, AS_OF, pack, province_code="44", validate_contract=False)

    print(f"baseline: one trivial filter            {baseline:8.3f} s   1.0x")
    print(
        f"all rules, one pass (no contract)       {rules_only:8.3f} s   {rules_only / baseline:6.1f}x baseline"
    )
    print(
        f"all rules + pandera contract            {with_contract:8.3f} s   {with_contract / baseline:6.1f}x baseline"
    )
    print(f"contract share of the check             {(with_contract - rules_only) / with_contract:8.0%}")
    ids_only = best_of(
        args.repeats, lambda: check_standardized(std, AS_OF, pack, province_code="44", keep_rows=False)
    )
    print(f"all rules + contract, keep_rows=False   {ids_only:8.3f} s   {ids_only / baseline:6.1f}x baseline")
    table_gb = std.estimated_size() / 1e9
    rise_rows = peak_rss_rise(lambda: check_standardized(std, AS_OF, pack, province_code="44")) / 1e9
    rise_ids = (
        peak_rss_rise(lambda: check_standardized(std, AS_OF, pack, province_code="44", keep_rows=False)) / 1e9
    )
    print(
        f"peak RSS rise of the check (table {table_gb:.2f} GB): keep_rows=True {rise_rows:.2f} GB"
        f" ({rise_rows / table_gb:.2f}x the table), keep_rows=False {rise_ids:.2f} GB"
        f" ({rise_ids / table_gb:.2f}x the table)"
    )
    print(f"throughput (with contract)              {std.height / with_contract:,.0f} records/s")
    print(result.describe())
    verdict = "meets" if with_contract < 10 else "MISSES"
    print(f"target: < 10 s for 1M records on 2 cores → {verdict} ({with_contract:.2f} s for {std.height:,})")


if __name__ == "__main__":
    main()

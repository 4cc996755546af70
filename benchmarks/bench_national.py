"""Benchmark: the national job over P generated province stores of N records each.

Builds, in a temporary directory, P province stores through the store room's own publish and history functions
(records with the province's codes, golden persons with CCCD/CMND/dob/sex/name, province score rows), with a
share of citizens planted in two provinces (the same CCCD, some with a different date of birth or sex), and
homonyms (same name, date of birth and CMND, different CCCDs) that must not be linked. Then runs
`build_national` in a fresh child process and reports its wall time and peak RSS, and the exact tier's recall
and precision against the planted truth.

    .venv/bin/python benchmarks/bench_national.py [--provinces 34] [--records 100000] [--seed 7]

Target (issue 16): 34 stores of 100k records each in under 60 s and under 2 GB peak.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl

AS_OF = date(2026, 11, 1)
SHARED_RATE = 0.01  # persons registered in a second province too
CONFLICT_RATE = 0.1  # of the shared ones, a different date of birth in the second province
HOMONYM_RATE = 0.002  # same name + dob + CMND in another province, but a different CCCD
FAMILY = ("Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng")
FAMILY_P = (0.38, 0.12, 0.095, 0.07, 0.05, 0.05, 0.045, 0.04, 0.04, 0.11)
MIDDLE = ("Văn", "Thị", "Hữu", "Đức", "Minh", "Thu", "Ngọc", "Quang")
GIVEN = (
    "An",
    "Bình",
    "Cường",
    "Dung",
    "Hà",
    "Hải",
    "Hoa",
    "Hùng",
    "Lan",
    "Linh",
    "Long",
    "Mai",
    "Nam",
    "Phúc",
)


def _codes() -> list[str]:
    from sachsong.national.collect import provinces_reference

    return provinces_reference().get_column("province_code").to_list()


def _golden(code: str, persons: int, rng: np.random.Generator, offset: int) -> pl.DataFrame:
    dob = np.datetime64("1940-01-01") + rng.integers(0, 365 * 80, persons).astype("timedelta64[D]")
    sex = rng.choice(["M", "F"], persons)
    names = (
        pl.Series(rng.choice(FAMILY, persons, p=np.array(FAMILY_P) / sum(FAMILY_P)))
        + " "
        + pl.Series(rng.choice(MIDDLE, persons))
        + " "
        + pl.Series(rng.choice(GIVEN, persons))
    )
    # Unique CCCDs: the province's 3-digit prefix, a century/sex digit, 2 digits of year, a serial.
    serial = np.arange(offset, offset + persons)
    cccd = [
        f"0{code}{1 if s == 'F' else 0}{int(str(d)[2:4]):02d}{n % 1_000_000:06d}"
        for s, d, n in zip(sex, dob, serial, strict=True)
    ]
    has_cccd = rng.random(persons) < 0.9
    cmnd = pl.Series([f"{n:09d}" for n in serial]).zip_with(
        pl.Series(~has_cccd), pl.Series([None] * persons, dtype=pl.String)
    )
    cccd = pl.Series(cccd).zip_with(pl.Series(has_cccd), pl.Series([None] * persons, dtype=pl.String))
    return pl.DataFrame(
        {
            "cluster_id": [f"P{n:09d}" for n in range(persons)],
            "cluster_size": np.ones(persons, dtype=np.int64),
            "name_norm": names,
            "dob": dob.astype("datetime64[D]"),
            "dob_precision": ["day"] * persons,
            "sex_code": sex,
            "cccd": cccd,
            "cmnd": cmnd,
            "phone_e164": [f"+849{n % 100000000:08d}" for n in serial],
            "province_code": [code] * persons,
        }
    )


def build_stores(root: Path, provinces: int, records: int, seed: int) -> pl.DataFrame:
    """The stores, and the planted truth: one row per cross-province pair that must be linked (exact tier)."""
    from sachsong.reports.scores import SCORE_CRITERIA, SCORE_SCHEMA, province_wards
    from sachsong.store.history import append_scores, record_run
    from sachsong.store.publish import publish_snapshot

    rng = np.random.default_rng(seed)
    codes = _codes()[:provinces]
    persons = int(records * 0.75)  # duplicates in a province merge into fewer persons
    golden = {code: _golden(code, persons, rng, index * persons) for index, code in enumerate(codes)}
    truth = []
    # Rows already planted, per province: never planted again, so no citizen is in three provinces by accident.
    touched = {code: np.zeros(persons, dtype=bool) for code in codes}
    # Plant: a person of province A also registered in province B (a later row of B takes A's identity).
    for index, code in enumerate(codes):
        other = codes[(index + 1) % len(codes)]
        if other == code:
            continue
        shared = rng.choice(np.flatnonzero(~touched[code]), int(persons * SHARED_RATE), replace=False)
        target_rows = rng.choice(np.flatnonzero(~touched[other]), len(shared), replace=False)
        touched[code][shared] = True
        touched[other][target_rows] = True
        source = golden[code][shared]
        target = golden[other]
        conflict = rng.random(len(shared)) < CONFLICT_RATE
        dob = source.get_column("dob").to_numpy().copy()
        dob[conflict] = dob[conflict] + np.timedelta64(1, "D")
        cccd = source.get_column("cccd")
        keep = cccd.is_not_null().to_numpy()
        updates = pl.DataFrame(
            {
                "row": target_rows[keep],
                "cccd": cccd.filter(keep),
                "dob": dob[keep],
                "sex_code": source.get_column("sex_code").filter(keep),
                "name_norm": source.get_column("name_norm").filter(keep),
            }
        )
        target = (
            target.with_row_index("row")
            .update(updates.with_columns(pl.col("row").cast(pl.UInt32)), on="row")
            .drop("row")
        )
        # Homonyms: same name + dob + CMND as a person of A, but their own (different) CCCD.
        homonyms = rng.choice(persons, int(persons * HOMONYM_RATE), replace=False)
        homonym_rows = rng.choice(np.flatnonzero(~touched[other]), len(homonyms), replace=False)
        touched[other][homonym_rows] = True
        h = golden[code][homonyms]
        target = (
            target.with_row_index("row")
            .update(
                pl.DataFrame(
                    {
                        "row": homonym_rows.astype(np.uint32),
                        "name_norm": h.get_column("name_norm"),
                        "dob": h.get_column("dob"),
                        "cmnd": [f"9{n:08d}" for n in homonyms],
                    }
                ),
                on="row",
            )
            .drop("row")
        )
        golden[code] = (
            golden[code]
            .with_row_index("row")
            .update(
                pl.DataFrame({"row": homonyms.astype(np.uint32), "cmnd": [f"9{n:08d}" for n in homonyms]}),
                on="row",
            )
            .drop("row")
        )
        golden[other] = target
        pair = sorted([(code, source.get_column("cluster_id")), (other, target.get_column("cluster_id"))])
        a_ids = source.get_column("cluster_id").filter(keep)
        b_ids = target.get_column("cluster_id").gather(target_rows[keep])
        first, second = (a_ids, b_ids) if pair[0][0] == code else (b_ids, a_ids)
        truth.append(
            pl.DataFrame(
                {
                    "province_a": pair[0][0],
                    "person_a": first,
                    "province_b": pair[1][0],
                    "person_b": second,
                    "dob_differs": conflict[keep],
                }
            )
        )
    started = datetime(AS_OF.year, AS_OF.month, AS_OF.day, 1, tzinfo=UTC)
    for code in codes:
        wards = province_wards(code).get_column("ward_code").to_numpy()
        people = golden[code]
        # Records: every person once, a quarter of them twice (the duplicates the province merged).
        member = np.concatenate([np.arange(persons), rng.choice(persons, records - persons)])
        records_frame = pl.DataFrame(
            {
                "row_uid": np.arange(records, dtype=np.int64),
                "record_id": [f"r{n}" for n in range(records)],
                "source_id": [f"src{n % 40}" for n in range(records)],
                "ward_code": wards[rng.integers(0, len(wards), records)],
                "province_code": [code] * records,
                "cluster_id": people.get_column("cluster_id").gather(member),
            }
        )
        run_id = f"{code}-{AS_OF:%Y%m%d}-T1"
        store = root / f"store_{code}"
        empty = pl.DataFrame({"row_uid": pl.Series([], dtype=pl.Int64)})
        publish_snapshot(
            store,
            {
                "residents_records": records_frame,
                "residents_golden": people.with_columns(pl.lit(wards[0]).alias("ward_code")),
                "quarantine": empty,
                "findings": empty,
                "rejects": pl.DataFrame(),
                "review_queue": pl.DataFrame(),
            },
            {"run_id": run_id, "province_code": code, "as_of": AS_OF.isoformat()},
        )
        record_run(
            store,
            {
                "run_id": run_id,
                "province_code": code,
                "as_of": AS_OF,
                "started_at": started,
                "finished_at": started + timedelta(minutes=30),
                "status": "published",
                "rows_in": records,
                "rows_published": records,
            },
        )
        share = rng.uniform(0.85, 1.0, len(SCORE_CRITERIA))
        rows = [
            {
                "run_id": run_id,
                "as_of": AS_OF,
                "province_code": code,
                "level": "province",
                "key": code,
                "criterion": criterion,
                "records": records,
                "passing": int(s * records),
                "share": float(s),
                "band": None,
                "unit": "records",
            }
            for criterion, s in zip(SCORE_CRITERIA, share, strict=True)
        ]
        append_scores(store, pl.DataFrame(rows, schema=SCORE_SCHEMA, orient="row"), run_id)
    return pl.concat(truth)


CHILD = """
import json, resource, sys, time
from pathlib import Path
start = time.perf_counter()
from sachsong.national.site import build_national
result = build_national(Path(sys.argv[1]), Path(sys.argv[2]))
seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": seconds, "peak_mb": peak, "summary": result.describe()}))
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--provinces", type=int, default=34)
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench_national_") as tmp:
        root = Path(tmp) / "stores"
        root.mkdir()
        begin = time.perf_counter()
        truth = build_stores(root, args.provinces, args.records, args.seed)
        print(
            f"generated {args.provinces} stores x {args.records} records in {time.perf_counter() - begin:.1f} s"
        )
        output = Path(tmp) / "national"
        done = subprocess.run(
            [sys.executable, "-c", CHILD, str(root), str(output)], capture_output=True, text=True, check=True
        )
        measured = json.loads(done.stdout.strip().splitlines()[-1])
        links = pl.read_parquet(output / "parquet" / "cross_province_links.parquet").filter(
            pl.col("tier") == "cccd"
        )
        key = ["province_a", "person_a", "province_b", "person_b"]
        found = links.select(key).join(truth, on=key, how="inner").height
        conflicts = pl.read_parquet(output / "parquet" / "cross_province_conflicts.parquet")
        conflicts_found = conflicts.select(key).join(truth.filter("dob_differs"), on=key, how="inner").height
        recall = found / truth.height if truth.height else 1.0
        precision = found / links.height if links.height else 1.0
        print(measured["summary"])
        print(
            f"national job: {measured['seconds']:.1f} s, peak RSS {measured['peak_mb']:.0f} MB; exact tier: "
            f"{truth.height} planted pairs, {links.height} linked, recall {recall:.4f}, precision {precision:.4f}; "
            f"conflicts: {truth.filter('dob_differs').height} planted, {conflicts.height} listed, "
            f"{conflicts_found} of them planted"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Province stores for the national tests, built through the store room's own publish and history functions
(the flow's layout, without running the flow): a few golden persons and records per province, planted so the
cross-province linkage, the ranking and the label guard have something real to find."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from sachsong.reports.scores import SCORE_CRITERIA, SCORE_SCHEMA

AS_OF = date(2026, 11, 1)

GOLDEN_SCHEMA: dict[str, pl.DataType] = {
    "cluster_id": pl.String(),
    "cluster_size": pl.Int64(),
    "name_norm": pl.String(),
    "dob": pl.Date(),
    "dob_precision": pl.String(),
    "sex_code": pl.String(),
    "cccd": pl.String(),
    "cmnd": pl.String(),
    "phone_e164": pl.String(),
    "ward_code": pl.String(),
    "province_code": pl.String(),
    "address": pl.String(),
}


def person(
    cluster_id: str,
    name: str,
    dob: date | None,
    sex: str | None,
    cccd: str | None = None,
    cmnd: str | None = None,
    phone: str | None = None,
    precision: str = "day",
) -> dict[str, Any]:
    return {
        "cluster_id": cluster_id,
        "cluster_size": 1,
        "name_norm": name,
        "dob": dob,
        "dob_precision": precision if dob else None,
        "sex_code": sex,
        "cccd": cccd,
        "cmnd": cmnd,
        "phone_e164": phone,
        "address": "Số 1 đường Láng",
    }


def make_store(
    root: Path,
    folder: str,
    code: str,
    persons: list[dict[str, Any]],
    shares: dict[str, float],
    *,
    as_of: date = AS_OF,
    records_province: str | None = None,
    last_run_failed: bool = False,
    with_site: bool = False,
    with_scores: bool = True,
) -> Path:
    """One published province store: golden + records + empty side tables, a run row and its score rows."""
    from sachsong.store.history import append_scores, record_run
    from sachsong.store.publish import publish_snapshot

    store = root / folder
    records_code = records_province or code
    ward = {"01": "00004", "79": "26734", "44": "19003"}.get(records_code, "00004")
    golden = pl.DataFrame(
        [{**p, "province_code": code, "ward_code": ward} for p in persons], schema=GOLDEN_SCHEMA, orient="row"
    )
    records = golden.select(
        pl.int_range(pl.len(), dtype=pl.Int64).alias("row_uid"),
        pl.format("{}-r", "cluster_id").alias("record_id"),
        pl.lit("src1").alias("source_id"),
        pl.lit(ward).alias("ward_code"),
        pl.lit(records_code).alias("province_code"),
        "cluster_id",
        "name_norm",
        "cccd",
        "phone_e164",
    )
    run_id = f"{code}-{as_of:%Y%m%d}-T1"
    started = datetime(as_of.year, as_of.month, as_of.day, 1, tzinfo=UTC)
    empty = pl.DataFrame({"row_uid": pl.Series([], dtype=pl.Int64)})
    publish_snapshot(
        store,
        {
            "residents_records": records,
            "residents_golden": golden,
            "quarantine": empty,
            "findings": pl.DataFrame(
                schema={
                    "row_uid": pl.Int64,
                    "rule_id": pl.String,
                    "criterion": pl.String,
                    "severity": pl.String,
                }
            ),
            "rejects": pl.DataFrame(),
            "review_queue": pl.DataFrame(),
        },
        {"run_id": run_id, "province_code": code, "as_of": as_of.isoformat()},
    )
    record_run(
        store,
        {
            "run_id": run_id,
            "province_code": code,
            "as_of": as_of,
            "started_at": started,
            "finished_at": started + timedelta(minutes=5),
            "status": "published",
            "rows_in": records.height,
            "rows_published": records.height,
            "rows_quarantined": 0,
            "rows_rejected": 0,
            "message": "published",
        },
    )
    if with_site:  # the province's own site, scored from its snapshot (the rows below are the national input)
        from sachsong.reports.site import build_report

        build_report(store, store / "reports")
    n = records.height
    rows = [
        {
            "run_id": run_id,
            "as_of": as_of,
            "province_code": code,
            "level": "province",
            "key": code,
            "criterion": criterion,
            "records": n,
            "passing": round(shares[criterion] * n),
            "share": shares[criterion],
            "band": None,
            "unit": "records",
        }
        for criterion in SCORE_CRITERIA
    ]
    rows.append(
        {
            "run_id": run_id,
            "as_of": as_of,
            "province_code": code,
            "level": "coverage",
            "key": code,
            "criterion": "sufficient",
            "records": 100,
            "passing": 40,
            "share": 0.4,
            "band": "red",
            "unit": "communes",
        }
    )
    if with_scores:
        append_scores(store, pl.DataFrame(rows, schema=SCORE_SCHEMA, orient="row"), run_id)
    if last_run_failed:
        later = started + timedelta(days=1)
        record_run(
            store,
            {
                "run_id": f"{code}-{as_of + timedelta(days=1):%Y%m%d}-T2",
                "province_code": code,
                "as_of": as_of + timedelta(days=1),
                "started_at": later,
                "finished_at": later + timedelta(minutes=1),
                "status": "failed",
                "message": "ingest failed: exports/a.csv unreadable",
            },
        )
    return store


def shares(overall: float, **others: float) -> dict[str, float]:
    base = {"correct": 0.99, "sufficient": 0.97, "clean": 0.96, "live": 0.95, "overall": overall}
    base.update(others)
    return base


# Planted persons (all values invented). Province 01 / 79 / 44 share some citizens.
CCCD_SHARED = "001090012345"  # one citizen in 01 and 79: linked
CCCD_CONFLICT_DOB = "001080054321"  # 01 and 79, dates of birth differ: linked and listed as a conflict
CCCD_CONFLICT_SEX = "079085011111"  # 01 and 44, sex differs: linked and listed as a conflict
CCCD_HOMONYM_A = "001092000001"  # same name and date of birth as HOMONYM_B, different CCCD: not linked
CCCD_HOMONYM_B = "079092000002"
CMND_HOMONYM = "098765432"  # shared by the homonyms too: their different CCCDs still keep them apart
CMND_SHARED = "012345678"  # no CCCD on either side; CMND + dob + name: the flagged tier
SHORT_ID = "12345678901"  # 11 digits (Excel lost the zero): never an exact-tier key
NAMES = ("Nguyễn Văn An", "Trần Thị Bình", "Lê Hoàng Cường", "Phạm Thu Dung", "Hoàng Minh Em")
PHONES = ("+84912345678", "+84987654321")


@pytest.fixture(scope="session")  # built once, read-only for every test
def stores(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("stores")
    make_store(
        root,
        "hanoi",
        "01",
        [
            person("P1", NAMES[2], date(1990, 1, 2), "M", cccd=CCCD_SHARED, phone=PHONES[0]),
            person("P2", NAMES[3], date(1980, 5, 5), "F", cccd=CCCD_CONFLICT_DOB),
            person("P3", NAMES[0], date(1992, 3, 3), "M", cccd=CCCD_HOMONYM_A, cmnd=CMND_HOMONYM),
            person("P4", NAMES[1], date(1975, 3, 3), "F", cmnd=CMND_SHARED),
            person("P5", NAMES[4], date(1985, 7, 7), "M", cccd=CCCD_CONFLICT_SEX),
            person("P6", NAMES[4], date(1970, 1, 1), "M", cccd=SHORT_ID),
        ],
        shares(0.95, live=0.80),
        with_site=True,
    )
    make_store(
        root,
        "hcm",
        "79",
        [
            person("Q1", NAMES[2], date(1990, 1, 2), "M", cccd=CCCD_SHARED, phone=PHONES[1]),
            person("Q2", NAMES[3], date(1981, 5, 5), "F", cccd=CCCD_CONFLICT_DOB),
            person("Q3", NAMES[0], date(1992, 3, 3), "M", cccd=CCCD_HOMONYM_B, cmnd=CMND_HOMONYM),
            person("Q4", "TRẦN THI BINH", date(1975, 3, 3), "F", cmnd=CMND_SHARED),
            person("Q6", NAMES[4], date(1970, 1, 1), "M", cccd=SHORT_ID),
        ],
        shares(0.99, live=0.90),
        with_site=True,
    )
    make_store(
        root,
        "quangtri",
        "44",
        [person("R1", NAMES[4], date(1985, 7, 7), "F", cccd=CCCD_CONFLICT_SEX)],
        shares(0.80, live=0.99),
        as_of=AS_OF - timedelta(days=1),
    )
    # Province 48's exports published under code 48, but the records are Hà Nội's: refused.
    make_store(root, "danang", "48", [person("S1", NAMES[0], None, "M")], shares(1.0), records_province="01")
    # Stale: ten days behind the newest province.
    make_store(
        root, "hue", "46", [person("T1", NAMES[1], None, "F")], shares(0.9), as_of=AS_OF - timedelta(days=10)
    )
    # The last run failed: the live snapshot is still shown, labelled.
    make_store(root, "camau", "96", [person("U1", NAMES[1], None, "F")], shares(0.85), last_run_failed=True)
    (root / "empty_folder_not_a_store").mkdir()
    return root

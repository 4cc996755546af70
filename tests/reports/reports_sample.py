"""A hand-made store (the layout of ARCHITECTURE.md) with planted personal values the report must never show."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import duckdb
import polars as pl

# Distinctive personal values planted in the snapshot: none may appear in any report file.
PLANTED_NAME = "Nguyễn Thị Xuyếnchi"
PLANTED_PHONE = "0912345678"
PLANTED_CCCD = "044199012345"
PLANTED_CCCD_IN_VALUE = "045188098765"
PLANTED_PHONE_IN_VALUE = "+84987650123"
PLANTED_ADDRESS = "Thôn Đồngbằngxa"
PLANTED = (
    PLANTED_NAME,
    PLANTED_PHONE,
    PLANTED_CCCD,
    PLANTED_CCCD_IN_VALUE,
    PLANTED_PHONE_IN_VALUE,
    PLANTED_ADDRESS,
)

PROVINCE = "44"
GOLDEN_PERSONS = 5
WARDS = pl.DataFrame(
    {
        "ward_code": ["18859", "18871", "18880"],
        "ward_name": ["Phường Đồng Thuận", "Phường Đồng Sơn", "Phường Đồng Hới"],
    }
)


def make_records() -> pl.DataFrame:
    """Eight records in two communes and two sources; the third commune has none."""
    return pl.DataFrame(
        {
            "row_uid": list(range(8)),
            "record_id": [
                "HK-000101",
                "HK-000102",
                "HK-000103",
                "HK-000104",
                PLANTED_CCCD,
                "B-2",
                "B-3",
                "B-4",
            ],
            "source_id": ["ho_khau_dh"] * 4 + ["ho_tich_lt"] * 4,
            "source_row": [1, 2, 3, 4, 1, 2, 3, 4],
            "full_name": [PLANTED_NAME, "Trần Văn An", "Lê Thị Bình", "Phạm Văn Cường"] * 2,
            "citizen_id": [PLANTED_CCCD, "044200000001", "044200000002", "044200000003"] * 2,
            "phone": [PLANTED_PHONE, None, None, None] * 2,
            "address": [PLANTED_ADDRESS] * 8,
            "ward_code": ["18859"] * 4 + ["18871"] * 3 + [None],
            "province_code": [PROVINCE] * 7 + [None],
        }
    )


def make_findings() -> pl.DataFrame:
    rows = [
        # row_uid, record_id, source_id, rule_id, criterion, severity, message, value
        (
            0,
            "HK-000101",
            "ho_khau_dh",
            "cccd_birth_year",
            "correct",
            "error",
            f"CCCD {PLANTED_CCCD_IN_VALUE} sai",
            PLANTED_CCCD_IN_VALUE,
        ),
        (1, "HK-000102", "ho_khau_dh", "phone_format", "correct", "warning", "phone", PLANTED_PHONE_IN_VALUE),
        (4, PLANTED_CCCD, "ho_tich_lt", "updated_within_sla", "live", "error", "stale", "2019-01-01"),
        (5, "B-2", "ho_tich_lt", "updated_within_sla", "live", "error", "stale", "2019-02-01"),
        (None, None, None, "commune_has_records", "sufficient", "error", "commune has no records", "18880"),
    ]
    return pl.DataFrame(
        rows,
        schema={
            "row_uid": pl.Int64,
            "record_id": pl.String,
            "source_id": pl.String,
            "rule_id": pl.String,
            "criterion": pl.String,
            "severity": pl.String,
            "message": pl.String,
            "value": pl.String,
        },
        orient="row",
    )


def write_store(store_dir: Path, runs: list[dict], history: pl.DataFrame, current: str | None) -> Path:
    """Create CURRENT, snapshots/<current>/store.duckdb and history.duckdb by hand."""
    store_dir.mkdir(parents=True, exist_ok=True)
    if current is not None:
        snapshot = store_dir / "snapshots" / current
        snapshot.mkdir(parents=True)
        records = make_records()
        findings = make_findings()
        quarantined = records.filter(pl.col("row_uid") == 4)
        published = records.filter(pl.col("row_uid") != 4)
        connection = duckdb.connect(str(snapshot / "store.duckdb"))
        connection.register("published", published)
        connection.register("quarantined", quarantined)
        connection.register("findings_frame", findings)
        connection.execute("CREATE TABLE residents_records AS SELECT * FROM published")
        connection.execute("CREATE TABLE quarantine AS SELECT *, 'stale' AS reasons FROM quarantined")
        connection.execute("CREATE TABLE findings AS SELECT * FROM findings_frame")
        # 7 published records are 5 persons once duplicates are merged; 2 uncertain pairs wait for review.
        golden = pl.DataFrame(
            {
                "cluster_id": [f"c{i}" for i in range(GOLDEN_PERSONS)],
                "full_name": [PLANTED_NAME] * GOLDEN_PERSONS,
            }
        )
        review = pl.DataFrame({"row_uid_a": [0, 1], "row_uid_b": [2, 3], "phone_a": [PLANTED_PHONE] * 2})
        connection.register("golden_frame", golden)
        connection.register("review_frame", review)
        connection.execute("CREATE TABLE residents_golden AS SELECT * FROM golden_frame")
        connection.execute("CREATE TABLE review_queue AS SELECT * FROM review_frame")
        connection.close()
        (store_dir / "CURRENT").write_text(current + "\n", encoding="utf-8")
    runs_frame = pl.DataFrame(
        runs,
        schema={
            "run_id": pl.String,
            "province_code": pl.String,
            "as_of": pl.Date,
            "started_at": pl.Datetime("us"),
            "finished_at": pl.Datetime("us"),
            "status": pl.String,
            "rows_in": pl.Int64,
            "rows_published": pl.Int64,
            "rows_quarantined": pl.Int64,
            "rows_rejected": pl.Int64,
            "message": pl.String,
        },
    )
    connection = duckdb.connect(str(store_dir / "history.duckdb"))
    connection.register("runs_frame", runs_frame)
    connection.execute("CREATE TABLE runs AS SELECT * FROM runs_frame")
    if history.height:
        connection.register("history_frame", history)
        connection.execute("CREATE TABLE score_history AS SELECT * FROM history_frame")
    connection.close()
    return store_dir


def run_row(run_id: str, day: int, status: str = "published", message: str | None = None) -> dict:
    return {
        "run_id": run_id,
        "province_code": PROVINCE,
        "as_of": date(2026, 11, day),
        "started_at": datetime(2026, 11, day, 1, 0),
        "finished_at": datetime(2026, 11, day, 1, 20),
        "status": status,
        "rows_in": 8,
        "rows_published": 7,
        "rows_quarantined": 1,
        "rows_rejected": 0,
        "message": message,
    }


# ------------------------------------------------------------------------------ a store of another register
PLANTED_BUSINESS = "Tạp hoá Xuyếnchi"
PLANTED_TAX_CODE = "3100123456"
BUSINESS_PLANTED = (PLANTED_BUSINESS, PLANTED_TAX_CODE, PLANTED_CCCD, PLANTED_PHONE)
GOLDEN_BUSINESSES = 4


def make_business_records() -> pl.DataFrame:
    """Six household businesses' records in two communes from two old communes' exports; two are copies."""
    return pl.DataFrame(
        {
            "row_uid": list(range(6)),
            "record_id": ["HKD-01", "HKD-02", "HKD-03", "HKD-04", "K-1", "K-2"],
            "source_id": ["hkd_dong_hoi"] * 4 + ["hkd_le_thuy"] * 2,
            "source_row": [1, 2, 3, 4, 1, 2],
            "business_name": [PLANTED_BUSINESS, "Quán cơm Hương", "Sửa xe Minh", "Tiệm vàng Kim", PLANTED_BUSINESS,
                              "Quán cơm Hương"],
            "owner_citizen_id": [PLANTED_CCCD] * 6,
            "tax_code": [PLANTED_TAX_CODE] * 6,
            "phone": [PLANTED_PHONE] * 6,
            "ward_code": ["18859"] * 4 + ["18871"] * 2,
            "province_code": [PROVINCE] * 6,
            "business_id": ["B-1", "B-2", "B-3", "B-4", "B-1", "B-2"],
        }
    )


def business_findings(error_rule: str, criterion: str) -> pl.DataFrame:
    """One error on record 0 (quarantined), the copies' duplicate warnings; values and messages planted."""
    rows = [
        (0, "HKD-01", "hkd_dong_hoi", error_rule, criterion, "error", f"MST {PLANTED_TAX_CODE}", PLANTED_TAX_CODE),
        (4, "K-1", "hkd_le_thuy", "duplicate_record", "clean", "warning", PLANTED_BUSINESS, PLANTED_BUSINESS),
        (5, "K-2", "hkd_le_thuy", "duplicate_record", "clean", "warning", "copy", None),
    ]
    return pl.DataFrame(
        rows,
        schema={
            "row_uid": pl.Int64,
            "record_id": pl.String,
            "source_id": pl.String,
            "rule_id": pl.String,
            "criterion": pl.String,
            "severity": pl.String,
            "message": pl.String,
            "value": pl.String,
        },
        orient="row",
    )


def publish_register_store(
    store_dir: Path, dataset: str, records_table: str, golden_table: str, findings: pl.DataFrame
) -> Path:
    """Publish one snapshot of `dataset` the way the pipeline does (publish_snapshot, manifest naming the
    dataset) and record its run; no score history, so the report scores the snapshot itself."""
    from sachsong.store.history import record_run
    from sachsong.store.publish import publish_snapshot

    records = make_business_records()
    quarantined = findings.filter(pl.col("severity") == "error").get_column("row_uid").to_list()
    golden = records.unique("business_id", keep="first", maintain_order=True).drop("row_uid")
    assert golden.height == GOLDEN_BUSINESSES
    tables = {
        records_table: records.filter(~pl.col("row_uid").is_in(quarantined)),
        golden_table: golden,
        "quarantine": records.filter(pl.col("row_uid").is_in(quarantined)),
        "findings": findings,
        "review_queue": pl.DataFrame({"row_uid_a": [1], "row_uid_b": [3], "business_name_a": [PLANTED_BUSINESS]}),
        "rejects": pl.DataFrame({"source_file": ["hkd_le_thuy.csv"], "source_row": [9], "reason": ["no name"]}),
    }
    run = {"run_id": "hkd-1", "province_code": PROVINCE, "as_of": "2026-11-04", "dataset": dataset}
    result = publish_snapshot(store_dir, tables, run)
    assert result.status == "published"
    row = run_row("hkd-1", 4)
    row.update(rows_in=7, rows_published=5, rows_rejected=1)
    record_run(store_dir, {k: v for k, v in row.items() if k != "message"})
    return store_dir

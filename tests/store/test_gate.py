"""The Great Expectations publish gate on the golden table."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from sachsong.store.gate import GoldenGate, reference_codes
from sachsong.store.publish import publish_snapshot
from sachsong.store.reader import current_run_id, read_current_table


def golden(n: int, ward: str = "18880", province: str = "44") -> pl.DataFrame:
    return pl.DataFrame(
        {
            "cluster_id": [f"P{i:05d}" for i in range(n)],
            "name_norm": ["Nguyễn Văn An"] * n,
            "ward_code": [ward] * n,
            "province_code": [province] * n,
        }
    )


@pytest.fixture(scope="module")
def gate() -> GoldenGate:
    return GoldenGate(key_columns=("name_norm",))


def test_reference_codes_are_the_new_units() -> None:
    wards, provinces = reference_codes()
    assert len(wards) == 3321 and len(provinces) == 34
    assert "18880" in wards and "44" in provinces


def test_clean_golden_passes_and_publishes(tmp_path: Path, gate: GoldenGate) -> None:
    result = publish_snapshot(tmp_path, {"residents_golden": golden(50)}, {"run_id": "r1"}, gate=gate)
    assert result.published, result.gate
    assert result.gate.passed and "50 golden records" in result.gate.message
    assert not (tmp_path / "data_docs").exists()  # docs only on failure by default


def test_each_violation_is_caught_and_reported(tmp_path: Path, gate: GoldenGate) -> None:
    publish_snapshot(tmp_path, {"residents_golden": golden(40)}, {"run_id": "r1"}, gate=gate)
    bad = pl.concat(
        [
            golden(15),
            golden(1).with_columns(pl.lit("P00003").alias("cluster_id")),  # duplicate person id
            golden(1, ward="99999").with_columns(pl.lit("P90000").alias("cluster_id")),  # unknown ward
            golden(1, province="64").with_columns(
                pl.lit("P90001").alias("cluster_id")
            ),  # merged-away province
            golden(1).with_columns(pl.lit("P90002").alias("cluster_id"), pl.lit(None).alias("name_norm")),
        ]
    )
    result = publish_snapshot(tmp_path, {"residents_golden": bad}, {"run_id": "r2"}, gate=gate)

    assert result.status == "gate_failed"
    failed = {(f["expectation"], f["column"]) for f in result.gate.failures}
    assert failed == {
        ("expect_table_row_count_to_be_between", None),  # 19 rows < 50% of 40
        ("expect_column_values_to_be_unique", "cluster_id"),
        ("expect_column_values_to_be_in_set", "ward_code"),
        ("expect_column_values_to_be_in_set", "province_code"),
        ("expect_column_values_to_not_be_null", "name_norm"),
    }
    ward_failure = next(f for f in result.gate.failures if f["column"] == "ward_code")
    assert ward_failure["unexpected_count"] == 1 and ward_failure["examples"] == ["99999"]
    assert current_run_id(tmp_path) == "r1"
    assert read_current_table(tmp_path, "residents_golden").height == 40
    assert result.gate.docs_path == tmp_path / "data_docs" / "index.html"
    assert result.gate.docs_path.is_file()
    assert any((tmp_path / "data_docs" / "validations").rglob("*.html"))


def test_null_ward_is_not_a_gate_failure(tmp_path: Path, gate: GoldenGate) -> None:
    # An unresolved address is a steward finding, not a reason to withhold the province.
    frame = golden(10).with_columns(
        pl.when(pl.col("cluster_id") == "P00001").then(None).otherwise("ward_code").alias("ward_code")
    )
    assert gate({"residents_golden": frame}, None, tmp_path).passed


def test_missing_table_or_key_fails_clearly(tmp_path: Path, gate: GoldenGate) -> None:
    assert "no 'residents_golden'" in gate({"other": golden(3)}, None, tmp_path).message
    result = gate({"residents_golden": golden(3).drop("name_norm")}, None, tmp_path)
    assert not result.passed and "name_norm" in result.message

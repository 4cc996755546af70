"""Inputs from the independent held-out household-business register (benchmarks/heldout_business, written without
reading this code) that once broke the register: kept as tests."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from sachsong.pipelines.oneshot import check_input, prepare_input

CASES = Path(__file__).parent / "cases"


def test_codes_that_are_not_level_5_vsic_codes_are_all_found() -> None:
    # 4771 / 5630 / 4711 / "4719 " are level-4 groups, 471100 and 47A10 are not codes at all, 56500 exists
    # nowhere; 47110 is a real level-5 code (VSIC 2025).
    result = check_input(CASES / "vsic_not_level5.csv", "household_business", "2026-09-30")
    vsic = result.findings.filter(pl.col("rule_id").str.contains("vsic"))
    found = dict(vsic.select("record_id", "rule_id").iter_rows())
    assert found == {
        "case:1": "vsic_code_incomplete",
        "case:2": "vsic_code_incomplete",
        "case:3": "vsic_code_incomplete",
        "case:4": "vsic_code_unknown",
        "case:5": "vsic_code_unknown",
        "case:6": "vsic_code_incomplete",
        "case:7": "vsic_code_unknown",
    }


def test_abbreviated_headers_keep_the_dates_and_the_owner_id() -> None:
    # "CCCD", "Ngày ĐK" and "Ngày CN" were kept out as extra columns: the file lost its registration dates (a
    # future one went unseen), its owners' ids and its update dates.
    prepared = prepare_input(CASES / "hkd_abbrev.csv", "household_business")
    assert prepared.standardized.get_column("registered_on").null_count() == 0
    assert prepared.standardized.get_column("owner_citizen_id").null_count() == 0
    assert prepared.standardized.get_column("updated_at").null_count() == 0
    result = check_input(CASES / "hkd_abbrev.csv", "household_business", "2026-09-30")
    future = result.findings.filter(pl.col("rule_id") == "registered_in_future")
    assert future.get_column("record_id").to_list() == [prepared.standardized.row(1, named=True)["record_id"]]

"""Checking without copying the province: ids-only `passed`, values only for fired rows, lean Python checks.

Each test compares the lean path with what the result must be (the full-row result, or the plain polars
formulation of the same check), on small tables shaped like a province's: faults mixed with clean rows.
"""

from __future__ import annotations

import textwrap
from datetime import date, datetime
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from sachsong.rules.engine import check_standardized, load_pack
from sachsong.rules.python_checks import (
    CheckContext,
    record_id_repeated_in_source,
    register_check,
    source_not_refreshed,
)

AS_OF = date(2026, 1, 15)
NO_IDENTITY = {
    "citizen_id": None,
    "citizen_id_digits": None,
    "cccd": None,
    "cccd_province_code": None,
    "cccd_sex": None,
    "cccd_birth_year": None,
}
# One of each kind of row, repeated with variations below so combinations of error rules repeat too.
FAULTS = [
    {},
    {"phone_status": "invalid", "phone_e164": None, "phone": "0123"},
    {"full_name": "NGUYỄN VĂN AN"},
    {"address_status": "unmatched", "ward_code": None, "province_code": None, "address": "???"},
    {
        "dob": date(2027, 1, 1),
        "date_of_birth": "01/01/2027",
        "sex": "khác",
        "sex_code": None,
        "cccd_sex": None,
        **NO_IDENTITY,
    },
    {"updated_ts": datetime(2024, 1, 1), "updated_at": "2024-01-01"},
    {"commune_code": "99999"},
    {"phone_status": "invalid", "phone_e164": None, "phone": "09", "commune_code": "4"},
    {"address_status": "ambiguous", "ward_code": None, "ward_candidates": ["18880", "18859"]},
]


def _write_pack(tmp_path: Path, rules_yaml: str) -> Path:
    """A pack with the residents pack's header (dataset, example_row) and the given rules."""
    header = load_pack("residents").path.read_text(encoding="utf-8").split("\nrules:\n")[0]
    path = tmp_path / "lean.yaml"
    path.write_text(
        header + "\nrules:\n" + textwrap.indent(textwrap.dedent(rules_yaml), "  "), encoding="utf-8"
    )
    return path


def _province_like(std_frame, copies: int = 7) -> pl.DataFrame:
    rows = []
    for copy in range(copies):
        for fault in FAULTS:
            rows.append({**fault, "source_id": f"src_{copy % 3}"})
    return std_frame(rows)


def test_ids_only_result_matches_the_full_row_result(std_frame):
    std = _province_like(std_frame)
    clusters = std.select(
        "row_uid",
        (pl.col("row_uid") // 2).cast(pl.String).alias("cluster_id"),
        pl.lit(2).alias("cluster_size"),
    )
    for options in ({}, {"clusters": clusters}):
        full = check_standardized(std, AS_OF, province_code="44", **options)
        lean = check_standardized(std, AS_OF, province_code="44", keep_rows=False, **options)
        assert lean.passed.columns == ["row_uid"]
        assert_frame_equal(lean.passed, full.passed.select("row_uid"))
        assert_frame_equal(lean.quarantine, full.quarantine)
        assert_frame_equal(lean.findings, full.findings)
        assert lean.describe() == full.describe()
    # The example mixes passed and quarantined rows, so the comparison is not between two empty frames.
    assert 0 < lean.passed.height < std.height
    assert set(lean.quarantine["row_uid"]) == set(std["row_uid"]) - set(lean.passed["row_uid"])


def test_quarantine_reasons_follow_each_rows_own_combination_of_errors(std_frame):
    std = _province_like(std_frame, copies=3)
    result = check_standardized(std, AS_OF, province_code="44", keep_rows=False)
    pack = load_pack("residents")
    errors = {rule.id for rule in pack.rules if rule.severity == "error"}
    fired = (
        result.findings.filter(pl.col("row_uid").is_not_null() & pl.col("rule_id").is_in(sorted(errors)))
        .group_by("row_uid")
        .agg(pl.col("rule_id"))
    )
    expected = {row["row_uid"]: set(row["rule_id"]) for row in fired.iter_rows(named=True)}
    got = dict(zip(result.quarantine["row_uid"], result.quarantine["reasons"].to_list(), strict=True))
    assert {uid: set(reasons) for uid, reasons in got.items()} == expected
    # Reasons keep the pack's rule order, and the text lists the same rules with their messages.
    order = [rule.id for rule in pack.rules]
    for row in result.quarantine.iter_rows(named=True):
        assert row["reasons"] == sorted(row["reasons"], key=order.index)
        assert [part.split(":")[0] for part in row["quarantine_reason"].split("; ")] == row["reasons"]
    # Two rules in one row (dob in the future, sex unrecognised) and a single rule both occur.
    assert {len(reasons) for reasons in got.values()} >= {1, 2}


@register_check("phone_group_size", columns=("phone_e164",))
def _phone_group_size(frame: pl.DataFrame, ctx: CheckContext) -> tuple[pl.Expr, pl.Expr]:
    group_size = pl.len().over("phone_e164")
    return pl.col("phone_e164").is_not_null() & (pl.col("sex_code") == "F"), group_size


@register_check("odd_rows_with_series_value", columns=("row_uid",))
def _odd_rows_with_series_value(frame: pl.DataFrame, ctx: CheckContext) -> tuple[pl.Series, pl.Series]:
    uid = frame.get_column("row_uid")
    return uid % 2 == 1, (uid * 10).cast(pl.String)


def test_values_are_computed_for_fired_rows_as_if_over_the_whole_table(tmp_path: Path, std_frame):
    path = _write_pack(
        tmp_path,
        """
        - id: phone_group
          criterion: clean
          severity: warning
          message_vi: Số điện thoại dùng chung
          message_en: Shared phone
          python: phone_group_size
          examples:
            pass: [{}]
            fail: [{sex_code: "F", sex: "Nữ", cccd: "044190001234", citizen_id: "044190001234",
                    citizen_id_digits: "044190001234", cccd_sex: "F"}]
        - id: odd_row
          criterion: clean
          severity: warning
          message_vi: Dòng lẻ
          message_en: Odd row
          python: odd_rows_with_series_value
          examples:
            pass: [{}]
            fail: [{rows: [{}, {}]}]
        """,
    )
    female = {"sex_code": "F", "sex": "Nữ"}
    std = std_frame(
        [{}, female, {}, female, {"phone_e164": "+84987654321", **female}, {"phone_e164": None, **female}]
    )
    findings = check_standardized(std, AS_OF, pack=load_pack(path), validate_contract=False).findings
    # The window value counts the whole table's phone group (4 rows share the first number), not the fired rows.
    grouped = findings.filter(pl.col("rule_id") == "phone_group").select("row_uid", "value").rows()
    assert grouped == [(1, "4"), (3, "4"), (4, "1")]
    odd = findings.filter(pl.col("rule_id") == "odd_row").select("row_uid", "value").rows()
    assert odd == [(1, "10"), (3, "30"), (5, "50")]


def test_repeated_record_ids_match_the_plain_window_formulation(std_frame):
    rows = []
    for position in range(60):
        # 23 ids in 2 sources over 60 rows: a (source, id) pair comes back after 46 rows.
        record_id = None if position % 11 == 0 else f"R-{position % 23:04d}"
        rows.append({"record_id": record_id, "source_id": f"src_{position % 2}"})
    std = std_frame(rows)
    flag = record_id_repeated_in_source(std, CheckContext(AS_OF))
    expected = std.select(
        pl.col("record_id").is_not_null() & (pl.len().over("source_id", "record_id") > 1)
    ).to_series()
    assert flag.to_list() == expected.to_list()
    assert 0 < flag.sum() < std.height
    # The same id in two different sources is not a repeat; nulls never are.
    two_sources = std_frame([{"record_id": "A", "source_id": "s1"}, {"record_id": "A", "source_id": "s2"}])
    assert record_id_repeated_in_source(two_sources, CheckContext(AS_OF)).to_list() == [False, False]
    nulls = std_frame([{"record_id": None}, {"record_id": None}])
    assert record_id_repeated_in_source(nulls, CheckContext(AS_OF)).to_list() == [False, False]


def test_repeated_record_ids_on_an_empty_table(std_frame):
    empty = std_frame([]).clear()
    assert record_id_repeated_in_source(empty, CheckContext(AS_OF)).len() == 0


@pytest.mark.parametrize("window_days", [7, 30])
def test_stale_sources_match_the_plain_filtered_maximum(std_frame, window_days: int):
    std = std_frame(
        [
            {"source_id": "fresh", "updated_ts": datetime(2026, 1, 14)},
            {"source_id": "month_old", "updated_ts": datetime(2025, 12, 20)},
            {"source_id": "only_future", "updated_ts": datetime(2026, 3, 1)},  # a future stamp is no refresh
            {"source_id": "future_and_old", "updated_ts": datetime(2026, 2, 1)},
            {"source_id": "future_and_old", "updated_ts": datetime(2025, 1, 1)},
            {"source_id": "no_dates", "updated_ts": None, "updated_at": None},
        ]
    )
    stale = source_not_refreshed(std, CheckContext(AS_OF, {"source_window_days": window_days}))
    cutoff = datetime(2026, 1, 15) - pl.duration(days=window_days)
    not_future = pl.col("updated_ts") < datetime(2026, 1, 16)
    expected = (
        std.group_by("source_id")
        .agg(pl.col("updated_ts").filter(not_future).max().alias("newest"))
        .filter(pl.col("newest").is_null() | (pl.col("newest") < cutoff))
        .get_column("source_id")
        .sort()
        .to_list()
    )
    assert stale["value"].to_list() == expected == stale["source_id"].to_list()
    assert {"only_future", "future_and_old", "no_dates"} <= set(expected)
    assert ("month_old" in expected) == (window_days == 7)

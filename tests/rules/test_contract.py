"""The pandera contract of the standardized residents table catches a standardizer that broke its promise."""

from __future__ import annotations

import polars as pl
import pytest

from sachsong.rules.contract import ContractError, validate_standardized


def test_a_valid_table_passes_unchanged(std_frame):
    std = std_frame([{}, {"cccd": None, "citizen_id_digits": None, "citizen_id": None}])
    assert validate_standardized(std) is std


def test_every_failure_is_collected_with_column_check_and_value(std_frame):
    std = std_frame(
        [
            {"sex_code": "Nam"},  # not M/F
            {"phone_e164": "0912345678"},  # not E.164
            {"address_status": "maybe"},
            {"dob_status": None},  # never null
        ]
    )
    with pytest.raises(ContractError) as caught:
        validate_standardized(std)
    cases = caught.value.failure_cases
    failed = {(row["column"], row["failure_case"]) for row in cases.iter_rows(named=True)}
    assert {("sex_code", "Nam"), ("phone_e164", "0912345678"), ("address_status", "maybe")} <= failed
    assert "dob_status" in set(cases["column"].to_list())
    message = str(caught.value)
    assert "standardizer bug" in message
    assert "sex_code: isin" in message and "phone_e164: str_matches" in message


def test_wrong_dtype_and_missing_column_are_caught(std_frame):
    wrong_type = std_frame([{}]).with_columns(pl.col("dob").cast(pl.String))
    with pytest.raises(ContractError, match="dob"):
        validate_standardized(wrong_type)
    missing = std_frame([{}]).drop("ward_code")
    with pytest.raises(ContractError, match="ward_code"):
        validate_standardized(missing)


def test_cross_column_promises(std_frame):
    date_without_precision = std_frame([{"dob_precision": None}])
    with pytest.raises(ContractError, match="dob_and_precision_agree"):
        validate_standardized(date_without_precision)
    cccd_not_the_digits = std_frame([{"cccd": "001099000001"}])
    with pytest.raises(ContractError, match="identity_numbers_agree"):
        validate_standardized(cccd_not_the_digits)


def test_a_lazyframe_is_refused_because_pandera_would_skip_data_checks(std_frame):
    with pytest.raises(TypeError, match="LazyFrame"):
        validate_standardized(std_frame([{}]).lazy())  # type: ignore[arg-type]


def test_extra_columns_ride_along(std_frame):
    std = std_frame([{}]).with_columns(pl.lit("c-1").alias("cluster_id"))
    assert validate_standardized(std).columns[-1] == "cluster_id"

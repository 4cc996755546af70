import importlib.util
import unicodedata
from datetime import date, datetime

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from sachsong.standardize.residents import standardize_residents

from sachsong.schema import RAW_COLUMNS, STANDARD_COLUMNS

RAW = pl.DataFrame(
    {
        "record_id": ["hk-1", "ds-7", "hk-2", "hk-3"],
        "source_id": ["ho_khau", "dan_so", "ho_khau", "ho_khau"],
        "full_name": [
            "NGUYỄN THỊ THÚY",
            unicodedata.normalize("NFD", "Nguyễn Thị Thuý"),
            "  lê văn hòa ",
            "?",
        ],
        "date_of_birth": ["15/08/1985", "1985-08-15", "1990", "31/02/1990"],
        "sex": ["Nữ", "nu", "1", None],
        "citizen_id": ["001 185 012 345", "001185012345", "123456789", ""],
        "phone": ["0912.345.678", "+84 912 345 678", "01662345678", "12345"],
        "address": ["Xóm 2, xã A, huyện B", "xã A", None, "thôn C"],
        "commune_code": ["19123", None, "19125", None],
        "updated_at": ["2025-07-01", "01/07/2025 08:00:00", None, "không rõ"],
        "source_file": ["ho_khau.csv", "dan_so.xlsx", "ho_khau.csv", "ho_khau.csv"],
        "source_row": [1, 1, 2, 3],
    }
)


def hint_resolver(calls=None):
    """Stands in for the address room: copies the commune hint, flags the rest unmatched, returns rows reversed."""

    def resolve(frame, column="address", hint_column=None):
        if calls is not None:
            calls.append((column, hint_column, frame.columns))
        resolved = frame.with_columns(
            ward_code=pl.col(hint_column),
            province_code=pl.col(hint_column).str.slice(0, 2),
            address_status=pl.when(pl.col(hint_column).is_not_null())
            .then(pl.lit("exact"))
            .otherwise(pl.lit("unmatched")),
            ward_candidates=pl.lit(None, dtype=pl.List(pl.String)),
        )
        return resolved.reverse()

    return resolve


def test_output_is_raw_plus_every_standard_column_with_exact_dtypes():
    out = standardize_residents(RAW, address_resolver=hint_resolver())
    assert out.columns == [*RAW_COLUMNS, "source_file", "source_row", *STANDARD_COLUMNS]
    for name, dtype in STANDARD_COLUMNS.items():
        assert out.schema[name] == dtype, name
    assert out["row_uid"].to_list() == [0, 1, 2, 3]


def test_raw_values_and_lineage_are_untouched():
    out = standardize_residents(RAW, address_resolver=hint_resolver())
    assert_frame_equal(out.select(RAW.columns), RAW)


def test_the_same_person_from_two_sources_gets_the_same_standard_values():
    out = standardize_residents(RAW, address_resolver=hint_resolver())
    compared = ["name_norm", "name_key", "family_name", "given_name", "dob", "sex_code", "cccd", "phone_e164"]
    first, second = out.head(2).select(compared).rows()
    assert (
        first
        == second
        == (
            "Nguyễn Thị Thuý",
            "nguyen thi thuy",
            "Nguyễn",
            "Thuý",
            date(1985, 8, 15),
            "F",
            "001185012345",
            "+84912345678",
        )
    )


def test_every_room_is_applied_row_by_row():
    out = standardize_residents(RAW, address_resolver=hint_resolver())
    row = out.row(2, named=True)
    assert (row["name_norm"], row["middle_name"]) == ("Lê Văn Hoà", "Văn")
    assert (row["dob"], row["dob_precision"], row["dob_status"]) == (date(1990, 1, 1), "year", "ok")
    assert (row["sex_code"], row["cmnd"], row["cccd"]) == ("M", "123456789", None)
    assert (row["phone_e164"], row["phone_status"]) == ("+84362345678", "ok")
    assert row["updated_ts"] is None
    last = out.row(3, named=True)
    assert (last["name_norm"], last["dob_status"], last["phone_status"], last["citizen_id_digits"]) == (
        None,
        "impossible",
        "invalid",
        None,
    )
    assert out["updated_ts"].to_list()[:2] == [datetime(2025, 7, 1), datetime(2025, 7, 1, 8)]
    assert out["cccd_birth_year"].to_list() == [1985, 1985, None, None]


def test_address_resolver_gets_the_address_and_commune_hint_and_rows_are_rejoined_by_row_uid():
    calls = []
    out = standardize_residents(RAW, address_resolver=hint_resolver(calls))
    assert calls == [("address", "commune_code", ["row_uid", "address", "commune_code"])]
    # The stand-in returns its rows reversed; each row must still get its own ward.
    assert out["ward_code"].to_list() == ["19123", None, "19125", None]
    assert out["address_status"].to_list() == ["exact", "unmatched", "exact", "unmatched"]


def test_missing_raw_columns_are_treated_as_null():
    partial = pl.DataFrame({"full_name": ["Trần Văn Bình"], "address": ["xã A"]})
    out = standardize_residents(partial, address_resolver=hint_resolver())
    row = out.row(0, named=True)
    assert row["record_id"] is None and row["name_key"] == "tran van binh"
    assert (row["dob_status"], row["phone_status"], row["sex_code"]) == ("missing", "missing", None)


def test_restandardizing_a_standardized_table_recomputes_the_same_columns():
    once = standardize_residents(RAW, address_resolver=hint_resolver())
    twice = standardize_residents(once, address_resolver=hint_resolver())
    assert_frame_equal(once, twice)


def test_empty_input_gives_an_empty_table_with_the_full_schema():
    empty = RAW.clear()
    out = standardize_residents(empty, address_resolver=hint_resolver())
    assert out.height == 0
    assert all(out.schema[name] == dtype for name, dtype in STANDARD_COLUMNS.items())


def test_a_resolver_breaking_the_contract_is_named_in_the_error():
    def no_candidates(frame, column="address", hint_column=None):
        return frame.with_columns(
            ward_code=pl.lit(None), province_code=pl.lit(None), address_status=pl.lit("x")
        )

    with pytest.raises(ValueError, match="ward_candidates"):
        standardize_residents(RAW, address_resolver=no_candidates)

    def drops_rows(frame, column="address", hint_column=None):
        return hint_resolver()(frame, column, hint_column).head(1)

    with pytest.raises(ValueError, match="1 rows for 4 input rows"):
        standardize_residents(RAW, address_resolver=drops_rows)


@pytest.mark.skipif(
    importlib.util.find_spec("sachsong.standardize.address") is None, reason="address room not built yet"
)
def test_default_resolver_is_the_address_room():
    out = standardize_residents(RAW.head(2))
    assert out.height == 2
    assert set(out["address_status"].to_list()) <= {"exact", "fuzzy", "ambiguous", "unmatched"}

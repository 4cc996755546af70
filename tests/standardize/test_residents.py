import unicodedata
from datetime import date, datetime

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from sachsong.schema import RAW_COLUMNS, STANDARD_COLUMNS
from sachsong.standardize.residents import standardize_residents

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


def test_default_resolver_is_the_address_room():
    out = standardize_residents(RAW.head(2))
    assert out.height == 2
    assert set(out["address_status"].to_list()) <= {"exact", "fuzzy", "ambiguous", "unmatched"}


# ------------------------------------------------------------------------------------------ hostile input
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from sachsong.rules.contract import validate_standardized  # noqa: E402
from sachsong.standardize.dates import dob_order_by_file  # noqa: E402

# Cells as commune offices' Excel leaves them, and anything else Unicode can hold.
EXCEL_CELLS = st.sampled_from(
    ["079190012345.0", "7.9190012345E+10", "7,9E+10", "'079190012345", "０７９１９００１２３４５", "079\u200b190012345",
     "79190012345", "1085012345", "12345678", "chưa cấp", "không có", "-", "045O80000111", "036499000001",
     "036999999999", "999999999999", "27 tháng 1 năm 1998", "ngày 05/10/1955", "3/11/1987 12:00:00 SA",
     "12/05/85", "8/4/1960", "12/25/1990", "31048", "99999", "00/00/00", "29/02/00", "Ông", "Bà", "x",
     "912345678", "912345678.0", "19123.0", "4", "Ông Nguyễn Văn Bình", "Nguyeenx Vawn An", "Nguye6n4 Va8n An",
     "An Nguyễn Văn", "Cụ Bà", "9" * 40, "1e308", "NaN", "inf", "", " ", "\u00a0", "\ufeff"]
)  # fmt: skip
ANY_CELL = st.one_of(st.none(), EXCEL_CELLS, st.text(alphabet=st.characters(codec="utf-8"), max_size=30))
FILES = st.sampled_from(["a.xlsx", "b.csv", None])


def contract_safe_resolver(frame, column="address", hint_column=None):
    """Address stand-in whose own output is always in contract: the property is about this room's columns."""
    hint = pl.col(hint_column)
    return frame.with_columns(
        ward_code=pl.when(hint.str.contains(r"^[0-9]{5}$")).then(hint),
        province_code=pl.when(hint.str.contains(r"^[0-9]{5}$")).then(hint.str.slice(0, 2)),
        address_status=pl.lit("unmatched"),
        ward_candidates=pl.lit(None, dtype=pl.List(pl.String)),
    )


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
@given(
    st.lists(
        st.tuples(st.fixed_dictionaries({c: ANY_CELL for c in RAW_COLUMNS}), FILES), min_size=1, max_size=12
    )
)
def test_any_text_in_any_raw_column_gives_a_table_inside_the_contract(rows):
    raw = pl.DataFrame(
        [{**cells, "source_file": source_file} for cells, source_file in rows],
        schema={**{c: pl.String for c in RAW_COLUMNS}, "source_file": pl.String},
    )
    out = standardize_residents(raw, address_resolver=contract_safe_resolver)
    assert out.height == raw.height
    validate_standardized(out)
    assert_frame_equal(out.select(raw.columns), raw)
    orders = dob_order_by_file(out)
    assert set(orders["dob_order"].to_list()) <= {"day_first", "month_first", "mixed", "unknown"}
    # Every token names a field and a kind.
    for column in ("repairs", "flags"):
        tokens = [t for row in out[column].to_list() for t in row]
        assert all(t.count(":") == 1 and t.split(":")[0] for t in tokens), tokens


def test_an_excel_damaged_row_is_repaired_and_says_how():
    raw = pl.DataFrame(
        {
            "record_id": ["1", "2", "3"],
            "full_name": ["Ông Nguyễn Văn Bình", "Tranaf Thij Hoaf", "Lê Văn Tám"],
            "date_of_birth": ["ngày 05/10/1955", "12/05/85", "8/4/1960"],
            "sex": [None, "Nữ", "Nam"],
            "citizen_id": ["7.9055012345E+10", "'079185012345", "045O80000111"],
            "phone": ["912345678.0", "không có", "0912 345 678"],
            "commune_code": ["26734.0", "4", None],
            "updated_at": ["2025-07-01", "2025-07-01", "2025-07-01"],
            "source_file": ["xa_a.xlsx", "xa_a.xlsx", "xa_b.xlsx"],
        }
    )
    calls = []
    out = standardize_residents(raw, address_resolver=hint_resolver(calls))
    validate_standardized(out)
    first, second, third = out.rows(named=True)
    assert (first["name_norm"], first["honorific"], first["sex_code"]) == ("Nguyễn Văn Bình", "Ông", "M")
    assert (first["dob"], first["cccd"], first["cccd_birth_year"]) == (
        date(1955, 10, 5),
        "079055012345",
        1955,
    )
    assert (first["phone_e164"], first["commune_code_std"], first["ward_code"]) == (
        "+84912345678",
        "26734",
        "26734",
    )
    assert first["repairs"] == [
        "name:honorific",
        "dob:words",
        "sex:from_honorific",
        "phone:excel_number",
        "phone:leading_zero",
        "commune_code:excel_number",
        "citizen_id:excel_number",
        "citizen_id:leading_zero",
    ]
    assert first["flags"] == []
    assert (second["name_norm"], second["dob"], second["cccd"]) == (
        "Trần Thị Hoà",
        date(1985, 5, 12),
        "079185012345",
    )
    assert (second["phone_status"], second["commune_code_std"], second["dob_order"]) == (
        "missing",
        "00004",
        "day_first",  # "ngày 05/10/1955" in the same file puts the day first
    )
    assert second["repairs"] == [
        "name:telex",
        "dob:two_digit_year",
        "commune_code:leading_zero",
        "citizen_id:apostrophe",
    ]
    # Not repaired: the O typed for 0 stays an invalid number; the lone ambiguous date is read day-first, flagged.
    assert (third["citizen_id_digits"], third["citizen_id_status"]) == (None, "invalid")
    assert third["flags"] == ["dob:order_assumed", "citizen_id:not_digits"]
    assert third["dob"] == date(1960, 4, 8) and third["repairs"] == []
    assert out.select(raw.columns).equals(raw)


def test_update_times_follow_their_files_date_order():
    raw = pl.DataFrame(
        {
            "date_of_birth": ["12/25/1990", "8/4/1960", "25/12/1990", "12/25/1990", "8/4/1960"],
            "updated_at": ["6/12/2026 9:17:00 AM"] * 5,
            "source_file": ["us.csv", "us.csv", "mix.csv", "mix.csv", "vn.csv"],
        }
    )
    out = standardize_residents(raw, address_resolver=contract_safe_resolver)
    validate_standardized(out)
    assert (
        out["updated_ts"].to_list() == [datetime(2026, 6, 12, 9, 17)] * 2 + [datetime(2026, 12, 6, 9, 17)] * 3
    )
    assert out["repairs"].to_list()[:2] == [
        ["dob:month_first", "updated_at:month_first_file"],
        ["dob:month_first_file", "updated_at:month_first_file"],
    ]
    assert out["flags"].to_list()[2:] == [
        ["updated_at:order_conflict"],
        ["updated_at:order_conflict"],
        ["dob:order_assumed"],
    ]

from datetime import date, datetime

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from sachsong.standardize.dates import _timestamp_full, dob_columns, dob_order_by_file, timestamp_column
from sachsong.standardize.text import token_list


def dob(values):
    frame = pl.DataFrame({"raw": values}, schema={"raw": pl.String})
    return dob_columns(frame, "raw").select("dob", "dob_precision", "dob_status").rows()


def timestamps(values):
    frame = pl.DataFrame({"raw": values}, schema={"raw": pl.String})
    out = timestamp_column(frame, "raw", output="ts")
    assert out.schema["ts"] == pl.Datetime("us")
    return out["ts"].to_list()


@pytest.mark.parametrize(
    "raw",
    [
        "15/08/1985",
        "15-08-1985",
        "15.08.1985",
        "1985-08-15",
        "1985/08/15",
        "1985.08.15",
        "19850815",
        "15081985",
        " 15/08/1985 ",
        "1985-08-15 00:00:00",
        "15/08/1985 07:30",
        "1985-08-15T00:00:00Z",
        "31274",  # Excel serial of 1985-08-15
        "31274.0",
    ],
)
def test_every_day_format_reads_the_same_day(raw):
    assert dob([raw]) == [(date(1985, 8, 15), "day", "ok")]


def test_compact_day_first_whose_first_digits_look_like_a_year():
    # "1912" could start a yyyymmdd, but 1912-19-85 is no day; 19/12/1985 is.
    assert dob(["19121985", "20011999"]) == [
        (date(1985, 12, 19), "day", "ok"),
        (date(1999, 1, 20), "day", "ok"),
    ]


def test_single_digit_day_and_month():
    assert dob(["5/8/1985", "05/08/1985"]) == [(date(1985, 8, 5), "day", "ok")] * 2


def test_year_only_and_unknown_day_month_convention():
    assert dob(["1985", "00/00/1985", "00/05/1985", "15/00/1985"]) == [(date(1985, 1, 1), "year", "ok")] * 4


def test_excel_serial_of_new_year_1985():
    assert dob(["31048"]) == [(date(1985, 1, 1), "day", "ok")]


def test_serial_outside_plausible_range_is_unparsable():
    assert dob(["999", "99999", "123456"]) == [(None, None, "unparsable")] * 3


@pytest.mark.parametrize(
    "raw", ["31/02/1990", "29/02/1991", "15/13/1990", "13/13/1990", "1990-02-30", "19900231"]
)
def test_impossible_dates(raw):
    assert dob([raw]) == [(None, None, "impossible")]


def test_leap_day_is_possible():
    assert dob(["29/02/1992"]) == [(date(1992, 2, 29), "day", "ok")]


def test_a_value_only_one_order_can_read_is_read_that_way():
    assert dob(["25/12/1990"]) == [(date(1990, 12, 25), "day", "ok")]
    assert dob(["12/25/1990"]) == [(date(1990, 12, 25), "day", "ok")]


@pytest.mark.parametrize("raw", ["abc", "15/08", "ngày mai", "1985-08", "0000", "12/05/1985/1"])
def test_unparsable(raw):
    assert dob([raw]) == [(None, None, "unparsable")]


@pytest.mark.parametrize("raw", [None, "", "   "])
def test_missing(raw):
    assert dob([raw]) == [(None, None, "missing")]


def test_timestamps_naive_local_and_offsets_converted_to_vietnam_time():
    values = [
        "2024-05-01",
        "01/05/2024 10:20:30",
        "2024-05-01T10:20:30.123456",
        "2024-05-01T03:20:30Z",
        "2024-05-01T10:20:30+07:00",
        "2024-05-01 05:20:30 +0200",
        "1/5/2024 3:45:00 PM",
        "45413.5",  # Excel serial of 2024-05-01 at noon
    ]
    assert timestamps(values) == [
        datetime(2024, 5, 1),
        datetime(2024, 5, 1, 10, 20, 30),
        datetime(2024, 5, 1, 10, 20, 30, 123456),
        datetime(2024, 5, 1, 10, 20, 30),
        datetime(2024, 5, 1, 10, 20, 30),
        datetime(2024, 5, 1, 10, 20, 30),
        datetime(2024, 5, 1, 15, 45),
        datetime(2024, 5, 1, 12),
    ]


def test_bad_timestamps_are_null():
    assert timestamps(["2024-05-01 25:00", "31/02/2024", "hôm qua", None]) == [None] * 4


DAY_SHAPES = ["{d:02d}/{m:02d}/{y}", "{d}/{m}/{y}", "{d:02d}-{m:02d}-{y}", "{d:02d}.{m:02d}.{y}", "{y}-{m:02d}-{d:02d}",
              "{y}/{m}/{d}", "{y}{m:02d}{d:02d}", "{d:02d}{m:02d}{y}"]  # fmt: skip


@settings(max_examples=120, deadline=None)
@given(
    st.integers(1800, 2100),
    st.integers(1, 12),
    st.integers(1, 31),
    st.sampled_from(DAY_SHAPES),
    st.booleans(),
)
def test_any_written_day_reads_back_or_is_impossible(year, month, day, shape, with_time):
    text = shape.format(y=year, m=month, d=day) + (" 00:00:00" if with_time and "/" in shape else "")
    try:
        expected = [(date(year, month, day), "day", "ok")]
    except ValueError:
        expected = [(None, None, "impossible")]
    assert dob([text]) == expected


def test_fast_path_gives_the_same_answers_as_the_full_parser():
    values = ["15/08/1985", "5/8/1985", "31/02/1990", "12/25/1990", "15/08/85", "1985-08-15", "0985-01-01",
              "1985-8-5", "+1985-01-01", "2024-05-01T10:20:30", "2024-05-01 10:20:30.5", "2024-05-01T25:00:00",
              "1985", "31048", None, "", "abc"]  # fmt: skip
    frame = pl.DataFrame({"raw": values}, schema={"raw": pl.String})
    assert_frame_equal(timestamp_column(frame, "raw"), _timestamp_full(frame, "raw", "updated_ts"))


def read(values, files=None, updated=None):
    """(dob, dob_precision, dob_status, repairs, flags) per value, per file, against the rows' update times."""
    n = len(values)
    frame = pl.DataFrame(
        {"raw": values, "source_file": files or ["f.xlsx"] * n, "updated_ts": updated or [None] * n},
        schema={"raw": pl.String, "source_file": pl.String, "updated_ts": pl.Datetime("us")},
    )
    out = dob_columns(frame, "raw", today=date(2026, 11, 1))
    tokens = [token_list(pl.col("_repairs_dob")), token_list(pl.col("_flags_dob"))]
    return out.select("dob", "dob_precision", "dob_status", *tokens).rows()


@pytest.mark.parametrize(
    "raw",
    [
        "27 tháng 1 năm 1998",
        "27 Tháng 01 Năm 1998",
        "ngày 27 tháng 1 năm 1998",
        "Ngày 27 tháng 01, năm 1998",
        "NGÀY 27 THÁNG 1 NĂM 1998",
        "ngày 27/01/1998",
        "Ngày: 27/1/1998",
        "sinh ngày 27-01-1998",
    ],
)
def test_dates_in_words(raw):
    assert read([raw]) == [(date(1998, 1, 27), "day", "ok", ["dob:words"], [])]


def test_month_and_year_in_words_is_a_year_precision_date():
    assert (
        read(["tháng 10 năm 1955", "năm 1955"]) == [(date(1955, 1, 1), "year", "ok", ["dob:words"], [])] * 2
    )


@pytest.mark.parametrize(
    "raw", ["3/11/1987 12:00:00 SA", "3/11/1987 2:15:00 CH", "3/11/1987 12:00:00 AM", "03/11/1987 00:00"]
)
def test_excel_datetimes_with_a_clock_keep_the_day(raw):
    assert read([raw, "25/12/1990"])[0] == (date(1987, 11, 3), "day", "ok", [], [])


def test_vietnamese_clock_marks_in_update_times():
    assert timestamps(["3/11/2025 2:15:00 CH", "3/11/2025 12:05:00 SA", "3/11/2025 9:00:00 SA"]) == [
        datetime(2025, 11, 3, 14, 15),
        datetime(2025, 11, 3, 0, 5),
        datetime(2025, 11, 3, 9, 0),
    ]


def test_excel_serials_in_the_1900_system():
    # 32874 is 1990-01-01 in Excel's 1900 system (which counts a phantom 29 Feb 1900).
    assert read(["32874", "32874.0", "31274"]) == [
        (date(1990, 1, 1), "day", "ok", ["dob:excel_serial"], []),
        (date(1990, 1, 1), "day", "ok", ["dob:excel_serial"], []),
        (date(1985, 8, 15), "day", "ok", ["dob:excel_serial"], []),
    ]
    assert read(["999", "99999"]) == [(None, None, "unparsable", [], [])] * 2


def test_dots_and_dashes():
    assert [r[0] for r in read(["15.08.1985", "15-08-1985", "15/08/1985", "15. 08. 1985"])] == [
        date(1985, 8, 15)
    ] * 3 + [None]


def test_two_digit_years_take_the_latest_century_not_in_the_future():
    updated = [datetime(2025, 6, 1)] * 4
    assert read(["12/05/85", "01/01/30", "15/08/24", "15/08/26"], updated=updated) == [
        (date(1985, 5, 12), "day", "ok", ["dob:two_digit_year"], []),
        (date(1930, 1, 1), "day", "ok", ["dob:two_digit_year"], []),  # 2030 is after the update
        (date(2024, 8, 15), "day", "ok", ["dob:two_digit_year"], []),  # 1924 would be a 101-year-old
        (date(1926, 8, 15), "day", "ok", ["dob:two_digit_year"], []),  # 2026 is after the update
    ]
    # Without an update time, today decides; both centuries within 100 years → flagged.
    assert read(["13/02/26"]) == [
        (date(2026, 2, 13), "day", "ok", ["dob:two_digit_year"], ["dob:century_ambiguous"])
    ]


def test_month_first_file_is_read_month_first():
    # A US-locale machine: "12/25/1990" can only be month-first, so "8/4/1960" in the same file is 4 August.
    rows = read(["8/4/1960", "12/25/1990", "1/2/1975"], files=["us.csv"] * 3)
    assert rows == [
        (date(1960, 8, 4), "day", "ok", ["dob:month_first_file"], []),
        (date(1990, 12, 25), "day", "ok", ["dob:month_first"], []),
        (date(1975, 1, 2), "day", "ok", ["dob:month_first_file"], []),
    ]


def test_each_file_keeps_its_own_order():
    files = ["us.csv", "us.csv", "vn.xlsx", "vn.xlsx", "one.xls"]
    rows = read(["8/4/1960", "12/25/1990", "8/4/1960", "25/12/1990", "8/4/1960"], files=files)
    assert [r[0] for r in rows] == [
        date(1960, 8, 4),
        date(1990, 12, 25),
        date(1960, 4, 8),
        date(1990, 12, 25),
        date(1960, 4, 8),
    ]
    # The lone ambiguous date of a file without evidence is read the Vietnamese way, and says so.
    assert rows[4][3:] == ([], ["dob:order_assumed"])
    frame = pl.DataFrame(
        {
            "date_of_birth": ["8/4/1960", "12/25/1990", "8/4/1960", "25/12/1990", "8/4/1960"],
            "source_file": files,
        }
    )
    assert dob_order_by_file(frame).rows() == [
        ("one.xls", "unknown", 0, 0, 1),
        ("us.csv", "month_first", 0, 1, 1),
        ("vn.xlsx", "day_first", 1, 0, 1),
    ]


def test_a_file_with_both_orders_leaves_its_ambiguous_dates_unread():
    rows = read(["8/4/1960", "25/12/1990", "12/25/1990", "7/7/1977"], files=["mix.csv"] * 4)
    assert rows == [
        (None, None, "unparsable", [], ["dob:order_conflict"]),
        (date(1990, 12, 25), "day", "ok", [], []),
        (date(1990, 12, 25), "day", "ok", ["dob:month_first"], []),
        (date(1977, 7, 7), "day", "ok", [], []),  # same day both ways
    ]


def test_one_typo_does_not_make_a_big_day_first_file_mixed():
    values = [f"{d}/03/1980" for d in range(13, 29)] * 10 + ["05/13/1990", "8/4/1960"]
    rows = read(values)
    assert rows[-1] == (date(1960, 4, 8), "day", "ok", [], [])
    assert rows[-2] == (date(1990, 5, 13), "day", "ok", ["dob:month_first"], ["dob:order_outlier"])


def test_plain_day_month_year_and_iso_values_read_the_same_without_the_full_parser():
    from sachsong.standardize.dates import _readings, _readings_full

    values = ["15/08/1985", "5/8/1985", "31/02/1990", "12/25/1990", "29/02/1992", "29/02/1900", "1/1/0985",
              "13/13/1990", "7/7/1977", "31/12/2099", "01/10/1955", "1985-08-15", "1990-02-30", "0985-01-01"]  # fmt: skip
    frame = pl.DataFrame({"raw": values})
    assert_frame_equal(_readings(frame, "raw").sort("raw"), _readings_full(frame, "raw").sort("raw"))


def test_a_date_of_birth_written_in_utc_is_the_vietnamese_day():
    # A JSON export writes local midnight of 19 August 1940 as 17:00 UTC the day before.
    assert read(["1940-08-18T17:00:00.000Z", "1940-08-19T00:00:00+07:00", "1940-08-18T00:00:00Z"]) == [
        (date(1940, 8, 19), "day", "ok", ["dob:utc_to_local"], []),
        (date(1940, 8, 19), "day", "ok", [], []),
        (date(1940, 8, 18), "day", "ok", [], []),
    ]


@pytest.mark.parametrize(
    "raw", ["27-Jan-1998", "27 Jan 1998", "Jan 27, 1998", "27-January-1998", "27-Thg1-1998", "27-Thg 01-1998"]
)
def test_month_names_as_excel_formats_them(raw):
    assert read([raw]) == [(date(1998, 1, 27), "day", "ok", ["dob:words"], [])]


def test_month_name_with_a_two_digit_year():
    assert read(["27-Jan-98"]) == [(date(1998, 1, 27), "day", "ok", ["dob:words", "dob:two_digit_year"], [])]

from datetime import date, datetime

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal
from sachsong.standardize.dates import _dob_full, _timestamp_full, dob_columns, timestamp_column


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


def test_day_first_wins_and_month_first_only_when_day_first_is_impossible():
    assert dob(["05/12/1990", "12/25/1990"]) == [
        (date(1990, 12, 5), "day", "ok"),
        (date(1990, 12, 25), "day", "ok"),
    ]


@pytest.mark.parametrize("raw", ["abc", "12/05/85", "15/08", "ngày mai", "1985-08", "0000"])
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
    assert_frame_equal(dob_columns(frame, "raw"), _dob_full(frame, "raw"))
    assert_frame_equal(timestamp_column(frame, "raw"), _timestamp_full(frame, "raw", "updated_ts"))

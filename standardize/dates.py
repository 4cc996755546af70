"""Dates of birth and update timestamps from the many ways registers write them.

Accepted (with any time part after the date ignored for a date of birth):
- day first: dd/mm/yyyy, d/m/yyyy, dd-mm-yyyy, dd.mm.yyyy — the Vietnamese convention;
- year first: yyyy-mm-dd, yyyy/mm/dd, yyyy.mm.dd, ISO datetimes (T separator, fractions, Z or ±hh:mm);
- compact: yyyymmdd (or ddmmyyyy when the first four digits cannot be a year);
- year only ("1985" → 1985-01-01, precision `year`), also the register convention "00/00/1985";
- Excel serial day numbers (4–5 digits, optional fraction for the time of day) that spreadsheet exports leave.

`dob_status`: ok | missing (blank) | unparsable (no known shape) | impossible (right shape, no such day:
31/02/1990, month 13). Whether a real date is plausible (not in the future, age) is the rules room's call.
Two-digit years ("12/05/85") are left unparsable: the century cannot be known for a date of birth.
"""

from __future__ import annotations

from datetime import date

import polars as pl
from sachsong.standardize.text import clean_text

# A bare 4-digit number in this range is a year; outside it (and up to 5 digits) it may be an Excel serial.
YEAR_RANGE: tuple[int, int] = (1800, 2100)
# Excel serials we accept: 1000 (1902-09-26) … 73050 (2099-12-31). Day 0 of Excel's 1900 system, after its
# phantom 29 Feb 1900, is 1899-12-30.
EXCEL_SERIAL_RANGE: tuple[int, int] = (1000, 73050)
EXCEL_EPOCH = date(1899, 12, 30)
# Naive timestamps are taken as Vietnam local time; timestamps with an offset are converted to it.
LOCAL_UTC_OFFSET_MINUTES = 7 * 60

_TIME = (
    r"(?:[ T]+(?P<hour>\d{1,2}):(?P<minute>\d{2})(?::(?P<second>\d{2})(?:[.,](?P<fraction>\d{1,9}))?)?"
    r"\s*(?P<ampm>[AaPp][Mm])?\s*(?P<tz>Z|[+-]\d{2}:?\d{2})?)?"
)
_DAY_FIRST = r"^(?P<first>\d{1,2})[/.\-](?P<second_part>\d{1,2})[/.\-](?P<year>\d{4})" + _TIME + r"$"
_YEAR_FIRST = r"^(?P<year>\d{4})[/.\-](?P<month>\d{1,2})[/.\-](?P<day>\d{1,2})" + _TIME + r"$"
_COMPACT = r"^(?P<a>\d{4})(?P<b>\d{2})(?P<c>\d{2})$"
_NUMBER = r"^(?P<whole>\d{4,5})(?:\.(?P<fraction>\d+))?$"


def _calendar_date(year: pl.Expr, month: pl.Expr, day: pl.Expr) -> pl.Expr:
    """The date if (year, month, day) is a real calendar day, else null (never raises)."""
    return pl.format("{}-{}-{}", year, month, day).str.to_date("%Y-%m-%d", strict=False)


def _int(expr: pl.Expr) -> pl.Expr:
    return expr.cast(pl.Int32, strict=False)


def _parse(raw: pl.Expr) -> dict[str, pl.Expr]:
    """Shared parser: date, precision, status, time of day and UTC offset of a raw date/datetime string."""
    text = clean_text(raw)

    day_first = text.str.extract_groups(_DAY_FIRST)
    year_first = text.str.extract_groups(_YEAR_FIRST)
    compact = text.str.extract_groups(_COMPACT)
    number = text.str.extract_groups(_NUMBER)

    # Day first, as Vietnamese registers write it. When that is impossible but month-first is a real day
    # ("12/25/1990", an export from a US-locale spreadsheet), we accept the swap: no reading other than
    # 25 December exists, so nothing is guessed.
    df_year, df_first, df_second = (
        day_first.struct.field("year"),
        day_first.struct.field("first"),
        day_first.struct.field("second_part"),
    )
    df_is_match = df_year.is_not_null()
    df_unknown_day = _int(df_first) == 0  # "00/00/1985" or "00/05/1985": only the year is known
    df_date = pl.coalesce(
        _calendar_date(df_year, df_second, df_first), _calendar_date(df_year, df_first, df_second)
    )

    yf_is_match = year_first.struct.field("year").is_not_null()
    yf_date = _calendar_date(
        year_first.struct.field("year"), year_first.struct.field("month"), year_first.struct.field("day")
    )

    c_a, c_b, c_c = compact.struct.field("a"), compact.struct.field("b"), compact.struct.field("c")
    c_is_match = c_a.is_not_null()
    c_a_is_year = _int(c_a).is_between(*YEAR_RANGE)
    # yyyymmdd when the first four digits can be a year, else ddmmyyyy (a = ddmm, b + c = yyyy).
    compact_date = (
        pl.when(c_a_is_year)
        .then(_calendar_date(c_a, c_b, c_c))
        .otherwise(_calendar_date(pl.concat_str(c_b, c_c), c_a.str.slice(2, 2), c_a.str.slice(0, 2)))
    )

    whole = _int(number.struct.field("whole"))
    n_is_match = whole.is_not_null()
    is_year_only = n_is_match & number.struct.field("fraction").is_null() & whole.is_between(*YEAR_RANGE)
    is_serial = n_is_match & ~is_year_only & whole.is_between(*EXCEL_SERIAL_RANGE)
    serial_date = pl.lit(EXCEL_EPOCH) + pl.duration(days=whole)
    year_only_date = _calendar_date(whole, pl.lit(1), pl.lit(1))

    df_year_only = df_is_match & df_unknown_day & _int(df_year).is_between(*YEAR_RANGE)
    df_year_date = _calendar_date(df_year, pl.lit(1), pl.lit(1))

    parsed_date = (
        pl.when(df_year_only)
        .then(df_year_date)
        .when(df_is_match)
        .then(df_date)
        .when(yf_is_match)
        .then(yf_date)
        .when(c_is_match)
        .then(compact_date)
        .when(is_year_only)
        .then(year_only_date)
        .when(is_serial)
        .then(serial_date)
        .otherwise(None)
    )
    recognised = df_is_match | yf_is_match | c_is_match | is_year_only | is_serial
    status = (
        pl.when(text.is_null())
        .then(pl.lit("missing"))
        .when(~recognised)
        .then(pl.lit("unparsable"))
        .when(parsed_date.is_null())
        .then(pl.lit("impossible"))
        .otherwise(pl.lit("ok"))
    )
    precision = (
        pl.when(status != "ok")
        .then(None)
        .when(df_year_only | is_year_only)
        .then(pl.lit("year"))
        .otherwise(pl.lit("day"))
    )

    # Time of day and offset: from whichever date shape carried them.
    def time_field(name: str) -> pl.Expr:
        return pl.coalesce(day_first.struct.field(name), year_first.struct.field(name))

    hour = _int(time_field("hour")).fill_null(0)
    ampm = time_field("ampm").str.to_lowercase()
    hour = (
        pl.when((ampm == "pm") & (hour < 12))
        .then(hour + 12)
        .when((ampm == "am") & (hour == 12))
        .then(0)
        .otherwise(hour)
    )
    minute = _int(time_field("minute")).fill_null(0)
    second = _int(time_field("second")).fill_null(0)
    microsecond = _int(time_field("fraction").str.slice(0, 6).str.pad_end(6, "0")).fill_null(0)
    clock = pl.duration(hours=hour, minutes=minute, seconds=second, microseconds=microsecond)
    clock_valid = (hour < 24) & (minute < 60) & (second < 60)
    serial_fraction = ("0." + number.struct.field("fraction")).cast(pl.Float64, strict=False).fill_null(0.0)
    serial_clock = pl.duration(microseconds=(serial_fraction * 86_400_000_000).round(0).cast(pl.Int64))

    tz = time_field("tz").str.replace(":", "", literal=True)
    tz_minutes = (
        pl.when(tz == "Z")
        .then(0)
        .when(tz.is_not_null())
        .then(
            pl.when(tz.str.slice(0, 1) == "-").then(-1).otherwise(1)
            * (_int(tz.str.slice(1, 2)) * 60 + _int(tz.str.slice(3, 2)))
        )
        .otherwise(LOCAL_UTC_OFFSET_MINUTES)
    )
    return {
        "date": parsed_date,
        "precision": precision,
        "status": status,
        "clock": pl.when(is_serial).then(serial_clock).otherwise(clock),
        "clock_valid": clock_valid,
        "offset_minutes": tz_minutes,
    }


def dob_columns(raw: pl.Expr) -> dict[str, pl.Expr]:
    """`dob` (Date), `dob_precision` (day|year|null) and `dob_status` (ok|missing|unparsable|impossible)."""
    parsed = _parse(raw)
    return {"dob": parsed["date"], "dob_precision": parsed["precision"], "dob_status": parsed["status"]}


def parse_date(raw: pl.Expr) -> pl.Expr:
    """The date a raw string denotes (day-first convention), null when missing, unreadable or impossible."""
    return _parse(raw)["date"]


def parse_timestamp(raw: pl.Expr) -> pl.Expr:
    """A naive `Datetime("us")` in Vietnam local time (UTC+7) from any accepted date or datetime string.

    Date-only values give midnight; values with an offset ("Z", "+00:00") are converted to UTC+7; an
    impossible date or clock (25:00) gives null.
    """
    parsed = _parse(raw)
    midnight = parsed["date"].cast(pl.Datetime("us"))
    shift = pl.duration(minutes=pl.lit(LOCAL_UTC_OFFSET_MINUTES) - parsed["offset_minutes"])
    return pl.when(parsed["clock_valid"]).then(midnight + parsed["clock"] + shift).otherwise(None)

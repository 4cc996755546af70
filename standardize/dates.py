"""Dates of birth and update timestamps from the many ways registers write them.

Accepted (with any time part after the date ignored for a date of birth):
- day first: dd/mm/yyyy, d/m/yyyy, dd-mm-yyyy, dd.mm.yyyy — the Vietnamese convention;
- year first: yyyy-mm-dd, yyyy/mm/dd, yyyy.mm.dd, ISO datetimes (T separator, fractions, Z or ±hh:mm);
- compact: yyyymmdd (or ddmmyyyy when the first four digits cannot be a year);
- year only ("1985" → 1985-01-01, precision `year`), also the register convention of 00 for an unknown day
  or month ("00/00/1985", "00/05/1985" → 1985-01-01, precision `year`);
- Excel serial day numbers (4–5 digits, optional fraction for the time of day) that spreadsheet exports leave.

`dob_status`: ok | missing (blank) | unparsable (no known shape) | impossible (right shape, no such day:
31/02/1990, month 13). Whether a real date is plausible (not in the future, age) is the rules room's call.
Two-digit years ("12/05/85") are left unparsable: the century cannot be known for a date of birth.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import polars as pl

from sachsong.standardize.text import collapse_whitespace, empty_to_null, over_unique, tokens

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
_DAY_FIRST = r"^(?P<first>\d{1,2})[/.\-](?P<second_part>\d{1,2})[/.\-](?P<year>\d{4}|\d{2})" + _TIME + r"$"
_YEAR_FIRST = r"^(?P<year>\d{4})[/.\-](?P<month>\d{1,2})[/.\-](?P<day>\d{1,2})" + _TIME + r"$"
_COMPACT = r"^(?P<a>\d{4})(?P<b>\d{2})(?P<c>\d{2})$"
_NUMBER = r"^(?P<whole>\d{4,5})(?:\.(?P<fraction>\d+))?$"


_TEMP = "_date_"  # prefix of intermediate columns, dropped before returning


# Fullwidth digits and date punctuation (an East Asian input method) → ASCII. A fixed table, not NFKC: it runs on
# every value and NFKC costs several times more.
_FULLWIDTH = {chr(0xFF10 + i): str(i) for i in range(10)} | {"／": "/", "－": "-", "．": ".", "：": ":"}


def _clean(raw: pl.Expr) -> pl.Expr:
    """Trimmed, single-spaced (any Unicode space), blank → null; fullwidth digits made ASCII."""
    return empty_to_null(collapse_whitespace(raw.str.replace_many(_FULLWIDTH)))


# Dates written in words, matched on the accent-folded lower case text.
_WORDS_DMY = (
    r"^(?:sinh\s+)?(?:ngay\s*:?\s*)?(\d{1,2})\s*(?:thang|th)\s*:?\s*(\d{1,2})\s*[,.]?\s*(?:nam|n)\s*:?\s*"
    r"(\d{4}|\d{2})$"
)
_WORDS_MY = r"^(?:sinh\s+)?(?:thang|th)\s*:?\s*(\d{1,2})\s*[,.]?\s*(?:nam|n)\s*:?\s*(\d{4})$"
_WORDS_Y = r"^(?:sinh\s+)?(?:nam|n)\s*:?\s*(\d{4})$"
_WORDS_PREFIX = r"^(?:sinh\s+)?ngay\s*:?\s*(\d.*)$"
# Month names as Excel formats them: "27-Jan-98", "27 Jan 1998", "Jan 27, 1998", Vietnamese "27-Thg1-98".
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_MONTH_NAME = "(" + "|".join(_MONTHS) + r")[a-z]*\.?"
_WORDS_D_MON_Y = r"^(\d{1,2})[\s\-/.]*" + _MONTH_NAME + r"[\s\-/.,]*(\d{4}|\d{2})$"
_WORDS_MON_D_Y = r"^" + _MONTH_NAME + r"\s*(\d{1,2})(?:st|nd|rd|th)?,?\s*(\d{4})$"
_WORDS_D_THG_Y = r"^(\d{1,2})[\s\-/.]*thg\s*(\d{1,2})[\s\-/.,]*(\d{4}|\d{2})$"
_MONTH_NUMBERS = {name: str(number) for number, name in enumerate(_MONTHS, start=1)}
# Marks a value rewritten from words; stripped by `_parse`, which records it.
WORDS_MARK = "\x1e"


def _fold_for_words(text: pl.Expr) -> pl.Expr:
    return (
        text.str.normalize("NFD")
        .str.replace_all(r"\p{M}", "")
        .str.replace_all("[đĐ]", "d")
        .str.to_lowercase()
    )


def _from_words(frame: pl.DataFrame, column: str) -> pl.DataFrame:
    """`column` rewritten where it holds letters: dates in words to d/m/y ("ngày 5 tháng 10 năm 1955" →
    "5/10/1955", "ngày 05/10/1955" → "05/10/1955", "tháng 10 năm 1955" → "00/10/1955", the register's "day
    unknown"), marked with `WORDS_MARK`; the Vietnamese clock marks SA (sáng) / CH (chiều) read as AM / PM.
    Only the distinct values with a letter are worked on (most dates are digits only) and joined back."""
    text, folded, out = pl.col(column), pl.col(_TEMP + "folded"), _TEMP + "rewritten"
    lettered = frame.filter(text.str.contains(r"\p{L}").fill_null(False)).select(text.unique())
    lettered = lettered.with_columns(_fold_for_words(text).alias(_TEMP + "folded"))
    lettered = lettered.with_columns(
        pl.when(folded.str.contains(_WORDS_DMY))
        .then(WORDS_MARK + folded.str.replace(_WORDS_DMY, "${1}/${2}/${3}"))
        .when(folded.str.contains(_WORDS_D_THG_Y))
        .then(WORDS_MARK + folded.str.replace(_WORDS_D_THG_Y, "${1}/${2}/${3}"))
        .when(folded.str.contains(_WORDS_D_MON_Y))
        .then(
            WORDS_MARK + folded.str.replace(_WORDS_D_MON_Y, "${1}/${2}/${3}").str.replace_many(_MONTH_NUMBERS)
        )
        .when(folded.str.contains(_WORDS_MON_D_Y))
        .then(
            WORDS_MARK + folded.str.replace(_WORDS_MON_D_Y, "${2}/${1}/${3}").str.replace_many(_MONTH_NUMBERS)
        )
        .when(folded.str.contains(_WORDS_MY))
        .then(WORDS_MARK + folded.str.replace(_WORDS_MY, "00/${1}/${2}"))
        .when(folded.str.contains(_WORDS_Y))
        .then(WORDS_MARK + folded.str.replace(_WORDS_Y, "${1}"))
        .when(folded.str.contains(_WORDS_PREFIX))
        .then(WORDS_MARK + text.str.replace(r"^\D+", ""))
        .otherwise(text)
        .str.replace(r"(?i)\s*\b(?:s\.?a\.?)$", " AM")
        .str.replace(r"(?i)\s*\b(?:c\.?h\.?)$", " PM")
        .alias(out)
    ).drop(_TEMP + "folded")
    joined = frame.join(lettered, on=column, how="left", maintain_order="left")
    return joined.with_columns(pl.coalesce(out, column).alias(column)).drop(out)


def _calendar_date(year: pl.Expr, month: pl.Expr, day: pl.Expr) -> pl.Expr:
    """The date if (year, month, day) is a real calendar day, else null (never raises)."""
    return pl.format("{}-{}-{}", year, month, day).str.to_date("%Y-%m-%d", strict=False)


def _int(expr: pl.Expr) -> pl.Expr:
    return expr.cast(pl.Int32, strict=False)


def _t(name: str) -> pl.Expr:
    return pl.col(_TEMP + name)


def _parse(frame: pl.DataFrame, column: str) -> pl.DataFrame:
    """Add intermediate columns (prefix `_date_`): date, precision, status, clock, clock_valid, offset_minutes.

    Staged: every regex runs once per value and later stages read materialised columns (see text.py).
    """
    staged = _from_words(frame.with_columns(_clean(pl.col(column)).alias(_TEMP + "text")), _TEMP + "text")
    staged = staged.with_columns(
        _t("text").str.starts_with(WORDS_MARK).fill_null(False).alias(_TEMP + "words"),
        _t("text").str.strip_prefix(WORDS_MARK).alias(_TEMP + "text"),
    )
    staged = staged.with_columns(
        _t("text").str.extract_groups(_DAY_FIRST).alias(_TEMP + "df"),
        _t("text").str.extract_groups(_YEAR_FIRST).alias(_TEMP + "yf"),
        _t("text").str.extract_groups(_COMPACT).alias(_TEMP + "c"),
        _t("text").str.extract_groups(_NUMBER).alias(_TEMP + "n"),
    )
    df, yf, compact, number = _t("df").struct, _t("yf").struct, _t("c").struct, _t("n").struct
    whole = _int(number.field("whole"))
    # The single reading (timestamps, and dob values of other shapes) needs a 4-digit year.
    df_year4 = pl.when(df.field("year").str.len_chars() == 4).then(df.field("year"))
    staged = staged.with_columns(
        # Day first, as Vietnamese registers write it. When that is impossible but month-first is a real day
        # ("12/25/1990", an export from a US-locale spreadsheet), we accept the swap: no reading other than
        # 25 December exists, so nothing is guessed.
        pl.coalesce(
            _calendar_date(df_year4, df.field("second_part"), df.field("first")),
            _calendar_date(df_year4, df.field("first"), df.field("second_part")),
        ).alias(_TEMP + "df_date"),
        # "00/00/1985", "00/05/1985", "15/00/1985": the register convention for "only the year is known".
        (
            ((_int(df.field("first")) == 0) | (_int(df.field("second_part")) == 0))
            & _int(df_year4).is_between(*YEAR_RANGE)
        ).alias(_TEMP + "df_year"),
        _calendar_date(yf.field("year"), yf.field("month"), yf.field("day")).alias(_TEMP + "yf_date"),
        # yyyymmdd, else ddmmyyyy (a = ddmm, b + c = yyyy). Both can never be real days at once: the last four
        # digits would have to be a month+day (mm <= 12) and a year in YEAR_RANGE (18xx-21xx) together.
        pl.coalesce(
            pl.when(_int(compact.field("a")).is_between(*YEAR_RANGE)).then(
                _calendar_date(compact.field("a"), compact.field("b"), compact.field("c"))
            ),
            pl.when(_int(pl.concat_str(compact.field("b"), compact.field("c"))).is_between(*YEAR_RANGE)).then(
                _calendar_date(
                    pl.concat_str(compact.field("b"), compact.field("c")),
                    compact.field("a").str.slice(2, 2),
                    compact.field("a").str.slice(0, 2),
                )
            ),
        ).alias(_TEMP + "c_date"),
        (number.field("fraction").is_null() & whole.is_between(*YEAR_RANGE)).alias(_TEMP + "year_only"),
        _calendar_date(pl.coalesce(df_year4, whole.cast(pl.String)), pl.lit(1), pl.lit(1)).alias(
            _TEMP + "jan_first"
        ),
        whole.alias(_TEMP + "whole"),
    )
    is_serial = ~_t("year_only") & _t("whole").is_between(*EXCEL_SERIAL_RANGE)
    staged = staged.with_columns(is_serial.fill_null(False).alias(_TEMP + "serial"))
    df_match, yf_match, c_match = (
        _t("df").struct.field("year").is_not_null(),
        _t("yf").struct.field("year").is_not_null(),
        _t("c").struct.field("a").is_not_null(),
    )
    year_only = _t("year_only").fill_null(False)
    staged = staged.with_columns(
        pl.when(_t("df_year"))
        .then(_t("jan_first"))
        .when(df_match)
        .then(_t("df_date"))
        .when(yf_match)
        .then(_t("yf_date"))
        .when(c_match)
        .then(_t("c_date"))
        .when(year_only)
        .then(_t("jan_first"))
        .when(_t("serial"))
        .then(pl.lit(EXCEL_EPOCH) + pl.duration(days=_t("whole")))
        .alias(_TEMP + "date"),
        (df_match | yf_match | c_match | year_only | _t("serial")).alias(_TEMP + "recognised"),
        (_t("df_year").fill_null(False) | year_only).alias(_TEMP + "year_precision"),
    )
    staged = staged.with_columns(
        pl.when(_t("text").is_null())
        .then(pl.lit("missing"))
        .when(~_t("recognised"))
        .then(pl.lit("unparsable"))
        .when(_t("date").is_null())
        .then(pl.lit("impossible"))
        .otherwise(pl.lit("ok"))
        .alias(_TEMP + "status")
    )
    staged = staged.with_columns(
        pl.when(_t("status") == "ok")
        .then(pl.when(_t("year_precision")).then(pl.lit("year")).otherwise(pl.lit("day")))
        .alias(_TEMP + "precision")
    )
    return staged


def _parse_clock(staged: pl.DataFrame) -> pl.DataFrame:
    """Add `_date_clock` (time of day as a Duration), `_date_clock_valid` and `_date_offset_minutes`."""

    def time_field(name: str) -> pl.Expr:
        return pl.coalesce(_t("df").struct.field(name), _t("yf").struct.field(name))

    staged = staged.with_columns(
        _int(time_field("hour")).fill_null(0).alias(_TEMP + "hour"),
        time_field("ampm").str.to_lowercase().alias(_TEMP + "ampm"),
        _int(time_field("minute")).fill_null(0).alias(_TEMP + "minute"),
        _int(time_field("second")).fill_null(0).alias(_TEMP + "second"),
        _int(time_field("fraction").str.slice(0, 6).str.pad_end(6, "0")).fill_null(0).alias(_TEMP + "micro"),
        time_field("tz").str.replace(":", "", literal=True).alias(_TEMP + "tz"),
    )
    hour = (
        pl.when((_t("ampm") == "pm") & (_t("hour") < 12))
        .then(_t("hour") + 12)
        .when((_t("ampm") == "am") & (_t("hour") == 12))
        .then(0)
        .otherwise(_t("hour"))
    )
    clock = pl.duration(hours=hour, minutes=_t("minute"), seconds=_t("second"), microseconds=_t("micro"))
    serial_fraction = ("0." + _t("n").struct.field("fraction")).cast(pl.Float64, strict=False).fill_null(0.0)
    serial_clock = pl.duration(microseconds=(serial_fraction * 86_400_000_000).round(0).cast(pl.Int64))
    tz = _t("tz")
    offset = (
        pl.when(tz == "Z")
        .then(0)
        .when(tz.is_not_null())
        .then(
            pl.when(tz.str.slice(0, 1) == "-").then(-1).otherwise(1)
            * (_int(tz.str.slice(1, 2)) * 60 + _int(tz.str.slice(3, 2)))
        )
        .otherwise(LOCAL_UTC_OFFSET_MINUTES)
    )
    return staged.with_columns(
        pl.when(_t("serial")).then(serial_clock).otherwise(clock).alias(_TEMP + "clock"),
        ((hour < 24) & (_t("minute") < 60) & (_t("second") < 60)).alias(_TEMP + "clock_valid"),
        offset.alias(_TEMP + "offset_minutes"),
    )


def _drop_temp(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.drop([c for c in frame.columns if c.startswith(_TEMP)])


# Fast path: the shapes most registers use, parsed directly. Each is guarded by an exact-shape regex because
# chrono is lenient ("15/08/85" would be year 85); a value the fast path cannot read goes to the full parser,
# which gives the same answer for these shapes, so the fast path changes speed only.
_FAST_DATES: tuple[tuple[str, str], ...] = (
    (r"^\d{1,2}/\d{1,2}/\d{4}$", "%d/%m/%Y"),
    (r"^\d{4}-\d{2}-\d{2}$", "%Y-%m-%d"),
)
_FAST_TIMESTAMPS: tuple[tuple[str, str], ...] = (
    (r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?$", "%Y-%m-%dT%H:%M:%S%.f"),
    (r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(?:\.\d{1,9})?$", "%Y-%m-%d %H:%M:%S%.f"),
)


# Not under the `_date_` prefix: the full parser drops those, and these must survive it.
_FAST_ROW, _FAST_VALUE, _FAST_TEXT = "_fast_row", "_fast_value", "_fast_text"


def _fast_date(text: pl.Expr) -> pl.Expr:
    return pl.coalesce(
        pl.when(text.str.contains(shape)).then(text.str.to_date(fmt, strict=False))
        for shape, fmt in _FAST_DATES
    )


def _fast_timestamp(text: pl.Expr) -> pl.Expr:
    guarded = [
        pl.when(text.str.contains(shape)).then(text.str.to_datetime(fmt, strict=False, time_unit="us"))
        for shape, fmt in _FAST_TIMESTAMPS
    ]
    return pl.coalesce(*guarded, _fast_date(text).cast(pl.Datetime("us")))


def _fast_then_full(
    frame: pl.DataFrame,
    column: str,
    fast: Callable[[pl.Expr], pl.Expr],
    decided: dict[str, pl.Expr],
    full: Callable[[pl.DataFrame, str], pl.DataFrame],
) -> pl.DataFrame:
    """Outputs from `fast` where it reads a value, from `full` (run on the other rows only) elsewhere.

    `decided` maps each output column to its expression for fast-path rows, reading the `_FAST_VALUE` column.
    """
    row, fast_column, text = _FAST_ROW, _FAST_VALUE, _FAST_TEXT
    indexed = frame.with_row_index(row).with_columns(_clean(pl.col(column)).alias(text))
    indexed = indexed.with_columns(fast(pl.col(text)).alias(fast_column)).drop(text)
    undecided = indexed.filter(pl.col(fast_column).is_null()).select(row, column)
    slow = full(undecided, column).select(row, *decided)
    fast_outputs = indexed.with_columns(
        pl.when(pl.col(fast_column).is_not_null()).then(expr).alias(name) for name, expr in decided.items()
    )
    merged = fast_outputs.join(slow, on=row, how="left", suffix="_slow", maintain_order="left")
    return merged.with_columns(pl.coalesce(name, f"{name}_slow").alias(name) for name in decided).drop(
        row, fast_column, *(f"{name}_slow" for name in decided)
    )


# --- dates of birth: readings per distinct value, order per file, century per row -----------------------------

# Share of a file's unambiguous d/m/y dates that may disagree with the rest before the file counts as mixed: one
# typo ("05/13/1990") must not stop a 5,000-row day-first file from being read.
MIXED_ORDER_TOLERANCE = 0.01
DOB_ORDERS: tuple[str, ...] = ("day_first", "month_first", "mixed", "unknown")
REPAIRS_COLUMN = "_repairs_dob"
FLAGS_COLUMN = "_flags_dob"
_R = "_dobr_"  # per-value readings joined to rows; not under `_TEMP` (the parser drops those)


def _readings_full(frame: pl.DataFrame, column: str) -> pl.DataFrame:
    """Per value: the candidate dates of every reading and what the value says about its file's date order.

    `_dobr_{df,mf}_{lo,hi}`: day-first / month-first reading with the 1900s (`lo`) and 2000s (`hi`) century of a
    two-digit year (lo = hi for a 4-digit year; all four equal the single reading for other shapes).
    `_dobr_evidence`: "d" (only day-first is a real day, or the value said "ngày" first), "m" (only month-first
    is), "a" (both, and they differ), else null. `_dobr_status` / `_dobr_precision`: before per-row choices. `_dobr_two`, `_dobr_words`,
    `_dobr_serial` (bool): how the value was written.
    """
    staged = _parse_clock(_parse(frame, column))
    # "1940-08-18T17:00:00.000Z": local midnight of 19 August written in UTC by a web form or a JSON export.
    # A date of birth is a Vietnamese calendar day, so a time with an offset is moved to UTC+7 first.
    tz = pl.coalesce(_t("df").struct.field("tz"), _t("yf").struct.field("tz"))
    shift = pl.duration(minutes=pl.lit(LOCAL_UTC_OFFSET_MINUTES) - _t("offset_minutes"))
    local = (_t("date").cast(pl.Datetime("us")) + _t("clock") + shift).dt.date()
    shifted = (tz.is_not_null() & _t("clock_valid") & (local != _t("date"))).fill_null(False)
    staged = staged.with_columns(shifted.alias(_R + "shifted"))
    staged = staged.with_columns(
        pl.when(pl.col(_R + "shifted")).then(local).otherwise(_t("date")).alias(_TEMP + "date")
    )
    df = _t("df").struct
    first, second, year_text = _int(df.field("first")), _int(df.field("second_part")), df.field("year")
    two = (year_text.str.len_chars() == 2).fill_null(False)
    lo_year = pl.when(two).then((1900 + _int(year_text)).cast(pl.String)).otherwise(year_text)
    hi_year = pl.when(two).then((2000 + _int(year_text)).cast(pl.String)).otherwise(year_text)
    # d/m/y with both parts set; a 4-digit "00" value is the register's year-only form, already read.
    dmy = df.field("year").is_not_null() & ~_t("df_year").fill_null(False)
    zero_two = two & ((first == 0) | (second == 0))
    staged = staged.with_columns(
        two.alias(_R + "two"),
        dmy.fill_null(False).alias(_R + "dmy"),
        zero_two.fill_null(False).alias(_R + "zero_two"),
        _t("words").alias(_R + "words"),
        _t("serial").alias(_R + "serial"),
        (first != second).fill_null(False).alias(_R + "differ"),
    )
    readings = {
        "df_lo": _calendar_date(lo_year, second, first),
        "df_hi": _calendar_date(hi_year, second, first),
        "mf_lo": _calendar_date(lo_year, first, second),
        "mf_hi": _calendar_date(hi_year, first, second),
    }
    jan_lo, jan_hi = (
        _calendar_date(lo_year, pl.lit(1), pl.lit(1)),
        _calendar_date(hi_year, pl.lit(1), pl.lit(1)),
    )
    staged = staged.with_columns(
        pl.when(pl.col(_R + "zero_two"))
        .then(jan_hi if name.endswith("hi") else jan_lo)
        .when(pl.col(_R + "dmy"))
        .then(expr)
        .otherwise(_t("date"))
        .alias(_R + name)
        for name, expr in readings.items()
    )
    df_ok = pl.col(_R + "df_lo").is_not_null() | pl.col(_R + "df_hi").is_not_null()
    mf_ok = pl.col(_R + "mf_lo").is_not_null() | pl.col(_R + "mf_hi").is_not_null()
    real_dmy = pl.col(_R + "dmy") & ~pl.col(_R + "zero_two")
    any_reading = df_ok | mf_ok
    staged = staged.with_columns(
        # "ngày 05/10/1955": the word for "day" comes first, so the first number is the day.
        pl.when(real_dmy & df_ok & (~mf_ok | pl.col(_R + "words")))
        .then(pl.lit("d"))
        .when(real_dmy & mf_ok & ~df_ok)
        .then(pl.lit("m"))
        .when(real_dmy & df_ok & mf_ok & pl.col(_R + "differ"))
        .then(pl.lit("a"))
        .alias(_R + "evidence"),
        pl.when(_t("text").is_null())
        .then(pl.lit("missing"))
        .when(~_t("recognised"))
        .then(pl.lit("unparsable"))
        .when(~any_reading)
        .then(pl.lit("impossible"))
        .otherwise(pl.lit("ok"))
        .alias(_R + "status"),
        pl.when(_t("year_precision") | pl.col(_R + "zero_two"))
        .then(pl.lit("year"))
        .otherwise(pl.lit("day"))
        .alias(_R + "precision"),
    )
    return _drop_temp(staged).drop(_R + "dmy", _R + "zero_two", _R + "differ")


# d/m/yyyy with a day and a month that are not 0: most registers' dates, read without the full parser.
_SIMPLE_DMY = r"^(?P<a>0?[1-9]|[1-3][0-9])/(?P<b>0?[1-9]|[1-3][0-9])/(?P<y>[0-9]{4})$"


def _readings(frame: pl.DataFrame, column: str) -> pl.DataFrame:
    """`_readings_full` for every value; plain d/m/yyyy and yyyy-mm-dd ones are read directly (same columns, same
    answers)."""
    simple = pl.col(column).str.contains(_SIMPLE_DMY).fill_null(False)
    iso = pl.col(column).str.contains(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$").fill_null(False)
    rest = _readings_full(frame.filter(~simple & ~iso), column)
    iso_date = pl.col(column).str.to_date("%Y-%m-%d", strict=False)
    iso_rows = frame.filter(iso).with_columns(
        *(iso_date.alias(_R + name) for name in ("df_lo", "df_hi", "mf_lo", "mf_hi")),
        *(pl.lit(False).alias(_R + name) for name in ("two", "words", "serial", "shifted")),
        pl.lit(None, dtype=pl.String).alias(_R + "evidence"),
        pl.when(iso_date.is_not_null())
        .then(pl.lit("ok"))
        .otherwise(pl.lit("impossible"))
        .alias(_R + "status"),
        pl.lit("day").alias(_R + "precision"),
    )
    parts = pl.col(_R + "parts").struct
    fast = frame.filter(simple).with_columns(
        pl.col(column).str.extract_groups(_SIMPLE_DMY).alias(_R + "parts")
    )
    day_first = _calendar_date(parts.field("y"), parts.field("b"), parts.field("a"))
    month_first = _calendar_date(parts.field("y"), parts.field("a"), parts.field("b"))
    fast = fast.with_columns(day_first.alias(_R + "df_lo"), month_first.alias(_R + "mf_lo"))
    df_ok, mf_ok = pl.col(_R + "df_lo").is_not_null(), pl.col(_R + "mf_lo").is_not_null()
    differ = _int(parts.field("a")) != _int(parts.field("b"))
    fast = fast.with_columns(
        pl.col(_R + "df_lo").alias(_R + "df_hi"),
        pl.col(_R + "mf_lo").alias(_R + "mf_hi"),
        pl.lit(False).alias(_R + "two"),
        pl.lit(False).alias(_R + "words"),
        pl.lit(False).alias(_R + "serial"),
        pl.lit(False).alias(_R + "shifted"),
        pl.when(df_ok & ~mf_ok)
        .then(pl.lit("d"))
        .when(mf_ok & ~df_ok)
        .then(pl.lit("m"))
        .when(df_ok & mf_ok & differ)
        .then(pl.lit("a"))
        .alias(_R + "evidence"),
        pl.when(df_ok | mf_ok).then(pl.lit("ok")).otherwise(pl.lit("impossible")).alias(_R + "status"),
        pl.lit("day").alias(_R + "precision"),
    )
    return pl.concat([fast.select(rest.columns), iso_rows.select(rest.columns), rest])


def _file_orders(rows: pl.DataFrame, file_column: str) -> pl.DataFrame:
    """One row per file: `dob_order` and the counts it was decided from."""
    evidence = pl.col(_R + "evidence")
    counts = rows.group_by(file_column).agg(
        day_first_rows=(evidence == "d").sum(),
        month_first_rows=(evidence == "m").sum(),
        ambiguous_rows=(evidence == "a").sum(),
    )
    day, month = pl.col("day_first_rows"), pl.col("month_first_rows")
    minority = pl.min_horizontal(day, month) / (day + month)
    return counts.with_columns(
        dob_order=pl.when((day == 0) & (month == 0))
        .then(pl.lit("unknown"))
        .when(month == 0)
        .then(pl.lit("day_first"))
        .when(day == 0)
        .then(pl.lit("month_first"))
        .when(minority <= MIXED_ORDER_TOLERANCE)
        .then(pl.when(day > month).then(pl.lit("day_first")).otherwise(pl.lit("month_first")))
        .otherwise(pl.lit("mixed"))
    )


def _with_readings(frame: pl.DataFrame, column: str, file_column: str | None) -> tuple[pl.DataFrame, str]:
    """`frame` with the per-value readings joined on, and the name of the file column (a constant when none)."""

    staged = over_unique(frame, column, _readings)
    if file_column is None or file_column not in frame.columns:
        file_column = _R + "file"
        staged = staged.with_columns(pl.lit(None, dtype=pl.String).alias(file_column))
    return staged, file_column


def dob_order_by_file(
    frame: pl.DataFrame, column: str = "date_of_birth", file_column: str = "source_file"
) -> pl.DataFrame:
    """Per source file: `dob_order` (day_first | month_first | mixed | unknown) and the counts of d/m/y dates
    that only read day-first, only month-first, or both ways (`day_first_rows`, `month_first_rows`,
    `ambiguous_rows`). For the run's notes: which files were read month-first, which could not be decided."""
    staged, files = _with_readings(frame.select(column, *([file_column] if file_column in frame.columns else [])),
                                   column, file_column)  # fmt: skip
    orders = _file_orders(staged, files)
    if files != file_column:
        orders = orders.rename({files: file_column})
    return orders.select(
        file_column, "dob_order", "day_first_rows", "month_first_rows", "ambiguous_rows"
    ).sort(file_column, nulls_last=True)


def dob_columns(
    frame: pl.DataFrame,
    column: str = "date_of_birth",
    *,
    file_column: str | None = "source_file",
    reference_column: str | None = "updated_ts",
    today: date | None = None,
) -> pl.DataFrame:
    """`frame` plus `dob` (Date), `dob_precision` (day|year|null), `dob_status` (ok|missing|unparsable|impossible),
    `dob_order` (the file's date order, see `dob_order_by_file`) and the List[String] columns `_repairs_dob` /
    `_flags_dob`.

    Values are parsed once per distinct value. The date order of d/m/y values is decided per `file_column`
    (the whole frame is one file when it has no such column): a value only one order can read is read that way;
    an ambiguous one ("08/04/1960") follows its file — day-first (the Vietnamese convention, also when the
    file gives no evidence: flagged `dob:order_assumed`), month-first (repair `dob:month_first_file`), or, in a
    file where both orders occur, not read at all (`unparsable`, flagged `dob:order_conflict`). A two-digit year
    takes the latest century that does not put the date after the row's `reference_column` (its update time)
    or `today` (repair `dob:two_digit_year`; flagged `dob:century_ambiguous` when the other century is also
    within 100 years). Other repairs: `dob:words`, `dob:excel_serial`, `dob:month_first` (the only reading).
    """
    staged, files = _with_readings(frame, column, file_column)
    orders = _file_orders(staged, files).select(files, pl.col("dob_order").alias(_R + "order"))
    staged = staged.join(orders, on=files, how="left", nulls_equal=True, maintain_order="left")
    order, evidence = pl.col(_R + "order"), pl.col(_R + "evidence")

    def pick(suffix: str) -> pl.Expr:
        day_first, month_first = pl.col(_R + "df_" + suffix), pl.col(_R + "mf_" + suffix)
        return (
            pl.when(evidence == "m")
            .then(month_first)
            .when(evidence == "d")
            .then(day_first)
            .when((evidence == "a") & (order == "month_first"))
            .then(month_first)
            .when((evidence == "a") & (order == "mixed"))
            .then(pl.lit(None, dtype=pl.Date))
            .otherwise(day_first)
        )

    staged = staged.with_columns(pick("lo").alias(_R + "lo"), pick("hi").alias(_R + "hi"))
    today_date = today or date.today()
    if reference_column is not None and reference_column in frame.columns:
        reference = pl.col(reference_column).cast(pl.Date).fill_null(pl.lit(today_date))
    else:
        reference = pl.lit(today_date)
    lo, hi, two = pl.col(_R + "lo"), pl.col(_R + "hi"), pl.col(_R + "two")
    hi_fits = hi.is_not_null() & (hi <= reference)
    staged = staged.with_columns(
        pl.when(two & hi_fits).then(hi).otherwise(lo).alias(_R + "dob"),
        (two & hi_fits & lo.is_not_null() & (lo.dt.year() >= reference.dt.year() - 100)).alias(
            _R + "both_centuries"
        ),
    )
    dob = pl.col(_R + "dob")
    conflict = (evidence == "a") & (order == "mixed")
    value_status = pl.col(_R + "status")
    status = (
        pl.when(value_status != "ok")
        .then(value_status)
        .when(conflict)
        .then(pl.lit("unparsable"))
        .when(dob.is_null())
        .then(pl.lit("impossible"))
        .otherwise(pl.lit("ok"))
    )
    staged = staged.with_columns(status.alias("dob_status"))
    read = pl.col("dob_status") == "ok"
    staged = staged.with_columns(
        dob=pl.when(read).then(dob),
        dob_precision=pl.when(read).then(pl.col(_R + "precision")),
        dob_order=order,
        **{
            REPAIRS_COLUMN: tokens(
                (read & pl.col(_R + "words"), "dob:words"),
                (read & pl.col(_R + "serial"), "dob:excel_serial"),
                (read & pl.col(_R + "shifted"), "dob:utc_to_local"),
                (read & two, "dob:two_digit_year"),
                (read & (evidence == "m"), "dob:month_first"),
                (read & (evidence == "a") & (order == "month_first"), "dob:month_first_file"),
            ),
            FLAGS_COLUMN: tokens(
                (conflict, "dob:order_conflict"),
                (read & (evidence == "a") & (order == "unknown"), "dob:order_assumed"),
                (read & pl.col(_R + "both_centuries"), "dob:century_ambiguous"),
                (
                    read
                    & (
                        ((evidence == "m") & (order == "day_first"))
                        | ((evidence == "d") & (order == "month_first"))
                    ),
                    "dob:order_outlier",
                ),
            ),
        },
    )
    drop = [c for c in staged.columns if c.startswith(_R) and c not in frame.columns]
    return staged.drop(drop)


def _timestamp_full(frame: pl.DataFrame, column: str, output: str) -> pl.DataFrame:
    staged = _parse_clock(_parse(frame, column))
    midnight = _t("date").cast(pl.Datetime("us"))
    shift = pl.duration(minutes=pl.lit(LOCAL_UTC_OFFSET_MINUTES) - _t("offset_minutes"))
    staged = staged.with_columns(
        pl.when(_t("clock_valid")).then(midnight + _t("clock") + shift).cast(pl.Datetime("us")).alias(output)
    )
    return _drop_temp(staged)


def timestamp_column(
    frame: pl.DataFrame, column: str = "updated_at", output: str = "updated_ts"
) -> pl.DataFrame:
    """`frame` plus `output`: a naive `Datetime("us")` in Vietnam local time (UTC+7) from `column`.

    Any accepted date or datetime shape; date-only values give midnight; values with an offset ("Z", "+00:00")
    are converted to UTC+7; an impossible date or clock (25:00) gives null.
    """

    def full(undecided: pl.DataFrame, name: str) -> pl.DataFrame:
        return _timestamp_full(undecided, name, output)

    return _fast_then_full(frame, column, _fast_timestamp, {output: pl.col(_FAST_VALUE)}, full)


# d/m/yyyy at the start of a timestamp, both parts 1-12 and different: the order decides the day.
_AMBIGUOUS_DMY_START = r"^\s*(0?[1-9]|1[0-2])([/.\-])(0?[1-9]|1[0-2])([/.\-][0-9]{4})"


def timestamp_columns(
    frame: pl.DataFrame, column: str = "updated_at", output: str = "updated_ts"
) -> pl.DataFrame:
    """`timestamp_column`, plus `<output>_month_first`: the same value read month-first where its date is
    ambiguous ("6/12/2026 9:17:00 AM"), else null. The caller picks it for rows of a month-first file."""
    out = timestamp_column(frame, column, output)
    parts = pl.col(column).str.extract_groups(_AMBIGUOUS_DMY_START).struct
    swapped = pl.col(column).str.replace(_AMBIGUOUS_DMY_START, "${3}${2}${1}${4}")
    alternative = f"{_TEMP}swapped"
    ambiguous = parts.field("1").is_not_null() & (_int(parts.field("1")) != _int(parts.field("3")))
    staged = out.with_columns(pl.when(ambiguous).then(swapped).alias(alternative))
    staged = timestamp_column(staged, alternative, f"{output}_month_first")
    return staged.drop(alternative)

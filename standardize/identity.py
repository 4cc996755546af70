"""Sex codes and citizen identity numbers (CCCD, 12 digits; the old CMND, 9 digits).

CCCD layout (Circular 07/2016/TT-BCA): 3 digits birth-registration province, 1 digit century + sex, 2 digits
birth year, 6 digits serial. Century + sex digit: even = male, odd = female; 0/1 → born 1900–1999, 2/3 → 2000–2099,
4/5 → 2100–2199, 6/7 → 2200s, 8/9 → 2300s.
"""

from __future__ import annotations

import sqlite3
from functools import cache
from pathlib import Path

import polars as pl
from sachsong.standardize.text import empty_to_null, fold_ascii

# Folded spellings of sex. Registers exported from VN systems code 1 = Nam (male), 0 = Nữ (female); "2" for
# female follows ISO/IEC 5218 (1 male, 2 female) and does not clash with that convention.
SEX_CODES: dict[str, str] = {
    "nam": "M",
    "nam gioi": "M",
    "trai": "M",
    "con trai": "M",
    "m": "M",
    "male": "M",
    "1": "M",
    "nu": "F",
    "nu gioi": "F",
    "gai": "F",
    "con gai": "F",
    "f": "F",
    "female": "F",
    "0": "F",
    "2": "F",
}


def sex_code(raw: pl.Expr) -> pl.Expr:
    """M | F | null from the many spellings of sex ("Nam", "NỮ", "nu", "nữ giới", "male", "1", "0")."""
    return fold_ascii(raw).replace_strict(SEX_CODES, default=None, return_dtype=pl.String)


def _legacy_province_codes() -> dict[str, str]:
    """Old (pre-2025) province codes zero-padded to 3 → province name, from vietnamadminunits' bundled data."""
    import vietnamadminunits

    database = Path(vietnamadminunits.__file__).parent / "data" / "dataset.db"
    connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        rows = connection.execute(
            "SELECT DISTINCT provinceCode, province FROM admin_units_legacy ORDER BY provinceCode"
        ).fetchall()
    finally:
        connection.close()
    return {str(code).zfill(3): name for code, name in rows}


# The 63 birth-registration province codes a CCCD can start with ("001" Hà Nội … "096" Cà Mau).
CCCD_PROVINCE_CODES: dict[str, str] = _legacy_province_codes()


@cache
def cccd_province_codes() -> pl.Series:
    """`CCCD_PROVINCE_CODES` keys as a Series, for `is_in` checks."""
    return pl.Series("cccd_province_code", sorted(CCCD_PROVINCE_CODES), dtype=pl.String)


def citizen_id_digits(raw: pl.Expr) -> pl.Expr:
    """The ID with separators (spaces, dots, dashes, underscores, slashes) removed; leading zeros kept.

    A float rendering from a spreadsheet ("1234567890.0") loses its ".0". Anything else that is not a digit is
    kept (upper-cased) so the rules room can report it; blank → null.
    """
    text = raw.str.strip_chars().str.replace(r"^(\d+)\.0+$", "${1}")
    return empty_to_null(text.str.replace_all(r"[\s.\-_/]+", "").str.to_uppercase())


def cccd(digits: pl.Expr) -> pl.Expr:
    """The 12-digit CCCD number, else null."""
    return pl.when(digits.str.contains(r"^\d{12}$")).then(digits).otherwise(None)


def cmnd(digits: pl.Expr) -> pl.Expr:
    """The 9-digit CMND number, else null."""
    return pl.when(digits.str.contains(r"^\d{9}$")).then(digits).otherwise(None)


def decode_cccd(cccd_number: pl.Expr) -> dict[str, pl.Expr]:
    """`cccd_province_code` (3 digits), `cccd_sex` (M|F) and `cccd_birth_year` (Int32) from a 12-digit CCCD.

    The province code is returned as written even when it is not one of `CCCD_PROVINCE_CODES`: checking it is a
    rule, not a parse.
    """
    century_sex = cccd_number.str.slice(3, 1).cast(pl.Int32, strict=False)
    two_digit_year = cccd_number.str.slice(4, 2).cast(pl.Int32, strict=False)
    return {
        "cccd_province_code": cccd_number.str.slice(0, 3),
        "cccd_sex": pl.when(century_sex % 2 == 0)
        .then(pl.lit("M"))
        .when(century_sex.is_not_null())
        .then(pl.lit("F")),
        "cccd_birth_year": (1900 + (century_sex // 2) * 100 + two_digit_year).cast(pl.Int32),
    }


def identity_columns(frame: pl.DataFrame, column: str = "citizen_id") -> pl.DataFrame:
    """`frame` plus citizen_id_digits, cccd, cmnd and the decoded CCCD columns, computed from `column` in
    stages (each stage reads the materialised column of the previous one)."""
    staged = frame.with_columns(citizen_id_digits=citizen_id_digits(pl.col(column)))
    staged = staged.with_columns(
        cccd=cccd(pl.col("citizen_id_digits")), cmnd=cmnd(pl.col("citizen_id_digits"))
    )
    return staged.with_columns(**decode_cccd(pl.col("cccd")))

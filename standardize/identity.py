"""Sex codes and citizen identity numbers (CCCD, 12 digits; the old CMND, 9 digits).

CCCD layout (Circular 07/2016/TT-BCA): 3 digits birth-registration province, 1 digit century + sex, 2 digits
birth year, 6 digits serial. Century + sex digit: even = male, odd = female; 0/1 → born 1900–1999, 2/3 → 2000–2099,
4–9 would be births from 2100 on: such a number is invalid, not decoded.
"""

from __future__ import annotations

from functools import cache

import polars as pl

from sachsong.standardize.text import fold_ascii, number_cell_columns, tokens

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
    # "Ông" / "Bà" written in the sex column (an honorific standing for it).
    "ong": "M",
    "ba": "F",
}


def sex_code(raw: pl.Expr) -> pl.Expr:
    """M | F | null from the many spellings of sex ("Nam", "NỮ", "nu", "nữ giới", "male", "1", "0")."""
    return fold_ascii(raw).replace_strict(SEX_CODES, default=None, return_dtype=pl.String)


def _legacy_province_codes() -> dict[str, str]:
    """Old (pre-2025) province codes zero-padded to 3 → province name, from vietnamadminunits' bundled data."""
    from sachsong.adminunits import query_admin_units

    rows = query_admin_units("SELECT DISTINCT provinceCode, province FROM admin_units_legacy ORDER BY provinceCode")
    return {str(code).zfill(3): name for code, name in rows}


# The 63 birth-registration province codes a CCCD can start with ("001" Hà Nội … "096" Cà Mau).
CCCD_PROVINCE_CODES: dict[str, str] = _legacy_province_codes()


@cache
def cccd_province_codes() -> pl.Series:
    """`CCCD_PROVINCE_CODES` keys as a Series, for `is_in` checks."""
    return pl.Series("cccd_province_code", sorted(CCCD_PROVINCE_CODES), dtype=pl.String)


def citizen_id_digits(raw: pl.Expr) -> pl.Expr:
    """The ID with separators (spaces, dots, dashes, underscores, slashes) removed; leading zeros kept.

    Value-only reading (no spreadsheet repair, no record context): digits, else null. `identity_columns` is the
    full standardizer.
    """
    text = raw.str.strip_chars().str.replace(r"^([0-9]+)\.0+$", "${1}")
    compact = text.str.replace_all(r"[\s.\-_/]+", "")
    return pl.when(compact.str.contains(r"^[0-9]+$")).then(compact)


def cccd(digits: pl.Expr) -> pl.Expr:
    """The 12-digit CCCD number, else null."""
    return pl.when(digits.str.contains(r"^[0-9]{12}$")).then(digits).otherwise(None)


def cmnd(digits: pl.Expr) -> pl.Expr:
    """The 9-digit CMND number, else null."""
    return pl.when(digits.str.contains(r"^[0-9]{9}$")).then(digits).otherwise(None)


def cccd_birth_year(century_sex: pl.Expr, two_digit_year: pl.Expr) -> pl.Expr:
    """Full birth year from the century+sex digit (0–3 only: 1900–2099) and the two year digits, else null.

    Digits 4–9 would mean births from 2100 on: no such card exists yet, so the number is invalid, not decoded.
    """
    return pl.when(century_sex.is_between(0, 3)).then(
        (1900 + (century_sex // 2) * 100 + two_digit_year).cast(pl.Int32)
    )


def decode_cccd(cccd_number: pl.Expr) -> dict[str, pl.Expr]:
    """`cccd_province_code` (3 digits), `cccd_sex` (M|F) and `cccd_birth_year` (Int32) from a 12-digit CCCD.

    The province code is returned as written even when it is not one of `CCCD_PROVINCE_CODES`: checking it is a
    rule, not a parse. Sex and year are null when the century digit is 4–9 (the card is then invalid).
    """
    century_sex = cccd_number.str.slice(3, 1).cast(pl.Int32, strict=False)
    two_digit_year = cccd_number.str.slice(4, 2).cast(pl.Int32, strict=False)
    valid_century = century_sex.is_between(0, 3)
    return {
        "cccd_province_code": cccd_number.str.slice(0, 3),
        "cccd_sex": pl.when(valid_century & (century_sex % 2 == 0))
        .then(pl.lit("M"))
        .when(valid_century)
        .then(pl.lit("F")),
        "cccd_birth_year": cccd_birth_year(century_sex, two_digit_year),
    }


_TEMP = "_id_"
_ID_LABEL = r"(?i)^(?:số\s*)?(?:cccd|cmnd|cmt|căn cước(?: công dân)?|chứng minh(?: nhân dân| thư)?)\s*(?:số)?\s*[:.#\-]?\s*([0-9].*)$"
REPAIRS_COLUMN = "_repairs_citizen_id"
FLAGS_COLUMN = "_flags_citizen_id"


def identity_columns(
    frame: pl.DataFrame,
    column: str = "citizen_id",
    *,
    dob_column: str | None = "dob",
    sex_column: str | None = "sex_code",
) -> pl.DataFrame:
    """`frame` plus citizen_id_digits, cccd, cmnd, the decoded CCCD columns, `citizen_id_status`
    (ok | missing | invalid) and the List[String] columns `_repairs_citizen_id` / `_flags_citizen_id`.

    Spreadsheet damage is repaired where the result is certain (see `text.number_cell_columns`): ".0", a
    scientific rendering that carries every digit, an apostrophe, fullwidth digits, invisible marks. A number
    that lost its leading zero(s) (10 or 11 digits, first digit not 0) becomes a CCCD only when the padded
    number's province code exists, its century digit is 0–3 and its birth year and sex agree with `dob_column`
    and `sex_column` where the record has them; an 8-digit number becomes a 9-digit CMND ("0" + the 8: every
    "0x" CMND prefix is a real province). Anything else is kept as read and flagged, never guessed:
    `citizen_id_digits` holds only ASCII digits (null for letters: "045O80000111" is invalid, not "045080000111").
    """
    t = {name: _TEMP + name for name in ("text", "missing", "lost", "fullwidth", "invisible", "apostrophe",
                                         "excel_number", "compact", "digits", "padded", "zero_fix", "bad_century", "label")}  # fmt: skip
    # "CCCD: 079…", "Số CMND 0123…": the card's name typed before its number.
    staged = number_cell_columns(frame, column, _TEMP, label=_ID_LABEL)
    staged = staged.with_columns(pl.col(t["text"]).str.replace_all(r"[\s.\-_/,]+", "").alias(t["compact"]))
    staged = staged.with_columns(
        pl.when(pl.col(t["compact"]).str.contains(r"^[0-9]+$")).then(pl.col(t["compact"])).alias(t["digits"])
    )
    digits = pl.col(t["digits"])
    length = digits.str.len_chars()
    # A number (not text) lost every leading zero: it never starts with 0.
    lost_zero = digits.str.contains(r"^[1-9]")
    staged = staged.with_columns(
        pl.when(lost_zero & length.is_between(10, 11))
        .then(digits.str.zfill(12))
        .when(lost_zero & (length == 8))
        .then(digits.str.zfill(9))
        .alias(t["padded"])
    )
    padded = pl.col(t["padded"])
    century = padded.str.slice(3, 1).cast(pl.Int32, strict=False)
    year = cccd_birth_year(century, padded.str.slice(4, 2).cast(pl.Int32, strict=False))
    fits = padded.str.slice(0, 3).is_in(cccd_province_codes().implode()) & year.is_not_null()
    if dob_column is not None and dob_column in frame.columns:
        fits = fits & (pl.col(dob_column).is_null() | (pl.col(dob_column).dt.year() == year))
    if sex_column is not None and sex_column in frame.columns:
        sex = pl.when(century % 2 == 0).then(pl.lit("M")).otherwise(pl.lit("F"))
        fits = fits & (pl.col(sex_column).is_null() | (pl.col(sex_column) == sex))
    staged = staged.with_columns(
        ((padded.str.len_chars() == 9) | ((padded.str.len_chars() == 12) & fits))
        .fill_null(False)
        .alias(t["zero_fix"])
    )
    staged = staged.with_columns(
        citizen_id_digits=pl.when(pl.col(t["zero_fix"])).then(padded).otherwise(digits)
    )
    # Century digits 4-9 (births after 2099) make no CCCD: the number stays in citizen_id_digits, flagged.
    twelve = cccd(pl.col("citizen_id_digits"))
    staged = staged.with_columns(
        (twelve.is_not_null() & ~twelve.str.slice(3, 1).is_in(["0", "1", "2", "3"])).alias(t["bad_century"])
    )
    bad_century = pl.col(t["bad_century"])
    staged = staged.with_columns(
        cccd=pl.when(~bad_century).then(twelve), cmnd=cmnd(pl.col("citizen_id_digits"))
    )
    staged = staged.with_columns(**decode_cccd(pl.col("cccd")))
    not_digits = ~pl.col(t["missing"]) & ~pl.col(t["lost"]) & digits.is_null()
    wrong_length = (
        pl.col("citizen_id_digits").is_not_null()
        & pl.col("cccd").is_null()
        & pl.col("cmnd").is_null()
        & ~bad_century
    )
    staged = staged.with_columns(
        citizen_id_status=pl.when(pl.col(t["missing"]))
        .then(pl.lit("missing"))
        .when(pl.col("cmnd").is_not_null() | pl.col("cccd").is_not_null())
        .then(pl.lit("ok"))
        .otherwise(pl.lit("invalid")),
        **{
            REPAIRS_COLUMN: tokens(
                (pl.col(t["excel_number"]), "citizen_id:excel_number"),
                (pl.col(t["apostrophe"]), "citizen_id:apostrophe"),
                (pl.col(_TEMP + "formula"), "citizen_id:excel_formula"),
                (pl.col(t["label"]) & digits.is_not_null(), "citizen_id:label"),
                (pl.col(t["fullwidth"]), "citizen_id:fullwidth"),
                (pl.col(t["invisible"]), "citizen_id:invisible_chars"),
                (pl.col(t["zero_fix"]), "citizen_id:leading_zero"),
            ),
            FLAGS_COLUMN: tokens(
                (pl.col(t["lost"]), "citizen_id:excel_digits_lost"),
                (not_digits, "citizen_id:not_digits"),
                (wrong_length, "citizen_id:length"),
                (bad_century, "citizen_id:century_digit"),
            ),
        },
    )
    return staged.drop(*(c for c in staged.columns if c.startswith(_TEMP)))

"""Vietnamese phone numbers → E.164 (+84…).

Mobiles have had 10 digits (0 + 9) since the 2018 renumbering, with prefixes 03x, 05x, 07x, 08x, 09x; the old
11-digit prefixes (016x, 012x, 0186, 0188, 0199) are converted. Landlines have 11 digits (0 + 2xx area code +
number) since 2017. A number written without its trunk 0 (as spreadsheets store it) is accepted when it is a
current mobile (9 digits) or landline (10 digits); an old 11-digit prefix is converted only when written with
its 0 or country code.
"""

from __future__ import annotations

import polars as pl

from sachsong.standardize.text import empty_to_null, number_cell_columns, tokens

# Old 11-digit mobile prefix → its 2018 replacement, both written with the trunk 0.
OLD_MOBILE_PREFIXES: dict[str, str] = {
    **{f"016{d}": f"03{d}" for d in range(2, 10)},
    "0120": "070",
    "0121": "079",
    "0122": "077",
    "0126": "076",
    "0128": "078",
    "0123": "083",
    "0124": "084",
    "0125": "085",
    "0127": "081",
    "0129": "082",
    "0186": "056",
    "0188": "058",
    "0199": "059",
}

_MOBILE = r"^[35789][0-9]{8}$"  # national significant number (after the trunk 0)
_LANDLINE = r"^2[0-9]{9}$"


_TEMP = "_phone_"
REPAIRS_COLUMN = "_repairs_phone"
FLAGS_COLUMN = "_flags_phone"


def phone_columns(frame: pl.DataFrame, column: str = "phone") -> pl.DataFrame:
    """`frame` plus `phone_e164` (+84 + national number when valid, else null), `phone_status`
    (ok | missing | invalid) and the List[String] columns `_repairs_phone` / `_flags_phone`, computed from
    `column` in stages.

    Spreadsheet damage is undone first (`text.number_cell_columns`: ".0", full-mantissa scientific, apostrophe,
    fullwidth digits, invisible marks; "không có", "-" → missing). Repairs recorded: `phone:excel_number`,
    `phone:apostrophe`, `phone:fullwidth`, `phone:invisible_chars`, `phone:leading_zero` (a valid number written
    without its trunk 0 or country code). Flag: `phone:excel_digits_lost` (scientific notation that dropped digits).
    """
    compact, national, valid = f"{_TEMP}compact", f"{_TEMP}national", f"{_TEMP}valid"
    staged = number_cell_columns(frame, column, _TEMP)
    staged = staged.with_columns(
        empty_to_null(pl.col(f"{_TEMP}text").str.replace_all(r"[\s.\-()\[\]/]+", "")).alias(compact)
    )
    # Country code in any of its forms → off; then the trunk 0 (also a stray one: "+84 (0) 912…") → off.
    without_country = pl.col(compact).str.replace(r"^(?:\+84|0084|84([0-9]{9,10})$)", "${1}")
    staged = staged.with_columns(without_country.str.replace(r"^0", "").alias(national))
    # An old prefix is converted only when the number shows its trunk 0 or country code: a bare "1885223362"
    # is more likely a mangled 0885… than an old 0188… that also lost its 0 — two guesses are one too many.
    written_in_full = pl.col(compact).str.contains(r"^(?:\+84|0084|84[0-9]{10}$|0)")
    old_prefix = ("0" + pl.col(national).str.slice(0, 3)).replace_strict(OLD_MOBILE_PREFIXES, default=None)
    converted = pl.when(
        written_in_full & old_prefix.is_not_null() & (pl.col(national).str.len_chars() == 10)
    ).then(old_prefix.str.slice(1) + pl.col(national).str.slice(3))
    staged = staged.with_columns(pl.coalesce(converted, pl.col(national)).alias(national))
    staged = staged.with_columns(pl.col(national).str.contains(f"{_MOBILE}|{_LANDLINE}").alias(valid))
    missing = pl.col(compact).is_null() & ~pl.col(f"{_TEMP}lost")
    is_valid = pl.col(valid).fill_null(False)
    staged = staged.with_columns(
        phone_e164=pl.when(is_valid).then("+84" + pl.col(national)),
        phone_status=pl.when(missing)
        .then(pl.lit("missing"))
        .when(is_valid)
        .then(pl.lit("ok"))
        .otherwise(pl.lit("invalid")),
        **{
            REPAIRS_COLUMN: tokens(
                (pl.col(f"{_TEMP}excel_number"), "phone:excel_number"),
                (pl.col(f"{_TEMP}apostrophe"), "phone:apostrophe"),
                (pl.col(f"{_TEMP}formula"), "phone:excel_formula"),
                (pl.col(f"{_TEMP}fullwidth"), "phone:fullwidth"),
                (pl.col(f"{_TEMP}invisible"), "phone:invisible_chars"),
                (
                    is_valid & ~pl.col(compact).str.contains(r"^(?:\+84|0084|84[0-9]{9,10}$|0)"),
                    "phone:leading_zero",
                ),
            ),
            FLAGS_COLUMN: tokens((pl.col(f"{_TEMP}lost"), "phone:excel_digits_lost")),
        },
    )
    return staged.drop(*(c for c in staged.columns if c.startswith(_TEMP)))


COMMUNE_REPAIRS_COLUMN = "_repairs_commune_code"
COMMUNE_FLAGS_COLUMN = "_flags_commune_code"
_CODE = "_code_"


def commune_code_columns(frame: pl.DataFrame, column: str = "commune_code") -> pl.DataFrame:
    """`frame` plus `commune_code_std` (the source's commune code as 5 digits, else null) and the List[String]
    columns `_repairs_commune_code` / `_flags_commune_code`.

    A code read as a number lost its leading zeros ("4" → "00004", token `commune_code:leading_zero`) or gained
    ".0" (`commune_code:excel_number`). A value that is not 1–5 digits after that is flagged
    `commune_code:invalid` and left null here (the raw column still holds it). Whether the code exists is the
    rules' call.
    """
    staged = number_cell_columns(frame, column, _CODE)
    text = pl.col(f"{_CODE}text").str.replace_all(r"\s+", "")
    staged = staged.with_columns(
        pl.when(text.str.contains(r"^[0-9]{1,5}$")).then(text).alias(f"{_CODE}digits")
    )
    digits = pl.col(f"{_CODE}digits")
    staged = staged.with_columns(
        commune_code_std=digits.str.zfill(5),
        **{
            COMMUNE_REPAIRS_COLUMN: tokens(
                (pl.col(f"{_CODE}excel_number"), "commune_code:excel_number"),
                (pl.col(f"{_CODE}apostrophe"), "commune_code:apostrophe"),
                (pl.col(f"{_CODE}formula"), "commune_code:excel_formula"),
                (pl.col(f"{_CODE}fullwidth"), "commune_code:fullwidth"),
                (pl.col(f"{_CODE}invisible"), "commune_code:invisible_chars"),
                (digits.str.len_chars() < 5, "commune_code:leading_zero"),
            ),
            COMMUNE_FLAGS_COLUMN: tokens(
                (~pl.col(f"{_CODE}missing") & digits.is_null(), "commune_code:invalid"),
            ),
        },
    )
    return staged.drop(*(c for c in staged.columns if c.startswith(_CODE)))

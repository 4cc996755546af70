"""Vietnamese phone numbers → E.164 (+84…).

Mobiles have had 10 digits (0 + 9) since the 2018 renumbering, with prefixes 03x, 05x, 07x, 08x, 09x; the old
11-digit prefixes (016x, 012x, 0186, 0188, 0199) are converted. Landlines have 11 digits (0 + 2xx area code +
number) since 2017. A number written without its trunk 0 (as spreadsheets store it) is accepted when it is a
current mobile (9 digits) or landline (10 digits); an old 11-digit prefix is converted only when written with
its 0 or country code.
"""

from __future__ import annotations

import polars as pl
from sachsong.standardize.text import empty_to_null

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

_MOBILE = r"^[35789]\d{8}$"  # national significant number (after the trunk 0)
_LANDLINE = r"^2\d{9}$"


_TEMP = "_phone_"


def phone_columns(frame: pl.DataFrame, column: str = "phone") -> pl.DataFrame:
    """`frame` plus `phone_e164` (+84 + national number when valid, else null) and `phone_status`
    (ok | missing | invalid), computed from `column` in stages."""
    compact, national, valid = f"{_TEMP}compact", f"{_TEMP}national", f"{_TEMP}valid"
    staged = frame.with_columns(
        empty_to_null(pl.col(column).str.replace_all(r"[\s.\-()\[\]/]+", "")).alias(compact)
    )
    # Country code in any of its forms → off; then the trunk 0 (also a stray one: "+84 (0) 912…") → off.
    without_country = pl.col(compact).str.replace(r"^(?:\+84|0084|84(\d{9,10})$)", "${1}")
    staged = staged.with_columns(without_country.str.replace(r"^0", "").alias(national))
    # An old prefix is converted only when the number shows its trunk 0 or country code: a bare "1885223362"
    # is more likely a mangled 0885… than an old 0188… that also lost its 0 — two guesses are one too many.
    written_in_full = pl.col(compact).str.contains(r"^(?:\+84|0084|84\d{10}$|0)")
    old_prefix = ("0" + pl.col(national).str.slice(0, 3)).replace_strict(OLD_MOBILE_PREFIXES, default=None)
    converted = pl.when(
        written_in_full & old_prefix.is_not_null() & (pl.col(national).str.len_chars() == 10)
    ).then(old_prefix.str.slice(1) + pl.col(national).str.slice(3))
    staged = staged.with_columns(pl.coalesce(converted, pl.col(national)).alias(national))
    staged = staged.with_columns(pl.col(national).str.contains(f"{_MOBILE}|{_LANDLINE}").alias(valid))
    return staged.with_columns(
        phone_e164=pl.when(pl.col(valid)).then("+84" + pl.col(national)),
        phone_status=pl.when(pl.col(compact).is_null())
        .then(pl.lit("missing"))
        .when(pl.col(valid))
        .then(pl.lit("ok"))
        .otherwise(pl.lit("invalid")),
    ).drop(compact, national, valid)

"""Vietnamese phone numbers → E.164 (+84…).

Mobiles have had 10 digits (0 + 9) since the 2018 renumbering, with prefixes 03x, 05x, 07x, 08x, 09x; the old
11-digit prefixes (016x, 012x, 0186, 0188, 0199) are converted. Landlines have 11 digits (0 + 2xx area code +
number) since 2017. A number written without its trunk 0 (as spreadsheets store it) is accepted when its
length and first digit leave no other reading.
"""

from __future__ import annotations

import polars as pl

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


def national_number(raw: pl.Expr) -> pl.Expr:
    """The national significant number (no trunk 0, no country code) with separators removed, old prefixes
    converted; null when blank. Not validated."""
    compact = raw.str.strip_chars().str.replace_all(r"[\s.\-()\[\]/]+", "")
    without_country = (
        pl.when(compact.str.starts_with("+84"))
        .then(compact.str.slice(3))
        .when(compact.str.starts_with("0084"))
        .then(compact.str.slice(4))
        .when(compact.str.contains(r"^84\d{9,10}$"))
        .then(compact.str.slice(2))
        .when(compact.str.starts_with("0"))
        .then(compact.str.slice(1))
        .otherwise(compact)
    )
    # Written with a trunk 0 (or a country code followed by a stray 0: "+84 0912…") → drop it.
    national = without_country.str.replace(r"^0", "")
    old_prefix = ("0" + national.str.slice(0, 3)).replace_strict(OLD_MOBILE_PREFIXES, default=None)
    converted = (
        pl.when(old_prefix.is_not_null() & (national.str.len_chars() == 10))
        .then(old_prefix.str.slice(1) + national.str.slice(3))
        .otherwise(national)
    )
    return pl.when(compact.str.len_chars() > 0).then(converted).otherwise(None)


def phone_columns(raw: pl.Expr) -> dict[str, pl.Expr]:
    """`phone_e164` (+84 + national number when valid, else null) and `phone_status` (ok|missing|invalid)."""
    national = national_number(raw)
    valid = national.str.contains(_MOBILE) | national.str.contains(_LANDLINE)
    return {
        "phone_e164": pl.when(valid).then("+84" + national).otherwise(None),
        "phone_status": pl.when(national.is_null())
        .then(pl.lit("missing"))
        .when(valid)
        .then(pl.lit("ok"))
        .otherwise(pl.lit("invalid")),
    }

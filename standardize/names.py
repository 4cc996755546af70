"""Vietnamese personal names: display form, matching key, and family / middle / given split.

Vietnamese order is family name first, given name last: "Nguyễn Thị Thuý Hằng" → family "Nguyễn", middle
"Thị Thuý", given "Hằng". A few family names span several syllables ("Tôn Thất", "Âu Dương", the royal "Công
Tằng Tôn Nữ"); they are kept whole from a small curated list below (data, not code).
"""

from __future__ import annotations

import polars as pl
from sachsong.standardize.text import clean_text, empty_to_null, place_tone_marks, text_key, title_case

# Multi-syllable family names, matched on the folded key of the leading syllables (longest first).
COMPOUND_FAMILY_NAMES: tuple[str, ...] = (
    "Công Tằng Tôn Nữ",
    "Công Huyền Tôn Nữ",
    "Công Tôn Nữ",
    "Tôn Nữ",
    "Tôn Thất",
    "Nguyễn Phúc",
    "Nguyễn Phước",
    "Công Tôn",
    "Âu Dương",
    "Hoàng Phủ",
    "Tư Mã",
    "Gia Cát",
    "Thượng Quan",
)

# Values that say "no name" rather than being one (compared on the folded key; "N/A" folds to "n a").
JUNK_NAME_KEYS: frozenset[str] = frozenset(
    {
        "khong ro",
        "chua ro",
        "khong co",
        "khong ten",
        "chua co ten",
        "chua dat ten",
        "vo danh",
        "n a",
        "na n",
        "null",
        "none",
        "unknown",
        "x",
        "xx",
        "xxx",
    }
)


def _compound_keys() -> list[tuple[int, str]]:
    """(syllable count, folded key) of each compound family name, shortest first so the longest match wins."""
    folded = pl.DataFrame({"name": COMPOUND_FAMILY_NAMES}).select(key=text_key(pl.col("name")))["key"]
    return sorted((len(key.split(" ")), key) for key in folded.to_list())


_COMPOUND_KEYS: list[tuple[int, str]] = _compound_keys()
_TEMP = "_name_"  # prefix of intermediate columns, dropped before returning


def _letters_only(expr: pl.Expr) -> pl.Expr:
    """Keep letters, combining marks, and apostrophes/hyphens inside a word ("H'Hen"); the rest become spaces."""
    letters = expr.str.replace_all(r"[^\p{L}\p{M}'\-\s]+", " ")
    return letters.str.replace_all(r"(^|\s)['\-]+", "${1}").str.replace_all(r"['\-]+(\s|$)", "${1}")


def display_name(raw: pl.Expr) -> pl.Expr:
    """Display form before the junk check: NFC, letters only, single spaces, title case, new tone placement."""
    return place_tone_marks(title_case(clean_text(_letters_only(clean_text(raw)))))


def name_columns(frame: pl.DataFrame, column: str = "full_name") -> pl.DataFrame:
    """`frame` plus name_norm, name_key, family_name, middle_name, given_name computed from `column`.

    name_norm: display form, null for junk ("?", "không rõ", "N/A", blank). name_key: folded ASCII, i/y
    unified. Given = last syllable; family = first syllable, or a whole compound family name when at least one
    syllable remains after it; middle = the rest, null when empty. A single syllable is a given name only.
    Computed in stages (see text.py on why nothing is nested).
    """
    display, key = f"{_TEMP}display", f"{_TEMP}key"
    syllables, count, family_length = f"{_TEMP}syllables", f"{_TEMP}count", f"{_TEMP}family_length"
    staged = frame.with_columns(display_name(pl.col(column)).alias(display))
    staged = staged.with_columns(text_key(pl.col(display)).alias(key))
    is_junk = pl.col(key).is_null() | pl.col(key).is_in(list(JUNK_NAME_KEYS))
    staged = staged.with_columns(
        name_norm=pl.when(is_junk).then(None).otherwise(pl.col(display)),
        name_key=pl.when(is_junk).then(None).otherwise(pl.col(key)),
    )
    staged = staged.with_columns(pl.col("name_norm").str.split(" ").alias(syllables))
    staged = staged.with_columns(pl.col(syllables).list.len().alias(count))
    length_expr = pl.when(pl.col(count) >= 2).then(pl.lit(1)).otherwise(pl.lit(0))
    for length, compound_key in _COMPOUND_KEYS:
        starts_with_compound = pl.col("name_key").str.starts_with(compound_key + " ")
        length_expr = (
            pl.when(starts_with_compound & (pl.col(count) > length)).then(length).otherwise(length_expr)
        )
    staged = staged.with_columns(length_expr.alias(family_length))
    middle_length = (pl.col(count) - pl.col(family_length) - 1).clip(lower_bound=0)
    staged = staged.with_columns(
        family_name=pl.when(pl.col(family_length) > 0).then(
            pl.col(syllables).list.slice(0, pl.col(family_length)).list.join(" ")
        ),
        middle_name=empty_to_null(
            pl.col(syllables).list.slice(pl.col(family_length), middle_length).list.join(" ")
        ),
        given_name=pl.col(syllables).list.last(),
    )
    return staged.drop(display, key, syllables, count, family_length)

"""Vietnamese personal names: display form, matching key, and family / middle / given split.

Vietnamese order is family name first, given name last: "Nguyễn Thị Thuý Hằng" → family "Nguyễn", middle
"Thị Thuý", given "Hằng". A few family names span several syllables ("Tôn Thất", "Âu Dương", the royal "Công
Tằng Tôn Nữ"); they are kept whole from a small curated list below (data, not code).
"""

from __future__ import annotations

import polars as pl
from sachsong.standardize.text import clean_text, place_tone_marks, text_key, title_case

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


def _compound_keys() -> dict[int, list[str]]:
    folded = pl.Series(COMPOUND_FAMILY_NAMES).to_frame("name").select(key=text_key(pl.col("name")))["key"]
    by_length: dict[int, list[str]] = {}
    for key in folded.to_list():
        by_length.setdefault(len(key.split(" ")), []).append(key)
    return dict(sorted(by_length.items(), reverse=True))


_COMPOUND_KEYS_BY_LENGTH: dict[int, list[str]] = _compound_keys()


def _letters_only(expr: pl.Expr) -> pl.Expr:
    """Keep letters, combining marks, and apostrophes/hyphens inside a word ("H'Hen"); the rest become spaces."""
    letters = expr.str.replace_all(r"[^\p{L}\p{M}'\-\s]+", " ")
    return letters.str.replace_all(r"(^|\s)['\-]+", "${1}").str.replace_all(r"['\-]+(\s|$)", "${1}")


def name_norm(raw: pl.Expr) -> pl.Expr:
    """Display form: NFC, letters only, single spaces, title case, new tone placement; junk names → null."""
    cleaned = clean_text(_letters_only(clean_text(raw)))
    normalized = place_tone_marks(title_case(cleaned))
    key = text_key(normalized)
    return pl.when(key.is_null() | key.is_in(list(JUNK_NAME_KEYS))).then(None).otherwise(normalized)


def name_key(normalized: pl.Expr) -> pl.Expr:
    """Matching key of a name (from `name_norm`): folded ASCII lower case, i/y unified."""
    return text_key(normalized)


def split_name(normalized: pl.Expr) -> dict[str, pl.Expr]:
    """Split a `name_norm` value into family, middle and given name expressions.

    Given = last syllable; family = first syllable, or a whole compound family name when at least one syllable
    remains after it; middle = the rest, null when empty. A single syllable is a given name only.
    """
    syllables = normalized.str.split(" ")
    count = syllables.list.len()
    family_length = pl.when(count >= 2).then(pl.lit(1)).otherwise(pl.lit(0))
    # Walk from the shortest compound to the longest so the longest match wins.
    for length, keys in sorted(_COMPOUND_KEYS_BY_LENGTH.items()):
        leading_key = text_key(syllables.list.slice(0, length).list.join(" "))
        family_length = (
            pl.when((count > length) & leading_key.is_in(keys)).then(length).otherwise(family_length)
        )
    middle_length = (count - family_length - 1).clip(lower_bound=0)
    family = syllables.list.slice(0, family_length).list.join(" ")
    middle = syllables.list.slice(family_length, middle_length).list.join(" ")
    return {
        "family_name": pl.when(family_length > 0).then(family).otherwise(None),
        "middle_name": pl.when(middle_length > 0).then(middle).otherwise(None),
        "given_name": syllables.list.last(),
    }


def name_columns(frame: pl.DataFrame, column: str = "full_name") -> pl.DataFrame:
    """`frame` plus every name column of the standard table (name_norm, name_key, family/middle/given_name).

    Two stages: the split and key read the materialised `name_norm` column; nesting its expression inside them
    instead makes polars' planner slow (seconds per call) for no gain.
    """
    with_norm = frame.with_columns(name_norm=name_norm(pl.col(column)))
    return with_norm.with_columns(name_key=name_key(pl.col("name_norm")), **split_name(pl.col("name_norm")))

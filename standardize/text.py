"""Vietnamese text normalization as polars expressions.

Display form (what stewards read): NFC, look-alike characters repaired, single spaces, Vietnamese title case and
ONE tone-placement convention. We use the *new* ("kiểu mới") convention: in the open vowel clusters oa, oe, uy
(no final consonant) the tone mark sits on the second vowel — "hoà", "khoẻ", "thuỷ", "Thuý", "Uỷ". Syllables
with a final consonant ("hoàn", "huỳnh", "khuyến", "toán") are the same in both conventions and never touched.

Key form (what matching compares): folded ASCII lower case, Đ/đ/Ð/ð → d, no diacritics, punctuation dropped,
i/y spelling variants unified ("Lý"/"Lí" → "li", "Sỹ"/"Sĩ" → "si", "Quý"/"Quí" → "qui").

Every function takes and returns a `pl.Expr`, so callers can run it over a column or over `unique()` values.
Polars evaluates a sub-expression once per reference (no common-subexpression elimination in these plans):
multi-output builders elsewhere in this room therefore materialise intermediate columns in stages rather than
nesting one expression inside another.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable

import polars as pl
from unidecode import unidecode

# Characters that look like Vietnamese letters or spaces but are not: Icelandic eth for Đ, typographic quotes,
# zero-width joiners and the BOM that spreadsheet exports leave behind.
_LOOKALIKES: dict[str, str] = {
    "Ð": "Đ",  # U+00D0 LATIN CAPITAL LETTER ETH
    "ð": "đ",  # U+00F0 LATIN SMALL LETTER ETH
    "\u2019": "'",
    "\u2018": "'",
    "\u02bc": "'",
    "`": "'",
    "\u200b": "",
    "\u200c": "",
    "\u200d": "",
    "\u2060": "",
    "\ufeff": "",
}

_TONE_MARKS: tuple[str, ...] = ("\u0300", "\u0301", "\u0309", "\u0303", "\u0323")  # huyền sắc hỏi ngã nặng
# Open vowel clusters whose tone moves between the old ("hòa") and new ("hoà") convention.
_MOVABLE_CLUSTERS: tuple[tuple[str, str], ...] = (("o", "a"), ("o", "e"), ("u", "y"))
# Marks the end of every word so a plain multi-pattern replace can require "no final consonant".
_WORD_END = "\x1f"


def _toned(letter: str, mark: str) -> str:
    return unicodedata.normalize("NFC", letter + mark)


def _tone_moves() -> dict[str, str]:
    """Old→new rewrites of a syllable-final cluster, in every letter case: "òa␟" → "oà␟", "ÙY␟" → "UỲ␟"."""
    moves: dict[str, str] = {}
    for first, second in _MOVABLE_CLUSTERS:
        for mark in _TONE_MARKS:
            for upper_first in (False, True):
                for upper_second in (False, True):
                    f = first.upper() if upper_first else first
                    s = second.upper() if upper_second else second
                    moves[_toned(f, mark) + s + _WORD_END] = f + _toned(s, mark) + _WORD_END
    return moves


TONE_MOVES: dict[str, str] = _tone_moves()


def empty_to_null(expr: pl.Expr) -> pl.Expr:
    """Null for the empty string (apply after trimming). Evaluates `expr` once, unlike a when/then."""
    return expr.replace("", None)


def nfc(expr: pl.Expr) -> pl.Expr:
    """Unicode NFC (composed) form: decomposed input from macOS or some keyboards compares equal afterwards."""
    return expr.str.normalize("NFC")


def repair_lookalikes(expr: pl.Expr) -> pl.Expr:
    """Replace characters that merely look right (eth for Đ, curly quotes, zero-width marks)."""
    return expr.str.replace_many(_LOOKALIKES)


def collapse_whitespace(expr: pl.Expr) -> pl.Expr:
    """Any run of Unicode whitespace (tabs, no-break spaces, newlines) becomes one space; ends are trimmed."""
    return expr.str.replace_all(r"\s+", " ").str.strip_chars(" ")


def clean_text(expr: pl.Expr) -> pl.Expr:
    """Look-alikes repaired, NFC, whitespace collapsed; blank → null.

    NFC comes after the repair: deleting a zero-width mark between a letter and its tone mark must still leave
    the letter composed.
    """
    return empty_to_null(collapse_whitespace(nfc(repair_lookalikes(expr))))


def title_case(expr: pl.Expr) -> pl.Expr:
    """Each syllable capitalised, the rest lower case: "NGUYỄN VĂN A" → "Nguyễn Văn A", "đỗ" → "Đỗ".

    Polars' title case is Unicode-aware (precomposed capitals, Đ) once the text is NFC; an apostrophe starts a
    new word, which gives the Ê Đê form "H'Hen".
    """
    return expr.str.to_titlecase()


def place_tone_marks(expr: pl.Expr) -> pl.Expr:
    """Rewrite old-style tone placement to the new one, per syllable: "Hòa" → "Hoà", "Thủy" → "Thuỷ".

    Only a cluster at the very end of a word moves, so "hoàn", "huỳnh", "ngoài" are untouched. Input must be NFC.
    """
    marked = expr.str.replace_all(r"\b{end}", _WORD_END)
    return marked.str.replace_many(TONE_MOVES).str.replace_all(_WORD_END, "", literal=True)


def _unidecode_batch(series: pl.Series) -> pl.Series:
    """Transliterate the non-ASCII leftovers (after diacritics are stripped) over distinct values only."""
    needs = series.str.contains(r"[^\x00-\x7f]").fill_null(False)
    if not needs.any():
        return series
    distinct = series.filter(needs).unique()
    mapping = dict(zip(distinct.to_list(), [unidecode(v) for v in distinct.to_list()], strict=True))
    return series.replace(mapping)


def fold_ascii(expr: pl.Expr) -> pl.Expr:
    """Folded ASCII lower case: diacritics off, Đ/đ/Ð/ð → d, punctuation → space, single spaces; blank → null.

    Apostrophes are dropped rather than spaced ("H'Hen" → "hhen") so both spellings of Ê Đê names agree.
    Characters outside Vietnamese (rare) go through unidecode over distinct values only.
    """
    stripped = (
        expr.str.normalize("NFD")
        .str.replace_all(r"\p{M}", "")
        .str.replace_many({"đ": "d", "Đ": "D", "ð": "d", "Ð": "D"})
        .str.to_lowercase()
    )
    ascii_only = stripped.map_batches(_unidecode_batch, return_dtype=pl.String, is_elementwise=True)
    words = ascii_only.str.to_lowercase().str.replace_all(r"['`]", "").str.replace_all(r"[^a-z0-9]+", " ")
    return empty_to_null(words.str.strip_chars(" "))


def unify_i_y(folded: pl.Expr) -> pl.Expr:
    """On folded text, a syllable-final y that is the whole vowel becomes i ("ly"→"li", "sy"→"si", "quy"→"qui").

    "y" after another vowel is a different sound and stays ("tay" ≠ "tai", "thuy" ≠ "thui"); "qu" counts as a
    consonant, so "quy"/"qui" unify. A bare "y" (the name "Y") stays.
    """
    return folded.str.replace_all(r"\b([bcdghklmnprstvx]+|qu)y\b", "${1}i")


def text_key(expr: pl.Expr) -> pl.Expr:
    """The matching key of Vietnamese text: folded ASCII with i/y unified. Idempotent."""
    return unify_i_y(fold_ascii(expr))


def over_unique(
    frame: pl.DataFrame, column: str, derive: Callable[[pl.DataFrame, str], pl.DataFrame]
) -> pl.DataFrame:
    """Compute expensive derived columns once per distinct value of `column` and join them back.

    `derive(distinct, column)` gets a one-column frame of the distinct values (null included) and returns it with
    the derived columns added; the result is `frame` with those columns, rows in their original order.
    """
    distinct = frame.select(pl.col(column).unique())
    derived = derive(distinct, column)
    return frame.join(derived, on=column, how="left", nulls_equal=True, maintain_order="left")


def with_expressions(
    outputs: Callable[[pl.Expr], dict[str, pl.Expr]],
) -> Callable[[pl.DataFrame, str], pl.DataFrame]:
    """Adapt an expression builder ({name: expr} from a column expression) to `over_unique`."""

    def derive(frame: pl.DataFrame, column: str) -> pl.DataFrame:
        return frame.with_columns(**outputs(pl.col(column)))

    return derive


# --- spreadsheet damage to number-like cells (IDs, phones, codes) ----------------------------------------------

# Folded values that say "there is none" in an ID or phone cell: missing, not an error.
MISSING_MARKER_KEYS: frozenset[str] = frozenset(
    {
        "chua cap",
        "chua co",
        "chua lam",
        "chua dang ky",
        "khong co",
        "khong",
        "khong ro",
        "chua ro",
        "chua",
        "kc",
        "n a",
        "na",
        "none",
        "null",
        "nil",
        "nan",
    }
)

_INVISIBLE = r"[\u200b-\u200f\u2060-\u2064\ufeff\u00ad\u202a-\u202e\u2066-\u2069]"
_FULLWIDTH_DIGIT = r"[\uff10-\uff19]"
_APOSTROPHES = "'\u2019\u2018`\u00b4"
# A float rendering of an integer ("79012345678.0", "…,00" in a Vietnamese-locale sheet). Three zeros after the
# mark read as a thousands group ("001.085.012.000"), not a float.
_EXCEL_FLOAT = r"^([0-9]+)[.,]0{1,2}$"
_TEXT_FORMULA = r'^=\s*"([^"]*)"$'
# Scientific notation as Excel shows a big number: mantissa, optional fraction, exponent.
_EXCEL_SCIENTIFIC = r"^(?P<int>[1-9])(?:[.,](?P<frac>[0-9]+))?[eE]\+?(?P<exp>[0-9]{1,2})$"


_NUMBER_CELL_FLAGS: tuple[str, ...] = (
    "missing",
    "lost",
    "fullwidth",
    "invisible",
    "apostrophe",
    "formula",
    "label",
    "excel_number",
)


def number_cell_columns(
    frame: pl.DataFrame, column: str, prefix: str, label: str | None = None
) -> pl.DataFrame:
    """Undo what a spreadsheet does to a number-like cell, in stages; adds columns under `prefix`:

    - `text`: NFKC (fullwidth digits → ASCII, no-break spaces → spaces), invisible marks removed, trimmed, a
      leading apostrophe (typed to keep a leading zero) removed, a float's ".0" dropped, a scientific rendering
      expanded when its mantissa carries every digit; null when blank or a "none" marker ("chưa cấp", "-");
    - `missing` (bool): blank, null or a "none" marker;
    - `lost` (bool): scientific notation whose mantissa lacks digits ("7,9E+10"): unrecoverable, never guessed;
    - `fullwidth`, `invisible`, `apostrophe`, `formula` (a text formula ="…"), `label` (text matching the
      `label` regex before the number, whose group 1 is kept), `excel_number` (bool): which repair was made.
    Separators (spaces, dots, dashes) are left to the caller, which knows its own grouping.

    Cells that are plain ASCII digits (most of them) skip the work: only the others go through it, and the
    rows are put back in their order.
    """
    plain = pl.col(column).str.contains(r"^[0-9]+$").fill_null(False)
    as_is = [
        pl.col(column).alias(prefix + "text"),
        *(pl.lit(False).alias(prefix + f) for f in _NUMBER_CELL_FLAGS),
    ]
    if frame.select(plain.all()).item():
        return frame.with_columns(as_is)
    # Split, work and re-order on this column alone: sorting the caller's wide frame would cost more than the work.
    row = prefix + "row"
    narrow = frame.select(column).with_row_index(row)
    simple = narrow.filter(plain).with_columns(as_is)
    rest = _number_cell_full(narrow.filter(~plain), column, prefix, label)
    added = pl.concat([simple, rest.select(simple.columns)]).sort(row).drop(row, column)
    return frame.hstack(added)


def _number_cell_full(frame: pl.DataFrame, column: str, prefix: str, label: str | None) -> pl.DataFrame:
    t = {name: prefix + name for name in ("text", "missing", "lost", "fullwidth", "invisible", "apostrophe",
                                          "excel_number", "sci", "key", "formula", "label")}  # fmt: skip
    raw = pl.col(column)
    staged = frame.with_columns(
        raw.str.contains(_FULLWIDTH_DIGIT).fill_null(False).alias(t["fullwidth"]),
        raw.str.contains(_INVISIBLE).fill_null(False).alias(t["invisible"]),
        collapse_whitespace(raw.str.normalize("NFKC").str.replace_all(_INVISIBLE, "")).alias(t["text"]),
    )
    text = pl.col(t["text"])
    # ="079190012345": the text formula an office types so Excel keeps the zeros (and shows only the digits).
    staged = staged.with_columns(
        text.str.contains(_TEXT_FORMULA).fill_null(False).alias(t["formula"]),
        text.str.replace(_TEXT_FORMULA, "${1}").str.strip_chars(" ").alias(t["text"]),
    )
    # A label typed before the number ("CCCD: 079…"): `label` is a regex whose group 1 is the number.
    labelled = text.str.contains(label).fill_null(False) if label else pl.lit(False)
    staged = staged.with_columns(
        labelled.alias(t["label"]),
        (text.str.replace(label, "${1}") if label else text).alias(t["text"]),
    )
    staged = staged.with_columns(
        text.str.contains(f"^[{_APOSTROPHES}]").fill_null(False).alias(t["apostrophe"]),
        text.str.strip_chars_start(_APOSTROPHES).str.strip_chars(" ").alias(t["text"]),
    )
    staged = with_folded_keys(staged, t["text"], t["key"])
    staged = staged.with_columns(text.str.extract_groups(_EXCEL_SCIENTIFIC).alias(t["sci"]))
    sci = pl.col(t["sci"]).struct
    frac = sci.field("frac").fill_null("")
    exponent = sci.field("exp").cast(pl.Int32, strict=False)
    is_sci = sci.field("int").is_not_null()
    full_mantissa = is_sci & (frac.str.len_chars() == exponent)
    # Blank, only punctuation ("-", "--", "…"), or a folded "none" marker.
    missing = (
        text.is_null()
        | ~text.str.contains(r"[\p{L}\p{N}]")
        | pl.col(t["key"]).is_in(list(MISSING_MARKER_KEYS)).fill_null(False)
    )
    staged = staged.with_columns(
        missing.fill_null(True).alias(t["missing"]),
        (is_sci & (frac.str.len_chars() < exponent)).fill_null(False).alias(t["lost"]),
        (text.str.contains(_EXCEL_FLOAT) | full_mantissa).fill_null(False).alias(t["excel_number"]),
    )
    repaired = (
        pl.when(pl.col(t["missing"]) | pl.col(t["lost"]))
        .then(None)
        .when(full_mantissa)
        .then(sci.field("int") + frac)
        .otherwise(text.str.replace(_EXCEL_FLOAT, "${1}"))
    )
    return staged.with_columns(repaired.alias(t["text"])).drop(t["sci"], t["key"])


def tokens(*pairs: tuple[pl.Expr, str]) -> pl.Expr:
    """The tokens whose condition holds, comma-joined; null when none holds (null conditions count as false).

    A String, not a list: building lists row by row is an order of magnitude slower than one concat_str; the
    residents standardizer turns the gathered strings into its List columns once (`token_list`).
    """
    if not pairs:
        return pl.lit(None, dtype=pl.String)
    items = [pl.when(condition.fill_null(False)).then(pl.lit(token)) for condition, token in pairs]
    return empty_to_null(pl.concat_str(items, separator=",", ignore_nulls=True))


def token_list(expr: pl.Expr) -> pl.Expr:
    """Comma-joined tokens (or null) → List[String] (empty when null)."""
    return expr.str.split(",").fill_null(pl.lit([], dtype=pl.List(pl.String)))


def collect_tokens(frame: pl.DataFrame) -> pl.DataFrame:
    """Gather the `_repairs_<field>` / `_flags_<field>` token columns a standardizer made into its `repairs` and
    `flags` List columns (and drop them)."""
    repairs = [c for c in frame.columns if c.startswith("_repairs_")]
    flags = [c for c in frame.columns if c.startswith("_flags_")]

    def gathered(columns: list[str]) -> pl.Expr:
        if not columns:
            return pl.lit([], dtype=pl.List(pl.String))
        return token_list(empty_to_null(pl.concat_str(columns, separator=",", ignore_nulls=True)))

    return frame.with_columns(repairs=gathered(repairs), flags=gathered(flags)).drop(*repairs, *flags)


def with_folded_keys(frame: pl.DataFrame, column: str, key: str) -> pl.DataFrame:
    """`frame` plus `key`: `fold_ascii` of `column` for values containing a letter, else null.

    Folding is the costly step; number-like columns (IDs, phones, codes) rarely hold letters, so only their
    distinct lettered values are folded and joined back.
    """
    has_letter = pl.col(column).str.contains(r"\p{L}").fill_null(False)
    lettered = frame.filter(has_letter).select(pl.col(column).unique())
    keys = lettered.with_columns(fold_ascii(pl.col(column)).alias(key))
    return frame.join(keys, on=column, how="left", maintain_order="left")

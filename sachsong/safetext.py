"""Text made safe to hand to a spreadsheet or to show on a page. Room-neutral: every writer uses these.

Formula injection (OWASP "CSV Injection"; ASVS 1.2.10): Excel, LibreOffice and Google Sheets evaluate a cell whose
text starts with `=`, `+`, `-`, `@`, a tab, a carriage return or NUL, and some also after leading spaces or in the
fullwidth forms `＝＋－＠`. Such a text cell is written with a leading single quote, which spreadsheets take as
"this is text". Numbers stored as numbers are never touched (a negative number stays a number).

Invisible controls: bidi overrides/isolates (U+202A–U+202E, U+2066–U+2069), marks and zero-width characters in a
file name make the page show it reversed or hide part of it; `visible_controls` writes each as a visible
`\\u202e` escape instead.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl

FORMULA_PREFIX = "'"
# A trigger as the first character, or after leading whitespace (Excel trims spaces before evaluating).
_FORMULA_START = r"^(?:[\t\r\n\x00]|\s*[=+\-@＝＋－＠])"

# xlsxwriter turns strings into formulas, hyperlinks and numbers by default; every workbook turns that off.
SAFE_WORKBOOK_OPTIONS: dict[str, Any] = {
    "strings_to_formulas": False,
    "strings_to_urls": False,
    "strings_to_numbers": False,
}

_INVISIBLE_CODEPOINTS: tuple[int, ...] = (
    *range(0x00, 0x20),  # C0 controls (tab, line feed and carriage return too: a name never holds them)
    0x7F,
    *range(0x80, 0xA0),  # C1 controls
    0x00AD,  # soft hyphen
    0x034F,  # combining grapheme joiner
    0x061C,  # Arabic letter mark
    0x115F,
    0x1160,
    0x180E,  # Mongolian vowel separator
    *range(0x200B, 0x2010),  # zero-width space/non-joiner/joiner, LRM, RLM
    0x2028,
    0x2029,
    *range(0x202A, 0x202F),  # LRE, RLE, PDF, LRO, RLO
    *range(0x2060, 0x2065),  # word joiner, invisible operators
    *range(0x2066, 0x2070),  # LRI, RLI, FSI, PDI and deprecated format characters
    0x3164,  # Hangul filler
    0xFEFF,  # zero-width no-break space (BOM)
    *range(0xFFF9, 0xFFFC),  # interlinear annotation
)
INVISIBLE_CHARACTERS: tuple[str, ...] = tuple(chr(c) for c in sorted(set(_INVISIBLE_CODEPOINTS)))
_VISIBLE_ESCAPES: tuple[str, ...] = tuple(f"\\u{ord(c):04x}" for c in INVISIBLE_CHARACTERS)
_INVISIBLE_TABLE = {ord(c): e for c, e in zip(INVISIBLE_CHARACTERS, _VISIBLE_ESCAPES, strict=True)}


def neutralize_formula(value: Any) -> Any:
    """`value` with a leading quote when it is text a spreadsheet would evaluate; anything else unchanged."""
    if isinstance(value, str) and _starts_formula(value):
        return FORMULA_PREFIX + value
    return value


def _starts_formula(text: str) -> bool:
    if not text:
        return False
    if text[0] in "\t\r\n\x00":
        return True
    stripped = text.lstrip()
    return bool(stripped) and stripped[0] in "=+-@＝＋－＠"


def neutralize_formulas_expr(expr: pl.Expr) -> pl.Expr:
    """The polars form of `neutralize_formula` for a String expression (vectorized)."""
    return pl.when(expr.str.contains(_FORMULA_START)).then(pl.lit(FORMULA_PREFIX) + expr).otherwise(expr)


def neutralize_frame(frame: pl.DataFrame) -> pl.DataFrame:
    """Every String column (and every String inside List columns) of `frame` neutralized; other types unchanged."""
    exprs = []
    for name, dtype in frame.schema.items():
        if dtype == pl.String:
            exprs.append(neutralize_formulas_expr(pl.col(name)).alias(name))
        elif isinstance(dtype, pl.List) and dtype.inner == pl.String:
            exprs.append(pl.col(name).list.eval(neutralize_formulas_expr(pl.element())).alias(name))
    return frame.with_columns(exprs) if exprs else frame


def restore_formula_text(expr: pl.Expr) -> pl.Expr:
    """Undo `neutralize_formulas_expr` on text read back from a file this project wrote (a steward's decisions)."""
    quoted = expr.str.starts_with(FORMULA_PREFIX) & expr.str.slice(1).str.contains(_FORMULA_START)
    return pl.when(quoted).then(expr.str.slice(1)).otherwise(expr)


def safe_workbook(path: str | Path, **options: Any) -> Any:
    """An `xlsxwriter.Workbook` that writes every string as a string (no formula, hyperlink or number)."""
    import xlsxwriter

    return xlsxwriter.Workbook(str(path), {**options, **SAFE_WORKBOOK_OPTIONS})


def visible_controls(text: str) -> str:
    """`text` with bidi controls, zero-width and other invisible characters written as visible `\\uXXXX`."""
    return text.translate(_INVISIBLE_TABLE)


def visible_controls_expr(expr: pl.Expr) -> pl.Expr:
    """The polars form of `visible_controls` for a String expression (one Aho-Corasick pass per value)."""
    return expr.str.replace_many(list(INVISIBLE_CHARACTERS), list(_VISIBLE_ESCAPES))


def visible_frame(frame: pl.DataFrame) -> pl.DataFrame:
    """Every String column (and String inside List columns) of `frame` passed through `visible_controls_expr`."""
    exprs = []
    for name, dtype in frame.schema.items():
        if dtype == pl.String:
            exprs.append(visible_controls_expr(pl.col(name)).alias(name))
        elif isinstance(dtype, pl.List) and dtype.inner == pl.String:
            exprs.append(pl.col(name).list.eval(visible_controls_expr(pl.element())).alias(name))
    return frame.with_columns(exprs) if exprs else frame

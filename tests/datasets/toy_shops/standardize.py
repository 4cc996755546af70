"""Standardize market stalls: a folded name key, the licence number's six digits, the status as a code."""

import polars as pl
from unidecode import unidecode

STATUS = {"mo": "open", "dang mo": "open", "open": "open", "dong": "closed", "da dong": "closed", "closed": "closed"}


def _fold(value: str) -> str:
    return " ".join("".join(ch if ch.isalnum() else " " for ch in unidecode(value).lower()).split())


def _folded(raw: pl.DataFrame, column: str) -> pl.Expr:
    """The folded text of a column, computed once per distinct value (a register repeats its values)."""
    mapping = {value: _fold(value) or None for value in raw.get_column(column).drop_nulls().unique()}
    return pl.col(column).replace_strict(mapping, default=None, return_dtype=pl.String)


def standardize_stalls(raw: pl.DataFrame) -> pl.DataFrame:
    digits = pl.col("licence_no").str.replace_all(r"\D", "")
    return raw.with_columns(
        pl.int_range(0, pl.len(), dtype=pl.Int64).alias("row_uid"),
        _folded(raw, "stall_name").alias("stall_key"),
        pl.when(digits.str.len_chars() == 6).then(digits).alias("licence_std"),
        _folded(raw, "status").replace_strict(STATUS, default="unknown").fill_null("unknown").alias("status_code"),
    )

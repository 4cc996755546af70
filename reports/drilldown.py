"""Drill-down tables: per commune → per rule → counts and masked record ids. Pure polars.

Record ids are masked before they leave this module: a source may use a citizen identity number as its record
id, so the report shows only enough of it (plus the source and row number) for a steward to find the record.
"""

from __future__ import annotations

import polars as pl

from sachsong.reports.scores import UNRESOLVED_WARD

MASK = "…"


def mask_record_id(column: pl.Expr) -> pl.Expr:
    """First 2 + "…" + last 2 characters; ids of 6 characters or fewer keep only their first character."""
    text = column.cast(pl.String)
    length = text.str.len_chars()
    return (
        pl.when(text.is_null())
        .then(pl.lit(None, dtype=pl.String))
        .when(length > 6)
        .then(pl.concat_str([text.str.slice(0, 2), pl.lit(MASK), text.str.slice(-2, 2)]))
        .otherwise(pl.concat_str([text.str.slice(0, 1), pl.lit(MASK)]))
    )


def commune_rule_counts(records: pl.DataFrame, findings: pl.DataFrame, samples: int = 8) -> pl.DataFrame:
    """One row per (ward_code, rule_id, criterion, severity): `findings`, `records_affected` and up to `samples`
    masked examples (`examples`: "source · row N · ab…yz", using `source_row` when the records carry it).

    Dataset-level findings (row_uid null) are counted on the commune their `value` names.
    """
    has_row = "source_row" in records.columns
    recs = records.select(
        pl.col("row_uid").cast(pl.Int64),
        pl.col("ward_code").cast(pl.String).fill_null(UNRESOLVED_WARD).alias("ward_code"),
        pl.col("source_id").cast(pl.String),
        pl.col("record_id").cast(pl.String)
        if "record_id" in records.columns
        else pl.lit(None, pl.String).alias("record_id"),
        pl.col("source_row").cast(pl.Int64) if has_row else pl.lit(None, pl.Int64).alias("source_row"),
    ).unique("row_uid", keep="first")
    keys = ["ward_code", "rule_id", "criterion", "severity"]
    row_level = (
        findings.filter(pl.col("row_uid").is_not_null())
        .select("row_uid", "rule_id", "criterion", "severity")
        .join(recs, on="row_uid", how="inner")
        .with_columns(
            pl.concat_str(
                [
                    pl.col("source_id").fill_null("?"),
                    pl.when(pl.col("source_row").is_not_null())
                    .then(pl.format(" · {} {}", pl.lit("#"), pl.col("source_row")))
                    .otherwise(pl.lit("")),
                    pl.lit(" · "),
                    mask_record_id(pl.col("record_id")).fill_null("?"),
                ]
            ).alias("example")
        )
        .sort("row_uid")
        .group_by(keys)
        .agg(
            pl.len().cast(pl.Int64).alias("findings"),
            pl.col("row_uid").n_unique().cast(pl.Int64).alias("records_affected"),
            pl.col("example").unique(maintain_order=True).head(samples).alias("examples"),
        )
    )
    dataset = (
        findings.filter(pl.col("row_uid").is_null())
        .select(pl.col("value").alias("ward_code"), "rule_id", "criterion", "severity")
        .filter(pl.col("ward_code").is_not_null())
        .group_by(keys)
        .agg(pl.len().cast(pl.Int64).alias("findings"))
        .with_columns(
            pl.lit(0, dtype=pl.Int64).alias("records_affected"),
            pl.lit([], dtype=pl.List(pl.String)).alias("examples"),
            pl.lit(True).alias("dataset_level"),
        )
    )
    return (
        pl.concat(
            [row_level.with_columns(pl.lit(False).alias("dataset_level")), dataset], how="diagonal_relaxed"
        )
        .sort(
            ["ward_code", "severity", "records_affected", "rule_id"], descending=[False, False, True, False]
        )
        .select(*keys, "findings", "records_affected", "dataset_level", "examples")
    )

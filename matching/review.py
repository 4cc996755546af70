"""The stewards' review queue: uncertain pairs explained field by field, exported to xlsx/csv, and the stewards'
decisions read back on the next run as must-link ("same") / cannot-link ("different").

A decision row names its pair either by `left_record_id, left_source_id, right_record_id, right_source_id`
(stable across runs; preferred) or by `left_row_uid, right_row_uid` (positions in this run's input).
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from sachsong.matching.compare import COMPARISONS, SCORED, level_label
from sachsong.safetext import neutralize_frame, restore_formula_text, safe_workbook

# Displayed side by side: what each source said, after standardization.
SHOWN_FIELDS: tuple[str, ...] = (
    "record_id",
    "source_id",
    "name_norm",
    "dob",
    "dob_precision",
    "sex_code",
    "cccd",
    "cmnd",
    "phone_e164",
    "ward_code",
    "address",
    "updated_ts",
)
DECISION_VALUES = {"same": "same", "different": "different", "giống": "same", "khác": "different"}


class DecisionFileError(ValueError):
    """A steward decision file cannot be read; the message names the row and the field."""


def build_review(scored: pl.DataFrame, std: pl.DataFrame, extra: pl.DataFrame | None = None) -> pl.DataFrame:
    """Pairs in the review band (plus `extra` pairs, e.g. links cut while splitting a cluster), explained.

    Columns: pair ids, probability, match_weight, reason, then per comparison `<c>` (level label) and
    `<c>_weight`, then `left_<field>` / `right_<field>` side by side, and an empty `decision` for stewards.
    """
    queue = scored.filter(pl.col("band") == "review").with_columns(
        pl.coalesce(pl.col("hard_rule"), pl.lit("uncertain score")).alias("reason")
    )
    if extra is not None and extra.height:
        cut = scored.join(extra.select("left_uid", "right_uid"), on=["left_uid", "right_uid"], how="semi")
        cut = cut.filter(pl.col("band") == "link").with_columns(
            pl.lit("link cut: would join records that cannot be one person").alias("reason")
        )
        queue = pl.concat([queue, cut], how="vertical_relaxed")
    shown = [c for c in SHOWN_FIELDS if c in std.columns]
    side = std.select("row_uid", *shown)
    left = side.rename({c: f"left_{c}" for c in side.columns}).rename({"left_row_uid": "left_uid"})
    right = side.rename({c: f"right_{c}" for c in side.columns}).rename({"right_row_uid": "right_uid"})
    queue = queue.join(left, on="left_uid", how="left").join(right, on="right_uid", how="left")
    explain = []
    for name in COMPARISONS:
        explain.append(level_label(name).alias(name))
    for name in SCORED:
        explain.append(pl.col(f"{name}_weight").round(2))
    columns = [
        pl.col("left_uid").alias("left_row_uid"),
        pl.col("right_uid").alias("right_row_uid"),
        pl.col("probability").round(4),
        pl.col("match_weight").round(2),
        "reason",
        *explain,
        pl.col("tf_given").round(2),
        pl.col("tf_family").round(2),
        pl.col("tf_middle").round(2),
        *(
            pl.col(c).round(2)
            for c in ("name_dependence_weight", "household_dependence_weight", "namesake_weight")
            if c in queue.columns
        ),
    ]
    for field in shown:
        columns += [f"left_{field}", f"right_{field}"]
    return (
        queue.select(columns)
        .with_columns(pl.lit(None, dtype=pl.String).alias("decision"))
        .sort(["probability", "left_row_uid", "right_row_uid"], descending=[True, False, False])
    )


def write_review(review: pl.DataFrame, path: str | Path) -> Path:
    """Write the review queue as .xlsx (one sheet, header frozen) or .csv, by extension.

    Source values reach stewards' spreadsheets here: every text cell that a spreadsheet would evaluate (`=`, `+`,
    `-`, `@`, ...) gets a leading quote and the workbook writes strings as strings (no formula, no hyperlink);
    `read_decision_file` removes the quote again.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".xlsx", ".csv"):
        raise ValueError(f"{path}: the review queue is written as .xlsx or .csv, got '{path.suffix}'")
    path.parent.mkdir(parents=True, exist_ok=True)
    flat = neutralize_frame(review.with_columns(pl.col(pl.Date, pl.Datetime).cast(pl.String)))
    if suffix == ".xlsx":
        workbook = safe_workbook(path, nan_inf_to_errors=True)
        try:
            flat.write_excel(workbook, worksheet="review", freeze_panes=(1, 0), autofit=True)
        finally:
            workbook.close()
    else:
        flat.write_csv(path)
    return path


def read_decision_file(path: str | Path) -> pl.DataFrame:
    """Read a decisions file (.xlsx, .csv or .parquet) with every column as a string."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".xlsx":
        frame = pl.read_excel(path, infer_schema_length=0)
    elif suffix == ".csv":
        frame = pl.read_csv(path, infer_schema=False)
    elif suffix == ".parquet":
        frame = pl.read_parquet(path)
    else:
        raise DecisionFileError(
            f"{path}: decisions are read from .xlsx, .csv or .parquet, got '{path.suffix}'"
        )
    # The review queue was written with a quote before formula-like text: read the value as it was.
    return frame.with_columns(restore_formula_text(pl.all().cast(pl.String)))


def resolve_decisions(decisions: pl.DataFrame, std: pl.DataFrame, origin: str = "decisions") -> pl.DataFrame:
    """Steward decisions → `left_uid, right_uid, decision` (same|different) in this run's row_uids.

    Rows with an empty decision are skipped (not yet decided). Pairs naming records absent from this run are
    dropped (they may have left the source); an unreadable value raises naming the row and field.
    """
    frame = decisions.rename({c: c.strip().lower() for c in decisions.columns})
    if "decision" not in frame.columns:
        raise DecisionFileError(f"{origin}: no 'decision' column (columns: {', '.join(frame.columns)})")
    by_ids = all(
        c in frame.columns for c in ("left_record_id", "left_source_id", "right_record_id", "right_source_id")
    )
    by_uid = all(c in frame.columns for c in ("left_row_uid", "right_row_uid"))
    if not (by_ids or by_uid):
        raise DecisionFileError(
            f"{origin}: name each pair by left_record_id, left_source_id, right_record_id, right_source_id "
            "or by left_row_uid, right_row_uid"
        )
    frame = frame.with_row_index("file_row", offset=2)  # spreadsheet row numbers: the header is row 1
    decided = frame.with_columns(
        pl.col("decision").cast(pl.String).str.strip_chars().str.to_lowercase().alias("decision")
    ).filter(pl.col("decision").is_not_null() & (pl.col("decision") != ""))
    bad = decided.filter(~pl.col("decision").is_in(list(DECISION_VALUES)))
    if bad.height:
        row = bad.row(0, named=True)
        raise DecisionFileError(
            f"{origin}: row {row['file_row']}, field 'decision': '{row['decision']}' is not one of same, different"
        )
    decided = decided.with_columns(pl.col("decision").replace_strict(DECISION_VALUES))
    resolved = []
    if by_ids:
        ids = std.select("row_uid", pl.col("record_id").cast(pl.String), pl.col("source_id").cast(pl.String))
        named = decided.filter(
            pl.col("left_record_id").is_not_null() & pl.col("right_record_id").is_not_null()
        )
        named = named.join(
            ids.rename({"row_uid": "l", "record_id": "left_record_id", "source_id": "left_source_id"}),
            on=["left_record_id", "left_source_id"],
        ).join(
            ids.rename({"row_uid": "r", "record_id": "right_record_id", "source_id": "right_source_id"}),
            on=["right_record_id", "right_source_id"],
        )
        resolved.append(named.select("file_row", "l", "r", "decision"))
        if by_uid:
            decided = decided.filter(pl.col("left_record_id").is_null() | pl.col("right_record_id").is_null())
    if by_uid:
        numbered = decided.filter(
            pl.col("left_row_uid").is_not_null() & pl.col("right_row_uid").is_not_null()
        )
        for side in ("left_row_uid", "right_row_uid"):
            broken = numbered.filter(~pl.col(side).str.strip_chars().str.contains(r"^\d+$"))
            if broken.height:
                row = broken.row(0, named=True)
                raise DecisionFileError(
                    f"{origin}: row {row['file_row']}, field '{side}': '{row[side]}' is not a row number"
                )
        numbered = numbered.select(
            "file_row",
            pl.col("left_row_uid").str.strip_chars().cast(pl.Int64).alias("l"),
            pl.col("right_row_uid").str.strip_chars().cast(pl.Int64).alias("r"),
            "decision",
        ).filter(pl.col("l").is_in(std["row_uid"].implode()) & pl.col("r").is_in(std["row_uid"].implode()))
        resolved.append(numbered)
    out = pl.concat(resolved) if resolved else pl.DataFrame(schema={"l": pl.Int64, "r": pl.Int64})
    out = out.filter(pl.col("l") != pl.col("r")).select(
        pl.min_horizontal("l", "r").alias("left_uid"),
        pl.max_horizontal("l", "r").alias("right_uid"),
        "decision",
        "file_row",
    )
    # The last decision on a pair wins (a steward may correct an earlier line).
    return (
        out.sort("file_row")
        .unique(["left_uid", "right_uid"], keep="last")
        .drop("file_row")
        .sort(["left_uid", "right_uid"])
    )

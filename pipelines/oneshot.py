"""The one-shot commands (`sachsong check`, `sachsong dedupe`) on one input, for any register: the same rooms,
in the same order, as a night — read → standardize → check / match — without a store.

An input is a folder of exports, one export file (any kind ingest reads, headers in the register's vocabulary)
or a canonical raw table (Parquet, or CSV whose header already names the register's raw columns).
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

from sachsong.schema import LINEAGE_COLUMNS
from sachsong.spec import DatasetSpec, get_dataset

# An input file copied aside to be ingested alone is bounded like any export (ingest's own limits apply too).
MAX_INPUT_BYTES = 2 * 1024**3


@dataclass
class Prepared:
    """An input read and standardized: the standardized rows and the rows refused on the way (with reasons)."""

    standardized: pl.DataFrame
    rejects: pl.DataFrame


def _canonical(frame: pl.DataFrame, spec: DatasetSpec) -> bool:
    return "record_id" in frame.columns and bool(set(spec.required_any) & set(frame.columns))


def read_input(path: str | Path, spec: DatasetSpec | str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The canonical raw table (with lineage) of an input, and ingest's rejects."""
    from sachsong.sources.ingest import ingest_directory, ingest_files
    from sachsong.tableio import read_table

    spec = get_dataset(spec)
    path = Path(path)
    if path.is_dir():
        result = ingest_directory(path, dataset=spec)
        return result.table, result.rejects
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such input file or folder")
    if path.suffix.lower() in (".parquet", ".csv"):
        frame = read_table(path)
        if _canonical(frame, spec):
            frame = frame.with_columns(
                *(pl.col(c).cast(pl.String) for c in spec.raw_columns if c in frame.columns),
                *(pl.lit(None, pl.String).alias(c) for c in spec.raw_columns if c not in frame.columns),
            )
            if "source_file" not in frame.columns:
                frame = frame.with_columns(pl.lit(path.name).alias("source_file"))
            if "source_row" not in frame.columns:
                frame = frame.with_row_index("source_row", offset=1).with_columns(pl.col("source_row").cast(pl.Int64))
            empty = pl.DataFrame(schema={"source_file": pl.String, "source_row": pl.Int64, "reason": pl.String})
            return frame.select(*spec.raw_columns, *LINEAGE_COLUMNS), empty
    if path.stat().st_size > MAX_INPUT_BYTES:
        raise ValueError(f"{path.name}: larger than {MAX_INPUT_BYTES} bytes")
    with tempfile.TemporaryDirectory(prefix="sachsong-input-") as scratch:
        copy = Path(scratch) / path.name
        shutil.copyfile(path, copy)
        result = ingest_files(Path(scratch), [path.name], dataset=spec)
        return result.table, result.rejects


def prepare_input(path: str | Path, spec: DatasetSpec | str) -> Prepared:
    """Read an input and standardize it; a row that makes the standardizer raise is rejected alone."""
    from sachsong.standardize.isolate import run_isolating

    spec = get_dataset(spec)
    raw, rejects = read_input(path, spec)
    from sachsong.standardize.record_keys import add_record_keys

    isolated = run_isolating(raw, spec.standardize)
    if isolated.rejects.height:
        rejects = pl.concat([rejects, isolated.rejects], how="diagonal_relaxed")
    # Stable keys: a steward's decision on the review written from this input names records by them.
    keyed = add_record_keys(isolated.table, spec.content_columns)
    return Prepared(keyed.frame, rejects)


def check_input(path: str | Path, spec: DatasetSpec | str, as_of: date, **options: Any) -> Any:
    """`sachsong check`: the register's rule pack over the input (rules on clusters, such as duplicate_record,
    need matching: `sachsong dedupe`, or the night)."""
    from sachsong.rules.engine import check_standardized

    spec = get_dataset(spec)
    prepared = prepare_input(path, spec)
    return check_standardized(prepared.standardized, as_of, spec.pack, **options)


def match_standardized(
    standardized: pl.DataFrame,
    spec: DatasetSpec | str,
    decisions: Any = None,
    *,
    publishable: str | None = None,
    lean: bool = False,
    comparison_cache: Path | None = None,
) -> Any:
    """The register's matching engine: the persons engine for residents, the settings-driven one otherwise.

    `decisions`: stewards' decisions by record key (or the persons engine's other forms); `publishable`: the
    Boolean column of the records golden records are built from; `lean`: the persons engine keeps no per-pair
    table (the night's mode: same clusters, golden records and review queue, less memory); `comparison_cache`:
    the persons engine reads last night's pairs' comparison levels from this file and writes tonight's there
    (matching.pair_cache: exact, so the same result as without it)."""
    spec = get_dataset(spec)
    if spec.matching_engine == "persons":
        from sachsong.matching.dedupe import DedupeConfig, dedupe_standardized

        config = DedupeConfig(
            keep_pairs=not lean,
            publishable=publishable,
            comparison_cache_in=comparison_cache,
            comparison_cache_out=comparison_cache,
        )
        return dedupe_standardized(standardized, decisions=decisions, config=config)
    from sachsong.matching.generic import match_records

    if decisions is not None and {"left_record_key", "right_record_key"} <= set(decisions.columns):
        from sachsong.matching.review import decision_expr
        from sachsong.store.decisions import decisions_to_uids

        decided = decisions.with_columns(decision_expr(pl.col("decision")).alias("decision")).filter(
            pl.col("decision").is_in(["same", "different"])
        )
        decisions = decisions_to_uids(decided, standardized.select("row_uid", "record_key"))
    return match_records(standardized, spec.matching_settings, publishable=publishable, decisions=decisions)


def write_review_file(review: pl.DataFrame, path: str | Path, spec: DatasetSpec | str, run_id: str) -> Path:
    """The review queue as the stewards' workbook (`.xlsx`, with its `.csv` beside) or a plain `.csv`/`.parquet`."""
    from sachsong.matching.review import write_review
    from sachsong.reports.review_workbook import STEWARD_FIELDS, write_review_workbook

    spec = get_dataset(spec)
    path = Path(path)
    if path.suffix.lower() != ".xlsx":
        return write_review(review, path)
    fields = tuple(f for f in (spec.matching.get("review_fields") or STEWARD_FIELDS) if f"left_{f}" in review.columns)
    with tempfile.TemporaryDirectory(prefix="sachsong-review-", dir=path.parent) as scratch:
        written = write_review_workbook(
            review, Path(scratch), fields=fields or STEWARD_FIELDS, run_id=run_id, unit_vi=spec.unit.vi,
            unit_en=spec.unit.en_one,
        )
        for made in written:
            made.replace(path.with_suffix(made.suffix))
    return path


def dedupe_input(path: str | Path, spec: DatasetSpec | str, decisions: Any = None) -> Any:
    """`sachsong dedupe`: the register's matching over the input; every record in `.clusters` once."""
    return match_standardized(prepare_input(path, spec).standardized, spec, decisions)

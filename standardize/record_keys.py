"""Stable record keys: a key per record that survives re-ordering, re-exports and exports added or removed.

`add_record_keys(frame, content_columns)` gives every record a `record_key` (String) and its `key_kind`:

- ``source_id``: the source's own id. Ingest fills a missing id with ``f"{source_id}-{source_row}"`` (the row's
  position), so a `record_id` equal to that string is positional and never used as an id. The key is
  ``"s:" + sha256(source_id, record_id)[:32]`` (both values length-prefixed, so no pair of values can join into
  another pair's text).
- ``content``: for a record without an own id, ``"c:" + sha256(source_id, normalized content)[:32]`` over the
  caller's `content_columns`. Normalized = NFC, trimmed, runs of white space made one space, **lower-cased**, an
  empty text read as missing: a re-export that only re-cases or re-spaces a value keeps the key, and two records
  differing only in case are still told apart by the collision numbering below. Scoped by `source_id`, never by
  the row's position. Leave positional or volatile columns out of `content_columns` (`record_id`, `source_row`,
  `source_file` are refused; `updated_at` is best left out: a re-export may refresh it).

Collisions: rows of one source sharing a key. A repeated own id: each of its rows gets ``#`` + the first 8 hex
digits of its normalized content's hash (numbering them ``#2``, ``#3`` in content order would move a key to
another record, and so a person id to another person, whenever one of them is edited or a new row with that id
sorts first). Identical content (rows of a source without ids, or rows repeating both id and content): the first
keeps the key, the others get ``#2``, ``#3``… in the order of their exact content's hash, never their position;
such rows are interchangeable. Every row of such a group gets a finding `record_key_duplicate` (criterion
clean, warning): the steward sees all rows involved.

Sources without ids: a source none of whose rows carries an own id gets one dataset-level finding
`source_without_ids` (row_uid null, source_id set; the scorecard spreads it over that source's records). Its
criterion is **sufficient** (đủ): a record's identifier is information the store needs and the source does not
send; the values sent are not wrong (correct) nor duplicated (clean). A source where only some rows lack an id
gets a row-level `record_without_id` finding (sufficient, warning) on each of those rows instead.

Messages name the source, the rule and counts, never an id or a value (an id may be a CCCD).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import duckdb
import polars as pl

from sachsong.schema import FINDING_SCHEMA

KEY_HEX = 32  # 128 bits of SHA-256: collisions between distinct records are not a practical concern
DUPLICATE_HEX = 8  # tells apart the rows sharing one own id
POSITIONAL_COLUMNS = ("record_id", "source_row", "source_file", "row_uid")


@dataclass
class KeyedRecords:
    frame: pl.DataFrame  # the input + `record_key` (String) and `key_kind` ("source_id" | "content")
    findings: pl.DataFrame  # schema.FINDING_SCHEMA

    def describe(self) -> str:
        kinds = self.frame.group_by("key_kind").len().sort("key_kind").iter_rows()
        counts = ", ".join(f"{kind}: {n}" for kind, n in kinds)
        by_rule = self.findings.group_by("rule_id").len().sort("rule_id").iter_rows()
        rules = ", ".join(f"{rule}: {n}" for rule, n in by_rule) or "none"
        return f"{self.frame.height} records keyed ({counts}); findings: {rules}"


def sha256_hex(values: pl.Series) -> pl.Series:
    """SHA-256 (lower-case hex) of each string, null for null; computed by DuckDB, vectorized.

    Stable across processes and library versions (polars' own hash is neither), so keys and ids built on it
    persist from night to night.
    """
    name = values.name
    if values.len() == 0:
        return pl.Series(name, [], dtype=pl.String)
    con = duckdb.connect()
    try:
        # A plain projection keeps the input order (DuckDB's preserve_insertion_order, on by default).
        con.execute("SET preserve_insertion_order = true")
        table = pl.DataFrame({"v": values.cast(pl.String)}).to_arrow()
        con.register("hash_input", table)
        out = con.sql("SELECT sha256(v) AS h FROM hash_input").pl()["h"]
    finally:
        con.close()
    return out.cast(pl.String).alias(name)


def _text(frame: pl.DataFrame, columns: Sequence[str], *, normalize: bool, scope: bool) -> pl.Series:
    """Each row's `columns` (after `source_id` when `scope`) packed into one unambiguous text.

    Every part is `<length>:<text>` or `~` for missing, joined by `|`, so distinct tuples give distinct texts.
    The normalized values are materialized before packing: an expression used three times in the packing
    would be computed three times.
    """
    values = [pl.col(c).cast(pl.String).alias(f"_{i}") for i, c in enumerate(columns)]
    parts = frame.select(*values)
    if normalize:
        parts = parts.select(
            pl.col(c).str.normalize("NFC").str.strip_chars().str.replace_all(r"\s+", " ").str.to_lowercase()
            for c in parts.columns
        ).select(pl.when(pl.col(c).str.len_bytes() > 0).then(pl.col(c)).alias(c) for c in parts.columns)
    if scope:
        parts = parts.with_columns(frame["source_id"].cast(pl.String).alias("_scope")).select(
            "_scope", *parts.columns
        )
    encoded = [
        pl.when(pl.col(c).is_null())
        .then(pl.lit("~"))
        .otherwise(pl.format("{}:{}", pl.col(c).str.len_chars(), pl.col(c)))
        for c in parts.columns
    ]
    return parts.select(pl.concat_str(encoded, separator="|").alias("text"))["text"]


def content_hash(frame: pl.DataFrame, columns: Sequence[str], *, normalize: bool = False) -> pl.Series:
    """SHA-256 hex of a record's `columns` (exact strings, or normalized as the content key does)."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"content columns not in the frame: {', '.join(missing)}")
    return sha256_hex(_text(frame, columns, normalize=normalize, scope=False)).alias("content_hash")


def add_record_keys(frame: pl.DataFrame, content_columns: Sequence[str]) -> KeyedRecords:
    """`frame` (canonical raw rows with `record_id`, `source_id`, `source_row`) → `KeyedRecords`.

    See the module docstring for the key rules. The frame keeps its rows and order; `row_uid`, when present,
    is carried into the findings (else their row_uid is null).
    """
    for column in ("record_id", "source_id", "source_row"):
        if column not in frame.columns:
            raise ValueError(f"add_record_keys: column {column!r} is missing")
    refused = [c for c in content_columns if c in POSITIONAL_COLUMNS]
    if refused:
        raise ValueError(f"add_record_keys: {', '.join(refused)} cannot be content (positional or volatile)")
    if not content_columns:
        raise ValueError("add_record_keys: content_columns is empty")
    missing = [c for c in content_columns if c not in frame.columns]
    if missing:
        raise ValueError(f"add_record_keys: content columns not in the frame: {', '.join(missing)}")

    positional = pl.format("{}-{}", pl.col("source_id"), pl.col("source_row"))
    own_id = pl.col("record_id").is_not_null() & (
        pl.col("record_id").cast(pl.String) != positional
    ).fill_null(True)
    work = frame.select(own_id.fill_null(False).alias("_own"))
    own = work["_own"]
    # One hash per row: the id for rows with an own id, the normalized content for the rest (normalized only
    # where it is needed).
    base_text = _text(frame, ["record_id"], normalize=False, scope=True)
    if not own.all():
        content_rows = (~own).arg_true()
        base_text = base_text.scatter(
            content_rows, _text(frame[content_rows], content_columns, normalize=True, scope=True)
        )
    hashed = sha256_hex(base_text).str.slice(0, KEY_HEX)
    keyed = work.with_columns(
        (pl.when(pl.col("_own")).then(pl.lit("s:")).otherwise(pl.lit("c:")) + pl.lit(hashed)).alias("_key")
    ).with_columns(pl.len().over("_key").alias("_group"))

    # Rows sharing a key (rare) are numbered by content (normalized, then exact), never by position; rows
    # with identical content are interchangeable, so ties may fall in any order.
    shared = keyed["_group"] > 1
    keyed = keyed.with_columns(pl.lit(1, dtype=pl.UInt32).alias("_n"))
    if shared.any():
        rows = shared.arg_true()
        subset = frame[rows]
        content = sha256_hex(_text(subset, content_columns, normalize=True, scope=True))
        exact = sha256_hex(_text(subset, content_columns, normalize=False, scope=False))
        numbered = keyed[rows].with_columns(content.alias("_content"), exact.alias("_exact"))
        # A repeated own id: each row's key carries its content's hash, so an edit or a new row under the same
        # id never moves a key to another record. Identical content (a repeated row): numbered #2, #3.
        numbered = numbered.with_columns(
            pl.when(pl.col("_own"))
            .then(pl.format("{}#{}", pl.col("_key"), pl.col("_content").str.slice(0, DUPLICATE_HEX)))
            .otherwise(pl.col("_key"))
            .alias("_key")
        ).with_columns((pl.col("_content") + pl.col("_exact")).rank("ordinal").over("_key").alias("_n"))
        keyed = keyed.with_columns(
            keyed["_key"].scatter(rows, numbered["_key"]), keyed["_n"].scatter(rows, numbered["_n"])
        )
    record_key = (
        pl.when(pl.col("_n") > 1)
        .then(pl.format("{}#{}", pl.col("_key"), pl.col("_n")))
        .otherwise(pl.col("_key"))
        .alias("record_key")
    )
    key_kind = (
        pl.when(pl.col("_own")).then(pl.lit("source_id")).otherwise(pl.lit("content")).alias("key_kind")
    )
    keys = keyed.select(record_key, key_kind, "_group", "_own")
    out = frame.with_columns(keys["record_key"], keys["key_kind"])

    findings = _findings(frame, keys)
    return KeyedRecords(frame=out, findings=findings)


def _findings(frame: pl.DataFrame, keys: pl.DataFrame) -> pl.DataFrame:
    row_uid = pl.col("row_uid").cast(pl.Int64) if "row_uid" in frame.columns else pl.lit(None, dtype=pl.Int64)
    rows = frame.select(
        pl.col("source_id").cast(pl.String),
        pl.col("record_id").cast(pl.String),
        row_uid.alias("row_uid"),
    ).with_columns(
        keys["_group"].alias("_group"),
        keys["_own"].alias("_own"),
        keys["key_kind"].alias("_kind"),
    )

    duplicates = rows.filter(pl.col("_group") > 1).select(
        "row_uid",
        pl.col("record_id").cast(pl.String),
        "source_id",
        pl.lit("record_key_duplicate").alias("rule_id"),
        pl.lit("clean").alias("criterion"),
        pl.lit("warning").alias("severity"),
        pl.when(pl.col("_own"))
        .then(
            pl.format(
                "source {}: {} rows share one record id; each key carries a hash of its row's content",
                pl.col("source_id"),
                pl.col("_group"),
            )
        )
        .otherwise(
            pl.format(
                "source {}: {} rows without an id have the same content; their keys are numbered #2, #3…",
                pl.col("source_id"),
                pl.col("_group"),
            )
        )
        .alias("message"),
        pl.lit(None, dtype=pl.String).alias("value"),
    )

    per_source = rows.group_by("source_id").agg(
        pl.len().alias("rows"), (~pl.col("_own")).sum().alias("without")
    )
    no_ids = per_source.filter((pl.col("without") == pl.col("rows")) & (pl.col("rows") > 0)).select(
        pl.lit(None, dtype=pl.Int64).alias("row_uid"),
        pl.lit(None, dtype=pl.String).alias("record_id"),
        "source_id",
        pl.lit("source_without_ids").alias("rule_id"),
        pl.lit("sufficient").alias("criterion"),
        pl.lit("warning").alias("severity"),
        pl.format(
            "source {}: no id column; its {} records are keyed by their content, so an edited record gets a new key",
            pl.col("source_id"),
            pl.col("rows"),
        ).alias("message"),
        pl.lit(None, dtype=pl.String).alias("value"),
    )
    partial = per_source.filter((pl.col("without") > 0) & (pl.col("without") < pl.col("rows"))).select(
        "source_id"
    )
    some_missing = (
        rows.join(partial, on="source_id", how="semi")
        .filter(~pl.col("_own"))
        .select(
            "row_uid",
            pl.col("record_id").cast(pl.String),
            "source_id",
            pl.lit("record_without_id").alias("rule_id"),
            pl.lit("sufficient").alias("criterion"),
            pl.lit("warning").alias("severity"),
            pl.format("source {}: record has no id; it is keyed by its content", pl.col("source_id")).alias(
                "message"
            ),
            pl.lit(None, dtype=pl.String).alias("value"),
        )
    )
    return pl.concat(
        [f.cast(FINDING_SCHEMA) for f in (duplicates, no_ids, some_missing)], how="vertical"
    ).select(list(FINDING_SCHEMA))

"""The change feed: what one night changed in the store, one row per change.

`change_feed(previous_records, current_records, previous_golden, current_golden, events, run_id=...)` gives
`run_id, change, entity_id, record_key, source_file, fields (List[String]), detail`, `change` one of `CHANGES`:

- persons, from the id assignment's events (`store.identity`): `person_created` (detail: `new`, or the ids it
  was split from), `person_merged` (the survivor; detail: the ids it absorbed), `person_split` (the id kept;
  detail: the ids that took its other records), `person_retired` (detail: its survivor, or that no record is
  left), `person_dormant` (its export is missing: held, not published), `person_revived` (held last night, back
  tonight). `kept` events give no row: a kept person whose golden record changed is a `person_updated`.
- `person_updated`: an id in both nights' golden tables whose golden values differ; `fields` names them. By
  default every column the two tables share except bookkeeping (`cluster_id`, `cluster_size`, `confidence`,
  `row_uid`, `record_id`, `source_id`, member lists, `sources`); `golden_columns` overrides.
- records, compared by `record_key`: `record_added`, `record_removed`, `record_changed` (`fields`: the raw columns
  whose text differs). The compared columns are `content_columns`, by default the canonical raw columns both
  tables carry except `record_id` (positional for sources without ids) and `source_id` (part of the key). When
  both tables carry a `content_hash` column (e.g. `standardize.record_keys.content_hash` of the raw columns) and
  share none of the compared columns, the hash alone decides and `fields` is empty.
- exports, by `source_file`: `export_missing` (present last night, missing tonight) and `export_added`. The
  exports of each night are `previous_sources` / `current_sources` (a frame with `source_file`, e.g. the
  snapshot's `source_files` table filtered to the exports that delivered records, or a list), by default the
  `source_file` values of the records. A missing export's records are not dropped silently: each gets a
  `record_removed` row with detail "export missing: held dormant" (the id assignment holds them; their persons
  stay dormant until the export is back).
- a record of an export without ids that was edited gets a new content key; when exactly one content-keyed record
  of an export is gone and exactly one is new under the same person id (kept by an anchor), the pair is one
  `record_changed` (record_key the new key, detail naming the old one), not a removal and an addition.

Rows are sorted by change (the order of `CHANGES`), entity_id, record_key, source_file: the same inputs give the
same feed. Details name ids, files, fields and counts, never a personal value.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from sachsong.schema import RAW_COLUMNS

CHANGES: tuple[str, ...] = (
    "person_created",
    "person_updated",
    "person_merged",
    "person_split",
    "person_retired",
    "person_dormant",
    "person_revived",
    "record_added",
    "record_changed",
    "record_removed",
    "export_missing",
    "export_added",
)
CHANGE_SCHEMA: dict[str, pl.DataType] = {
    "run_id": pl.String(),
    "change": pl.String(),
    "entity_id": pl.String(),
    "record_key": pl.String(),
    "source_file": pl.String(),
    "fields": pl.List(pl.String()),
    "detail": pl.String(),
}
GOLDEN_BOOKKEEPING = frozenset(
    {
        "cluster_id",
        "cluster_size",
        "confidence",
        "row_uid",
        "record_id",
        "source_id",
        "member_row_uids",
        "member_record_ids",
        "sources",
        "run_id",
        "record_key",
    }
)
MISSING_EXPORT_DETAIL = "export missing: held dormant"
CONTENT_KEY_PREFIX = "c:"  # standardize.record_keys: keys made from content (sources without ids)


def _sources(given: pl.DataFrame | Sequence[str] | None, records: pl.DataFrame) -> pl.DataFrame:
    if given is None:
        column = (
            records["source_file"] if "source_file" in records.columns else pl.Series([], dtype=pl.String)
        )
    elif isinstance(given, pl.DataFrame):
        column = given["source_file"]
    else:
        column = pl.Series(list(given), dtype=pl.String)
    return pl.DataFrame({"source_file": column.cast(pl.String)}).drop_nulls().unique()


def _empty_records(entity_id: str) -> pl.DataFrame:
    return pl.DataFrame(
        schema={"record_key": pl.String(), entity_id: pl.String(), "source_file": pl.String()}
    )


def _rows(frame: pl.DataFrame, change: str, **columns: pl.Expr) -> pl.DataFrame:
    """A frame of changes: the given expressions, the rest null (fields an empty list)."""
    defaults: dict[str, pl.Expr] = {
        "entity_id": pl.lit(None, dtype=pl.String),
        "record_key": pl.lit(None, dtype=pl.String),
        "source_file": pl.lit(None, dtype=pl.String),
        "fields": pl.lit([], dtype=pl.List(pl.String)),
        "detail": pl.lit(None, dtype=pl.String),
    }
    defaults.update(columns)
    # with_columns, not select: literals alone would make one row out of an empty frame.
    return frame.with_columns(
        pl.lit(change).alias("change"), *(expr.alias(name) for name, expr in defaults.items())
    ).select("change", *defaults)


def _differing(columns: Sequence[str], suffix: str) -> pl.Expr:
    """The names of the columns whose value differs from the `suffix` twin (null vs null is equal)."""
    if not columns:
        return pl.lit([], dtype=pl.List(pl.String))
    return pl.concat_list(
        [pl.when(pl.col(c).ne_missing(pl.col(c + suffix))).then(pl.lit(c)) for c in columns]
    ).list.drop_nulls()


def _any_differs(columns: Sequence[str], suffix: str) -> pl.Expr:
    """Whether any column differs from its `suffix` twin: most rows do not, and are dropped before their
    `_differing` lists are built."""
    if not columns:
        return pl.lit(False)
    return pl.any_horizontal([pl.col(c).ne_missing(pl.col(c + suffix)) for c in columns])


def _pairs(left: pl.DataFrame, right: pl.DataFrame, on: str) -> pl.DataFrame:
    """Row positions (`_left`, `_right`) of the rows of `left` and `right` sharing an `on` value (an inner join).

    The join carries the key alone: the other columns are gathered by position for the rows that need them
    instead of being carried through the join for every row.
    """
    return (
        left.select(on)
        .with_row_index("_left")
        .join(right.select(on).with_row_index("_right"), on=on, how="inner")
        .select("_left", "_right")
    )


def _paired(
    left: pl.DataFrame, right: pl.DataFrame, pairs: pl.DataFrame, columns: Sequence[str], suffix: str
) -> pl.DataFrame:
    """The paired rows side by side: `left`'s columns, then `columns` of `right` renamed with `suffix`."""
    return pl.concat(
        [
            left.select(pl.all().gather(pairs["_left"])),
            right.select(pl.col(c).gather(pairs["_right"]).alias(c + suffix) for c in columns),
        ],
        how="horizontal",
    )


def _differing_pairs(
    left: pl.DataFrame, right: pl.DataFrame, pairs: pl.DataFrame, columns: Sequence[str], suffix: str
) -> pl.DataFrame:
    """The `pairs` whose rows differ in any of `columns` (null vs null is equal)."""
    if not columns or pairs.is_empty():
        return pairs.clear()
    # Contiguous columns: a gather across many chunks (a Parquet file's row groups) costs several times more.
    compared = _paired(left.select(columns).rechunk(), right.select(columns).rechunk(), pairs, columns, suffix)
    return pairs.filter(compared.select(_any_differs(columns, suffix)).to_series())


def _unpaired(frame: pl.DataFrame, positions: pl.Series) -> pl.DataFrame:
    """The rows of `frame` whose position is not in `positions` (those without a partner: an anti join)."""
    paired = pl.repeat(False, frame.height, dtype=pl.Boolean, eager=True).scatter(positions, True)
    return frame.filter(~paired)


def _person_rows(events: pl.DataFrame) -> list[pl.DataFrame]:
    related = pl.col("related_ids").list.join(", ")
    has_related = pl.col("related_ids").list.len() > 0
    entity = pl.col("entity_id").cast(pl.String)
    rows = []
    by_event = {
        "created": (
            "person_created",
            pl.when(has_related).then(pl.lit("split from: ") + related).otherwise(pl.lit("new")),
        ),
        "merged": ("person_merged", pl.lit("absorbed: ") + related),
        "split": ("person_split", pl.lit("records went to: ") + related),
        "retired": (
            "person_retired",
            pl.when(has_related)
            .then(pl.lit("merged into: ") + related)
            .otherwise(pl.lit("removed: no record left")),
        ),
        "dormant": ("person_dormant", pl.lit("export missing: id held, not published")),
        "revived": ("person_revived", pl.lit("records back: id published again")),
    }
    for event, (change, detail) in by_event.items():
        part = events.filter(pl.col("event") == event)
        rows.append(_rows(part, change, entity_id=entity, detail=detail))
    return rows


def change_feed(
    previous_records: pl.DataFrame | None,
    current_records: pl.DataFrame,
    previous_golden: pl.DataFrame | None,
    current_golden: pl.DataFrame,
    events: pl.DataFrame,
    *,
    run_id: str,
    entity_id: str = "entity_id",
    previous_sources: pl.DataFrame | Sequence[str] | None = None,
    current_sources: pl.DataFrame | Sequence[str] | None = None,
    content_columns: Sequence[str] | None = None,
    golden_columns: Sequence[str] | None = None,
) -> pl.DataFrame:
    """One night's changes (see the module docstring). `previous_*` None on the first night."""
    previous_records = _empty_records(entity_id) if previous_records is None else previous_records
    if previous_golden is None:
        previous_golden = pl.DataFrame(schema={entity_id: pl.String()})
    for name, frame in (("previous_records", previous_records), ("current_records", current_records)):
        missing = [c for c in ("record_key", entity_id, "source_file") if c not in frame.columns]
        if missing:
            raise ValueError(f"change_feed: {name} lacks column(s) {', '.join(missing)}")

    if content_columns is None:
        content_columns = [
            c
            for c in RAW_COLUMNS
            if c not in ("record_id", "source_id")
            and c in previous_records.columns
            and c in current_records.columns
        ]
    use_hash = not content_columns and all(
        "content_hash" in f.columns for f in (previous_records, current_records)
    )
    compared = [*content_columns, *(["content_hash"] if use_hash else [])]

    def records(frame: pl.DataFrame) -> pl.DataFrame:
        return frame.select(
            pl.col("record_key").cast(pl.String),
            pl.col(entity_id).cast(pl.String).alias("entity_id"),
            pl.col("source_file").cast(pl.String),
            *(pl.col(c) for c in compared),
        )

    before, after = records(previous_records), records(current_records)
    before_sources = _sources(previous_sources, previous_records)
    after_sources = _sources(current_sources, current_records)
    missing_exports = before_sources.join(after_sources, on="source_file", how="anti")
    added_exports = after_sources.join(before_sources, on="source_file", how="anti")

    # One join on the key alone: who is new, who is gone and which rows to compare all follow from its pairs.
    pairs = _pairs(after, before, "record_key")
    new = _unpaired(after, pairs["_left"])
    gone = _unpaired(before, pairs["_right"]).with_columns(
        pl.col("source_file").is_in(missing_exports["source_file"].implode()).fill_null(False).alias("_held")
    )
    # A record whose key changed without its person or export changing is one change, not a removal and an
    # addition: an edited record of an export without ids (a new content key, the id kept by its anchor), or an
    # export re-sent with or without its own id column (a content key for an own-id key, or back). One record
    # gone and one new in the same export under the same person, at least one of them content-keyed (two own
    # ids are two records).
    one_each = pl.len().over("entity_id", "source_file") == 1
    content_keyed = pl.col("record_key").str.starts_with(CONTENT_KEY_PREFIX)
    rekeyed = (
        new.filter(one_each)
        .join(
            gone.filter(~pl.col("_held")).filter(one_each).drop("_held"),
            on=["entity_id", "source_file"],
            how="inner",
            suffix="_prev",
        )
        .filter(content_keyed | pl.col("record_key_prev").str.starts_with(CONTENT_KEY_PREFIX))
    )
    new = new.join(rekeyed.select("record_key"), on="record_key", how="anti")
    gone = gone.join(
        rekeyed.select(pl.col("record_key_prev").alias("record_key")), on="record_key", how="anti"
    )

    added = _rows(
        new,
        "record_added",
        entity_id=pl.col("entity_id"),
        record_key=pl.col("record_key"),
        source_file=pl.col("source_file"),
    )
    removed = _rows(
        gone,
        "record_removed",
        entity_id=pl.col("entity_id"),
        record_key=pl.col("record_key"),
        source_file=pl.col("source_file"),
        detail=pl.when(pl.col("_held"))
        .then(pl.lit(MISSING_EXPORT_DETAIL))
        .otherwise(pl.lit("removed from its export")),
    )
    # Only the kept records whose compared values differ are gathered whole (most records did not change).
    differing = _differing_pairs(after, before, pairs, compared, "_prev")
    both = _paired(after, before, differing, compared, "_prev").with_columns(
        pl.lit(None, dtype=pl.String).alias("_detail")
    )
    # A key of another kind (own id ↔ content) is itself the change a consumer holding the old key must learn.
    key_kind_changed = pl.col("record_key").str.slice(0, 2) != pl.col("record_key_prev").str.slice(0, 2)
    rekeyed = rekeyed.with_columns(
        pl.when(key_kind_changed)
        .then(pl.format("record key changed (was {}): the export's own id column came or went", "record_key_prev"))
        .otherwise(pl.lit("edited in an export without ids: key was ") + pl.col("record_key_prev"))
        .alias("_detail"),
        key_kind_changed.alias("_rekind"),
    )
    both = pl.concat([both.with_columns(pl.lit(False).alias("_rekind")), rekeyed.select(*both.columns, "_rekind")])
    if use_hash:
        both = both.filter(pl.col("content_hash").ne_missing(pl.col("content_hash_prev"))).with_columns(
            pl.lit([], dtype=pl.List(pl.String)).alias("_fields")
        )
    else:
        both = both.filter(_any_differs(content_columns, "_prev") | pl.col("_detail").is_not_null()).with_columns(
            _differing(content_columns, "_prev").alias("_fields")
        )
    both = both.with_columns(
        pl.when(pl.col("_rekind"))
        .then(pl.concat_list(pl.lit(["record_key"], dtype=pl.List(pl.String)), "_fields"))
        .otherwise(pl.col("_fields"))
        .alias("_fields")
    )
    changed = _rows(
        both,
        "record_changed",
        entity_id=pl.col("entity_id"),
        record_key=pl.col("record_key"),
        source_file=pl.col("source_file"),
        fields=pl.col("_fields"),
        detail=pl.col("_detail"),
    )

    # Record counts of the exports that came or went only (a handful), not of every export.
    counts_before = (
        before.filter(pl.col("source_file").is_in(missing_exports["source_file"].implode()))
        .group_by("source_file")
        .agg(pl.len().alias("n"))
    )
    counts_after = (
        after.filter(pl.col("source_file").is_in(added_exports["source_file"].implode()))
        .group_by("source_file")
        .agg(pl.len().alias("n"))
    )
    export_missing = _rows(
        missing_exports.join(counts_before, on="source_file", how="left"),
        "export_missing",
        source_file=pl.col("source_file"),
        detail=pl.format("{} record(s) held dormant", pl.col("n").fill_null(0)),
    )
    export_added = _rows(
        added_exports.join(counts_after, on="source_file", how="left"),
        "export_added",
        source_file=pl.col("source_file"),
        detail=pl.format("{} record(s)", pl.col("n").fill_null(0)),
    )

    updated = _updated(previous_golden, current_golden, entity_id, golden_columns)
    parts = [*_person_rows(events), updated, added, changed, removed, export_missing, export_added]
    feed = pl.concat([p.cast({k: v for k, v in CHANGE_SCHEMA.items() if k != "run_id"}) for p in parts])
    rank = {change: i for i, change in enumerate(CHANGES)}
    return (
        feed.with_columns(pl.lit(run_id, dtype=pl.String).alias("run_id"))
        .sort(
            [
                pl.col("change").replace_strict(rank, return_dtype=pl.Int8),
                "entity_id",
                "record_key",
                "source_file",
            ],
            nulls_last=True,
        )
        .select(list(CHANGE_SCHEMA))
    )


def _updated(
    previous: pl.DataFrame, current: pl.DataFrame, entity_id: str, golden_columns: Sequence[str] | None
) -> pl.DataFrame:
    if golden_columns is None:
        golden_columns = [
            c
            for c in current.columns
            if c in previous.columns and c != entity_id and c not in GOLDEN_BOOKKEEPING
        ]
    columns = list(golden_columns)
    if entity_id not in previous.columns or entity_id not in current.columns:
        return _rows(pl.DataFrame(schema={"entity_id": pl.String()}), "person_updated")
    after = current.select(pl.col(entity_id).cast(pl.String).alias("entity_id"), *columns)
    before = previous.select(pl.col(entity_id).cast(pl.String).alias("entity_id"), *columns)
    differing = _differing_pairs(after, before, _pairs(after, before, "entity_id"), columns, "_prev")
    both = _paired(after, before, differing, columns, "_prev").with_columns(
        _differing(columns, "_prev").alias("_fields")
    )
    return _rows(both, "person_updated", entity_id=pl.col("entity_id"), fields=pl.col("_fields"))

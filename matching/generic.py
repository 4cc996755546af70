"""The generic matching engine: any register deduplicated from its data plus its settings (Splink-style).

The `matching:` block of a dataset.yaml (`engine: rules`) names everything register-specific; this module
names no register. A run goes:

1. **Order.** Records are ranked by a key that does not depend on row positions (`record_key`, else
   `source_id, record_id`; `row_uid` only breaks a tie between two records carrying the same key). Every later
   step works on that rank, so shuffling the input rows changes no output.
2. **Blocking** in DuckDB: per rule, a self-join of the records equal on every column of the rule. A null (or
   blank text) value never blocks. A block larger than the rule's `max_block_size` is skipped, and counted in
   `GenericMatchResult.blocking` (a crowd sharing a key is no evidence, and would explode into pairs). Pairs
   found by several rules are scored once.
3. **Comparisons**, a chunk of pairs at a time: each comparison takes the first level that holds (a null on
   either side takes `null_weight`); exact / numeric / date levels in polars, string similarities by
   rapidfuzz's batch `cpdist`, each level only over the pairs no earlier level took. Values are compared as
   given (no case or accent folding here): point a comparison at a standardized column. The pair's weight is
   the sum of its levels' weights; probability = 2^w / (1 + 2^w).
4. **Clusters.** Links are pairs with weight >= `thresholds.match`, plus stewards' "same" decisions
   (must-links); a steward's "different" (cannot-link) pair never links. Connected components are found in C
   (scipy); a component that holds a cannot-link pair or more than `max_cluster_size` records is rebuilt by a
   union-find over its links, strongest first, that refuses a union joining a cannot-link pair or passing the
   size (must-links go first and may pass the size; a contradicting cannot-link still wins). A cluster's
   confidence is the weakest probability on the links that span it (its maximum spanning tree).
5. **Golden records** by survivorship per field, **the review queue** (review <= w < match, undecided pairs)
   and one **duplicate finding** per record of a cluster with more than one record.

Settings keys (`parse_settings`; anything else is an error naming its key path): engine (rules), id_prefix,
blocking[] {name, on[], max_block_size}, max_block_size (the rules' default), comparisons[] {name, column,
null_weight, levels[] {label, kind, weight, max | min}}, thresholds {match, review}, max_cluster_size,
survivorship {recency, default, fields {column: mode}}, golden_fields[], review_fields[], duplicate_finding
{rule_id, criterion, severity, message_vi, message_en}.
"""

from __future__ import annotations

import math
import os
import re
import tempfile
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import polars as pl
from rapidfuzz import fuzz
from rapidfuzz.distance import JaroWinkler, Levenshtein
from rapidfuzz.process import cpdist
from scipy.sparse import coo_matrix, csgraph

from sachsong.matching.cluster import connected_components
from sachsong.matching.review import DECISION_VALUES, write_review
from sachsong.resources import duckdb_memory_limit
from sachsong.schema import CLUSTER_SCHEMA, CRITERIA, FINDING_SCHEMA, SEVERITIES

# Each level kind and the one parameter it takes (None: no parameter).
LEVEL_KINDS: dict[str, str | None] = {
    "exact": None,
    "levenshtein": "max",  # edit distance <= max (characters)
    "jaro_winkler": "min",  # Jaro-Winkler similarity >= min (0..1)
    "token_set": "min",  # token-set ratio >= min (0..1): word order and repeated words do not count
    "numeric_abs": "max",  # |left - right| <= max
    "date_days": "max",  # |left - right| <= max days
    "else": None,
}
SURVIVORSHIP_MODES: tuple[str, ...] = (
    "most_recent_non_null",
    "most_frequent",
    "first_non_null",
    "max",
    "min",
)
SETTINGS_KEYS: tuple[str, ...] = (
    "engine",
    "id_prefix",
    "blocking",
    "max_block_size",
    "comparisons",
    "thresholds",
    "max_cluster_size",
    "survivorship",
    "golden_fields",
    "review_fields",
    "duplicate_finding",
)
ENGINE = "rules"
DEFAULT_MAX_BLOCK_SIZE = 1000
DEFAULT_MAX_CLUSTER_SIZE = 50
NULL_LABEL = "null"
# The level a pair takes when none of a comparison's levels holds and the comparison has no `else` level.
NO_LEVEL_LABEL = "else"
# Identity and lineage columns every golden record already carries (or that mean nothing merged).
TECHNICAL_COLUMNS = frozenset(
    {"row_uid", "record_id", "source_id", "record_key", "source_file", "source_row", "cluster_id",
     "cluster_size", "records", "confidence"}
)  # fmt: skip
PAIR_CHUNK = 1_000_000
WORKERS = max(1, min(4, os.cpu_count() or 1))
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_ORD = "_ord"  # a record's rank in the row-order-independent order (0..n-1)


# ----------------------------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class Level:
    label: str
    kind: str
    weight: float
    threshold: float | None = None  # the kind's `max` or `min`
    path: str = ""  # where it was declared, for error messages


@dataclass(frozen=True)
class Comparison:
    name: str
    column: str
    levels: tuple[Level, ...]
    null_weight: float = 0.0
    path: str = ""

    @property
    def labels(self) -> list[str]:
        """Level labels by level index: the declared levels, then the null level, then the no-level fallback."""
        return [level.label for level in self.levels] + [NULL_LABEL, NO_LEVEL_LABEL]

    @property
    def weights(self) -> np.ndarray:
        return np.array([level.weight for level in self.levels] + [self.null_weight, 0.0], dtype=np.float64)


@dataclass(frozen=True)
class BlockingRule:
    name: str
    on: tuple[str, ...]
    max_block_size: int = DEFAULT_MAX_BLOCK_SIZE


@dataclass(frozen=True)
class DuplicateFinding:
    rule_id: str = "duplicate_record"
    criterion: str = "clean"
    severity: str = "warning"
    message_vi: str = "Bản ghi trùng với bản ghi khác (cùng một thực thể)"
    message_en: str = "Record is a duplicate of another (same entity)"

    @property
    def message(self) -> str:
        return f"{self.message_vi} / {self.message_en}"


@dataclass(frozen=True)
class MatchSettings:
    blocking: tuple[BlockingRule, ...]
    comparisons: tuple[Comparison, ...]
    match_threshold: float
    review_threshold: float
    max_cluster_size: int = DEFAULT_MAX_CLUSTER_SIZE
    recency: str | None = None
    survivorship: Mapping[str, str] = field(default_factory=dict)  # golden field -> mode, every golden field
    golden_fields: tuple[str, ...] = ()
    review_fields: tuple[str, ...] = ()
    duplicate_finding: DuplicateFinding = DuplicateFinding()
    id_prefix: str | None = None
    # (key path, column) for every column the settings name, to check them against a table.
    column_refs: tuple[tuple[str, str], ...] = ()

    def check_columns(self, columns: Collection[str]) -> None:
        """Raise a ValueError naming the key path of the first column the table lacks."""
        present = set(columns)
        for path, column in self.column_refs:
            if column not in present:
                raise ValueError(f"{path}: column '{column}' is not in the table")


def _fail(path: str, problem: str) -> ValueError:
    return ValueError(f"{path}: {problem}")


def _mapping(value: Any, path: str, allowed: Collection[str]) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise _fail(path, f"expected a mapping, got {type(value).__name__}")
    if True in value and "on" in allowed and "on" not in value:
        # YAML 1.1 (PyYAML) reads an unquoted `on:` key as the Boolean true.
        value = {("on" if k is True else k): v for k, v in value.items()}
    unknown = [str(k) for k in value if k not in allowed]
    if unknown:
        raise _fail(f"{path}.{unknown[0]}", f"unknown key (known: {', '.join(allowed)})")
    return value


def _list(value: Any, path: str, *, empty_ok: bool = False) -> list[Any]:
    if not isinstance(value, list | tuple):
        raise _fail(path, f"expected a list, got {type(value).__name__}")
    if not value and not empty_ok:
        raise _fail(path, "must not be empty")
    return list(value)


def _text(value: Any, path: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _fail(path, "expected a non-empty string")
    return value


def _names(value: Any, path: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    items = _list(value, path, empty_ok=True)
    return tuple(_text(item, f"{path}[{i}]") for i, item in enumerate(items))


def _number(value: Any, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _fail(path, f"expected a finite number, got {type(value).__name__}")
    return float(value)


def _integer(value: Any, path: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise _fail(path, f"expected a whole number >= {minimum}")
    return int(value)


def _level(raw: Any, path: str) -> Level:
    entry = _mapping(raw, path, ("label", "kind", "weight", "max", "min"))
    kind = entry.get("kind")
    if kind not in LEVEL_KINDS:
        raise _fail(f"{path}.kind", f"unknown kind {kind!r} (kinds: {', '.join(LEVEL_KINDS)})")
    label = _text(entry.get("label", kind), f"{path}.label")
    if label in (NULL_LABEL, NO_LEVEL_LABEL) and kind != "else":
        raise _fail(f"{path}.label", f"'{label}' is reserved")
    if "weight" not in entry:
        raise _fail(f"{path}.weight", "missing")
    weight = _number(entry["weight"], f"{path}.weight")
    parameter = LEVEL_KINDS[kind]
    for other in ("max", "min"):
        if other in entry and other != parameter:
            raise _fail(f"{path}.{other}", f"kind {kind} takes {parameter or 'no parameter'}")
    threshold = None
    if parameter is not None:
        if parameter not in entry:
            raise _fail(f"{path}.{parameter}", f"missing (kind {kind} needs it)")
        threshold = _number(entry[parameter], f"{path}.{parameter}")
        if kind in ("levenshtein", "date_days"):
            threshold = float(_integer(entry[parameter], f"{path}.{parameter}", 0))
        elif kind in ("jaro_winkler", "token_set") and not 0.0 <= threshold <= 1.0:
            raise _fail(f"{path}.min", "must be between 0 and 1")
        elif threshold < 0:
            raise _fail(f"{path}.max", "must not be negative")
    return Level(label=label, kind=kind, weight=weight, threshold=threshold, path=path)


def _comparison(raw: Any, path: str) -> Comparison:
    entry = _mapping(raw, path, ("name", "column", "levels", "null_weight"))
    name = _text(entry.get("name"), f"{path}.name")
    if not _NAME.match(name):
        raise _fail(f"{path}.name", "must be letters, digits and underscores (it names output columns)")
    column = _text(entry.get("column", name), f"{path}.column")
    levels = tuple(
        _level(item, f"{path}.levels[{i}]")
        for i, item in enumerate(_list(entry.get("levels"), f"{path}.levels"))
    )
    for i, level in enumerate(levels):
        if level.kind == "else" and i != len(levels) - 1:
            raise _fail(f"{path}.levels[{i}]", "an else level must be the last")
    labels = [level.label for level in levels]
    repeated = sorted({label for label in labels if labels.count(label) > 1})
    if repeated:
        raise _fail(f"{path}.levels", f"label '{repeated[0]}' used twice")
    null_weight = _number(entry.get("null_weight", 0), f"{path}.null_weight")
    return Comparison(name=name, column=column, levels=levels, null_weight=null_weight, path=path)


def parse_settings(raw: Mapping[str, Any], columns: Collection[str] | None = None) -> MatchSettings:
    """The `matching:` block of a dataset.yaml, validated. A ValueError names the key path of the first problem
    (e.g. `matching.comparisons[1].levels[0].weight`). With `columns`, every column the settings name must be
    one of them."""
    root = "matching"
    entry = _mapping(raw, root, SETTINGS_KEYS)
    engine = entry.get("engine", ENGINE)
    if engine != ENGINE:
        raise _fail(f"{root}.engine", f"the generic engine runs engine '{ENGINE}', not {engine!r}")
    id_prefix = entry.get("id_prefix")
    if id_prefix is not None:
        id_prefix = _text(id_prefix, f"{root}.id_prefix")
    refs: list[tuple[str, str]] = []

    default_block = _integer(entry.get("max_block_size", DEFAULT_MAX_BLOCK_SIZE), f"{root}.max_block_size", 2)
    rules = []
    for i, item in enumerate(_list(entry.get("blocking"), f"{root}.blocking")):
        path = f"{root}.blocking[{i}]"
        rule = _mapping(item, path, ("name", "on", "max_block_size"))
        on = _names(rule.get("on"), f"{path}.on")
        if not on:
            raise _fail(f"{path}.on", "must name at least one column")
        refs += [(f"{path}.on[{j}]", c) for j, c in enumerate(on)]
        rules.append(
            BlockingRule(
                name=_text(rule.get("name", "_".join(on)), f"{path}.name"),
                on=on,
                max_block_size=_integer(
                    rule.get("max_block_size", default_block), f"{path}.max_block_size", 2
                ),
            )
        )
    names = [r.name for r in rules]
    if len(set(names)) != len(names):
        raise _fail(f"{root}.blocking", "two rules share a name")

    comparisons = tuple(
        _comparison(item, f"{root}.comparisons[{i}]")
        for i, item in enumerate(_list(entry.get("comparisons"), f"{root}.comparisons"))
    )
    refs += [(f"{c.path}.column", c.column) for c in comparisons]
    names = [c.name for c in comparisons]
    if len(set(names)) != len(names):
        raise _fail(f"{root}.comparisons", "two comparisons share a name")

    thresholds = _mapping(entry.get("thresholds"), f"{root}.thresholds", ("match", "review"))
    if "match" not in thresholds:
        raise _fail(f"{root}.thresholds.match", "missing")
    match = _number(thresholds["match"], f"{root}.thresholds.match")
    review = _number(thresholds.get("review", match), f"{root}.thresholds.review")
    if review > match:
        raise _fail(
            f"{root}.thresholds.review", f"must not be above thresholds.match ({review:g} > {match:g})"
        )
    max_cluster_size = _integer(
        entry.get("max_cluster_size", DEFAULT_MAX_CLUSTER_SIZE), f"{root}.max_cluster_size", 2
    )

    review_fields = _names(entry.get("review_fields", []), f"{root}.review_fields")
    refs += [(f"{root}.review_fields[{i}]", c) for i, c in enumerate(review_fields)]

    path = f"{root}.survivorship"
    survivorship = _mapping(entry.get("survivorship", {}), path, ("recency", "default", "fields"))
    recency = survivorship.get("recency")
    if recency is not None:
        recency = _text(recency, f"{path}.recency")
        refs.append((f"{path}.recency", recency))
    default_mode = survivorship.get("default", "most_recent_non_null" if recency else "first_non_null")
    if default_mode not in SURVIVORSHIP_MODES:
        raise _fail(
            f"{path}.default", f"unknown mode {default_mode!r} (modes: {', '.join(SURVIVORSHIP_MODES)})"
        )
    fields_raw = survivorship.get("fields", {})
    if not isinstance(fields_raw, Mapping):
        raise _fail(f"{path}.fields", "expected a mapping of column: mode")
    modes: dict[str, str] = {}
    for column, mode in fields_raw.items():
        if mode not in SURVIVORSHIP_MODES:
            raise _fail(
                f"{path}.fields.{column}", f"unknown mode {mode!r} (modes: {', '.join(SURVIVORSHIP_MODES)})"
            )
        modes[_text(column, f"{path}.fields")] = mode
        refs.append((f"{path}.fields.{column}", column))

    if "golden_fields" in entry:
        golden = _names(entry["golden_fields"], f"{root}.golden_fields")
        refs += [(f"{root}.golden_fields[{i}]", c) for i, c in enumerate(golden)]
    else:
        golden = (*review_fields, *(c.column for c in comparisons))
    golden = tuple(dict.fromkeys(c for c in (*golden, *modes) if c not in TECHNICAL_COLUMNS))
    survivorship_of = {c: modes.get(c, default_mode) for c in golden}
    for column, mode in survivorship_of.items():
        if mode == "most_recent_non_null" and recency is None:
            where = f"{path}.fields.{column}" if column in modes else f"{path}.default"
            raise _fail(
                where, "most_recent_non_null needs survivorship.recency (the column that orders records)"
            )

    finding = _mapping(
        entry.get("duplicate_finding", {}),
        f"{root}.duplicate_finding",
        ("rule_id", "criterion", "severity", "message_vi", "message_en"),
    )
    defaults = DuplicateFinding()
    duplicate = DuplicateFinding(
        **{
            key: _text(finding.get(key, getattr(defaults, key)), f"{root}.duplicate_finding.{key}")
            for key in ("rule_id", "criterion", "severity", "message_vi", "message_en")
        }
    )
    if duplicate.criterion not in CRITERIA:
        raise _fail(f"{root}.duplicate_finding.criterion", f"must be one of {', '.join(CRITERIA)}")
    if duplicate.severity not in SEVERITIES:
        raise _fail(f"{root}.duplicate_finding.severity", f"must be one of {', '.join(SEVERITIES)}")

    settings = MatchSettings(
        blocking=tuple(rules),
        comparisons=comparisons,
        match_threshold=match,
        review_threshold=review,
        max_cluster_size=max_cluster_size,
        recency=recency,
        survivorship=survivorship_of,
        golden_fields=golden,
        review_fields=review_fields,
        duplicate_finding=duplicate,
        id_prefix=id_prefix,
        column_refs=tuple(refs),
    )
    if columns is not None:
        settings.check_columns(columns)
    return settings


# ------------------------------------------------------------------------------------------------- engine


@dataclass
class GenericMatchResult:
    clusters: pl.DataFrame  # schema.CLUSTER_SCHEMA, one row per input record, in input order
    golden: (
        pl.DataFrame
    )  # one row per cluster with a publishable member: cluster_id, cluster_size, records, fields
    review: pl.DataFrame  # undecided pairs with review <= weight < match, explained by level labels
    findings: pl.DataFrame  # schema.FINDING_SCHEMA: one warning per record of a cluster of more than one
    pairs_scored: int  # candidate pairs scored (after deduplication across blocking rules)
    # Per blocking rule: blocks (of 2+ records kept), records_keyed, pairs, skipped_blocks, skipped_records.
    blocking: pl.DataFrame = field(default_factory=pl.DataFrame)
    pairs: pl.DataFrame | None = None  # every scored pair, only with keep_pairs=True
    links: int = 0  # links offered to clustering (scored links plus must-links)
    links_refused: int = 0  # links the union-find refused (cannot-link or max_cluster_size)
    decisions_applied: int = 0  # steward decisions naming two records of this input

    def write_review(self, path: str | Path) -> Path:
        """The review queue as .xlsx or .csv, with spreadsheet-formula text neutralized (matching.review)."""
        return write_review(self.review, path)

    def describe(self) -> str:
        records = self.clusters.height
        clusters = self.clusters["cluster_id"].n_unique()
        multi = self.clusters.filter(pl.col("cluster_size") > 1)["cluster_id"].n_unique()
        lines = [
            f"{records} records → {clusters} clusters ({multi} with duplicates, "
            f"{records - clusters} duplicate records merged)",
            f"{self.pairs_scored} candidate pairs scored; {self.review.height} pairs for steward review; "
            f"{self.decisions_applied} steward decisions applied; {self.links_refused} links refused",
        ]
        skipped = int(self.blocking["skipped_blocks"].sum()) if self.blocking.height else 0
        if skipped:
            lines.append(f"blocking skipped {skipped} oversize block(s); see .blocking")
        return "\n".join(lines)


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _check_input(records: pl.DataFrame, settings: MatchSettings, publishable: str | None) -> None:
    for column in ("row_uid", "record_id", "source_id"):
        if column not in records.columns:
            raise ValueError(f"records: column '{column}' is missing")
    if not records.schema["row_uid"].is_integer():
        raise ValueError("records.row_uid: expected an integer column")
    if records["row_uid"].null_count() or records["row_uid"].n_unique() != records.height:
        raise ValueError("records.row_uid: must be unique and never null")
    if publishable is not None and records.schema.get(publishable) != pl.Boolean:
        raise ValueError(f"publishable: '{publishable}' must name a Boolean column of records")
    for comparison in settings.comparisons:
        dtype = records.schema[comparison.column]
        for level in comparison.levels:
            if level.kind == "numeric_abs" and not dtype.is_numeric():
                raise ValueError(
                    f"{level.path}.kind: numeric_abs needs a numeric column, '{comparison.column}' is {dtype}"
                )
            if level.kind == "date_days" and dtype not in (pl.Date, pl.Datetime):
                raise ValueError(
                    f"{level.path}.kind: date_days needs a Date or Datetime column, '{comparison.column}' is {dtype}"
                )


def _matched_columns(settings: MatchSettings) -> list[str]:
    return list(
        dict.fromkeys(
            [*(c for r in settings.blocking for c in r.on), *(c.column for c in settings.comparisons)]
        )
    )


def _ordered(records: pl.DataFrame, settings: MatchSettings, publishable: str | None) -> pl.DataFrame:
    """The columns the engine needs, sorted by the record order key, with `_ord` = rank 0..n-1."""
    has_key = "record_key" in records.columns
    technical = ["row_uid", "record_id", "source_id", *(["record_key"] if has_key else [])]
    used = [*_matched_columns(settings), *settings.golden_fields, *settings.review_fields]
    if settings.recency:
        used.append(settings.recency)
    if publishable:
        used.append(publishable)
    columns = list(dict.fromkeys([*technical, *used]))
    return (
        records.select(columns)
        .sort([*(["record_key"] if has_key else []), "source_id", "record_id", "row_uid"], nulls_last=True)
        .with_row_index(_ORD)
        .with_columns(pl.col(_ORD).cast(pl.Int64))
    )


def _blank_as_null(frame: pl.DataFrame, columns: Sequence[str]) -> list[pl.Expr]:
    """Blank text is no value: it neither blocks, nor compares, nor survives into a golden record."""
    return [
        pl.when(pl.col(c).str.strip_chars() != "").then(pl.col(c)).alias(c)
        if frame.schema[c] == pl.String
        else pl.col(c)
        for c in columns
    ]


def _decisions(decisions: pl.DataFrame | None, ordered: pl.DataFrame) -> pl.DataFrame:
    """Steward decisions in rank space: `l < r, decision` (same | different), one row per pair; a pair decided
    both ways counts as different (a cannot-link is the safe reading). Pairs naming unknown records are dropped."""
    empty = pl.DataFrame(schema={"l": pl.Int64, "r": pl.Int64, "decision": pl.String})
    if decisions is None or decisions.height == 0:
        return empty
    if "left_row_uid" not in decisions.columns and "left_uid" in decisions.columns:
        # store.decisions.decisions_to_uids names tonight's positions left_uid / right_uid.
        decisions = decisions.rename({"left_uid": "left_row_uid", "right_uid": "right_row_uid"}, strict=False)
    for column in ("left_row_uid", "right_row_uid", "decision"):
        if column not in decisions.columns:
            raise ValueError(f"decisions: column '{column}' is missing")
    normalized = decisions.select(
        pl.col("left_row_uid", "right_row_uid").cast(pl.Int64),
        pl.col("decision").cast(pl.String).str.strip_chars().str.to_lowercase().alias("raw"),
    ).with_row_index("_row")
    normalized = normalized.filter(pl.col("raw").is_not_null() & (pl.col("raw") != "")).with_columns(
        pl.col("raw").replace_strict(DECISION_VALUES, default=None).alias("decision")
    )
    bad = normalized.filter(pl.col("decision").is_null())
    if bad.height:
        raise ValueError(
            f"decisions row {bad['_row'][0]}: decision must be one of {', '.join(sorted(DECISION_VALUES))}"
        )
    ranks = ordered.select("row_uid", _ORD)
    pairs = (
        normalized.join(ranks.rename({"row_uid": "left_row_uid", _ORD: "a"}), on="left_row_uid")
        .join(ranks.rename({"row_uid": "right_row_uid", _ORD: "b"}), on="right_row_uid")
        .filter(pl.col("a") != pl.col("b"))
        .select(
            pl.min_horizontal("a", "b").alias("l"),
            pl.max_horizontal("a", "b").alias("r"),
            (pl.col("decision") == "different").alias("different"),
        )
    )
    if pairs.height == 0:
        return empty
    return (
        pairs.group_by("l", "r")
        .agg(pl.col("different").any())
        .select(
            "l",
            "r",
            pl.when(pl.col("different"))
            .then(pl.lit("different"))
            .otherwise(pl.lit("same"))
            .alias("decision"),
        )
        .sort("l", "r")
    )


def _block(con: duckdb.DuckDBPyConnection, settings: MatchSettings) -> tuple[str, pl.DataFrame]:
    """Per rule, a self-join of the records equal on every column of the rule; returns the SQL of the candidate
    pairs (`l < r, rule`: the first rule that found the pair) and the per-rule report."""
    report, parts = [], []
    for index, rule in enumerate(settings.blocking):
        columns = ", ".join(_quote(c) for c in rule.on)
        present = " AND ".join(f"{_quote(c)} IS NOT NULL" for c in rule.on)
        limit = int(rule.max_block_size)
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE sizes_{index} AS "
            f"SELECT {columns}, count(*) AS _block_size FROM recs WHERE {present} GROUP BY ALL"
        )
        blocks, keyed, pairs, skipped, skipped_records = con.execute(
            f"SELECT count(*) FILTER (WHERE _block_size BETWEEN 2 AND {limit}), "
            f"coalesce(sum(_block_size) FILTER (WHERE _block_size <= {limit}), 0), "
            f"coalesce(sum(_block_size * (_block_size - 1) // 2) FILTER (WHERE _block_size <= {limit}), 0), "
            f"count(*) FILTER (WHERE _block_size > {limit}), coalesce(sum(_block_size) FILTER (WHERE _block_size > {limit}), 0) "
            f"FROM sizes_{index}"
        ).fetchall()[0]
        report.append(
            {
                "rule": rule.name,
                "blocks": int(blocks),
                "records_keyed": int(keyed),
                "pairs": int(pairs),
                "skipped_blocks": int(skipped),
                "skipped_records": int(skipped_records),
            }
        )
        on = " AND ".join(f"k.{_quote(c)} = s.{_quote(c)}" for c in rule.on)
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE keyed_{index} AS SELECT k.{_ORD}, "
            + ", ".join(f"k.{_quote(c)}" for c in rule.on)
            + f" FROM recs k JOIN (SELECT {columns} FROM sizes_{index} WHERE _block_size BETWEEN 2 AND {limit}) s ON {on}"
        )
        same = " AND ".join(f"a.{_quote(c)} = b.{_quote(c)}" for c in rule.on)
        parts.append(
            f"SELECT a.{_ORD} AS l, b.{_ORD} AS r, {index} AS rule FROM keyed_{index} a "
            f"JOIN keyed_{index} b ON {same} AND a.{_ORD} < b.{_ORD}"
        )
    sql = f"SELECT l, r, min(rule) AS rule FROM ({' UNION ALL '.join(parts)}) GROUP BY l, r"
    return sql, pl.DataFrame(report, schema={
        "rule": pl.String, "blocks": pl.Int64, "records_keyed": pl.Int64, "pairs": pl.Int64,
        "skipped_blocks": pl.Int64, "skipped_records": pl.Int64,
    })  # fmt: skip


def _holds(level: Level, left: pl.Series, right: pl.Series) -> np.ndarray:
    """Whether the level holds for each pair (both sides non-null), vectorized over the pairs."""
    kind, threshold = level.kind, level.threshold
    if kind == "exact":
        return (left == right).fill_null(False).to_numpy()
    if kind == "numeric_abs":
        return (
            ((left.cast(pl.Float64) - right.cast(pl.Float64)).abs() <= threshold).fill_null(False).to_numpy()
        )
    if kind == "date_days":
        days = (left.cast(pl.Date) - right.cast(pl.Date)).dt.total_days().abs()
        return (days <= threshold).fill_null(False).to_numpy()
    a, b = left.cast(pl.String).to_list(), right.cast(pl.String).to_list()
    if kind == "levenshtein":
        limit = int(threshold or 0)
        return cpdist(a, b, scorer=Levenshtein.distance, score_cutoff=limit, workers=WORKERS) <= limit
    if kind == "jaro_winkler":
        return cpdist(a, b, scorer=JaroWinkler.similarity, dtype=np.float64, workers=WORKERS) >= threshold
    if kind == "token_set":
        ratio = cpdist(a, b, scorer=fuzz.token_set_ratio, dtype=np.float64, workers=WORKERS) / 100.0
        return ratio >= threshold
    raise AssertionError(f"unhandled level kind {kind}")  # parse_settings admits only LEVEL_KINDS


def _levels(comparison: Comparison, left: pl.Series, right: pl.Series) -> np.ndarray:
    """Each pair's level index: the first level that holds; a null side takes the null level; a pair no level
    takes (no `else` level declared) takes the fallback level of weight 0. A level is tested only on the pairs
    no earlier level took, so the costly similarities run on what the exact levels left."""
    level = np.full(left.len(), -1, dtype=np.int16)
    null_index = len(comparison.levels)
    level[(left.is_null() | right.is_null()).to_numpy()] = null_index
    for index, spec in enumerate(comparison.levels):
        todo = np.flatnonzero(level == -1)
        if todo.size == 0:
            break
        if spec.kind == "else":
            level[todo] = index
            break
        holds = _holds(spec, left.gather(todo), right.gather(todo))
        level[todo[holds]] = index
    level[level == -1] = null_index + 1
    return level


def _score(chunk: pl.DataFrame, values: pl.DataFrame, settings: MatchSettings) -> pl.DataFrame:
    """`l, r, rule`, one `<comparison>_lv` level index per comparison, and `match_weight`."""
    left_at, right_at = chunk["l"].to_numpy(), chunk["r"].to_numpy()
    total = np.zeros(chunk.height, dtype=np.float64)
    levels = {}
    for comparison in settings.comparisons:
        column = values[comparison.column]
        level = _levels(comparison, column.gather(left_at), column.gather(right_at))
        total += comparison.weights[level]
        levels[f"{comparison.name}_lv"] = level
    return chunk.with_columns(
        *(pl.Series(name, level, dtype=pl.Int16) for name, level in levels.items()),
        pl.Series("match_weight", total, dtype=pl.Float64),
    )


def _probability(weight: pl.Expr) -> pl.Expr:
    return 1.0 / (1.0 + (2.0 ** (-weight)))


def _score_candidates(
    values: pl.DataFrame, settings: MatchSettings, pair_chunk: int, keep_pairs: bool
) -> tuple[pl.DataFrame, pl.DataFrame | None, int, pl.DataFrame]:
    """Blocking plus scoring, a chunk of candidate pairs at a time. Returns the pairs at or above the review
    threshold, every scored pair (keep_pairs), the number scored and the blocking report."""
    spill = tempfile.TemporaryDirectory(prefix="sachsong-generic-")
    con = duckdb.connect(
        config={
            "threads": WORKERS,
            "memory_limit": duckdb_memory_limit(),
            "preserve_insertion_order": False,
            "temp_directory": spill.name,
        }
    )
    try:
        con.register("recs", values.to_arrow())
        sql, report = _block(con, settings)
        kept, everything, scored = [], [], 0
        for batch in con.sql(sql).to_arrow_reader(pair_chunk):
            chunk = pl.DataFrame(pl.from_arrow(batch)).select(
                pl.col("l", "r").cast(pl.Int64), pl.col("rule").cast(pl.Int16)
            )
            if chunk.height == 0:
                continue
            scored += chunk.height
            result = _score(chunk, values, settings)
            if keep_pairs:
                everything.append(result)
            kept.append(result.filter(pl.col("match_weight") >= settings.review_threshold))
    finally:
        con.close()
        spill.cleanup()
    schema = {"l": pl.Int64, "r": pl.Int64, "rule": pl.Int16,
              **{f"{c.name}_lv": pl.Int16 for c in settings.comparisons}, "match_weight": pl.Float64}  # fmt: skip
    strong = pl.concat(kept) if kept else pl.DataFrame(schema=schema)
    every = (pl.concat(everything) if everything else pl.DataFrame(schema=schema)) if keep_pairs else None
    return strong, every, scored, report


def _spanning_confidence(n: int, edges: pl.DataFrame, component: np.ndarray) -> np.ndarray:
    """Per record, the weakest probability on its component's maximum spanning tree (1.0 alone). Every maximum
    spanning tree carries the same weights, so the figure does not depend on which tree scipy returns."""
    confidence = np.ones(n, dtype=np.float64)
    if edges.height == 0:
        return confidence
    # Costs must be positive for scipy (a zero is no edge): the strongest weight costs 1, must-links first.
    cost = edges.select(
        pl.when(pl.col("forced")).then(float("inf")).otherwise(pl.col("match_weight"))
        .rank("dense", descending=True).cast(pl.Float64)
    ).to_series().to_numpy()  # fmt: skip
    left, right = edges["l"].to_numpy(), edges["r"].to_numpy()
    tree = csgraph.minimum_spanning_tree(coo_matrix((cost, (left, right)), shape=(n, n)).tocsr()).tocoo()
    spanning = pl.DataFrame(
        {
            "l": np.minimum(tree.row, tree.col).astype(np.int64),
            "r": np.maximum(tree.row, tree.col).astype(np.int64),
        }
    ).join(edges.select("l", "r", "probability"), on=["l", "r"])
    weakest = np.ones(n, dtype=np.float64)
    np.minimum.at(weakest, component[spanning["l"].to_numpy()], spanning["probability"].to_numpy())
    return weakest[component]


def _union_find(
    edges: pl.DataFrame, cannot: pl.DataFrame, max_size: int
) -> tuple[dict[int, int], dict[int, float], int]:
    """Clusters of the conflicted components: links strongest first (must-links before all), a union refused
    when it would join a cannot-link pair or pass `max_size` (must-links may pass the size). Runs only over the
    links of components holding a cannot-link pair or too many records. Returns root per record, the weakest
    spanning probability per root, and the number of refused links."""
    parent: dict[int, int] = {}
    members: dict[int, set[int]] = {}
    weakest: dict[int, float] = {}
    blocked: dict[int, set[int]] = {}
    for a, b in cannot.select("l", "r").iter_rows():
        blocked.setdefault(a, set()).add(b)
        blocked.setdefault(b, set()).add(a)

    def find(x: int) -> int:
        if x not in parent:
            parent[x], members[x], weakest[x] = x, {x}, 1.0
            blocked.setdefault(x, set())
        root = x
        while parent[root] != root:
            root = parent[root]
        while parent[x] != root:
            parent[x], x = root, parent[x]
        return root

    refused = 0
    ordered = edges.sort(["forced", "match_weight", "l", "r"], descending=[True, True, False, False])
    for a, b, probability, forced in ordered.select("l", "r", "probability", "forced").iter_rows():
        ra, rb = find(a), find(b)
        if ra == rb:
            continue
        if len(members[ra]) < len(members[rb]):
            ra, rb = rb, ra
        if not blocked[ra].isdisjoint(members[rb]) or (
            not forced and len(members[ra]) + len(members[rb]) > max_size
        ):
            refused += 1
            continue
        parent[rb] = ra
        members[ra] |= members.pop(rb)
        blocked[ra] |= blocked.pop(rb)
        weakest[ra] = min(weakest[ra], weakest.pop(rb), probability)
    return {x: find(x) for x in list(parent)}, weakest, refused


def _cluster(
    n: int, links: pl.DataFrame, cannot: pl.DataFrame, max_size: int
) -> tuple[np.ndarray, np.ndarray, int]:
    """Per record rank: its cluster's label (the smallest rank in it) and confidence; and the refused links."""
    nodes = pl.Series("row_uid", np.arange(n, dtype=np.int64))
    component = connected_components(
        nodes, links.select(pl.col("l").alias("left_uid"), pl.col("r").alias("right_uid"))
    )["component"].to_numpy()
    size = np.bincount(component, minlength=n)
    conflicted = np.zeros(n, dtype=bool)
    conflicted[component[size[component] > max_size]] = True
    if cannot.height:
        a, b = cannot["l"].to_numpy(), cannot["r"].to_numpy()
        inside = component[a] == component[b]
        conflicted[component[a[inside]]] = True
    in_conflict = conflicted[component[links["l"].to_numpy()]] if links.height else np.zeros(0, dtype=bool)
    label = component.copy()
    confidence = _spanning_confidence(n, links.filter(~pl.Series(in_conflict)), component)
    refused = 0
    if in_conflict.any():
        roots, weakest, refused = _union_find(links.filter(pl.Series(in_conflict)), cannot, max_size)
        ranks = np.fromiter(roots.keys(), dtype=np.int64, count=len(roots))
        root_of = np.fromiter(roots.values(), dtype=np.int64, count=len(roots))
        # A record of a conflicted component that no kept link reaches is a cluster of its own.
        alone = np.flatnonzero(conflicted[component])
        label[alone] = alone
        confidence[alone] = 1.0
        smallest = np.full(n, np.iinfo(np.int64).max, dtype=np.int64)
        np.minimum.at(smallest, root_of, ranks)
        label[ranks] = smallest[root_of]
        confidence[ranks] = np.array([weakest[r] for r in root_of.tolist()], dtype=np.float64)
    return label, confidence, refused


def _cluster_ids(ordered: pl.DataFrame, label: np.ndarray) -> pl.DataFrame:
    """`_ord, cluster_id, cluster_size` per record. A cluster is named by its smallest member's key ("C" + the
    record_key, else "C" + source_id/record_id); two clusters whose smallest keys are equal (a repeated key)
    take -2, -3… in rank order."""
    if "record_key" in ordered.columns:
        key = pl.coalesce(
            pl.col("record_key").cast(pl.String),
            pl.concat_str(pl.col("source_id").cast(pl.String).fill_null(""), pl.lit("/"),
                          pl.col("record_id").cast(pl.String).fill_null("")),
        )  # fmt: skip
    else:
        key = pl.concat_str(
            pl.col("source_id").cast(pl.String).fill_null(""),
            pl.lit("/"),
            pl.col("record_id").cast(pl.String).fill_null(""),
        )
    keys = ordered.select(pl.col(_ORD), key.alias("key"))
    assigned = pl.DataFrame({_ORD: np.arange(len(label), dtype=np.int64), "label": label.astype(np.int64)})
    named = (
        assigned.select(pl.col("label").unique().sort())
        .join(keys.rename({_ORD: "label"}), on="label", how="left")
        .sort("label")
        .with_columns(pl.col("key").cum_count().over("key").alias("nth"))
        .select(
            "label",
            pl.when(pl.col("nth") > 1)
            .then(pl.format("C{}-{}", "key", "nth"))
            .otherwise(pl.format("C{}", "key"))
            .alias("cluster_id"),
        )
    )
    return (
        assigned.join(named, on="label", how="left")
        .with_columns(pl.len().over("label").cast(pl.Int64).alias("cluster_size"))
        .drop("label")
    )


def _golden(members: pl.DataFrame, settings: MatchSettings) -> pl.DataFrame:
    """One row per cluster of `members` (the publishable ones): cluster_id, cluster_size, records (record ids in
    key order) and each golden field by its survivorship mode. Ties: most_recent_non_null by record_id, then key
    order; most_frequent by the most recent (with a recency column), else by key order; first_non_null is the
    first in key order."""
    fields = list(settings.golden_fields)
    members = members.with_columns(_blank_as_null(members, fields)).sort(_ORD)
    base = members.group_by("cluster_id", maintain_order=True).agg(
        pl.len().cast(pl.Int64).alias("cluster_size"), pl.col("record_id").cast(pl.String).alias("records")
    )
    if settings.recency:
        recent = members.sort(
            [settings.recency, "record_id", _ORD], descending=[True, False, False], nulls_last=True
        )
    else:
        recent = members
    preferred = recent.with_row_index("_pos")
    simple = {"first_non_null": members, "most_recent_non_null": recent}
    golden = base
    for mode, frame in simple.items():
        chosen = [f for f in fields if settings.survivorship[f] == mode]
        if chosen:
            golden = golden.join(
                frame.group_by("cluster_id").agg(pl.col(f).drop_nulls().first() for f in chosen),
                on="cluster_id",
            )
    extremes = [pl.col(f).max() for f in fields if settings.survivorship[f] == "max"]
    extremes += [pl.col(f).min() for f in fields if settings.survivorship[f] == "min"]
    if extremes:
        golden = golden.join(members.group_by("cluster_id").agg(extremes), on="cluster_id")
    for f in (f for f in fields if settings.survivorship[f] == "most_frequent"):
        counted = (
            preferred.filter(pl.col(f).is_not_null())
            .group_by("cluster_id", f)
            .agg(pl.len().alias("_n"), pl.col("_pos").min())
            .sort(["cluster_id", "_n", "_pos"], descending=[False, True, False])
            .group_by("cluster_id", maintain_order=True)
            .first()
            .select("cluster_id", f)
        )
        golden = golden.join(counted, on="cluster_id", how="left")
    return golden.select("cluster_id", "cluster_size", "records", *fields).sort("cluster_id")


def _explained(
    pairs: pl.DataFrame, ordered: pl.DataFrame, settings: MatchSettings, fields: Sequence[str]
) -> pl.DataFrame:
    """Scored pairs (rank space) with row uids, record keys, probability, reason, level labels and the given
    fields side by side."""
    rules = [r.name for r in settings.blocking]
    reason_parts: list[pl.Expr] = [
        pl.col("rule").replace_strict(list(range(len(rules))), rules, return_dtype=pl.String)
    ]
    labels = []
    for c in settings.comparisons:
        index = list(range(len(c.labels)))
        labels.append(
            pl.col(f"{c.name}_lv")
            .replace_strict(index, c.labels, return_dtype=pl.String)
            .alias(f"{c.name}_level")
        )
        texts = [
            f"{c.name}={label}({weight:+g})"
            for label, weight in zip(c.labels, c.weights.tolist(), strict=True)
        ]
        reason_parts.append(pl.col(f"{c.name}_lv").replace_strict(index, texts, return_dtype=pl.String))
    has_key = "record_key" in ordered.columns
    fields = [f for f in fields if f not in ("row_uid", "record_key")]  # already shown
    side = ordered.select(_ORD, "row_uid", *(["record_key"] if has_key else []), *fields)
    left = side.rename({c: f"left_{c}" for c in side.columns if c != _ORD}).rename({_ORD: "l"})
    right = side.rename({c: f"right_{c}" for c in side.columns if c != _ORD}).rename({_ORD: "r"})
    keys = ["left_record_key", "right_record_key"] if has_key else []
    return (
        pairs.join(left, on="l", how="left")
        .join(right, on="r", how="left")
        .sort(["match_weight", "l", "r"], descending=[True, False, False])
        .select(
            "left_row_uid",
            "right_row_uid",
            *keys,
            "match_weight",
            _probability(pl.col("match_weight")).alias("probability"),
            pl.concat_str(
                [reason_parts[0], pl.concat_str(reason_parts[1:], separator=" ")], separator=": "
            ).alias("reason")
            if len(reason_parts) > 1
            else reason_parts[0].alias("reason"),
            *labels,
            *(pl.col(f"{which}_{f}") for f in fields for which in ("left", "right")),
        )
    )


def match_records(
    records: pl.DataFrame,
    settings: MatchSettings | Mapping[str, Any],
    *,
    publishable: str | None = None,
    decisions: pl.DataFrame | None = None,
    keep_pairs: bool = False,
    pair_chunk: int = PAIR_CHUNK,
) -> GenericMatchResult:
    """Deduplicate a standardized register by its matching settings (see the module's docstring).

    records: `row_uid` (unique), `record_id`, `source_id`, the settings' columns, optionally `record_key`.
    publishable: a Boolean column; golden records are built from those members only.
    decisions: `left_row_uid, right_row_uid, decision` (same | different; giống | khác).
    keep_pairs: also return every scored pair with its level labels (`.pairs`), for explanation and tests.
    """
    if not isinstance(settings, MatchSettings):
        settings = parse_settings(settings, records.columns)
    else:
        settings.check_columns(records.columns)
    if pair_chunk < 1:
        raise ValueError(f"pair_chunk: must be at least 1, got {pair_chunk}")
    _check_input(records, settings, publishable)
    ordered = _ordered(records, settings, publishable)
    n = ordered.height
    matched = _matched_columns(settings)
    values = ordered.select(_ORD, *_blank_as_null(ordered, matched))
    decided = _decisions(decisions, ordered)
    strong, every, pairs_scored, blocking = _score_candidates(values, settings, pair_chunk, keep_pairs)

    not_decided = strong.join(decided, on=["l", "r"], how="anti")
    scored_links = not_decided.filter(pl.col("match_weight") >= settings.match_threshold).select(
        "l", "r", "match_weight", pl.lit(False).alias("forced")
    )
    must = decided.filter(pl.col("decision") == "same").select(
        "l", "r", pl.lit(float("inf")).alias("match_weight"), pl.lit(True).alias("forced")
    )
    links = pl.concat([scored_links, must]).with_columns(
        pl.when(pl.col("forced"))
        .then(1.0)
        .otherwise(_probability(pl.col("match_weight")))
        .alias("probability")
    )
    cannot = decided.filter(pl.col("decision") == "different").select("l", "r")
    label, confidence, refused = _cluster(n, links, cannot, settings.max_cluster_size)

    assigned = _cluster_ids(ordered, label).with_columns(
        pl.Series("confidence", confidence, dtype=pl.Float64)
    )
    members = ordered.join(assigned, on=_ORD, how="left")
    clusters = (
        records.select("row_uid")
        .join(members, on="row_uid", how="left", maintain_order="left")
        .select(list(CLUSTER_SCHEMA))
        .cast(CLUSTER_SCHEMA)  # type: ignore[arg-type]
    )
    publishable_members = members.filter(pl.col(publishable).fill_null(False)) if publishable else members
    golden = _golden(publishable_members, settings)

    band = not_decided.filter(pl.col("match_weight") < settings.match_threshold)
    review = _explained(band, ordered, settings, settings.review_fields).with_columns(
        pl.lit(None, dtype=pl.String).alias("decision")
    )
    pairs = _explained(every, ordered, settings, ()) if every is not None else None
    rule = settings.duplicate_finding
    findings = (
        members.filter(pl.col("cluster_size") > 1)
        .sort("row_uid")
        .select(
            pl.col("row_uid").cast(pl.Int64),
            pl.col("record_id").cast(pl.String),
            pl.col("source_id").cast(pl.String),
            pl.lit(rule.rule_id, pl.String).alias("rule_id"),
            pl.lit(rule.criterion, pl.String).alias("criterion"),
            pl.lit(rule.severity, pl.String).alias("severity"),
            pl.lit(rule.message, pl.String).alias("message"),
            pl.lit(None, pl.String).alias("value"),
        )
        .cast(FINDING_SCHEMA)  # type: ignore[arg-type]
    )
    return GenericMatchResult(
        clusters=clusters,
        golden=golden,
        review=review,
        findings=findings,
        pairs_scored=pairs_scored,
        blocking=blocking,
        pairs=pairs,
        links=links.height,
        links_refused=refused,
        decisions_applied=decided.height,
    )

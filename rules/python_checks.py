"""Checks the rule language cannot say, written in Python and registered by name for rule packs.

A pack rule says `python: <name>` instead of `when:`. Two scopes:

* ``row`` checks return a Boolean polars expression or Series over the frame (True = finding), or a pair
  ``(flag, value)`` when the reported value is not a column of the frame. Their flags run in the same single
  `select` as the expression rules, so they must be vectorized too; the value is computed only for the rows
  where the flag fired (an expression is evaluated over the whole frame, then filtered, so windows keep their
  meaning; a Series is filtered by the flag).
* ``dataset`` checks judge the table as a whole and return a frame of findings not tied to one row:
  a ``value`` column (String) and optionally ``source_id``.

Add one with the decorator::

    @register_check("phone_shared_by_many", scope="row")
    def phone_shared_by_many(frame: pl.DataFrame, ctx: CheckContext) -> pl.Expr:
        return pl.len().over("phone_e164") > ctx.params["max_people"]
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from typing import Any, Literal

import polars as pl

Scope = Literal["row", "dataset"]
RowCheckOutput = pl.Expr | pl.Series | tuple[pl.Expr | pl.Series, pl.Expr | pl.Series]


@dataclass(frozen=True)
class CheckContext:
    """What a Python check may use besides the frame: the run's date, the rule's params, optional inputs."""

    as_of: date
    params: Mapping[str, Any] = field(default_factory=dict)
    clusters: pl.DataFrame | None = None
    province_code: str | None = None
    # Tables from other registers' published stores a cross-register check reads ("published_residents"), by
    # the name the check `needs`; absent when that store does not exist (the rule is skipped and said so).
    references: Mapping[str, pl.DataFrame] = field(default_factory=dict)


@dataclass(frozen=True)
class RegisteredCheck:
    name: str
    scope: Scope
    function: Callable[[pl.DataFrame, CheckContext], Any]
    columns: tuple[str, ...]  # the frame columns the check reads (validated when a pack is loaded)
    needs: tuple[str, ...] = ()  # optional inputs ("clusters"); the rule is skipped when one is missing


_REGISTRY: dict[str, RegisteredCheck] = {}


def register_check(
    name: str, *, scope: Scope = "row", columns: tuple[str, ...] = (), needs: tuple[str, ...] = ()
) -> Callable[[Callable], Callable]:
    """Register a Python check under `name` for `python: name` in a rule pack."""
    if scope not in ("row", "dataset"):
        raise ValueError(f"check '{name}': scope must be 'row' or 'dataset', got {scope!r}")

    def decorate(function: Callable) -> Callable:
        if name in _REGISTRY and _REGISTRY[name].function is not function:
            raise ValueError(f"a Python check named '{name}' is already registered")
        _REGISTRY[name] = RegisteredCheck(name, scope, function, tuple(columns), tuple(needs))
        return function

    return decorate


def get_check(name: str) -> RegisteredCheck | None:
    return _REGISTRY.get(name)


def registered_checks() -> dict[str, RegisteredCheck]:
    return dict(_REGISTRY)


# --- reference data: from standardize.reference when it is there, else straight from vietnamadminunits -------


def _vau_sqlite(query: str, parameters: tuple = ()) -> list[tuple]:
    from sachsong.adminunits import query_admin_units

    return query_admin_units(query, parameters)


@cache
def cccd_province_codes() -> frozenset[str]:
    """The 3-digit birth-registration province codes a CCCD may start with (the 63 pre-2025 provinces)."""
    try:
        from sachsong.standardize.identity import CCCD_PROVINCE_CODES  # type: ignore[import-not-found]

        return frozenset(CCCD_PROVINCE_CODES)
    except ImportError:
        rows = _vau_sqlite(
            "SELECT DISTINCT provinceCode FROM admin_units_legacy WHERE provinceCode IS NOT NULL"
        )
        return frozenset(str(code).zfill(3) for (code,) in rows)


def _load_reference():
    try:
        from sachsong.standardize.reference import load_reference
    except ImportError:
        return None
    return load_reference()


@cache
def known_commune_codes() -> frozenset[str]:
    """Every commune code a source may legitimately carry: the 3,321 new ones and the 10,040 old ones."""
    reference = _load_reference()
    if reference is not None:
        new = reference.new_wards.get_column("ward_code").to_list()
        old = reference.legacy_wards.get_column("legacy_ward_code").to_list()
        aliases = reference.new_wards.get_column("alias_code").drop_nulls().to_list()
        return frozenset(str(c) for c in [*new, *old, *aliases] if c is not None)
    rows = _vau_sqlite("SELECT wardCode FROM admin_units UNION SELECT wardCode FROM admin_units_legacy")
    return frozenset(str(code) for (code,) in rows if code is not None)


@cache
def new_ward_codes(province_code: str) -> tuple[str, ...]:
    """The new (post-2025) communes of a new province, sorted."""
    reference = _load_reference()
    if reference is not None:
        wards = reference.new_wards.filter(pl.col("province_code") == province_code)
        return tuple(sorted(wards.get_column("ward_code").to_list()))
    rows = _vau_sqlite("SELECT wardCode FROM admin_units WHERE provinceCode = ?", (province_code.zfill(2),))
    return tuple(sorted(str(code) for (code,) in rows))


# --- the built-in checks ------------------------------------------------------------------------------------


@register_check("cccd_province_unknown", columns=("cccd_province_code",))
def cccd_province_unknown(frame: pl.DataFrame, ctx: CheckContext) -> pl.Expr:
    """The CCCD's first three digits are not a birth-registration province code."""
    codes = pl.lit(pl.Series(sorted(cccd_province_codes()), dtype=pl.String)).implode()
    column = pl.col("cccd_province_code")
    return column.is_not_null() & ~column.is_in(codes)


def _commune_code_as_given(column: str) -> pl.Expr:
    # Sources drop leading zeros when a spreadsheet saw the code as a number: "4" means "00004".
    trimmed = pl.col(column).str.strip_chars()
    return (
        pl.when(trimmed.str.contains(r"^\d{1,5}$"))
        .then(trimmed.str.zfill(5))
        .otherwise(trimmed)
        .alias(column)
    )


@register_check("commune_code_unknown", columns=("commune_code",))
def commune_code_unknown(frame: pl.DataFrame, ctx: CheckContext) -> pl.Expr:
    """The source's commune code is given but is neither a new nor an old commune code."""
    # A province's sources carry a few hundred distinct codes: judge those, then look rows up by value.
    distinct = frame.select(pl.col("commune_code").unique()).filter(pl.col("commune_code").is_not_null())
    codes = pl.lit(pl.Series(sorted(known_commune_codes()), dtype=pl.String)).implode()
    given = _commune_code_as_given("commune_code")
    if "commune_code_std" in frame.columns:  # the standardizer's repair of spreadsheet damage (".0", lost zeros)
        distinct = (
            frame.select("commune_code", "commune_code_std")
            .unique(subset="commune_code")
            .filter(pl.col("commune_code").is_not_null())
        )
        given = pl.coalesce(pl.col("commune_code_std"), given)
    unknown = distinct.filter((given != "") & ~given.is_in(codes)).get_column("commune_code")
    return pl.col("commune_code").is_in(unknown.implode())


def _tokens(column: str) -> tuple[pl.Expr, pl.Expr]:
    tokens = pl.col(column)
    return tokens.list.len().fill_null(0) > 0, tokens.list.join(", ")


@register_check("value_repaired", columns=("repairs",))
def value_repaired(frame: pl.DataFrame, ctx: CheckContext) -> tuple[pl.Expr, pl.Expr]:
    """The standardizer repaired a value with certainty (value: the `field:kind` tokens, never the value)."""
    return _tokens("repairs")


@register_check("value_flagged", columns=("flags",))
def value_flagged(frame: pl.DataFrame, ctx: CheckContext) -> tuple[pl.Expr, pl.Expr]:
    """The standardizer found a value suspicious and left it as it was (value: the `field:kind` tokens)."""
    return _tokens("flags")


@register_check("record_id_repeated_in_source", columns=("source_id", "record_id"))
def record_id_repeated_in_source(frame: pl.DataFrame, ctx: CheckContext) -> pl.Series:
    """The source's own id is not unique inside that source."""
    # Grouping the (source, id) text pairs of every row would hold all that text again. Instead: one 64-bit hash
    # per pair, sorted, finds the few hashes seen twice; only the rows carrying one of those are compared by
    # their text (a hash collision can then never make a false finding).
    pair_hash = frame.select(
        pl.when(pl.col("record_id").is_not_null()).then(pl.struct("source_id", "record_id").hash())
    ).to_series()
    sorted_hashes = pair_hash.drop_nulls().sort()
    repeated_hashes = sorted_hashes.filter(sorted_hashes == sorted_hashes.shift(1)).unique()
    candidates = (
        frame.select("source_id", "record_id")
        .with_row_index("position")
        .filter(pair_hash.is_in(repeated_hashes.implode()).fill_null(False))
    )
    repeated = candidates.filter(pl.len().over("source_id", "record_id") > 1).get_column("position")
    flag = pl.repeat(False, frame.height, dtype=pl.Boolean, eager=True)
    return flag.scatter(repeated, True) if repeated.len() else flag


@register_check("in_duplicate_cluster", columns=("row_uid",), needs=("clusters",))
def in_duplicate_cluster(frame: pl.DataFrame, ctx: CheckContext) -> tuple[pl.Series, pl.Series]:
    """The record belongs to a matching cluster of more than one record (value: the cluster id)."""
    assert ctx.clusters is not None  # the engine skips the rule when no clusters were given
    missing = {"row_uid", "cluster_id", "cluster_size"} - set(ctx.clusters.columns)
    if missing:
        raise ValueError(
            f"clusters frame lacks column(s) {sorted(missing)} (needs row_uid, cluster_id, cluster_size)"
        )
    clusters = ctx.clusters.select(
        pl.col("row_uid").cast(pl.Int64), pl.col("cluster_id").cast(pl.String), pl.col("cluster_size")
    ).unique("row_uid", keep="first")
    joined = frame.select("row_uid").join(clusters, on="row_uid", how="left", maintain_order="left")
    flag = joined.get_column("cluster_size").fill_null(1) > 1
    return flag, joined.get_column("cluster_id")


@register_check("commune_without_records", scope="dataset", columns=("ward_code", "province_code"))
def commune_without_records(frame: pl.DataFrame, ctx: CheckContext) -> pl.DataFrame:
    """Every new commune of the province should hold records; one finding per empty commune (value: its code).

    The province is the run's province, or else the one most records resolve to. `expected_wards` in the
    rule's params overrides the reference list (used by the pack's examples).
    """
    expected = ctx.params.get("expected_wards")
    if expected is None:
        province = ctx.province_code
        if province is None:
            counts = frame.get_column("province_code").drop_nulls().value_counts(sort=True)
            if counts.height == 0:
                return pl.DataFrame(schema={"value": pl.String})
            province = counts.item(0, 0)
        expected = new_ward_codes(str(province))
    present = frame.get_column("ward_code").drop_nulls().unique()
    empty = pl.Series("value", list(expected), dtype=pl.String)
    return empty.filter(~empty.is_in(present.implode())).sort().to_frame()


@register_check("source_not_refreshed", scope="dataset", columns=("source_id", "updated_ts"))
def source_not_refreshed(frame: pl.DataFrame, ctx: CheckContext) -> pl.DataFrame:
    """A source whose newest record is older than its refresh window (value and source_id: the source).

    A source with no readable timestamp at all counts as not refreshed. Timestamps after as_of are left out: one
    record stamped in the future (itself a "sống" error) must not make a source that stopped syncing look fresh.
    """
    window = int(ctx.params.get("source_window_days", 7))
    as_of = pl.lit(ctx.as_of).cast(pl.Datetime("us"))
    cutoff = as_of - pl.duration(days=window)
    not_future = pl.col("updated_ts") < as_of + pl.duration(days=1)
    # A filter inside `agg` gathers every group's rows; masking first keeps it a plain max.
    newest = (
        frame.lazy()
        .select("source_id", pl.when(not_future).then(pl.col("updated_ts")).alias("newest"))
        .group_by("source_id")
        .agg(pl.col("newest").max())
        .collect()
    )
    stale = newest.filter(pl.col("newest").is_null() | (pl.col("newest") < cutoff))
    return stale.select(pl.col("source_id"), pl.col("source_id").alias("value")).sort("source_id")

"""Python checks the household-business rule pack names (`python: <name>`), registered when the folder loads.

- `closed_business_updated` (sống): a business that one register closed is still being updated as active or
  suspended by another, after the closure. Records of one business are found by their tax code.
- `owner_not_in_residents` (đúng, "provide once"): the owner's CCCD is not among the province's published persons.
  Reads `ctx.references["published_residents"]` (a frame with a `cccd` column); the engine skips the rule, with a
  note, when no residents store exists.
"""

from __future__ import annotations

from collections.abc import Callable

import polars as pl

from sachsong.rules.python_checks import CheckContext, get_check, register_check


def _register(name: str, **options: object) -> Callable[[Callable], Callable]:
    """register_check, tolerating this file being imported twice under two module names (the spec loader and a
    test may both load the folder): the same function from the same file is registered once."""

    def decorate(function: Callable) -> Callable:
        existing = get_check(name)
        if existing is not None and existing.function.__code__.co_filename == function.__code__.co_filename:
            return function
        return register_check(name, **options)(function)  # type: ignore[arg-type]

    return decorate


@_register(
    "closed_business_updated",
    columns=("tax_code_std", "tax_code_mst", "owner_id_key", "status_code", "updated_ts"),
)
def closed_business_updated(frame: pl.DataFrame, ctx: CheckContext) -> tuple[pl.Expr, pl.Expr]:
    """Active or suspended, updated after the earliest closure another record of the same business shows.

    Records of one business share their tax code; a record whose tax code is no MST (the owner's personal id
    since 2025, or none) is matched to a closure by its owner's identity instead. An MST record is not: a branch
    location (its own -00N suffix) lives on when the owner's main shop closes. Value: the closure date (not
    personal). A closure and an update within `grace_days` (param, default 1) are the same event written twice.
    """
    grace = pl.duration(days=int(ctx.params.get("grace_days", 1)))
    closed = pl.col("updated_ts").filter(pl.col("status_code") == "closed")
    by_tax = pl.when(pl.col("tax_code_std").is_not_null()).then(closed.min().over("tax_code_std"))
    by_owner = pl.when(pl.col("tax_code_mst").is_null() & pl.col("owner_id_key").is_not_null()).then(
        closed.min().over("owner_id_key")
    )
    closed_at = pl.coalesce(by_tax, by_owner)
    fired = (
        pl.col("status_code").is_in(["active", "suspended"]) & (pl.col("updated_ts") > closed_at + grace)
    ).fill_null(False)
    return fired, closed_at.dt.date().cast(pl.String)


@_register("owner_not_in_residents", columns=("owner_cccd",), needs=("published_residents",))
def owner_not_in_residents(frame: pl.DataFrame, ctx: CheckContext) -> pl.Expr:
    """The owner's CCCD is given and well formed but no published resident of the province holds it."""
    references = getattr(ctx, "references", None) or {}
    residents = references.get("published_residents")
    if residents is None or "cccd" not in residents.columns:
        # Without the residents store the engine skips this rule; called anyway, it judges nothing.
        return pl.lit(False)
    known = residents.get_column("cccd").cast(pl.String).drop_nulls().unique()
    return pl.col("owner_cccd").is_not_null() & ~pl.col("owner_cccd").is_in(known.implode())


@_register("registered_before_owner_born", columns=("owner_cccd", "registered_date"))
def registered_before_owner_born(frame: pl.DataFrame, ctx: CheckContext) -> pl.Expr:
    """The registration year is before the owner's birth year, as the CCCD's century and year digits give it."""
    century_sex = pl.col("owner_cccd").str.slice(3, 1).cast(pl.Int32, strict=False)
    two_digits = pl.col("owner_cccd").str.slice(4, 2).cast(pl.Int32, strict=False)
    born = 1900 + (century_sex // 2) * 100 + two_digits
    return century_sex.is_between(0, 3) & (pl.col("registered_date").dt.year() < born)

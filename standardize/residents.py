"""The residents standardizer: canonical raw table → raw + every column of `schema.STANDARD_COLUMNS`.

Raw values are never changed (only cast to strings by `ensure_raw_columns`); typed, normalized columns are added
beside them. Expensive text work runs once per distinct value and is joined back: a province's registers repeat
the same names, dates and phone numbers across sources, and sex has a handful of spellings.
"""

from __future__ import annotations

from collections.abc import Callable

import polars as pl
from sachsong.standardize.dates import dob_columns, timestamp_column
from sachsong.standardize.identity import identity_columns, sex_code
from sachsong.standardize.names import name_columns
from sachsong.standardize.phones import phone_columns
from sachsong.standardize.text import over_unique, with_expressions

from sachsong.schema import RAW_COLUMNS, STANDARD_COLUMNS, ensure_raw_columns

ADDRESS_COLUMNS: tuple[str, ...] = ("ward_code", "province_code", "address_status", "ward_candidates")

# resolve_addresses(frame, column=..., hint_column=...) -> frame + ADDRESS_COLUMNS (contract in ARCHITECTURE.md)
AddressResolver = Callable[..., pl.DataFrame]


def _default_resolver() -> AddressResolver:
    # Imported here: the address room is built separately and loads its reference data on first use.
    from sachsong.standardize.address import resolve_addresses

    return resolve_addresses


def _resolve_address_columns(frame: pl.DataFrame, resolver: AddressResolver) -> pl.DataFrame:
    """Run the resolver on (row_uid, address, commune_code) and return row_uid + the address columns."""
    narrow = frame.select("row_uid", "address", "commune_code")
    resolved = resolver(narrow, column="address", hint_column="commune_code")
    missing = [c for c in ("row_uid", *ADDRESS_COLUMNS) if c not in resolved.columns]
    if missing:
        raise ValueError(f"address resolver returned no column(s) {missing}; it returned {resolved.columns}")
    if resolved.height != narrow.height:
        raise ValueError(f"address resolver returned {resolved.height} rows for {narrow.height} input rows")
    return resolved.select("row_uid", *ADDRESS_COLUMNS)


def standardize_residents(
    raw: pl.DataFrame, *, address_resolver: AddressResolver | None = None
) -> pl.DataFrame:
    """Raw residents (canonical raw columns, any missing one treated as null; extra columns such as lineage
    kept) → the same rows in the same order plus every `STANDARD_COLUMNS` column with exactly its dtype.

    `row_uid` is the row's position in `raw`. `address_resolver` defaults to
    `sachsong.standardize.address.resolve_addresses`; pass another callable with the same signature to test or
    benchmark without the reference data.
    """
    resolver = address_resolver or _default_resolver()
    # Re-standardizing an already standardized table recomputes its columns rather than clashing with them.
    previous = [c for c in STANDARD_COLUMNS if c in raw.columns and c not in RAW_COLUMNS]
    base = ensure_raw_columns(raw.drop(previous))
    # Canonical raw columns first, then whatever else the input carried (lineage), in its own order.
    raw_order = [*RAW_COLUMNS, *(c for c in base.columns if c not in RAW_COLUMNS)]
    frame = base.with_columns(pl.int_range(pl.len(), dtype=pl.Int64).alias("row_uid"))

    frame = over_unique(frame, "full_name", name_columns)
    frame = over_unique(frame, "date_of_birth", dob_columns)
    frame = over_unique(frame, "sex", with_expressions(lambda column: {"sex_code": sex_code(column)}))
    frame = over_unique(frame, "phone", phone_columns)
    frame = over_unique(frame, "updated_at", timestamp_column)
    # Citizen IDs are nearly unique per person and their parsing is cheap regex work: run it in place.
    frame = identity_columns(frame, "citizen_id")

    addresses = _resolve_address_columns(frame, resolver)
    frame = frame.join(addresses, on="row_uid", how="left", maintain_order="left")

    standard = [pl.col(name).cast(dtype) for name, dtype in STANDARD_COLUMNS.items()]
    return frame.select(*raw_order, *standard)

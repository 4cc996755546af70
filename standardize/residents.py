"""The residents standardizer: canonical raw table → raw + every column of `schema.STANDARD_COLUMNS`.

Raw values are never changed (only cast to strings by `ensure_raw_columns`); typed, normalized columns are added
beside them. Expensive text work runs once per distinct value and is joined back: a province's registers repeat
the same names, dates and phone numbers across sources, and sex has a handful of spellings.
"""

from __future__ import annotations

from collections.abc import Callable

import polars as pl

from sachsong.schema import RAW_COLUMNS, STANDARD_COLUMNS, ensure_raw_columns
from sachsong.standardize.dates import dob_columns, timestamp_columns
from sachsong.standardize.identity import identity_columns, sex_code
from sachsong.standardize.names import HONORIFIC_SEX, name_columns
from sachsong.standardize.phones import commune_code_columns, phone_columns
from sachsong.standardize.text import collect_tokens, over_unique, tokens, with_expressions

ADDRESS_COLUMNS: tuple[str, ...] = ("ward_code", "province_code", "address_status", "ward_candidates")

# resolve_addresses(frame, column=..., hint_column=...) -> frame + ADDRESS_COLUMNS (contract in ARCHITECTURE.md)
AddressResolver = Callable[..., pl.DataFrame]


def _default_resolver() -> AddressResolver:
    # Imported here: the address room is built separately and loads its reference data on first use.
    from sachsong.standardize.address import resolve_addresses

    return resolve_addresses


def _resolve_address_columns(frame: pl.DataFrame, resolver: AddressResolver) -> pl.DataFrame:
    """Run the resolver on (row_uid, address, commune_code) and return row_uid + the address columns."""
    # The repaired code is the better hint ("19123.0" → "19123"); an unreadable one is passed as the source gave it.
    hint = pl.coalesce("commune_code_std", "commune_code").alias("commune_code")
    narrow = frame.select("row_uid", "address", hint)
    resolved = resolver(narrow, column="address", hint_column="commune_code")
    missing = [c for c in ("row_uid", *ADDRESS_COLUMNS) if c not in resolved.columns]
    if missing:
        raise ValueError(f"address resolver returned no column(s) {missing}; it returned {resolved.columns}")
    if resolved.height != narrow.height:
        raise ValueError(f"address resolver returned {resolved.height} rows for {narrow.height} input rows")
    return resolved.select("row_uid", *ADDRESS_COLUMNS)


def _sex_from_honorific(frame: pl.DataFrame) -> pl.DataFrame:
    """Fill a missing `sex_code` from the name's honorific ("Ông" → M, "Bà" → F), recorded as a repair; an
    honorific that contradicts the sex column is flagged, and the sex column wins."""
    hint = pl.col("honorific").replace_strict(HONORIFIC_SEX, default=None, return_dtype=pl.String)
    staged = frame.with_columns(hint.alias("_sex_hint"))
    from_name = pl.col("sex_code").is_null() & pl.col("_sex_hint").is_not_null()
    return staged.with_columns(
        sex_code=pl.coalesce("sex_code", "_sex_hint"),
        _repairs_sex=tokens((from_name, "sex:from_honorific")),
        _flags_sex=tokens((pl.col("_sex_hint") != pl.col("sex_code"), "sex:honorific_mismatch")),
    ).drop("_sex_hint")


def _updated_in_file_order(frame: pl.DataFrame) -> pl.DataFrame:
    """An ambiguous update time ("6/12/2026 9:17:00 AM") is read in its file's date order, decided from the
    dates of birth: month-first files take the month-first reading (`updated_at:month_first_file`); in a file
    with both orders it keeps the day-first reading, flagged `updated_at:order_conflict`. (A two-digit birth
    year was judged against the day-first reading: the order is only known after the dates of birth are read.)"""
    alternative = pl.col("updated_ts_month_first")
    swap = (pl.col("dob_order") == "month_first") & alternative.is_not_null()
    conflict = (pl.col("dob_order") == "mixed") & alternative.is_not_null()
    return frame.with_columns(
        updated_ts=pl.when(swap).then(alternative).otherwise(pl.col("updated_ts")),
        _repairs_updated_at=tokens((swap, "updated_at:month_first_file")),
        _flags_updated_at=tokens((conflict, "updated_at:order_conflict")),
    ).drop("updated_ts_month_first")


def standardize_residents(
    raw: pl.DataFrame, *, address_resolver: AddressResolver | None = None
) -> pl.DataFrame:
    """Raw residents (canonical raw columns, any missing one treated as null; extra columns such as lineage
    kept) → the same rows in the same order plus every `STANDARD_COLUMNS` column with exactly its dtype.

    `row_uid` is the row's position in `raw`. `address_resolver` defaults to
    `sachsong.standardize.address.resolve_addresses`; pass another callable with the same signature to test or
    benchmark without the reference data. It gets `commune_code_std` (the repaired code) as its
    `commune_code` hint when there is one.

    Spreadsheet damage, and what became of it, is recorded per row in two List[String] columns of
    "field:kind" tokens (no value is ever written into them):
    - `repairs`: values changed with certainty into their standard form — `citizen_id:excel_number`
      (".0", a scientific rendering that carries every digit), `citizen_id:apostrophe`, `citizen_id:excel_formula`
      (="…"), `citizen_id:label` ("CCCD: 079…"), `citizen_id:fullwidth`, `citizen_id:invisible_chars`, `citizen_id:leading_zero`; the same kinds for
      `phone:` (its `phone:leading_zero` is a number without its trunk 0) and `commune_code:`; `dob:words`,
      `dob:excel_serial`, `dob:utc_to_local`,
      `dob:two_digit_year`, `dob:month_first` (only that order reads it), `dob:month_first_file` (ambiguous,
      read in its file's month-first order); `name:honorific`, `name:telex`, `name:vni`, `name:given_first`;
      `sex:from_honorific`; `updated_at:month_first_file`.
    - `flags`: values suspicious but NOT changed (the raw value stays the only truth) — `citizen_id:not_digits`
      ("045O80000111"), `citizen_id:length`, `citizen_id:century_digit` (4–9: born after 2099),
      `citizen_id:excel_digits_lost` (scientific notation without every digit: never guessed),
      `phone:excel_digits_lost`, `commune_code:invalid`, `dob:order_conflict` (ambiguous date in a file with
      both orders: left unread), `dob:order_assumed` (ambiguous date, file gives no evidence: read day-first),
      `dob:century_ambiguous`, `dob:order_outlier`, `name:input_method_residue`, `name:honorific_kept`,
      `name:order_uncertain`, `sex:honorific_mismatch`, `updated_at:order_conflict`.
    A row with neither is as the source sent it; the rules decide what quarantines (e.g. `citizen_id_status`
    `invalid`, `dob_status` `unparsable`). Raw columns are never overwritten.
    """
    resolver = address_resolver or _default_resolver()
    # Re-standardizing an already standardized table recomputes its columns rather than clashing with them.
    previous = [c for c in STANDARD_COLUMNS if c in raw.columns and c not in RAW_COLUMNS]
    base = ensure_raw_columns(raw.drop(previous))
    # Canonical raw columns first, then whatever else the input carried (lineage), in its own order.
    raw_order = [*RAW_COLUMNS, *(c for c in base.columns if c not in RAW_COLUMNS)]
    frame = base.with_columns(pl.int_range(pl.len(), dtype=pl.Int64).alias("row_uid"))

    frame = over_unique(frame, "full_name", name_columns)
    frame = over_unique(frame, "updated_at", timestamp_columns)
    # Date order is decided per source file and a two-digit year against the row's update time: not per value.
    file_column = "source_file" if "source_file" in frame.columns else "source_id"
    frame = dob_columns(frame, "date_of_birth", file_column=file_column, reference_column="updated_ts")
    frame = _updated_in_file_order(frame)
    frame = over_unique(frame, "sex", with_expressions(lambda column: {"sex_code": sex_code(column)}))
    frame = _sex_from_honorific(frame)
    frame = over_unique(frame, "phone", phone_columns)
    frame = over_unique(frame, "commune_code", commune_code_columns)
    # Citizen IDs are nearly unique per person, and a lost leading zero is judged against the row's dob and sex.
    frame = identity_columns(frame, "citizen_id", dob_column="dob", sex_column="sex_code")
    frame = collect_tokens(frame)

    addresses = _resolve_address_columns(frame, resolver)
    frame = frame.join(addresses, on="row_uid", how="left", maintain_order="left")

    standard = [pl.col(name).cast(dtype) for name, dtype in STANDARD_COLUMNS.items()]
    return frame.select(*raw_order, *standard)

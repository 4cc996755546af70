"""The pandera contract of the standardized residents table, and containing a row's breach of any dataset's.

The contract is the standardizer's promise (types, formats, allowed values, a unique `row_uid`). Breaking it is
an engineering error, not bad source data: :func:`validate_standardized` raises :class:`ContractError` with
every failure collected, and nothing is quarantined. Bad *source* data is the rule packs' business.

pandera's polars backend only runs data checks on a LazyFrame when asked to; we validate an eager DataFrame
with ``lazy=True`` so every value check runs and every failure is collected in one go.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandera.polars as pa
import polars as pl
from pandera.errors import SchemaError, SchemaErrors

from sachsong.schema import RAW_SCHEMA
from sachsong.spec import DatasetSpec, get_dataset, register_dataset


class ContractError(RuntimeError):
    """The standardized table broke its contract. `.failure_cases` holds every failing value."""

    def __init__(self, dataset: str, failure_cases: pl.DataFrame):
        self.dataset = dataset
        self.failure_cases = failure_cases
        # The failing values stay in `.failure_cases`: the message reaches logs and runs.message, so it names
        # columns, checks and row positions, never a value (a failing value is often an identity number).
        summary = (
            failure_cases.group_by("column", "check", maintain_order=True)
            .agg(pl.len().alias("failures"), *_first_rows(failure_cases))
            .iter_rows(named=True)
        )
        lines = [
            f"  {row['column'] or '<table>'}: {row['check']} failed {row['failures']} time(s)"
            + (f", first at row(s) {row['rows']}" if row.get("rows") else "")
            + (f": {row['schema_cases']}" if row.get("schema_cases") else "")
            for row in summary
        ]
        super().__init__(
            f"standardized {dataset} table breaks its contract (a standardizer bug, not bad source data):\n"
            + "\n".join(lines)
        )


def _first_rows(failure_cases: pl.DataFrame) -> list[pl.Expr]:
    if "index" not in failure_cases.columns:
        return [pl.col("failure_case").head(3).alias("schema_cases")]
    # A failure without a row (a missing column, a wrong dtype) names the schema, not a value: shown.
    return [
        pl.col("index").drop_nulls().head(3).alias("rows"),
        pl.col("failure_case").filter(pl.col("index").is_null()).head(3).alias("schema_cases"),
    ]


def _optional(dtype: pl.DataType, *checks: pa.Check) -> pa.Column:
    return pa.Column(dtype, checks=list(checks), nullable=True)


def _one_of(*values: str) -> pa.Check:
    return pa.Check.isin(list(values))


def _dob_and_precision_agree(data) -> pl.LazyFrame:
    # "first day of the year when only the year is known": a date without a precision (or back) is a bug.
    return data.lazyframe.select(pl.col("dob").is_null() == pl.col("dob_precision").is_null())


def _identity_numbers_agree(data) -> pl.LazyFrame:
    # cccd / cmnd are the citizen_id digits when they have 12 / 9 of them.
    digits = pl.col("citizen_id_digits")
    return data.lazyframe.select(
        (pl.col("cccd").is_null() | (pl.col("cccd") == digits))
        & (pl.col("cmnd").is_null() | (pl.col("cmnd") == digits))
    )


RESIDENTS_CONTRACT = pa.DataFrameSchema(
    {
        **{name: pa.Column(pl.String, nullable=True) for name in RAW_SCHEMA},
        "row_uid": pa.Column(pl.Int64, nullable=False, unique=True),
        "name_norm": _optional(pl.String),
        "name_key": _optional(pl.String, pa.Check.str_matches(r"^[\x00-\x7F]*$")),
        "family_name": _optional(pl.String),
        "middle_name": _optional(pl.String),
        "given_name": _optional(pl.String),
        "dob": _optional(pl.Date),
        "dob_precision": _optional(pl.String, _one_of("day", "year")),
        "dob_status": pa.Column(
            pl.String, _one_of("ok", "missing", "unparsable", "impossible"), nullable=False
        ),
        "sex_code": _optional(pl.String, _one_of("M", "F")),
        "citizen_id_digits": _optional(pl.String, pa.Check.str_matches(r"^\d+$")),
        "cccd": _optional(pl.String, pa.Check.str_matches(r"^\d{12}$")),
        "cmnd": _optional(pl.String, pa.Check.str_matches(r"^\d{9}$")),
        "cccd_province_code": _optional(pl.String, pa.Check.str_matches(r"^\d{3}$")),
        "cccd_sex": _optional(pl.String, _one_of("M", "F")),
        "cccd_birth_year": _optional(pl.Int32, pa.Check.in_range(1900, 2099)),
        "phone_e164": _optional(pl.String, pa.Check.str_matches(r"^\+84\d{9}$")),
        "phone_status": pa.Column(pl.String, _one_of("ok", "missing", "invalid"), nullable=False),
        "ward_code": _optional(pl.String, pa.Check.str_matches(r"^\d{5}$")),
        "province_code": _optional(pl.String, pa.Check.str_matches(r"^\d{2}$")),
        "address_status": pa.Column(
            pl.String, _one_of("exact", "fuzzy", "ambiguous", "unmatched"), nullable=False
        ),
        "ward_candidates": _optional(pl.List(pl.String)),
        "updated_ts": _optional(pl.Datetime("us")),
        "honorific": _optional(pl.String),
        "citizen_id_status": _optional(pl.String, _one_of("ok", "missing", "invalid")),
        "commune_code_std": _optional(pl.String, pa.Check.str_matches(r"^\d{5}$")),
        "dob_order": _optional(pl.String, _one_of("day_first", "month_first", "mixed", "unknown")),
        "repairs": _optional(pl.List(pl.String)),
        "flags": _optional(pl.List(pl.String)),
    },
    checks=[
        pa.Check(_dob_and_precision_agree, name="dob_and_precision_agree"),
        pa.Check(_identity_numbers_agree, name="identity_numbers_agree"),
    ],
    strict=False,  # lineage and later rooms' columns may ride along
    name="residents_standardized",
)


def validate_standardized(frame: pl.DataFrame, dataset: str = "residents") -> pl.DataFrame:
    """Validate a standardized table against its contract; return it unchanged or raise ContractError."""
    spec = get_dataset(dataset)
    if isinstance(frame, pl.LazyFrame):
        raise TypeError("validate a DataFrame, not a LazyFrame: pandera skips data checks on LazyFrames")
    try:
        spec.contract.validate(frame, lazy=True)
    except SchemaErrors as errors:
        raise ContractError(dataset, _failure_frame(errors.failure_cases)) from None
    except SchemaError as error:  # a single, non-collectable failure (e.g. wrong input type)
        cases = pl.DataFrame(
            {"failure_case": [str(error)], "column": [None], "check": [str(error.check or "schema")]},
            schema={"failure_case": pl.String, "column": pl.String, "check": pl.String},
        )
        raise ContractError(dataset, cases) from None
    return frame


def _failure_frame(cases: object) -> pl.DataFrame:
    frame = cases if isinstance(cases, pl.DataFrame) else pl.from_pandas(cases)  # type: ignore[arg-type]
    return frame.with_columns(pl.col(c).cast(pl.String) for c in ("failure_case", "column", "check"))


# --- containing a row's breach -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ContainedTable:
    """A standardized table whose row-level contract breaches were contained.

    `frame` is the input with each breaching value replaced (nulls, or the column's fallback for a required
    column) so that it now meets the contract; `breaches` has one row per (row, column): `row_uid`, `column`,
    `check`. Those rows are quarantined by the engine with a reason per column.
    """

    frame: pl.DataFrame
    breaches: pl.DataFrame


BREACH_SCHEMA: dict[str, pl.DataType] = {"row_uid": pl.Int64(), "column": pl.String(), "check": pl.String()}


def contain_breaches(frame: pl.DataFrame, dataset: str = "residents") -> ContainedTable:
    """Validate; turn each row-level breach into a contained value plus a breach row, instead of an error.

    One unexpected value must cost one row, never the night: a standardizer output outside its contract (an ID
    typo that decodes to year 2180, a word where digits belong) is that row's quarantine reason. What cannot be
    blamed on rows (a missing or mistyped column, duplicate `row_uid`s) is a bug and still raises ContractError,
    as does a table that still fails after containment.
    """
    spec = get_dataset(dataset)
    try:
        validate_standardized(frame, dataset)
    except ContractError as error:
        cases = error.failure_cases
    else:
        return ContainedTable(frame, pl.DataFrame(schema=BREACH_SCHEMA))
    if "index" not in cases.columns:
        raise ContractError(dataset, cases)
    cases = cases.with_columns(pl.col("index").cast(pl.Int64))
    table_level = cases.filter(
        pl.col("index").is_null() | (pl.col("column") == "row_uid") | pl.col("column").is_in(spec.raw_columns)
    )
    if table_level.height:
        raise ContractError(dataset, table_level)
    # A table-wide check (pandera names the schema as its column) is about the column check_columns names.
    rows = cases.with_columns(
        pl.col("check").replace_strict(spec.check_columns, default=pl.col("column"), return_dtype=pl.String)
        .alias("column")
    )
    unknown = rows.filter(~pl.col("column").is_in([*frame.columns, *spec.check_columns.values()]))
    if unknown.height:
        raise ContractError(dataset, unknown)
    breaches = pl.DataFrame(
        {
            "row_uid": frame.get_column("row_uid").gather(rows.get_column("index")),
            "column": rows.get_column("column"),
            "check": rows.get_column("check").cast(pl.String),
        },
        schema=BREACH_SCHEMA,
    ).unique(maintain_order=True)
    repaired = frame
    for column, uids in breaches.group_by("column", maintain_order=True).agg("row_uid").iter_rows():
        hit = pl.col("row_uid").is_in(pl.Series(uids, dtype=pl.Int64).implode())
        targets = [c for c in (column, *spec.dependent_columns.get(column, ())) if c in frame.columns]
        for target in targets:
            fallback = spec.fallbacks.get(target)
            replacement = pl.lit(fallback, dtype=frame.schema[target]) if fallback is not None else None
            repaired = repaired.with_columns(
                pl.when(hit).then(replacement).otherwise(pl.col(target)).alias(target)
                if replacement is not None
                else pl.when(~hit).then(pl.col(target)).alias(target)
            )
    validate_standardized(repaired, dataset)
    return ContainedTable(repaired, breaches.sort("row_uid", "column", maintain_order=True))


# --- datasets ---------------------------------------------------------------------------------------------
# A register's contract, standardizer and containment rules are declared in its dataset folder (sachsong.spec);
# these names stay here for the rooms and tests that import them from the rules room.
__all__ = ["DatasetSpec", "get_dataset", "register_dataset"]

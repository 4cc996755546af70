"""The canonical residents table: the column contract every room agrees on.

Raw columns are strings exactly as the source said them. Standardization adds typed columns beside them and
never overwrites a raw value, so stewards can always see what the source sent.
"""

from __future__ import annotations

import polars as pl

RAW_COLUMNS: tuple[str, ...] = (
    "record_id",
    "source_id",
    "full_name",
    "date_of_birth",
    "sex",
    "citizen_id",
    "phone",
    "address",
    "commune_code",
    "updated_at",
)

# Lineage added by ingest: which file and which data row (1-based, header excluded) a record came from.
LINEAGE_COLUMNS: dict[str, pl.DataType] = {
    "source_file": pl.String(),
    "source_row": pl.Int64(),
}

RAW_SCHEMA: dict[str, pl.DataType] = {c: pl.String() for c in RAW_COLUMNS}

# Columns standardization adds. `row_uid` is the table-wide unique key (record_id is only what a source says and
# may repeat across sources or even inside one).
STANDARD_COLUMNS: dict[str, pl.DataType] = {
    "row_uid": pl.Int64(),
    # names
    "name_norm": pl.String(),  # NFC, single spaces, Vietnamese title case, one tone-placement convention
    "name_key": pl.String(),  # folded ASCII lower case (Đ→d), i/y unified, single spaces
    "family_name": pl.String(),
    "middle_name": pl.String(),
    "given_name": pl.String(),
    # date of birth
    "dob": pl.Date(),  # first day of the year when only the year is known
    "dob_precision": pl.String(),  # day | year | null when missing or unreadable
    "dob_status": pl.String(),  # ok | missing | unparsable | impossible
    # sex
    "sex_code": pl.String(),  # M | F | null
    # identity numbers
    "citizen_id_digits": pl.String(),  # digits of citizen_id, separators removed; null when empty
    "cccd": pl.String(),  # 12-digit citizen identity card number, else null
    "cmnd": pl.String(),  # 9-digit old identity card number, else null
    "cccd_province_code": pl.String(),  # 3-digit birth-registration province code from the CCCD
    "cccd_sex": pl.String(),  # M | F decoded from the century+sex digit
    "cccd_birth_year": pl.Int32(),  # full year decoded from century digit + 2 year digits
    # phone
    "phone_e164": pl.String(),  # +84XXXXXXXXX when valid, else null
    "phone_status": pl.String(),  # ok | missing | invalid
    # address
    "ward_code": pl.String(),  # new (post-2025) commune code, 5 digits
    "province_code": pl.String(),  # new province code, 2 digits
    "address_status": pl.String(),  # exact | fuzzy | ambiguous | unmatched
    "ward_candidates": pl.List(pl.String()),  # candidate new ward codes when ambiguous
    # freshness
    "updated_ts": pl.Datetime("us"),
    # spreadsheet damage and how it was handled (see standardize.residents.standardize_residents)
    "honorific": pl.String(),  # "Ông", "Bà", "Anh", "Chị"… taken off the front of full_name
    "citizen_id_status": pl.String(),  # ok | missing | invalid
    "commune_code_std": pl.String(),  # the source's commune code as 5 digits (".0" and lost zeros repaired)
    "dob_order": pl.String(),  # the source file's date order: day_first | month_first | mixed | unknown
    "repairs": pl.List(pl.String()),  # "field:kind" tokens of values repaired with certainty
    "flags": pl.List(pl.String()),  # "field:kind" tokens of values suspicious but not repaired
}

CRITERIA: tuple[str, ...] = ("correct", "sufficient", "clean", "live")
CRITERIA_VI: dict[str, str] = {"correct": "đúng", "sufficient": "đủ", "clean": "sạch", "live": "sống"}
SEVERITIES: tuple[str, ...] = ("error", "warning")

FINDING_SCHEMA: dict[str, pl.DataType] = {
    "row_uid": pl.Int64(),
    "record_id": pl.String(),
    "source_id": pl.String(),
    "rule_id": pl.String(),
    "criterion": pl.String(),
    "severity": pl.String(),
    "message": pl.String(),
    "value": pl.String(),
}

CLUSTER_SCHEMA: dict[str, pl.DataType] = {
    "row_uid": pl.Int64(),
    "record_id": pl.String(),
    "source_id": pl.String(),
    "cluster_id": pl.String(),
    "cluster_size": pl.Int64(),
    "confidence": pl.Float64(),
}


def empty_raw_table() -> pl.DataFrame:
    """An empty canonical raw table with lineage."""
    return pl.DataFrame(schema={**RAW_SCHEMA, **LINEAGE_COLUMNS})


def ensure_raw_columns(frame: pl.DataFrame) -> pl.DataFrame:
    """Add any missing canonical raw column as null strings and cast the present ones to strings."""
    exprs = []
    for column in RAW_COLUMNS:
        if column in frame.columns:
            exprs.append(pl.col(column).cast(pl.String))
        else:
            exprs.append(pl.lit(None, dtype=pl.String).alias(column))
    return frame.with_columns(exprs)

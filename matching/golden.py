"""Golden records: one row per cluster, built by survivorship rules, with lineage to every member.

Rules (each a sort order inside the cluster; the first non-null value wins):
- identity: a CCCD over a CMND (the golden keeps both columns; `id_number` is the CCCD when any member has one),
  most recent record first;
- name: the fullest name written with diacritics (longest `name_norm` that has any), tie → most recent;
- date of birth: a full date over a year-only one, tie → most recent;
- ward: the most frequent `ward_code` among members, tie → most recent;
- phone: the newest non-null phone; sex: the most frequent, tie → most recent.
"""

from __future__ import annotations

import polars as pl
from sachsong.matching.keys import NON_ASCII

GOLDEN_COLUMNS: tuple[str, ...] = (
    "cluster_id",
    "cluster_size",
    "name_norm",
    "family_name",
    "middle_name",
    "given_name",
    "dob",
    "dob_precision",
    "sex_code",
    "id_number",
    "cccd",
    "cmnd",
    "phone_e164",
    "ward_code",
    "province_code",
    "address",
    "updated_ts",
    "confidence",
    "member_row_uids",
    "member_record_ids",
    "sources",
)


def _first_by(column: str, keys: list[pl.Expr], descending: list[bool]) -> pl.Expr:
    """Within a group: the first non-null value of `column` ordered by `keys`."""
    return (
        pl.col(column)
        .filter(pl.col(column).is_not_null())
        .sort_by([k.filter(pl.col(column).is_not_null()) for k in keys], descending=descending)
        .first()
        .alias(column)
    )


def _most_frequent(column: str) -> pl.Expr:
    """Within a group: the most frequent non-null value, tie → the most recent record's value.

    Needs the helper column `_<column>_freq` (the value's count inside the cluster)."""
    present = pl.col(column).is_not_null()
    return (
        pl.col(column)
        .filter(present)
        .sort_by(
            [pl.col(f"_{column}_freq").filter(present), pl.col("updated_ts").filter(present)],
            descending=[True, True],
            nulls_last=True,
        )
        .first()
        .alias(column)
    )


def build_golden(std: pl.DataFrame, clusters: pl.DataFrame) -> pl.DataFrame:
    """`std` (standardized records) + `clusters` (`row_uid, cluster_id, cluster_size, confidence`) → golden."""
    frame = std.join(clusters.select("row_uid", "cluster_id", "cluster_size", "confidence"), on="row_uid")
    for optional in ("family_name", "middle_name", "given_name", "province_code", "address"):
        if optional not in frame.columns:
            frame = frame.with_columns(pl.lit(None, dtype=pl.String).alias(optional))
    name_len = pl.col("name_norm").str.len_chars()
    has_marks = pl.col("name_norm").str.contains(NON_ASCII)
    frame = frame.with_columns(
        _name_rank=pl.struct(has_marks.alias("m"), name_len.alias("n")),
        _dob_day=(pl.col("dob_precision") == "day"),
        _ward_code_freq=pl.len().over("cluster_id", "ward_code"),
        _sex_code_freq=pl.len().over("cluster_id", "sex_code"),
        _lineage=pl.format("{}:{}", pl.col("source_id"), pl.col("record_id")),
    )
    recent = pl.col("updated_ts")
    # The chosen name record carries its own parts (family/middle/given) so they stay consistent.
    name_order = [has_marks, name_len, recent]
    golden = frame.group_by("cluster_id").agg(
        pl.col("cluster_size").first(),
        pl.col("confidence").min(),
        *(
            pl.col(c).sort_by(name_order, descending=[True, True, True], nulls_last=True).first().alias(c)
            for c in ("name_norm", "family_name", "middle_name", "given_name")
        ),
        pl.col("dob")
        .sort_by(
            [pl.col("dob").is_not_null(), pl.col("_dob_day"), recent],
            descending=[True, True, True],
            nulls_last=True,
        )
        .first()
        .alias("dob"),
        pl.col("dob_precision")
        .sort_by(
            [pl.col("dob").is_not_null(), pl.col("_dob_day"), recent],
            descending=[True, True, True],
            nulls_last=True,
        )
        .first()
        .alias("dob_precision"),
        _first_by("cccd", [recent], [True]),
        _first_by("cmnd", [recent], [True]),
        _first_by("phone_e164", [recent], [True]),
        _most_frequent("ward_code"),
        _most_frequent("sex_code"),
        _first_by("province_code", [recent], [True]),
        _first_by("address", [recent], [True]),
        recent.max().alias("updated_ts"),
        pl.col("row_uid").sort().alias("member_row_uids"),
        pl.col("_lineage").sort_by("row_uid").alias("member_record_ids"),
        pl.col("source_id").unique().sort().alias("sources"),
    )
    golden = golden.with_columns(pl.coalesce("cccd", "cmnd").alias("id_number"))
    return golden.select(GOLDEN_COLUMNS).sort("cluster_id")

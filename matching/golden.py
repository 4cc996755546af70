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


def _pick(
    frame: pl.DataFrame, columns: list[str], order: list[pl.Expr], descending: list[bool]
) -> pl.DataFrame:
    """Per cluster, the `columns` of the first record in `order` (one global sort, then a first per group:
    much cheaper than sorting inside every group when there are hundreds of thousands of clusters)."""
    ranked = frame.sort(["_cluster", *order], descending=[False, *descending], nulls_last=True)
    return ranked.group_by("_cluster", maintain_order=True).agg(pl.col(c).first() for c in columns)


def _first_present(frame: pl.DataFrame, column: str) -> pl.DataFrame:
    """Per cluster, the most recent non-null value of `column`."""
    present = frame.select("_cluster", column, "updated_ts").filter(pl.col(column).is_not_null())
    return _pick(present, [column], ["updated_ts"], [True])


def _most_frequent(frame: pl.DataFrame, column: str) -> pl.DataFrame:
    """Per cluster, the most frequent non-null value of `column`, tie → the most recent record's."""
    present = frame.select("_cluster", column, "updated_ts").filter(pl.col(column).is_not_null())
    present = present.with_columns(pl.len().over("_cluster", column).alias("_freq"))
    return _pick(present, [column], ["_freq", "updated_ts"], [True, True])


def build_golden(std: pl.DataFrame, clusters: pl.DataFrame) -> pl.DataFrame:
    """`std` (standardized records) + `clusters` (`row_uid, cluster_id, cluster_size, confidence`) → golden."""
    wanted = [
        "row_uid",
        "record_id",
        "source_id",
        "name_norm",
        "family_name",
        "middle_name",
        "given_name",
        "dob",
        "dob_precision",
        "sex_code",
        "cccd",
        "cmnd",
        "phone_e164",
        "ward_code",
        "province_code",
        "address",
        "updated_ts",
    ]
    frame = std.select(c for c in wanted if c in std.columns)
    frame = frame.join(clusters.select("row_uid", "cluster_id", "cluster_size", "confidence"), on="row_uid")
    # Sort and group on an integer code of the cluster id (sorting a million id strings is the slow part).
    frame = frame.with_columns(pl.col("cluster_id").rank("dense").cast(pl.Int64).alias("_cluster"))
    for optional in ("family_name", "middle_name", "given_name", "province_code", "address"):
        if optional not in frame.columns:
            frame = frame.with_columns(pl.lit(None, dtype=pl.String).alias(optional))
    frame = frame.with_columns(
        pl.col("name_norm").str.contains(NON_ASCII).fill_null(False).alias("_marks"),
        pl.col("name_norm").str.len_chars().fill_null(0).alias("_length"),
        pl.col("dob").is_not_null().alias("_has_dob"),
        (pl.col("dob_precision") == "day").fill_null(False).alias("_dob_day"),
        pl.format("{}:{}", pl.col("source_id"), pl.col("record_id")).alias("_lineage"),
    )
    recent = pl.col("updated_ts")
    base = frame.group_by("_cluster").agg(
        pl.col("cluster_id").first(),
        pl.col("cluster_size").first(),
        pl.col("confidence").min(),
        recent.max().alias("updated_ts"),
        pl.col("row_uid").sort().alias("member_row_uids"),
        pl.col("_lineage").sort_by("row_uid").alias("member_record_ids"),
        pl.col("source_id").unique().sort().alias("sources"),
    )
    # The chosen name record carries its own parts (family/middle/given) so they stay consistent.
    name = _pick(
        frame,
        ["name_norm", "family_name", "middle_name", "given_name"],
        ["_marks", "_length", "updated_ts"],
        [True, True, True],
    )
    dob = _pick(
        frame, ["dob", "dob_precision"], [pl.col("_has_dob"), pl.col("_dob_day"), recent], [True, True, True]
    )
    parts = [name, dob]
    parts += [_first_present(frame, c) for c in ("cccd", "cmnd", "phone_e164", "province_code", "address")]
    parts += [_most_frequent(frame, c) for c in ("ward_code", "sex_code")]
    golden = base
    for part in parts:
        golden = golden.join(part, on="_cluster", how="left")
    golden = golden.with_columns(pl.coalesce("cccd", "cmnd").alias("id_number"))
    return golden.sort("_cluster").select(GOLDEN_COLUMNS)

"""Golden records: one row per cluster, built by survivorship rules, with lineage to every member.

Rules (each a preference order inside the cluster; the first non-null value wins):
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
from sachsong.tableio import sort_column_by_column

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


# Bits of a packed survivorship key: flags and counts above the record's update time in seconds (40 bits reach
# the year 36812), so one integer arg_max per cluster replaces a sort per rule.
_TS_BITS = 40


def _newest(flags: list[tuple[pl.Expr, int]]) -> pl.Expr:
    """A packed Int64 key: each (expr, bits) flag or count in order of priority above the update time."""
    seconds = pl.col("updated_ts").dt.epoch("s").fill_null(0).clip(0, (1 << _TS_BITS) - 1).cast(pl.Int64)
    key, shift = seconds, _TS_BITS
    for expr, bits in reversed(flags):
        key = key + expr.cast(pl.Int64).clip(0, (1 << bits) - 1) * (1 << shift)
        shift += bits
    assert shift < 63, "survivorship key overflows an Int64"
    return key


def build_golden(std: pl.DataFrame, clusters: pl.DataFrame) -> pl.DataFrame:
    """`std` (standardized records) + `clusters` (`row_uid, cluster_id, cluster_size, confidence`) → golden.

    A record alone in its cluster is its own golden record (a select, no grouping); the clusters with several
    members are reduced in one group-by where each rule picks its survivor by the arg_max of a packed integer
    key (the rule's preferences, then the most recent update; ties → the first record in input order).
    """
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
    # Lazy: the joined member table and its single/multi halves are never materialized whole (at a million
    # records they were the largest transient holders of the matching step).
    frame = std.lazy().select(c for c in wanted if c in std.columns)
    for optional in ("family_name", "middle_name", "given_name", "province_code", "address"):
        if optional not in std.columns:
            frame = frame.with_columns(pl.lit(None, dtype=pl.String).alias(optional))
    frame = frame.join(
        clusters.lazy().select("row_uid", "cluster_id", "cluster_size", "confidence"),
        on="row_uid",
        maintain_order="left",
    )
    lineage = pl.format("{}:{}", pl.col("source_id"), pl.col("record_id"))
    single = frame.filter(pl.col("cluster_size") == 1)
    alone = single.select(
        "cluster_id",
        "cluster_size",
        *(c for c in wanted[3:] if c != "updated_ts"),
        "updated_ts",
        "confidence",
        pl.concat_list("row_uid").alias("member_row_uids"),
        pl.concat_list(lineage).alias("member_record_ids"),
        pl.concat_list("source_id").alias("sources"),
    )
    multi = frame.filter(pl.col("cluster_size") > 1)
    present = lambda c: pl.col(c).is_not_null()  # noqa: E731
    freq = lambda c: pl.when(present(c)).then(pl.len().over("cluster_id", c)).otherwise(0)  # noqa: E731
    keys = {
        # The fullest name written with diacritics; the chosen record carries its own parts so they agree.
        "_name": _newest(
            [
                (present("name_norm"), 1),
                (pl.col("name_norm").str.contains(NON_ASCII).fill_null(False), 1),
                (pl.col("name_norm").str.len_chars().fill_null(0), 8),
            ]
        ),
        "_dob": _newest([(present("dob"), 1), ((pl.col("dob_precision") == "day").fill_null(False), 1)]),
        **{
            f"_{c}": _newest([(present(c), 1)])
            for c in ("cccd", "cmnd", "phone_e164", "province_code", "address")
        },
        **{f"_{c}": _newest([(freq(c), 16)]) for c in ("ward_code", "sex_code")},
    }
    chosen = {
        "_name": ["name_norm", "family_name", "middle_name", "given_name"],
        "_dob": ["dob", "dob_precision"],
        **{
            f"_{c}": [c]
            for c in ("cccd", "cmnd", "phone_e164", "province_code", "address", "ward_code", "sex_code")
        },
    }
    ranked = multi.with_columns(lineage.alias("_lineage"), **keys)
    merged = ranked.group_by("cluster_id").agg(
        pl.col("cluster_size").first(),
        *(pl.col(c).get(pl.col(key).arg_max()) for key, columns in chosen.items() for c in columns),
        pl.col("updated_ts").max(),
        pl.col("confidence").min(),
        pl.col("row_uid").sort().alias("member_row_uids"),
        pl.col("_lineage").sort_by("row_uid").alias("member_record_ids"),
        pl.col("source_id").unique().sort().alias("sources"),
    )
    golden = pl.concat([alone, merged.select(alone.collect_schema().names())], how="vertical_relaxed")
    golden = golden.with_columns(pl.coalesce("cccd", "cmnd").alias("id_number"))
    # Sorted a column at a time: a whole-frame sort held the golden table twice (the matching step's peak).
    return sort_column_by_column(golden.select(GOLDEN_COLUMNS).collect(), ["cluster_id"])

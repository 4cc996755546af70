"""Blocking in DuckDB: several small keys instead of one big one, with a guard on block sizes.

Vietnamese family names are concentrated (Nguyễn ≈ 38%), so no key may be "family + given" alone. Each rule is
data (a name, the feature columns joined into the key, and a refinement column). Before any pair is generated the
guard counts the records per key; a block over `max_block_size` is split by the refinement column, and a block
still too big is dropped and reported (never silently exploded into millions of pairs).
"""

from __future__ import annotations

import logging
import os
import tempfile
from dataclasses import dataclass

import duckdb
import polars as pl

from sachsong.resources import duckdb_memory_limit
from sachsong.tableio import sort_column_by_column, stack_single_chunk

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BlockingRule:
    name: str
    columns: tuple[str, ...]
    refine: str | None = None  # appended to the key of oversize blocks
    # A rule's own, smaller block limit: a key so weak that a crowd sharing it is no evidence (the crowd's
    # blocks are dropped and reported like the guard's, logged at info level: expected, not a warning).
    max_block_size: int | None = None


# Every key stays small as the province grows: a key that only names a family name (Nguyễn ≈ 38%) plus one
# coarse field grows with the population, so each such key also carries the ward or a second name part.
DEFAULT_RULES: tuple[BlockingRule, ...] = (
    BlockingRule("cccd", ("cccd",)),
    BlockingRule("cmnd", ("cmnd",)),
    BlockingRule("phone", ("phone_e164",), refine="birth_year"),
    # Robust to any date error or missing date. Its own limit of 30: in a city ward of tens of thousands a common
    # full name is a crowd (this key alone made half of a big city's candidate pairs); a crowd is split by birth
    # year.
    BlockingRule("name_ward", ("name_key", "ward_code"), refine="birth_year", max_block_size=30),
    # Robust to a dropped middle name, swapped day/month and a year-only date.
    BlockingRule("family_given_year_ward", ("fam_key", "giv_key", "birth_year", "ward_code")),
    # Robust to a typo in the family or middle name, and to a move.
    BlockingRule("given_dob", ("giv_key", "dob_day"), refine="ward_code", max_block_size=30),
    # Robust to a typo in the given name, and to a move.
    BlockingRule(
        "family_middle_dob", ("fam_key", "mid_key", "dob_day"), refine="ward_code", max_block_size=30
    ),
    # Robust to a name garbled beyond the other keys. Carries the sex: at 1.02M synthetic records that keeps the
    # same F1 (0.9863) with 6% fewer candidate pairs; dropping the rule cost 0.0007 recall for 11% fewer pairs.
    BlockingRule("ward_dob", ("ward_code", "dob_day", "sex_code"), refine="fam_key"),
    # Robust to a typo in the family or middle name plus a date error: one household's address holds one person
    # of a given name (parents do not give two living children the same name).
    # More than ten records of one given name at one address detail is a hamlet or a street written without a
    # house number, not a household: such a block is split by birth year. On the generated 1.42M-record province
    # the unguarded key made 6.9M of the 12.6M candidate pairs (blocks of up to 178 records).
    BlockingRule(
        "address_given", ("ward_code", "addr_key", "giv_key"), refine="birth_year", max_block_size=10
    ),
    # Robust to a move (or a lost ward) plus a date error that keeps the year: the full name and the birth year,
    # but only where few records share them; in a crowd of namesakes born that year the pair has too little
    # evidence to link anyway. Without the cap this key added 37% more pairs at 1.02M records for the same F1.
    BlockingRule("name_year", ("name_key", "birth_year"), max_block_size=5),
)

DEFAULT_MAX_BLOCK_SIZE = 1000
STEWARD = "steward"  # `blocked_by` of a pair only a steward's decision brought in
# DuckDB may take a quarter of the machine (see sachsong.resources).
DUCKDB_MEMORY = duckdb_memory_limit()
DUCKDB_THREADS = max(1, min(4, os.cpu_count() or 1))


def _columns_used(rules: tuple[BlockingRule, ...]) -> list[str]:
    used: dict[str, None] = {}
    for rule in rules:
        used.update(dict.fromkeys(rule.columns))
        if rule.refine:
            used[rule.refine] = None
    used.pop("row_uid", None)
    return list(used)


def _key_sql(columns: tuple[str, ...]) -> tuple[str, str]:
    """The key expression and the 'all parts present' condition.

    The key is a 64-bit hash of the parts: 8 bytes per record instead of a concatenated string, and a collision
    (about one in 10^10 key pairs at a million records) only adds a candidate pair that scoring then rejects.
    """
    parts = ", ".join(columns)
    present = " AND ".join(f"{c} IS NOT NULL" for c in columns)
    return f"hash({parts})", present


def generate_candidate_pairs(
    features: pl.DataFrame,
    rules: tuple[BlockingRule, ...] = DEFAULT_RULES,
    max_block_size: int = DEFAULT_MAX_BLOCK_SIZE,
    connection: duckdb.DuckDBPyConnection | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Candidate pairs (`left_uid < right_uid`, `blocked_by`) and a per-rule report of the guard's work.

    The report has one row per rule: blocks, records_keyed, pairs, oversize_blocks, refined_blocks,
    dropped_blocks, dropped_records.
    """
    # Row order inside DuckDB does not matter (the pairs are sorted below): not keeping it lets big groupings
    # spill to disk instead of failing.
    # Spill files go to a folder of their own, removed at the end (DuckDB's default is `.tmp` in the cwd).
    spill = tempfile.TemporaryDirectory(prefix="sachsong-blocking-") if connection is None else None
    con = connection or duckdb.connect(
        config={
            "threads": DUCKDB_THREADS,
            "memory_limit": DUCKDB_MEMORY,
            "preserve_insertion_order": False,
            "temp_directory": spill.name if spill else "",
        }
    )
    con.register("features", features.select("row_uid", *_columns_used(rules)).to_arrow())
    report_rows = []
    pair_tables = []
    guard_limit = max_block_size
    for index, rule in enumerate(rules):
        max_block_size = min(guard_limit, rule.max_block_size or guard_limit)
        key, present = _key_sql(rule.columns)
        table = f"keys_{rule.name}"
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {table} AS "
            f"SELECT row_uid, {key} AS bkey FROM features WHERE {present}"
        )
        oversize_blocks = refined_blocks = dropped_blocks = dropped_records = 0
        # The guard: count per key before any join.
        oversize = con.execute(
            f"SELECT count(*), coalesce(sum(n), 0) FROM (SELECT bkey, count(*) AS n FROM {table} "
            f"GROUP BY bkey HAVING count(*) > {int(max_block_size)})"
        ).fetchall()[0]
        oversize_blocks = int(oversize[0])
        if oversize_blocks and rule.refine:
            # Split oversize blocks by the refinement column; rows without it cannot be placed and leave.
            con.execute(
                f"CREATE OR REPLACE TEMP TABLE {table} AS "
                f"WITH big AS (SELECT bkey FROM {table} GROUP BY bkey HAVING count(*) > {int(max_block_size)}) "
                f"SELECT k.row_uid, CASE WHEN big.bkey IS NULL THEN k.bkey "
                f"ELSE hash(k.bkey, f.{rule.refine}) END AS bkey "
                f"FROM {table} k LEFT JOIN big USING (bkey) JOIN features f USING (row_uid) "
                f"WHERE big.bkey IS NULL OR f.{rule.refine} IS NOT NULL"
            )
            refined_blocks = oversize_blocks
        still = con.execute(
            f"SELECT count(*), coalesce(sum(n), 0) FROM (SELECT bkey, count(*) AS n FROM {table} "
            f"GROUP BY bkey HAVING count(*) > {int(max_block_size)})"
        ).fetchall()[0]
        if still[0]:
            dropped_blocks, dropped_records = int(still[0]), int(still[1])
            log.log(
                logging.INFO if rule.max_block_size else logging.WARNING,
                "blocking rule %s: %d block(s) over %d records dropped (%d records)",
                rule.name,
                dropped_blocks,
                max_block_size,
                dropped_records,
            )
            con.execute(
                f"DELETE FROM {table} WHERE bkey IN (SELECT bkey FROM {table} GROUP BY bkey "
                f"HAVING count(*) > {int(max_block_size)})"
            )
        stats = con.execute(
            f"SELECT count(*), coalesce(sum(n), 0), coalesce(sum(n * (n - 1) // 2), 0) "
            f"FROM (SELECT bkey, count(*) AS n FROM {table} GROUP BY bkey)"
        ).fetchall()[0]
        report_rows.append(
            {
                "rule": rule.name,
                "blocks": int(stats[0]),
                "records_keyed": int(stats[1]),
                "pairs": int(stats[2]),
                "oversize_blocks": oversize_blocks,
                "refined_blocks": refined_blocks,
                "dropped_blocks": dropped_blocks,
                "dropped_records": dropped_records,
            }
        )
        pair_tables.append(
            f"SELECT a.row_uid AS left_uid, b.row_uid AS right_uid, {index} AS rule "
            f"FROM {table} a JOIN {table} b ON a.bkey = b.bkey AND a.row_uid < b.row_uid"
        )
    union = " UNION ALL ".join(pair_tables)
    # Which rules found a pair, as a bit mask (cheap to aggregate over millions of pairs); `blocked_by` names
    # the first rule in order that found it.
    # Streamed out in batches: DuckDB's grouping spills past its memory limit, but collecting the whole result
    # inside DuckDB (`.pl()`) does not, and a big city's candidate pairs alone outgrow the limit.
    reader = con.sql(
        f"SELECT left_uid, right_uid, min(rule) AS first_rule, bit_or(1 << rule) AS blocking_rules "
        f"FROM ({union}) GROUP BY left_uid, right_uid"
    ).to_arrow_reader(1 << 20)
    names = [rule.name for rule in rules]
    blocked_by = pl.Enum([*names, STEWARD])
    # Each batch is cut to its final types as it arrives, then the batches are stacked and sorted a column at a
    # time: a big city's pairs are the largest table of the night, and whole-frame copies of them set the
    # matching peak.
    pieces = [
        pl.DataFrame(pl.from_arrow(batch)).select(
            pl.col("left_uid", "right_uid").cast(pl.Int64),
            pl.col("first_rule")
            .replace_strict(list(range(len(names))), names, return_dtype=blocked_by)
            .alias("blocked_by"),
            pl.col("blocking_rules").cast(pl.Int64),
        )
        for batch in reader
    ]
    del reader
    for rule in rules:
        con.execute(f"DROP TABLE IF EXISTS keys_{rule.name}")
    con.unregister("features")
    if connection is None:
        con.close()
    if spill is not None:
        spill.cleanup()
    report = pl.DataFrame(report_rows, schema_overrides={"rule": pl.String})
    if not pieces:
        empty = {
            "left_uid": pl.Int64,
            "right_uid": pl.Int64,
            "blocked_by": blocked_by,
            "blocking_rules": pl.Int64,
        }
        return pl.DataFrame(schema=empty), report
    return sort_column_by_column(stack_single_chunk(pieces), ["left_uid", "right_uid"]), report


def rule_names(mask: int, rules: tuple[BlockingRule, ...] = DEFAULT_RULES) -> list[str]:
    """The names of the rules recorded in a pair's `blocking_rules` bit mask."""
    return [rule.name for i, rule in enumerate(rules) if mask >> i & 1]

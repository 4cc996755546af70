"""Cross-province linkage in DuckDB over the provinces' golden records (one row per person per province).

Two tiers:
- `cccd` (exact): the same valid 12-digit CCCD on a person of two provinces. A CCCD is issued once, so this is
  the same citizen registered in both; where the two records disagree on date of birth or sex the pair is still
  linked and also listed as a conflict for stewards (one of the two registers holds a wrong value).
- `cmnd_dob_name` (flagged, for review): the same 9-digit CMND, the same full date of birth and the same folded
  name, on persons not already linked by CCCD and not carrying two different valid CCCDs.

A person is named by its province code and its golden `cluster_id`; the link table never holds a CCCD, CMND,
name, date or phone. The rows never pass through Python: DuckDB reads the Parquet files and writes the tables.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl

from sachsong.standardize.identity import CCCD_PROVINCE_CODES

TIER_CCCD = "cccd"
TIER_CMND = "cmnd_dob_name"

LINK_SCHEMA: dict[str, pl.DataType] = {
    "tier": pl.String(),
    "province_a": pl.String(),
    "person_a": pl.String(),
    "province_b": pl.String(),
    "person_b": pl.String(),
    "flagged": pl.Boolean(),  # the second tier, or a CCCD link whose records disagree: a steward should look
    "dob_conflict": pl.Boolean(),
    "sex_conflict": pl.Boolean(),
}
CONFLICT_COLUMNS = ("province_a", "person_a", "province_b", "person_b", "dob_conflict", "sex_conflict")

# Folded name key, the same on both sides: NFC text (the standardizer's name_norm), Đ→D (strip_accents keeps
# it), accents stripped, lower case, single spaces.
_NAME_KEY = (
    "nullif(trim(regexp_replace(lower(strip_accents(replace(replace(replace(name_norm, 'Đ', 'D'), 'đ', 'd'), "
    "'Ð', 'D'))), '\\s+', ' ', 'g')), '')"
)


@dataclass(frozen=True)
class LinkResult:
    links: pl.DataFrame  # LINK_SCHEMA
    counts: pl.DataFrame  # province_a, province_b, tier, links, conflicts
    suspect_ids: int = 0  # valid CCCDs on more than MAX_HOLDERS persons: not linked

    @property
    def conflicts(self) -> pl.DataFrame:
        """Same CCCD, different date of birth or sex (the exact tier only: a second-tier pair never disagrees)."""
        return self.links.filter(
            (pl.col("tier") == TIER_CCCD) & (pl.col("dob_conflict") | pl.col("sex_conflict"))
        ).select(CONFLICT_COLUMNS)

    def total(self, tier: str) -> int:
        return int(self.links.filter(pl.col("tier") == tier).height)


def _golden_view(connection: duckdb.DuckDBPyConnection, golden: dict[str, Path]) -> None:
    """`persons`: one row per golden record of every province, only the linkage columns."""
    parts = []
    for code, path in sorted(golden.items()):
        if not (len(code) == 2 and code.isdigit()):  # it is written into the SQL as a literal
            raise ValueError(f"{path}: province code {code!r} is not two digits")
        columns = {
            row[0] for row in connection.execute("SELECT name FROM parquet_schema(?)", [str(path)]).fetchall()
        }

        def col(name: str, cast: str = "VARCHAR", present: set[str] = columns) -> str:
            return f"CAST({name} AS {cast})" if name in present else f"CAST(NULL AS {cast})"

        # Only the second tier reads the name key, and only on persons with a CMND: fold just those names.
        name_key = (
            f"CASE WHEN regexp_full_match({col('cmnd')}, '[0-9]{{9}}') THEN {_NAME_KEY} END"
            if "name_norm" in columns
            else "CAST(NULL AS VARCHAR)"
        )
        literal = "'" + str(path).replace("'", "''") + "'"
        parts.append(
            f"SELECT '{code}' AS province, {col('cluster_id')} AS person, {col('cccd')} AS cccd, "
            f"{col('cmnd')} AS cmnd, {col('dob', 'DATE')} AS dob, {col('dob_precision')} AS dob_precision, "
            f"{col('sex_code')} AS sex, {name_key} AS name_key FROM read_parquet({literal})"
        )
    if not parts:
        parts.append(
            "SELECT NULL::VARCHAR AS province, NULL::VARCHAR AS person, NULL::VARCHAR AS cccd, "
            "NULL::VARCHAR AS cmnd, NULL::DATE AS dob, NULL::VARCHAR AS dob_precision, NULL::VARCHAR AS sex, "
            "NULL::VARCHAR AS name_key WHERE false"
        )
    connection.execute(
        f"CREATE TEMP TABLE persons AS SELECT *, coalesce({_VALID_CCCD}, false) AS cccd_ok "
        f"FROM ({' UNION ALL '.join(parts)})"
    )


# A CCCD held by more golden persons than this, nationally, is a placeholder or a typing accident, not one citizen
# registered in several provinces: it links nobody (counted as `suspect_ids`).
MAX_HOLDERS = 4

# Valid: 12 digits, a birth-registration province code that exists, a century digit 0–3 (born 1900–2099).
_VALID_CCCD = (
    "regexp_full_match(cccd, '[0-9]{12}') AND substr(cccd, 4, 1) IN ('0', '1', '2', '3') "
    "AND substr(cccd, 1, 3) IN (SELECT code FROM cccd_provinces)"
)

_LINK_SQL = f"""
WITH ids AS (
    SELECT province, person, cccd, dob, dob_precision, sex FROM persons
    SEMI JOIN shared_ids USING (cccd) WHERE cccd_ok
),
exact AS (
    SELECT '{TIER_CCCD}' AS tier, a.province AS province_a, a.person AS person_a,
           b.province AS province_b, b.person AS person_b,
           -- Only a disagreement both records can show counts: a year-only date agrees with any day of its year.
           coalesce(CASE WHEN a.dob_precision = 'day' AND b.dob_precision = 'day' THEN a.dob <> b.dob
                         ELSE year(a.dob) <> year(b.dob) END, false) AS dob_conflict,
           coalesce(a.sex <> b.sex, false) AS sex_conflict
    FROM ids a JOIN ids b ON a.cccd = b.cccd AND a.province < b.province
),
second AS (
    SELECT '{TIER_CMND}' AS tier, a.province AS province_a, a.person AS person_a,
           b.province AS province_b, b.person AS person_b, false AS dob_conflict, false AS sex_conflict
    FROM cmnd_holders a JOIN cmnd_holders b
      ON a.cmnd = b.cmnd AND a.dob = b.dob AND a.name_key = b.name_key AND a.province < b.province
    WHERE true
      -- without a CCCD to vouch for it, a pair of different sexes is two people
      AND (a.sex IS NULL OR b.sex IS NULL OR a.sex = b.sex)
      -- two different valid CCCDs are two different citizens, whatever their CMND and name say
      AND NOT (a.cccd_ok AND b.cccd_ok AND a.cccd <> b.cccd)
)
SELECT tier, province_a, person_a, province_b, person_b,
       tier <> '{TIER_CCCD}' OR dob_conflict OR sex_conflict AS flagged, dob_conflict, sex_conflict
FROM exact
UNION ALL
SELECT s.tier, s.province_a, s.person_a, s.province_b, s.person_b, true, s.dob_conflict, s.sex_conflict
FROM second s ANTI JOIN exact e
  ON s.province_a = e.province_a AND s.person_a = e.person_a
 AND s.province_b = e.province_b AND s.person_b = e.person_b
"""


def link_provinces(
    golden: dict[str, Path], *, memory_limit: str = "2GB", temp_dir: Path | None = None
) -> LinkResult:
    """Link persons across provinces. `golden` maps a province code to its live snapshot's golden Parquet."""
    config = {"memory_limit": memory_limit}
    if temp_dir is not None:
        config["temp_directory"] = str(temp_dir)
    with duckdb.connect(config=config) as connection:
        connection.register("cccd_provinces", pl.DataFrame({"code": sorted(CCCD_PROVINCE_CODES)}).to_arrow())
        _golden_view(connection, golden)
        # CCCDs held in two or more provinces (the only ones that can link), and placeholders held too often.
        connection.execute(
            "CREATE TEMP TABLE held AS SELECT cccd, count(*) AS holders, count(DISTINCT province) AS provinces "
            "FROM persons WHERE cccd_ok GROUP BY cccd HAVING count(*) > 1"
        )
        connection.execute(
            f"CREATE TEMP TABLE shared_ids AS SELECT cccd FROM held "
            f"WHERE provinces > 1 AND holders <= {MAX_HOLDERS}"
        )
        suspect = connection.execute(f"SELECT count(*) FROM held WHERE holders > {MAX_HOLDERS}").fetchall()[
            0
        ][0]
        connection.execute(
            "CREATE TEMP TABLE cmnd_holders AS SELECT * FROM persons "
            "WHERE name_key IS NOT NULL AND dob_precision = 'day' AND dob IS NOT NULL"
        )
        connection.execute(f"CREATE TEMP TABLE links AS {_LINK_SQL}")
        links = connection.sql(
            "SELECT * FROM links ORDER BY tier, province_a, province_b, person_a, person_b"
        ).pl()
    links = links.cast(LINK_SCHEMA).select(list(LINK_SCHEMA))  # type: ignore[arg-type]
    counts = (
        links.group_by("province_a", "province_b", "tier")
        .agg(
            pl.len().cast(pl.Int64).alias("links"),
            ((pl.col("tier") == TIER_CCCD) & (pl.col("dob_conflict") | pl.col("sex_conflict")))
            .sum()
            .cast(pl.Int64)
            .alias("conflicts"),
        )
        .sort("tier", "province_a", "province_b")
    )
    return LinkResult(links, counts, int(suspect))


def write_national_store(output_dir: Path, tables: dict[str, pl.DataFrame]) -> Path:
    """`output_dir/national.duckdb` (one table per frame) and `output_dir/parquet/<table>.parquet`, each built
    aside and renamed into place, so a reader sees the previous complete file or the new one."""
    import os
    import secrets

    output_dir.mkdir(parents=True, exist_ok=True)
    parquet_dir = output_dir / "parquet"
    parquet_dir.mkdir(exist_ok=True)
    token = f"{os.getpid()}.{secrets.token_hex(4)}"
    database = output_dir / "national.duckdb"
    staging = output_dir / f".national.duckdb.{token}.tmp"
    try:
        with duckdb.connect(str(staging)) as connection:
            for name, frame in tables.items():
                connection.register("incoming", frame.to_arrow())
                connection.execute(f"CREATE TABLE {name} AS SELECT * FROM incoming")
                connection.unregister("incoming")
                target = parquet_dir / f"{name}.parquet"
                part = parquet_dir / f".{name}.{token}.tmp"
                frame.write_parquet(part)
                os.replace(part, target)
            connection.execute("CHECKPOINT")
        os.replace(staging, database)
    finally:
        staging.unlink(missing_ok=True)
        Path(f"{staging}.wal").unlink(missing_ok=True)
    return database

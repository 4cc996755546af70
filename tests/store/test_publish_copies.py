"""A ParquetQuery table's Parquet copy and hash are made beside the next table's load: the snapshot still lists
its tables in the order given, and every copy holds its table's rows."""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl

from sachsong.store import ParquetQuery, publish_snapshot
from sachsong.store.layout import SNAPSHOT_DATABASE, SNAPSHOT_PARQUET_DIR, SNAPSHOTS_DIR
from sachsong.store.reader import read_manifest


def test_interleaved_queries_and_frames_keep_their_order_and_copies(tmp_path: Path) -> None:
    people = tmp_path / "people.parquet"
    pl.DataFrame(
        {"row_uid": pl.int_range(0, 5000, eager=True), "name": [f"Nguyễn Văn {i % 97}" for i in range(5000)]}
    ).write_parquet(people)
    tables = {
        "records": ParquetQuery("SELECT * FROM people", {"people": [people]}),
        "notes": pl.DataFrame({"note": ["a", "b"]}),
        "even": ParquetQuery("SELECT row_uid, name FROM people WHERE row_uid % 2 = 0", {"people": [people]}),
        "empty": pl.DataFrame(),
        "counts": ParquetQuery("SELECT name, count(*) AS n FROM people GROUP BY name", {"people": [people]}),
    }

    result = publish_snapshot(tmp_path / "store", tables, {"run_id": "r1"})

    assert list(result.row_counts) == list(result.table_hashes) == list(tables)
    assert result.row_counts == {"records": 5000, "notes": 2, "even": 2500, "empty": 0, "counts": 97}
    snapshot = tmp_path / "store" / SNAPSHOTS_DIR / "r1"
    assert list(read_manifest(snapshot)["table_hashes"]) == list(tables)
    connection = duckdb.connect(str(snapshot / SNAPSHOT_DATABASE), read_only=True)
    try:
        for name in tables:
            stored = connection.sql(f'SELECT * FROM "{name}"').pl()
            copy = pl.read_parquet(snapshot / SNAPSHOT_PARQUET_DIR / f"{name}.parquet")
            assert copy.schema == stored.schema, name
            assert copy.sort(copy.columns).equals(stored.sort(stored.columns)), name
    finally:
        connection.close()
    # The seconds name each query's copy apart from its load; a DataFrame's copy is polars', not timed apart.
    assert {"records copy", "even copy", "counts copy", "checkpoint"} <= set(result.seconds)
    assert "notes copy" not in result.seconds

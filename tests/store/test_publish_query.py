"""Tables given as ParquetQuery are streamed by DuckDB into the snapshot and publish exactly like DataFrames."""

from __future__ import annotations

import pickle
from datetime import date
from pathlib import Path

import duckdb
import polars as pl
import pytest

from sachsong.store import ParquetQuery, materialize, publish_snapshot
from sachsong.store.layout import SNAPSHOT_DATABASE, SNAPSHOT_PARQUET_DIR, SNAPSHOTS_DIR
from sachsong.store.publish import SPILL_DIR, GateResult
from sachsong.store.reader import current_run_id, open_current, read_current_table

RECORDS_SQL = """
SELECT p.*, c.cluster_id, c.cluster_size
FROM passed AS p LEFT JOIN clusters AS c USING (row_uid)
ORDER BY row_uid
"""


def snapshot_names(store: Path) -> list[str]:
    """Every snapshot folder, finished or building (none when nothing was ever started)."""
    folder = store / SNAPSHOTS_DIR
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def passed_batch(first_uid: int, n: int) -> pl.DataFrame:
    names = ["Nguyễn Văn An", "Trần Thị Bình", "Lê Hoà", "Phạm Đức Thuý", "Đặng Thị Lí"]
    return pl.DataFrame(
        {
            "row_uid": pl.int_range(first_uid, first_uid + n, eager=True, dtype=pl.Int64),
            "record_id": [f"R{first_uid + i}" for i in range(n)],
            "name_norm": [names[(first_uid + i) % len(names)] for i in range(n)],
            "dob": [date(1950 + (first_uid + i) % 60, 1 + i % 12, 1 + i % 28) for i in range(n)],
            "ward_code": ["26734", None, "00004"][first_uid % 3 :][:1] * n,
            "phone_e164": [None] * n,  # a column null all the way down (pl.Null)
        }
    )


def clusters_for(uids: list[int]) -> pl.DataFrame:
    # Not every passed row is clustered (left join keeps it), and the order differs from the records'.
    kept = [uid for uid in reversed(uids) if uid % 4 != 3]
    return pl.DataFrame(
        {
            "row_uid": pl.Series(kept, dtype=pl.Int64),
            "cluster_id": [f"P{uid // 2:06d}" for uid in kept],
            "cluster_size": pl.Series(
                [2 if uid // 2 * 2 + 1 in kept else 1 for uid in kept], dtype=pl.UInt32
            ),
        }
    )


def write_step_outputs(directory: Path, sizes: tuple[int, ...] = (7, 5, 9)) -> tuple[list[Path], list[Path]]:
    """Passed rows in one Parquet file per batch, clusters in one file: the flow's step outputs, small."""
    directory.mkdir(parents=True, exist_ok=True)
    passed_files, first = [], 0
    for index, size in enumerate(sizes):
        path = directory / f"passed_{index}.parquet"
        passed_batch(first, size).write_parquet(path)
        passed_files.append(path)
        first += size
    clusters_file = directory / "clusters.parquet"
    clusters_for(list(range(first))).write_parquet(clusters_file)
    return passed_files, [clusters_file]


def records_frame(passed_files: list[Path], clusters_files: list[Path]) -> pl.DataFrame:
    """What the flow builds in memory today: the stacked batches joined to their clusters."""
    passed = pl.concat([pl.read_parquet(p) for p in passed_files], how="diagonal_relaxed")
    clusters = pl.read_parquet(clusters_files[0])
    return passed.join(clusters, on="row_uid", how="left").sort("row_uid")


def records_query(passed_files: list[Path], clusters_files: list[Path]) -> ParquetQuery:
    return ParquetQuery(RECORDS_SQL, {"passed": passed_files, "clusters": clusters_files})


def test_query_and_dataframe_publish_the_same_rows_types_and_hash(tmp_path: Path) -> None:
    passed_files, clusters_files = write_step_outputs(tmp_path / "work")
    frame = records_frame(passed_files, clusters_files)
    assert frame["phone_e164"].dtype == pl.Null  # the all-null column case is really exercised

    as_frame = publish_snapshot(tmp_path / "a", {"residents_records": frame}, {"run_id": "r1"})
    as_query = publish_snapshot(
        tmp_path / "b", {"residents_records": records_query(passed_files, clusters_files)}, {"run_id": "r1"}
    )

    assert as_query.row_counts == as_frame.row_counts == {"residents_records": 21}
    assert as_query.table_hashes == as_frame.table_hashes
    from_query = read_current_table(tmp_path / "b", "residents_records")
    from_frame = read_current_table(tmp_path / "a", "residents_records")
    assert from_query["row_uid"].to_list() == list(range(21))  # ORDER BY kept in the Parquet copy
    assert from_query.schema == from_frame.schema
    assert from_query["phone_e164"].dtype == pl.String
    assert from_query.equals(from_frame)
    # A row with no cluster keeps its place with a null cluster id, as the left join says.
    assert from_query.filter(pl.col("row_uid") == 3)["cluster_id"].to_list() == [None]


def test_query_hash_sees_a_changed_value(tmp_path: Path) -> None:
    passed_files, clusters_files = write_step_outputs(tmp_path / "work")
    first = publish_snapshot(
        tmp_path / "a", {"residents_records": records_query(passed_files, clusters_files)}, {"run_id": "r1"}
    )
    batch = pl.read_parquet(passed_files[1])
    batch.with_columns(
        pl.when(pl.col("row_uid") == 8).then(pl.lit("Lê Hòa")).otherwise("name_norm").alias("name_norm")
    ).write_parquet(passed_files[1])
    second = publish_snapshot(
        tmp_path / "a", {"residents_records": records_query(passed_files, clusters_files)}, {"run_id": "r2"}
    )
    assert second.table_hashes != first.table_hashes and second.row_counts == first.row_counts


def test_mixed_tables_snapshot_is_complete_and_leaves_no_spill_dir(tmp_path: Path) -> None:
    passed_files, clusters_files = write_step_outputs(tmp_path / "work")
    seen: dict[str, object] = {}

    def gate(tables, previous, store_dir):
        seen["records_type"] = type(tables["residents_records"]).__name__
        golden = materialize(tables["residents_golden"])
        seen["golden_rows"] = golden.height
        seen["records_cluster_ids"] = materialize(tables["residents_records"], ["cluster_id"]).columns
        return GateResult(True, "ok")

    golden = pl.DataFrame({"cluster_id": ["P000000", "P000001"], "ward_code": ["26734", "00004"]})
    result = publish_snapshot(
        tmp_path / "store",
        {
            "residents_records": records_query(passed_files, clusters_files),
            "residents_golden": golden,
            "review_queue": pl.DataFrame(),
        },
        {"run_id": "r1"},
        gate=gate,
    )

    assert result.published
    assert seen == {"records_type": "ParquetQuery", "golden_rows": 2, "records_cluster_ids": ["cluster_id"]}
    snapshot = tmp_path / "store" / SNAPSHOTS_DIR / "r1"
    assert not (snapshot / SPILL_DIR).exists()
    assert sorted(p.name for p in (snapshot / SNAPSHOT_PARQUET_DIR).iterdir()) == [
        "residents_golden.parquet",
        "residents_records.parquet",
        "review_queue.parquet",
    ]
    connection = open_current(tmp_path / "store")
    try:
        counts = connection.execute(
            "SELECT count(*), count(DISTINCT cluster_id) FROM residents_records"
        ).fetchall()
    finally:
        connection.close()
    assert counts == [(21, len(set(clusters_for(list(range(21)))["cluster_id"])))]


def test_empty_views_give_the_same_table_as_an_empty_dataframe(tmp_path: Path) -> None:
    # A step with nothing to report writes `pl.DataFrame()` (a column-less file) or no file at all.
    column_less = tmp_path / "review.parquet"
    pl.DataFrame().write_parquet(column_less)
    typed_empty = tmp_path / "rejects.parquet"
    pl.DataFrame({"source_file": [], "reason": []}).write_parquet(typed_empty)  # all-null, zero rows

    queried = publish_snapshot(
        tmp_path / "a",
        {
            "review_queue": ParquetQuery("SELECT * FROM review", {"review": [column_less]}),
            "findings": ParquetQuery("SELECT * FROM findings", {"findings": []}),
            "rejects": ParquetQuery("SELECT * FROM rejects", {"rejects": [typed_empty]}),
        },
        {"run_id": "r1"},
    )
    framed = publish_snapshot(
        tmp_path / "b",
        {
            "review_queue": pl.DataFrame(),
            "findings": pl.DataFrame(),
            "rejects": pl.DataFrame({"source_file": [], "reason": []}),
        },
        {"run_id": "r1"},
    )
    assert queried.row_counts == {"review_queue": 0, "findings": 0, "rejects": 0}
    assert queried.table_hashes == framed.table_hashes
    assert read_current_table(tmp_path / "a", "rejects").schema == pl.Schema(
        {"source_file": pl.String, "reason": pl.String}
    )


def test_batches_with_different_columns_stack_by_name(tmp_path: Path) -> None:
    old = tmp_path / "batch_old.parquet"
    new = tmp_path / "batch_new.parquet"
    pl.DataFrame({"row_uid": [0, 1], "full_name": ["Lê Văn A", "Hồ Thị B"]}).write_parquet(old)
    pl.DataFrame({"full_name": ["Võ C"], "row_uid": [2], "phone": ["+84912345678"]}).write_parquet(new)

    publish_snapshot(
        tmp_path / "store",
        {"records": ParquetQuery("SELECT * FROM batches ORDER BY row_uid", {"batches": [old, new]})},
        {"run_id": "r1"},
    )

    stored = read_current_table(tmp_path / "store", "records")
    assert stored.columns == ["row_uid", "full_name", "phone"]
    assert stored["phone"].to_list() == [None, None, "+84912345678"]


def test_paths_with_quotes_are_literals_not_sql(tmp_path: Path) -> None:
    odd = tmp_path / "o'brien'); DROP TABLE x; --"
    odd.mkdir()
    path = odd / "it's.parquet"
    pl.DataFrame({"row_uid": [1, 2], "name": ["Ngô", "Đỗ"]}).write_parquet(path)
    # The store itself may also live under a quoted path: the COPY target is quoted too.
    store = tmp_path / "store 'quoted'"

    result = publish_snapshot(
        store, {"records": ParquetQuery("SELECT * FROM batch", {"batch": [str(path)]})}, {"run_id": "r1"}
    )

    assert result.row_counts == {"records": 2}
    assert read_current_table(store, "records")["name"].to_list() == ["Ngô", "Đỗ"]
    assert materialize(ParquetQuery("SELECT name FROM batch", {"batch": path}))["name"].to_list() == [
        "Ngô",
        "Đỗ",
    ]


def test_a_path_duckdb_would_glob_is_refused(tmp_path: Path) -> None:
    starred = tmp_path / "batch*.parquet"
    pl.DataFrame({"row_uid": [1]}).write_parquet(starred)
    pl.DataFrame({"row_uid": [2]}).write_parquet(tmp_path / "batch_2.parquet")
    with pytest.raises(ValueError, match=r"table 't': view 'b': .* as a glob matching 2 files"):
        publish_snapshot(
            tmp_path / "store", {"t": ParquetQuery("SELECT * FROM b", {"b": [starred]})}, {"run_id": "r1"}
        )
    assert current_run_id(tmp_path / "store") is None
    assert snapshot_names(tmp_path / "store") == []

    # A glob character is fine when the path matches only itself.
    alone = tmp_path / "solo[1].parquet"
    pl.DataFrame({"row_uid": [7]}).write_parquet(alone)
    assert materialize(ParquetQuery("SELECT * FROM b", {"b": [alone]}))["row_uid"].to_list() == [7]


def test_bad_queries_fail_clearly_before_anything_is_published(tmp_path: Path) -> None:
    passed_files, clusters_files = write_step_outputs(tmp_path / "work")
    store = tmp_path / "store"
    publish_snapshot(store, {"records": records_frame(passed_files, clusters_files)}, {"run_id": "r1"})

    missing = tmp_path / "work" / "passed_9.parquet"
    with pytest.raises(FileNotFoundError, match=r"table 'records': view 'passed'.*passed_9\.parquet"):
        publish_snapshot(
            store, {"records": records_query([*passed_files, missing], clusters_files)}, {"run_id": "r2"}
        )
    with pytest.raises(ValueError, match="exactly one SELECT"):
        publish_snapshot(
            store,
            {"records": ParquetQuery("SELECT * FROM passed; DROP TABLE records", {"passed": passed_files})},
            {"run_id": "r2"},
        )
    with pytest.raises(ValueError, match="exactly one SELECT"):
        publish_snapshot(
            store, {"records": ParquetQuery("DELETE FROM passed", {"passed": passed_files})}, {"run_id": "r2"}
        )
    with pytest.raises(duckdb.BinderException) as raised:
        publish_snapshot(
            store,
            {"records": ParquetQuery("SELECT no_such_column FROM passed", {"passed": passed_files})},
            {"run_id": "r2"},
        )
    assert "while publishing table 'records' from a ParquetQuery" in "\n".join(raised.value.__notes__)
    with pytest.raises(ValueError, match="SQL identifier"):
        ParquetQuery("SELECT 1", {"passed; DROP": passed_files})
    with pytest.raises(TypeError, match="DataFrame or a ParquetQuery"):
        publish_snapshot(store, {"records": passed_files}, {"run_id": "r2"})

    assert current_run_id(store) == "r1"
    assert snapshot_names(store) == ["r1"]


def test_a_view_may_share_its_table_name_and_is_gone_afterwards(tmp_path: Path) -> None:
    findings_file = tmp_path / "findings.parquet"
    pl.DataFrame({"record_id": ["R1", "R2"], "rule_id": ["cccd_digits", "dob_future"]}).write_parquet(
        findings_file
    )
    publish_snapshot(
        tmp_path / "store",
        {
            "findings": ParquetQuery(
                "SELECT * FROM findings ORDER BY record_id", {"findings": [findings_file]}
            )
        },
        {"run_id": "r1"},
    )
    # Opened writable here only to list its objects: no view was left in the published database.
    connection = duckdb.connect(str(tmp_path / "store" / SNAPSHOTS_DIR / "r1" / SNAPSHOT_DATABASE))
    try:
        views = connection.execute("SELECT count(*) FROM duckdb_views() WHERE NOT internal").fetchall()
        tables = connection.execute("SELECT table_name, estimated_size FROM duckdb_tables()").fetchall()
    finally:
        connection.close()
    assert views == [(0,)] and tables == [("findings", 2)]


def test_memory_limit_reaches_duckdb(tmp_path: Path) -> None:
    # Spilling itself is shown by benchmarks/bench_publish.py (it needs more rows than a unit test should make);
    # here: a limit DuckDB cannot parse fails the publish cleanly, a small valid one publishes.
    passed_files, clusters_files = write_step_outputs(tmp_path / "work")
    query = records_query(passed_files, clusters_files)
    with pytest.raises(duckdb.Error, match=r"(?i)memory"):
        publish_snapshot(tmp_path / "a", {"residents_records": query}, {"run_id": "r1"}, memory_limit="lots")
    assert snapshot_names(tmp_path / "a") == []
    result = publish_snapshot(
        tmp_path / "a", {"residents_records": query}, {"run_id": "r1"}, memory_limit="64MB"
    )
    assert result.published and result.row_counts == {"residents_records": 21}


def test_query_is_picklable_and_compares_by_value(tmp_path: Path) -> None:
    query = ParquetQuery("SELECT * FROM passed", {"passed": [tmp_path / "a.parquet", "b.parquet"]})
    assert query.files == {"passed": (tmp_path / "a.parquet", Path("b.parquet"))}
    assert pickle.loads(pickle.dumps(query)) == query
    assert hash(query) == hash(ParquetQuery("SELECT * FROM passed", {"passed": [tmp_path / "a.parquet"]}))


def test_row_numbers_number_rows_table_wide_from_each_files_offset(tmp_path: Path) -> None:
    # The flow's batch files number their rows from 0 each; a query adds each file's offset to DuckDB's
    # file_row_number to give the table-wide row_uid the other steps use.
    first = passed_batch(0, 4).with_columns(pl.int_range(0, 4, dtype=pl.Int64).alias("row_uid"))
    second = passed_batch(4, 3).with_columns(pl.int_range(0, 3, dtype=pl.Int64).alias("row_uid"))
    paths = [tmp_path / "b0.parquet", tmp_path / "b1.parquet"]
    first.write_parquet(paths[0])
    second.write_parquet(paths[1])
    numbered = (
        "SELECT * EXCLUDE (file_row_number) REPLACE ((file_row_number + {offset})::BIGINT AS row_uid) "
        "FROM batch_{index}"
    )
    sql = " UNION ALL BY NAME ".join(numbered.format(offset=o, index=i) for i, o in enumerate((0, 4)))
    query = ParquetQuery(
        f"{sql} ORDER BY row_uid", {"batch_0": [paths[0]], "batch_1": [paths[1]]}, row_numbers=True
    )
    stacked = materialize(query)
    assert stacked["row_uid"].to_list() == list(range(7))
    assert stacked["record_id"].to_list() == [f"R{i}" for i in range(7)]
    assert "file_row_number" not in stacked.columns
    plain = ParquetQuery("SELECT * FROM batch_0", {"batch_0": [paths[0]]})
    assert "file_row_number" not in materialize(plain).columns

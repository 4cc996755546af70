"""The store publishes atomically, keeps history append-only, hashes content deterministically."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import polars as pl
import pytest

from sachsong.store import history, publish
from sachsong.store.layout import CURRENT_POINTER, SNAPSHOTS_DIR
from sachsong.store.publish import GateResult, publish_snapshot, table_content_hash
from sachsong.store.reader import current_manifest, current_run_id, open_current, read_current_table


def golden(n: int, ward: str = "18880") -> pl.DataFrame:
    return pl.DataFrame(
        {
            "cluster_id": [f"P{i:05d}" for i in range(n)],
            "name_norm": ["Nguyễn Văn An", "Trần Thị Bình", "Lê Hoà"] * (n // 3) + ["Phạm Đức"] * (n % 3),
            "ward_code": [ward] * n,
            "province_code": ["44"] * n,
            "dob": [date(1990, 1, 1)] * n,
        }
    )


def tables(n: int = 6) -> dict[str, pl.DataFrame]:
    records = golden(n).with_columns(pl.int_range(pl.len(), dtype=pl.Int64).alias("row_uid"))
    return {
        "residents_golden": golden(n),
        "residents_records": records,
        "rejects": pl.DataFrame({"source_file": [], "reason": [], "extra": []}),  # all-null columns
        "review_queue": pl.DataFrame(),  # a step with nothing to report
    }


def test_publish_switches_current_and_readers_see_tables(tmp_path: Path) -> None:
    result = publish_snapshot(
        tmp_path, tables(), {"run_id": "44-r1", "province_code": "44", "as_of": "2026-11-01"}
    )

    assert result.published and current_run_id(tmp_path) == "44-r1"
    assert result.row_counts == {
        "residents_golden": 6,
        "residents_records": 6,
        "rejects": 0,
        "review_queue": 0,
    }
    connection = open_current(tmp_path)
    try:
        names = connection.execute("SELECT name_norm FROM residents_golden ORDER BY cluster_id").fetchall()
        assert names[0] == ("Nguyễn Văn An",) and len(names) == 6
    finally:
        connection.close()
    assert read_current_table(tmp_path, "residents_records")["row_uid"].to_list() == list(range(6))
    assert current_manifest(tmp_path)["province_code"] == "44"


def test_reader_connection_is_read_only(tmp_path: Path) -> None:
    publish_snapshot(tmp_path, tables(), {"run_id": "r1"})
    connection = open_current(tmp_path)
    try:
        with pytest.raises(duckdb.Error, match="read-only"):
            connection.execute("DELETE FROM residents_golden")
    finally:
        connection.close()


def test_crash_between_build_and_switch_keeps_previous_snapshot(tmp_path: Path, monkeypatch) -> None:
    publish_snapshot(tmp_path, tables(3), {"run_id": "r1"})

    def crash(store_dir: Path, run_id: str) -> None:
        raise OSError("power cut before the pointer switch")

    monkeypatch.setattr(publish, "switch_current", crash)
    with pytest.raises(OSError, match="power cut"):
        publish_snapshot(tmp_path, tables(9), {"run_id": "r2"})

    assert (tmp_path / CURRENT_POINTER).read_text().strip() == "r1"
    assert read_current_table(tmp_path, "residents_golden").height == 3
    assert sorted(p.name for p in (tmp_path / SNAPSHOTS_DIR).iterdir()) == ["r1"]  # nothing half-published
    monkeypatch.undo()
    assert publish_snapshot(tmp_path, tables(9), {"run_id": "r2"}).published  # the retry: no FileExistsError
    assert read_current_table(tmp_path, "residents_golden").height == 9


def test_crash_while_building_leaves_no_half_snapshot(tmp_path: Path, monkeypatch) -> None:
    publish_snapshot(tmp_path, tables(3), {"run_id": "r1"})
    monkeypatch.setattr(publish, "fsync_tree", lambda root: (_ for _ in ()).throw(OSError("disk full")))
    with pytest.raises(OSError, match="disk full"):
        publish_snapshot(tmp_path, tables(9), {"run_id": "r2"})

    assert sorted(p.name for p in (tmp_path / SNAPSHOTS_DIR).iterdir()) == ["r1"]
    assert current_run_id(tmp_path) == "r1"


def test_abandoned_build_is_cleaned_by_next_publish(tmp_path: Path) -> None:
    (tmp_path / SNAPSHOTS_DIR / "r0.tmp").mkdir(parents=True)
    publish_snapshot(tmp_path, tables(), {"run_id": "r1"})
    assert sorted(p.name for p in (tmp_path / SNAPSHOTS_DIR).iterdir()) == ["r1"]


def test_failing_gate_keeps_previous_snapshot(tmp_path: Path) -> None:
    publish_snapshot(tmp_path, tables(3), {"run_id": "r1"})
    seen = {}

    def refuse(candidate, previous, store_dir):
        seen["previous_rows"] = previous["row_counts"]["residents_golden"]
        return GateResult(False, "golden collapsed")

    result = publish_snapshot(tmp_path, tables(9), {"run_id": "r2"}, gate=refuse)

    assert result.status == "gate_failed" and result.snapshot_dir is None
    assert seen["previous_rows"] == 3
    assert current_run_id(tmp_path) == "r1"
    assert not (tmp_path / SNAPSHOTS_DIR / "r2").exists()
    assert not (tmp_path / SNAPSHOTS_DIR / "r2.tmp").exists()


def test_snapshots_are_immutable(tmp_path: Path) -> None:
    first = publish_snapshot(tmp_path, tables(), {"run_id": "r1"})
    with pytest.raises(FileExistsError, match="other content"):
        publish_snapshot(tmp_path, tables(9), {"run_id": "r1"})
    # The same run with the same content again (a retry after it went live) is the live snapshot, unchanged.
    again = publish_snapshot(tmp_path, tables(), {"run_id": "r1"})
    assert again.published and again.table_hashes == first.table_hashes
    assert current_manifest(tmp_path)["sequence"] == 1
    # Once replaced, a run id is never published again, not even with its own content.
    publish_snapshot(tmp_path, tables(3), {"run_id": "r2"})
    with pytest.raises(FileExistsError, match="replaced"):
        publish_snapshot(tmp_path, tables(), {"run_id": "r1"})
    # An operator's rollback does not make the snapshot it left rebuildable either.
    publish.switch_current(tmp_path, "r1")
    with pytest.raises(FileExistsError, match="replaced"):
        publish_snapshot(tmp_path, tables(5), {"run_id": "r2"})
    assert read_current_table(tmp_path, "residents_golden").height == 6


def test_retention_keeps_last_n_and_never_the_current(tmp_path: Path) -> None:
    for i in range(1, 6):
        publish_snapshot(tmp_path, tables(), {"run_id": f"r{i}"}, keep=3)
    assert sorted(p.name for p in (tmp_path / SNAPSHOTS_DIR).iterdir()) == ["r3", "r4", "r5"]

    # A pointer still on an older snapshot (say an operator rolled back) protects it from pruning.
    publish.switch_current(tmp_path, "r3")
    removed = publish.prune_snapshots(tmp_path, keep=1)
    assert removed == ["r4"]
    assert sorted(p.name for p in (tmp_path / SNAPSHOTS_DIR).iterdir()) == ["r3", "r5"]


def test_content_hash_ignores_row_order_but_sees_every_value(tmp_path: Path) -> None:
    base = tables(6)
    shuffled = {name: frame.reverse() for name, frame in base.items()}
    changed = dict(base)
    changed["residents_golden"] = base["residents_golden"].with_columns(
        pl.when(pl.col("cluster_id") == "P00004")
        .then(pl.lit("Lê Hòa"))
        .otherwise("name_norm")
        .alias("name_norm")
    )
    first = publish_snapshot(tmp_path, base, {"run_id": "a"}).table_hashes
    second = publish_snapshot(tmp_path, shuffled, {"run_id": "b"}).table_hashes
    third = publish_snapshot(tmp_path, changed, {"run_id": "c"}).table_hashes

    assert first == second
    assert third["residents_golden"] != first["residents_golden"]
    assert third["residents_records"] == first["residents_records"]


def test_bad_names_are_refused_with_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="run id"):
        publish_snapshot(tmp_path, tables(), {"run_id": "../escape"})
    with pytest.raises(ValueError, match="table name"):
        publish_snapshot(tmp_path, {"Golden; DROP": golden(1)}, {"run_id": "r1"})


def test_history_is_append_only_and_round_trips(tmp_path: Path) -> None:
    started = datetime(2026, 11, 1, 2, 0, tzinfo=UTC)
    history.record_run(
        tmp_path,
        {
            "run_id": "r1",
            "province_code": "44",
            "as_of": "2026-11-01",
            "started_at": started,
            "finished_at": started,
            "status": "published",
            "rows_in": 10,
            "counts_per_source": {"a.csv": {"rows_in": 10}},
            "table_hashes": {"residents_golden": "abc"},
        },
    )
    history.record_run(tmp_path, {"run_id": "r2", "status": "failed", "message": "matching: boom"})
    runs = history.read_runs(tmp_path)
    assert runs["run_id"].to_list() == ["r1", "r2"]
    assert runs["as_of"][0] == date(2026, 11, 1)
    assert runs["counts_per_source"][0] == '{"a.csv": {"rows_in": 10}}'
    with pytest.raises(ValueError, match="status"):
        history.record_run(tmp_path, {"run_id": "r3", "status": "running"})

    scores = pl.DataFrame({"criterion": ["correct", "live"], "share": [0.9, 1.0]})
    history.append_scores(tmp_path, scores, "r1")
    history.append_scores(tmp_path, scores.with_columns(pl.lit("19630").alias("ward_code")), "r2")
    stored = history.read_score_history(tmp_path)
    assert stored.height == 4
    assert stored.filter(pl.col("run_id") == "r2")["ward_code"].to_list() == ["19630", "19630"]
    assert stored.filter(pl.col("run_id") == "r1")["ward_code"].null_count() == 2


def test_content_hash_tells_null_from_empty_and_sees_values_move_between_columns() -> None:
    connection = duckdb.connect()
    variants = {
        "base": "('x', NULL), ('y', 'z')",
        "empty_not_null": "('x', ''), ('y', 'z')",
        "moved": "(NULL, 'x'), ('y', 'z')",
        "swapped_rows_values": "('x', 'z'), ('y', NULL)",
        "same_rows_reordered": "('y', 'z'), ('x', NULL)",
    }
    for name, rows in variants.items():
        connection.execute(f"CREATE TABLE {name} AS SELECT * FROM (VALUES {rows}) AS v(given, family)")
    hashes = {name: table_content_hash(connection, name) for name in variants}
    assert hashes["same_rows_reordered"] == hashes["base"]
    others = [hashes[name] for name in variants if name != "same_rows_reordered"]
    assert len(set(others)) == len(others)

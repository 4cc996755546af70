"""store.reader's functions for consumers such as the scorecard: which register a snapshot holds, read-only
connections to a snapshot, its tables' columns, and the history read without writing to it."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import duckdb
import polars as pl
import pytest

from sachsong.store.history import RUNS_SCHEMA, _journal_run, append_scores, record_run
from sachsong.store.layout import StoreError
from sachsong.store.publish import publish_snapshot
from sachsong.store.reader import (
    DEFAULT_DATASET,
    data_docs_index,
    open_snapshot,
    read_history_tables,
    snapshot_dataset,
    snapshot_exists,
    snapshot_manifest,
    table_columns,
)


def publish(store: Path, run_id: str, day: int, **run: str) -> None:
    records = pl.DataFrame({"row_uid": [0, 1, 2], "business_id": ["B-1", "B-1", "B-2"], "ward_code": ["18859"] * 3})
    golden = pl.DataFrame({"business_id": ["B-1", "B-2"], "ward_code": ["18859", "18859"]})
    tables = {"shop_records": records, "shop_golden": golden}
    result = publish_snapshot(store, tables, {"run_id": run_id, "as_of": f"2026-11-{day:02d}", **run})
    assert result.status == "published"


def run_row(run_id: str, day: int, status: str = "published") -> dict:
    return {
        "run_id": run_id,
        "province_code": "44",
        "as_of": date(2026, 11, day),
        "started_at": datetime(2026, 11, day, 1, 0),
        "finished_at": datetime(2026, 11, day, 1, 5),
        "status": status,
    }


def test_a_snapshot_names_its_register_and_older_ones_default(tmp_path):
    store = tmp_path / "store"
    publish(store, "run-1", 1)
    publish(store, "run-2", 2, dataset="household_business")
    assert snapshot_dataset(store, "run-2") == "household_business"
    assert snapshot_dataset(store, "run-1") == DEFAULT_DATASET  # published before dataset specs
    assert snapshot_dataset(store, None) == DEFAULT_DATASET  # nothing live
    assert snapshot_manifest(store, "run-2")["row_counts"] == {"shop_records": 3, "shop_golden": 2}
    # A snapshot written without a manifest (by hand, or by a very old version) is not an error.
    (store / "snapshots" / "run-0").mkdir()
    assert snapshot_manifest(store, "run-0") == {}
    assert snapshot_exists(store, "run-2") and not snapshot_exists(store, "run-0")
    assert not snapshot_exists(store, "run-9")


def test_open_snapshot_is_read_only_and_lists_columns_in_order(tmp_path):
    store = tmp_path / "store"
    publish(store, "run-1", 1)
    publish(store, "run-2", 2)
    connection = open_snapshot(store, "run-1")  # an older snapshot still kept
    try:
        columns = table_columns(connection)
        assert columns["shop_records"] == ["row_uid", "business_id", "ward_code"]
        assert columns["shop_golden"] == ["business_id", "ward_code"]
        assert connection.execute("SELECT count(*) FROM shop_records").fetchall() == [(3,)]
        with pytest.raises(duckdb.Error):
            connection.execute("DELETE FROM shop_records")
        with pytest.raises(duckdb.Error):  # no COPY ... TO over the store's files either
            connection.execute(f"COPY shop_golden TO '{tmp_path / 'out.csv'}'")
    finally:
        connection.close()
    assert not (tmp_path / "out.csv").exists()
    with pytest.raises(StoreError, match="run-7 has no snapshot"):
        open_snapshot(store, "run-7")


def test_history_tables_are_read_without_a_history_and_with_journalled_runs(tmp_path):
    store = tmp_path / "store"
    store.mkdir()
    assert read_history_tables(store) == (None, None)
    record_run(store, run_row("run-2", 2, "failed"))
    record_run(store, run_row("run-1", 1))
    runs, scores = read_history_tables(store)
    assert runs is not None and runs.get_column("run_id").to_list() == ["run-1", "run-2"]  # oldest as_of first
    assert scores is None  # no run scored yet
    append_scores(store, pl.DataFrame({"level": ["province"], "key": ["44"], "share": [0.5]}), "run-1")
    row = {name: value for name, value in run_row("run-3", 3, "failed").items() if name in RUNS_SCHEMA}
    _journal_run(store, pl.DataFrame([row], schema_overrides=RUNS_SCHEMA))  # written while the file was held
    runs, scores = read_history_tables(store)
    assert runs.get_column("run_id").to_list() == ["run-1", "run-2", "run-3"]
    assert runs.get_column("status").to_list()[-1] == "failed"
    assert scores.select("run_id", "share").rows() == [("run-1", 0.5)]
    # Reading folded nothing: the journalled row is still waiting for the next writer.
    assert len(list((store / "history.pending").glob("*.json"))) == 1


def test_data_docs_index_only_when_the_gate_wrote_one(tmp_path):
    assert data_docs_index(tmp_path) is None
    (tmp_path / "data_docs").mkdir()
    assert data_docs_index(tmp_path) is None
    (tmp_path / "data_docs" / "index.html").write_text("<html></html>", encoding="utf-8")
    assert data_docs_index(tmp_path) == tmp_path / "data_docs" / "index.html"

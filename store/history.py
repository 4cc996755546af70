"""The store's history (`history.duckdb`): one row per run and the scores of every run. Append-only.

Connections are opened per call and closed at once, so readers (reports) in the same process can open the
file read-only afterwards (DuckDB refuses two configurations of one file in one process).
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
from sachsong.store.layout import HISTORY_DATABASE

RUN_STATUSES = ("published", "failed", "gate_failed")

RUNS_SCHEMA: dict[str, pl.DataType] = {
    "run_id": pl.String(),
    "province_code": pl.String(),
    "as_of": pl.Date(),
    "started_at": pl.Datetime("us"),  # UTC
    "finished_at": pl.Datetime("us"),  # UTC
    "status": pl.String(),
    "rows_in": pl.Int64(),
    "rows_published": pl.Int64(),
    "rows_quarantined": pl.Int64(),
    "rows_rejected": pl.Int64(),
    "counts_per_source": pl.String(),  # JSON: {source_file: {rows_in, published, quarantined, rejected}}
    "table_hashes": pl.String(),  # JSON: {table: hash}
    "input_fingerprint": pl.String(),
    "message": pl.String(),
}

_RUNS_DDL = """
CREATE TABLE IF NOT EXISTS runs (
    run_id VARCHAR NOT NULL,
    province_code VARCHAR,
    as_of DATE,
    started_at TIMESTAMP,
    finished_at TIMESTAMP,
    status VARCHAR NOT NULL,
    rows_in BIGINT,
    rows_published BIGINT,
    rows_quarantined BIGINT,
    rows_rejected BIGINT,
    counts_per_source VARCHAR,
    table_hashes VARCHAR,
    input_fingerprint VARCHAR,
    message VARCHAR
)
"""


def history_path(store_dir: str | Path) -> Path:
    return Path(store_dir) / HISTORY_DATABASE


def _connect(store_dir: str | Path, read_only: bool = False, attempts: int = 20) -> duckdb.DuckDBPyConnection:
    path = history_path(store_dir)
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    # Another process (a report, a second province's run) may hold the file's lock for a moment: wait, then fail.
    for attempt in range(attempts):
        try:
            return duckdb.connect(str(path), read_only=read_only)
        except duckdb.IOException:
            if attempt == attempts - 1:
                raise
            time.sleep(0.25)
    raise AssertionError("unreachable")


def _json(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def record_run(store_dir: str | Path, run: Mapping[str, Any]) -> None:
    """Append one run row. `status` must be published, failed or gate_failed; JSON fields may be dicts."""
    status = run.get("status")
    if status not in RUN_STATUSES:
        raise ValueError(f"run status must be one of {RUN_STATUSES}, got {status!r}")
    if not run.get("run_id"):
        raise ValueError("a run row needs a run_id")
    unknown = set(run) - set(RUNS_SCHEMA)
    if unknown:
        raise ValueError(f"unknown run fields: {', '.join(sorted(unknown))}")
    row = {name: run.get(name) for name in RUNS_SCHEMA}
    for name in ("counts_per_source", "table_hashes"):
        row[name] = _json(row[name])
    if isinstance(row["as_of"], str):
        row["as_of"] = date.fromisoformat(row["as_of"])
    for name in ("started_at", "finished_at"):
        if isinstance(row[name], datetime) and row[name].tzinfo is not None:
            row[name] = row[name].astimezone(UTC).replace(tzinfo=None)
    frame = pl.DataFrame([row], schema=RUNS_SCHEMA)
    connection = _connect(store_dir)
    try:
        connection.execute(_RUNS_DDL)
        connection.register("incoming_run", frame)
        connection.execute("INSERT INTO runs BY NAME SELECT * FROM incoming_run")
    finally:
        connection.close()


def append_scores(store_dir: str | Path, scores: pl.DataFrame, run_id: str) -> int:
    """Append a run's scores to `score_history` (created from the first frame; new columns are added)."""
    if "run_id" in scores.columns:
        mismatched = scores.filter(pl.col("run_id") != run_id).height
        if mismatched:
            raise ValueError(f"{mismatched} score rows carry a run_id other than {run_id}")
    else:
        scores = scores.with_columns(pl.lit(run_id, dtype=pl.String).alias("run_id"))
    scores = scores.with_columns(pl.col(c).cast(pl.String) for c, t in scores.schema.items() if t == pl.Null)
    connection = _connect(store_dir)
    try:
        connection.register("incoming_scores", scores)
        exists = connection.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'score_history'"
        ).fetchall()[0][0]
        if not exists:
            connection.execute("CREATE TABLE score_history AS SELECT * FROM incoming_scores")
        else:
            present = {
                row[0]
                for row in connection.execute(
                    "SELECT column_name FROM information_schema.columns WHERE table_name = 'score_history'"
                ).fetchall()
            }
            types = {row[0]: row[1] for row in connection.execute("DESCRIBE incoming_scores").fetchall()}
            for column in scores.columns:
                if column not in present:
                    connection.execute(f'ALTER TABLE score_history ADD COLUMN "{column}" {types[column]}')
            connection.execute("INSERT INTO score_history BY NAME SELECT * FROM incoming_scores")
    finally:
        connection.close()
    return scores.height


def _read(store_dir: str | Path, sql: str) -> pl.DataFrame | None:
    if not history_path(store_dir).is_file():
        return None
    connection = _connect(store_dir, read_only=True)
    try:
        return connection.sql(sql).pl()
    except duckdb.CatalogException:
        return None
    finally:
        connection.close()


def read_runs(store_dir: str | Path) -> pl.DataFrame:
    """Every run, oldest first (an empty frame with the runs schema before the first run)."""
    runs = _read(store_dir, "SELECT * FROM runs ORDER BY started_at, finished_at")
    return runs if runs is not None else pl.DataFrame(schema=RUNS_SCHEMA)


def read_score_history(store_dir: str | Path) -> pl.DataFrame:
    """Every score row of every run (empty before the first scored run)."""
    scores = _read(store_dir, "SELECT * FROM score_history")
    return scores if scores is not None else pl.DataFrame()

"""The store's history (`history.duckdb`): one row per run and the scores of every run. Append-only.

Connections are opened per call and closed at once, so readers (reports) in the same process can open the
file read-only afterwards (DuckDB refuses two configurations of one file in one process).

Another process may hold the file (a report, a steward's notebook, a second province's run): opening waits with
a growing back-off up to `SACHSONG_HISTORY_WAIT` seconds (default 120), then raises `StoreBusyError` naming the
holder's pid. A run row that cannot be written in time is not lost: it is journalled to `history.pending/` (one
JSON file per row, written aside and renamed), read by `read_runs` at once and folded into `runs` by the next
write that gets the file.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import time
from collections.abc import Mapping
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from sachsong.store.layout import (
    HISTORY_DATABASE,
    StoreBusyError,
    fsync_dir,
    make_private_dir,
    make_private_store,
    private_files,
)

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


PENDING_DIR = "history.pending"
DEFAULT_WAIT_SECONDS = 120.0
_LOCK_HOLDER = re.compile(r"PID (\d+)")


def wait_seconds() -> float:
    """How long to wait for another process to let go of history.duckdb (`SACHSONG_HISTORY_WAIT`)."""
    try:
        return max(float(os.environ.get("SACHSONG_HISTORY_WAIT", DEFAULT_WAIT_SECONDS)), 0.0)
    except ValueError:
        return DEFAULT_WAIT_SECONDS


def _connect(
    store_dir: str | Path, read_only: bool = False, wait: float | None = None
) -> duckdb.DuckDBPyConnection:
    """A connection to history.duckdb; waits (back-off 0.05 s doubling to 2 s) while another process holds it."""
    path = history_path(store_dir)
    if not read_only:
        make_private_store(path.parent)
    wait = wait_seconds() if wait is None else wait
    deadline = time.monotonic() + wait
    delay = 0.05
    while True:
        try:
            with private_files():
                return duckdb.connect(str(path), read_only=read_only)
        except duckdb.IOException as error:
            if "lock" not in str(error).lower():
                raise
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                holder = _LOCK_HOLDER.search(str(error))
                who = f"process {holder.group(1)}" if holder else "another process"
                raise StoreBusyError(
                    f"{path}: {who} has held the history database for more than {wait:g} s "
                    f"(a report or a notebook left open?); gave up {'reading' if read_only else 'writing'} it "
                    "(SACHSONG_HISTORY_WAIT sets the wait)"
                ) from None
            time.sleep(min(delay, remaining))
            delay = min(delay * 2, 2.0)


def _json(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def record_run(store_dir: str | Path, run: Mapping[str, Any], wait: float | None = None) -> str:
    """Append one run row. `status` must be published, failed or gate_failed; JSON fields may be dicts.

    Returns "history" when the row is in history.duckdb, "pending" when the database stayed held by another
    process for longer than `wait` seconds and the row was journalled to `history.pending/` instead.
    """
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
    try:
        connection = _connect(store_dir, wait=wait)
    except StoreBusyError:
        _journal_run(store_dir, frame)
        return "pending"
    try:
        with private_files():  # the write-ahead log DuckDB creates while writing is private too
            _insert_runs(connection, frame)
            _fold_pending(store_dir, connection)
    finally:
        connection.close()
    return "history"


def _insert_runs(connection: duckdb.DuckDBPyConnection, frame: pl.DataFrame) -> None:
    connection.execute(_RUNS_DDL)
    connection.register("incoming_run", frame)
    connection.execute("INSERT INTO runs BY NAME SELECT * FROM incoming_run")
    connection.unregister("incoming_run")


def _pending_files(store_dir: str | Path) -> list[Path]:
    folder = Path(store_dir) / PENDING_DIR
    return sorted(folder.glob("*.json")) if folder.is_dir() else []


def _journal_run(store_dir: str | Path, frame: pl.DataFrame) -> Path:
    """One run row as JSON in `history.pending/`, written aside, fsynced and renamed (never half a row)."""
    folder = make_private_dir(Path(store_dir) / PENDING_DIR)
    row = frame.row(0, named=True)
    name = f"{time.time_ns()}-{secrets.token_hex(4)}.json"
    staging = folder / f".{name}.tmp"
    with private_files(), open(staging, "w", encoding="utf-8") as handle:
        json.dump(row, handle, ensure_ascii=False, default=str)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(staging, folder / name)
    fsync_dir(folder)
    return folder / name


def _read_pending(files: list[Path]) -> pl.DataFrame:
    rows = []
    for path in files:
        try:
            row = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):  # removed by a concurrent fold, or being written: the next read sees it
            continue
        for name in ("started_at", "finished_at"):
            if row.get(name):
                row[name] = datetime.fromisoformat(row[name])
        if row.get("as_of"):
            row["as_of"] = date.fromisoformat(str(row["as_of"])[:10])
        rows.append({name: row.get(name) for name in RUNS_SCHEMA})
    return pl.DataFrame(rows, schema=RUNS_SCHEMA)


def pending_runs(store_dir: str | Path) -> pl.DataFrame:
    """Run rows journalled while history.duckdb was held by another process, not yet folded into `runs`."""
    return _read_pending(_pending_files(store_dir))


def _fold_pending(store_dir: str | Path, connection: duckdb.DuckDBPyConnection) -> int:
    """Move journalled run rows into `runs` (this connection holds the file, so no one else folds meanwhile)."""
    files = _pending_files(store_dir)
    if not files:
        return 0
    pending = _read_pending(files)
    connection.execute(_RUNS_DDL)
    connection.register("pending_runs", pending)
    # A crash between the insert and the unlink must not fold a row twice.
    connection.execute(
        "INSERT INTO runs BY NAME SELECT * FROM pending_runs p WHERE NOT EXISTS (SELECT 1 FROM runs r "
        "WHERE r.run_id = p.run_id AND r.status = p.status "
        "AND r.finished_at IS NOT DISTINCT FROM p.finished_at)"
    )
    connection.unregister("pending_runs")
    for path in files:
        path.unlink(missing_ok=True)
    return pending.height


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
        with private_files():  # the write-ahead log DuckDB creates while writing is private too
            _fold_pending(store_dir, connection)
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
    """Every run, oldest first (an empty frame with the runs schema before the first run), journalled rows too."""
    runs = _read(store_dir, "SELECT * FROM runs ORDER BY started_at, finished_at")
    runs = runs if runs is not None else pl.DataFrame(schema=RUNS_SCHEMA)
    files = _pending_files(store_dir)
    if not files:
        return runs
    pending = _read_pending(files)
    return pl.concat([runs, pending], how="diagonal_relaxed").unique(keep="first", maintain_order=True).sort(
        "started_at", "finished_at", nulls_last=True, maintain_order=True
    )


def read_score_history(store_dir: str | Path) -> pl.DataFrame:
    """Every score row of every run (empty before the first scored run)."""
    scores = _read(store_dir, "SELECT * FROM score_history")
    return scores if scores is not None else pl.DataFrame()

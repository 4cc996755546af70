"""Read-only access for consumers: resolve `CURRENT` and open that snapshot, never a half-built one."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from sachsong.store import history
from sachsong.store.layout import (
    CURRENT_POINTER,
    DATA_DOCS_DIR,
    SNAPSHOT_DATABASE,
    SNAPSHOT_MANIFEST,
    SNAPSHOT_PARQUET_DIR,
    StoreError,
    check_run_id,
    check_table_name,
    snapshot_dir,
)


def current_run_id(store_dir: str | Path) -> str | None:
    """The run id `CURRENT` points at, or None when nothing was ever published."""
    pointer = Path(store_dir) / CURRENT_POINTER
    try:
        text = pointer.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    return check_run_id(text) if text else None


def current_snapshot(store_dir: str | Path) -> Path | None:
    """The live snapshot's directory, or None when nothing was ever published."""
    run_id = current_run_id(store_dir)
    if run_id is None:
        return None
    directory = snapshot_dir(Path(store_dir), run_id)
    if not (directory / SNAPSHOT_DATABASE).is_file():
        raise StoreError(
            f"{Path(store_dir) / CURRENT_POINTER} points at {run_id}, but {directory} has no database"
        )
    return directory


def _require_current(store_dir: str | Path) -> Path:
    directory = current_snapshot(store_dir)
    if directory is None:
        raise StoreError(
            f"{store_dir}: nothing published yet (no {CURRENT_POINTER}); run `sachsong run` first"
        )
    return directory


def open_current(store_dir: str | Path) -> duckdb.DuckDBPyConnection:
    """A read-only DuckDB connection to the live snapshot; writes through it raise.

    External access is off too: a read-only database still lets `COPY ... TO` overwrite files (the snapshot's
    Parquet copies, `CURRENT`), so a consumer's connection may read this database and nothing else.
    """
    return duckdb.connect(
        str(_require_current(store_dir) / SNAPSHOT_DATABASE),
        read_only=True,
        config={"enable_external_access": False},
    )


def read_manifest(directory: str | Path) -> dict[str, Any]:
    """A snapshot's manifest: run, sequence, row counts, table hashes."""
    return json.loads((Path(directory) / SNAPSHOT_MANIFEST).read_text(encoding="utf-8"))


def current_manifest(store_dir: str | Path) -> dict[str, Any] | None:
    directory = current_snapshot(store_dir)
    return None if directory is None else read_manifest(directory)


def snapshot_table_path(directory: str | Path, table: str) -> Path:
    """Where a snapshot folder keeps the Parquet copy of `table` (it may not exist)."""
    return Path(directory) / SNAPSHOT_PARQUET_DIR / f"{check_table_name(table)}.parquet"


def read_current_table(store_dir: str | Path, table: str) -> pl.DataFrame:
    """One table of the live snapshot, read from its Parquet export."""
    directory = _require_current(store_dir)
    path = snapshot_table_path(directory, table)
    if not path.is_file():
        available = sorted(p.stem for p in (directory / SNAPSHOT_PARQUET_DIR).glob("*.parquet"))
        raise StoreError(f"{directory}: no table '{table}' (tables: {', '.join(available)})")
    return pl.read_parquet(path)


# ------------------------------------------------------------------------------------- consumers' reading
# A snapshot whose manifest names no register was published before dataset specs: it holds residents.
DEFAULT_DATASET = "residents"


def snapshot_exists(store_dir: str | Path, run_id: str) -> bool:
    """Whether run `run_id` has a complete snapshot (its database) in the store."""
    return (snapshot_dir(Path(store_dir), run_id) / SNAPSHOT_DATABASE).is_file()


def open_snapshot(store_dir: str | Path, run_id: str) -> duckdb.DuckDBPyConnection:
    """A read-only DuckDB connection to one snapshot (the live one or an older one still kept), external access
    off as in `open_current`."""
    path = snapshot_dir(Path(store_dir), run_id) / SNAPSHOT_DATABASE
    if not path.is_file():
        raise StoreError(f"{Path(store_dir)}: run {run_id} has no snapshot ({path} does not exist)")
    try:
        return duckdb.connect(str(path), read_only=True, config={"enable_external_access": False})
    except duckdb.Error as error:
        raise StoreError(f"{path}: cannot open read-only ({type(error).__name__})") from error


def table_columns(connection: duckdb.DuckDBPyConnection) -> dict[str, list[str]]:
    """Every table of an open snapshot (or history) and its columns, in order: what a reader may select."""
    rows = connection.execute(
        "SELECT table_name, column_name FROM information_schema.columns "
        "WHERE table_schema = 'main' ORDER BY table_name, ordinal_position"
    ).fetchall()
    tables: dict[str, list[str]] = {}
    for table, column in rows:
        tables.setdefault(table, []).append(column)
    return tables


def snapshot_manifest(store_dir: str | Path, run_id: str) -> dict[str, Any]:
    """A snapshot's manifest, or {} when it has none (a snapshot written by hand or by a very old version)."""
    try:
        return read_manifest(snapshot_dir(Path(store_dir), run_id))
    except FileNotFoundError:
        return {}


def snapshot_dataset(store_dir: str | Path, run_id: str | None) -> str:
    """The register (dataset name) a snapshot holds, from its manifest; DEFAULT_DATASET when it names none."""
    if run_id is None:
        return DEFAULT_DATASET
    return str(snapshot_manifest(store_dir, run_id).get("dataset") or DEFAULT_DATASET)


def data_docs_index(store_dir: str | Path) -> Path | None:
    """The publish gate's Data Docs page (`data_docs/index.html`), or None when no gate wrote one."""
    page = Path(store_dir) / DATA_DOCS_DIR / "index.html"
    return page if page.is_file() else None


def read_history_tables(store_dir: str | Path) -> tuple[pl.DataFrame | None, pl.DataFrame | None]:
    """The history's `runs` (oldest first by as_of, start, id; rows journalled in `history.pending/` included)
    and `score_history`, read-only; None for a table (or the whole file) not written yet.

    Waits, as every history reader does, while another process writes the file (`store.history`).
    """
    runs: pl.DataFrame | None = None
    scores: pl.DataFrame | None = None
    if history.history_path(store_dir).is_file():
        connection = history._connect(store_dir, read_only=True)
        try:
            tables = table_columns(connection)
            if "runs" in tables:
                order = [c for c in ("as_of", "started_at", "run_id") if c in tables["runs"]]
                by = f" ORDER BY {', '.join(order)} NULLS FIRST" if order else ""
                runs = connection.sql(f"SELECT * FROM runs{by}").pl()
            if "score_history" in tables:
                scores = connection.sql("SELECT * FROM score_history").pl()
        finally:
            connection.close()
    pending = history.pending_runs(store_dir)
    if pending.height:
        runs = pending if runs is None else pl.concat([runs, pending], how="diagonal_relaxed")
    if runs is not None and "run_id" in runs.columns:
        runs = runs.with_columns(pl.col("run_id").cast(pl.String))
    return runs, scores

"""Read-only access for consumers: resolve `CURRENT` and open that snapshot, never a half-built one."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from sachsong.store.layout import (
    CURRENT_POINTER,
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


def read_current_table(store_dir: str | Path, table: str) -> pl.DataFrame:
    """One table of the live snapshot, read from its Parquet export."""
    directory = _require_current(store_dir)
    path = directory / SNAPSHOT_PARQUET_DIR / f"{check_table_name(table)}.parquet"
    if not path.is_file():
        available = sorted(p.stem for p in (directory / SNAPSHOT_PARQUET_DIR).glob("*.parquet"))
        raise StoreError(f"{directory}: no table '{table}' (tables: {', '.join(available)})")
    return pl.read_parquet(path)

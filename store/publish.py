"""Publish a set of tables as a new, immutable snapshot and switch `CURRENT` to it atomically.

Steps: build `snapshots/<run_id>.tmp/` (DuckDB + Parquet + manifest) → hash every table → run the gate →
fsync → rename to `snapshots/<run_id>/` → replace `CURRENT`. A crash or a failing gate at any step leaves
`CURRENT` on the previous snapshot; readers never see a half-built one. Old snapshots beyond `keep` are pruned,
never the current one.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
from sachsong.store.layout import (
    BUILDING_SUFFIX,
    CURRENT_POINTER,
    PUBLISH_LOCK,
    SNAPSHOT_DATABASE,
    SNAPSHOT_MANIFEST,
    SNAPSHOT_PARQUET_DIR,
    check_run_id,
    check_table_name,
    fsync_dir,
    fsync_tree,
    snapshot_dir,
    snapshots_dir,
    write_text_atomically,
)
from sachsong.store.reader import current_run_id, read_manifest

DEFAULT_KEEP = 7
HASH_ALGORITHM = f"sum-of-row-hash/duckdb-{duckdb.__version__}"


@dataclass(frozen=True)
class GateResult:
    """What a publish gate decided, with evidence for stewards."""

    passed: bool
    message: str = ""
    failures: list[dict[str, Any]] = field(default_factory=list)
    docs_path: Path | None = None


# A gate sees the candidate tables and the previous snapshot's manifest (None on the first publish).
Gate = Callable[[Mapping[str, pl.DataFrame], dict[str, Any] | None, Path], GateResult]


@dataclass(frozen=True)
class PublishResult:
    run_id: str
    status: str  # published | gate_failed
    snapshot_dir: Path | None
    row_counts: dict[str, int]
    table_hashes: dict[str, str]
    gate: GateResult | None
    previous_run_id: str | None
    pruned: list[str]

    @property
    def published(self) -> bool:
        return self.status == "published"

    def describe(self) -> str:
        if not self.published:
            reason = self.gate.message if self.gate else "gate failed"
            return f"run {self.run_id}: NOT published ({reason}); still serving {self.previous_run_id}"
        tables = ", ".join(f"{name} {count}" for name, count in self.row_counts.items())
        return f"run {self.run_id}: published {self.snapshot_dir} ({tables})"


def table_content_hash(connection: duckdb.DuckDBPyConnection, table: str) -> str:
    """A deterministic hash of a table's schema and rows, independent of row order and of file encoding.

    Each row is hashed by DuckDB's `hash()` (64 bits, over the typed values); the row hashes are summed (a multiset
    hash, so the order in which a parallel step emitted rows does not matter) and combined with the schema, the
    row count and the DuckDB version. Hashes compare between runs on one DuckDB version (reruns, restores); an
    upgrade changes them all once. Rendering every row as JSON for MD5 cost ten times as much (18 s against 2 s
    on a million records, benchmarks/bench_flow.py).
    """
    check_table_name(table)
    schema = connection.execute(
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_name = ? ORDER BY ordinal_position",
        [table],
    ).fetchall()
    rows, total = connection.execute(
        f'SELECT count(*), coalesce(sum(hash(t)::HUGEINT), 0) FROM "{table}" AS t'
    ).fetchall()[0]
    digest = hashlib.sha256(json.dumps([HASH_ALGORITHM, schema, rows, str(total)]).encode("utf-8"))
    return digest.hexdigest()


EMPTY_TABLE_COLUMN = "no_columns"


def _storable(frame: pl.DataFrame) -> pl.DataFrame:
    # SQL has no table without columns (a step with nothing to say may return `pl.DataFrame()`): keep the table,
    # so readers find it, with one placeholder column and no rows.
    if not frame.columns:
        return pl.DataFrame(schema={EMPTY_TABLE_COLUMN: pl.Boolean})
    # Columns that are null all the way down have no SQL type; store them as text so the schema is stable.
    nulls = [name for name, dtype in frame.schema.items() if dtype == pl.Null]
    return frame.with_columns(pl.col(nulls).cast(pl.String)) if nulls else frame


def _write_tables(
    building: Path, tables: Mapping[str, pl.DataFrame]
) -> tuple[dict[str, int], dict[str, str]]:
    parquet_dir = building / SNAPSHOT_PARQUET_DIR
    parquet_dir.mkdir(parents=True)
    row_counts: dict[str, int] = {}
    hashes: dict[str, str] = {}
    storable = {name: _storable(frame) for name, frame in tables.items()}
    # Parquet copies are written by polars in a second thread while DuckDB loads and hashes the tables: both
    # release the GIL, and on big tables each takes seconds.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="parquet") as writer:
        written = [
            writer.submit(frame.write_parquet, parquet_dir / f"{name}.parquet")
            for name, frame in storable.items()
        ]
        connection = duckdb.connect(str(building / SNAPSHOT_DATABASE))
        try:
            for name, frame in storable.items():
                connection.register("incoming_frame", frame)
                connection.execute(f'CREATE TABLE "{name}" AS SELECT * FROM incoming_frame')
                connection.unregister("incoming_frame")
                row_counts[name] = frame.height
                hashes[name] = table_content_hash(connection, name)
            connection.execute("CHECKPOINT")
        finally:
            connection.close()
        for future in written:
            future.result()  # a failed Parquet write fails the publish
    return row_counts, hashes


def _next_sequence(store_dir: Path) -> int:
    sequences = [manifest["sequence"] for _, manifest in _published_snapshots(store_dir)]
    return max(sequences, default=0) + 1


def _published_snapshots(store_dir: Path) -> list[tuple[Path, dict[str, Any]]]:
    root = snapshots_dir(store_dir)
    if not root.is_dir():
        return []
    found = []
    for directory in root.iterdir():
        if directory.name.endswith(BUILDING_SUFFIX) or not (directory / SNAPSHOT_MANIFEST).is_file():
            continue
        found.append((directory, read_manifest(directory)))
    return sorted(found, key=lambda item: item[1]["sequence"])


def _remove_abandoned_builds(store_dir: Path) -> None:
    root = snapshots_dir(store_dir)
    for directory in root.glob(f"*{BUILDING_SUFFIX}"):
        shutil.rmtree(directory, ignore_errors=True)


def prune_snapshots(store_dir: str | Path, keep: int = DEFAULT_KEEP) -> list[str]:
    """Delete all but the newest `keep` snapshots; the one `CURRENT` points at is never deleted."""
    store_dir = Path(store_dir)
    if keep < 1:
        raise ValueError(f"keep must be at least 1, got {keep}")
    live = current_run_id(store_dir)
    snapshots = _published_snapshots(store_dir)
    removable = [directory for directory, _ in snapshots[:-keep] if directory.name != live]
    for directory in removable:
        shutil.rmtree(directory)
    if removable:
        fsync_dir(snapshots_dir(store_dir))
    return [directory.name for directory in removable]


def switch_current(store_dir: Path, run_id: str) -> None:
    """Point `CURRENT` at a published snapshot (atomic replace of a one-line file)."""
    write_text_atomically(Path(store_dir) / CURRENT_POINTER, check_run_id(run_id) + "\n")


@contextlib.contextmanager
def publish_lock(store_dir: Path) -> Iterator[None]:
    """Serialise publishers of one store (two nightly runs of one province must not interleave)."""
    with open(Path(store_dir) / PUBLISH_LOCK, "a+") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def publish_snapshot(
    store_dir: str | Path,
    tables: Mapping[str, pl.DataFrame],
    run: Mapping[str, Any],
    gate: Gate | None = None,
    keep: int = DEFAULT_KEEP,
    before_switch: Callable[[Mapping[str, Any]], None] | None = None,
) -> PublishResult:
    """Publish `tables` as snapshot `run["run_id"]`; switch `CURRENT` to it only if the gate passes.

    `run` must carry `run_id`; its other JSON-serialisable fields (province_code, as_of, ...) go into the
    snapshot's manifest. Raises if the run id was already published (snapshots are immutable).
    `before_switch(manifest)` runs once the snapshot is complete and before `CURRENT` names it: the flow records
    the run in history there, so a crash can never leave a live snapshot that history does not know. If it
    raises, `CURRENT` is not switched.
    """
    store_dir = Path(store_dir)
    run_id = check_run_id(run.get("run_id"))
    if not tables:
        raise ValueError("publish_snapshot needs at least one table")
    for name, frame in tables.items():
        check_table_name(name)
        if not isinstance(frame, pl.DataFrame):
            raise TypeError(f"table {name!r} is a {type(frame).__name__}, expected a polars DataFrame")
    snapshots_dir(store_dir).mkdir(parents=True, exist_ok=True)

    with publish_lock(store_dir):
        final = snapshot_dir(store_dir, run_id)
        if final.exists():
            raise FileExistsError(f"{final} already exists: snapshots are immutable, use a new run id")
        _remove_abandoned_builds(store_dir)
        previous_id = current_run_id(store_dir)
        previous = read_manifest(snapshot_dir(store_dir, previous_id)) if previous_id else None

        building = final.with_name(final.name + BUILDING_SUFFIX)
        building.mkdir()
        try:
            row_counts, hashes = _write_tables(building, tables)
            gate_result = gate(tables, previous, store_dir) if gate is not None else None
            if gate_result is not None and not gate_result.passed:
                shutil.rmtree(building)
                return PublishResult(
                    run_id, "gate_failed", None, row_counts, hashes, gate_result, previous_id, []
                )
            manifest = {
                **{k: v for k, v in run.items() if k != "run_id"},
                "run_id": run_id,
                "sequence": _next_sequence(store_dir),
                "published_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "previous_run_id": previous_id,
                "row_counts": row_counts,
                "table_hashes": hashes,
            }
            (building / SNAPSHOT_MANIFEST).write_text(
                json.dumps(manifest, ensure_ascii=False, indent=2, default=str), encoding="utf-8"
            )
            fsync_tree(building)
            os.rename(building, final)
            fsync_dir(final.parent)
        except BaseException:
            shutil.rmtree(building, ignore_errors=True)
            raise
        if before_switch is not None:
            before_switch(manifest)
        switch_current(store_dir, run_id)
        pruned = prune_snapshots(store_dir, keep=keep)
    return PublishResult(run_id, "published", final, row_counts, hashes, gate_result, previous_id, pruned)

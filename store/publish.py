"""Publish a set of tables as a new, immutable snapshot and switch `CURRENT` to it atomically.

Steps: build `snapshots/<run_id>.tmp/` (DuckDB + Parquet + manifest) → hash every table → run the gate →
fsync → rename to `snapshots/<run_id>/` → `before_switch` (the flow records the run) → replace `CURRENT`. A crash
or a failing gate at any step leaves `CURRENT` on the previous snapshot; readers never see a half-built one. Old
snapshots beyond `keep` are pruned, never the current one.

Under contention: publishers of one store take turns through `.publish.lock`, waiting at most `lock_timeout`
seconds (`SACHSONG_PUBLISH_LOCK_TIMEOUT`, default 600) and then failing with a message naming the holder's pid and
run. A run older (`as_of`) than the live snapshot does not replace it unless `replace_newer=True`. A publish is
idempotent on retry: a snapshot of the same run id that never went live (the run failed after building it) is
rebuilt, and publishing the same run id with the same content again returns the live snapshot.

A table is either a polars DataFrame (held in memory) or a `ParquetQuery`: a SELECT over Parquet files that
DuckDB streams straight into the snapshot under a bounded memory limit, spilling to disk inside the building
snapshot, so a province of ten million records is published without ever being stacked in Python memory.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import socket
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, TypeAlias

import duckdb
import polars as pl

from sachsong.store.layout import (
    BUILDING_SUFFIX,
    CURRENT_POINTER,
    PUBLISH_LOCK,
    SNAPSHOT_DATABASE,
    SNAPSHOT_MANIFEST,
    SNAPSHOT_PARQUET_DIR,
    StoreBusyError,
    StoreError,
    check_run_id,
    check_table_name,
    fsync_dir,
    fsync_tree,
    make_private_dir,
    make_private_store,
    private_files,
    snapshot_dir,
    snapshots_dir,
    write_text_atomically,
)
from sachsong.store.reader import current_run_id, read_manifest

DEFAULT_KEEP = 7
HASH_ALGORITHM = f"sum-of-row-hash/duckdb-{duckdb.__version__}"
# DuckDB's budget while it builds a snapshot from ParquetQuery tables; beyond it, sorts and joins spill to disk.
DEFAULT_MEMORY_LIMIT = "2GB"
# Spill files live inside the building snapshot (same disk, removed with it), deleted before fsync and rename.
SPILL_DIR = "duckdb_spill"
# zstd level 1: the night's copies come out no bigger than at the default level 3, for less CPU.
PARQUET_COPY_OPTIONS = "FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL 1"

# How long a publisher waits for another one of the same store before giving up (seconds).
DEFAULT_LOCK_TIMEOUT = 600.0

_SAFE_VIEW = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
_GLOB_CHARACTERS = re.compile(r"[*?\[]")


@dataclass(frozen=True)
class ParquetQuery:
    """A table given as a SELECT over Parquet files, run by DuckDB instead of being loaded into polars.

    `files` binds view names to lists of Parquet files (`{"passed": [...], "clusters": [...]}`); each view reads
    its files with `read_parquet([...], union_by_name=true)`, so batches whose columns differ a little stack
    by name. `sql` is one SELECT over those views, e.g.
    `SELECT p.*, c.cluster_id FROM passed p LEFT JOIN clusters c USING (row_uid) ORDER BY row_uid`.
    A view with no files (or only column-less files, what `pl.DataFrame().write_parquet` gives) is an empty
    table with the placeholder column `no_columns`, like an empty DataFrame. A single path is taken as a list
    of one.
    """

    sql: str
    # Excluded from hashing (a dict is unhashable); equality still compares it.
    files: Mapping[str, Sequence[Path]] = field(hash=False)
    # Each view also gets DuckDB's `file_row_number` (a row's position in its file, from 0): with one file per
    # view, what a query adds to a file's first-row offset to number rows table-wide.
    row_numbers: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.sql, str) or not self.sql.strip():
            raise ValueError("ParquetQuery.sql must be a non-empty SELECT statement")
        if not isinstance(self.files, Mapping):
            raise TypeError(
                f"ParquetQuery.files must map view names to Parquet files, got {type(self.files)}"
            )
        normalized: dict[str, tuple[Path, ...]] = {}
        for view, paths in self.files.items():
            if not isinstance(view, str) or not _SAFE_VIEW.match(view):
                raise ValueError(
                    f"ParquetQuery view name {view!r} must be a SQL identifier (letters, digits, '_')"
                )
            if isinstance(paths, (str, os.PathLike)):
                paths = [paths]
            normalized[view] = tuple(Path(path) for path in paths)
        # A plain dict keeps the query picklable (task runners ship arguments between processes).
        object.__setattr__(self, "files", normalized)


# What `publish_snapshot` accepts as one table.
Table: TypeAlias = pl.DataFrame | ParquetQuery


@dataclass(frozen=True)
class GateResult:
    """What a publish gate decided, with evidence for stewards."""

    passed: bool
    message: str = ""
    failures: list[dict[str, Any]] = field(default_factory=list)
    docs_path: Path | None = None


# A gate sees the candidate tables as given (DataFrames or ParquetQuery: `materialize` turns either into a
# DataFrame), the previous snapshot's manifest (None on the first publish) and the store directory.
Gate = Callable[[Mapping[str, Table], dict[str, Any] | None, Path], GateResult]


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
    # Where the publish spent its time: per table its load and, as "<table> copy", its Parquet copy and hash
    # (beside the next table's load), then "checkpoint" and "sync".
    seconds: dict[str, float] = field(default_factory=dict, compare=False)

    @property
    def published(self) -> bool:
        return self.status == "published"

    def describe(self) -> str:
        if not self.published:
            reason = self.gate.message if self.gate else "gate failed"
            return f"run {self.run_id}: NOT published ({reason}); still serving {self.previous_run_id}"
        tables = ", ".join(f"{name} {count}" for name, count in self.row_counts.items())
        # Small tables take hundredths of a second: only what takes 0.05 s or more is named.
        timed = ", ".join(f"{name} {seconds:.1f}" for name, seconds in self.seconds.items() if seconds >= 0.05)
        return f"run {self.run_id}: published {self.snapshot_dir} ({tables})" + (
            f"; seconds: {timed}" if timed else ""
        )


def _content_summary(connection: duckdb.DuckDBPyConnection, table: str) -> tuple[int, str]:
    """(row count, content hash) of a DuckDB table, in one scan."""
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
    return int(rows), digest.hexdigest()


def table_content_hash(connection: duckdb.DuckDBPyConnection, table: str) -> str:
    """A deterministic hash of a table's schema and rows, independent of row order and of file encoding.

    Each row is hashed by DuckDB's `hash()` (64 bits, over the typed values); the row hashes are summed (a multiset
    hash, so the order in which a parallel step emitted rows does not matter) and combined with the schema, the
    row count and the DuckDB version. Hashes compare between runs on one DuckDB version (reruns, restores); an
    upgrade changes them all once. Rendering every row as JSON for MD5 cost ten times as much (18 s against 2 s
    on a million records, benchmarks/bench_flow.py). A table published from a DataFrame and one published from a
    ParquetQuery hash alike when their rows and DuckDB types are the same.
    """
    return _content_summary(connection, table)[1]


EMPTY_TABLE_COLUMN = "no_columns"
# An empty table with no columns, in SQL: the same placeholder `_storable` gives an empty DataFrame.
_EMPTY_VIEW_SQL = f"SELECT CAST(NULL AS BOOLEAN) AS {EMPTY_TABLE_COLUMN} WHERE false"


def _storable(frame: pl.DataFrame) -> pl.DataFrame:
    # SQL has no table without columns (a step with nothing to say may return `pl.DataFrame()`): keep the table,
    # so readers find it, with one placeholder column and no rows.
    if not frame.columns:
        return pl.DataFrame(schema={EMPTY_TABLE_COLUMN: pl.Boolean})
    # Columns that are null all the way down have no SQL type; store them as text so the schema is stable.
    nulls = [name for name, dtype in frame.schema.items() if dtype == pl.Null]
    return frame.with_columns(pl.col(nulls).cast(pl.String)) if nulls else frame


def _sql_string(value: str) -> str:
    """A SQL string literal (DuckDB cannot bind parameters inside CREATE VIEW or COPY ... TO)."""
    return "'" + value.replace("'", "''") + "'"


def _sql_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _single_select(table: str, sql: str) -> str:
    """The query's one SELECT statement, without a trailing ';' — refuses anything else, before any work."""
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        raise ValueError(f"table {table!r}: ParquetQuery.sql does not parse: {exc}") from exc
    if len(statements) != 1 or statements[0].type != duckdb.StatementType.SELECT:
        kinds = ", ".join(statement.type.name for statement in statements) or "nothing"
        raise ValueError(
            f"table {table!r}: ParquetQuery.sql must be exactly one SELECT statement, got {kinds}"
        )
    return sql.strip().rstrip(";").rstrip()


def _check_query_files(table: str, query: ParquetQuery) -> None:
    """Every file exists and is read as itself: fail before any work, naming table, view and file."""
    globber: duckdb.DuckDBPyConnection | None = None
    try:
        for view, paths in query.files.items():
            for path in paths:
                if not path.is_file():
                    raise FileNotFoundError(
                        f"table {table!r}: view {view!r}: Parquet file {path} does not exist"
                    )
                absolute = os.path.abspath(path)
                # DuckDB reads '*', '?' and '[' in a path as a glob: refuse a path that matches other files too.
                if not _GLOB_CHARACTERS.search(absolute):
                    continue
                globber = globber or duckdb.connect()
                matched = [
                    row[0] for row in globber.execute("SELECT file FROM glob(?)", [absolute]).fetchall()
                ]
                if [os.path.abspath(m) for m in matched] != [absolute]:
                    raise ValueError(
                        f"table {table!r}: view {view!r}: DuckDB would read the path {absolute} as a glob "
                        f"matching {len(matched)} files; rename it without '*', '?' or '['"
                    )
    finally:
        if globber is not None:
            globber.close()


def _parquet_view_sql(paths: Sequence[Path], row_numbers: bool = False) -> str:
    """`SELECT * FROM read_parquet([...])` over the files that have columns, each path quoted as a literal.

    The paths were checked by `_check_query_files` (they exist and no glob reads them as other files).
    """
    readable = []
    for path in paths:
        absolute = os.path.abspath(path)
        # A column-less file (an empty step output) holds no rows and DuckDB cannot read it: skip it.
        if pl.scan_parquet(absolute, glob=False).collect_schema().len():
            readable.append(_sql_string(absolute))
    if not readable:
        return _EMPTY_VIEW_SQL
    numbered = ", file_row_number = true" if row_numbers else ""
    return f"SELECT * FROM read_parquet([{', '.join(readable)}], union_by_name = true{numbered})"


@contextlib.contextmanager
def _bound_views(connection: duckdb.DuckDBPyConnection, query: ParquetQuery) -> Iterator[None]:
    """The query's views, as temporary views that are dropped afterwards (a view may share a table's name)."""
    created: list[str] = []
    try:
        for view, paths in query.files.items():
            view_sql = _parquet_view_sql(paths, query.row_numbers)
            connection.execute(f"CREATE OR REPLACE TEMP VIEW {_sql_identifier(view)} AS {view_sql}")
            created.append(view)
        yield
    finally:
        for view in created:
            connection.execute(f"DROP VIEW IF EXISTS temp.main.{_sql_identifier(view)}")


def _typed_select(connection: duckdb.DuckDBPyConnection, select: str) -> str:
    """`select`, with columns of DuckDB type NULL (all-null everywhere) cast to text, as `_storable` does."""
    described = connection.execute(f"DESCRIBE {select}").fetchall()
    nulls = [row[0] for row in described if row[1] == '"NULL"']
    if not nulls:
        return select
    casts = ", ".join(f"CAST({_sql_identifier(c)} AS VARCHAR) AS {_sql_identifier(c)}" for c in nulls)
    return f"SELECT * REPLACE ({casts}) FROM ({select}\n)"  # newline: `select` may end in a -- comment


def _create_from_query(connection: duckdb.DuckDBPyConnection, name: str, query: ParquetQuery) -> None:
    select = _single_select(name, query.sql)
    try:
        with _bound_views(connection, query):
            connection.execute(f'CREATE TABLE "{name}" AS {_typed_select(connection, select)}')
    except duckdb.Error as exc:
        exc.add_note(
            f"while publishing table {name!r} from a ParquetQuery over views {', '.join(query.files)}"
        )
        raise


def materialize(table: Table, columns: Sequence[str] | None = None) -> pl.DataFrame:
    """A table as a polars DataFrame: a DataFrame as is, a ParquetQuery run by an in-memory DuckDB.

    For gates that need a table's rows; `columns` keeps only those (and for a ParquetQuery, reads only those).
    Loads the whole result into memory: ask for the columns you need.
    """
    if isinstance(table, pl.DataFrame):
        return table if columns is None else table.select(list(columns))
    if not isinstance(table, ParquetQuery):
        raise TypeError(f"cannot materialize a {type(table).__name__}: expected a DataFrame or ParquetQuery")
    _check_query_files("materialized ParquetQuery", table)
    select = _single_select("materialized ParquetQuery", table.sql)
    if columns is not None:
        select = f"SELECT {', '.join(_sql_identifier(c) for c in columns)} FROM ({select}\n)"
    connection = duckdb.connect()
    try:
        with _bound_views(connection, table):
            return connection.sql(select).pl()
    finally:
        connection.close()


def _snapshot_connection(building: Path, memory_limit: str, spill_dir: Path) -> duckdb.DuckDBPyConnection:
    """A connection that builds the snapshot's database file."""
    connection = duckdb.connect(
        str(building / SNAPSHOT_DATABASE),
        config={
            "memory_limit": memory_limit,
            "temp_directory": str(spill_dir),
            "preserve_insertion_order": False,
        },
    )
    # A parallel load leaves partly filled row groups; a checkpoint's vacuum would merge them by rewriting the
    # whole table (seconds on a million records, its old blocks left free in the file). A snapshot is written
    # once and read as is, so it keeps them (a DuckDB without the setting is left as it is).
    vacuum = "SELECT count(*) FROM duckdb_settings() WHERE name = 'max_vacuum_tasks'"
    if connection.execute(vacuum).fetchall()[0][0]:
        connection.execute("SET max_vacuum_tasks = 0")
    return connection


def _copy_and_summarize(
    cursor: duckdb.DuckDBPyConnection, name: str, target: Path
) -> tuple[int, str, float]:
    """Write a stored table's Parquet copy and hash it, on its own cursor: (row count, content hash, seconds)."""
    clock = time.perf_counter()
    try:
        cursor.execute(f'COPY "{name}" TO {_sql_string(str(target))} ({PARQUET_COPY_OPTIONS})')
        rows, digest = _content_summary(cursor, name)
    finally:
        cursor.close()
    return rows, digest, time.perf_counter() - clock


def _write_tables(
    building: Path, tables: Mapping[str, Table], memory_limit: str, seconds: dict[str, float] | None = None
) -> tuple[dict[str, int], dict[str, str]]:
    parquet_dir = building / SNAPSHOT_PARQUET_DIR
    parquet_dir.mkdir(parents=True)
    spill_dir = building / SPILL_DIR
    summaries: dict[str, tuple[int, str]] = {}
    load_seconds: dict[str, float] = {}
    frames = {name: _storable(t) for name, t in tables.items() if isinstance(t, pl.DataFrame)}
    # A second thread writes the Parquet copies while DuckDB loads the next table: polars writes a DataFrame's,
    # and a ParquetQuery's is copied by DuckDB from the stored table (its rows never in Python memory) and
    # hashed there, on a second cursor. Each of these takes seconds on big tables and releases the GIL.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="parquet") as writer:
        written = [
            writer.submit(frame.write_parquet, parquet_dir / f"{name}.parquet")
            for name, frame in frames.items()
        ]
        copies: dict[str, Future[tuple[int, str, float]]] = {}
        connection = _snapshot_connection(building, memory_limit, spill_dir)
        try:
            for name, table in tables.items():
                clock = time.perf_counter()
                if isinstance(table, ParquetQuery):
                    _create_from_query(connection, name, table)
                    target = parquet_dir / f"{name}.parquet"
                    copies[name] = writer.submit(_copy_and_summarize, connection.cursor(), name, target)
                else:
                    connection.register("incoming_frame", frames[name])
                    connection.execute(f'CREATE TABLE "{name}" AS SELECT * FROM incoming_frame')
                    connection.unregister("incoming_frame")
                    summaries[name] = _content_summary(connection, name)
                load_seconds[name] = time.perf_counter() - clock
            copy_seconds: dict[str, float] = {}
            for name, copy in copies.items():
                rows, digest, copy_seconds[name] = copy.result()  # a failed copy fails the publish
                summaries[name] = (rows, digest)
            clock = time.perf_counter()
            connection.execute("CHECKPOINT")
            checkpoint_seconds = time.perf_counter() - clock
            if seconds is not None:
                for name in tables:
                    seconds[name] = round(load_seconds[name], 2)
                    if name in copy_seconds:
                        seconds[f"{name} copy"] = round(copy_seconds[name], 2)
                seconds["checkpoint"] = round(checkpoint_seconds, 2)
        finally:
            wait(copies.values())  # a cursor must not outlive its connection
            connection.close()
        for future in written:
            future.result()  # a failed Parquet write fails the publish
    shutil.rmtree(spill_dir, ignore_errors=True)
    row_counts = {name: summaries[name][0] for name in tables}
    hashes = {name: summaries[name][1] for name in tables}
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


class StaleRunError(StoreError):
    """A run's `as_of` is older than the live snapshot's: it would replace newer data (refused by default)."""


def lock_timeout_seconds() -> float:
    """The publish lock's wait: `SACHSONG_PUBLISH_LOCK_TIMEOUT` seconds, else DEFAULT_LOCK_TIMEOUT."""
    try:
        return max(float(os.environ.get("SACHSONG_PUBLISH_LOCK_TIMEOUT", DEFAULT_LOCK_TIMEOUT)), 0.0)
    except ValueError:
        return DEFAULT_LOCK_TIMEOUT


def _describe_holder(fd: int) -> str:
    try:
        holder = json.loads(os.pread(fd, 4096, 0).decode("utf-8") or "{}")
    except (OSError, ValueError):
        holder = {}
    if not holder:
        return "a publisher that did not say who it is"
    return f"pid {holder.get('pid')} on {holder.get('host')}, run {holder.get('run_id')}, since {holder.get('since')}"


@contextlib.contextmanager
def publish_lock(store_dir: Path, timeout: float | None = None, run_id: str | None = None) -> Iterator[None]:
    """Serialise publishers of one store (two nightly runs of one province must not interleave).

    Waits with a growing back-off for at most `timeout` seconds, then raises StoreBusyError naming the holder
    (its pid, host, run id and start time, written into the lock file while it holds it).
    """
    timeout = lock_timeout_seconds() if timeout is None else timeout
    path = Path(store_dir) / PUBLISH_LOCK
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        deadline = time.monotonic() + timeout
        delay = 0.05
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise StoreBusyError(
                        f"{path}: waited {timeout:g} s for the publish lock, held by {_describe_holder(fd)}; "
                        f"run {run_id} not published (SACHSONG_PUBLISH_LOCK_TIMEOUT sets the wait)"
                    ) from None
                time.sleep(min(delay, remaining))
                delay = min(delay * 2, 2.0)
        holder = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "run_id": run_id,
            "since": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(holder).encode("utf-8"), 0)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _as_of(value: Any) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str) and value:
        try:
            return date.fromisoformat(value[:10])
        except ValueError:
            return None
    return None


def _check_not_older(run_id: str, run: Mapping[str, Any], live: dict[str, Any] | None) -> None:
    if live is None:
        return
    incoming, current = _as_of(run.get("as_of")), _as_of(live.get("as_of"))
    if incoming is not None and current is not None and incoming < current:
        raise StaleRunError(
            f"run {run_id} (as of {incoming.isoformat()}) is older than the live snapshot {live.get('run_id')} "
            f"(as of {current.isoformat()}): CURRENT left on {live.get('run_id')}; publish with "
            "replace_newer=True to replace newer data with older"
        )


# One run id per line, appended once `CURRENT` names it: tells a snapshot that was ever live (immutable,
# even after an operator rolls CURRENT back) from one its run built and then failed to switch to (rebuilt on retry).
LIVE_LOG = ".live_runs"


def _mark_live(store_dir: Path, run_id: str) -> None:
    fd = os.open(Path(store_dir) / LIVE_LOG, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        os.write(fd, f"{run_id}\n".encode())
        os.fsync(fd)
    finally:
        os.close(fd)


def _went_live(store_dir: Path, run_id: str, live_id: str | None) -> bool:
    """Whether snapshot `run_id` is or was ever live (CURRENT names it, the live log or a later manifest does)."""
    if live_id == run_id:
        return True
    try:
        logged = (Path(store_dir) / LIVE_LOG).read_text(encoding="utf-8").split()
    except FileNotFoundError:
        logged = []
    if run_id in logged:
        return True
    # Stores published before the live log existed: a later snapshot names it as the one it replaced.
    return any(manifest.get("previous_run_id") == run_id for _, manifest in _published_snapshots(store_dir))


def publish_snapshot(
    store_dir: str | Path,
    tables: Mapping[str, Table],
    run: Mapping[str, Any],
    gate: Gate | None = None,
    keep: int = DEFAULT_KEEP,
    before_switch: Callable[[Mapping[str, Any]], None] | None = None,
    memory_limit: str = DEFAULT_MEMORY_LIMIT,
    *,
    replace_newer: bool = False,
    lock_timeout: float | None = None,
) -> PublishResult:
    """Publish `tables` as snapshot `run["run_id"]`; switch `CURRENT` to it only if the gate passes.

    `run` must carry `run_id`; its other JSON-serialisable fields (province_code, as_of, ...) go into the
    snapshot's manifest. `before_switch(manifest)` runs once the snapshot is complete and before `CURRENT` names
    it: the flow records the run in history there, so a crash can never leave a live snapshot that history does
    not know. If it raises, the snapshot is removed and `CURRENT` is not switched.

    Retrying a run id is safe: a snapshot of that id that never went live is rebuilt; one that is live with the
    same content hashes is returned as published (nothing switched, `before_switch` not called again). A run id
    that went live with other content, or was replaced since, raises FileExistsError (snapshots are immutable).
    A run whose `as_of` is older than the live snapshot's raises StaleRunError before any work unless
    `replace_newer`. Waits at most `lock_timeout` seconds for another publisher (StoreBusyError).

    Each table is a polars DataFrame or a `ParquetQuery` (streamed by DuckDB within `memory_limit`, spilling
    inside the building snapshot). The gate receives `tables` as given. Everything written is private to the
    store's owner (directories 0700, files 0600).
    """
    store_dir = Path(store_dir)
    run_id = check_run_id(run.get("run_id"))
    if not tables:
        raise ValueError("publish_snapshot needs at least one table")
    for name, table in tables.items():
        check_table_name(name)
        if isinstance(table, ParquetQuery):
            _single_select(name, table.sql)
            _check_query_files(name, table)
        elif not isinstance(table, pl.DataFrame):
            raise TypeError(
                f"table {name!r} is a {type(table).__name__}, expected a polars DataFrame or a ParquetQuery"
            )
    make_private_store(store_dir)
    make_private_dir(snapshots_dir(store_dir))

    with private_files(), publish_lock(store_dir, lock_timeout, run_id):
        final = snapshot_dir(store_dir, run_id)
        _remove_abandoned_builds(store_dir)
        previous_id = current_run_id(store_dir)
        previous = read_manifest(snapshot_dir(store_dir, previous_id)) if previous_id else None
        existing: dict[str, Any] | None = None
        if final.exists():
            if not (final / SNAPSHOT_MANIFEST).is_file() or not _went_live(store_dir, run_id, previous_id):
                # This run built it, then failed before it went live (history locked, a crash): start again.
                shutil.rmtree(final)
                fsync_dir(final.parent)
            elif previous_id != run_id:
                raise FileExistsError(
                    f"{final} already exists and was replaced by later snapshots: snapshots are immutable, "
                    "use a new run id"
                )
            else:
                existing = read_manifest(final)
        if existing is None and not replace_newer:
            _check_not_older(run_id, run, previous)

        building = final.with_name(final.name + BUILDING_SUFFIX)
        building.mkdir()
        try:
            seconds: dict[str, float] = {}
            row_counts, hashes = _write_tables(building, tables, memory_limit, seconds)
            if existing is not None:
                shutil.rmtree(building)
                if existing.get("table_hashes") != hashes:
                    raise FileExistsError(
                        f"{final} is live with other content: snapshots are immutable, use a new run id"
                    )
                # The same run published again (a retry after it went live): nothing to do.
                return PublishResult(
                    run_id,
                    "published",
                    final,
                    row_counts,
                    hashes,
                    None,
                    existing.get("previous_run_id"),
                    [],
                )
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
            clock = time.perf_counter()
            fsync_tree(building)
            seconds["sync"] = round(time.perf_counter() - clock, 2)
            os.rename(building, final)
            fsync_dir(final.parent)
        except BaseException:
            shutil.rmtree(building, ignore_errors=True)
            raise
        if before_switch is not None:
            try:
                before_switch(manifest)
            except BaseException:
                # History does not know it (locked, full): leave no snapshot behind; a retry rebuilds it.
                shutil.rmtree(final, ignore_errors=True)
                fsync_dir(final.parent)
                raise
        try:
            switch_current(store_dir, run_id)
        except BaseException:
            if current_run_id(store_dir) != run_id:  # never live: a retry rebuilds it
                shutil.rmtree(final, ignore_errors=True)
                fsync_dir(final.parent)
            raise
        _mark_live(store_dir, run_id)
        pruned = prune_snapshots(store_dir, keep=keep)
    return PublishResult(
        run_id, "published", final, row_counts, hashes, gate_result, previous_id, pruned, seconds
    )

"""Where things live inside a store directory, and the small file-system primitives publishing relies on.

A store directory holds:
- `CURRENT` — one line, the run id of the live snapshot (switched atomically with `os.replace`);
- `snapshots/<run_id>/` — `store.duckdb` (every table), `parquet/<table>.parquet`, `manifest.json`;
- `history.duckdb` — append-only `runs` and `score_history`;
- `data_docs/` — Great Expectations Data Docs of the publish gate;
- `reports/` — the scorecard site.

The store holds personal data: everything the store writes is private to its owner (directories 0700, files
0600), whatever the process umask.
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
from collections.abc import Iterator
from pathlib import Path

CURRENT_POINTER = "CURRENT"
SNAPSHOTS_DIR = "snapshots"
SNAPSHOT_DATABASE = "store.duckdb"
SNAPSHOT_PARQUET_DIR = "parquet"
SNAPSHOT_MANIFEST = "manifest.json"
HISTORY_DATABASE = "history.duckdb"
DATA_DOCS_DIR = "data_docs"
REPORTS_DIR = "reports"
BUILDING_SUFFIX = ".tmp"
PUBLISH_LOCK = ".publish.lock"

# Run ids and table names become directory, file and SQL identifiers: keep them to a safe alphabet.
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}$")
_SAFE_TABLE = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


class StoreError(RuntimeError):
    """The store directory is missing something a reader or publisher needs."""


class StoreBusyError(StoreError):
    """Another process held a store file (the history, the publish lock) longer than this one would wait."""


PRIVATE_UMASK = 0o077
_umask_guard = threading.Lock()
_umask_depth = 0
_umask_saved = 0


@contextlib.contextmanager
def private_files() -> Iterator[None]:
    """Files and directories created inside are 0600/0700 (DuckDB and polars create theirs with the umask).

    The umask is per process: nested and concurrent uses share one count, and the first one in saves the
    process's umask that the last one out restores.
    """
    global _umask_depth, _umask_saved
    with _umask_guard:
        if _umask_depth == 0:
            _umask_saved = os.umask(PRIVATE_UMASK)
        _umask_depth += 1
    try:
        yield
    finally:
        with _umask_guard:
            _umask_depth -= 1
            if _umask_depth == 0:
                os.umask(_umask_saved)


def make_private_store(store_dir: Path) -> Path:
    """The store directory, created 0700 or, when it exists and this user owns it, narrowed to 0700.

    It holds personal data: a store created by an earlier version (or by `mkdir` before the first run, as the
    flow's work folder does) must not stay readable by every account on the machine.
    """
    store_dir = make_private_dir(Path(store_dir))
    status = store_dir.stat()
    if status.st_uid == os.getuid() and status.st_mode & 0o077:
        os.chmod(store_dir, 0o700)
    return store_dir


def make_private_dir(path: Path) -> Path:
    """Create `path` (and missing parents) as 0700; an existing directory is left as its owner set it."""
    path = Path(path)
    missing = []
    probe = path
    while not probe.exists() and probe != probe.parent:
        missing.append(probe)
        probe = probe.parent
    for directory in reversed(missing):
        try:
            directory.mkdir(mode=0o700)
        except FileExistsError:  # created meanwhile by a concurrent publisher
            continue
        os.chmod(directory, 0o700)  # mkdir's mode is filtered by the umask; this is exact
    return path


def check_run_id(run_id: str) -> str:
    if not isinstance(run_id, str) or not _SAFE_NAME.match(run_id) or run_id.endswith(BUILDING_SUFFIX):
        raise ValueError(
            f"run id {run_id!r} is not usable as a snapshot name (letters, digits, '_', '-', '.'; "
            f"not ending in {BUILDING_SUFFIX})"
        )
    return run_id


def check_table_name(name: str) -> str:
    if not isinstance(name, str) or not _SAFE_TABLE.match(name):
        raise ValueError(f"table name {name!r} must be lower-case letters, digits and '_' (SQL identifier)")
    return name


def snapshots_dir(store_dir: Path) -> Path:
    return Path(store_dir) / SNAPSHOTS_DIR


def snapshot_dir(store_dir: Path, run_id: str) -> Path:
    return snapshots_dir(store_dir) / check_run_id(run_id)


def fsync_file(path: Path) -> None:
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def fsync_dir(path: Path) -> None:
    """Make a directory's entries (creations, renames) durable; a no-op where directories cannot be opened."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def fsync_tree(root: Path) -> None:
    """fsync every file, then every directory bottom-up, so a rename of `root` publishes durable content."""
    directories = []
    for dirpath, _dirnames, filenames in os.walk(root):
        directories.append(Path(dirpath))
        for filename in filenames:
            fsync_file(Path(dirpath) / filename)
    for directory in reversed(directories):
        fsync_dir(directory)


def write_text_atomically(path: Path, text: str) -> None:
    """Write `path` through `path.tmp` + fsync + `os.replace`: readers see the old or the new text, never half."""
    path = Path(path)
    staging = path.with_name(path.name + BUILDING_SUFFIX)
    with open(staging, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(staging, path)
    fsync_dir(path.parent)

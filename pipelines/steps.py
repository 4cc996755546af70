"""The steps of a province's night: each calls one room and logs what it did in row counts and seconds (never
names, phones or IDs). Plain functions: `pipelines.province.run_province` calls them in order, directly or as
Prefect tasks (`pipelines.flows`).

Steps hand each other *paths*, not frames: every compute step writes its output tables as Parquet under the
store's work folder (`<store>/.work/<step>/<key>/`) and returns a small `StepOutput` (the folder, row counts,
seconds). Nothing big is pickled between tasks or into Prefect's result storage, and a Dask or process worker
reads only what its step needs.

Resume: `key` is a fingerprint of the step's inputs — the SHA-256 of the export files, of the rooms' code and rule
packs, and of the upstream steps' keys — never of the frames themselves (hashing a million rows to build a key
would cost more than some steps). A step whose folder already exists is reused, so a rerun after a failure
finds ingest, standardize, checks and matching done and resumes at the step that failed; a changed file re-runs
only its batch and what follows. Folders appear by an atomic rename, so a crash never leaves half a step.
Publish, history and report always run.

Under Prefect, the I/O steps (publish, history, report) retry twice, and only on I/O errors (`is_io_error`) — a
room's ValueError about bad data would fail the same way again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import shutil
import stat
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from sachsong.matching.keys import REQUIRED_COLUMNS
from sachsong.matching.review import SHOWN_FIELDS
from sachsong.resources import duckdb_memory_limit
from sachsong.spec import get_dataset
from sachsong.store.publish import ParquetQuery
from sachsong.tableio import stack_single_chunk

WORK_DIR = ".work"
STEP_MANIFEST = "step.json"
CACHE_EXPIRATION = timedelta(days=7)
# Room packages whose code and data (rule packs, YAML registries) decide what a step's output contains.
CODE_ROOMS = (
    "sachsong",
    "sachsong.sources",
    "sachsong.standardize",
    "sachsong.rules",
    "sachsong.matching",
    "sachsong.datasets",
)
# Modules outside those rooms whose own code computes what a kept step output holds (the prepare step's shares,
# the matching step's selection of records): a change there is a change of the outputs too.
CODE_MODULES = ("sachsong.pipelines.steps",)
# Work files are read back once or twice within hours: LZ4 writes and reads several times faster than zstd.
WORK_COMPRESSION = "lz4"
# About 250k canonical rows per batch: ~250 bytes per record in the demo's CSV/XLSX/JSON exports.
BATCH_BYTES = 64 * 1024 * 1024


# ------------------------------------------------------------------------------------------- fingerprints
def file_fingerprint(path: Path, chunk: int = 1 << 20) -> str:
    """SHA-256 of a regular file's bytes. Opened without following a link and without blocking, so a FIFO or a
    link swapped in after the walk raises OSError instead of hanging or reading outside the folder."""
    digest = hashlib.sha256()
    descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0))
    with os.fdopen(descriptor, "rb") as handle:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            raise OSError(f"{path.name}: not a regular file")
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def code_fingerprint() -> str:
    """SHA-256 over the rooms' Python files and rule/registry YAML, and the step code (CODE_MODULES): a code change
    invalidates cached results."""
    import importlib

    digest = hashlib.sha256()
    for module_name in CODE_ROOMS:
        module = importlib.import_module(module_name)
        root = Path(module.__file__).parent
        for path in sorted(root.rglob("*")):
            if path.suffix in (".py", ".yaml", ".yml", ".json") and "__pycache__" not in path.parts:
                digest.update(f"{module_name}/{path.relative_to(root).as_posix()}\0".encode())
                digest.update(path.read_bytes())
    for module_name in CODE_MODULES:
        digest.update(f"{module_name}\0".encode())
        digest.update(Path(importlib.import_module(module_name).__file__).read_bytes())
    return digest.hexdigest()


def step_logger() -> Any:
    """Prefect's run logger inside a flow run (its UI shows the lines), else this module's logger."""
    try:
        from prefect import get_run_logger

        return get_run_logger()
    except Exception:  # outside a Prefect run (MissingContextError): a plain call of the pipeline
        return logging.getLogger("sachsong.pipeline")


def combine_fingerprints(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode("utf-8")).hexdigest()


ROOM_MODULES = (
    "numpy",
    "pandas",  # the publish gate (Great Expectations) imports it on a thread beside the last checks
    "sachsong.sources.ingest",
    "sachsong.standardize.residents",
    "sachsong.rules.engine",
    "sachsong.matching.dedupe",
)


# Fixed costs of every run that a small night would wait for, paid on threads of their own while the exports are
# read: the publish gate's library (seconds to import), and the tables the address standardizer builds on its
# first lookup (which each batch's thread would otherwise build at once, twice the work).
BACKGROUND_MODULES = ("great_expectations",)
WARM_UPS = ("sachsong.standardize.address:warm_up",)
_warmed = threading.Event()
_warmed.set()
WARM_UP_WAIT_SECONDS = 120.0


def import_rooms() -> None:
    """Import the rooms in the calling thread before tasks run on threads: parallel first imports of the same
    C extensions race (a batch failed with "numpy._core.multiarray failed to import" in a fresh process). The
    warm-ups and the gate's library run on threads of their own meanwhile (`wait_for_warm_up`)."""
    import importlib

    for name in ROOM_MODULES:
        importlib.import_module(name)

    def imports() -> None:
        for name in BACKGROUND_MODULES:
            try:
                importlib.import_module(name)
            except Exception:  # the gate imports it again and reports the error where it matters
                return

    def warm_ups() -> None:
        try:
            for target in WARM_UPS:
                module, function = target.split(":")
                getattr(importlib.import_module(module), function)()
        except Exception as error:  # the batches build what they need themselves, and report any error
            logging.getLogger("sachsong.pipeline").warning("warm-up failed: %s", type(error).__name__)
        finally:
            _warmed.set()

    if _warmed.is_set():
        _warmed.clear()
        threading.Thread(target=warm_ups, name="warm-up", daemon=True).start()
    threading.Thread(target=imports, name="import-gate", daemon=True).start()


def wait_for_warm_up() -> None:
    """Before a batch's first standardization: let the warm-up finish instead of building the same tables."""
    _warmed.wait(WARM_UP_WAIT_SECONDS)


def is_io_error(task: Any, task_run: Any, state: Any) -> bool:
    try:
        state.result()
    except (OSError, duckdb.IOException):
        return True
    except Exception:
        return False
    return False


# ------------------------------------------------------------------------------------- batches of exports
def plan_batches(
    sizes: Mapping[str, int], workers: int = 2, batch_bytes: int = BATCH_BYTES
) -> list[list[str]]:
    """Cut the export files (in ingest's walk order, with their sizes in bytes) into contiguous batches of about
    equal size: max(2 × workers, total / batch_bytes) of them, never more than there are files.

    Contiguous runs keep the concatenated batches in the order a whole-folder ingest gives, so `row_uid`s do not
    depend on how many batches there were; two per worker keep both cores busy when batches differ in cost.
    """
    names = list(sizes)
    if not names:
        return []
    total = sum(max(0, int(size)) for size in sizes.values())
    count = min(len(names), max(2 * max(1, workers), math.ceil(total / batch_bytes)))
    batches: list[list[str]] = [[] for _ in range(count)]
    filled = 0
    for position, name in enumerate(names):
        size = max(0, int(sizes[name]))
        # A file goes to the batch whose share of the bytes holds its middle (equal file counts without sizes).
        middle = (filled + size / 2) / total if total else (position + 0.5) / len(names)
        batches[min(count - 1, int(middle * count))].append(name)
        filled += size
    return [batch for batch in batches if batch]  # a file bigger than a share leaves a neighbour empty


# -------------------------------------------------------------------------------------- step outputs on disk
@dataclass(frozen=True)
class StepOutput:
    """A finished step: the folder holding its tables (`<name>.parquet`), its counts, and whether it was reused."""

    step: str
    key: str
    directory: str
    counts: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    reused: bool = False

    def path(self, table: str) -> Path:
        return Path(self.directory) / f"{table}.parquet"

    def has(self, table: str) -> bool:
        return self.path(table).is_file()

    def read(self, table: str, columns: Sequence[str] | None = None) -> pl.DataFrame:
        return pl.read_parquet(self.path(table), columns=list(columns) if columns is not None else None)


def step_directory(work_dir: Path, step: str, key: str) -> Path:
    return Path(work_dir) / step / key[:40]


def run_step(
    work_dir: Path,
    step: str,
    key: str,
    compute: Callable[[], tuple[Mapping[str, pl.DataFrame], dict[str, Any]]],
) -> StepOutput:
    """Reuse `<work>/<step>/<key>/` when it exists, else run `compute` (→ tables, counts) and store its tables.

    The folder is built under a temporary name and renamed into place, so it exists only when complete.
    """
    reused = reuse_step_output(work_dir, step, key)
    if reused is not None:
        return reused
    clock = time.perf_counter()
    tables, counts = compute()
    seconds = round(time.perf_counter() - clock, 3)
    return store_step_output(work_dir, step, key, tables, counts, seconds)


def store_step_output(
    work_dir: Path, step: str, key: str, tables: Mapping[str, pl.DataFrame], counts: dict[str, Any], seconds: float
) -> StepOutput:
    """Write a step's tables and manifest to `<work>/<step>/<key>/`, built under a temporary name and renamed
    into place (a concurrent run that finished the same step first wins; its output is the same)."""
    directory = step_directory(work_dir, step, key)
    manifest = directory / STEP_MANIFEST
    building = directory.with_name(f"{directory.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    building.mkdir(parents=True)
    try:
        for name, frame in tables.items():
            frame.write_parquet(building / f"{name}.parquet", compression=WORK_COMPRESSION, statistics=False)
        (building / STEP_MANIFEST).write_text(
            json.dumps(
                {"step": step, "key": key, "counts": counts, "seconds": seconds, "tables": list(tables)},
                default=str,
            ),
            encoding="utf-8",
        )
        try:
            os.rename(building, directory)
        except OSError:
            if not manifest.is_file():  # not a concurrent run that finished the same step first
                raise
            shutil.rmtree(building, ignore_errors=True)
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise
    return StepOutput(step, key, str(directory), counts, seconds, reused=False)


def reuse_step_output(work_dir: Path, step: str, key: str) -> StepOutput | None:
    """The finished output of `<work>/<step>/<key>/` (its last use recorded, for pruning), or None: none kept,
    or a damaged one (a manifest that does not parse, a table it lists missing or without a readable Parquet
    footer), which is deleted so the step runs again: a broken cache costs a recompute, never the night."""
    directory = step_directory(work_dir, step, key)
    manifest = directory / STEP_MANIFEST
    if not manifest.is_file():
        if directory.exists():  # a folder without its manifest: damaged, in the way of the new one
            _discard_damaged(directory, "its manifest is missing")
        return None
    try:
        recorded = json.loads(manifest.read_text(encoding="utf-8"))
        counts, seconds = recorded["counts"], recorded["seconds"]
        for table in recorded.get("tables", [path.stem for path in directory.glob("*.parquet")]):
            pl.read_parquet_schema(directory / f"{table}.parquet")  # the footer: a truncated file has none
    except Exception as error:  # JSON, key, OS and Parquet errors alike: the folder cannot be trusted
        _discard_damaged(directory, type(error).__name__)
        return None
    os.utime(manifest)
    return StepOutput(step, key, str(directory), counts, seconds, reused=True)


def _discard_damaged(directory: Path, why: str) -> None:
    logging.getLogger("sachsong.pipeline").warning(
        "work folder %s/%s is damaged (%s): computed again", directory.parent.name, directory.name[:12], why
    )
    shutil.rmtree(directory, ignore_errors=True)


def prune_work(work_dir: Path, max_age: timedelta = CACHE_EXPIRATION) -> int:
    """Delete step folders unused for `max_age` (and abandoned temporary ones) so the store does not grow
    without bound. Returns how many were deleted."""
    work_dir = Path(work_dir)
    if not work_dir.is_dir():
        return 0
    cutoff = time.time() - max_age.total_seconds()
    deleted = 0
    for step in work_dir.iterdir():
        if not step.is_dir():
            continue
        for directory in step.iterdir():
            stamp = directory / STEP_MANIFEST
            try:
                last_used = (stamp if stamp.is_file() else directory).stat().st_mtime
            except FileNotFoundError:
                continue
            if last_used < cutoff:
                shutil.rmtree(directory, ignore_errors=True)
                deleted += 1
    return deleted


def load_standardized(batches: Sequence[StepOutput], columns: Sequence[str] | None = None) -> pl.DataFrame:
    """The province's standardized records: the batches stacked in order, `row_uid` renumbered table-wide.

    Only `columns` (and `row_uid`) are read from the batch files: a step reads what it uses instead of holding
    the whole province (≈0.6 GB per million records resident with every column) from one step to the next.
    """
    return _stack_batches(batches, columns)


def _stack_batches(
    batches: Sequence[StepOutput], columns: Sequence[str] | None, keep: pl.Series | None = None
) -> pl.DataFrame:
    """The batches stacked with table-wide `row_uid`s; only the rows whose `row_uid` is in `keep` (sorted) when
    given, filtered batch by batch so the rows left out are never held together."""
    wanted = None if columns is None else list(dict.fromkeys(["row_uid", *columns]))
    pieces, start = [], 0
    for batch in batches:
        frame = batch.read("standardized", wanted)
        end = start + frame.height
        frame = frame.with_columns(pl.int_range(start, end, dtype=pl.Int64).alias("row_uid"))
        if keep is not None:
            first, last = keep.search_sorted(start), keep.search_sorted(end)
            mine = keep.slice(first, last - first)
            frame = frame.join(mine.to_frame("row_uid"), on="row_uid", how="semi", maintain_order="left")
        pieces.append(frame)
        start = end
    return stack_single_chunk(pieces)


def batch_offsets(batches: Sequence[StepOutput]) -> list[tuple[Path, int, int]]:
    """(standardized Parquet file, the table-wide `row_uid` of its first row, its rows) per batch, from file
    metadata: what a query over the batch files adds to a row's position in its file to get its `row_uid`."""
    offsets, start = [], 0
    for batch in batches:
        path = batch.path("standardized")
        rows = pl.scan_parquet(path).select(pl.len()).collect().item()
        offsets.append((path, start, rows))
        start += rows
    return offsets


def load_passed(
    checks: StepOutput, batches: Sequence[StepOutput], columns: Sequence[str] | None = None
) -> pl.DataFrame:
    """The records a check step passed (it stores their ids), with `columns` only when given."""
    uids = checks.read("passed_uids").get_column("row_uid").cast(pl.Int64).sort()
    return _stack_batches(batches, columns, keep=uids)


PUBLISHABLE = "publishable"


KEY_COLUMNS = ("record_key", "key_kind")


def with_record_keys(records: pl.DataFrame, checks: StepOutput) -> pl.DataFrame:
    """The records with their stable `record_key` (and `key_kind`), computed province-wide by the check step."""
    keys = checks.read("record_keys")
    return records.join(keys, on="row_uid", how="left", maintain_order="left")


def load_matchable(
    checks: StepOutput, batches: Sequence[StepOutput], columns: Sequence[str] | None = None
) -> pl.DataFrame:
    """What matching reads: the passed records and those quarantined for a field (their person must still be
    findable), with a Boolean `publishable` column (passed) and their record keys. A record whose standardized
    values broke the table's contract is left out: its values are not trustworthy enough to link on."""
    passed = checks.read("passed_uids").get_column("row_uid").cast(pl.Int64)
    quarantine = checks.read("quarantine", ["row_uid", "reasons"])
    linkable = quarantine.filter(
        ~pl.col("reasons").list.eval(pl.element().str.starts_with("contract_")).list.any().fill_null(False)
    ).get_column("row_uid").cast(pl.Int64)
    uids = pl.concat([passed, linkable]).sort()
    stored = None if columns is None else [c for c in columns if c not in KEY_COLUMNS]
    records = with_record_keys(_stack_batches(batches, stored, keep=uids), checks)
    return records.with_columns(pl.col("row_uid").is_in(passed.implode()).alias(PUBLISHABLE))


def with_date_order(file_counts: pl.DataFrame, standardized: pl.DataFrame) -> pl.DataFrame:
    """Ingest's per-file counts plus the date order the standardizer decided for each file (`dob_order`)."""
    if "dob_order" not in standardized.columns or "source_file" not in standardized.columns:
        return file_counts.with_columns(pl.lit(None, pl.String).alias("dob_order"))
    orders = standardized.group_by("source_file").agg(pl.col("dob_order").drop_nulls().first())
    return file_counts.join(orders, on="source_file", how="left", maintain_order="left")


def move_to_rejected(file_counts: pl.DataFrame, rejects: pl.DataFrame) -> pl.DataFrame:
    """Ingest's per-file counts after some read rows were rejected later (rows_out → rows_rejected)."""
    moved = rejects.group_by("source_file").agg(pl.len().cast(pl.Int64).alias("_moved"))
    return (
        file_counts.join(moved, on="source_file", how="left", maintain_order="left")
        .with_columns(pl.col("_moved").fill_null(0))
        .with_columns(
            (pl.col("rows_out") - pl.col("_moved")).alias("rows_out"),
            (pl.col("rows_rejected") + pl.col("_moved")).alias("rows_rejected"),
        )
        .drop("_moved")
    )


def _sum(frame: pl.DataFrame, column: str) -> int:
    return int(frame.get_column(column).sum() or 0) if frame.height else 0


# ------------------------------------------------------------------------------- ingest + standardize (batch)
FILE_STEP = "prepare-file"  # one export file's share of a batch, reused on a later night while its key holds


def prepare_file_key(code: str, registry: str, name: str, digest: str, source_id: str) -> str:
    """What one export's standardized rows, rejects and counts depend on: the code and rule packs, the source
    registry, the file's name and bytes, and the source id it gets (which other files' names can change)."""
    return combine_fingerprints(code, registry, "file", name, digest, source_id)


def _ingest_and_standardize(
    spec: Any, sources: str, files: list[str], label: str
) -> tuple[dict[str, pl.DataFrame], dict[str, Any]]:
    """Ingest `files` and standardize their rows; refuse an unbalanced ingest. → tables, isolation facts."""
    from sachsong.sources.ingest import ingest_files
    from sachsong.standardize.isolate import run_isolating

    clock = time.perf_counter()
    ingested = ingest_files(Path(sources), files, dataset=spec)
    if not ingested.balanced():
        raise ValueError(
            f"ingest of {label} under {sources} is not balanced (rows in != rows out + rejected):\n"
            f"{ingested.describe()}"
        )
    ingest_seconds = time.perf_counter() - clock
    wait_for_warm_up()
    clock = time.perf_counter()
    # A value that makes the standardizer raise costs its own row (a reject naming file and row), not the
    # batch and with it the night.
    isolated = run_isolating(ingested.table, spec.standardize)
    standardized = isolated.table
    expected = ingested.table.height - isolated.rejects.height
    if standardized.height != expected:
        raise ValueError(
            f"standardize {label}: {expected} rows in but {standardized.height} out; "
            "standardization must keep every row"
        )
    rejects, file_counts = ingested.rejects, ingested.counts
    if isolated.rejects.height:
        rejects = pl.concat([rejects, isolated.rejects], how="vertical_relaxed")
        file_counts = move_to_rejected(file_counts, isolated.rejects)
    file_counts = with_date_order(file_counts, standardized)
    isolated_per_file = dict(isolated.rejects.group_by("source_file").len().rows()) if isolated.rejects.height else {}
    facts = {
        "isolated": {str(name): int(n) for name, n in isolated_per_file.items()},
        "isolation_errors": list(isolated.error_types),
        "ingest_seconds": round(ingest_seconds, 3),
        "standardize_seconds": round(time.perf_counter() - clock, 3),
    }
    return {"standardized": standardized, "rejects": rejects, "counts": file_counts}, facts


PREPARED_TABLES = ("standardized", "rejects", "counts")


def _read_file_share(
    work: Path, name: str, key: str
) -> tuple[dict[str, pl.DataFrame], dict[str, Any]] | None:
    """A file's share kept by an earlier night (its tables and counts), or None: none kept, or a damaged one
    (deleted, and the file read again: a broken cache costs a re-read, never the night)."""
    try:
        output = reuse_step_output(work, FILE_STEP, key)
        if output is None:
            return None
        tables = {table: output.read(table) for table in PREPARED_TABLES}
        # A share is this export's and no other's (folders swapped or copied over are not trusted).
        if tables["counts"]["source_file"].to_list() != [name] or any(
            (frame["source_file"] != name).any() for frame in (tables["standardized"], tables["rejects"])
        ):
            raise ValueError("it holds another export's rows")
        return tables, output.counts
    except Exception as error:  # polars/arrow raise their own types for a garbled Parquet page
        _discard_damaged(step_directory(work, FILE_STEP, key), f"the share of {name}: {type(error).__name__}")
        return None


def _still_as_fingerprinted(sources: str, names: Sequence[str], digests: Mapping[str, str]) -> set[str]:
    """The files among `names` whose bytes are still those their key was made from (after ingest read them);
    all of them when the caller gave no digests to check."""
    if not names or not digests:
        return set(names)
    from sachsong.sources.ingest import source_file_paths

    paths = source_file_paths(Path(sources))
    same = set()
    for name in names:
        try:
            if name in paths and digests.get(name) == file_fingerprint(paths[name]):
                same.add(name)
        except OSError:
            continue
    changed = sorted(set(names) - same)
    if changed:
        step_logger().warning(
            "ingest+standardize: %d file(s) changed while being read or are not regular files: used as read "
            "tonight, not kept for a later night: %s",
            len(changed),
            ", ".join(changed[:10]) + (" …" if len(changed) > 10 else ""),
        )
    return same


def _file_shares(tables: Mapping[str, pl.DataFrame], names: Sequence[str]) -> dict[str, dict[str, pl.DataFrame]]:
    """Each file's rows of every table (empty tables for a file without rows in one)."""
    parts = {
        table: frame.partition_by("source_file", as_dict=True, maintain_order=True)
        for table, frame in tables.items()
    }
    return {
        name: {table: parts[table].get((name,), frame.clear()) for table, frame in tables.items()}
        for name in names
    }


def _stack_files(shares: Sequence[Mapping[str, pl.DataFrame]]) -> dict[str, pl.DataFrame]:
    """The files' tables stacked in order, `row_uid` renumbered as one batch's standardizer numbers it."""
    stacked = {
        table: pl.concat([share[table] for share in shares], how="diagonal_relaxed")
        for table in PREPARED_TABLES
    }
    if "row_uid" in stacked["standardized"].columns:
        stacked["standardized"] = stacked["standardized"].with_columns(
            pl.int_range(pl.len(), dtype=pl.Int64).alias("row_uid")
        )
    return stacked


def prepare_step(
    dataset: str,
    sources: str,
    files: list[str],
    work_dir: str,
    key: str,
    label: str,
    file_keys: Mapping[str, str] | None = None,
    file_digests: Mapping[str, str] | None = None,
) -> StepOutput:
    """Ingest a batch of export files and standardize their rows; refuse an unbalanced ingest.

    With `file_keys` (file → `prepare_file_key`), each file's share is kept under the work folder too, and a
    file whose key is there from an earlier night is not read again: an export unchanged since then costs a
    Parquet read. A file's rows depend only on its key's parts, so the batch is what reading it whole gives.
    `file_digests` (file → the SHA-256 its key holds): a file whose bytes changed while it was being read is
    used tonight as read, but not kept for a later night under a key that does not describe it."""
    spec = get_dataset(dataset)
    work = Path(work_dir)

    def compute() -> tuple[dict[str, pl.DataFrame], dict[str, Any]]:
        reused = {
            name: share
            for name in files
            if file_keys and (share := _read_file_share(work, name, file_keys[name])) is not None
        }
        missing = [name for name in files if name not in reused]
        facts: dict[str, Any] = {"isolated": {}, "isolation_errors": [], "ingest_seconds": 0.0,
                                 "standardize_seconds": 0.0}
        fresh: dict[str, pl.DataFrame] = {}
        if missing:
            fresh, facts = _ingest_and_standardize(spec, sources, missing, label)
        if file_keys:
            shares: dict[str, Mapping[str, pl.DataFrame]] = dict(_file_shares(fresh, missing)) if missing else {}
            unchanged = _still_as_fingerprinted(sources, missing, file_digests or {})
            changed_while_read = sorted(set(missing) - unchanged) if file_digests else []
            for name in missing:
                # A file refused whole may have hit a time limit on a busy night: read it again next time.
                if name not in unchanged or (shares[name]["counts"]["status"] == "failed").any():
                    continue
                isolated = facts["isolated"].get(name, 0)
                store_step_output(work, FILE_STEP, file_keys[name], shares[name], {
                    "rows_isolated": isolated, "isolation_errors": facts["isolation_errors"] if isolated else [],
                }, 0.0)
            for name, (tables_read, recorded) in reused.items():
                shares[name] = tables_read
                facts["isolated"][name] = recorded.get("rows_isolated", 0)
                facts["isolation_errors"] = sorted({*facts["isolation_errors"], *recorded.get(
                    "isolation_errors", [])})
            tables = _stack_files([shares[name] for name in files])
        else:
            tables, changed_while_read = fresh, []
        from sachsong.sources.ingest import failed_files

        standardized, file_counts = tables["standardized"], tables["counts"]
        statuses = (
            dict(standardized.get_column("address_status").value_counts().sort("address_status").rows())
            if "address_status" in standardized.columns
            else {}
        )
        # Where the resolved addresses are: the run checks the province it was asked for against them.
        provinces = (
            dict(
                standardized.filter(pl.col("address_status").is_in(["exact", "fuzzy"]))
                .get_column("province_code")
                .drop_nulls()
                .value_counts()
                .rows()
            )
            if {"province_code", "address_status"} <= set(standardized.columns)
            else {}
        )
        counts = {
            "files": file_counts.height,
            "files_reused": len(reused),
            "rows_in": _sum(file_counts, "rows_in"),
            "rows_read": standardized.height,
            "rows_rejected": _sum(file_counts, "rows_rejected"),
            "rows_isolated": sum(facts["isolated"].values()),
            "date_orders": {
                order: sorted(file_counts.filter(pl.col("dob_order") == order)["source_file"].to_list())
                for order in ("month_first", "mixed")
            },
            "isolation_errors": list(facts["isolation_errors"]),
            "files_failed": file_counts.filter(pl.col("status") == "failed").height,
            "file_errors": failed_files(file_counts),
            "addresses": {str(k): int(v) for k, v in statuses.items()},
            "provinces": {str(k): int(v) for k, v in provinces.items()},
            "ingest_seconds": facts["ingest_seconds"],
            "standardize_seconds": facts["standardize_seconds"],
            "changed_while_read": changed_while_read,
        }
        return tables, counts

    output = reuse_step_output(work, "prepare", key)
    if output is None:
        clock = time.perf_counter()
        tables, counts = compute()
        # Rows read from bytes that changed under the reader are tonight's, never a later night's under this key;
        # nor is a file refused whole (a read limit may be a busy night's). A rerun tonight reads them again.
        stored_key = combine_fingerprints(key, "not-kept", uuid.uuid4().hex) if (
            counts["changed_while_read"] or counts["files_failed"]) else key
        output = store_step_output(work, "prepare", stored_key, tables, counts, round(time.perf_counter() - clock, 3))
    counts = output.counts
    logger = step_logger()
    logger.info(
        "ingest+standardize %s: %d files, %d rows in → %d read + %d rejected; addresses %s; %s",
        label,
        counts["files"],
        counts["rows_in"],
        counts["rows_read"],
        counts["rows_rejected"],
        ", ".join(f"{status}={n}" for status, n in counts["addresses"].items()) or "n/a",
        "reused from a previous run"
        if output.reused
        else f"{counts.get('files_reused', 0)} unchanged files reused, ingest {counts['ingest_seconds']:.1f} s, "
        f"standardize {counts['standardize_seconds']:.1f} s",
    )
    for error in counts["file_errors"]:
        logger.warning("ingest: file rejected whole: %s", error)
    for order, files_in_order in counts.get("date_orders", {}).items():
        if files_in_order:
            logger.warning(
                "ingest+standardize %s: dates read %s in %d file(s): %s",
                label,
                "month-first (a US-locale machine)" if order == "month_first" else
                "in both orders (ambiguous dates left unread)",
                len(files_in_order),
                ", ".join(files_in_order[:20]) + (" …" if len(files_in_order) > 20 else ""),
            )
    if counts.get("rows_isolated"):
        logger.error(
            "standardize %s: %d row(s) made the standardizer raise (%s) and were rejected alone; see rejects",
            label,
            counts["rows_isolated"],
            ", ".join(counts["isolation_errors"]),
        )
    return output


# ---------------------------------------------------------------------------------------------- checks
def check_step(
    dataset: str,
    batches: list[StepOutput],
    as_of: date,
    province_code: str,
    work_dir: str,
    key: str,
    references: Mapping[str, tuple[str, Sequence[str]]] | None = None,
) -> StepOutput:
    """Every rule of the dataset's pack over the standardized records, once. `references`: name → (Parquet file,
    columns) of other registers' published tables a cross-register rule reads."""
    spec = get_dataset(dataset)

    def compute() -> tuple[dict[str, pl.DataFrame], dict[str, Any]]:
        from sachsong.rules.engine import check_standardized, cluster_rules
        from sachsong.standardize.record_keys import add_record_keys

        # Record keys province-wide: a source's rows may sit in several batches, and its repeated keys are
        # numbered across all of them.
        keyed = add_record_keys(load_standardized(batches), spec.content_columns)
        standardized = keyed.frame
        loaded = {name: pl.read_parquet(path, columns=list(cols)) for name, (path, cols) in (references or {}).items()}
        # keep_rows=False: the passed rows come back as their ids only, not as a second copy of the province.
        result = check_standardized(
            standardized,
            as_of,
            spec.pack,
            province_code=province_code,
            keep_rows=False,
            references=loaded,
        )
        findings = pl.concat([result.findings, keyed.findings.cast(result.findings.schema)])
        tables = {"findings": findings, "quarantine": result.quarantine}
        tables["passed_uids"] = result.passed.select("row_uid")
        tables["record_keys"] = standardized.select("row_uid", *KEY_COLUMNS)
        by_criterion = (
            findings.group_by("criterion", "severity").len().sort("criterion", "severity").rows()
            if findings.height
            else []
        )
        counts = {
            "records": standardized.height,
            "passed": result.passed.height,
            "quarantined": result.quarantine.height,
            "findings": findings.height,
            "by_criterion": {f"{c}/{s}": n for c, s, n in by_criterion},
            "keys": keyed.describe(),
            # Rules on clusters run in the matching step; the others were skipped for a missing input.
            "skipped_rules": sorted(set(result.skipped_rules) - {rule.id for rule in cluster_rules(spec.pack)}),
        }
        return tables, counts

    output = run_step(Path(work_dir), "checks", key, compute)
    counts = output.counts
    logger = step_logger()
    logger.info(
        "checks: %d records, %d passed, %d quarantined, %d findings [%s]; %s",
        counts["records"],
        counts["passed"],
        counts["quarantined"],
        counts["findings"],
        ", ".join(f"{k}={n}" for k, n in counts["by_criterion"].items()),
        "reused from a previous run" if output.reused else f"{output.seconds:.1f} s",
    )
    for rule_id in counts.get("skipped_rules", []):
        logger.warning("checks: rule %s skipped: the input it needs (clusters or another register's store) "
                       "is not there", rule_id)
    return output


# ------------------------------------------------------------------------------------ steward decisions
def decisions_step(store_dir: str, checks: StepOutput, run_id: str, work_dir: str) -> dict[str, Any]:
    """Take in the workbooks stewards dropped into `<store>/decisions/` and write tonight's decisions (keyed by
    record_key; those naming records not here tonight are reported, not applied) for matching to read."""
    from sachsong.store.decisions import intake_decisions

    known = checks.read("record_keys", ["record_key"]).get_column("record_key")
    intake = intake_decisions(Path(store_dir), known, run_id)
    folder = Path(work_dir) / "decisions"
    folder.mkdir(parents=True, exist_ok=True)
    active = intake.active.select("left_record_key", "right_record_key", "decision").sort(
        "left_record_key", "right_record_key"
    )
    path = folder / f"{run_id}.parquet"
    active.write_parquet(path)
    step_logger().info("%s", intake.describe())
    return {
        "path": str(path),
        "fingerprint": combine_fingerprints(*(f"{a}|{b}|{d}" for a, b, d in active.iter_rows())),
        "active": active.height,
        "stale": intake.stale.height,
        "refused": intake.refused.height,
    }


# --------------------------------------------------------------------------------------------- matching
# `<work>/comparisons-<dataset>.parquet`: the last matched night's candidate pairs' comparison levels, read and
# replaced by the next (a full rebuild empties the work folder and starts it again).
COMPARISONS = "comparisons"
# What the persons engine reads: its keys and comparisons, the golden record's survivors, the review's fields.
MATCH_COLUMNS = (
    *REQUIRED_COLUMNS,
    *SHOWN_FIELDS,
    *("name_norm", "family_name", "middle_name", "given_name", "province_code", "address"),
)


def match_step(
    dataset: str,
    checks: StepOutput,
    batches: list[StepOutput],
    as_of: date,
    work_dir: str,
    key: str,
    decisions: str | None = None,
) -> StepOutput:
    """The dataset's matching engine over the passed and field-quarantined records, with the stewards' decisions
    (a Parquet file of `left_record_key, right_record_key, decision`); its duplicate findings."""
    spec = get_dataset(dataset)
    decided = pl.read_parquet(decisions) if decisions else None

    def compute() -> tuple[dict[str, pl.DataFrame], dict[str, Any]]:
        from sachsong.pipelines.oneshot import match_standardized
        from sachsong.rules.engine import cluster_findings

        # Matching has the highest peak of the flow: hold only the rows it links, and for the persons engine only
        # the columns it reads; lean, it compares and scores candidate pairs in chunks.
        columns = MATCH_COLUMNS if spec.matching_engine == "persons" else None
        records = load_matchable(checks, batches, columns)
        result = match_standardized(
            records,
            spec,
            decided if decided is not None and decided.height else None,
            publishable=PUBLISHABLE,
            lean=True,
            comparison_cache=Path(work_dir) / f"{COMPARISONS}-{spec.name}.parquet",
        )
        clusters = result.clusters
        findings = cluster_findings(clusters, as_of, spec.pack)
        if not findings.height and getattr(result, "findings", None) is not None:
            findings = result.findings  # a pack without a cluster rule: the engine's own duplicate findings
        merged = clusters.filter(pl.col("cluster_size") > 1).height if "cluster_size" in clusters.columns else 0
        tables = {"clusters": clusters, "golden": result.golden, "review": result.review, "findings": findings}
        timings = getattr(result, "timings", None) or {}
        if timings:
            step_logger().info("matching, seconds per stage: %s", ", ".join(f"{k} {v:.1f}" for k, v in timings.items()))
        counts = {
            "records": records.height,
            "quarantined_matched": records.height - int(records.get_column(PUBLISHABLE).sum()),
            "golden": result.golden.height,
            "in_multi_record_clusters": merged,
            "review": result.review.height,
            "duplicate_findings": findings.height,
            "pairs_compared": int(getattr(result, "pairs_scored", 0)),
            "pairs_reused": int(getattr(result, "pairs_reused", 0)),
        }
        return tables, counts

    output = run_step(Path(work_dir), "matching", key, compute)
    counts = output.counts
    step_logger().info(
        "matching: %d records (%d of them quarantined) → %d golden records (%d records in multi-record "
        "clusters), %d pairs to review; %d candidate pairs, %d of them compared last night; %s",
        counts["records"],
        counts.get("quarantined_matched", 0),
        counts["golden"],
        counts["in_multi_record_clusters"],
        counts["review"],
        counts.get("pairs_compared", 0),
        counts.get("pairs_reused", 0),
        "reused from a previous run" if output.reused else f"{output.seconds:.1f} s",
    )
    return output


def all_findings(checks: StepOutput, match: StepOutput) -> list[Path]:
    """The run's findings: the rule pack's and matching's (duplicates)."""
    return [checks.path("findings"), *([match.path("findings")] if match.has("findings") else [])]


# ------------------------------------------------------------------------------------------- identity
ENTITY_INDEX = "entity_index"  # record_key → entity id of every record that had one (held ones too)
ISSUED_IDS = "issued_ids"  # every id this store ever issued, in issue order (never reused)
IDENTITY_TABLES = (ENTITY_INDEX, ISSUED_IDS, "changes")


def history_table(spec: Any) -> str:
    """`person_id_history` for residents: every retired id and the id that replaced it."""
    return f"{spec.entity_id}_history"


def _previous_table(
    snapshot: Path | None, table: str, columns: Sequence[str] | None = None, *, rechunk: bool = True
) -> pl.DataFrame | None:
    if snapshot is None:
        return None
    from sachsong.store.reader import snapshot_table_path

    path = snapshot_table_path(snapshot, table)
    if not path.is_file():
        return None
    if columns is not None:
        present = pl.read_parquet_schema(path)
        columns = [c for c in columns if c in present]
    # One chunk per column (unless the caller stacks tables and rechunks once): the identity step gathers rows of
    # these tables by position, and a gather across the Parquet file's row groups costs several times more.
    frame = pl.read_parquet(path, columns=list(columns) if columns is not None else None)
    return frame.rechunk() if rechunk else frame


def identity_step(
    dataset: str,
    store_dir: str,
    checks: StepOutput,
    match: StepOutput,
    batches: list[StepOutput],
    run_id: str,
    work_dir: str,
    key: str,
) -> StepOutput:
    """Persistent entity ids: tonight's clusters mapped onto the live snapshot's ids by the records they share
    (store.identity), the retired ids' history carried forward, and the change feed against the live snapshot."""
    from sachsong.store.reader import current_snapshot

    spec = get_dataset(dataset)
    snapshot = current_snapshot(store_dir)

    def compute() -> tuple[dict[str, pl.DataFrame], dict[str, Any]]:
        from sachsong.store.changes import GOLDEN_BOOKKEEPING, change_feed
        from sachsong.store.identity import HISTORY_SCHEMA, assign_entity_ids

        anchors = tuple(str(a) for a in spec.matching.get("anchors", ()))
        content = [c for c in spec.content_columns if c in spec.raw_columns]
        keys = checks.read("record_keys", ["row_uid", "record_key"]).rechunk()
        clusters = (
            match.read("clusters", ["row_uid", "cluster_id"]).with_columns(pl.col("row_uid").cast(pl.Int64)).rechunk()
        )
        standardized = load_standardized(batches, list(dict.fromkeys(["source_file", *anchors, *content])))
        # The check step keeps the standardized rows' order, and matching does when it clusters every record: when
        # the row_uids line up (unique: load_standardized numbers the rows), the tables go side by side, unjoined.
        keys_aligned = keys["row_uid"].equals(standardized["row_uid"])
        if keys_aligned and clusters["row_uid"].equals(standardized["row_uid"]):
            current = pl.concat([clusters, keys.drop("row_uid"), standardized.drop("row_uid")], how="horizontal")
        else:
            current = clusters.join(keys, on="row_uid").join(standardized, on="row_uid", how="left")
        file_counts = pl.concat([batch.read("counts") for batch in batches], how="diagonal_relaxed")
        # An export read tonight (even empty) speaks for its records; one missing or refused whole does not:
        # its records are held dormant, not retired.
        delivered = file_counts.filter(pl.col("status") != "failed").get_column("source_file")
        previous = _previous_table(snapshot, ENTITY_INDEX)
        if previous is not None:
            previous = previous.with_columns((~pl.col("source_file").is_in(delivered.implode())).alias("dormant"))
        issued = _previous_table(snapshot, ISSUED_IDS)
        assignment = assign_entity_ids(
            current.select("record_key", "cluster_id", "source_file", *anchors),
            previous,
            run_id=run_id,
            prefix=str(spec.matching.get("id_prefix", "E")),
            issued=issued.get_column("entity_id") if issued is not None else None,
            anchors=anchors,
        )
        # The assignment's records are `current`'s rows in their order: its ids line up without a join.
        ids = current.select("row_uid", "record_key").with_columns(assignment.records.get_column("entity_id"))
        retired = assignment.history.cast(HISTORY_SCHEMA)  # type: ignore[arg-type]
        earlier = _previous_table(snapshot, history_table(spec))
        history = pl.concat([earlier.cast(HISTORY_SCHEMA), retired]) if earlier is not None else retired

        # The feed is about every record the store holds, published or quarantined (a quarantined record still
        # names its entity), compared by record key with last night's.
        if keys_aligned:
            tonight = standardized.with_columns(keys.get_column("record_key"))
            aligned_ids = ids.get_column("row_uid").equals(standardized.get_column("row_uid"))
        else:
            tonight, aligned_ids = standardized.join(keys, on="row_uid", how="left"), False
        tonight = (
            tonight.with_columns(ids.get_column("entity_id"))
            if aligned_ids
            else tonight.join(ids.drop("record_key"), on="row_uid", how="left")
        ).rename({"entity_id": spec.entity_id})
        # Golden tables are compared on their values only: bookkeeping columns (member lists…) are not read.
        golden_values = [c for c in pl.read_parquet_schema(match.path("golden")) if c not in GOLDEN_BOOKKEEPING]
        golden = match.read("golden", ["cluster_id", *golden_values]).rechunk()
        golden = golden.join(assignment.clusters, on="cluster_id", how="left").rename({"entity_id": spec.entity_id})
        record_columns = ["record_key", spec.entity_id, "source_file", *content]
        held_last_night = [
            table
            for name in (spec.records_table, "quarantine")
            if (table := _previous_table(snapshot, name, record_columns, rechunk=False)) is not None
            and set(record_columns) <= set(table.columns)
        ]
        previous_records = pl.concat(held_last_night, how="vertical_relaxed", rechunk=True) if held_last_night else None
        if previous_records is not None and previous_records["record_key"].n_unique() != previous_records.height:
            previous_records = previous_records.unique("record_key", keep="first")
        if previous_records is None or spec.entity_id not in previous_records.columns:
            # The first night, or a snapshot from before persistent ids: every record is new.
            previous_records = pl.DataFrame(
                schema=dict.fromkeys(["record_key", spec.entity_id, "source_file", *content], pl.String())
            )
        previous_golden = _previous_table(
            snapshot, spec.golden_table, [spec.entity_id, *(c for c in golden.columns if c != spec.entity_id)]
        )
        if previous_golden is not None and spec.entity_id not in previous_golden.columns:
            previous_golden = None
        sources_before = _previous_table(snapshot, "source_files", ["source_file", "status"])
        tonight = tonight.select(record_columns)
        changes = change_feed(
            previous_records,
            tonight,
            previous_golden,
            golden.drop([c for c in golden.columns if golden.schema[c] == pl.Null]),
            assignment.events,
            run_id=run_id,
            entity_id=spec.entity_id,
            previous_sources=(
                sources_before.filter(pl.col("status") != "failed").select("source_file")
                if sources_before is not None
                else None
            ),
            current_sources=file_counts.filter(pl.col("status") != "failed").select("source_file"),
            content_columns=content,
        )
        index = assignment.next_previous()
        tables = {
            "ids": ids.select("row_uid", "entity_id"),
            ENTITY_INDEX: index,
            ISSUED_IDS: assignment.issued.to_frame("entity_id"),
            "history": history,
            "events": assignment.events,
            "changes": changes,
        }
        by_change = changes.group_by("change").len().sort("change").rows() if changes.height else []
        counts = {
            "ids": assignment.records.get_column("entity_id").n_unique(),
            "minted": assignment.minted.len(),
            "retired": retired.height,
            "dormant": assignment.dormant.len(),
            "changes": {change: n for change, n in by_change},
            "previous_run": snapshot.name if snapshot is not None else None,
        }
        return tables, counts

    output = run_step(Path(work_dir), "identity", combine_fingerprints(key, snapshot.name if snapshot else "-"), compute)
    counts = output.counts
    step_logger().info(
        "identity: %d %s ids (%d new, %d retired, %d dormant) against snapshot %s; changes %s",
        counts["ids"],
        spec.entity_id,
        counts["minted"],
        counts["retired"],
        counts["dormant"],
        counts["previous_run"] or "none (first night)",
        ", ".join(f"{k}={n}" for k, n in counts["changes"].items()) or "none",
    )
    return output


# ------------------------------------------------------------------------------------------------ scores
SCORE_COLUMNS = ("source_id", "ward_code")


def score_step(
    dataset: str,
    batches: list[StepOutput],
    checks: StepOutput,
    match: StepOutput,
    run_id: str,
    as_of: date,
    province_code: str,
) -> pl.DataFrame:
    from sachsong.reports.scores import compute_scores

    spec = get_dataset(dataset)
    clusters = match.read("clusters", ["row_uid", "cluster_id"]).with_columns(pl.col("row_uid").cast(pl.Int64))
    available = pl.read_parquet_schema(batches[0].path("standardized")) if batches else {}
    columns = [c for c in SCORE_COLUMNS if c in available]
    records = load_standardized(batches, columns).join(clusters, on="row_uid", how="left")
    if "ward_code" not in records.columns:
        records = records.with_columns(pl.lit(None, pl.String).alias("ward_code"))
    findings = pl.concat([pl.read_parquet(path) for path in all_findings(checks, match)], how="vertical_relaxed")
    scores = compute_scores(records, findings, run_id, as_of, province_code, rules=spec.pack)
    step_logger().info("scores: %d score rows for %d records", scores.height, records.height)
    return scores


# ------------------------------------------------------------------------------------------- publish gate
@dataclass
class PrecomputedGate:
    """A gate result computed before publishing (beside the last checks), used by `publish_snapshot` unless the
    live snapshot changed since — then `gate` runs again on what is really the previous snapshot."""

    result: Any
    previous_run_id: str | None
    gate: Any

    def __call__(self, tables: Mapping[str, pl.DataFrame], previous: Any, store_dir: Path) -> Any:
        if (previous or {}).get("run_id") == self.previous_run_id:
            return self.result
        return self.gate(tables, previous, store_dir)


def gate_step(store_dir: str, match: StepOutput, gate: Any) -> PrecomputedGate:
    """Run the publish gate on the golden table before publishing, so publishing does not wait for it."""
    from sachsong.store.reader import current_manifest

    previous = current_manifest(store_dir)
    clock = time.perf_counter()
    # Only the columns the gate reads (three of a few dozen): it converts them to pandas for Great Expectations.
    columns = (
        gate.columns_read(pl.read_parquet_schema(match.path("golden")))
        if hasattr(gate, "columns_read")
        else None
    )
    result = gate({gate.table: match.read("golden", columns)}, previous, Path(store_dir))
    step_logger().info("gate: %s (%.1f s)", result.message, time.perf_counter() - clock)
    return PrecomputedGate(result, (previous or {}).get("run_id"), gate)


# ---------------------------------------------------------------------------------------------- publish
CLUSTER_COLUMNS = ("cluster_id", "cluster_size", "confidence")


def _whole_table(path: Path) -> ParquetQuery:
    return ParquetQuery("SELECT * FROM step_table", {"step_table": [path]})


def published_records_query(
    batches: Sequence[StepOutput],
    checks: StepOutput,
    match: StepOutput,
    identity: StepOutput | None = None,
    entity_id: str = "entity_id",
) -> ParquetQuery:
    """The records that passed, each with its cluster (the entity it was matched to), as a query DuckDB streams
    from the step files into the snapshot: row_uid = the batch's offset + the row's position in its file."""
    offsets = batch_offsets(batches)
    parts = [
        f"SELECT * EXCLUDE (file_row_number) REPLACE ((file_row_number + {offset})::BIGINT AS row_uid) "
        f"FROM batch_{index}"
        for index, (_, offset, rows) in enumerate(offsets)
        if rows
    ] or ["SELECT NULL::BIGINT AS row_uid WHERE false"]  # no rows at all
    cluster_columns = ", ".join(f"c.{c}" for c in CLUSTER_COLUMNS)
    sql = (
        f"WITH standardized AS ({' UNION ALL BY NAME '.join(parts)}) "
        f"SELECT {'i.entity_id AS ' + entity_id + ', ' if identity else ''}s.*, k.record_key, k.key_kind, "
        f"{cluster_columns} FROM standardized s "
        "SEMI JOIN passed p USING (row_uid) LEFT JOIN record_keys k USING (row_uid) "
        f"LEFT JOIN clusters c USING (row_uid){' LEFT JOIN ids i USING (row_uid)' if identity else ''}"
    )
    files = {f"batch_{index}": [path] for index, (path, _, rows) in enumerate(offsets) if rows}
    files |= {
        "passed": [checks.path("passed_uids")],
        "clusters": [match.path("clusters")],
        "record_keys": [checks.path("record_keys")],
    }
    if identity is not None:
        files["ids"] = [identity.path("ids")]
    return ParquetQuery(sql, files, row_numbers=True)


def snapshot_tables(
    dataset: str,
    batches: Sequence[StepOutput],
    checks: StepOutput,
    match: StepOutput,
    identity: StepOutput | None = None,
) -> dict[str, ParquetQuery]:
    """The tables of a snapshot, as queries over the steps' Parquet files (none is loaded into this process)."""
    spec = get_dataset(dataset)
    entity = spec.entity_id
    tables = {
        spec.records_table: published_records_query(batches, checks, match, identity, entity),
        spec.golden_table: _whole_table(match.path("golden")),
        # A quarantined record names the entity it was matched to, so a steward can find who it belongs to.
        "quarantine": ParquetQuery(
            "SELECT q.*, c.cluster_id FROM quarantine q LEFT JOIN clusters c USING (row_uid)",
            {"quarantine": [checks.path("quarantine")], "clusters": [match.path("clusters")]},
        ),
        "findings": ParquetQuery("SELECT * FROM findings", {"findings": all_findings(checks, match)}),
        "rejects": ParquetQuery(
            "SELECT * FROM rejects", {"rejects": [batch.path("rejects") for batch in batches]}
        ),
        "review_queue": _whole_table(match.path("review")),
        # Per export: what ingest made of it (kind, encoding, dialect, date order, counts, notes) for stewards.
        "source_files": ParquetQuery(
            "SELECT * FROM counts", {"counts": [batch.path("counts") for batch in batches]}
        ),
    }
    if identity is not None:
        ids = {"ids": [identity.path("ids")], "clusters": [match.path("clusters")]}
        tables[spec.golden_table] = ParquetQuery(
            f"WITH entity AS (SELECT DISTINCT c.cluster_id, i.entity_id FROM ids i JOIN clusters c USING (row_uid)) "
            f"SELECT e.entity_id AS {entity}, g.* FROM golden g LEFT JOIN entity e USING (cluster_id)",
            {"golden": [match.path("golden")], **ids},
        )
        tables["quarantine"] = ParquetQuery(
            f"SELECT q.*, c.cluster_id, i.entity_id AS {entity} FROM quarantine q "
            "LEFT JOIN clusters c USING (row_uid) LEFT JOIN ids i USING (row_uid)",
            {"quarantine": [checks.path("quarantine")], **ids},
        )
        tables[history_table(spec)] = _whole_table(identity.path("history"))
        for table in IDENTITY_TABLES:
            tables[table] = _whole_table(identity.path(table))
    return tables


# DuckDB's share while publishing, sized to the machine: a big city's records do not fit a small fixed limit.
PUBLISH_MEMORY = duckdb_memory_limit()


def publish_step(
    dataset: str,
    store_dir: str,
    batches: list[StepOutput],
    checks: StepOutput,
    match: StepOutput,
    run: dict[str, Any],
    gate: Any,
    run_row: dict[str, Any] | None = None,
    replace_newer: bool = False,
    identity: StepOutput | None = None,
) -> Any:
    """Publish the snapshot; `run_row` (status published) is recorded in history before `CURRENT` switches."""
    from sachsong.store.history import record_run
    from sachsong.store.publish import publish_snapshot

    def record_published(manifest: Mapping[str, Any]) -> None:
        if run_row is not None:
            record_run(Path(store_dir), {**run_row, "table_hashes": manifest["table_hashes"]})

    clock = time.perf_counter()
    tables = snapshot_tables(dataset, batches, checks, match, identity)
    read_seconds = time.perf_counter() - clock
    result = publish_snapshot(
        Path(store_dir),
        tables,
        run,
        gate=gate,
        before_switch=record_published,
        memory_limit=PUBLISH_MEMORY,
        replace_newer=replace_newer,
    )
    message = f"{result.describe()} (tables read in {read_seconds:.1f} s)"
    if result.published:
        step_logger().info("publish: %s", message)
    else:
        step_logger().error("publish: %s", message)
    return result


def history_step(
    store_dir: str, run_row: dict[str, Any] | None, scores: pl.DataFrame | None, run_id: str | None = None
) -> None:
    """Append the run's scores and, when given, its run row (a published run's row is written by publish)."""
    from sachsong.store.history import append_scores, record_run

    run_id = run_id or (run_row or {}).get("run_id")
    if scores is not None and scores.height:
        append_scores(Path(store_dir), scores, run_id)
    if run_row is not None:
        record_run(Path(store_dir), run_row)
        step_logger().info("history: run %s recorded as %s", run_id, run_row["status"])
    else:
        step_logger().info("history: %d score rows of run %s", 0 if scores is None else scores.height, run_id)


def review_workbook_step(dataset: str, store_dir: str, match: StepOutput, run_id: str) -> list[str]:
    """The review queue as the stewards' workbook (xlsx + csv) in the store's reports folder: they fill the
    decision column and drop it into `<store>/decisions/`; the next night applies it."""
    from sachsong.reports.review_workbook import STEWARD_FIELDS, write_review_workbook

    spec = get_dataset(dataset)
    review = match.read("review")
    fields = tuple(spec.matching.get("review_fields") or STEWARD_FIELDS)
    fields = tuple(f for f in fields if f"left_{f}" in review.columns) or STEWARD_FIELDS
    paths = write_review_workbook(
        review, Path(store_dir) / "reports", fields=fields, run_id=run_id, unit_vi=spec.unit.vi,
        unit_en=spec.unit.en_one,
    )
    step_logger().info("review workbook: %d pairs → %s", review.height, ", ".join(p.name for p in paths))
    return [str(p) for p in paths]


def report_step(store_dir: str, output_dir: str) -> str:
    from sachsong.reports.site import build_report

    index = build_report(Path(store_dir), Path(output_dir))
    step_logger().info("report: %s", index)
    return str(index)

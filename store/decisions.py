"""Steward decisions that last: the store's decisions folder and the table that keeps every decision.

Stewards drop filled review workbooks (`review_queue.xlsx` or its `.csv`, see `reports.review_workbook`) into
`<store>/decisions/`, or record one decision with `record_decision` (`sachsong decide`). Each night
`intake_decisions`:
- reads every new file there (hidden files, Office's `~$` lock files and half-copied `.tmp` files are left
  alone), each one whole: a file with any bad row (wrong sheet, missing key column, a value other than the three
  choices) is refused whole, never half-applied;
- appends the accepted decisions to `<store>/decisions.parquet` (written aside and renamed into place) and moves
  the file to `decisions/applied/<run_id>/`; a refused file goes to `decisions/refused/<run_id>/` with
  `<name>.why.txt` naming the row and field to fix (never a personal value);
- gives back the decisions to apply tonight: for each pair (keys ordered, so `a,b` and `b,a` are one pair) the
  latest decision wins; `unsure` decides nothing (the pair stays in the review queue); a decision naming a
  `record_key` that tonight's records do not have is `stale`: reported, not applied (kept in the table: it
  applies again if the record comes back).

A file already applied (same SHA-256, e.g. the run stopped after writing the table and before moving the file)
is moved to `applied/` without being appended twice.

Table `decisions.parquet`: `sequence` (append order: the latest wins), `left_record_key`, `right_record_key`
(`left < right`), `decision` (same|different|unsure), `decided_in` (file name, or `sachsong decide`),
`file_row`, `file_sha256`, `run_id` (the run that took it in; null for `sachsong decide`), `decided_at` (UTC),
`steward_note`.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from sachsong.matching.review import (
    DEFAULT_MAX_DECISION_BYTES,
    KEY_COLUMNS,
    DecisionFileError,
    canonical_decision,
    read_decisions,
)
from sachsong.store.layout import (
    BUILDING_SUFFIX,
    StoreBusyError,
    check_run_id,
    fsync_dir,
    fsync_file,
    make_private_dir,
    make_private_store,
    private_files,
)

DECISIONS_DIR = "decisions"
APPLIED_DIR = "applied"
REFUSED_DIR = "refused"
DECISIONS_TABLE = "decisions.parquet"
DECISIONS_LOCK = ".decisions.lock"
DECIDE_COMMAND = "sachsong decide"
ACCEPTED_SUFFIXES = (".xlsx", ".csv")
# Files an operating system or an editor leaves in a shared folder: not a steward's decisions.
IGNORED_NAMES = frozenset({"thumbs.db", "desktop.ini"})
MAX_KEY_CHARS = 256
MAX_NOTE_CHARS = 1000
LOCK_WAIT_SECONDS = 120.0

DECISION_TABLE_SCHEMA: dict[str, pl.DataType] = {
    "sequence": pl.Int64(),
    "left_record_key": pl.String(),
    "right_record_key": pl.String(),
    "decision": pl.String(),
    "decided_in": pl.String(),
    "file_row": pl.Int64(),
    "file_sha256": pl.String(),
    "run_id": pl.String(),
    "decided_at": pl.Datetime("us", "UTC"),
    "steward_note": pl.String(),
}
ACTIVE_SCHEMA: dict[str, pl.DataType] = {
    "left_record_key": pl.String(),
    "right_record_key": pl.String(),
    "decision": pl.String(),
    "decided_in": pl.String(),
    "run_id": pl.String(),
}


@dataclass
class DecisionIntake:
    """What a night took from the decisions folder, and the decisions to apply."""

    active: pl.DataFrame  # left_record_key, right_record_key, decision (same|different), decided_in, run_id
    stale: pl.DataFrame  # the same + missing (left|right|both): naming a record that is not here tonight
    refused: pl.DataFrame  # file, reason
    accepted_files: list[Path] = field(default_factory=list)  # where the accepted files now are (applied/...)
    decisions_added: int = 0  # rows appended to the table tonight
    unsure: int = 0  # pairs whose latest decision is "unsure" (they stay in the review queue)

    def describe(self) -> str:
        """One line for the run's log: counts and file names only, never a record's value."""
        refused = "; ".join(f"{r['file']}: {r['reason']}" for r in self.refused.iter_rows(named=True))
        return (
            f"steward decisions: {len(self.accepted_files)} file(s) accepted ({self.decisions_added} decisions), "
            f"{self.refused.height} refused{' (' + refused + ')' if refused else ''}; "
            f"{self.active.height} pair decisions apply tonight, {self.stale.height} name records not here "
            f"tonight (not applied), {self.unsure} pairs marked unsure stay in the review queue"
        )


def decisions_dir(store_dir: str | Path) -> Path:
    """`<store>/decisions/`: where stewards drop their filled workbooks."""
    return Path(store_dir) / DECISIONS_DIR


def decisions_table_path(store_dir: str | Path) -> Path:
    return Path(store_dir) / DECISIONS_TABLE


def read_decision_table(store_dir: str | Path) -> pl.DataFrame:
    """Every decision the store has taken in, in append order (empty with the schema when there is none)."""
    path = decisions_table_path(store_dir)
    if not path.exists():
        return pl.DataFrame(schema=DECISION_TABLE_SCHEMA)
    return pl.read_parquet(path).cast(DECISION_TABLE_SCHEMA).sort("sequence")


def latest_decisions(table: pl.DataFrame) -> pl.DataFrame:
    """The latest decision per pair (unsure included: a later "unsure" withdraws an earlier "same")."""
    return table.sort("sequence").unique(list(KEY_COLUMNS), keep="last", maintain_order=True)


def split_decisions(table: pl.DataFrame, known_keys: pl.Series) -> tuple[pl.DataFrame, pl.DataFrame, int]:
    """`(active, stale, unsure)`: tonight's same/different decisions between known records, the same/different
    decisions naming a record not known tonight, and how many pairs are marked unsure."""
    latest = latest_decisions(table)
    known = pl.DataFrame({"key": known_keys.cast(pl.String)}).drop_nulls().unique()
    left, right = KEY_COLUMNS
    flagged = latest.join(
        known.with_columns(pl.lit(True).alias("left_known")), left_on=left, right_on="key", how="left"
    ).join(known.with_columns(pl.lit(True).alias("right_known")), left_on=right, right_on="key", how="left")
    flagged = flagged.with_columns(pl.col("left_known", "right_known").fill_null(False))
    decided = flagged.filter(pl.col("decision") != "unsure")
    both = pl.col("left_known") & pl.col("right_known")
    active = decided.filter(both).select(list(ACTIVE_SCHEMA)).sort(list(KEY_COLUMNS))
    stale = (
        decided.filter(~both)
        .with_columns(
            pl.when(~pl.col("left_known") & ~pl.col("right_known"))
            .then(pl.lit("both"))
            .when(~pl.col("left_known"))
            .then(pl.lit("left"))
            .otherwise(pl.lit("right"))
            .alias("missing")
        )
        .select(*ACTIVE_SCHEMA, "missing")
        .sort(list(KEY_COLUMNS))
    )
    unsure = flagged.filter(pl.col("decision") == "unsure").height
    return active, stale, unsure


def intake_decisions(
    store_dir: str | Path,
    known_keys: pl.Series,
    run_id: str,
    *,
    max_bytes: int = DEFAULT_MAX_DECISION_BYTES,
) -> DecisionIntake:
    """Take in the new files of `<store>/decisions/` and give tonight's decisions (see the module docstring).

    known_keys: tonight's `record_key`s (a decision naming any other key is stale).
    """
    check_run_id(run_id)
    store_dir = Path(store_dir)
    with private_files():
        make_private_store(store_dir)
        inbox = make_private_dir(decisions_dir(store_dir))
        with _locked(store_dir):
            table = read_decision_table(store_dir)
            applied_hashes = set(table["file_sha256"].drop_nulls().to_list())
            accepted: list[tuple[Path, pl.DataFrame | None]] = []
            refused: list[tuple[Path, str]] = []
            for path in _new_files(inbox):
                try:
                    if path.suffix.lower() not in ACCEPTED_SUFFIXES:
                        raise DecisionFileError(
                            f"{path.name}: decisions are read from the review workbook (.xlsx) or its .csv, "
                            f"got '{path.suffix}' (save it as .xlsx or CSV UTF-8)"
                        )
                    frame = read_decisions(path, max_bytes=max_bytes)
                except DecisionFileError as error:
                    refused.append((path, str(error)))
                    continue
                digest = _sha256(path)
                if digest in applied_hashes:
                    accepted.append((path, None))  # taken in already; only the move was left undone
                    continue
                applied_hashes.add(digest)
                accepted.append((path, _rows(frame, path.name, digest, run_id)))
            new_rows = [rows for _path, rows in accepted if rows is not None]
            added = sum(rows.height for rows in new_rows)
            if added:
                table = _append(store_dir, table, new_rows)
            moved = [_move(path, inbox / APPLIED_DIR / run_id) for path, _rows_ in accepted]
            for path, reason in refused:
                target = _move(path, inbox / REFUSED_DIR / run_id)
                _write_why(target, reason)
    active, stale, unsure = split_decisions(table, known_keys)
    return DecisionIntake(
        active=active,
        stale=stale,
        refused=pl.DataFrame(
            {"file": [p.name for p, _ in refused], "reason": [r for _, r in refused]},
            schema={"file": pl.String, "reason": pl.String},
        ),
        accepted_files=moved,
        decisions_added=added,
        unsure=unsure,
    )


def record_decision(
    store_dir: str | Path,
    left_key: str,
    right_key: str,
    decision: str,
    steward_note: str | None = None,
    *,
    known_keys: pl.Series | None = None,
    run_id: str | None = None,
) -> pl.DataFrame:
    """Record one steward decision (`sachsong decide`) in the same table; returns the stored row.

    `decision` as in the workbook (giống / khác / chưa rõ, same / different / unsure). With `known_keys` (e.g.
    the live snapshot's record keys) a key not among them is refused, so a typo cannot be stored. Raises
    `ValueError` naming the argument, never its value.
    """
    canonical = canonical_decision(decision) if isinstance(decision, str) else None
    if canonical is None:
        raise ValueError("decision: not one of giống / khác / chưa rõ (same / different / unsure)")
    keys = []
    for name, key in (("left_key", left_key), ("right_key", right_key)):
        key = key.strip() if isinstance(key, str) else ""
        if not key:
            raise ValueError(f"{name}: empty; name the record by its record_key")
        if len(key) > MAX_KEY_CHARS:
            raise ValueError(f"{name}: longer than {MAX_KEY_CHARS} characters, not a record_key")
        keys.append(key)
    if keys[0] == keys[1]:
        raise ValueError("right_key: names the same record as left_key")
    if known_keys is not None:
        unknown = pl.Series(keys).is_in(known_keys.cast(pl.String).implode()).not_()
        for name, missing in zip(("left_key", "right_key"), unknown.to_list(), strict=True):
            if missing:
                raise ValueError(f"{name}: no record has this record_key in the live snapshot")
    if steward_note is not None and len(steward_note) > MAX_NOTE_CHARS:
        raise ValueError(f"steward_note: longer than {MAX_NOTE_CHARS} characters")
    if run_id is not None:
        check_run_id(run_id)
    frame = pl.DataFrame(
        {
            "left_record_key": [keys[0]],
            "right_record_key": [keys[1]],
            "decision": [canonical],
            "file_row": [None],
        },
        schema={**dict.fromkeys(KEY_COLUMNS, pl.String), "decision": pl.String, "file_row": pl.Int64},
    )
    rows = _rows(frame, DECIDE_COMMAND, None, run_id).with_columns(
        pl.lit(steward_note, pl.String).alias("steward_note")
    )
    store_dir = Path(store_dir)
    with private_files():
        make_private_store(store_dir)
        with _locked(store_dir):
            table = _append(store_dir, read_decision_table(store_dir), [rows])
    return table.tail(1)


def decisions_to_uids(active: pl.DataFrame, records: pl.DataFrame) -> pl.DataFrame:
    """Tonight's decisions in tonight's positions: `left_uid, right_uid, decision` (left_uid < right_uid).

    records: `row_uid, record_key` of tonight's records. A pair is given only when both keys name exactly one
    record tonight (a key shared by several records names no one record; the key builder reports collisions).
    """
    keys = records.select(pl.col("row_uid").cast(pl.Int64), pl.col("record_key").cast(pl.String))
    keys = keys.filter(pl.col("record_key").is_not_null() & (pl.len().over("record_key") == 1))
    left, right = KEY_COLUMNS
    joined = (
        active.select(*KEY_COLUMNS, "decision")
        .join(keys.rename({"record_key": left, "row_uid": "l"}), on=left)
        .join(keys.rename({"record_key": right, "row_uid": "r"}), on=right)
        .filter(pl.col("l") != pl.col("r"))
    )
    return joined.select(
        pl.min_horizontal("l", "r").alias("left_uid"),
        pl.max_horizontal("l", "r").alias("right_uid"),
        "decision",
    ).sort("left_uid", "right_uid")


def _rows(frame: pl.DataFrame, decided_in: str, digest: str | None, run_id: str | None) -> pl.DataFrame:
    """A file's decisions as table rows: the pair's keys ordered, the file's last line on a pair kept."""
    left, right = KEY_COLUMNS
    ordered = frame.sort("file_row", maintain_order=True).select(
        pl.when(pl.col(left) <= pl.col(right)).then(pl.col(left)).otherwise(pl.col(right)).alias(left),
        pl.when(pl.col(left) <= pl.col(right)).then(pl.col(right)).otherwise(pl.col(left)).alias(right),
        "decision",
        "file_row",
    )
    return ordered.with_columns(
        pl.lit(None, pl.Int64).alias("sequence"),
        pl.lit(decided_in, pl.String).alias("decided_in"),
        pl.lit(digest, pl.String).alias("file_sha256"),
        pl.lit(run_id, pl.String).alias("run_id"),
        pl.lit(datetime.now(UTC)).cast(DECISION_TABLE_SCHEMA["decided_at"]).alias("decided_at"),
        pl.lit(None, pl.String).alias("steward_note"),
    ).select(list(DECISION_TABLE_SCHEMA))


def _append(store_dir: Path, table: pl.DataFrame, new: list[pl.DataFrame]) -> pl.DataFrame:
    """`table` + `new` (numbered on from the table's last sequence), written aside and renamed into place."""
    added = pl.concat([frame.cast(DECISION_TABLE_SCHEMA) for frame in new])
    start = (table["sequence"].max() or 0) + 1
    added = added.with_columns(pl.int_range(start, start + added.height, dtype=pl.Int64).alias("sequence"))
    combined = pl.concat([table.cast(DECISION_TABLE_SCHEMA), added])
    path = decisions_table_path(store_dir)
    staging = path.with_name(path.name + BUILDING_SUFFIX)
    combined.write_parquet(staging)
    fsync_file(staging)
    os.replace(staging, path)
    fsync_dir(path.parent)
    return combined


def _new_files(inbox: Path) -> list[Path]:
    """The files a steward dropped, oldest first (the later file's decision on a pair wins)."""
    files = []
    for entry in inbox.iterdir():
        name = entry.name
        if name.startswith((".", "~$")) or name.lower() in IGNORED_NAMES or name.endswith(BUILDING_SUFFIX):
            continue  # hidden, Office lock files, half-copied files
        if entry.is_symlink() or not entry.is_file():
            continue  # applied/ and refused/; a link could point anywhere
        files.append(entry)
    return sorted(files, key=lambda p: (p.stat().st_mtime_ns, p.name))


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _move(path: Path, folder: Path) -> Path:
    """Move `path` into `folder`, never over an earlier file of the same name (`name (2).xlsx`, ...)."""
    make_private_dir(folder)
    target = folder / path.name
    number = 2
    while target.exists() or target.with_name(target.name + ".why.txt").exists():
        target = folder / f"{path.stem} ({number}){path.suffix}"
        number += 1
    shutil.move(path, target)
    fsync_dir(folder)
    return target


def _write_why(target: Path, reason: str) -> None:
    text = (
        "Tệp bị từ chối toàn bộ: không quyết định nào trong tệp được áp dụng. Sửa dòng và cột nêu dưới đây rồi "
        "đặt lại tệp vào thư mục decisions.\n"
        "The file was refused whole: none of its decisions was applied. Fix the row and column named below and "
        "drop the file into the decisions folder again.\n\n"
        f"{reason}\n"
    )
    target.with_name(target.name + ".why.txt").write_text(text, encoding="utf-8")


@contextlib.contextmanager
def _locked(store_dir: Path) -> Iterator[None]:
    """One writer of the decisions table at a time (the nightly intake and `sachsong decide`)."""
    with open(store_dir / DECISIONS_LOCK, "a+") as handle:
        deadline = time.monotonic() + LOCK_WAIT_SECONDS
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise StoreBusyError(
                        f"{store_dir / DECISIONS_LOCK}: another process is writing steward decisions"
                    ) from None
                time.sleep(0.2)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

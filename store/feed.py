"""Reading the change feed back: `sachsong changes --store PATH [--since RUN]`.

Each published snapshot holds the `changes` of its own run; the feed since a run is the `changes` tables of the
snapshots published after it, in publishing order, up to the live one. Old snapshots are pruned (the store keeps
the newest few): asking from further back than the oldest kept snapshot says so instead of silently leaving a
gap.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from sachsong.store.layout import SNAPSHOT_MANIFEST, SNAPSHOT_PARQUET_DIR, StoreError, snapshots_dir
from sachsong.store.reader import current_run_id, read_manifest


def published_runs(store_dir: str | Path) -> list[tuple[str, int, Path]]:
    """(run_id, sequence, snapshot folder) of every kept snapshot up to the live one, oldest first."""
    store_dir = Path(store_dir)
    live = current_run_id(store_dir)
    root = snapshots_dir(store_dir)
    if live is None or not root.is_dir():
        return []
    found = []
    for directory in root.iterdir():
        if (directory / SNAPSHOT_MANIFEST).is_file():
            manifest = read_manifest(directory)
            found.append((str(manifest["run_id"]), int(manifest["sequence"]), directory))
    found.sort(key=lambda item: item[1])
    sequences = {run_id: sequence for run_id, sequence, _ in found}
    return [item for item in found if item[1] <= sequences.get(live, 0)]


def read_changes(store_dir: str | Path, since: str | None = None) -> pl.DataFrame:
    """The changes of every run after `since` (all kept runs when None), oldest first."""
    runs = published_runs(store_dir)
    if not runs:
        raise StoreError(f"{store_dir}: nothing published yet; run `sachsong run` first")
    if since is not None:
        known = {run_id: sequence for run_id, sequence, _ in runs}
        if since not in known:
            raise StoreError(
                f"{store_dir}: run {since!r} is not among the kept snapshots (oldest kept: {runs[0][0]}); "
                "its later changes may have been pruned: ask --since the oldest kept run, or take a full copy"
            )
        runs = [run for run in runs if run[1] > known[since]]
    frames = []
    for _, _, directory in runs:
        path = directory / SNAPSHOT_PARQUET_DIR / "changes.parquet"
        if path.is_file():
            frames.append(pl.read_parquet(path))
    if not frames:
        return pl.DataFrame(
            schema={"run_id": pl.String, "change": pl.String, "entity_id": pl.String, "record_key": pl.String,
                    "source_file": pl.String, "fields": pl.List(pl.String), "detail": pl.String}
        )
    return pl.concat(frames, how="diagonal_relaxed")

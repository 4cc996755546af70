"""Adversarial nights against the promise "incremental = full" (docs/ids-and-changes.md, "Incremental nights").

Night 1 of a small generated province is run once into a base store. Each test copies that store (with its work
folder), writes night 2's exports the way a commune office or an attacker would, or damages the store's work folder
between the nights, and runs night 2 incrementally. The same night is run as a full rebuild on a copy of the base
store without its `.work/`. The night must publish, conserve every input row, and publish exactly the rebuild's
tables (run ids and the ids minted tonight mapped one to one; ids issued before tonight identical).
"""

from __future__ import annotations

import json
import random
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
import pytest

PROVINCE = "44"
PERSONS = 200
SEED = 7
NIGHT1 = date(2026, 11, 1)
NIGHT2 = date(2026, 11, 2)
COMPARISONS = Path(".work") / "comparisons-residents.parquet"


@dataclass(frozen=True)
class Base:
    root: Path
    night1: Path  # night 1's exports (the sources folder)
    store: Path  # the store as night 1 left it, work folder included
    issued_before: frozenset[str]
    csvs: tuple[str, ...]  # the CSV exports, largest first


@dataclass(frozen=True)
class Published:
    run_id: str
    parquet: Path
    summary: dict[str, Any]


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Base:
    """Night 1: ten exports of a generated province (the largest CSVs, JSON and xlsx files) into one store."""
    from sachsong.demo.residents import write_demo
    from sachsong.pipelines.province import run_province

    root = tmp_path_factory.mktemp("incremental-adversarial")
    write_demo(root / "demo", province=PROVINCE, persons=PERSONS, seed=SEED)
    largest = sorted((root / "demo" / "exports").iterdir(), key=lambda p: -p.stat().st_size)
    chosen = [p for p in largest if p.suffix == ".csv"][:6]
    chosen += [p for p in largest if p.suffix == ".json"][:2] + [p for p in largest if p.suffix == ".xlsx"][
        :2
    ]
    night1 = root / "night1"
    night1.mkdir()
    for path in chosen:
        shutil.copy2(path, night1 / path.name)
    summary = run_province("residents", night1, root / "base", NIGHT1, province=PROVINCE)
    assert summary["status"] == "published"
    issued = pl.read_parquet(Path(summary["snapshot"]) / "parquet" / "issued_ids.parquet")
    csvs = tuple(p.name for p in chosen if p.suffix == ".csv")
    assert len(csvs) >= 2 and (root / "base" / COMPARISONS).is_file()
    return Base(root, night1, root / "base", frozenset(issued.get_column("entity_id")), csvs)


def run(sources: Path, store: Path, *, full: bool = False) -> Published:
    from sachsong.pipelines.province import run_province

    summary = run_province("residents", sources, store, NIGHT2, province=PROVINCE, full=full)
    assert summary["status"] == "published"
    return Published(str(summary["run_id"]), Path(summary["snapshot"]) / "parquet", summary)


def store_copy(base: Base, target: Path, *, with_work: bool) -> Path:
    shutil.copytree(base.store, target, symlinks=True)
    if not with_work:
        shutil.rmtree(target / ".work")  # what a full rebuild starts from
    return target


def night_copy(base: Base, target: Path) -> Path:
    shutil.copytree(base.night1, target)
    return target


def reorder_rows(path: Path) -> None:
    """The export's data rows in reverse order, header first, bytes of each line kept."""
    header, *rows = path.read_bytes().splitlines(keepends=True)
    rows = [r if r.endswith(b"\n") else r + b"\r\n" for r in rows]
    path.write_bytes(header + b"".join(reversed(rows)))


def night2_sources(base: Base, target: Path) -> Path:
    """The night the cache tests run: night 1's exports, one CSV's rows re-ordered (read again), the rest unchanged
    (served from the work folder)."""
    night_copy(base, target)
    reorder_rows(target / base.csvs[0])
    return target


# ------------------------------------------------------------------------------------------- comparing runs
def _everyone(night: Published) -> pl.DataFrame:
    return pl.concat(
        [
            pl.read_parquet(night.parquet / f"{t}.parquet").select("record_key", "person_id")
            for t in ("residents_records", "quarantine")
        ]
    )


def _publication(night: Published, same_id: dict[str, str], run_id: str) -> dict[str, list[str]]:
    def renamed(value: Any) -> Any:
        if isinstance(value, str):
            return run_id if value == night.run_id else same_id.get(value, value)
        if isinstance(value, list):
            return [renamed(v) for v in value]
        if isinstance(value, dict):
            return {k: renamed(v) for k, v in value.items()}
        return value

    return {
        path.stem: sorted(
            json.dumps(renamed(row), sort_keys=True, default=str) for row in pl.read_parquet(path).to_dicts()
        )
        for path in sorted(night.parquet.glob("*.parquet"))
    }


def assert_conserved(night: Published) -> None:
    counts = night.summary["counts_per_source"]
    unbalanced = [
        name
        for name, c in counts.items()
        if c["rows_in"] != c["published"] + c["quarantined"] + c["rejected"]
    ]
    assert counts and not unbalanced, f"rows in != published + quarantined + rejected for {unbalanced}"


def assert_same_publication(
    incremental: Published, rebuild: Published, issued_before: frozenset[str]
) -> None:
    """Every table equal row for row, but for the run ids and the names of the ids each run minted tonight."""
    assert_conserved(incremental)
    assert_conserved(rebuild)
    pairs = _everyone(incremental).join(
        _everyone(rebuild).rename({"person_id": "rebuilt"}), on="record_key", how="full", coalesce=True
    )
    assert pairs.height == _everyone(incremental).height == _everyone(rebuild).height, "record keys differ"
    old = pairs.filter(pl.col("person_id").is_in(list(issued_before)))
    assert old.filter(pl.col("person_id") != pl.col("rebuilt")).height == 0, (
        "an id issued before tonight moved"
    )
    minted = pairs.join(old, on="record_key", how="anti").select("rebuilt", "person_id").unique()
    assert minted.get_column("person_id").is_unique().all() and minted.get_column("rebuilt").is_unique().all()
    mine = _publication(incremental, {}, incremental.run_id)
    theirs = _publication(rebuild, dict(minted.rows()), incremental.run_id)
    assert mine.keys() == theirs.keys()
    different = {t: (len(mine[t]), len(theirs[t])) for t in mine if mine[t] != theirs[t]}
    assert not different, f"tables that differ (incremental rows, rebuilt rows): {different}"


def incremental_equals_full(base: Base, work: Path, write: Callable[[Path], None]) -> Published:
    """Night 2 written by `write` into a fresh sources folder: incremental on a copy of the base store, full
    rebuild on a copy without its work folder; both must publish the same."""
    sources = work / "sources"
    write(sources)
    incremental = run(sources, store_copy(base, work / "incremental", with_work=True))
    rebuild = run(sources, store_copy(base, work / "rebuild", with_work=False), full=True)
    assert_same_publication(incremental, rebuild, base.issued_before)
    return incremental


@pytest.fixture(scope="module")
def rebuilt_night2(base: Base, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Published]:
    """The cache tests' night as a full rebuild, once: (its sources folder, what it published)."""
    work = tmp_path_factory.mktemp("rebuilt-night2")
    sources = night2_sources(base, work / "sources")
    return sources, run(sources, store_copy(base, work / "store", with_work=False), full=True)


def night_on_damaged_work(
    base: Base, rebuilt: tuple[Path, Published], work: Path, damage: Callable[[Path], None]
) -> None:
    """The cache tests' night, incremental, on a copy of the base store whose work folder `damage` broke: a broken
    cache costs a re-read, never the night, and the night publishes what the full rebuild publishes."""
    sources, rebuild = rebuilt
    store = store_copy(base, work / "store", with_work=True)
    damage(store / ".work")
    try:
        incremental = run(sources, store)
    except Exception as exc:  # any failure here is the finding; say which
        pytest.fail(
            f"the night failed on a damaged work folder instead of reading again: {type(exc).__name__}: {exc}"
        )
    assert_same_publication(incremental, rebuild, base.issued_before)


def _first_entry(work: Path, step: str) -> Path:
    return sorted((work / step).iterdir())[0]


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


# -------------------------------------------------------------------------------------- inputs that pass
def test_same_bytes_under_a_new_name_is_read_again_and_publishes_the_rebuild(base: Base, tmp_path: Path):
    def write(sources: Path) -> None:
        night_copy(base, sources)
        (sources / base.csvs[0]).rename(sources / f"moi_{base.csvs[0]}")

    night = incremental_equals_full(base, tmp_path, write)
    # Its name (and so its source id) changed: only that export is read again.
    assert night.summary["files_reused"] == len(list(base.night1.iterdir())) - 1


def test_two_exports_swapping_names_publish_the_rebuild(base: Base, tmp_path: Path):
    def write(sources: Path) -> None:
        night_copy(base, sources)
        a, b = sources / base.csvs[0], sources / base.csvs[1]
        a.rename(sources / "swap.tmp")
        b.rename(a)
        (sources / "swap.tmp").rename(b)

    night = incremental_equals_full(base, tmp_path, write)
    assert night.summary["files_reused"] == len(list(base.night1.iterdir())) - 2


# ------------------------------------------------------------------------------- the comparison cache
def test_a_truncated_comparison_cache_costs_a_recomparison(base, rebuilt_night2, tmp_path: Path):
    # Garbage bytes in its place were tried too (the same warning, the same publication); not kept, for time.
    def broken(work: Path) -> None:
        _truncate(work.parent / COMPARISONS)

    night_on_damaged_work(base, rebuilt_night2, tmp_path, broken)


def test_a_comparison_cache_with_levels_out_of_range_costs_a_recomparison(
    base, rebuilt_night2, tmp_path: Path
):
    """A cache whose file and metadata are intact but whose levels are not levels any comparison gives (a bit
    flipped on disk, an old writer): crashed matching with `IndexError: index 99 is out of bounds` when written."""
    import pyarrow.parquet as pq

    def broken(work: Path) -> None:
        cache = work.parent / COMPARISONS
        table = pq.read_table(cache)
        levels = pl.from_arrow(table).with_columns(pl.col("^.*_level$").fill_null(0) * 0 + 99)
        pq.write_table(levels.to_arrow().replace_schema_metadata(table.schema.metadata), cache)

    night_on_damaged_work(base, rebuilt_night2, tmp_path, broken)


# ------------------------------------------------------------------------- the kept batches and shares
@pytest.mark.parametrize(
    "damage",
    ["step.json deleted", "step.json truncated", "counts.parquet deleted", "counts.parquet truncated"],
)
def test_a_damaged_kept_batch_costs_a_reread(base, rebuilt_night2, tmp_path: Path, damage: str):
    """One kept batch of the ingest step (`.work/prepare/<key>/`) damaged. When written: a deleted step.json
    failed the night with `OSError: [Errno 39] Directory not empty`, a truncated one with `JSONDecodeError`; a
    deleted or truncated counts.parquet failed it later, at `identity ∥ gate` (FileNotFoundError / ComputeError)."""
    name, action = damage.split(" ")

    def broken(work: Path) -> None:
        path = _first_entry(work, "prepare") / name
        path.unlink() if action == "deleted" else _truncate(path)

    night_on_damaged_work(base, rebuilt_night2, tmp_path, broken)


def test_a_third_of_the_work_folder_deleted_at_random_costs_a_reread(base, rebuilt_night2, tmp_path: Path):
    def broken(work: Path) -> None:
        files = sorted(p for p in work.rglob("*") if p.is_file())
        for path in random.Random(1).sample(files, len(files) // 3):
            path.unlink()

    night_on_damaged_work(base, rebuilt_night2, tmp_path, broken)


def test_kept_shares_swapped_between_exports_cost_a_reread(base, rebuilt_night2, tmp_path: Path):
    """Two exports' kept shares (`.work/prepare-file/<key>/`) hold each other's rows and counts: another night's
    files copied in under the wrong keys. When written: the night failed with a ConservationError (an export
    published twice its rows, another none) instead of noticing that a share is not its key's."""

    def broken(work: Path) -> None:
        entries = sorted((work / "prepare-file").iterdir())
        for a, b in zip(entries[0::2], entries[1::2], strict=False):
            for name in ("standardized.parquet", "counts.parquet"):
                (a / name).rename(a / "swap.tmp")
                (b / name).rename(a / name)
                (a / "swap.tmp").rename(b / name)

    night_on_damaged_work(base, rebuilt_night2, tmp_path, broken)


def test_a_work_folder_that_is_a_file_publishes_or_names_it(base, rebuilt_night2, tmp_path: Path):
    """`.work` replaced by a regular file. The night may publish (the cache is only a cache) or refuse, but then it
    must say that the work folder is the problem. When written it failed at discover with
    `FileExistsError: [Errno 17] File exists: '…'`, the path hidden, nothing naming `.work`."""
    from sachsong.pipelines.province import run_province

    sources, rebuild = rebuilt_night2
    store = store_copy(base, tmp_path / "store", with_work=True)
    shutil.rmtree(store / ".work")
    (store / ".work").write_bytes(b"not a folder")
    try:
        summary = run_province("residents", sources, store, NIGHT2, province=PROVINCE)
    except Exception as exc:  # the message is what is tested
        assert ".work" in str(exc), f"the failure does not name the work folder: {type(exc).__name__}: {exc}"
        return
    night = Published(str(summary["run_id"]), Path(summary["snapshot"]) / "parquet", summary)
    assert_same_publication(night, rebuild, base.issued_before)


@pytest.fixture(scope="module")
def rebuilt_rerun(base: Base, tmp_path_factory: pytest.TempPathFactory) -> Published:
    """Night 1 sent again, same bytes and date, as a full rebuild: what a re-run of the night must publish."""
    from sachsong.pipelines.province import run_province

    store = store_copy(base, tmp_path_factory.mktemp("rebuilt-rerun") / "store", with_work=False)
    summary = run_province("residents", base.night1, store, NIGHT1, province=PROVINCE, full=True)
    return Published(str(summary["run_id"]), Path(summary["snapshot"]) / "parquet", summary)


@pytest.mark.parametrize("damage", ["checks: step.json deleted", "matching: parquet files truncated"])
def test_a_damaged_whole_step_cache_on_a_rerun_costs_a_recompute(
    base, rebuilt_rerun, tmp_path: Path, damage: str
):
    """A re-run of night 1 (same exports, same date) serves the checks and matching steps whole from
    `.work/<step>/<key>/`. When written: checks' step.json deleted failed the night at checks with `OSError:
    [Errno 39] Directory not empty`; matching's Parquet files truncated failed it at `identity ∥ gate` with
    `ComputeError: parquet: File out of specification`."""
    from sachsong.pipelines.province import run_province

    step, what = damage.split(": ")
    store = store_copy(base, tmp_path / "store", with_work=True)
    entry = _first_entry(store / ".work", step)
    if what == "step.json deleted":
        (entry / "step.json").unlink()
    else:
        for path in entry.glob("*.parquet"):
            _truncate(path)
    try:
        summary = run_province("residents", base.night1, store, NIGHT1, province=PROVINCE)
    except Exception as exc:  # any failure here is the finding; say which
        pytest.fail(
            f"the re-run failed on a damaged step cache instead of recomputing: {type(exc).__name__}: {exc}"
        )
    night = Published(str(summary["run_id"]), Path(summary["snapshot"]) / "parquet", summary)
    assert_same_publication(night, rebuilt_rerun, base.issued_before)

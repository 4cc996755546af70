"""Batches of export files and the step outputs the flow hands between tasks (no Prefect server needed)."""

from __future__ import annotations

import os
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from sachsong.pipelines.flows import source_inputs
from sachsong.pipelines.steps import (
    STEP_MANIFEST,
    StepOutput,
    batch_offsets,
    load_passed,
    load_standardized,
    plan_batches,
    prune_work,
    run_step,
    step_directory,
)
from sachsong.sources.ingest import ingest_directory, ingest_files, list_source_files


def test_batches_are_contiguous_balanced_and_cover_every_file_once() -> None:
    sizes = {f"{i:03d}.csv": size for i, size in enumerate([10, 1, 1, 1, 50, 1, 1, 1, 1, 1, 30, 5, 0, 0])}
    batches = plan_batches(sizes, workers=2)
    assert [name for batch in batches for name in batch] == list(sizes)  # walk order kept, nothing twice
    assert len(batches) == 4  # two per worker
    loads = [sum(sizes[name] for name in batch) for batch in batches]
    assert max(loads) == 50  # the biggest file alone; no batch holds it plus others

    many = {f"{i:04d}.csv": 1000 for i in range(1000)}
    assert len(plan_batches(many, workers=1, batch_bytes=100_000)) == 10  # total / batch size
    assert plan_batches({"only.csv": 7}, workers=4) == [["only.csv"]]
    assert plan_batches({}, workers=2) == []
    # Empty files still spread by count.
    assert plan_batches({"a": 0, "b": 0, "c": 0, "d": 0}, workers=1) == [["a", "b"], ["c", "d"]]


def test_step_runs_once_and_is_reused(tmp_path: Path) -> None:
    calls = []

    def compute() -> tuple[dict[str, pl.DataFrame], dict[str, int]]:
        calls.append(1)
        return {"table": pl.DataFrame({"row_uid": [0, 1], "x": ["a", None]})}, {"rows": 2}

    first = run_step(tmp_path, "step", "k" * 64, compute)
    again = run_step(tmp_path, "step", "k" * 64, compute)
    other = run_step(tmp_path, "step", "j" * 64, compute)
    assert calls == [1, 1]
    assert (first.reused, again.reused, other.reused) == (False, True, False)
    assert again.counts == {"rows": 2} and again.read("table").equals(first.read("table"))
    assert sorted(p.name for p in (tmp_path / "step").iterdir()) == ["j" * 40, "k" * 40]


def test_failed_step_leaves_nothing_to_reuse(tmp_path: Path) -> None:
    def broken() -> tuple[dict[str, pl.DataFrame], dict[str, int]]:
        raise RuntimeError("room failed")

    with pytest.raises(RuntimeError, match="room failed"):
        run_step(tmp_path, "step", "k" * 64, broken)
    assert not step_directory(tmp_path, "step", "k" * 64).exists()

    class Unwritable(pl.DataFrame):
        def write_parquet(self, *args, **kwargs):
            raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        run_step(tmp_path, "step", "k" * 64, lambda: ({"t": Unwritable({"a": [1]})}, {}))
    assert list((tmp_path / "step").iterdir()) == []  # no half-built folder either


def test_prune_drops_only_stale_steps(tmp_path: Path) -> None:
    fresh = run_step(tmp_path, "a", "1" * 64, lambda: ({"t": pl.DataFrame({"x": [1]})}, {}))
    stale = run_step(tmp_path, "a", "2" * 64, lambda: ({"t": pl.DataFrame({"x": [2]})}, {}))
    old = time.time() - timedelta(days=8).total_seconds()
    os.utime(Path(stale.directory) / STEP_MANIFEST, (old, old))
    assert prune_work(tmp_path) == 1
    assert Path(fresh.directory).is_dir() and not Path(stale.directory).exists()


def test_stacked_batches_get_table_wide_row_uids(tmp_path: Path) -> None:
    def batch(key: str, files: list[str]) -> StepOutput:
        frame = pl.DataFrame({"row_uid": list(range(len(files))), "source_file": files})
        return run_step(tmp_path, "prepare", key * 64, lambda: ({"standardized": frame}, {}))

    batches = [batch("a", ["x.csv", "x.csv"]), batch("b", ["y.csv"])]
    stacked = load_standardized(batches)
    assert stacked["row_uid"].to_list() == [0, 1, 2]
    assert stacked["source_file"].to_list() == ["x.csv", "x.csv", "y.csv"]
    assert load_standardized(batches, ["source_file"]).equals(stacked.select("row_uid", "source_file"))
    assert load_standardized(batches[1:])["row_uid"].to_list() == [0]
    # A query over the batch files finds each row's row_uid as its file's offset + its position in the file.
    offsets = batch_offsets(batches)
    assert [(offset, rows) for _, offset, rows in offsets] == [(0, 2), (2, 1)]
    assert [path for path, _, _ in offsets] == [b.path("standardized") for b in batches]


def _write_exports(root: Path) -> None:
    exports = root / "exports"
    (exports / "north").mkdir(parents=True)
    (exports / "south").mkdir(parents=True)
    header = "ho_ten,ngay_sinh,gioi_tinh,so_cccd,dia_chi\n"
    (exports / "north" / "a.csv").write_text(
        header + "Nguyễn Văn An,01/02/1990,Nam,001090000001,Xã Lộc Hà\nTrần Thị Bình,1985,Nữ,,Xã Lộc Hà\n",
        encoding="utf-8",
    )
    # Same stem in two folders: default source ids depend on both files existing.
    (exports / "south" / "a.csv").write_text(
        header + "Lê Văn Cường,03/04/2001,Nam,,Phường 1\n", encoding="utf-8"
    )
    (exports / "south" / "b.csv").write_bytes(header.encode() + b"\xff\xfe broken \x00 line\n")
    (exports / ".hidden.csv").write_text(header, encoding="utf-8")
    (root / "truth").mkdir()
    (root / "truth" / "people.parquet").write_bytes(b"not input")


def test_ingest_in_batches_equals_one_ingest_of_the_folder(tmp_path: Path) -> None:
    _write_exports(tmp_path)
    whole = ingest_directory(tmp_path)
    names = list_source_files(tmp_path)
    assert names == whole.counts["source_file"].to_list()

    parts = [ingest_files(tmp_path, batch) for batch in plan_batches(dict.fromkeys(names, 1), workers=1)]
    assert pl.concat([p.table for p in parts]).equals(whole.table)
    assert pl.concat([p.counts for p in parts]).equals(whole.counts)
    assert pl.concat([p.rejects for p in parts]).equals(whole.rejects)
    assert set(whole.table["source_id"]) == {"north__a", "south__a"}  # qualified because the stems collide

    with pytest.raises(FileNotFoundError, match=r"nope\.csv"):
        ingest_files(tmp_path, ["nope.csv"])


def test_source_inputs_fingerprint_what_ingest_reads(tmp_path: Path) -> None:
    _write_exports(tmp_path)
    inputs = source_inputs(tmp_path)
    assert list(inputs.files) == list_source_files(tmp_path)  # no truth/, no hidden files
    before = inputs.fingerprint("code")
    (tmp_path / "exports" / "south" / "a.csv").write_text("changed\n", encoding="utf-8")
    changed = source_inputs(tmp_path)
    assert changed.fingerprint("code") != before
    assert changed.files["north/a.csv"] == inputs.files["north/a.csv"]
    (tmp_path / "registry.yaml").write_text("sources: []\n", encoding="utf-8")
    assert source_inputs(tmp_path).registry != ""


def test_passed_records_are_filtered_batch_by_batch_with_their_table_wide_row_uids(tmp_path: Path) -> None:
    def batch(key: str, names: list[str]) -> StepOutput:
        frame = pl.DataFrame(
            {"row_uid": list(range(len(names))), "full_name": names, "sex": ["nam"] * len(names)}
        )
        return run_step(tmp_path, "prepare", key * 64, lambda: ({"standardized": frame}, {}))

    batches = [batch("a", ["An", "Bình", "Chi"]), batch("b", []), batch("c", ["Dũng", "Em"])]
    # The passed ids as the checks store them; the first batch keeps rows 0 and 2, the last only row 3.
    passed = pl.DataFrame({"row_uid": [3, 0, 2]})
    checks = run_step(tmp_path, "checks", "d" * 64, lambda: ({"passed_uids": passed}, {}))

    loaded = load_passed(checks, batches, ["full_name"])

    assert loaded.to_dicts() == [
        {"row_uid": 0, "full_name": "An"},
        {"row_uid": 2, "full_name": "Chi"},
        {"row_uid": 3, "full_name": "Dũng"},
    ]
    assert loaded.n_chunks("all") == [1, 1]
    assert loaded.equals(load_standardized(batches, ["full_name"]).filter(pl.col("row_uid").is_in([0, 2, 3])))


def _prepare(root: Path, work: Path, files: list[str], key: str) -> StepOutput:
    from sachsong.pipelines.steps import code_fingerprint, combine_fingerprints, prepare_step

    inputs = source_inputs(root)
    code = combine_fingerprints(code_fingerprint(), "test")
    keys = inputs.file_keys(code)
    return prepare_step(
        "residents", str(root), files, str(work), key, "test", {n: keys[n] for n in files},
        {n: inputs.files[n][1] for n in files},
    )


def test_a_file_read_on_an_earlier_night_is_reused_only_while_its_source_id_holds(tmp_path: Path) -> None:
    """North's export is unchanged from night to night; the batch that holds it must be what reading the folder
    gives each night. When an export with the same stem appears elsewhere, north's source id becomes
    `north__a` and its rows must be read again, not served from the night it was `a`."""
    root, work = tmp_path / "sources", tmp_path / "work"
    _write_exports(root)
    (root / "exports" / "south" / "a.csv").unlink()
    first = _prepare(root, work, list_source_files(root), "1" * 64)
    assert first.counts["files_reused"] == 0
    assert set(first.read("standardized")["source_id"]) == {"a"}

    # Night 2: south/b.csv changes, the rest is the same bytes: north (and the hidden file ingest skips, whose
    # accounting is kept too) are reused, b read again.
    (root / "exports" / "south" / "b.csv").write_text(
        "ho_ten,ngay_sinh,gioi_tinh,so_cccd,dia_chi\nPhạm Thị Dung,05/06/1970,Nữ,,Phường 2\n", encoding="utf-8"
    )
    second = _prepare(root, work, list_source_files(root), "2" * 64)
    assert second.counts["files_reused"] == 2
    fresh = _prepare(root, tmp_path / "fresh-work", list_source_files(root), "2" * 64)
    for table in ("standardized", "rejects", "counts"):
        assert second.read(table).equals(fresh.read(table)), table

    # Night 3: south/a.csv appears; north/a.csv has the same bytes but another source id.
    (root / "exports" / "south" / "a.csv").write_text(
        "ho_ten,ngay_sinh,gioi_tinh,so_cccd,dia_chi\nLê Văn Cường,03/04/2001,Nam,,Phường 1\n", encoding="utf-8"
    )
    third = _prepare(root, work, list_source_files(root), "3" * 64)
    assert third.counts["files_reused"] == 2  # south/b.csv, unchanged since night 2, and the hidden file
    standardized = third.read("standardized")
    assert set(standardized["source_id"]) == {"north__a", "south__a", "b"}
    assert standardized["row_uid"].to_list() == list(range(standardized.height))
    fresh = _prepare(root, tmp_path / "fresh-work-3", list_source_files(root), "3" * 64)
    for table in ("standardized", "rejects", "counts"):
        assert third.read(table).equals(fresh.read(table)), table


def test_an_export_changed_while_it_is_read_is_used_tonight_but_never_kept_for_a_later_night(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The night fingerprints north/a.csv, then a commune office overwrites it before ingest reads it: tonight
    uses the rows ingest read, but neither the file's share nor the batch is kept under the old bytes' key, so a
    later night sending the old bytes again reads them instead of being served the other rows."""
    import sachsong.sources.ingest as ingest

    root, work = tmp_path / "sources", tmp_path / "work"
    _write_exports(root)
    target = root / "exports" / "north" / "a.csv"
    original = target.read_bytes()
    read = ingest.ingest_files

    def overwritten_before_reading(*args, **kwargs):
        target.write_text("ho_ten,ngay_sinh,gioi_tinh,so_cccd,dia_chi\nHồ Văn Em,07/08/1999,Nam,,Xã Lộc Hà\n",
                          encoding="utf-8")
        return read(*args, **kwargs)

    monkeypatch.setattr(ingest, "ingest_files", overwritten_before_reading)
    tonight = _prepare_from(root, work, "1" * 64, fingerprinted_before=source_inputs(root))
    assert tonight.counts["changed_while_read"] == ["north/a.csv"]
    assert tonight.read("standardized").filter(pl.col("source_file") == "north/a.csv").height == 1
    monkeypatch.setattr(ingest, "ingest_files", read)

    target.write_bytes(original)  # the next night sends the bytes fingerprinted last night
    later = _prepare(root, work, list_source_files(root), "1" * 64)
    # Reused: the hidden file and south/a.csv; read again: north/a.csv, and south/b.csv (refused whole).
    assert not later.reused and later.counts["files_reused"] == 2
    assert later.read("standardized").filter(pl.col("source_file") == "north/a.csv").height == 2


def _prepare_from(root: Path, work: Path, key: str, fingerprinted_before: Any) -> StepOutput:
    from sachsong.pipelines.steps import code_fingerprint, combine_fingerprints, prepare_step

    code = combine_fingerprints(code_fingerprint(), "test")
    keys = fingerprinted_before.file_keys(code)
    files = list(fingerprinted_before.files)
    return prepare_step(
        "residents", str(root), files, str(work), key, "test", keys,
        {n: fingerprinted_before.files[n][1] for n in files},
    )


@pytest.mark.parametrize("damage", ["truncated", "garbage", "manifest"])
def test_a_damaged_kept_share_is_read_again_not_the_end_of_the_night(tmp_path: Path, damage: str) -> None:
    """A kept share damaged on disk (a truncated or overwritten Parquet file, a garbled manifest) costs a re-read
    of that export; the batch is what a fresh read gives."""
    from sachsong.pipelines.steps import FILE_STEP

    root, work = tmp_path / "sources", tmp_path / "work"
    _write_exports(root)
    _prepare(root, work, list_source_files(root), "1" * 64)
    kept = sorted((work / FILE_STEP).iterdir())
    assert kept
    for directory in kept:
        if damage == "manifest":
            (directory / "step.json").write_text("{not json", encoding="utf-8")
            continue
        target = directory / "standardized.parquet"
        data = target.read_bytes()
        target.write_bytes(data[: len(data) // 2] if damage == "truncated" else b"PAR1" + b"\x00" * 64 + b"PAR1")
    again = _prepare(root, work, list_source_files(root), "2" * 64)
    fresh = _prepare(root, tmp_path / "fresh", list_source_files(root), "2" * 64)
    for table in ("standardized", "rejects", "counts"):
        assert again.read(table).equals(fresh.read(table)), table
    assert again.counts["files_reused"] == 0  # every share was damaged: every export read again
    rebuilt = {p.name for p in (work / FILE_STEP).iterdir()}
    assert rebuilt == {p.name for p in kept}  # and kept again, whole


def test_an_export_refused_whole_is_read_again_the_next_night(tmp_path: Path) -> None:
    """south/b.csv is refused whole (its bytes cannot be decoded with confidence). A refusal may come from a
    read limit on a busy night, so it is never served from the cache: the next night reads the file again,
    while the exports read fine are reused; nor is tonight's batch kept for a later night."""
    root, work = tmp_path / "sources", tmp_path / "work"
    _write_exports(root)
    first = _prepare(root, work, list_source_files(root), "1" * 64)
    refused = first.read("counts").filter(pl.col("status") == "failed")["source_file"].to_list()
    assert refused == ["south/b.csv"]
    again = _prepare(root, work, list_source_files(root), "1" * 64)
    assert not again.reused
    assert again.counts["files_reused"] == len(list_source_files(root)) - 1
    assert again.read("counts").equals(first.read("counts"))

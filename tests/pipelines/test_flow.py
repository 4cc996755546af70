"""The nightly flow end to end on a small generated province, with the real rooms."""

from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from sachsong.pipelines.flows import RunFailed, conservation, province_nightly
from sachsong.pipelines.run import run_nightly_cli
from sachsong.store.history import read_runs
from sachsong.store.reader import current_manifest, current_run_id, open_current, read_current_table

from .conftest import AS_OF

pytestmark = pytest.mark.usefixtures("prefect_server", "pinned_code")

TABLES = {
    "residents_records",
    "residents_golden",
    "quarantine",
    "findings",
    "rejects",
    "review_queue",
    "source_files",
    "person_id_history",
    "changes",
    "entity_index",
    "issued_ids",
}


@pytest.fixture(scope="module", autouse=True)
def pinned_code():
    """Other rooms' files change while these tests run (a team edits them); pin the code fingerprint so the
    cache behaviour under test does not depend on someone saving a file mid-test."""
    import sachsong.pipelines.province as province

    original = province.code_fingerprint
    province.code_fingerprint = lambda: "pinned-for-tests"
    yield
    province.code_fingerprint = original


@pytest.fixture(scope="module")
def baseline(prefect_server, demo_sources: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    store = tmp_path_factory.mktemp("baseline") / "store"
    code = run_nightly_cli(
        province="44",
        sources=demo_sources,
        store=store,
        as_of=date.fromisoformat(AS_OF),
        dask_address=None,
        persons=0,
    )
    assert code == 0
    return store


def test_a_quarantined_record_is_still_matched_to_its_person_but_never_published(baseline: Path) -> None:
    records = read_current_table(baseline, "residents_records")
    golden = read_current_table(baseline, "residents_golden")
    quarantine = read_current_table(baseline, "quarantine")
    assert quarantine.height > 0 and "cluster_id" in quarantine.columns
    linkable = quarantine.filter(~pl.col("reasons").list.eval(pl.element().str.starts_with("contract_")).list.any())
    assert linkable["cluster_id"].null_count() == 0
    # Its person can be found: some quarantined records belong to a person the store publishes.
    found = linkable.join(records.select("cluster_id").unique(), on="cluster_id", how="semi")
    assert found.height > 0
    # Golden records are made of published records only.
    members = set(golden.explode("member_row_uids")["member_row_uids"].to_list())
    assert not members & set(quarantine["row_uid"].to_list())
    assert members == set(records["row_uid"].to_list())


def test_a_row_that_breaks_the_standardizer_costs_that_row_not_the_night(
    baseline: Path, demo_sources: Path, tmp_path: Path, monkeypatch
) -> None:
    import sachsong.standardize.residents as residents

    real = residents.standardize_residents
    poisoned_file = sorted(read_current_table(baseline, "residents_records")["source_file"].unique())[0]

    def fragile(raw: pl.DataFrame, **kwargs):
        poison = (pl.col("source_file") == poisoned_file) & (pl.col("source_row") == 2)
        if raw.select(poison.any()).item():
            raise IndexError("index out of range")  # a bug only this row's value reaches
        return real(raw, **kwargs)

    monkeypatch.setattr(residents, "standardize_residents", fragile)
    store = tmp_path / "store"
    summary = province_nightly("44", str(demo_sources), str(store), as_of=AS_OF)
    assert summary["status"] == "published"
    rejects = read_current_table(store, "rejects").filter(pl.col("source_file") == poisoned_file)
    isolated = rejects.filter(pl.col("reason").str.contains("IndexError"))
    assert isolated["source_row"].to_list() == [2]
    counts = summary["counts_per_source"][poisoned_file]
    assert counts["rows_in"] == counts["published"] + counts["quarantined"] + counts["rejected"]
    records = read_current_table(store, "residents_records").filter(pl.col("source_file") == poisoned_file)
    assert 2 not in records["source_row"].to_list() and records.height > 0


def test_exports_of_another_province_stop_the_run_before_any_work(
    baseline: Path, demo_sources: Path, tmp_path: Path
) -> None:
    from sachsong.pipelines.flows import ProvinceMismatch

    store = _copy_without_cache(baseline, tmp_path / "store")
    live = current_run_id(store)
    with pytest.raises(ProvinceMismatch, match="province 44"):
        province_nightly("01", str(demo_sources), str(store), as_of=AS_OF)
    assert current_run_id(store) == live  # nothing published under the wrong code
    failed = read_runs(store).row(-1, named=True)
    assert failed["status"] == "failed" and failed["province_code"] == "01"
    assert "check --province" in failed["message"]


def test_an_older_night_does_not_replace_a_newer_one_unless_told_to(
    baseline: Path, demo_sources: Path, tmp_path: Path
) -> None:
    store = _copy_without_cache(baseline, tmp_path / "store")
    live = current_run_id(store)
    with pytest.raises(RunFailed, match="replace_newer"):
        province_nightly("44", str(demo_sources), str(store), as_of="2026-10-01")
    assert current_run_id(store) == live
    assert read_runs(store).row(-1, named=True)["status"] == "failed"
    summary = province_nightly("44", str(demo_sources), str(store), as_of="2026-10-01", replace_newer=True)
    assert current_run_id(store) == summary["run_id"] != live
    assert oct(store.stat().st_mode & 0o777) == "0o700"


def test_each_export_is_described_for_stewards(baseline: Path) -> None:
    files = read_current_table(baseline, "source_files")
    run = read_runs(baseline).row(-1, named=True)
    per_source = json.loads(run["counts_per_source"])
    assert set(files["source_file"]) == set(per_source)
    assert int(files["rows_in"].sum()) == run["rows_in"]
    read = files.filter(pl.col("rows_out") > 0)
    assert read.height and read["dob_order"].is_in(["day_first", "month_first", "mixed", "unknown"]).all()
    assert read["encoding"].null_count() == 0 and read["kind"].null_count() == 0


def _copy_without_cache(store: Path, target: Path) -> Path:
    shutil.copytree(store, target, ignore=shutil.ignore_patterns(".work"))
    return target


def test_run_publishes_every_input_row_once(baseline: Path) -> None:
    manifest = current_manifest(baseline)
    assert set(manifest["row_counts"]) == TABLES
    runs = read_runs(baseline)
    run = runs.row(-1, named=True)
    assert run["status"] == "published" and run["run_id"] == current_run_id(baseline)
    assert run["rows_in"] > 0
    assert run["rows_in"] == run["rows_published"] + run["rows_quarantined"] + run["rows_rejected"]
    per_source = json.loads(run["counts_per_source"])
    assert len(per_source) >= 3
    for counts in per_source.values():
        assert counts["rows_in"] == counts["published"] + counts["quarantined"] + counts["rejected"]
    assert json.loads(run["table_hashes"]) == manifest["table_hashes"]

    records = read_current_table(baseline, "residents_records")
    golden = read_current_table(baseline, "residents_golden")
    assert records["row_uid"].is_unique().all() and records["cluster_id"].null_count() == 0
    assert set(records["cluster_id"]) == set(golden["cluster_id"])
    quarantine = read_current_table(baseline, "quarantine")
    assert records.join(quarantine, on="row_uid", how="semi").height == 0
    assert (baseline / "reports" / "index.html").is_file()

    connection = open_current(baseline)
    try:
        scored = connection.execute(
            "SELECT count(*) FROM findings WHERE rule_id = 'duplicate_record'"
        ).fetchall()
    finally:
        connection.close()
    merged = records.filter(pl.col("cluster_size") > 1).height
    assert (scored[0][0] > 0) == (merged > 0)  # the clean rule saw the clusters


def test_rerun_resumes_from_cache_and_reproduces_hashes(
    baseline: Path, demo_sources: Path, monkeypatch
) -> None:
    import sachsong.matching.dedupe as matching
    import sachsong.standardize.residents as standardize

    calls = []
    monkeypatch.setattr(standardize, "standardize_residents", lambda *a, **k: calls.append("std"))
    monkeypatch.setattr(matching, "dedupe_standardized", lambda *a, **k: calls.append("match"))
    before = current_manifest(baseline)

    summary = province_nightly("44", str(demo_sources), str(baseline), as_of=AS_OF)

    assert calls == []  # every compute step came from the cache
    assert summary["run_id"] != before["run_id"]
    # Every table is the same but the night's own change feed: this night changed nothing.
    after = summary["table_hashes"]
    assert {k: v for k, v in after.items() if k != "changes"} == {
        k: v for k, v in before["table_hashes"].items() if k != "changes"
    }
    assert summary["row_counts"]["changes"] == 0


# step → (module, function to break, the flow step named in the failed run's message)
STEP_FAILURES = {
    "ingest": ("sachsong.sources.ingest", "ingest_files", "ingest+standardize"),
    "standardize": ("sachsong.standardize.residents", "standardize_residents", "ingest+standardize"),
    "checks": ("sachsong.rules.engine", "check_standardized", "checks"),
    "matching": ("sachsong.matching.dedupe", "dedupe_standardized", "matching"),
    "publish": ("sachsong.store.publish", "switch_current", "publish"),
}


@pytest.mark.slow
@pytest.mark.parametrize("step", [*STEP_FAILURES, "gate"])
def test_failure_at_any_step_keeps_previous_snapshot_and_rerun_completes(
    step: str, baseline: Path, demo_sources: Path, tmp_path: Path, monkeypatch
) -> None:
    import importlib

    store = _copy_without_cache(baseline, tmp_path / "store")
    live = current_run_id(store)
    with monkeypatch.context() as patch:
        if step == "gate":
            from sachsong.store.gate import GoldenGate

            # A real GX failure: yesterday's golden table was far larger than today's.
            patch.setattr(GoldenGate, "minimum_rows", lambda self, previous: 10**9)
        else:
            module, name, _ = STEP_FAILURES[step]

            def broken(*args, **kwargs):
                raise RuntimeError(f"injected failure in {step}")

            patch.setattr(importlib.import_module(module), name, broken)
        with pytest.raises(RunFailed):
            province_nightly("44", str(demo_sources), str(store), as_of=AS_OF)

    assert current_run_id(store) == live
    assert read_current_table(store, "residents_golden").height > 0
    failed = read_runs(store).row(-1, named=True)
    if step == "gate":
        assert failed["status"] == "gate_failed"
        assert "expect_table_row_count_to_be_between" in failed["message"]
        assert (store / "data_docs" / "index.html").is_file()
    else:
        assert failed["status"] == "failed"
        assert (
            failed["message"].startswith(f"{STEP_FAILURES[step][2]}:")
            and "injected failure" in failed["message"]
        )
    assert failed["run_id"] != live

    summary = province_nightly("44", str(demo_sources), str(store), as_of=AS_OF)
    assert current_run_id(store) == summary["run_id"] != live
    assert read_runs(store)["status"].to_list()[-2:] == [failed["status"], "published"]


@pytest.mark.slow
def test_dask_cluster_run_reproduces_the_same_tables(
    baseline: Path, demo_sources: Path, tmp_path: Path
) -> None:
    summary = province_nightly(
        "44", str(demo_sources), str(tmp_path / "store"), as_of=AS_OF, dask_address="local-threads"
    )
    # The same tables, ids included (minted from the records they name, not from the run); only the change feed
    # names its own run.
    expected = current_manifest(baseline)["table_hashes"]
    assert {k: v for k, v in summary["table_hashes"].items() if k != "changes"} == {
        k: v for k, v in expected.items() if k != "changes"
    }


def test_missing_sources_fail_clearly(tmp_path: Path) -> None:
    with pytest.raises(RunFailed, match="sources directory not found"):
        province_nightly("44", str(tmp_path / "nowhere"), str(tmp_path / "store"), as_of=AS_OF)
    assert read_runs(tmp_path / "store")["status"].to_list() == ["failed"]


def _uids(ids: list[int]) -> pl.DataFrame:
    return pl.DataFrame({"row_uid": ids}, schema={"row_uid": pl.Int64})


def test_conservation_accounts_per_file_and_catches_leaks() -> None:
    records = pl.DataFrame({"row_uid": [0, 1, 2], "source_file": ["a.csv", "a.csv", "b.xlsx"]})
    files = pl.DataFrame({"source_file": ["a.csv", "b.xlsx"], "rows_in": [3, 2], "rows_rejected": [1, 1]})
    counts, problems = conservation(records, files, _uids([0, 2]), _uids([1]))
    assert problems == []
    assert counts["a.csv"] == {"rows_in": 3, "published": 1, "quarantined": 1, "rejected": 1}

    _, lost = conservation(records, files, _uids([0]), _uids([1]))
    assert any("b.xlsx" in p and "neither published nor quarantined" in p for p in lost)
    _, twice = conservation(records, files, _uids([0, 1, 2]), _uids([1]))
    assert any("both published and quarantined" in p for p in twice)
    _, invented = conservation(records, files, _uids([0, 1, 2, 7]), _uids([]))
    assert any("no input row" in p for p in invented)
    stray = records.with_columns(pl.lit("c.json").alias("source_file"))
    _, unaccounted = conservation(stray, files, _uids([0, 2]), _uids([1]))
    assert any("c.json" in p and "did not account for" in p for p in unaccounted)

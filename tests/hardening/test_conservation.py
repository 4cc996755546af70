"""Nothing is lost: every row of every export is published, quarantined or rejected — counted here from the
files themselves (csv, json, openpyxl), never through the ingest code — and a run that loses a row fails."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from pathlib import Path

import openpyxl
import polars as pl
import pytest

from .conftest import (
    AS_OF,
    BROKEN_EXPORT,
    BROKEN_ROWS,
    PROVINCE,
    Baseline,
    Demo,
    assert_store_intact,
    copy_store,
)

# Legacy 8-bit fonts are not Python codecs; their delimiters, quotes and line ends are ASCII, which latin-1 keeps.
_COUNTING_CODECS = {"tcvn3": "latin-1", "vni": "latin-1"}


def count_export_rows(path: Path, description: dict) -> int:
    """Data rows of one export file, by the standard library and openpyxl alone (header excluded)."""
    kind = description["format"]
    if kind == "json":
        document = json.loads(path.read_text(encoding="utf-8"))
        assert isinstance(document, list), path
        return len(document)
    if kind == "xlsx":
        workbook = openpyxl.load_workbook(path, read_only=True)
        try:
            rows = 0
            for sheet in workbook.worksheets:
                filled = [
                    row
                    for row in sheet.iter_rows(values_only=True)
                    if any(v is not None and str(v).strip() for v in row)
                ]
                rows += max(len(filled) - 1, 0)
            return rows
        finally:
            workbook.close()
    encoding = description.get("encoding") or "utf-8"
    text = path.read_bytes().decode(_COUNTING_CODECS.get(encoding, encoding))
    delimiter = description.get("delimiter") or ","
    rows = [row for row in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter) if any(row)]
    return len(rows) - 1


def _export_counts(demo: Demo) -> dict[str, int]:
    descriptions = {
        **demo.files,
        BROKEN_EXPORT: {"format": "csv-utf8", "encoding": "utf-8", "delimiter": ","},
    }
    return {
        name: count_export_rows(demo.exports / name, description)
        for name, description in descriptions.items()
    }


def _per_file(connection, table: str, where: str = "TRUE") -> dict[str, int]:
    rows = connection.execute(
        f'SELECT source_file, count(*) FROM "{table}" WHERE {where} GROUP BY 1'
    ).fetchall()
    return dict(rows)


def test_independent_counts_agree_with_the_generators_truth(demo: Demo) -> None:
    counts = _export_counts(demo)
    truth = dict(demo.records.group_by("source_file").len().iter_rows())
    assert counts[BROKEN_EXPORT] == BROKEN_ROWS
    assert {name: counts[name] for name in truth} == truth
    # The cut-down demo still covers every format the generator writes, so every reader is exercised.
    assert {"json", "xlsx"} <= {d["format"] for d in demo.files.values()}
    assert len({d["format"] for d in demo.files.values() if d["format"].startswith("csv")}) >= 3


def test_every_export_row_is_published_quarantined_or_rejected(baseline: Baseline, demo: Demo) -> None:
    from sachsong.store.history import read_runs
    from sachsong.store.reader import open_current

    exported = _export_counts(demo)
    connection = open_current(baseline.store)
    try:
        published = _per_file(connection, "residents_records")
        quarantined = _per_file(connection, "quarantine")
        rejected = _per_file(connection, "rejects", "source_row IS NOT NULL")
        whole_file_rejects = _per_file(connection, "rejects", "source_row IS NULL")
        placed = connection.sql(
            "SELECT source_file, source_row, count(*) AS n FROM ("
            " SELECT source_file, source_row FROM residents_records"
            " UNION ALL SELECT source_file, source_row FROM quarantine"
            " UNION ALL SELECT source_file, source_row FROM rejects WHERE source_row IS NOT NULL)"
            " GROUP BY ALL"
        ).pl()
    finally:
        connection.close()

    assert whole_file_rejects == {}
    assert set(published) | set(quarantined) | set(rejected) <= set(exported)
    for name, rows in exported.items():
        placed_rows = published.get(name, 0) + quarantined.get(name, 0) + rejected.get(name, 0)
        assert placed_rows == rows, f"{name}: {rows} rows exported, {placed_rows} accounted for"
    # Each row in exactly one place, and the very rows the generator wrote (not merely as many).
    assert placed["n"].max() == 1
    truth_rows = demo.records.select("source_file", "source_row").sort(pl.all())
    placed_generated = placed.filter(pl.col("source_file") != BROKEN_EXPORT).select(
        "source_file", "source_row"
    )
    assert placed_generated.sort(pl.all()).equals(truth_rows)
    # The broken export: the good row goes on, the two malformed rows are rejected with a reason.
    assert rejected.get(BROKEN_EXPORT) == 2
    assert published.get(BROKEN_EXPORT, 0) + quarantined.get(BROKEN_EXPORT, 0) == 1

    run = read_runs(baseline.store).filter(pl.col("run_id") == baseline.run_id).row(0, named=True)
    recorded = json.loads(run["counts_per_source"])
    assert set(recorded) == set(exported)
    for name, rows in exported.items():
        assert recorded[name] == {
            "rows_in": rows,
            "published": published.get(name, 0),
            "quarantined": quarantined.get(name, 0),
            "rejected": rejected.get(name, 0),
        }, name
    assert run["rows_in"] == sum(exported.values())
    assert run["rows_in"] == run["rows_published"] + run["rows_quarantined"] + run["rows_rejected"]


def test_a_run_that_drops_a_row_fails_and_the_previous_snapshot_stays_live(
    baseline: Baseline, demo: Demo, prefect_api: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sachsong.rules.engine as engine
    from sachsong.pipelines.flows import ConservationError, province_nightly
    from sachsong.store.history import read_runs
    from sachsong.store.reader import current_run_id

    store = copy_store(baseline.store, tmp_path / "store")
    live = current_run_id(store)
    original = engine.check_standardized
    dropped: list[tuple[str, int]] = []

    def check_that_loses_a_row(*args, **kwargs):
        result = original(*args, **kwargs)
        # The last passed record silently vanishes: neither published nor quarantined. (The flow asks for the
        # passed rows' ids only; the record's file and row are looked up in the checked table.)
        checked = args[0] if args else kwargs["std"]
        last = checked.filter(checked["row_uid"] == result.passed["row_uid"][-1]).row(0, named=True)
        dropped.append((last["source_file"], last["source_row"]))
        return dataclasses.replace(result, passed=result.passed.head(-1))

    monkeypatch.setattr(engine, "check_standardized", check_that_loses_a_row)
    with pytest.raises(ConservationError) as caught:
        province_nightly(PROVINCE, str(demo.sources), str(store), as_of=AS_OF)

    assert dropped, "the rules room was not called: the run came from a cache"
    lost_file = dropped[-1][0]
    assert f"{lost_file}: 1 standardized rows neither published nor quarantined" in str(caught.value)
    failed = read_runs(store).row(-1, named=True)
    assert failed["status"] == "failed" and failed["run_id"] != live
    assert failed["message"].startswith("conservation:") and lost_file in failed["message"]
    counts = json.loads(failed["counts_per_source"])
    lost = counts[lost_file]
    assert lost["rows_in"] == lost["published"] + lost["quarantined"] + lost["rejected"] + 1
    assert current_run_id(store) == live
    assert assert_store_intact(store) == live

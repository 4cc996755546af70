"""A third register added from a folder alone (tests/datasets/toy_shops, walked through in
docs/adding-a-dataset.md): two markets' stall lists through the whole night, the one-shot commands, and the
promise that nothing outside the folder had to change."""

from __future__ import annotations

import subprocess
from pathlib import Path

import polars as pl
import pytest

from sachsong.pipelines.cli import main
from sachsong.pipelines.province import run_province
from sachsong.store.reader import read_current_table

FOLDER = Path(__file__).parent / "toy_shops"
REPO = Path(__file__).resolve().parents[2]

MARKET_A = """Mã sạp,Tên sạp,Số giấy phép,Tình trạng
A-01,Sạp Cô Lan,123456,Đang mở
A-02,Sạp Chú Tư,234567,Đã đóng
A-03,Sạp Bà Năm,12-34,Đang mở
A-04,Sạp Anh Ba,345678,???
"""
# Market B lists Cô Lan's stall again (same licence, name written without diacritics) and one of its own.
MARKET_B = """STT,Số sạp,Tên hộ,Giấy phép,Tình trạng
1,B-07,SAP CO LAN,123456,mo
2,B-08,Sạp Út Hoa,456789,đóng
"""


def _write(folder: Path, reverse: bool = False) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in (("cho_a.csv", MARKET_A), ("cho_b.csv", MARKET_B)):
        header, *rows = text.strip().splitlines()
        if reverse:
            rows = rows[::-1]
        (folder / name).write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def night(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("stalls")
    store = root / "store"
    summary = run_province(str(FOLDER), _write(root / "night1"), store, "2026-11-01", province="44")
    return store, summary


def test_a_folder_alone_runs_the_whole_night(night: tuple[Path, dict]) -> None:
    store, summary = night
    assert summary["dataset"] == "market_stalls"
    records = read_current_table(store, "market_stalls_records")
    golden = read_current_table(store, "market_stalls_golden")
    quarantine = read_current_table(store, "quarantine")
    # Every input row is published or quarantined: 6 rows in, the bad licence quarantined.
    assert records.height + quarantine.height == 6
    assert quarantine.get_column("record_id").to_list() == ["A-03"]
    assert "licence_invalid" in quarantine.get_column("reasons").to_list()[0]
    # Cô Lan's stall in both markets is one stall, with one persistent id on both records and one golden row.
    lan = records.filter(pl.col("licence_std") == "123456")
    assert lan.height == 2 and lan.get_column("stall_id").n_unique() == 1
    assert golden.filter(pl.col("stall_id") == lan.get_column("stall_id")[0]).height == 1
    assert golden.height == 4  # Lan, Tư, Ba, Hoa (Năm's only record is quarantined)
    findings = read_current_table(store, "findings")
    assert set(findings.get_column("rule_id")) >= {"licence_invalid", "status_unknown"}
    counts = summary["counts_per_source"]
    assert {name: c["rows_in"] for name, c in counts.items()} == {"cho_a.csv": 4, "cho_b.csv": 2}


def test_the_next_night_re_ordered_keeps_every_id(night: tuple[Path, dict], tmp_path: Path) -> None:
    import shutil

    store, _ = night
    copy = tmp_path / "store"
    shutil.copytree(store, copy)
    before = read_current_table(copy, "market_stalls_records").select("record_key", "stall_id")
    run_province(str(FOLDER), _write(tmp_path / "night2", reverse=True), copy, "2026-11-02", province="44")
    after = read_current_table(copy, "market_stalls_records").select("record_key", "stall_id")
    assert before.sort("record_key").equals(after.sort("record_key"))
    assert read_current_table(copy, "changes").filter(pl.col("change").str.starts_with("record_")).height == 0


def test_check_and_dedupe_take_the_folder(tmp_path: Path) -> None:
    sources = _write(tmp_path / "exports")
    findings, clusters = tmp_path / "findings.csv", tmp_path / "clusters.csv"
    assert main(["check", str(sources), "--dataset", str(FOLDER), "--output", str(findings),
                 "--as-of", "2026-11-01"]) == 0
    assert main(["dedupe", str(sources), "--dataset", str(FOLDER), "--output", str(clusters)]) == 0
    found = pl.read_csv(findings)
    assert found.filter(pl.col("rule_id") == "licence_invalid").get_column("record_id").to_list() == ["A-03"]
    assigned = pl.read_csv(clusters).select("record_id", "cluster_id")
    lan = assigned.filter(pl.col("record_id").is_in(["A-01", "B-07"]))
    assert lan.get_column("cluster_id").n_unique() == 1
    assert assigned.get_column("cluster_id").n_unique() == 5


def test_nothing_outside_the_folder_names_the_register() -> None:
    listed = subprocess.run(
        ["git", "grep", "-l", "market_stalls", "--", ".", ":!tests/datasets", ":!docs"],
        cwd=REPO, capture_output=True, text=True,
    )
    assert listed.stdout.split() == []

"""The national view over planted province stores: ranking, statuses, the label guard, linkage, privacy."""

from __future__ import annotations

import json
import re
import zipfile
from datetime import date, timedelta
from pathlib import Path

import duckdb
import polars as pl
import pytest

from sachsong.national.site import NationalResult, build_national

from .conftest import (
    AS_OF,
    CCCD_CONFLICT_DOB,
    CCCD_CONFLICT_SEX,
    CCCD_HOMONYM_A,
    CCCD_HOMONYM_B,
    CCCD_SHARED,
    CMND_HOMONYM,
    CMND_SHARED,
    NAMES,
    PHONES,
    SHORT_ID,
    make_store,
    person,
    shares,
)


@pytest.fixture(scope="module")
def national(stores: Path, tmp_path_factory: pytest.TempPathFactory) -> NationalResult:
    # The output folder sits beside the stores, as a ministry would lay it out, so links are "../<store>/...".
    output = stores / "national"
    return build_national(stores, output)


def _row(result: NationalResult, code: str) -> dict:
    rows = result.provinces.filter(pl.col("province_code") == code).to_dicts()
    assert len(rows) == 1, f"province {code}: {len(rows)} rows"
    return rows[0]


def test_provinces_ranked_per_criterion(national: NationalResult) -> None:
    scored = national.provinces.filter(pl.col("overall_rank").is_not_null()).sort("overall_rank")
    # 79 (0.99) > 01 (0.95) > 96 (0.85, failed last run but its live snapshot is scored) > 44 (0.80);
    # 46 is stale (0.90) and still ranked, labelled.
    assert scored.get_column("province_code").to_list() == ["79", "01", "46", "96", "44"]
    assert scored.get_column("overall_rank").to_list() == [1, 2, 3, 4, 5]
    live = scored.sort("live_rank").get_column("province_code").to_list()
    assert live[0] == "44" and live.index("79") < live.index("01")
    assert _row(national, "79")["overall_band"] == "green"
    assert _row(national, "01")["overall_band"] == "amber"
    assert _row(national, "44")["overall_band"] == "red"
    hanoi = _row(national, "01")
    assert hanoi["records"] == 6 and hanoi["persons"] == 6
    assert hanoi["communes_covered"] == 40 and hanoi["communes_total"] == 126


def test_every_province_listed_with_a_status(national: NationalResult) -> None:
    provinces = national.provinces
    assert set(provinces.get_column("province_code").drop_nulls()) >= {
        "01",
        "79",
        "44",
        "48",
        "46",
        "96",
        "92",
    }
    assert provinces.filter(pl.col("status") == "no_store").height == 34 - 6
    assert _row(national, "92")["status"] == "no_store"
    stale = _row(national, "46")
    assert stale["status"] == "stale" and "10 days behind" in stale["reason"]
    failed = _row(national, "96")
    assert failed["status"] == "failed" and "'failed'" in failed["reason"]
    assert _row(national, "44")["status"] == "ok"  # one day behind: within the threshold, not stale


def test_wrong_province_label_refused_with_reason(national: NationalResult) -> None:
    refused = _row(national, "48")
    assert refused["status"] == "refused"
    assert refused["overall"] is None and refused["overall_rank"] is None
    assert "recorded province 48" in refused["reason"] and "in province 01" in refused["reason"]
    assert "danang" in refused["reason"]  # names the store folder
    html = national.index.read_text(encoding="utf-8")
    assert 'data-province="48" data-status="refused"' in html


def _links(national: NationalResult) -> set[tuple[str, str, str, str, str]]:
    return {
        (r["tier"], r["province_a"], r["person_a"], r["province_b"], r["person_b"])
        for r in national.links.links.iter_rows(named=True)
    }


def test_cross_province_links(national: NationalResult) -> None:
    links = _links(national)
    assert ("cccd", "01", "P1", "79", "Q1") in links
    assert ("cccd", "01", "P2", "79", "Q2") in links
    assert ("cccd", "01", "P5", "44", "R1") in links
    assert ("cmnd_dob_name", "01", "P4", "79", "Q4") in links  # accents and case differ: same folded name
    # Same name, date of birth and CMND but two different CCCDs: two citizens.
    assert not any({"P3", "Q3"} <= {link[2], link[4]} for link in links)
    # An 11-digit id is not a CCCD.
    assert not any({"P6", "Q6"} <= {link[2], link[4]} for link in links)
    # The refused store's persons take no part.
    assert not any("48" in (link[1], link[3]) for link in links)
    assert len(links) == 4
    flagged = national.links.links.filter(pl.col("tier") == "cmnd_dob_name").get_column("flagged")
    assert flagged.to_list() == [True]


def test_conflicts_listed(national: NationalResult) -> None:
    conflicts = national.links.conflicts.to_dicts()
    pairs = {(c["person_a"], c["person_b"]): (c["dob_conflict"], c["sex_conflict"]) for c in conflicts}
    assert pairs == {("P2", "Q2"): (True, False), ("P5", "R1"): (False, True)}
    html = national.index.read_text(encoding="utf-8")
    assert 'id="conflict-count">2<' in html
    csv = (national.index.parent / "cross_province_conflicts.csv").read_text(encoding="utf-8-sig")
    assert csv.splitlines()[0].startswith("Tỉnh A,Mã người A")
    assert len(csv.splitlines()) == 3


def test_national_store_written(national: NationalResult) -> None:
    with duckdb.connect(str(national.database), read_only=True) as connection:
        tables = {row[0] for row in connection.execute("SHOW TABLES").fetchall()}
        assert {"cross_province_links", "provinces", "cross_province_conflicts"} <= tables
        count = connection.execute("SELECT count(*) FROM cross_province_links").fetchall()[0][0]
    assert count == 4
    parquet = pl.read_parquet(national.index.parent / "parquet" / "cross_province_links.parquet")
    assert set(parquet.columns) == {
        "tier", "province_a", "person_a", "province_b", "person_b", "flagged", "dob_conflict", "sex_conflict"
    }  # fmt: skip


def test_relative_links_resolve(national: NationalResult) -> None:
    html = national.index.read_text(encoding="utf-8")
    hrefs = re.findall(r'class="province-site" href="([^"]+)"', html)
    assert len(hrefs) == 2  # only 01 and 79 have their own site built
    for href in hrefs:
        assert not href.startswith(("/", "file:", "http")), href
        assert (national.index.parent / href).resolve().is_file(), href
    for asset in re.findall(r'(?:href|src)="(assets/[^"]+)"', html):
        assert (national.index.parent / asset).is_file()
    assert "http://" not in html and "https://" not in html  # nothing fetched from the network


def test_map_has_every_province(national: NationalResult) -> None:
    html = national.index.read_text(encoding="utf-8")
    svg = re.search(r'<svg class="tile-map"[^>]*data-criterion="overall">.*?</svg>', html, re.S)
    assert svg is not None
    overall = svg.group(0)
    tiles = re.findall(r'<g class="tile status-([a-z_]+)" data-province="(\d\d)">', overall)
    assert len(tiles) == 34
    by_code = dict((code, status) for status, code in tiles)
    assert by_code["79"] == "ok" and by_code["92"] == "no_store" and by_code["48"] == "refused"
    assert 'class="band-green" x=' in overall


def _all_text(output: Path) -> str:
    """Every byte of text the national folder holds: pages, CSV, JSON, the workbook's XML, Parquet and DuckDB
    tables rendered as text."""
    parts = []
    for path in output.rglob("*"):
        if not path.is_file():
            continue
        if path.suffix in (".html", ".csv", ".json", ".css", ".js"):
            parts.append(path.read_text(encoding="utf-8-sig"))
        elif path.suffix == ".xlsx":
            with zipfile.ZipFile(path) as archive:
                parts.extend(archive.read(name).decode("utf-8") for name in archive.namelist())
        elif path.suffix == ".parquet":
            parts.append(pl.read_parquet(path).write_csv())
        elif path.suffix == ".duckdb":
            with duckdb.connect(str(path), read_only=True) as connection:
                for (table,) in connection.execute("SHOW TABLES").fetchall():
                    parts.append(connection.sql(f"SELECT * FROM {table}").pl().write_csv())
    return "\n".join(parts)


def test_no_personal_data_in_any_output(national: NationalResult) -> None:
    text = _all_text(national.index.parent)
    secrets = [
        CCCD_SHARED, CCCD_CONFLICT_DOB, CCCD_CONFLICT_SEX, CCCD_HOMONYM_A, CCCD_HOMONYM_B, CMND_HOMONYM,
        CMND_SHARED, SHORT_ID, *NAMES, *PHONES, "TRẦN THI BINH", "1990-01-02", "1975-03-03",
    ]  # fmt: skip
    leaked = [secret for secret in secrets if secret in text]
    assert leaked == []
    assert "P1" in text and "Q1" in text  # the person ids are there


def test_exports_have_vietnamese_headers(national: NationalResult) -> None:
    output = national.index.parent
    header = (output / "provinces.csv").read_text(encoding="utf-8-sig").splitlines()[0]
    assert header.startswith("Mã tỉnh,Tỉnh/thành phố,Tình trạng")
    payload = json.loads((output / "national.json").read_text(encoding="utf-8"))
    assert payload["meta"]["links_cccd"] == 3 and payload["meta"]["conflicts"] == 2
    assert {p["province_code"] for p in payload["provinces"] if p["status"] == "refused"} == {"48"}
    with zipfile.ZipFile(output / "national.xlsx") as archive:
        strings = archive.read("xl/sharedStrings.xml").decode("utf-8")
    assert "Mã tỉnh" in strings and "Hạng – Đúng" in strings


def test_as_of_dates_labelled(national: NationalResult) -> None:
    html = national.index.read_text(encoding="utf-8")
    assert 'id="as-of-mixed"' in html
    assert _row(national, "44")["as_of"] == AS_OF - timedelta(days=1)


def test_second_store_for_a_province_is_not_rolled_up(tmp_path: Path) -> None:
    make_store(tmp_path, "a", "01", [person("A1", NAMES[0], None, "M")], shares(0.9), as_of=date(2026, 11, 2))
    make_store(tmp_path, "b", "01", [person("B1", NAMES[0], None, "M")], shares(0.5))
    result = build_national(tmp_path, tmp_path / "out")
    rows = result.provinces.filter(pl.col("province_code") == "01").sort("status")
    assert rows.get_column("status").to_list() == ["duplicate", "ok"]
    assert rows.filter(pl.col("status") == "ok").get_column("overall").to_list() == [0.9]


def test_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    from sachsong.pipelines.cli import main

    assert main(["national", "--stores", str(tmp_path / "nope"), "--output", str(tmp_path / "out")]) == 2


def test_province_stores_are_read_only(stores: Path, tmp_path: Path) -> None:
    import hashlib

    def digest() -> dict[str, str]:
        return {
            str(path.relative_to(stores)): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(stores.rglob("*"))
            if path.is_file() and "national" not in path.relative_to(stores).parts
        }

    before = digest()
    build_national(stores, tmp_path / "again")
    assert digest() == before


def test_store_without_score_history_is_scored_from_its_snapshot(tmp_path: Path) -> None:
    make_store(tmp_path, "cantho", "92", [person("C1", NAMES[0], None, "M")], shares(0.5), with_scores=False)
    result = build_national(tmp_path, tmp_path / "out")
    row = _row(result, "92")
    assert row["status"] == "ok" and row["records"] == 1
    # Computed by the reports room from the snapshot's records and (empty) findings: every record passes.
    assert row["overall"] == 1.0 and row["overall_rank"] == 1

"""build_report on a hand-made store: the site, the exports, and no personal data anywhere in them."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import openpyxl
import polars as pl
import pytest
from offline_browser import offline_page
from reports_sample import (
    BUSINESS_PLANTED,
    GOLDEN_BUSINESSES,
    GOLDEN_PERSONS,
    PLANTED,
    PROVINCE,
    WARDS,
    business_findings,
    make_findings,
    make_records,
    publish_register_store,
    run_row,
)

from sachsong.reports.scores import compute_scores
from sachsong.reports.site import ReportError, build_report

REPO = Path(__file__).resolve().parents[2]


def sample_history() -> tuple[list[dict], pl.DataFrame]:
    """run-1 published, run-2 failed (its scores must stay out of trends), run-3 published and live."""
    records, findings = make_records(), make_findings()
    stale = pl.col("rule_id") == "updated_within_sla"
    history = pl.concat(
        [
            compute_scores(records, findings.filter(~stale), "run-1", "2026-11-01", PROVINCE, wards=WARDS),
            compute_scores(records, findings, "run-2", "2026-11-02", PROVINCE, wards=WARDS).with_columns(
                pl.lit(0.01).alias("share")  # a failed run's odd scores: must not reach the trend
            ),
            compute_scores(records, findings, "run-3", "2026-11-04", PROVINCE, wards=WARDS),
        ]
    )
    runs = [run_row("run-1", 1), run_row("run-2", 2, "failed", "boom"), run_row("run-3", 4)]
    return runs, history


@pytest.fixture
def built(store_factory, tmp_path) -> tuple[Path, Path]:
    runs, history = sample_history()
    store = store_factory(runs, history)
    (store / "data_docs").mkdir()
    (store / "data_docs" / "index.html").write_text("<html>gx</html>", encoding="utf-8")
    out = tmp_path / "site"
    return build_report(store, out), out


def test_build_report_writes_site_workbook_json_and_csv(built):
    index, out = built
    assert index == out / "index.html"
    html = index.read_text(encoding="utf-8")
    assert '<html lang="vi"' in html
    assert "Phường Đồng Thuận" in html  # commune names from the reference data
    assert "../store/data_docs/index.html" in html  # relative link to the GX Data Docs
    # What happened to the records: four outcomes, each its own row, Vietnamese first.
    for outcome in ("clean", "fixed", "flagged", "quarantined"):
        assert f'class="outcome-{outcome}"' in html
    assert "Cách ly, chờ sửa tại nguồn" in html
    assert (out / "assets" / "scorecard.css").is_file() and (out / "assets" / "scorecard.js").is_file()
    # Self-contained: nothing points off the machine.
    for text in (
        html,
        (out / "assets" / "scorecard.css").read_text(),
        (out / "assets" / "scorecard.js").read_text(),
    ):
        assert "http://" not in text and "https://" not in text and "//cdn" not in text

    workbook = openpyxl.load_workbook(out / "scores.xlsx")
    assert {"province", "communes", "sources", "rules", "trend", "runs"} <= set(workbook.sheetnames)
    province = workbook["province"]
    assert province.freeze_panes == "A2"
    assert province.page_setup.orientation == "landscape"
    header = [cell.value for cell in province[1]]
    share_col = header.index("share") + 1
    assert province.cell(row=2, column=share_col).number_format == "0.0%"
    communes = workbook["communes"]
    coloured = {str(rng.sqref) for rng in communes.conditional_formatting}
    assert len(coloured) == 5  # one rule set per criterion column (correct … overall)
    assert communes.sheet_properties.pageSetUpPr.fitToPage  # fit to width (1 page), any height
    assert communes.page_setup.fitToHeight == 0
    runs_sheet = workbook["runs"]
    statuses = [
        row[header_index(runs_sheet, "status")] for row in runs_sheet.iter_rows(min_row=2, values_only=True)
    ]
    assert sorted(statuses) == ["failed", "published", "published"]

    payload = json.loads((out / "scores.json").read_text(encoding="utf-8"))
    assert payload["meta"]["run_id"] == "run-3"
    correct = next(s for s in payload["scores"] if s["level"] == "province" and s["criterion"] == "correct")
    assert (correct["records"], correct["passing"]) == (8, 7)
    live = next(s for s in payload["scores"] if s["level"] == "province" and s["criterion"] == "live")
    assert live["previous_run_id"] == "run-1"  # run-2 failed
    assert live["change"] == pytest.approx(-0.25)
    # The failed run is listed but left out of the trend.
    assert {r["run_id"] for r in payload["runs"]} == {"run-1", "run-2", "run-3"}
    assert {r["run_id"] for r in payload["trend"]} == {"run-1", "run-3"}
    scores_csv = pl.read_csv(out / "scores.csv")
    assert scores_csv.filter(pl.col("level") == "province").height == 5
    assert "status-failed" in html  # the run list shows the failed run


def test_rules_are_shown_in_their_own_unit_and_split_by_severity(built):
    index, out = built
    payload = json.loads((out / "scores.json").read_text(encoding="utf-8"))
    rules = {r["rule_id"]: r for r in payload["rules"]}
    # The sample's "commune has no records" fired on an empty commune only: 2 of 3 communes pass, not 100%.
    empty = rules["commune_has_records"]
    assert (empty["unit"], empty["checked"], empty["failing"]) == ("communes", 3, 1)
    assert empty["share"] == pytest.approx(2 / 3) and empty["counts_in_score"] is True
    assert empty["scope"] == "dataset"
    # The residents pack's rules are listed even when they never fired, with their bilingual message.
    quiet = rules["dob_missing"]
    assert (quiet["unit"], quiet["checked"], quiet["failing"], quiet["share"]) == ("records", 8, 0, 1.0)
    assert quiet["message_vi"] and quiet["message_en"] and quiet["severity"] == "error"
    assert (
        rules["source_not_refreshed"]["unit"] == "sources" and rules["source_not_refreshed"]["checked"] == 2
    )
    assert rules["phone_format"]["counts_in_score"] is False  # a warning
    sheet = openpyxl.load_workbook(out / "scores.xlsx")["rules"]
    header = [cell.value for cell in sheet[1]]
    assert {"unit", "checked", "failing", "severity", "message_vi", "message_en"} <= set(header)
    by_rule = {row[0]: row for row in sheet.iter_rows(min_row=2, values_only=True)}
    assert by_rule["commune_has_records"][header.index("unit")] == "communes"
    assert by_rule["commune_has_records"][header.index("checked")] == 3

    html = index.read_text(encoding="utf-8")
    errors_at, warnings_at = html.index('id="rules-errors"'), html.index('id="rules-warnings"')
    commune_row = html.index('data-rule="commune_has_records" data-unit="communes"')
    warning_row = html.index('data-rule="phone_format"')
    assert errors_at < commune_row < warnings_at < warning_row
    assert "dataset-level rule: counted in communes" in html


def test_overview_explains_errors_only_and_merged_duplicates(built):
    index, _ = built
    html = index.read_text(encoding="utf-8")
    assert "Vì vậy điểm “Sạch” chỉ đếm lỗi" in html and "So “Clean” counts" in html
    # Counts from the snapshot: 7 published records → 5 persons, 2 pairs for review, 1 quarantined.
    how_to_read = html[html.index('class="how-to-read"') : html.index('class="coverage"')]
    assert "<strong>7</strong>" in how_to_read and f"<strong>{GOLDEN_PERSONS}</strong>" in how_to_read
    assert "<strong>2</strong>" in how_to_read and "<strong>1</strong>" in how_to_read
    clean_card = html[html.index('data-criterion="clean"') : html.index('data-criterion="live"')]
    assert f"→ {GOLDEN_PERSONS}" in clean_card


def test_history_written_before_units_is_rescored_from_the_snapshot(store_factory, tmp_path):
    runs, history = sample_history()
    store = store_factory(runs, history.drop("unit"))
    out = tmp_path / "site"
    build_report(store, out)
    payload = json.loads((out / "scores.json").read_text(encoding="utf-8"))
    empty = next(r for r in payload["rules"] if r["rule_id"] == "commune_has_records")
    coverage = next(s for s in payload["scores"] if s["level"] == "coverage")
    # Rescored against province 44's real commune list, as the coverage row is.
    assert (empty["unit"], empty["checked"], empty["failing"]) == ("communes", coverage["records"], 1)
    assert empty["checked"] > 50
    assert empty["change"] is None  # run-1 counted it in records: not comparable
    live = next(s for s in payload["scores"] if s["level"] == "province" and s["criterion"] == "live")
    assert live["previous_run_id"] == "run-1" and live["change"] == pytest.approx(-0.25)
    assert {t["unit"] for t in payload["trend"]} == {"records", "communes"}


def header_index(sheet, name: str) -> int:
    return [cell.value for cell in sheet[1]].index(name)


def test_no_personal_value_reaches_any_report_file(built):
    _, out = built
    texts = []
    for path in out.rglob("*"):
        if not path.is_file():
            continue
        if path.suffix == ".xlsx":
            with zipfile.ZipFile(path) as archive:
                texts.extend(archive.read(name).decode("utf-8", "replace") for name in archive.namelist())
        else:
            texts.append(path.read_text(encoding="utf-8-sig"))
    assert len(texts) > 8
    for planted in PLANTED:
        for text in texts:
            assert planted not in text, f"{planted!r} leaked into the report"
    # The record whose source id is an identity number is still drilled into, masked.
    assert any("04…45" in text for text in texts)


def test_missing_history_scores_are_computed_from_the_snapshot(store_factory, tmp_path):
    runs = [run_row("run-3", 4)]
    store = store_factory(runs, pl.DataFrame())
    out = tmp_path / "site"
    build_report(store, out)
    payload = json.loads((out / "scores.json").read_text(encoding="utf-8"))
    live = next(s for s in payload["scores"] if s["level"] == "province" and s["criterion"] == "live")
    assert (live["records"], live["passing"]) == (8, 6)
    coverage = next(s for s in payload["scores"] if s["level"] == "coverage")
    # Province 44's real list of new communes: only two of them have records here.
    assert coverage["passing"] == 2 and coverage["records"] > 50


def test_a_store_with_nothing_published_is_a_clear_error(tmp_path):
    with pytest.raises(ReportError, match="no such store directory"):
        build_report(tmp_path / "nowhere", tmp_path / "out")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ReportError, match="nothing published yet"):
        build_report(tmp_path / "empty", tmp_path / "out")


@pytest.mark.browser
def test_scorecard_in_chromium_offline(built):
    index, _ = built
    with offline_page() as offline:
        page = offline.page
        page.goto(index.as_uri())
        heading = page.locator("h1 .vi")
        assert heading.is_visible()
        assert "Bảng điểm" in heading.inner_text()
        assert page.locator("h1 .en").is_hidden()

        page.click("#lang-toggle")
        assert page.locator("html").get_attribute("lang") == "en"
        assert page.locator("h1 .en").is_visible()
        assert "scorecard" in page.locator("h1 .en").inner_text()
        assert page.locator("h1 .vi").is_hidden()
        assert "counts errors only" in page.locator(".how-to-read").inner_text()
        warnings = page.locator("#rules-warnings")
        assert warnings.is_visible() and "do not count" in warnings.inner_text()
        commune_rule = page.locator("tr[data-rule='commune_has_records']")
        assert "3 communes" in commune_rule.locator("td.num").first.inner_text()

        details = page.locator("#commune-18859")
        assert details.get_attribute("open") is None
        page.click("a[data-open='commune-18859']")
        assert details.get_attribute("open") is not None
        rule_row = details.locator("tbody tr", has_text="cccd_birth_year")
        assert rule_row.is_visible()
        assert "1" in rule_row.locator("td.num").first.inner_text()

        page.evaluate("window.scrollTo(0, 0)")
        artifacts = REPO / "test-artifacts"
        artifacts.mkdir(exist_ok=True)
        page.screenshot(path=str(artifacts / "scorecard.png"), full_page=True)
    assert offline.problems == []
    assert offline.outside == []


def test_only_failed_runs_give_a_run_list_page_not_a_crash(store_factory, tmp_path):
    # The failed run's message quotes input data: it must not be shown.
    runs = [run_row("run-1", 1, "failed", f"standardize: bad citizen_id {PLANTED[2]}")]
    store = store_factory(runs, pl.DataFrame(), current=None)
    out = tmp_path / "site"
    html = build_report(store, out).read_text(encoding="utf-8")
    assert "Chưa có lần chạy nào được công bố" in html
    assert "status-failed" in html and "run-1" in html
    assert 'id="communes"' not in html
    assert PLANTED[2] not in html
    payload = json.loads((out / "scores.json").read_text(encoding="utf-8"))
    assert payload["scores"] == [] and payload["trend"] == []
    assert [r["status"] for r in payload["runs"]] == ["failed"]
    assert "run-1" in {
        row[0].value for row in openpyxl.load_workbook(out / "scores.xlsx")["runs"].iter_rows(min_row=2)
    }


def test_runs_journalled_while_the_history_was_held_are_listed(store_factory, tmp_path):
    from sachsong.store.history import RUNS_SCHEMA, _journal_run

    runs, history = sample_history()
    store = store_factory(runs, history)
    row = {name: value for name, value in run_row("run-4", 6, "failed").items() if name in RUNS_SCHEMA}
    _journal_run(store, pl.DataFrame([row], schema_overrides=RUNS_SCHEMA))
    out = tmp_path / "site"
    build_report(store, out)
    payload = json.loads((out / "scores.json").read_text(encoding="utf-8"))
    assert [r["run_id"] for r in payload["runs"]][-1] == "run-4"
    assert payload["runs"][-1]["status"] == "failed"
    assert payload["meta"]["run_id"] == "run-3"  # a failed run does not change what is live


def _site_texts(out: Path) -> list[str]:
    texts = []
    for path in out.rglob("*"):
        if path.suffix == ".xlsx":
            with zipfile.ZipFile(path) as archive:
                texts.extend(archive.read(name).decode("utf-8", "replace") for name in archive.namelist())
        elif path.is_file():
            texts.append(path.read_text(encoding="utf-8-sig"))
    return texts


def test_household_business_scorecard_counts_businesses_and_lists_their_rules(tmp_path):
    from sachsong.reports.scores import rule_catalogue
    from sachsong.spec import get_dataset

    spec = get_dataset("household_business")
    catalogue = rule_catalogue(spec.rules)
    error_rule = catalogue.filter((pl.col("severity") == "error") & (pl.col("scope") == "row")).row(0, named=True)
    store = publish_register_store(
        tmp_path / "store",
        spec.name,
        spec.records_table,
        spec.golden_table,
        business_findings(error_rule["rule_id"], error_rule["criterion"]),
    )
    out = tmp_path / "site"
    html = build_report(store, out).read_text(encoding="utf-8")

    # The page names the register and counts businesses, never persons.
    assert f"<title>{spec.title_vi} — Tỉnh Quảng Trị" in html
    assert spec.title_en in html and spec.unit.vi in html
    assert "persons" not in html and "người" not in html
    golden_fact = html[html.index('class="golden-count"') :]
    assert golden_fact.startswith(f'class="golden-count">{GOLDEN_BUSINESSES}<')
    how_to_read = html[html.index('class="how-to-read"') : html.index('class="coverage"')]
    assert f"<strong>{GOLDEN_BUSINESSES}</strong> {spec.unit.vi} (hồ sơ gốc)" in how_to_read.replace(
        '<span lang="vi" class="vi">', ""
    )
    assert f"{spec.unit.en} (golden records)" in how_to_read
    assert f"the same {spec.unit.en_one} in several registers" in how_to_read
    clean_card = html[html.index('data-criterion="clean"') : html.index('data-criterion="live"')]
    assert f"→ {GOLDEN_BUSINESSES}" in clean_card and spec.unit.en in clean_card

    payload = json.loads((out / "scores.json").read_text(encoding="utf-8"))
    meta = payload["meta"]
    assert (meta["dataset"], meta["golden_records"]) == ("household_business", GOLDEN_BUSINESSES)
    assert meta["unit"] == f"{spec.unit.vi} / {spec.unit.en}"
    assert meta["title"].endswith(spec.title_vi)
    # Scored from the snapshot with the register's own pack: every business rule listed, fired or not, and
    # none of the residents' rules.
    rules = {r["rule_id"]: r for r in payload["rules"]}
    assert set(catalogue.get_column("rule_id")) <= set(rules)
    assert "dob_missing" not in rules and "cccd_birth_year" not in rules
    fired = rules[error_rule["rule_id"]]
    assert (fired["checked"], fired["failing"], fired["counts_in_score"]) == (6, 1, True)
    assert fired["message_vi"] == error_rule["message_vi"]
    province = {
        s["criterion"]: s for s in payload["scores"] if s["level"] == "province" and s["run_id"] == "hkd-1"
    }
    assert (province["overall"]["records"], province["overall"]["passing"]) == (6, 5)
    for planted in BUSINESS_PLANTED:
        for text in _site_texts(out):
            assert planted not in text, f"{planted!r} leaked into the report"


def test_a_register_whose_spec_is_not_here_still_gets_its_scorecard(tmp_path):
    store = publish_register_store(
        tmp_path / "store", "shops", "shops_records", "shops_golden", business_findings("tax_code_valid", "correct")
    )
    out = tmp_path / "site"
    html = build_report(store, out).read_text(encoding="utf-8")
    assert "<title>shops — Tỉnh Quảng Trị" in html
    golden_fact = html[html.index('class="golden-count"') :]
    assert golden_fact.startswith(f'class="golden-count">{GOLDEN_BUSINESSES}<')
    assert "persons" not in html
    payload = json.loads((out / "scores.json").read_text(encoding="utf-8"))
    assert (payload["meta"]["dataset"], payload["meta"]["golden_records"]) == ("shops", GOLDEN_BUSINESSES)
    # No pack to read: the rules are those that fired, never another register's.
    assert {r["rule_id"] for r in payload["rules"]} == {"tax_code_valid", "duplicate_record"}
    overall = next(
        s for s in payload["scores"] if s["level"] == "province" and s["criterion"] == "overall"
    )
    assert (overall["records"], overall["passing"]) == (6, 5)


def test_a_register_whose_rule_pack_does_not_load_still_gets_its_scores(tmp_path):
    from sachsong.spec import get_dataset

    folder = tmp_path / "broken_shops"
    folder.mkdir()
    (folder / "dataset.yaml").write_text(
        "name: broken_shops\n"
        'title: {vi: "Cửa hàng", en: "Shops"}\n'
        'unit: {vi: "cửa hàng", en: "shops", en_one: "shop"}\n'
        "raw: {record_id: {}, source_id: {}, business_name: {required: true}}\n"
        "standardize: sachsong.reports.site:register_spec\n"  # never called by a report
        "rules: rules.yaml\n",
        encoding="utf-8",
    )
    (folder / "rules.yaml").write_text("pack: broken_shops\nrules: [{id: 1}]\n", encoding="utf-8")
    spec = get_dataset(folder)  # loaded by path, as `--dataset path/to/folder` does
    store = publish_register_store(
        tmp_path / "store", spec.name, spec.records_table, spec.golden_table, business_findings("tax_code_valid", "correct")
    )
    out = tmp_path / "site"
    html = build_report(store, out).read_text(encoding="utf-8")
    assert "<title>Cửa hàng — Tỉnh Quảng Trị" in html and "Shops (golden records)" in html
    payload = json.loads((out / "scores.json").read_text(encoding="utf-8"))
    assert {r["rule_id"] for r in payload["rules"]} == {"tax_code_valid", "duplicate_record"}
    overall = next(s for s in payload["scores"] if s["level"] == "province" and s["criterion"] == "overall")
    assert (overall["records"], overall["passing"]) == (6, 5)

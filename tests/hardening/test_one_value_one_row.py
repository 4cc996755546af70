"""One bad value costs one row, never the night.

Hostile cells in every column of a commune export go through ingest, standardization and the rule checks: no
step raises, every data row of the file is published, quarantined or rejected exactly once, the raw values
reach the checked table unchanged, and no message carries a planted value.
"""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sachsong.rules.engine import check_standardized
from sachsong.schema import RAW_COLUMNS
from sachsong.sources.ingest import ingest_directory
from sachsong.standardize.residents import standardize_residents

AS_OF = date(2026, 11, 30)
HEADER = ["Mã", "Họ và tên", "Ngày sinh", "Giới tính", "Số CCCD", "Điện thoại", "Địa chỉ", "Mã xã", "Cập nhật"]
FIELDS = ["record_id", "full_name", "date_of_birth", "sex", "citizen_id", "phone", "address", "commune_code",
          "updated_at"]
# What commune offices, Excel installs and attackers have been seen to put in cells.
HOSTILE_CELLS = [
    "045O80000111", "chưa cấp", "079712345678", "089912345678", "7.9E+10", "7,9012345678E+10", "'079088001234",
    "０７９０８８００１２３４", "0790\u200b88001234", "79088001234.0", "(1)", "(10)", "STT", "Họ và tên",
    "Tổng cộng", "x", "Ông", "Bà", "ngày 32 tháng 13 năm 99999", "27 tháng 1 năm 1998", "3/11/1987 12:00:00 SA",
    "31/02/2024", "2999-01-01", "00/00/0000", "45000", "-1", "1e308", "NaN", "null", "None", "#N/A", "#VALUE!",
    "=1+1", "=HYPERLINK(\"http://x\",\"y\")", "@SUM(A1)", "+84", "-", "—", "\u202egnp.exe", "\ufeff", "\u00a0",
    "Nguyeenx Vawn An", "Phường IV, Quận 3", "TPHCM - H.Bình Chánh - X Phong Phú", "a" * 3000,
    "Nguyễn" * 200, "9" * 40, "Đ", "Ð", "ǅ", "ß", "İ", "🙂", "\t", "\"", "'", ";", ",,,", "\\", "%s%n",
]
CELL = st.one_of(
    st.sampled_from(HOSTILE_CELLS),
    st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\x00\r\n"), max_size=30),
    st.just(""),
)
ROW = st.lists(CELL, min_size=len(HEADER), max_size=len(HEADER))
ORDINARY = ["1", "Nguyễn Văn An", "05/10/1955", "Nam", "001055012345", "0912345678",
            "Thôn 1, xã Gio An, huyện Gio Linh, tỉnh Quảng Trị", "", "2026-11-01"]
SETTINGS = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)


def _write_csv(path: Path, rows: list[list[str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        writer.writerows(rows)


def _data_rows_in(path: Path) -> int:
    with path.open(encoding="utf-8", newline="") as handle:
        return sum(1 for _ in csv.reader(handle)) - 1


@SETTINGS
@given(rows=st.lists(ROW, min_size=1, max_size=6))
def test_hostile_cells_anywhere_cost_at_most_their_own_rows(tmp_path_factory, rows):
    folder = tmp_path_factory.mktemp("exports")
    export = folder / "xa_hostile.csv"
    _write_csv(export, [ORDINARY, *rows])
    (folder / "xa_ordinary.csv").write_text(
        ",".join(HEADER) + "\n" + ",".join(f'"{v}"' for v in ORDINARY) + "\n", encoding="utf-8"
    )

    ingested = ingest_directory(folder)
    assert ingested.balanced()
    std = standardize_residents(ingested.table)
    result = check_standardized(std, AS_OF, province_code="44")

    # Conservation, counted from the file itself: every data row is published, quarantined or rejected.
    counts = {row["source_file"]: row for row in ingested.counts.iter_rows(named=True)}
    for name in ("xa_hostile.csv", "xa_ordinary.csv"):
        file_rows = _data_rows_in(folder / name)
        published_or_quarantined = std.filter(pl.col("source_file") == name).height
        rejected = counts[name]["rows_rejected"]
        assert counts[name]["rows_in"] == published_or_quarantined + rejected <= file_rows
        # Rows a reader may drop without a count: none. The only difference allowed is blank lines.
        blank = sum(
            1 for row in csv.reader((folder / name).open(encoding="utf-8", newline=""))
            if not any(cell.strip() for cell in row)
        )
        assert file_rows - blank <= counts[name]["rows_in"] + blank
    assert result.passed.height + result.quarantine.height == std.height
    passed_ids = set(result.passed["row_uid"].to_list())
    quarantined_ids = set(result.quarantine["row_uid"].to_list())
    assert not passed_ids & quarantined_ids
    assert passed_ids | quarantined_ids == set(std["row_uid"].to_list())

    # The ordinary file is untouched by its neighbour: its one row passes.
    ordinary = std.filter(pl.col("source_file") == "xa_ordinary.csv")
    assert ordinary.height == 1 and ordinary["row_uid"][0] in passed_ids

    # Raw values are never overwritten on the way (stewards must see what the source said).
    checked = pl.concat(
        [std.filter(pl.col("row_uid").is_in(pl.Series(list(passed_ids), dtype=pl.Int64).implode())),
         result.quarantine.select(std.columns)]
    )
    assert checked.select(RAW_COLUMNS).sort("source_id", "record_id").equals(
        std.select(RAW_COLUMNS).sort("source_id", "record_id")
    )

    # Messages name rules, never the value that fired them.
    planted = {cell for row in rows for cell in row if len(cell) >= 6 and any(ch.isdigit() for ch in cell)}
    texts = set(result.findings["message"].unique().to_list()) | {
        t for t in result.quarantine["quarantine_reason"].unique().to_list() if t
    }
    for text in texts:
        assert not any(value in text for value in planted)


def test_a_typo_in_an_id_quarantines_that_record_and_the_province_still_checks(tmp_path):
    rows = [list(ORDINARY) for _ in range(4)]
    rows[1][0], rows[1][4] = "2", "045O80000111"
    rows[2][0], rows[2][4] = "3", "chưa cấp"
    rows[3][0], rows[3][4] = "4", "079712345678"  # century digit 7: a birth year of 2112+
    _write_csv(tmp_path / "xa.csv", rows)
    ingested = ingest_directory(tmp_path)
    std = standardize_residents(ingested.table)
    result = check_standardized(std, AS_OF, province_code="44")
    assert result.passed.height + result.quarantine.height == 4
    by_record = dict(zip(std["record_id"], std["row_uid"], strict=True))
    assert by_record["1"] in set(result.passed["row_uid"].to_list())
    # No decoded birth year outside the century digits' range reaches a table.
    years = std.filter(pl.col("cccd_birth_year").is_not_null())["cccd_birth_year"]
    assert years.is_between(1900, 2099).all() or result.quarantine.height >= 1

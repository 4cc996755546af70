"""Cross-register rules read another register's published store ("provide once, reuse many times"): the night
hands them the live snapshot's table, and nothing when that store is absent or empty."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from sachsong.pipelines.province import references_for
from sachsong.rules.engine import check_standardized
from sachsong.spec import get_dataset
from sachsong.store.publish import publish_snapshot


def _residents_store(root: Path) -> Path:
    store = root / "residents"
    records = pl.DataFrame({"row_uid": [0, 1], "cccd": ["044190001234", None], "citizen_id_digits": ["044190001234", "123"]})
    publish_snapshot(store, {"residents_records": records}, {"run_id": "44-20261101-r1", "as_of": "2026-11-01"})
    return store


def test_the_businesses_night_reads_the_published_persons(tmp_path: Path) -> None:
    spec = get_dataset("household_business")
    references = references_for(spec, {"residents": _residents_store(tmp_path)})
    path, columns = references["published_residents"]
    assert columns == ["cccd", "citizen_id_digits"]
    assert pl.read_parquet(path, columns=columns).get_column("cccd").to_list() == ["044190001234", None]


def test_no_residents_store_means_no_reference_and_the_rule_is_skipped(tmp_path: Path) -> None:
    spec = get_dataset("household_business")
    assert references_for(spec, {"residents": tmp_path / "nothing-here"}) == {}
    assert references_for(spec, None) == {}
    # The rule that needs it is skipped (and said so), never run against an empty list of persons.
    from sachsong.pipelines.oneshot import prepare_input

    exports = tmp_path / "exports"
    exports.mkdir()
    (exports / "hkd.csv").write_text(
        "Mã hồ sơ,Tên hộ kinh doanh,Họ tên chủ hộ,Số CCCD chủ hộ,Mã số thuế\n"
        "H1,Tạp hóa Lan,Nguyễn Thị Lan,044190001234,0100109106\n",
        encoding="utf-8",
    )
    standardized = prepare_input(exports, spec).standardized
    result = check_standardized(standardized, "2026-11-01", spec.rules)
    assert "owner_not_in_residents" in result.skipped_rules
    with_persons = check_standardized(
        standardized, "2026-11-01", spec.rules,
        references={"published_residents": pl.DataFrame({"cccd": ["079200000001"]})},
    )
    assert "owner_not_in_residents" not in with_persons.skipped_rules
    fired = with_persons.findings.filter(pl.col("rule_id") == "owner_not_in_residents")
    assert fired.get_column("record_id").to_list() == ["H1"]

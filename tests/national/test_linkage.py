"""Cross-province linkage on golden Parquet files written inline (no store): validity, placeholders, tiers."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl

from sachsong.national.collect import provinces_reference
from sachsong.national.linkage import MAX_HOLDERS, link_provinces
from sachsong.national.tilemap import TILES, tile_map


def _golden(path: Path, rows: list[tuple]) -> Path:
    frame = pl.DataFrame(
        rows,
        schema={
            "cluster_id": pl.String,
            "name_norm": pl.String,
            "dob": pl.Date,
            "dob_precision": pl.String,
            "sex_code": pl.String,
            "cccd": pl.String,
            "cmnd": pl.String,
        },
        orient="row",
    )
    frame.write_parquet(path)
    return path


def test_only_valid_cccds_link_and_placeholders_link_nobody(tmp_path: Path) -> None:
    dob = date(1990, 1, 2)
    placeholder = "001000000000"
    a = _golden(
        tmp_path / "a.parquet",
        [
            ("A1", "Lê Văn Tám", dob, "day", "M", "001090000123", None),  # valid, in both: linked
            ("A2", "Lê Văn Tám", dob, "day", "M", "999090000123", None),  # province 999 does not exist
            ("A3", "Lê Văn Tám", dob, "day", "M", "001790000123", None),  # century digit 7: invalid
            *[(f"AP{n}", "Đỗ Văn Nam", dob, "day", "M", placeholder, None) for n in range(MAX_HOLDERS)],
            ("A9", "Lê Văn Tám", date(1990, 1, 1), "year", "M", "001090000999", None),
        ],
    )
    b = _golden(
        tmp_path / "b.parquet",
        [
            ("B1", "Lê Văn Tám", dob, "day", "M", "001090000123", None),
            ("B2", "Lê Văn Tám", dob, "day", "M", "999090000123", None),
            ("B3", "Lê Văn Tám", dob, "day", "M", "001790000123", None),
            ("BP", "Đỗ Văn Nam", dob, "day", "M", placeholder, None),
            ("B9", "Lê Văn Tám", date(1990, 6, 30), "day", "M", "001090000999", None),  # year-only agrees
        ],
    )
    result = link_provinces({"01": a, "79": b})
    pairs = set(result.links.select("person_a", "person_b").iter_rows())
    assert pairs == {("A1", "B1"), ("A9", "B9")}
    assert result.suspect_ids == 1
    assert result.conflicts.is_empty()


def test_second_tier_needs_cmnd_full_dob_and_name(tmp_path: Path) -> None:
    dob = date(1975, 3, 3)
    a = _golden(
        tmp_path / "a.parquet",
        [
            ("A1", "Trần Thị Bình", dob, "day", "F", None, "012345678"),
            ("A2", "Trần Thị Bình", dob, "year", "F", None, "012345679"),  # year-only date: not enough
            ("A3", "Trần Thị Bình", dob, "day", "F", None, "012345670"),
            ("A4", "Lý Văn Sơn", dob, "day", "M", None, "012345671"),
        ],
    )
    b = _golden(
        tmp_path / "b.parquet",
        [
            ("B1", "TRAN THI  BINH", dob, "day", "F", "044175000001", "012345678"),  # CCCD on one side only
            ("B2", "Trần Thị Bình", dob, "year", "F", None, "012345679"),
            ("B3", "Trần Thị Bích", dob, "day", "F", None, "012345670"),  # another name
            ("B4", "Lý Văn Sơn", dob, "day", "F", None, "012345671"),  # another sex
        ],
    )
    result = link_provinces({"44": b, "01": a})
    rows = result.links.to_dicts()
    assert [(r["tier"], r["province_a"], r["person_a"], r["province_b"], r["person_b"]) for r in rows] == [
        ("cmnd_dob_name", "01", "A1", "44", "B1")
    ]
    assert rows[0]["flagged"] is True


def test_no_golden_files_gives_empty_tables() -> None:
    result = link_provinces({})
    assert result.links.is_empty() and result.counts.is_empty() and result.conflicts.is_empty()


def test_tile_map_places_each_of_the_34_provinces_once() -> None:
    codes = set(provinces_reference().get_column("province_code").to_list())
    assert set(TILES) == codes and len(codes) == 34
    assert len(set(TILES.values())) == 34  # no two tiles on one square
    svg = tile_map(
        [
            {
                "province_code": "01",
                "province_name": "Thành phố Hà Nội",
                "share": 0.97,
                "band": "amber",
                "status": "ok",
            }
        ],
        "overall",
        "t",
    )
    assert svg.count('<g class="tile') == 34
    assert (
        'data-province="01"><title>Thành phố Hà Nội (01): 97.0% · ok</title><rect class="band-amber"' in svg
    )

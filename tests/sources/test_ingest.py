"""ingest_directory on realistic exports: every dialect, lineage, identities, the registry, the CLI."""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import json
import tempfile
from pathlib import Path

import openpyxl
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sachsong.schema import LINEAGE_COLUMNS, RAW_COLUMNS
from sachsong.sources.ingest import ingest_directory
from sachsong.sources.legacy_fonts import encode_legacy
from sachsong.sources.registry import RegistryError, load_registry

PEOPLE = [
    (
        "HS-0001",
        "Nguyễn Văn Anh",
        "12/03/1985",
        "Nam",
        "044085001234",
        "0912345678",
        "Thôn Đông, xã Quảng Ninh",
    ),
    ("HS-0002", "Trần Thị Bích Thủy", "1990", "Nữ", "045190004321", "0987654321", "Phường Đồng Hới"),
    ("HS-0003", "Đặng Quốc Dương", "05/07/1978", "Nam", "", "", "Xóm Giữa, xã Hải Lăng"),
]
HEADER_VI = ["Mã hồ sơ", "Họ và tên", "Ngày sinh", "Giới tính", "Số CCCD", "Số điện thoại", "Địa chỉ"]


def _csv_text(header: list[str], rows: list[tuple[str, ...]], delimiter: str = ",") -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def _by_file(table: pl.DataFrame, name: str) -> pl.DataFrame:
    return table.filter(pl.col("source_file") == name).sort("source_row")


@pytest.fixture
def exports(tmp_path: Path) -> Path:
    root = tmp_path / "province"
    (root / "quang_binh").mkdir(parents=True)
    (root / "quang_tri").mkdir()
    # UTF-8, comma, own id column.
    (root / "quang_binh" / "xa_quang_ninh.csv").write_text(_csv_text(HEADER_VI, PEOPLE), encoding="utf-8")
    # UTF-8 with BOM, semicolon, two title lines, ASCII-folded headers, STT counter, no id column, CRLF.
    title = "DANH SACH NHAN KHAU XA HAI LANG;;;\r\nNgay xuat: 01/07/2025;;;\r\n"
    body = _csv_text(
        ["STT", "HO_TEN", "NGAY_SINH", "CCCD/CMND"], [("1", "Lê Thị Hường", "1959", "045159000111")], ";"
    )
    (root / "quang_tri" / "xa_hai_lang.csv").write_bytes(
        codecs.BOM_UTF8 + (title + body.replace("\n", "\r\n")).encode("utf-8")
    )
    # Windows-1258, tab, .txt, English headers.
    tsv = _csv_text(["id", "full_name", "dob", "gender"], [("Q7", "Hoàng Thị Hòa", "1980-02-01", "F")], "\t")
    (root / "quang_tri" / "dong_ha.txt").write_bytes(encode_legacy(tsv, "cp1258"))
    # TCVN3 and VNI font exports.
    legacy_rows = [("Phạm Văn Đức", "1970"), ("Huỳnh Ngọc Quế", "1968"), ("Nguyễn Thị Xuân", "1999")]
    legacy_text = _csv_text(["Họ tên", "Năm sinh"], legacy_rows)
    (root / "quang_binh" / "le_thuy_tcvn3.csv").write_bytes(encode_legacy(legacy_text, "tcvn3"))
    (root / "quang_binh" / "le_thuy_vni.csv").write_bytes(encode_legacy(legacy_text, "vni"))
    # Excel's "Unicode Text" export: UTF-16 with BOM, tab separated.
    unicode_text = _csv_text(["Họ và tên", "Số CMND"], [("Bùi Thị Xuân", "012345678")], "\t")
    (root / "quang_tri" / "vinh_linh.txt").write_bytes(unicode_text.replace("\n", "\r\n").encode("utf-16"))
    # JSON: an object holding the list, and JSON Lines.
    (root / "quang_tri" / "cam_lo.json").write_text(
        json.dumps(
            {
                "exported": "2025-07-01",
                "data": [{"ho_ten": "Vũ Văn Bình", "cccd": "045090000999", "sdt": 912}],
            }
        ),
        encoding="utf-8",
    )
    (root / "quang_tri" / "gio_linh.jsonl").write_text(
        '{"name": "Lý Thị Lan", "phone": "0905000111"}\n\n{"name": "Mai Văn Tú", "phone": null}\n',
        encoding="utf-8",
    )
    # xlsx: title, header on row 3, numbers and dates as Excel types, leading-zero IDs stored as text.
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "Nhân khẩu"
    sheet.append(["DANH SÁCH CÔNG DÂN PHƯỜNG ĐỒNG HỚI"])
    sheet.append([])
    sheet.append(["STT", "Họ và tên", "Ngày sinh", "Số định danh cá nhân", "Điện thoại", "Ngày cập nhật"])
    sheet.append(
        [
            1,
            "Trương Văn Tâm",
            dt.date(1991, 4, 30),
            "044091000777",
            912000111,
            dt.datetime(2025, 6, 30, 8, 15),
        ]
    )
    sheet.append([2.0, "Ngô Thị Hạnh", dt.date(1993, 9, 2), "044193000888", None, dt.datetime(2025, 6, 29)])
    workbook.save(root / "quang_binh" / "dong_hoi.xlsx")
    return root


def test_every_dialect_lands_in_the_canonical_table(exports: Path) -> None:
    result = ingest_directory(exports)
    table = result.table
    assert table.columns == [*RAW_COLUMNS, *LINEAGE_COLUMNS]
    assert all(dtype == pl.String for name, dtype in table.schema.items() if name != "source_row")
    assert result.balanced()
    assert result.rejects.is_empty()
    assert table.height == 3 + 1 + 1 + 3 + 3 + 1 + 1 + 2 + 2
    vinh_linh = _by_file(table, "quang_tri/vinh_linh.txt")
    assert vinh_linh.select("full_name", "citizen_id").rows() == [("Bùi Thị Xuân", "012345678")]

    ninh = _by_file(table, "quang_binh/xa_quang_ninh.csv")
    assert ninh["record_id"].to_list() == ["HS-0001", "HS-0002", "HS-0003"]
    assert ninh["source_id"].unique().to_list() == ["xa_quang_ninh"]
    assert ninh["full_name"].to_list() == [p[1] for p in PEOPLE]
    assert ninh["citizen_id"].to_list() == ["044085001234", "045190004321", None]
    assert ninh["phone"].to_list()[0] == "0912345678"  # leading zero kept
    assert ninh["address"].to_list()[0] == "Thôn Đông, xã Quảng Ninh"  # quoted comma kept
    assert ninh["source_row"].to_list() == [1, 2, 3]

    hai_lang = _by_file(table, "quang_tri/xa_hai_lang.csv")
    assert hai_lang["record_id"].to_list() == ["xa_hai_lang-1"]  # STT is not an identity
    assert hai_lang["full_name"].to_list() == ["Lê Thị Hường"]
    assert hai_lang["citizen_id"].to_list() == ["045159000111"]

    dong_ha = _by_file(table, "quang_tri/dong_ha.txt")
    assert dong_ha.select("record_id", "full_name", "date_of_birth", "sex").row(0) == (
        "Q7",
        "Hoàng Thị Hòa",
        "1980-02-01",
        "F",
    )
    for name in ("quang_binh/le_thuy_tcvn3.csv", "quang_binh/le_thuy_vni.csv"):
        legacy = _by_file(table, name)
        assert legacy["full_name"].to_list() == ["Phạm Văn Đức", "Huỳnh Ngọc Quế", "Nguyễn Thị Xuân"], name
        assert legacy["date_of_birth"].to_list() == ["1970", "1968", "1999"]

    cam_lo = _by_file(table, "quang_tri/cam_lo.json")
    assert cam_lo.select("full_name", "citizen_id", "phone").row(0) == ("Vũ Văn Bình", "045090000999", "912")
    gio_linh = _by_file(table, "quang_tri/gio_linh.jsonl")
    assert gio_linh["full_name"].to_list() == ["Lý Thị Lan", "Mai Văn Tú"]
    assert gio_linh["source_row"].to_list() == [1, 2]

    dong_hoi = _by_file(table, "quang_binh/dong_hoi.xlsx")
    assert dong_hoi.select("full_name", "date_of_birth", "citizen_id", "phone", "updated_at").rows() == [
        ("Trương Văn Tâm", "1991-04-30", "044091000777", "912000111", "2025-06-30 08:15:00"),
        ("Ngô Thị Hạnh", "1993-09-02", "044193000888", None, "2025-06-29"),
    ]

    counts = {row["source_file"]: row for row in result.counts.iter_rows(named=True)}
    assert counts["quang_tri/dong_ha.txt"]["encoding"] == "cp1258"
    assert counts["quang_binh/le_thuy_tcvn3.csv"]["encoding"] == "tcvn3"
    assert counts["quang_binh/le_thuy_vni.csv"]["encoding"] == "vni"
    assert counts["quang_tri/xa_hai_lang.csv"]["encoding"] == "utf-8-sig"
    assert counts["quang_tri/vinh_linh.txt"]["encoding"] == "utf-16"
    assert counts["quang_tri/xa_hai_lang.csv"]["dialect"] == "delimited semicolon"
    assert counts["quang_tri/dong_ha.txt"]["dialect"] == "delimited tab"
    assert all(row["status"] == "ok" for row in counts.values())


def test_tcvn3_capitals_come_back_in_columns_typed_in_capitals(tmp_path: Path) -> None:
    # TCVN3 writes "NỮ" with the lower-case byte of "ữ": the NAM/NỮ column says the column is in capitals.
    rows = [("Nguyễn Văn Anh", "NAM"), ("Lê Thị Mỹ", "NỮ"), ("Phạm Văn Đức", "NAM"), ("Võ Thị Ân", "NỮ")]
    text = _csv_text(["Họ và tên", "Giới tính"], rows)
    (tmp_path / "a.csv").write_bytes(encode_legacy(text, "tcvn3"))
    table = ingest_directory(tmp_path).table
    assert table.select("full_name", "sex").rows() == rows


def test_output_is_deterministic(exports: Path) -> None:
    first = ingest_directory(exports).table
    second = ingest_directory(exports).table
    assert first.equals(second)
    assert first["source_file"].to_list() == sorted(first["source_file"].to_list())


def test_unknown_columns_are_counted_not_published(tmp_path: Path) -> None:
    text = _csv_text(
        ["Họ và tên", "Dân tộc", "Tôn giáo", "Ngày sinh"], [("Nguyễn Văn Anh", "Kinh", "Không", "1990")]
    )
    (tmp_path / "a.csv").write_text(text, encoding="utf-8")
    result = ingest_directory(tmp_path)
    assert "Kinh" not in result.table.row(0)
    assert result.counts["extra_columns"].to_list() == [2]
    assert "extra columns kept out of the canonical table: 2" in result.describe()


def test_rows_without_their_id_get_the_row_id_and_a_note(tmp_path: Path) -> None:
    text = _csv_text(["Mã hồ sơ", "Họ và tên"], [("HS1", "An"), ("", "Bình"), ("HS3", "Chi")])
    (tmp_path / "xa.csv").write_text(text, encoding="utf-8")
    result = ingest_directory(tmp_path)
    assert result.table["record_id"].to_list() == ["HS1", "xa-2", "HS3"]
    assert "1 row(s) without an id" in result.counts["notes"][0]


def test_name_parts_are_assembled(tmp_path: Path) -> None:
    text = _csv_text(
        ["Họ", "Tên đệm", "Tên", "Ngày sinh"], [("Nguyễn", "Thị", "Lan", "1990"), ("Lê", "", "Na", "")]
    )
    (tmp_path / "a.csv").write_text(text, encoding="utf-8")
    table = ingest_directory(tmp_path).table
    assert table["full_name"].to_list() == ["Nguyễn Thị Lan", "Lê Na"]
    assert table["date_of_birth"].to_list() == ["1990", None]


def test_demo_layout_ingests_exports_only(tmp_path: Path) -> None:
    (tmp_path / "exports").mkdir()
    (tmp_path / "truth").mkdir()
    (tmp_path / "exports" / "44001_a.csv").write_text("Họ và tên\nNguyễn Văn Anh\n", encoding="utf-8")
    (tmp_path / "truth" / "records.csv").write_text("full_name\nSECRET\n", encoding="utf-8")
    result = ingest_directory(tmp_path)
    assert result.table["full_name"].to_list() == ["Nguyễn Văn Anh"]
    assert result.table["source_file"].to_list() == ["44001_a.csv"]
    assert result.table["source_id"].to_list() == ["44001_a"]
    assert result.counts["source_file"].to_list() == ["44001_a.csv"]


def test_same_stem_in_two_folders_gets_two_source_ids(tmp_path: Path) -> None:
    for folder in ("xa_a", "xa_b"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "nhan_khau.csv").write_text("Họ tên\nAn\n", encoding="utf-8")
    table = ingest_directory(tmp_path).table
    assert sorted(table["source_id"].to_list()) == ["xa_a__nhan_khau", "xa_b__nhan_khau"]
    assert table["record_id"].n_unique() == 2


def test_registry_overrides_detection_and_names_sources(tmp_path: Path) -> None:
    (tmp_path / "legacy").mkdir()
    text = "SO HO TICH CU\nin ngay 1/1/2010\nHOTEN_KS\tNGSINH\tNOI_TT\nNguyễn Văn Anh\t1950\tThôn 1\n"
    (tmp_path / "legacy" / "ho_tich_2010.txt").write_bytes(encode_legacy(text, "tcvn3"))
    (tmp_path / "other.csv").write_text("Họ tên\nLê Thị Na\n", encoding="utf-8")
    registry = tmp_path / "reg.yaml"
    registry.write_text(
        """
province: "44"
sources:
  - id: ho-tich-cu
    glob: "legacy/*.txt"
    encoding: tcvn3
    delimiter: tab
    header_row: 3
    freshness_days: 30
    columns: {HOTEN_KS: full_name, NGSINH: date_of_birth, NOI_TT: address}
""",
        encoding="utf-8",
    )
    result = ingest_directory(tmp_path, registry=registry)
    legacy = _by_file(result.table, "legacy/ho_tich_2010.txt")
    assert legacy.select("record_id", "source_id", "full_name", "date_of_birth", "address").row(0) == (
        "ho-tich-cu-1",
        "ho-tich-cu",
        "Nguyễn Văn Anh",
        "1950",
        "Thôn 1",
    )
    assert _by_file(result.table, "other.csv")["source_id"].to_list() == ["other"]
    assert result.freshness_days() == {"ho-tich-cu": 30, "other": 1}
    assert result.registry is not None and result.registry.province == "44"


def test_registry_picks_one_sheet(tmp_path: Path) -> None:
    workbook = openpyxl.Workbook()
    workbook.active.title = "Tạm trú"
    workbook.active.append(["Họ và tên"])
    workbook.active.append(["Người Tạm Trú"])
    permanent = workbook.create_sheet("Thường trú")
    permanent.append(["Họ và tên"])
    permanent.append(["Người Thường Trú"])
    workbook.save(tmp_path / "xa.xlsx")
    assert ingest_directory(tmp_path).table["full_name"].to_list() == ["Người Tạm Trú", "Người Thường Trú"]
    registry = tmp_path / "reg.yml"
    registry.write_text('sources:\n  - {id: xa, glob: "*.xlsx", sheet: "Thường trú"}\n', encoding="utf-8")
    assert ingest_directory(tmp_path, registry=registry).table["full_name"].to_list() == ["Người Thường Trú"]


def test_registry_in_the_root_is_used_and_not_ingested(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("Họ tên\nAn\n", encoding="utf-8")
    (tmp_path / "registry.yaml").write_text(
        'sources:\n  - {id: "commune-{stem}", glob: "*.csv"}\n', encoding="utf-8"
    )
    result = ingest_directory(tmp_path)
    assert result.table["source_id"].to_list() == ["commune-a"]
    assert result.counts.filter(pl.col("source_file") == "registry.yaml")["status"].to_list() == ["skipped"]


def test_example_registry_of_the_demo_province_loads() -> None:
    registry = load_registry(Path(__file__).parents[2] / "sources" / "44.yaml")
    assert registry.province == "44"
    assert registry.source_for(["44001_x.xlsx"]).freshness_days == 7
    assert registry.source_for(["44001_x.csv"]).source_id_for("44001_x") == "44001_x"


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("sources:\n  - {id: a}\n", "sources[0].glob"),
        ("sources:\n  - {id: a, glob: '*', colour: red}\n", "unknown key"),
        ("sources:\n  - {id: a, glob: '*', columns: {X: surname}}\n", "source 'a'.columns['X']"),
        ("sources:\n  - {id: a, glob: '*', freshness_days: 0}\n", "freshness_days"),
        ("sources:\n  - {id: a, glob: '*'}\n  - {id: a, glob: '*.csv'}\n", "listed twice"),
        ("just text", "expected a mapping"),
    ],
)
def test_bad_registry_is_refused_with_file_and_field(tmp_path: Path, document: str, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(document, encoding="utf-8")
    with pytest.raises(RegistryError) as error:
        load_registry(path)
    assert str(path) in str(error.value)
    assert message in str(error.value)


def test_cli_ingest_writes_table_and_rejects(exports: Path, tmp_path: Path) -> None:
    from sachsong.pipelines.cli import main

    (exports / "broken.csv").write_bytes(b"\x00\x01\x02\x03\x04" * 200)
    out, rejects = tmp_path / "raw.parquet", tmp_path / "rejects.csv"
    assert main(["ingest", str(exports), "--output", str(out), "--rejects", str(rejects)]) == 0
    written = pl.read_parquet(out)
    assert written.height == 17
    assert pl.read_csv(rejects)["source_file"].to_list() == ["broken.csv"]


# --- Property: any table of strings written as CSV comes back intact ---------------------------------------
SYLLABLES = [
    "Nguyễn",
    "Văn",
    "Thị",
    "Đặng",
    "Hường",
    "xã",
    "Quảng",
    "Ninh",
    "thôn",
    "Đông",
    "phường",
    "Lăng",
    "ĐỨC",
]
FRAGMENTS = st.one_of(
    st.sampled_from(SYLLABLES),
    st.text(
        alphabet=st.characters(codec="ascii", categories=["L", "N", "P", "S", "Zs"]), min_size=1, max_size=6
    ),
    st.sampled_from(['"', ",", ";", "|", "\t", "\n", " ", "'", "0"]),
)
VALUES = st.lists(FRAGMENTS, min_size=0, max_size=5).map("".join)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=st.lists(st.tuples(VALUES, VALUES), min_size=1, max_size=8),
    delimiter=st.sampled_from([",", ";", "\t", "|"]),
    bom=st.booleans(),
)
def test_csv_round_trip_keeps_every_row_and_value(
    rows: list[tuple[str, str]], delimiter: str, bom: bool
) -> None:
    header = ["Mã hồ sơ", "Họ và tên", "Địa chỉ"]
    table = [(f"R{i:03d}", name, address) for i, (name, address) in enumerate(rows)]
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator="\n", quoting=csv.QUOTE_MINIMAL).writerows(
        [header, *table]
    )
    data = (codecs.BOM_UTF8 if bom else b"") + buffer.getvalue().encode("utf-8")
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "export.csv").write_bytes(data)
        result = ingest_directory(Path(folder))
    assert result.balanced()
    expected = {
        record_id: tuple(v.strip() or None for v in (name, address)) for record_id, name, address in table
    }
    got = {
        row[0]: (row[1], row[2])
        for row in result.table.select("record_id", "full_name", "address").iter_rows()
    }
    assert got == expected
    assert result.rejects.is_empty()

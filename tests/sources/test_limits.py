"""Hostile files against the read limits, confinement and conservation (issue 13 classes 2–5, 9; issue 12).

Each case is built here, small, beside a good file. Each asserts: the other files still ingest, the bad file
is a reject naming the file and the limit or problem, rows in == rows out + rows rejected per file (counted
from the file itself when it is rejected whole), and no planted value appears in any error, note or reason.
"""

from __future__ import annotations

import io
import json
import os
import re
import signal
import socket
import struct
import zipfile
from collections.abc import Iterator
from pathlib import Path

import openpyxl
import polars as pl
import pytest

from sachsong.sources import ingest as ingest_module
from sachsong.sources.ingest import ingest_directory, ingest_files, list_source_files
from sachsong.sources.legacy_fonts import encode_legacy
from sachsong.sources.limits import FileRejected, ReadLimits, open_confined
from sachsong.sources.registry import RegistryError

GOOD = "Họ và tên,Ngày sinh,Số CCCD\nNguyễn Văn Anh,1990,044090001234\nTrần Thị Bích,1985,045185004321\n"
# Values planted in hostile files: none may reach an error, a note or a reason.
PLANTED_NAME = "Phùng Thị Kín"
PLANTED_CCCD = "079188012345"
PLANTED_PHONE = "0912777333"
PLANTED = (PLANTED_NAME, PLANTED_CCCD, PLANTED_PHONE, "Kín", "012345", "777333")


@pytest.fixture(autouse=True)
def no_hang() -> Iterator[None]:
    """A FIFO or a lock that blocks would hang the test run: fail it instead."""
    previous = signal.signal(signal.SIGALRM, lambda *_: pytest.fail("ingest blocked"))
    signal.alarm(120)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    folder = tmp_path / "exports_of_a_province"
    folder.mkdir()
    (folder / "good.csv").write_text(GOOD, encoding="utf-8")
    return folder


def _count(result, name: str) -> dict:
    rows = result.counts.filter(pl.col("source_file") == name).to_dicts()
    assert len(rows) == 1, (name, result.counts["source_file"].to_list())
    return rows[0]


def _rejects(result, name: str) -> pl.DataFrame:
    return result.rejects.filter(pl.col("source_file") == name).sort("source_row", nulls_last=True)


def _messages(result) -> str:
    """Every text ingest writes about the files (not raw_line: the stewards' copy of a rejected row)."""
    parts = [
        *(v for v in result.counts["error"].to_list() if v),
        *(v for v in result.counts["notes"].to_list() if v),
        *(v for v in result.rejects["reason"].to_list() if v),
        *(v for v in result.warnings["reason"].to_list() if v),
        result.describe(),
        *result.file_errors(),
    ]
    return "\n".join(parts)


def _assert_whole(result, *, planted: tuple[str, ...] = PLANTED) -> None:
    good = result.table.filter(pl.col("source_file") == "good.csv")
    assert good["full_name"].to_list() == ["Nguyễn Văn Anh", "Trần Thị Bích"]
    assert result.balanced()
    counts = result.counts
    assert counts.filter(pl.col("rows_in") != pl.col("rows_out") + pl.col("rows_rejected")).is_empty()
    rows_in = int(counts["rows_in"].sum())
    whole = result.rejects.filter(pl.col("source_row").is_null())["source_file"].to_list()
    file_rows = int(counts.filter(pl.col("source_file").is_in(whole))["rows_rejected"].sum() or 0)
    row_rejects = result.rejects.filter(pl.col("source_row").is_not_null()).height
    assert rows_in == result.table.height + row_rejects + file_rows
    text = _messages(result)
    for value in planted:
        assert value not in text, value


def _failed(result, name: str, *words: str) -> dict:
    count = _count(result, name)
    assert count["status"] == "failed", count
    for word in words:
        assert word in count["error"], (word, count["error"])
    rejects = _rejects(result, name)
    whole = rejects.filter(pl.col("source_row").is_null())
    if whole.height:  # nothing readable: one reject stands for the file
        assert whole["reason"].to_list() == [count["error"]]
        assert rejects.height == 1
    else:  # its rows were read but cannot be used: each is a reject of its own
        assert rejects["source_row"].to_list() == list(range(1, count["rows_rejected"] + 1))
    return count


def _xlsx(rows_by_sheet: dict[str, list[list[object]]]) -> bytes:
    workbook = openpyxl.Workbook()
    workbook.remove(workbook.active)
    for title, rows in rows_by_sheet.items():
        sheet = workbook.create_sheet(title)
        for row in rows:
            sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _patch_member(data: bytes, name: str, change) -> bytes:
    """The archive again with one member's bytes changed by `change`."""
    source = zipfile.ZipFile(io.BytesIO(data))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as out:
        for info in source.infolist():
            member = source.read(info)
            out.writestr(info.filename, change(member) if info.filename == name else member)
    return buffer.getvalue()


PEOPLE_ROWS = [["Họ và tên", "Ngày sinh", "Số CCCD"], ["Lê Văn Tám", "1970", "044070000001"]]


# --- Class 2: one file must not stop or starve the province ----------------------------------------------------
def test_json_nested_100000_deep_is_a_file_reject_not_a_recursion_error(root: Path) -> None:
    (root / "deep.json").write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    (root / "deep_object.json").write_text('{"a":' * 100_000 + "1" + "}" * 100_000, encoding="utf-8")
    result = ingest_directory(root)
    for name in ("deep.json", "deep_object.json"):
        count = _failed(result, name, "nested deeper than 64 levels", "max_json_depth")
        assert (count["rows_in"], count["rows_rejected"]) == (0, 0)
        assert "rows not counted: over a read limit (max_json_depth)" in count["notes"]
    _assert_whole(result)


def test_brackets_inside_json_strings_do_not_count_as_depth(root: Path) -> None:
    records = [{"ho_ten": "Nguyễn Văn [[[[" + "[" * 500 + "An", "ghi_chu": "{" * 300}]
    (root / "brackets.json").write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    result = ingest_directory(root)
    assert _count(result, "brackets.json")["rows_out"] == 1
    _assert_whole(result)


def test_one_json_line_nested_too_deep_rejects_only_that_line(root: Path) -> None:
    lines = [
        json.dumps({"ho_ten": "Nguyễn Văn Anh"}, ensure_ascii=False),
        '{"ho_ten": ' + "[" * 5000 + "]" * 5000 + "}",
        json.dumps({"ho_ten": "Lê Thị Na"}, ensure_ascii=False),
    ]
    (root / "lines.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = ingest_directory(root)
    assert _rejects(result, "lines.jsonl").select("source_row", "reason").rows() == [
        (2, "JSON nested deeper than 64 levels (max_json_depth)")
    ]
    assert result.table.filter(pl.col("source_file") == "lines.jsonl")["full_name"].to_list() == [
        "Nguyễn Văn Anh",
        "Lê Thị Na",
    ]
    _assert_whole(result)


def test_xlsx_declaring_xfd1048576_is_read_by_its_real_size(root: Path) -> None:
    data = _xlsx({"Danh sách": PEOPLE_ROWS})
    bomb = _patch_member(
        data,
        "xl/worksheets/sheet1.xml",
        lambda xml: re.sub(rb'<dimension ref="A1:C2"\s*/>', b'<dimension ref="A1:XFD1048576"/>', xml),
    )
    assert b"XFD1048576" in zipfile.ZipFile(io.BytesIO(bomb)).read("xl/worksheets/sheet1.xml")
    assert len(bomb) < 8000
    (root / "dimension.xlsx").write_bytes(bomb)
    result = ingest_directory(root)
    count = _count(result, "dimension.xlsx")
    assert (count["status"], count["rows_in"], count["rows_out"]) == ("ok", 1, 1)
    assert "declares 17,179,869,184 cells but holds 2 rows × 3 columns" in count["notes"]
    _assert_whole(result)


def test_xlsx_with_a_real_cell_at_xfd1048576_is_rejected_by_the_cell_limit(root: Path) -> None:
    far = _xlsx({"Danh sách": PEOPLE_ROWS})

    def add_far_cell(xml: bytes) -> bytes:
        return xml.replace(
            b"</sheetData>", b'<row r="1048576"><c r="XFD1048576"><v>1</v></c></row></sheetData>'
        )

    (root / "far.xlsx").write_bytes(_patch_member(far, "xl/worksheets/sheet1.xml", add_far_cell))
    result = ingest_directory(root)
    count = _failed(result, "far.xlsx", "1,048,576 rows × 16,384 columns", "max_cells")
    assert "rows not counted: over a read limit" in count["notes"]
    _assert_whole(result)


def test_xlsx_members_are_checked_for_ratio_size_and_shared_parts(root: Path) -> None:
    base = _xlsx({"Danh sách": PEOPLE_ROWS, "Thôn 2": PEOPLE_ROWS})
    # A sheet padded with 4 MB of blanks: compresses about 1000 to 1.
    padded = _patch_member(base, "xl/worksheets/sheet1.xml", lambda xml: xml + b" " * (4 << 20))
    (root / "ratio.xlsx").write_bytes(padded)
    # Both sheets point at one part (the 6.8 MB / 12 GB case, small).
    shared = _patch_member(
        base,
        "xl/_rels/workbook.xml.rels",
        lambda xml: xml.replace(b"worksheets/sheet2.xml", b"worksheets/sheet1.xml"),
    )
    (root / "shared.xlsx").write_bytes(shared)
    result = ingest_directory(root)
    _failed(result, "ratio.xlsx", "'xl/worksheets/sheet1.xml' expands", "max_zip_ratio")
    _failed(result, "shared.xlsx", "point at the same part")
    _assert_whole(result)


def test_xlsx_member_lying_about_its_size_is_rejected(root: Path) -> None:
    data = bytearray(_xlsx({"Danh sách": PEOPLE_ROWS}))
    archive = zipfile.ZipFile(io.BytesIO(bytes(data)))
    info = archive.getinfo("xl/worksheets/sheet1.xml")
    claimed = 64
    # Local header: uncompressed size at offset 22; central directory entry: at offset 24.
    struct.pack_into("<I", data, info.header_offset + 22, claimed)
    name = info.filename.encode()
    patched = 0
    position = data.find(b"PK\x01\x02")
    while position >= 0:
        name_length = struct.unpack_from("<H", data, position + 28)[0]
        if data[position + 46 : position + 46 + name_length] == name:
            struct.pack_into("<I", data, position + 24, claimed)
            patched += 1
        position = data.find(b"PK\x01\x02", position + 4)
    assert patched == 1
    (root / "liar.xlsx").write_bytes(bytes(data))
    result = ingest_directory(root)
    _failed(result, "liar.xlsx", "'xl/worksheets/sheet1.xml' inflates past its declared size")
    _assert_whole(result)


def test_zip_with_too_many_members_is_refused_before_reading_it(root: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for i in range(60):
            archive.writestr(f"xl/media/image{i}.png", b"x")
    (root / "many.xlsx").write_bytes(buffer.getvalue())
    result = ingest_directory(root, limits=ReadLimits(max_zip_members=50))
    _failed(result, "many.xlsx", "60 members", "max_zip_members")
    _assert_whole(result)


def test_file_over_the_size_limit_is_refused_without_reading_it(root: Path) -> None:
    huge = root / "huge.csv"
    with huge.open("wb") as handle:
        handle.write(GOOD.encode())
        handle.truncate((2 << 30) + 1)  # sparse: no disk used, never read
    result = ingest_directory(root)
    count = _failed(result, "huge.csv", "2,147,483,649", "max_file_bytes")
    assert (count["rows_in"], count["rows_rejected"]) == (0, 0)
    assert "rows not counted: over a read limit (max_file_bytes)" in count["notes"]
    _assert_whole(result)


def test_a_line_over_the_line_limit_is_rejected_unread_and_the_rest_is_read(root: Path) -> None:
    limits = ReadLimits(max_field_bytes=1_000, max_line_bytes=20_000)
    field = PLANTED_NAME * 10_000  # ≈ 150 KB on one line
    text = f"Họ và tên,Địa chỉ\nNguyễn Văn Anh,Thôn 1\nLê Thị Na,{field}\nTrần Văn Bảo,Thôn 3\n"
    (root / "long.csv").write_text(text, encoding="utf-8")
    (root / "long.tsv").write_text(text.replace(",", "\t").replace("\n", "\r"), encoding="utf-8")
    (root / "long.jsonl").write_text(
        json.dumps({"ho_ten": "Nguyễn Văn Anh"}, ensure_ascii=False)
        + "\n"
        + json.dumps({"ho_ten": field}, ensure_ascii=False)
        + "\n",
        encoding="utf-8",
    )
    result = ingest_directory(root, limits=limits)
    reason = "line longer than 20,000 bytes (max_line_bytes): not read"
    for name in ("long.csv", "long.tsv"):
        assert _rejects(result, name).select("source_row", "reason", "raw_line").rows() == [(2, reason, "")]
        published = result.table.filter(pl.col("source_file") == name)
        assert published["full_name"].to_list() == ["Nguyễn Văn Anh", "Trần Văn Bảo"]
        assert published["source_row"].to_list() == [1, 3]
    assert _rejects(result, "long.jsonl").select("source_row", "reason").rows() == [(2, reason)]
    _assert_whole(result)


def test_a_field_over_the_field_limit_but_under_the_line_limit_names_its_column(root: Path) -> None:
    limits = ReadLimits(max_field_bytes=1_000, max_line_bytes=20_000)
    text = f"Họ và tên,Địa chỉ\nNguyễn Văn Anh,{'x' * 5_000}\nLê Thị Na,Thôn 2\n"
    (root / "field.csv").write_text(text, encoding="utf-8")
    result = ingest_directory(root, limits=limits)
    assert _rejects(result, "field.csv").select("source_row", "field", "reason").rows() == [
        (1, "Địa chỉ", "field longer than 1,000 bytes")
    ]
    _assert_whole(result)


@pytest.mark.parametrize("kind", ["fifo", "socket"])
def test_a_pipe_or_socket_named_like_an_export_is_refused_at_once(root: Path, kind: str) -> None:
    path = root / "x.csv"
    if kind == "fifo":
        os.mkfifo(path)
        expected = "a named pipe (FIFO), not a regular file: refused"
    else:
        server = socket.socket(socket.AF_UNIX)
        server.bind(str(path))
        expected = "a socket, not a regular file: refused"
    try:
        result = ingest_directory(root)
    finally:
        if kind == "socket":
            server.close()
    assert _failed(result, "x.csv")["error"] == expected
    _assert_whole(result)


def test_a_file_replaced_by_a_fifo_after_the_walk_does_not_block(root: Path) -> None:
    path = root / "late.csv"
    path.write_text(GOOD, encoding="utf-8")
    seen = os.lstat(path)
    path.unlink()
    os.mkfifo(path)
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        with pytest.raises(FileRejected, match="named pipe"):
            open_confined(fd, "late.csv", seen)
    finally:
        os.close(fd)


# --- Class 5: nothing read from outside the sources folder ------------------------------------------------------
def _secret(tmp_path: Path) -> Path:
    secret = tmp_path / "outside"
    secret.mkdir(exist_ok=True)
    (secret / "leak.csv").write_text(f"Họ và tên,Số CCCD\n{PLANTED_NAME},{PLANTED_CCCD}\n", encoding="utf-8")
    return secret


def _swap_after_walk(monkeypatch: pytest.MonkeyPatch, swap) -> None:
    """The walk sees the folder as it is; the swap happens after it, before the files are read."""
    walk = ingest_module._walk

    def walk_then_swap(root: Path):
        entries = list(walk(root))
        swap()
        return iter(entries)

    monkeypatch.setattr(ingest_module, "_walk", walk_then_swap)


def test_a_file_swapped_for_a_link_during_the_run_is_refused(
    root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = _secret(tmp_path)
    (root / "swapped.csv").write_text(GOOD, encoding="utf-8")
    (root / "renamed.csv").write_text(GOOD, encoding="utf-8")
    (root / "thon").mkdir()
    (root / "thon" / "inner.csv").write_text(GOOD, encoding="utf-8")

    def swap() -> None:
        (root / "swapped.csv").unlink()
        (root / "swapped.csv").symlink_to(secret / "leak.csv")
        (root / "renamed.csv").rename(root.parent / "renamed.old")  # kept: its inode is not reused
        (root / "renamed.csv").write_text(f"Họ và tên\n{PLANTED_NAME}\n", encoding="utf-8")
        (root / "thon").rename(root / "thon_old")
        (root / "thon").symlink_to(secret, target_is_directory=True)
        (secret / "inner.csv").write_text((secret / "leak.csv").read_text(encoding="utf-8"), encoding="utf-8")

    _swap_after_walk(monkeypatch, swap)
    result = ingest_directory(root)
    assert PLANTED_NAME not in result.table["full_name"].to_list()
    _failed(result, "swapped.csv", "replaced by a symbolic link during the run")
    _failed(result, "renamed.csv", "replaced by another file during the run")
    _failed(result, "thon/inner.csv", "folder 'thon' is no longer a plain folder")
    _assert_whole(result)


def test_a_registry_linked_outside_the_folder_is_refused_unread(root: Path, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere.yaml"
    outside.write_text(f"sources:\n  - {{id: {PLANTED_NAME}, glob: '{PLANTED_CCCD}'}}\n", encoding="utf-8")
    (root / "registry.yaml").symlink_to(outside)
    with pytest.raises(RegistryError) as caught:
        ingest_directory(root)
    message = str(caught.value)
    assert "registry.yaml" in message and "refused" in message
    assert PLANTED_NAME not in message and PLANTED_CCCD not in message
    with pytest.raises(RegistryError, match="symbolic link"):
        ingest_files(root, ["good.csv"])


def test_a_registry_that_is_a_fifo_is_refused_without_blocking(root: Path) -> None:
    os.mkfifo(root / "sources.yaml")
    with pytest.raises(RegistryError, match="named pipe"):
        ingest_directory(root)


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (f"sources:\n  - id: a\n    glob: [{PLANTED_NAME}: : {PLANTED_CCCD}\n", "cannot read the registry"),
        ("sources: " + "[" * 10_000 + "]" * 10_000 + "\n", "nested deeper than 32 levels"),
        ("a: &a [" + PLANTED_NAME + "]\n" + "b: [" + ", ".join(["*a"] * 300) + "]\n", "YAML aliases"),
    ],
)
def test_a_broken_registry_is_named_without_quoting_it(root: Path, content: str, problem: str) -> None:
    (root / "registry.yaml").write_text(content, encoding="utf-8")
    with pytest.raises(RegistryError) as caught:
        ingest_directory(root)
    assert problem in str(caught.value)
    assert PLANTED_NAME not in str(caught.value) and PLANTED_CCCD not in str(caught.value)


# --- Class 3 and issue 12: rows counted from what the file holds -----------------------------------------------
def test_every_xlsx_sheet_is_read_or_its_rows_rejected(root: Path) -> None:
    workbook = {
        "Thường trú": [*PEOPLE_ROWS, ["Phạm Văn Đức", "1971", "044071000002"]],
        "Tam tru": [
            ["TT", "Ho va ten", "Ngay sinh"],
            ["1", "Hoàng Thị Hoa", "1980"],
            ["2", "Vũ Văn Nam", "1981"],
        ],
        "Khác": [["Mã hộ", "Ghi chú"], ["H01", PLANTED_NAME], ["H02", PLANTED_PHONE]],
    }
    (root / "sheets.xlsx").write_bytes(_xlsx(workbook))
    result = ingest_directory(root)
    count = _count(result, "sheets.xlsx")
    assert (count["status"], count["rows_in"], count["rows_out"], count["rows_rejected"]) == ("ok", 7, 4, 3)
    published = result.table.filter(pl.col("source_file") == "sheets.xlsx")
    assert published.select("full_name", "source_row").rows() == [
        ("Lê Văn Tám", 1),
        ("Phạm Văn Đức", 2),
        ("Hoàng Thị Hoa", 3),
        ("Vũ Văn Nam", 4),
    ]
    rejected = _rejects(result, "sheets.xlsx")
    # Its header names no field at all: its first row may be a person too, so every row is counted.
    assert rejected["source_row"].to_list() == [5, 6, 7]
    assert set(rejected["reason"]) == {"sheet 'Khác': no recognisable name column in its header"}
    assert PLANTED_NAME in rejected["raw_line"][1]  # the stewards' copy keeps the row
    _assert_whole(result)


def test_every_record_list_of_a_json_object_is_read(root: Path) -> None:
    document = {
        "don_vi": "Xã Quảng Ninh",
        "thuong_tru": [{"ho_ten": "Nguyễn Văn Anh", "so_cccd": "044090001234"}],
        "tam_tru": [{"hoTen": "Lê Thị Na", "cccd": 44191000002}, {"hoTen": "Trần Văn Bảo"}],
        "nhan_vien": [{"ma": "NV1", "ghi_chu": PLANTED_NAME}],
        "the_loai": ["a", "b"],
    }
    (root / "two_lists.json").write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    result = ingest_directory(root)
    count = _count(result, "two_lists.json")
    assert (count["rows_in"], count["rows_out"], count["rows_rejected"]) == (6, 3, 3)
    published = result.table.filter(pl.col("source_file") == "two_lists.json")
    assert published.select("full_name", "citizen_id", "source_row").rows() == [
        ("Nguyễn Văn Anh", "044090001234", 1),
        ("Lê Thị Na", "44191000002", 2),
        ("Trần Văn Bảo", None, 3),
    ]
    assert _rejects(result, "two_lists.json").select("source_row", "reason").rows() == [
        (4, "list 'nhan_vien': no recognisable name field in its records"),
        (5, "list 'the_loai': item is a str, not an object"),
        (6, "list 'the_loai': item is a str, not an object"),
    ]
    _assert_whole(result)


def test_files_rejected_whole_still_count_their_rows(root: Path) -> None:
    # No header line: the first line is a person too, so all 4 lines are counted.
    rows = [f"{PLANTED_NAME},{PLANTED_CCCD},{PLANTED_PHONE}", "Lê Văn Tám,044070000001,0912000111"] * 2
    (root / "headerless.csv").write_text("\n".join(rows) + "\n\n", encoding="utf-8")
    # A Windows-1258 file the registry says is UTF-8: it cannot be decoded as told.
    (root / "wrong_encoding.csv").write_bytes(encode_legacy(GOOD, "cp1258"))
    (root / "registry.yaml").write_text(
        'sources:\n  - {id: legacy, glob: "wrong_encoding.csv", encoding: utf-8}\n', encoding="utf-8"
    )
    # JSON list of arrays and a JSON object keyed by CCCD: no records, values everywhere.
    (root / "arrays.json").write_text(
        json.dumps([[PLANTED_NAME, PLANTED_CCCD], ["Lê Văn Tám", "044070000001"]], ensure_ascii=False),
        encoding="utf-8",
    )
    (root / "keyed.json").write_text(
        json.dumps({PLANTED_CCCD: PLANTED_NAME}, ensure_ascii=False), encoding="utf-8"
    )
    (root / "nobody.xlsx").write_bytes(_xlsx({"A": [[PLANTED_NAME, PLANTED_CCCD], ["x", "y"], ["z", "w"]]}))
    (root / "garbage.csv").write_bytes(bytes(range(256)) * 8)
    result = ingest_directory(root)
    expected = {
        "headerless.csv": (4, "no recognisable name column in the header row (3 column(s))"),
        "wrong_encoding.csv": (2, "cannot decode as utf-8"),
        "arrays.json": (2, "no table with a recognisable name column"),
        "keyed.json": (0, "JSON object without a list of records (1 key(s), no list)"),
        "nobody.xlsx": (3, "no sheet with a recognisable name column"),
        "garbage.csv": (0, "binary content"),
    }
    for name, (rows, reason) in expected.items():
        count = _failed(result, name, reason)
        assert (count["rows_in"], count["rows_out"], count["rows_rejected"]) == (rows, 0, rows), name
    assert "rows not counted: binary content has no rows" in _count(result, "garbage.csv")["notes"]
    assert result.describe().splitlines()[0].endswith(f"{result.table.height} out + 11 rejected")
    # Rows that could be read are rejects of their own, with their raw line for the stewards.
    assert _rejects(result, "headerless.csv")["raw_line"][0].startswith(PLANTED_NAME)
    _assert_whole(result)


def test_mac_cr_line_endings_are_read(root: Path) -> None:
    text = GOOD.replace("Nguyễn Văn Anh", "Đỗ Văn Cường").replace("\n", "\r")
    (root / "mac.csv").write_text(text, encoding="utf-8")
    (root / "mac_legacy.txt").write_bytes(encode_legacy(text.replace(",", "\t"), "cp1258"))
    (root / "mac_utf16.txt").write_bytes(text.replace(",", "\t").encode("utf-16"))
    result = ingest_directory(root)
    for name, encoding in (("mac.csv", "utf-8"), ("mac_legacy.txt", "cp1258"), ("mac_utf16.txt", "utf-16")):
        count = _count(result, name)
        assert (count["status"], count["rows_in"], count["rows_out"], count["encoding"]) == (
            "ok",
            2,
            2,
            encoding,
        ), name
        assert "Mac CR line endings" in count["notes"]
        published = result.table.filter(pl.col("source_file") == name)
        assert published["full_name"].to_list() == ["Đỗ Văn Cường", "Trần Thị Bích"]
        assert published["citizen_id"].to_list() == ["044090001234", "045185004321"]
    _assert_whole(result)


def test_html_tables_saved_as_xls_are_read(root: Path) -> None:
    def entities(text: str) -> str:
        return "".join(c if ord(c) < 128 else f"&#{ord(c)};" for c in text)

    page = (
        '<html xmlns:x="urn:schemas-microsoft-com:office:excel"><head><meta charset="utf-8">'
        "<style>td {mso-number-format:'\\@'}</style></head><body>"
        '<table><tr><td colspan="4"><b>DANH SÁCH CÔNG DÂN</b></td></tr></table>'
        "<table border=1>\n<tr><th>STT</th><th>Họ và tên</th><th>Ngày sinh</th><th>Số CCCD</th></tr>\n"
        f"<tr><td>1</td><td>{entities('Nguyễn Thị Mai')}</td><td>01/02/1990</td><td>044190001111</td></tr>\n"
        '<tr><td>2</td><td>Lê&nbsp;Văn <br>Hùng</td><td rowspan="2">1991</td><td>044091002222</td></tr>\n'
        "<tr><td>3</td><td>Trần Văn Tú</td><td>044091003333</td></tr>\n"
        "</table></body></html>"
    )
    (root / "DanhSach.xls").write_text(page, encoding="utf-8")
    (root / "utf16.xlsx").write_bytes(page.encode("utf-16"))
    nobody = (
        "<table><tr><td>Mã</td><td>Ghi chú</td></tr>" + f"<tr><td>1</td><td>{PLANTED_NAME}</td></tr></table>"
    )
    (root / "nobody.xls").write_text(nobody, encoding="utf-8")
    result = ingest_directory(root)
    for name in ("DanhSach.xls", "utf16.xlsx"):
        count = _count(result, name)
        assert (count["status"], count["kind"], count["rows_in"], count["rows_out"]) == ("ok", "html", 3, 3)
        published = result.table.filter(pl.col("source_file") == name)
        assert published.select("full_name", "date_of_birth", "citizen_id").rows() == [
            ("Nguyễn Thị Mai", "01/02/1990", "044190001111"),
            ("Lê Văn Hùng", "1991", "044091002222"),
            ("Trần Văn Tú", None, "044091003333"),
        ]
    count = _failed(result, "nobody.xls", "no table with a recognisable name column")
    assert (count["rows_in"], count["rows_rejected"]) == (1, 1)
    _assert_whole(result)


# --- Class 4 and 9: names and values shown safely ---------------------------------------------------------------
def test_headerless_exports_put_no_value_in_any_message(root: Path) -> None:
    rows = [[PLANTED_NAME, PLANTED_CCCD, PLANTED_PHONE], ["Lê Văn Tám", "044070000001", "0912000111"]]
    (root / "headerless.tsv").write_text("\n".join("\t".join(r) for r in rows) + "\n", encoding="utf-8")
    (root / "single_column.csv").write_text(f"{PLANTED_NAME}\n{PLANTED_CCCD}\n", encoding="utf-8")
    (root / "arrays.jsonl").write_text(
        "\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8"
    )
    (root / "headerless.xlsx").write_bytes(_xlsx({"Sheet1": rows}))
    html = (
        "<table>" + "".join("<tr>" + "".join(f"<td>{v}</td>" for v in r) + "</tr>" for r in rows) + "</table>"
    )
    (root / "headerless.xls").write_text(html, encoding="utf-8")
    result = ingest_directory(root)
    for name in ("headerless.tsv", "single_column.csv", "arrays.jsonl", "headerless.xlsx", "headerless.xls"):
        assert _count(result, name)["status"] == "failed", name
    _assert_whole(result)


def test_file_names_with_bidi_or_zero_width_characters_are_shown_without_them(root: Path) -> None:
    (root / "danhsach_thon4_\u202eslx.csv").write_text(GOOD, encoding="utf-8")
    (root / "thon\u200b5.csv").write_text(GOOD, encoding="utf-8")
    names = list_source_files(root)
    assert names == ["danhsach_thon4_slx.csv", "good.csv", "thon5.csv"]
    result = ingest_files(root, ["danhsach_thon4_slx.csv", "thon5.csv"])
    assert result.table.height == 4
    assert set(result.table["source_file"]) == {"danhsach_thon4_slx.csv", "thon5.csv"}
    assert "invisible or bidi control characters" in _count(result, "thon5.csv")["notes"]
    assert result.balanced()


def _ods(rows_repeated: int, columns_repeated: int) -> bytes:
    """A minimal OpenDocument spreadsheet: a header row, then one row of values repeated by attribute."""
    table = "urn:oasis:names:tc:opendocument:xmlns:table:1.0"
    content = (
        '<?xml version="1.0" encoding="UTF-8"?><office:document-content '
        'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        f'xmlns:table="{table}" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2">'
        '<office:body><office:spreadsheet><table:table table:name="Danh sách">'
        '<table:table-row><table:table-cell office:value-type="string"><text:p>Họ và tên</text:p>'
        "</table:table-cell></table:table-row>"
        f'<table:table-row table:number-rows-repeated="{rows_repeated}">'
        f'<table:table-cell table:number-columns-repeated="{columns_repeated}" office:value-type="string">'
        "<text:p>Lê Văn Tám</text:p></table:table-cell></table:table-row>"
        '<table:table-row table:number-rows-repeated="1048000"><table:table-cell '
        'table:number-columns-repeated="1024"/></table:table-row>'  # LibreOffice's empty tail: harmless
        "</table:table></office:spreadsheet></office:body></office:document-content>"
    )
    manifest = (
        '<?xml version="1.0"?><manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0">'
        '<manifest:file-entry manifest:full-path="/" '
        'manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>'
        '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/></manifest:manifest>'
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            "mimetype", "application/vnd.oasis.opendocument.spreadsheet", compress_type=zipfile.ZIP_STORED
        )
        archive.writestr("content.xml", content)
        archive.writestr("META-INF/manifest.xml", manifest)
    return buffer.getvalue()


def test_opendocument_repeated_cells_are_counted_before_they_are_expanded(root: Path) -> None:
    (root / "ok.ods").write_bytes(_ods(3, 1))
    bomb = _ods(1_048_575, 16_384)  # under 1 KB: 17 billion cells once expanded
    assert len(bomb) < 1500
    (root / "bomb.ods").write_bytes(bomb)
    result = ingest_directory(root)
    count = _count(result, "ok.ods")
    assert (count["status"], count["rows_in"], count["rows_out"]) == ("ok", 3, 3)
    _failed(result, "bomb.ods", "1,048,576 rows × 16,384 columns", "max_cells")
    _assert_whole(result)


# --- xls (BIFF8 in a compound file) and xlsb ---------------------------------------------------------------------
def _biff_record(kind: int, payload: bytes) -> bytes:
    return struct.pack("<HH", kind, len(payload)) + payload


def _label(row: int, col: int, text: str) -> bytes:
    data = text.encode("utf-16-le")
    return _biff_record(0x0204, struct.pack("<HHHHB", row, col, 15, len(text), 1) + data)


def _biff8(rows: list[list[str]], declared_rows: int, declared_cols: int) -> bytes:
    """A minimal BIFF8 workbook stream: globals (one sheet), then the sheet with its DIMENSIONS and labels."""
    bof_globals = _biff_record(0x0809, struct.pack("<HHHHII", 0x0600, 0x0005, 0, 0, 0, 0))
    # Unknown records, skipped by readers: the stream passes the 4096-byte mini stream cutoff.
    padding = b"".join(_biff_record(0x1234, bytes(512)) for _ in range(9))
    name = b"Sheet1"

    def boundsheet(offset: int) -> bytes:
        return _biff_record(0x0085, struct.pack("<IBBBB", offset, 0, 0, len(name), 0) + name)

    eof = _biff_record(0x000A, b"")
    globals_size = len(bof_globals) + len(boundsheet(0)) + len(padding) + len(eof)
    sheet = _biff_record(0x0809, struct.pack("<HHHHII", 0x0600, 0x0010, 0, 0, 0, 0))
    sheet += _biff_record(0x0200, struct.pack("<IIHHH", 0, declared_rows, 0, declared_cols, 0))
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            sheet += _label(r, c, value)
    sheet += eof
    return bof_globals + boundsheet(globals_size) + padding + eof + sheet


def _compound_file(stream: bytes, name: str = "Workbook") -> bytes:
    """A version-3 compound file (512-byte sectors: FAT, directory, then the stream) holding one stream."""
    size = 512
    stream_sectors = (len(stream) + size - 1) // size
    assert len(stream) >= 4096 and stream_sectors + 2 <= 128
    header = bytearray(512)
    header[0:8] = bytes.fromhex("D0CF11E0A1B11AE1")
    struct.pack_into("<HHHHH", header, 0x18, 0x3E, 3, 0xFFFE, 9, 6)
    struct.pack_into("<IIIIIIIII", header, 0x28, 0, 1, 1, 0, 4096, 0xFFFFFFFE, 0, 0xFFFFFFFE, 0)
    difat = [0] + [0xFFFFFFFF] * 108
    struct.pack_into("<109I", header, 0x4C, *difat)
    fat = [0xFFFFFFFD, 0xFFFFFFFE] + [n + 1 for n in range(2, 2 + stream_sectors - 1)] + [0xFFFFFFFE]
    fat += [0xFFFFFFFF] * (128 - len(fat))

    def entry(entry_name: str, kind: int, child: int, start: int, length: int) -> bytes:
        raw = bytearray(128)
        encoded = entry_name.encode("utf-16-le") + b"\0\0"
        raw[: len(encoded)] = encoded
        struct.pack_into("<HBB", raw, 0x40, len(encoded), kind, 1)
        struct.pack_into("<III", raw, 0x44, 0xFFFFFFFF, 0xFFFFFFFF, child)
        struct.pack_into("<IQ", raw, 0x74, start, length)
        return bytes(raw)

    directory = entry("Root Entry", 5, 1, 0xFFFFFFFE, 0) + entry(name, 2, 0xFFFFFFFF, 2, len(stream))
    directory += bytes(128 * 2)
    body = stream + bytes(stream_sectors * size - len(stream))
    return bytes(header) + struct.pack("<128I", *fat) + directory + body


def test_xls_declaring_billions_of_cells_is_refused_before_the_library_allocates(root: Path) -> None:
    rows = [["Họ và tên", "Số CCCD"], ["Lê Văn Tám", "044070000001"]]
    (root / "ok.xls").write_bytes(_compound_file(_biff8(rows, 2, 2)))
    # Read as is, this one aborts the process: "memory allocation of 4800000000000000 bytes failed".
    (root / "bomb.xls").write_bytes(_compound_file(_biff8(rows, 2_000_000_000, 60_000)))
    (root / "broken.xls").write_bytes(_compound_file(_biff8(rows, 2, 2))[:1024])
    result = ingest_directory(root)
    count = _count(result, "ok.xls")
    assert (count["status"], count["rows_in"], count["rows_out"]) == ("ok", 1, 1)
    _failed(result, "bomb.xls", "2,000,000,000 rows × 60,000 columns", "max_cells")
    _failed(result, "broken.xls", "not a readable spreadsheet")
    _assert_whole(result)


def test_binary_xlsb_sheets_are_refused_with_a_reason(root: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("xl/workbook.bin", b"\x83\x01\x00")
        archive.writestr("xl/worksheets/sheet1.bin", b"\x81\x01\x00")
    (root / "binary.xlsb").write_bytes(buffer.getvalue())
    result = ingest_directory(root)
    _failed(result, "binary.xlsb", "binary Excel workbook (.xlsb) is not read")
    _assert_whole(result)


class PanicException(BaseException):
    """What pyo3 raises when a Rust library panics: not an Exception."""


@pytest.mark.parametrize("error", [PanicException, ValueError, MemoryError, RecursionError])
def test_a_reader_that_breaks_costs_its_file_only_and_its_message_stays_out(
    root: Path, monkeypatch: pytest.MonkeyPatch, error: type[BaseException]
) -> None:
    def broken(*_args: object, **_kwargs: object) -> None:
        raise error(f"cell value {PLANTED_NAME!r} at B2")  # libraries quote the content they choke on

    monkeypatch.setattr(ingest_module, "read_spreadsheet", broken)
    (root / "sheet.xlsx").write_bytes(_xlsx({"A": PEOPLE_ROWS}))
    result = ingest_directory(root)
    count = _failed(result, "sheet.xlsx")
    assert count["error"] in (
        "unreadable: PanicException",
        "unreadable: ValueError",
        "too large to read in memory",
        "nested too deeply to read",
    )
    _assert_whole(result)


def test_excel_2003_xml_spreadsheets_are_read_as_tables(root: Path) -> None:
    page = (
        '<?xml version="1.0" encoding="UTF-8"?>\n<?mso-application progid="Excel.Sheet"?>\n'
        '<Workbook xmlns="urn:schemas-microsoft-com:office:spreadsheet" '
        'xmlns:ss="urn:schemas-microsoft-com:office:spreadsheet">\n'
        "<Styles>" + '<Style ss:ID="s1"><NumberFormat ss:Format="@"/></Style>' * 300 + "</Styles>\n"
        '<Worksheet ss:Name="Danh sách"><Table>\n'
        '<Row><Cell ss:MergeAcross="2"><Data ss:Type="String">UBND XÃ QUẢNG NINH</Data></Cell></Row>\n'
        '<Row><Cell><Data ss:Type="String">Họ và tên</Data></Cell><Cell><Data ss:Type="String">Ngày sinh</Data>'
        '</Cell><Cell><Data ss:Type="String">Số CCCD</Data></Cell></Row>\n'
        '<Row><Cell><Data ss:Type="String">Nguyễn Văn Anh</Data><Comment><Data>ghi chú</Data></Comment></Cell>'
        '<Cell ss:Index="3"><Data ss:Type="String">044090001234</Data></Cell></Row>\n'
        '<Row><Cell><Data ss:Type="String">Lê Thị Na</Data></Cell><Cell><Data ss:Type="Number">1991</Data>'
        '</Cell><Cell><Data ss:Type="String">044191000002</Data></Cell></Row>\n'
        "</Table></Worksheet></Workbook>\n"
    )
    (root / "xml2003.xls").write_text(page, encoding="utf-8")
    result = ingest_directory(root)
    count = _count(result, "xml2003.xls")
    assert (count["status"], count["kind"], count["rows_in"], count["rows_out"]) == ("ok", "html", 2, 2)
    assert count["dialect"] == "Excel 2003 XML spreadsheet"
    published = result.table.filter(pl.col("source_file") == "xml2003.xls")
    assert published.select("full_name", "date_of_birth", "citizen_id").rows() == [
        ("Nguyễn Văn Anh", None, "044090001234"),
        ("Lê Thị Na", "1991", "044191000002"),
    ]
    _assert_whole(result)


def test_an_exports_folder_linked_outside_is_not_followed(tmp_path: Path) -> None:
    secret = _secret(tmp_path)
    province = tmp_path / "province"
    province.mkdir()
    (province / "good.csv").write_text(GOOD, encoding="utf-8")
    (province / "exports").symlink_to(secret, target_is_directory=True)
    result = ingest_directory(province)
    assert PLANTED_NAME not in result.table["full_name"].to_list()
    _failed(result, "exports", "symbolic link to a folder: not followed")
    _assert_whole(result)


def test_markup_and_shared_strings_have_their_own_bounds(root: Path) -> None:
    page = "<table><tr><td>Họ và tên</td></tr>" + "<tr><td>Lê Văn Tám</td></tr>" * 200 + "</table>"
    (root / "page.xls").write_text(page, encoding="utf-8")
    buffer = io.BytesIO(_xlsx({"A": PEOPLE_ROWS}))
    with zipfile.ZipFile(buffer, "a", zipfile.ZIP_DEFLATED) as archive:  # openpyxl writes inline strings
        items = b"<si><t>x</t></si>" * 200
        archive.writestr("xl/sharedStrings.xml", b'<sst count="200" uniqueCount="200">' + items + b"</sst>")
    (root / "strings.xlsx").write_bytes(buffer.getvalue())
    result = ingest_directory(root, limits=ReadLimits(max_markup_bytes=4_000, max_cells=100))
    _failed(result, "page.xls", "over the limit of 4,000 (max_markup_bytes)")
    _failed(result, "strings.xlsx", "the shared strings hold 20", "(max_cells)")
    _assert_whole(result)


def test_tables_too_wide_to_hold_are_refused_before_they_are_built(root: Path) -> None:
    wide_header = "Họ và tên," + ",".join(f"c{i}" for i in range(4_000))
    (root / "wide.csv").write_text(wide_header + "\nLê Văn Tám" + "," * 4_000 + "\n", encoding="utf-8")
    # Every record a new key: the union of keys is as wide as the list is long.
    records = [{"ho_ten": "Lê Văn Tám", f"k{i}": i} for i in range(300)]
    (root / "keys.json").write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    wider = [{"ho_ten": "Lê Văn Tám", **{f"k{i}": i for i in range(17_000)}}]
    (root / "wider.json").write_text(json.dumps(wider, ensure_ascii=False), encoding="utf-8")
    result = ingest_directory(root, limits=ReadLimits(max_cells=10_000))
    count = _failed(result, "wide.csv", "4,001 columns × 3 lines: over the limit of 10,000 cells (max_cells)")
    assert (count["rows_in"], count["rows_rejected"]) == (1, 1)
    _failed(result, "keys.json", "301 columns × 300 records: over the limit of 10,000 cells (max_cells)")
    _failed(result, "wider.json", "17,001 columns, more than a sheet holds (16,384)")
    _assert_whole(result)


def test_folders_nested_past_the_limit_are_refused_not_a_recursion_error(root: Path) -> None:
    deep = root
    for _ in range(40):
        deep = deep / "a"
    deep.mkdir(parents=True)
    (deep / "lost.csv").write_text(GOOD, encoding="utf-8")
    (root / "a" / "near.csv").write_text(GOOD, encoding="utf-8")
    names = list_source_files(root)
    assert names == ["good.csv", "a/near.csv", "/".join(["a"] * 33)]
    result = ingest_directory(root)
    _failed(result, "/".join(["a"] * 33), "folder nested deeper than 32 levels: not read")
    assert _count(result, "a/near.csv")["rows_out"] == 2
    _assert_whole(result)


def test_registry_globs_cannot_make_matching_backtrack_for_ages(root: Path) -> None:
    (root / ("a" * 200 + ".csv")).write_text(GOOD, encoding="utf-8")
    # Against a long name of a's, "*a" repeated is exponential backtracking as a plain regex.
    glob = "*a" * 12 + "b.csv"
    (root / "registry.yaml").write_text(f'sources:\n  - {{id: x, glob: "{glob}"}}\n', encoding="utf-8")
    result = ingest_directory(root)  # would not finish with the plain translation
    assert result.counts.filter(pl.col("source_id") == "x").is_empty()
    _assert_whole(result)
    (root / "registry.yaml").write_text(f'sources:\n  - {{id: x, glob: "{"*a" * 30}"}}\n', encoding="utf-8")
    with pytest.raises(RegistryError, match="at most 12 wildcards"):
        ingest_directory(root)

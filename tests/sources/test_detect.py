"""File kind, encoding, delimiter and header-row detection."""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest
from sachsong.sources.detect import decode_bytes, detect_kind, find_header, looks_binary, sniff_delimiter
from sachsong.sources.legacy_fonts import encode_legacy

TEXT = "Họ và tên,Ngày sinh\nNguyễn Văn Anh,1990\nTrần Thị Bích Thủy,1985\nĐặng Quốc Dương,1979\n"


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        (TEXT.encode("utf-8"), "utf-8"),
        (codecs.BOM_UTF8 + TEXT.encode("utf-8"), "utf-8-sig"),
        (TEXT.encode("utf-16"), "utf-16"),
        (encode_legacy(TEXT, "cp1258"), "cp1258"),
        (encode_legacy(TEXT, "tcvn3"), "tcvn3"),
        (encode_legacy(TEXT, "vni"), "vni"),
    ],
)
def test_decode_finds_the_encoding(data: bytes, encoding: str) -> None:
    decoded = decode_bytes(data)
    assert decoded.encoding == encoding
    assert decoded.text == TEXT


def test_nfd_input_comes_out_nfc() -> None:
    import unicodedata

    decoded = decode_bytes(unicodedata.normalize("NFD", TEXT).encode("utf-8"))
    assert decoded.text == TEXT


def test_tcvn3_saved_again_as_utf8_is_converted() -> None:
    mojibake = encode_legacy(TEXT, "tcvn3").decode("cp1252").encode("utf-8")
    decoded = decode_bytes(mojibake)
    assert decoded.encoding == "utf-8+tcvn3"
    assert decoded.text == TEXT


def test_registry_encoding_overrides_detection() -> None:
    data = encode_legacy(TEXT, "vni")
    assert decode_bytes(data, "vni").text == TEXT
    # Forced to the wrong font, the text stays wrong: the registry is trusted.
    assert decode_bytes(data, "tcvn3").text != TEXT


def test_mixed_file_is_decoded_per_line_and_the_lines_are_reported() -> None:
    lines = TEXT.splitlines(keepends=True)
    data = b"".join(
        [lines[0].encode(), lines[1].encode(), encode_legacy(lines[2], "cp1258"), lines[3].encode()]
    )
    decoded = decode_bytes(data)
    assert decoded.text == TEXT
    assert decoded.fallback_lines == {2}
    assert decoded.encoding == "mixed utf-8+cp1258"


def test_truncated_utf8_at_the_end_keeps_the_rest_and_marks_the_loss() -> None:
    data = "Họ và tên\nNguyễn Văn Ơ".encode()[:-1]  # "Ơ" is two bytes: keep only the first
    decoded = decode_bytes(data)
    assert decoded.encoding == "utf-8"
    assert decoded.text == "Họ và tên\nNguyễn Văn \ufffd"
    assert decoded.notes


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_sniff_delimiter(delimiter: str) -> None:
    text = TEXT.replace(",", delimiter)
    assert sniff_delimiter(text) == delimiter


def test_sniff_ignores_commas_inside_quotes_and_title_lines() -> None:
    text = (
        "DANH SÁCH NHÂN KHẨU, XÃ QUẢNG NINH\n"
        "Họ và tên;Địa chỉ;Ngày sinh\n"
        '"Nguyễn Văn Anh";"Thôn 1, xã A, huyện B";1990\n'
        '"Lê Thị Cúc";"Thôn 2, xã A, huyện B";1991\n'
    )
    assert sniff_delimiter(text) == ";"


def test_header_found_below_title_rows_and_two_row_headers_are_filled() -> None:
    rows = [
        ["DANH SÁCH CÔNG DÂN", "", "", ""],
        ["", "", "", ""],
        ["STT", "Họ và tên", "Thông tin", "Số CCCD"],
        ["", "", "Ngày sinh", ""],
        ["1", "Nguyễn Văn Anh", "1990", "001090012345"],
    ]
    index, names = find_header(rows)
    assert index == 3
    assert names == ["STT", "Họ và tên", "Ngày sinh", "Số CCCD"]


def test_kinds(tmp_path: Path) -> None:
    assert detect_kind(tmp_path / "a.xlsx", b"PK\x03\x04rest") == "xlsx"
    assert detect_kind(tmp_path / "a.dat", b"PK\x03\x04rest") == "xlsx"
    assert detect_kind(tmp_path / "a.json", b'[{"a": 1}]') == "json"
    assert detect_kind(tmp_path / "a.txt", b'{"a": 1}\n{"a": 2}\n') == "jsonl"
    assert detect_kind(tmp_path / "a.json", b'{"data": [\n{"a": 1}\n]}') == "json"
    assert detect_kind(tmp_path / "a.csv", b"a,b\n1,2\n") == "delimited"
    assert detect_kind(tmp_path / "a.csv", bytes(range(256)) * 4) == "binary"
    assert detect_kind(tmp_path / "a.csv", TEXT.encode("utf-16")) == "delimited"


def test_binary_threshold_tolerates_a_stray_nul() -> None:
    assert not looks_binary(TEXT.encode() + b"\x00" + TEXT.encode())
    assert looks_binary(b"\x00\x01\x02\x03" * 100)

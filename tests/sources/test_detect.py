"""File kind, encoding, delimiter and header-row detection."""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest

from sachsong.sources.detect import (
    DecodeError,
    decode_bytes,
    detect_kind,
    find_header,
    looks_binary,
    sniff_delimiter,
)
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


# --- Encoding scored on the whole file --------------------------------------------------------------------------
def test_cp1252_file_keeps_its_valid_letters() -> None:
    # Saved through Windows-1252: letters it lacks became "?", the others (ô ò à ê ì) are valid Vietnamese and
    # must not be re-read as VNI ("Tô" → "Tơ", "Hòa" → "Hịa"), which reads as well-formed syllables too.
    text = "Họ và tên,Địa chỉ\nTô Hòa,Thôn Đông\nNgô Thành,Hà Tĩnh\nLê Hoàng,Bình Định\n"
    decoded = decode_bytes(text.encode("cp1252", "replace"))
    assert decoded.encoding == "cp1252"
    assert "Tô Hòa" in decoded.text and "Ngô Thành" in decoded.text and "Bình" in decoded.text
    assert any(note.startswith("encoding cp1252 chosen: 100% valid") for note in decoded.notes)


def test_two_equally_good_readings_are_refused_and_named() -> None:
    # "Khô Quô" (cp1252) and "Khơ Quơ" (VNI) are both well-formed and neither is a common syllable.
    with pytest.raises(DecodeError) as refused:
        decode_bytes(b"Ho ten,Ghi chu\nA,Kh\xf4 Qu\xf4\n")
    message = str(refused.value)
    assert message.startswith("encoding is ambiguous: ")
    assert "cp1258, tcvn3 and vni read the text about equally well" in message
    assert "Kh" not in message  # the values themselves are not shown


def test_letters_far_down_the_file_decide_the_encoding() -> None:
    # Thousands of unaccented lines first (an older export pasted above): the VNI letters are at the end only.
    head = "Ho va ten,Dia chi\n" + "Nguyen Van An,Thon Dong\n" * 4000
    tail = "".join(f"{name},Thôn Đông\n" for name in ("Nguyễn Văn Bình", "Trần Thị Hường", "Đặng Quốc Dương"))
    decoded = decode_bytes(encode_legacy(head + tail, "vni"))
    assert decoded.encoding == "vni"
    assert decoded.text.endswith(tail)


def test_real_unicode_lines_are_never_converted_with_the_mojibake() -> None:
    # An old TCVN3 file saved again as UTF-8, with rows typed later in Unicode: only the mojibake is converted.
    old = "".join(f"{name},Thôn Đông\n" for name in ("Trần Thị Bích", "Đặng Quốc Dương", "Lê Văn Thái") * 3)
    new = "Nguyễn Thị Bích,Thôn Đông\nVõ Văn Thái,Xóm Giữa\n"  # "Bích", "Thái" are Latin-1 letters too
    data = ("Họ và tên,Địa chỉ\n" + encode_legacy(old, "tcvn3").decode("cp1252") + new).encode("utf-8")
    decoded = decode_bytes(data)
    assert decoded.encoding == "utf-8+tcvn3"
    assert decoded.text == "Họ và tên,Địa chỉ\n" + old + new


def test_utf8_once_read_as_windows_1252_and_saved_again_is_repaired_line_by_line():
    from sachsong.sources.detect import decode_bytes

    original = "Họ và tên,Địa chỉ\nNguyễn Thị Hương,Xã Đức Hòa\nTrần Văn Ơn,Phường Ưu Đàm\n"
    # What a tool does that reads UTF-8 as Windows-1252 (undefined bytes kept as themselves) and writes UTF-8.
    sloppy = "".join(bytes([b]).decode("cp1252", errors="ignore") or chr(b) for b in original.encode("utf-8"))
    assert sloppy != original and "á»" in sloppy
    decoded = decode_bytes(sloppy.encode("utf-8"))
    assert decoded.text == original
    assert any("double-encoded" in note for note in decoded.notes)
    # Real text with the same letter pairs is left alone (it reads as Vietnamese already).
    fine = "Họ và tên\nÃ Nguyễn\n".encode()
    assert decode_bytes(fine).text == "Họ và tên\nÃ Nguyễn\n"

"""TCVN3 / VNI tables and the decoding detector."""

from __future__ import annotations

import unicodedata

import pytest
from sachsong.sources.legacy_fonts import (
    decode_legacy_bytes,
    detect_legacy_text,
    encode_legacy,
    is_vietnamese_syllable,
    tcvn3_to_unicode,
    vietnamese_score,
    vni_to_unicode,
)

LOWER_LETTERS = "aàảãáạăằẳẵắặâầẩẫấậeèẻẽéẹêềểễếệiìỉĩíịoòỏõóọôồổỗốộơờởỡớợuùủũúụưừửữứựyỳỷỹýỵđ"
ROWS = (
    "Nguyễn Văn Anh;12/03/1985;Nam;Thôn Đông, xã Quảng Ninh\n"
    "Trần Thị Bích Thủy;1990;Nữ;Phường Đồng Hới\n"
    "Đặng Quốc Dương;05/07/1978;Nam;Xóm Giữa, xã Hải Lăng\n"
    "Huỳnh Ngọc Quế;1969;Nữ;Khu phố Ba, phường Đông Hà\n"
    "Lê Thị Hường;1959;Nữ;Thôn Phước Tuyền, xã Triệu Phong\n"
)


def test_tcvn3_mojibake_from_the_field_reads_back() -> None:
    assert tcvn3_to_unicode("NguyÔn V¨n An") == "Nguyễn Văn An"
    assert tcvn3_to_unicode("TrÇn ThÞ BÝch") == "Trần Thị Bích"
    assert tcvn3_to_unicode("§Æng Quèc D­¬ng") == "Đặng Quốc Dương"


def test_vni_mojibake_from_the_field_reads_back() -> None:
    assert vni_to_unicode("Nguyeãn Vaên An") == "Nguyễn Văn An"
    assert vni_to_unicode("Ñaëng Quoác Döông") == "Đặng Quốc Dương"
    assert vni_to_unicode("Huyønh Ngoïc Queá") == "Huỳnh Ngọc Quế"


@pytest.mark.parametrize("font", ["tcvn3", "vni"])
def test_every_lower_case_letter_round_trips(font: str) -> None:
    convert = tcvn3_to_unicode if font == "tcvn3" else vni_to_unicode
    for letter in LOWER_LETTERS:
        encoded = encode_legacy(letter, font)
        assert encoded != letter.encode("utf-8") or letter.isascii()
        assert convert(encoded.decode("cp1252")) == letter, (font, letter, encoded)


def test_vni_capitals_round_trip() -> None:
    capitals = LOWER_LETTERS.upper()
    assert vni_to_unicode(encode_legacy(capitals, "vni").decode("cp1252")) == capitals


def test_tcvn3_capital_words_come_back_in_capitals() -> None:
    # .VnTimeH reuses the lower-case bytes for toned capitals: a word typed in capitals is restored as one.
    text = "NGUYỄN VĂN ĐỨC, ĐƯỜNG LÊ LỢI, NGUYỄN MỸ HƯƠNG"
    assert tcvn3_to_unicode(encode_legacy(text, "tcvn3").decode("cp1252")) == text
    # A single-capital word is only upper-cased beside capital words, never across a field separator.
    mixed = "Võ Thị Ân,Nam,TRẦN Sĩ,Sĩ"
    assert tcvn3_to_unicode(encode_legacy(mixed, "tcvn3").decode("cp1252")) == "Võ Thị Ân,Nam,TRẦN SĨ,Sĩ"


@pytest.mark.parametrize("encoding", ["tcvn3", "vni", "cp1258"])
def test_detector_picks_the_encoding_the_bytes_were_written_in(encoding: str) -> None:
    decoded = decode_legacy_bytes(encode_legacy(ROWS, encoding))
    assert decoded.encoding == encoding
    assert decoded.text == ROWS
    assert decoded.score == pytest.approx(1.0)


def test_cp1258_output_is_nfc() -> None:
    decoded = decode_legacy_bytes(encode_legacy("Nguyễn Thị Hòa", "cp1258"))
    assert decoded.text == unicodedata.normalize("NFC", decoded.text)
    assert decoded.text == "Nguyễn Thị Hòa"


def test_syllable_shape() -> None:
    for word in ("Nguyễn", "giữ", "quyền", "Huỳnh", "người", "nghiêng", "khuya", "Ánh", "ĐỨC"):
        assert is_vietnamese_syllable(word), word
    for word in ("NguyÔn", "V¨n", "Nguyeãn", "Hoèa", "Hoự", "thiếệt"):
        assert not is_vietnamese_syllable(word), word


def test_score_tells_mojibake_from_vietnamese() -> None:
    assert vietnamese_score("Nguyễn Văn Anh") == 1.0
    assert vietnamese_score("NguyÔn V¨n Anh") < 0.6
    assert vietnamese_score("only ascii words") == 0.0


def test_unicode_text_is_not_mistaken_for_a_legacy_font() -> None:
    font, _, as_is = detect_legacy_text(ROWS)
    assert font is None
    assert as_is == 1.0
    font, score, _ = detect_legacy_text(encode_legacy(ROWS, "tcvn3").decode("cp1252"))
    assert font == "tcvn3" and score == 1.0

"""TCVN3 / VNI tables and the decoding detector."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sachsong.sources.legacy_fonts import (
    VNI_TO_UNICODE,
    AmbiguousEncoding,
    choose_encoding,
    convert_mojibake,
    decode_legacy_bytes,
    detect_legacy_text,
    encode_legacy,
    is_vietnamese_syllable,
    score_encodings,
    spread_sample,
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


def _vni_reference(text: str) -> str:
    """The VNI reading by definition: at each position, the longest table key there."""
    keys = sorted(VNI_TO_UNICODE, key=len, reverse=True)
    out, i = [], 0
    while i < len(text):
        key = next((k for k in keys if text.startswith(k, i)), None)
        out.append(VNI_TO_UNICODE[key] if key else text[i])
        i += len(key) if key else 1
    return unicodedata.normalize("NFC", "".join(out))


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=sorted(set("".join(VNI_TO_UNICODE)) | set('abiuyAEIOUY ,;\n"€')), max_size=12))
def test_vni_conversion_reads_the_longest_key_at_each_position(text: str) -> None:
    assert vni_to_unicode(text) == _vni_reference(text)


def test_spread_sample_reaches_the_end_of_a_big_file() -> None:
    data = b"".join(b"%06d,Nguyen Van An\n" % i for i in range(40000))
    sample = spread_sample(data, limit=64 * 1024, pieces=8)
    assert len(sample) <= 64 * 1024
    assert sample.startswith(b"000000,") and sample.endswith(b"039999,Nguyen Van An\n")
    assert all(line.endswith(b",Nguyen Van An") for line in sample.split(b"\n") if line)  # whole lines only


def test_a_tie_between_a_code_page_and_a_font_goes_to_the_common_syllables() -> None:
    # "Hòa Tô" read as VNI is "Hịa Tơ": well-formed too, but not what names are made of.
    chosen = decode_legacy_bytes("Hòa Tô Hòa Tô Thành".encode("cp1252"))
    assert (chosen.encoding, chosen.text) == ("cp1252", "Hòa Tô Hòa Tô Thành")
    with pytest.raises(AmbiguousEncoding):
        choose_encoding(score_encodings(b"Kh\xf4 Qu\xf4"))


def test_mojibake_conversion_leaves_unicode_lines_alone() -> None:
    mojibake = encode_legacy("Trần Thị Bích", "tcvn3").decode("cp1252")
    assert convert_mojibake(f"{mojibake}\nNguyễn Thị Bích", "tcvn3") == "Trần Thị Bích\nNguyễn Thị Bích"
    assert convert_mojibake("Lê Văn Thái", "vni") == "Lê Văn Thái"

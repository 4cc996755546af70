import unicodedata

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from sachsong.standardize.text import (
    clean_text,
    fold_ascii,
    over_unique,
    place_tone_marks,
    text_key,
    title_case,
    with_expressions,
)


def apply(expr_fn, values):
    return (
        pl.DataFrame({"v": values}, schema={"v": pl.String}).select(out=expr_fn(pl.col("v")))["out"].to_list()
    )


def display(expr):
    return place_tone_marks(title_case(clean_text(expr)))


def test_nfd_input_gives_the_same_display_and_key_as_nfc():
    composed = "Nguyễn Thị Thuý Hằng Đặng"
    decomposed = unicodedata.normalize("NFD", composed)
    assert composed != decomposed
    assert apply(display, [decomposed]) == [composed]
    assert apply(text_key, [decomposed]) == apply(text_key, [composed]) == ["nguyen thi thuy hang dang"]


def test_whitespace_collapsed_and_blank_becomes_null():
    values = ["  Trần\t\tVăn\u00a0 Bình \n", "   ", "", None, "Lê\u200bVăn"]
    assert apply(clean_text, values) == ["Trần Văn Bình", None, None, None, "LêVăn"]


def test_title_case_upper_and_lower_input_and_d_stroke():
    values = ["NGUYỄN VĂN A", "đỗ thị ánh", "ĐẶNG ÐỨC", "h'hen niê"]
    assert apply(display, values) == ["Nguyễn Văn A", "Đỗ Thị Ánh", "Đặng Đức", "H'Hen Niê"]


def test_tone_moves_to_new_convention_only_in_open_oa_oe_uy_syllables():
    values = ["hòa", "Hoà", "Thúy", "Thuý", "THỦY", "khỏe", "Ủy", "hoàn", "huỳnh", "khuyến", "ngoài", "Toán"]
    expected = [
        "Hoà",
        "Hoà",
        "Thuý",
        "Thuý",
        "Thuỷ",
        "Khoẻ",
        "Uỷ",
        "Hoàn",
        "Huỳnh",
        "Khuyến",
        "Ngoài",
        "Toán",
    ]
    assert apply(display, values) == expected


def test_tone_placement_is_per_syllable_inside_a_longer_name():
    assert apply(display, ["Nguyễn Thị Thúy Hòa Huỳnh"]) == ["Nguyễn Thị Thuý Hoà Huỳnh"]


def test_key_unifies_i_and_y_but_keeps_distinct_vowels():
    values = ["Lý", "Lí", "Sỹ", "Sĩ", "Quý", "Quí", "Thuỷ", "Thui", "Tây", "Tai", "Y"]
    assert apply(text_key, values) == [
        "li",
        "li",
        "si",
        "si",
        "qui",
        "qui",
        "thuy",
        "thui",
        "tay",
        "tai",
        "y",
    ]


def test_fold_handles_d_stroke_and_its_eth_lookalike_and_punctuation():
    assert apply(fold_ascii, ["Đặng", "Ðặng", "đ", "Nguyễn-Văn, A.", "H'Hen"]) == [
        "dang",
        "dang",
        "d",
        "nguyen van a",
        "hhen",
    ]


def test_fold_transliterates_non_vietnamese_letters():
    assert apply(fold_ascii, ["Müller Straße", "北京"]) == ["muller strasse", "bei jing"]


def test_over_unique_keeps_row_order_and_nulls():
    frame = pl.DataFrame({"name": ["Hòa", None, "hòa", "Hòa", None], "n": [1, 2, 3, 4, 5]})
    out = over_unique(frame, "name", with_expressions(lambda c: {"key": text_key(c)}))
    assert out["n"].to_list() == [1, 2, 3, 4, 5]
    assert out["key"].to_list() == ["hoa", None, "hoa", "hoa", None]


VIETNAMESE_LETTERS = (
    "aăâbcdđeêghiklmnoôơpqrstuưvxyAĂÂĐEÊOÔƠƯáàảãạấầẩẫậắằẳẵặéèẻẽẹếềểễệíìỉĩịóòỏõọốồổỗộớờởỡợúùủũụứừửữựýỳỷỹỵ "
)
# Plus loose combining marks (NFD input), the eth look-alike, and separators names really contain.
vietnamese_letters = st.sampled_from([*VIETNAMESE_LETTERS, "\u0301", "\u0300", "-", "Ð", "'", "\t"])


@settings(max_examples=150, deadline=None)
@given(st.lists(vietnamese_letters, max_size=30).map("".join))
def test_key_is_ascii_idempotent_and_blind_to_normal_form(text):
    nfc_text = unicodedata.normalize("NFC", text)
    nfd_text = unicodedata.normalize("NFD", text)
    key_nfc, key_nfd = apply(text_key, [nfc_text, nfd_text])
    assert key_nfc == key_nfd
    if key_nfc is not None:
        assert key_nfc.isascii()
        assert key_nfc == key_nfc.lower()
        assert "  " not in key_nfc and key_nfc == key_nfc.strip()
        assert apply(text_key, [key_nfc]) == [key_nfc]


@settings(max_examples=150, deadline=None)
@given(st.lists(vietnamese_letters, max_size=30).map("".join))
def test_display_form_is_idempotent_and_keeps_the_key(text):
    (once,) = apply(display, [text])
    if once is not None:
        assert apply(display, [once]) == [once]
        assert unicodedata.is_normalized("NFC", once)
        assert apply(text_key, [once]) == apply(text_key, [text])

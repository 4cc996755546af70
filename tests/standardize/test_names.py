import unicodedata

import polars as pl
import pytest

from sachsong.standardize.names import name_columns
from sachsong.standardize.text import token_list

COLUMNS = ["name_norm", "name_key", "family_name", "middle_name", "given_name"]


def standardize(values):
    frame = pl.DataFrame({"full_name": values}, schema={"full_name": pl.String})
    return name_columns(frame, "full_name").select(COLUMNS).rows()


def test_upper_case_extra_spaces_and_old_tone_placement():
    assert standardize(["  NGUYỄN   THỊ  THÚY hằng "]) == [
        ("Nguyễn Thị Thuý Hằng", "nguyen thi thuy hang", "Nguyễn", "Thị Thuý", "Hằng")
    ]


def test_nfd_and_nfc_spellings_give_identical_columns():
    name = "Đặng Thị Hoà"
    assert standardize([unicodedata.normalize("NFD", name)]) == standardize([name])


def test_old_and_new_tone_placement_share_display_and_key():
    old, new = standardize(["Lê Thị Hòa", "Lê Thị Hoà"])
    assert old == new


def test_i_y_variants_keep_display_and_share_key():
    li_y, li_i = standardize(["Lý Văn Sỹ", "Lí Văn Sĩ"])
    assert li_y[0] == "Lý Văn Sỹ" and li_i[0] == "Lí Văn Sĩ"
    assert li_y[1] == li_i[1] == "li van si"


@pytest.mark.parametrize(
    ("raw", "family", "middle", "given"),
    [
        ("Tôn Thất Thuyết", "Tôn Thất", None, "Thuyết"),
        ("Tôn Nữ Thị Ninh", "Tôn Nữ", "Thị", "Ninh"),
        ("Nguyễn Phúc Bửu Lộc", "Nguyễn Phúc", "Bửu", "Lộc"),
        ("Âu Dương Phong", "Âu Dương", None, "Phong"),
        ("công tằng tôn nữ thị hà", "Công Tằng Tôn Nữ", "Thị", "Hà"),
        # A compound that would consume the whole name is not one: "Âu Dương" is family Âu, given Dương.
        ("Âu Dương", "Âu", None, "Dương"),
        ("Nguyễn Văn Phúc An", "Nguyễn", "Văn Phúc", "An"),
    ],
)
def test_compound_family_names_are_kept_whole(raw, family, middle, given):
    (row,) = standardize([raw])
    assert row[2:] == (family, middle, given)


def test_dropped_middle_name_keeps_family_and_given():
    full, short = standardize(["Nguyễn Thị Lan", "Nguyễn Lan"])
    assert (full[2], full[4]) == (short[2], short[4]) == ("Nguyễn", "Lan")
    assert full[3] == "Thị" and short[3] is None


def test_single_syllable_is_given_name_only():
    assert standardize(["Lan"]) == [("Lan", "lan", None, None, "Lan")]


@pytest.mark.parametrize(
    "junk", ["?", "-", "không rõ", "KHONG RO", "N/A", "n/a", "", "   ", None, "Chưa đặt tên"]
)
def test_junk_names_give_null_columns(junk):
    assert standardize([junk]) == [(None, None, None, None, None)]


def test_digits_and_stray_punctuation_are_dropped_from_the_display_form():
    assert standardize(["Nguyễn Văn A1.", "Nguyễn - Lan"])[0][0] == "Nguyễn Văn A"
    assert standardize(["Nguyễn - Lan"])[0][0] == "Nguyễn Lan"


def repaired(values):
    """(name_norm, honorific, family, middle, given, repairs, flags) per value."""
    frame = pl.DataFrame({"full_name": values}, schema={"full_name": pl.String})
    out = name_columns(frame, "full_name")
    return out.select(
        "name_norm",
        "honorific",
        "family_name",
        "middle_name",
        "given_name",
        token_list(pl.col("_repairs_name")),
        token_list(pl.col("_flags_name")),
    ).rows()


@pytest.mark.parametrize(
    ("raw", "honorific", "name"),
    [
        ("Ông Nguyễn Văn Bình", "Ông", "Nguyễn Văn Bình"),
        ("ông Nguyễn Văn Bình", "Ông", "Nguyễn Văn Bình"),
        ("ÔNG NGUYỄN VĂN BÌNH", "Ông", "Nguyễn Văn Bình"),
        ("Bà Trần Thị Lan", "Bà", "Trần Thị Lan"),
        ("bà  Lê Thị Hoà", "Bà", "Lê Thị Hoà"),
        ("Cụ bà Phạm Thị Tư", "Cụ Bà", "Phạm Thị Tư"),
        ("Chị Đỗ Thị Mai", "Chị", "Đỗ Thị Mai"),
        ("Anh Hoàng Văn Nam", "Anh", "Hoàng Văn Nam"),
        ("Cháu Vũ Minh Khang", "Cháu", "Vũ Minh Khang"),
    ],
)
def test_honorifics_move_to_their_own_column(raw, honorific, name):
    (row,) = repaired([raw])
    assert (row[0], row[1]) == (name, honorific)
    assert row[2] == name.split(" ")[0] and row[4] == name.split(" ")[-1]
    assert row[5] == ["name:honorific"] and row[6] == []


def test_honorific_words_that_are_names_stay_names():
    # "Em", "Anh" as given names; "Ông" as a family name (Ông Ích Khiêm); no family name after "Bà".
    assert repaired(["Nguyễn Thị Em", "Trần Anh", "Ông Văn Tùng", "Bà Lan"]) == [
        ("Nguyễn Thị Em", None, "Nguyễn", "Thị", "Em", [], []),
        ("Trần Anh", None, "Trần", None, "Anh", [], []),
        ("Ông Văn Tùng", None, "Ông", "Văn", "Tùng", [], ["name:honorific_kept"]),
        ("Bà Lan", None, "Bà", None, "Lan", [], ["name:honorific_kept"]),
    ]


@pytest.mark.parametrize(
    ("raw", "name", "token"),
    [
        ("Nguyeenx Vawn An", "Nguyễn Văn An", "name:telex"),
        ("Tranaf Thij Hoaf", "Trần Thị Hoà", "name:telex"),
        ("TRAANF THIJ HOAF", "Trần Thị Hoà", "name:telex"),
        ("Dduwowngf Vawn Minh", "Đường Văn Minh", "name:telex"),
        ("Nguye6n4 Va8n An", "Nguyễn Văn An", "name:vni"),
        ("Tra62n Thi5 Hu7o7ng", "Trần Thị Hương", "name:vni"),
        ("D9a85ng Thi5 Ho2a", "Đặng Thị Hoà", "name:vni"),
    ],
)
def test_input_method_residue_is_decoded_and_recorded(raw, name, token):
    (row,) = repaired([raw])
    assert row[0] == name and row[5] == [token] and row[6] == []


def test_residue_that_does_not_decode_is_flagged_not_guessed():
    # "9" is the VNI key for đ: after "a" it decodes to nothing; "Ksor" (an Ê Đê name) is not residue.
    assert repaired(["Nguye6n4 Va9n An", "Ksor H'Hen", "Nguyen Van An"]) == [
        ("Nguyen Van An", None, "Nguyen", "Van", "An", [], ["name:input_method_residue"]),
        ("Ksor H'Hen", None, "Ksor", None, "H'Hen", [], []),
        ("Nguyen Van An", None, "Nguyen", "Van", "An", [], []),
    ]


def test_given_name_first_is_turned_round_only_when_certain():
    assert repaired(["An Nguyễn Văn", "Lan Trần Thị", "Anh Nguyễn Văn"]) == [
        ("Nguyễn Văn An", None, "Nguyễn", "Văn", "An", ["name:given_first"], []),
        ("Trần Thị Lan", None, "Trần", "Thị", "Lan", ["name:given_first"], []),
        ("Nguyễn Văn Anh", None, "Nguyễn", "Văn", "Anh", ["name:given_first"], []),
    ]
    # Family name second but no middle-name marker last: could be either order → kept and flagged.
    assert repaired(["Bình Nguyễn Minh"]) == [
        ("Bình Nguyễn Minh", None, "Bình", "Nguyễn", "Minh", [], ["name:order_uncertain"])
    ]
    # Ordinary names are untouched.
    assert repaired(["Mai Nguyễn Hoa"])[0][5:] == ([], [])


def test_family_name_written_last_is_turned_round_only_when_certain():
    # The Western order of English-headed exports: middle-name marker first, or a family name no one is given.
    assert repaired(["Thị Lan Trần", "Minh Tuấn Lê", "Văn Hùng Phạm", "Thị Mai Phạm"]) == [
        ("Trần Thị Lan", None, "Trần", "Thị", "Lan", ["name:given_first"], []),
        ("Lê Minh Tuấn", None, "Lê", "Minh", "Tuấn", ["name:given_first"], []),
        ("Phạm Văn Hùng", None, "Phạm", "Văn", "Hùng", ["name:given_first"], []),
        ("Phạm Thị Mai", None, "Phạm", "Thị", "Mai", ["name:given_first"], []),  # "Mai" is a family name too
    ]
    # "Hoàng" is a family name and a given name: either order is possible → kept and flagged.
    assert repaired(["Minh Tuấn Hoàng"])[0][5:] == ([], ["name:order_uncertain"])
    # A family name opening the name, or "Văn"/"Thị" second, is the Vietnamese order: untouched.
    assert [row[5:] for row in repaired(["Lò Văn Hoàng", "Phan Lê Huy", "Trần Thị Mai"])] == [([], [])] * 3


def test_a_formula_in_the_name_column_is_no_name():
    rows = repaired(
        ['=HYPERLINK("http://x.example","bấm")', "@SUM(A1)", "=1+1", "-cmd|' /C calc'!A0", "-2+3+cmd|' /C x'!A0"]
    )
    assert [row[0] for row in rows] == [None] * 5
    assert all(row[6] == ["name:formula"] for row in rows)
    # A note in brackets, or a list bullet, before a real name is not a formula.
    assert [row[0] is not None for row in repaired(["Nguyễn Văn An (con)", "- Trần Thị Lan"])] == [True, True]

import unicodedata

import polars as pl
import pytest
from sachsong.standardize.names import name_columns

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

import polars as pl
import pytest
from sachsong.standardize.identity import CCCD_PROVINCE_CODES, identity_columns, sex_code

ID_COLUMNS = ["citizen_id_digits", "cccd", "cmnd", "cccd_province_code", "cccd_sex", "cccd_birth_year"]


def ids(values):
    frame = pl.DataFrame({"citizen_id": values}, schema={"citizen_id": pl.String})
    return identity_columns(frame, "citizen_id").select(ID_COLUMNS).rows()


def sexes(values):
    frame = pl.DataFrame({"sex": values}, schema={"sex": pl.String})
    return frame.select(code=sex_code(pl.col("sex")))["code"].to_list()


def test_sex_spellings():
    male = ["Nam", "nam", "NAM", " nam ", "nam giới", "Nam Giới", "M", "m", "male", "Male", "1"]
    female = ["Nữ", "nữ", "NỮ", "Nu", "nu", "nữ giới", "F", "f", "female", "0", "2"]
    assert sexes(male) == ["M"] * len(male)
    assert sexes(female) == ["F"] * len(female)
    assert sexes(["?", "", None, "khác", "3"]) == [None] * 5


def test_cccd_decoded_for_a_man_born_1985_in_ha_noi():
    assert ids(["001085012345"]) == [("001085012345", "001085012345", None, "001", "M", 1985)]


@pytest.mark.parametrize(
    ("raw", "sex", "year"),
    [
        ("001185012345", "F", 1985),  # 1 = female, 1900s
        ("079203001234", "M", 2003),  # 2 = male, 2000s
        ("079300001234", "F", 2000),  # 3 = female, 2000s
        ("036305000001", "F", 2005),
        ("036499000001", "M", 2199),  # 4 = male, 2100s
        ("036599000001", "F", 2199),  # 5 = female, 2100s
    ],
)
def test_cccd_century_and_sex_digit(raw, sex, year):
    (row,) = ids([raw])
    assert (row[4], row[5]) == (sex, year)


@pytest.mark.parametrize(
    "raw", ["001 085 012 345", "001.085.012.345", "001-085-012-345", " 001085012345 ", "001085012345.0"]
)
def test_separators_removed_and_leading_zeros_kept(raw):
    assert ids([raw])[0][:2] == ("001085012345", "001085012345")


def test_cmnd_is_nine_digits():
    assert ids(["012 345 678", "123456789"]) == [
        ("012345678", None, "012345678", None, None, None),
        ("123456789", None, "123456789", None, None, None),
    ]


def test_wrong_length_and_letters_kept_in_digits_but_no_card():
    assert ids(["01085012345", "B1234567", "", None]) == [
        ("01085012345", None, None, None, None, None),
        ("B1234567", None, None, None, None, None),
        (None, None, None, None, None, None),
        (None, None, None, None, None, None),
    ]


def test_province_code_is_decoded_even_when_unknown_so_rules_can_flag_it():
    (row,) = ids(["999085012345"])
    assert row[3] == "999" and "999" not in CCCD_PROVINCE_CODES


def test_cccd_province_table_has_the_63_old_provinces():
    assert len(CCCD_PROVINCE_CODES) == 63
    assert all(len(code) == 3 and code.isdigit() for code in CCCD_PROVINCE_CODES)
    assert "Hà Nội" in CCCD_PROVINCE_CODES["001"]
    assert "Cà Mau" in CCCD_PROVINCE_CODES["096"]
    assert "Hồ Chí Minh" in CCCD_PROVINCE_CODES["079"]

from datetime import date

import polars as pl
import pytest

from sachsong.standardize.identity import CCCD_PROVINCE_CODES, identity_columns, sex_code
from sachsong.standardize.text import token_list

ID_COLUMNS = ["citizen_id_digits", "cccd", "cmnd", "cccd_province_code", "cccd_sex", "cccd_birth_year"]


def ids(values):
    frame = pl.DataFrame({"citizen_id": values}, schema={"citizen_id": pl.String})
    return identity_columns(frame, "citizen_id").select(ID_COLUMNS).rows()


def sexes(values):
    frame = pl.DataFrame({"sex": values}, schema={"sex": pl.String})
    return frame.select(code=sex_code(pl.col("sex")))["code"].to_list()


def test_sex_spellings():
    male = ["Nam", "nam", "NAM", " nam ", "nam giới", "Nam Giới", "M", "m", "male", "Male", "1", "Ông", "ông"]
    female = ["Nữ", "nữ", "NỮ", "Nu", "nu", "nữ giới", "F", "f", "female", "0", "2", "Bà", "bà", "BÀ"]
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


def test_wrong_length_kept_in_digits_letters_never_digits():
    assert ids(["01085012345", "B1234567", "", None]) == [
        ("01085012345", None, None, None, None, None),
        (None, None, None, None, None, None),
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


def repaired(values, dobs=None, sexes=None):
    """(citizen_id_digits, cccd, cmnd, citizen_id_status, repairs, flags) per value, with optional dob / sex."""
    n = len(values)
    frame = pl.DataFrame(
        {"citizen_id": values, "dob": dobs or [None] * n, "sex_code": sexes or [None] * n},
        schema={"citizen_id": pl.String, "dob": pl.Date, "sex_code": pl.String},
    )
    out = identity_columns(frame, "citizen_id")
    return out.select(
        "citizen_id_digits",
        "cccd",
        "cmnd",
        "citizen_id_status",
        token_list(pl.col("_repairs_citizen_id")),
        token_list(pl.col("_flags_citizen_id")),
    ).rows()


CCCD = "079190012345"  # Hồ Chí Minh City, female, born 1990


@pytest.mark.parametrize(
    ("raw", "token"),
    [
        ("079190012345.0", "citizen_id:excel_number"),  # a number cell read through a float
        ("79190012345.0", "citizen_id:excel_number"),
        ("'079190012345", "citizen_id:apostrophe"),  # typed with ' to keep the zero
        ("\u2019079190012345", "citizen_id:apostrophe"),  # the same after autocorrect
        ("０７９１９００１２３４５", "citizen_id:fullwidth"),
        ("079\u200b190012345", "citizen_id:invisible_chars"),
        ("\ufeff079190012345", "citizen_id:invisible_chars"),
    ],
)
def test_excel_damage_is_repaired_and_recorded(raw, token):
    (row,) = repaired([raw])
    assert row[:4] == (CCCD, CCCD, None, "ok")
    assert token in row[4] and row[5] == []


def test_separators_inside_need_no_repair_token():
    for raw in ["079 190 012 345", "079.190.012.345", "079\u00a0190\u00a0012\u00a0345", "079-190-012-345"]:
        assert repaired([raw]) == [(CCCD, CCCD, None, "ok", [], [])], raw


def test_lost_leading_zero_is_restored_when_the_number_fits_the_record():
    # Excel shows 079190012345 as 79190012345: province 079 exists, century digit 1 = female 1900s, year 90.
    assert repaired(["79190012345"], [date(1990, 5, 17)], ["F"]) == [
        (CCCD, CCCD, None, "ok", ["citizen_id:leading_zero"], [])
    ]
    assert repaired(["79190012345"]) == [(CCCD, CCCD, None, "ok", ["citizen_id:leading_zero"], [])]
    # Both zeros of province 001 lost: 10 digits.
    assert repaired(["1085012345"])[0][:4] == ("001085012345", "001085012345", None, "ok")
    # Scientific notation that carries every digit, then the zero.
    assert repaired(["7.9190012345E+10"]) == [
        (CCCD, CCCD, None, "ok", ["citizen_id:excel_number", "citizen_id:leading_zero"], [])
    ]
    assert repaired(["7,9190012345E+10"])[0][:4] == (CCCD, CCCD, None, "ok")


def test_lost_leading_zero_is_not_guessed_when_the_record_disagrees():
    # dob 1985 or a man: 0791900… says a woman born 1990 — not this person's card, or not a lost zero.
    for dob, sex in [(date(1985, 5, 17), None), (None, "M")]:
        assert repaired(["79190012345"], [dob], [sex]) == [
            ("79190012345", None, None, "invalid", [], ["citizen_id:length"])
        ]
    # 99x is no province; century digit 5 is no century.
    assert repaired(["99190012345"])[0][3:] == ("invalid", [], ["citizen_id:length"])
    assert repaired(["79590012345"])[0][3:] == ("invalid", [], ["citizen_id:length"])
    # A zero already there: not a number that lost its zeros.
    assert repaired(["07919001234"])[0][3:] == ("invalid", [], ["citizen_id:length"])


def test_eight_digit_cmnd_gets_its_zero_back():
    assert repaired(["12345678", "12345678.0"]) == [
        ("012345678", None, "012345678", "ok", ["citizen_id:leading_zero"], []),
        ("012345678", None, "012345678", "ok", ["citizen_id:excel_number", "citizen_id:leading_zero"], []),
    ]


def test_scientific_notation_that_lost_digits_is_flagged_not_guessed():
    for raw in ["7.9E+10", "7,9E+10", "7.91900E+10", "7.919E10"]:
        assert repaired([raw]) == [(None, None, None, "invalid", [], ["citizen_id:excel_digits_lost"])], raw


@pytest.mark.parametrize("raw", ["chưa cấp", "Chưa cấp", "không có", "KHÔNG CÓ", "-", "--", "N/A", "…", " "])
def test_none_markers_are_missing_not_errors(raw):
    assert repaired([raw]) == [(None, None, None, "missing", [], [])]


def test_letter_o_for_zero_is_invalid_and_never_silently_changed():
    assert (
        repaired(["045O80000111", "O45080000111", "04508000011l"])
        == [(None, None, None, "invalid", [], ["citizen_id:not_digits"])] * 3
    )


def test_century_digit_beyond_2099_is_invalid_and_not_decoded():
    for raw in ["036499000001", "036599000001", "036980000001"]:
        frame = pl.DataFrame({"citizen_id": [raw]})
        out = identity_columns(frame, "citizen_id")
        row = out.with_columns(token_list(pl.col("_flags_citizen_id"))).row(0, named=True)
        assert (row["citizen_id_digits"], row["cccd"], row["cccd_sex"], row["cccd_birth_year"]) == (
            raw,
            None,
            None,
            None,
        )
        assert (row["citizen_id_status"], row["_flags_citizen_id"]) == (
            "invalid",
            ["citizen_id:century_digit"],
        )


def test_a_text_formula_typed_to_keep_the_zeros():
    assert (
        repaired(['="079190012345"', '= "079190012345"'])
        == [(CCCD, CCCD, None, "ok", ["citizen_id:excel_formula"], [])] * 2
    )


def test_the_cards_name_typed_before_its_number():
    assert repaired(["CCCD: 079190012345", "Căn cước công dân số 079190012345", "CCCD 79190012345"]) == [
        (CCCD, CCCD, None, "ok", ["citizen_id:label"], []),
        (CCCD, CCCD, None, "ok", ["citizen_id:label"], []),
        (CCCD, CCCD, None, "ok", ["citizen_id:label", "citizen_id:leading_zero"], []),
    ]
    assert repaired(["Số CMND 012345678"])[0][:4] == ("012345678", None, "012345678", "ok")
    # A label with no number, or a number with a letter in it, is not a number.
    assert (
        repaired(["CCCD", "CCCD: 07919001234X"])
        == [(None, None, None, "invalid", [], ["citizen_id:not_digits"])] * 2
    )

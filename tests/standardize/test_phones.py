import polars as pl
import pytest

from sachsong.standardize.phones import OLD_MOBILE_PREFIXES, commune_code_columns, phone_columns
from sachsong.standardize.text import token_list


def phones(values):
    frame = pl.DataFrame({"phone": values}, schema={"phone": pl.String})
    return phone_columns(frame, "phone").select("phone_e164", "phone_status").rows()


@pytest.mark.parametrize(
    "raw",
    [
        "0912345678",
        "091 234 5678",
        "0912.345.678",
        "0912-345-678",
        "(091) 234-5678",
        "+84912345678",
        "+84 912 345 678",
        "+84 (0) 912 345 678",
        "84912345678",
        "0084912345678",
        "912345678",  # trunk 0 lost in a spreadsheet
    ],
)
def test_mobile_forms(raw):
    assert phones([raw]) == [("+84912345678", "ok")]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("01662345678", "+84362345678"),
        ("0169 234 5678", "+84392345678"),
        ("+84 1202345678", "+84702345678"),
        ("01212345678", "+84792345678"),
        ("01232345678", "+84832345678"),
        ("01272345678", "+84812345678"),
        ("01862345678", "+84562345678"),
        ("01992345678", "+84592345678"),
    ],
)
def test_old_eleven_digit_mobiles_are_converted(raw, expected):
    assert phones([raw]) == [(expected, "ok")]


def test_every_old_prefix_maps_to_a_current_mobile_prefix():
    assert len(OLD_MOBILE_PREFIXES) == 21
    for old, new in OLD_MOBILE_PREFIXES.items():
        number = old + "2345678"
        assert phones([number]) == [("+84" + new[1:] + "2345678", "ok")]


def test_landlines():
    assert phones(["024 3987 6543", "(0236) 382 1234", "+84 24 3987 6543"]) == [
        ("+842439876543", "ok"),
        ("+842363821234", "ok"),
        ("+842439876543", "ok"),
    ]


@pytest.mark.parametrize(
    "raw",
    [
        "091234567",  # 9 digits with the trunk 0
        "09123456789",  # 11 digits, not an old prefix
        "0112345678",  # no such prefix
        "0612345678",
        "0439876543",  # pre-2017 landline
        "12345",
        "abc",
        "0912345678 / 0987654321",
        "+1 415 555 0100",
        "1885223362",  # bare old prefix: a mangled 0885… as likely as an old 0188…, not guessed
        "1662345678",
    ],
)
def test_invalid(raw):
    assert phones([raw]) == [(None, "invalid")]


@pytest.mark.parametrize("raw", [None, "", "  "])
def test_missing(raw):
    assert phones([raw]) == [(None, "missing")]


def repaired(values):
    frame = pl.DataFrame({"phone": values}, schema={"phone": pl.String})
    out = phone_columns(frame, "phone")
    return out.select(
        "phone_e164", "phone_status", token_list(pl.col("_repairs_phone")), token_list(pl.col("_flags_phone"))
    ).rows()


@pytest.mark.parametrize(
    ("raw", "tokens"),
    [
        ("912345678", ["phone:leading_zero"]),  # a number cell drops the trunk 0
        ("912345678.0", ["phone:excel_number", "phone:leading_zero"]),
        ("9.12345678E+08", ["phone:excel_number", "phone:leading_zero"]),
        ("'0912345678", ["phone:apostrophe"]),
        ("０９１２３４５６７８", ["phone:fullwidth"]),
        ("0912\u200b345678", ["phone:invisible_chars"]),
        ("0912 345 678", []),
        ("+84 912 345 678", []),
        ("84912345678", []),
    ],
)
def test_spreadsheet_damage_is_repaired_and_recorded(raw, tokens):
    assert repaired([raw]) == [("+84912345678", "ok", tokens, [])]


def test_landline_without_its_zero():
    assert repaired(["2439876543", "2439876543.0"]) == [
        ("+842439876543", "ok", ["phone:leading_zero"], []),
        ("+842439876543", "ok", ["phone:excel_number", "phone:leading_zero"], []),
    ]


def test_scientific_notation_that_lost_digits_is_flagged_not_guessed():
    assert repaired(["9.1E+08", "9,12346E+08"]) == [(None, "invalid", [], ["phone:excel_digits_lost"])] * 2


@pytest.mark.parametrize("raw", ["không có", "Không", "-", "chưa có", "N/A", None, ""])
def test_none_markers_are_missing(raw):
    assert repaired([raw]) == [(None, "missing", [], [])]


def codes(values):
    frame = pl.DataFrame({"commune_code": values}, schema={"commune_code": pl.String})
    out = commune_code_columns(frame, "commune_code")
    return out.select(
        "commune_code_std",
        token_list(pl.col("_repairs_commune_code")),
        token_list(pl.col("_flags_commune_code")),
    ).rows()


def test_commune_codes_from_number_cells():
    assert codes(["19123.0", "4", "400", "00400", "'00400", "26734", "1912.0", "１９１２３"]) == [
        ("19123", ["commune_code:excel_number"], []),
        ("00004", ["commune_code:leading_zero"], []),
        ("00400", ["commune_code:leading_zero"], []),
        ("00400", [], []),
        ("00400", ["commune_code:apostrophe"], []),
        ("26734", [], []),
        ("01912", ["commune_code:excel_number", "commune_code:leading_zero"], []),
        ("19123", ["commune_code:fullwidth"], []),
    ]


def test_commune_codes_that_are_not_codes_are_flagged_and_left_null():
    assert codes(["xã 5", "123456", "19123.5", None, "-"]) == [
        (None, [], ["commune_code:invalid"]),
        (None, [], ["commune_code:invalid"]),
        (None, [], ["commune_code:invalid"]),
        (None, [], []),
        (None, [], []),
    ]


def test_a_text_formula_typed_to_keep_the_zero():
    assert repaired(['="0912345678"']) == [("+84912345678", "ok", ["phone:excel_formula"], [])]
    assert codes(['="00400"']) == [("00400", ["commune_code:excel_formula"], [])]

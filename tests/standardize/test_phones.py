import polars as pl
import pytest
from sachsong.standardize.phones import OLD_MOBILE_PREFIXES, phone_columns


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

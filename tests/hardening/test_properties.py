"""Property tests on the normalizers: arbitrary Unicode never makes them raise, their outputs have the promised
shape (folded keys are ASCII, E.164 numbers are valid), and normalizing twice changes nothing.

Each example is a batch of values run through one polars expression, the way the pipeline calls them.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sachsong.standardize.dates import dob_columns, timestamp_column
from sachsong.standardize.identity import identity_columns, sex_code
from sachsong.standardize.names import display_name, name_columns
from sachsong.standardize.phones import phone_columns
from sachsong.standardize.text import clean_text, fold_ascii, place_tone_marks, text_key, title_case

PROPERTY_SETTINGS = settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)

# Any Unicode scalar value that can be encoded (lone surrogates cannot reach a polars string at all).
ANY_TEXT = st.text(alphabet=st.characters(codec="utf-8"), max_size=40)
# What registers are actually made of: Vietnamese letters precomposed and decomposed, tone marks, look-alikes,
# odd spaces, zero-width characters, digits and punctuation.
VIETNAMESE_LETTERS = (
    "aàáảãạăằắẳẵặâầấẩẫậeèéẻẽẹêềếểễệiìíỉĩịoòóỏõọôồốổỗộơờớởỡợuùúủũụưừứửữựyỳýỷỹỵđ"
    "AÀÁẢÃẠĂẰẮẲẴẶÂẦẤẨẪẬEÈÉẺẼẸÊỀẾỂỄỆIÌÍỈĨỊOÒÓỎÕỌÔỒỐỔỖỘƠỜỚỞỠỢUÙÚỦŨỤƯỪỨỬỮỰYỲÝỶỸỴĐ"
    "bcdghklmnpqrstvxBCDGHKLMNPQRSTVX"
)
REGISTER_CHARACTERS = (
    VIETNAMESE_LETTERS + "ÐðĐ\u0300\u0301\u0309\u0303\u0323 \t\u00a0\u200b\ufeff'’-.,0123456789/"
)
REGISTER_TEXT = st.text(alphabet=REGISTER_CHARACTERS, max_size=30)
VIETNAMESE_WORDS = st.lists(st.text(alphabet=VIETNAMESE_LETTERS, min_size=1, max_size=7), max_size=5).map(
    " ".join
)


# Characters clean_text deletes (zero-width marks, BOM). Between a letter and its tone mark they expose a known bug
# (see the xfail below), so the general properties leave them out and that test pins the case down.
DELETED_INVISIBLES = "\u200b\u200c\u200d\u2060\ufeff"


def without_invisibles(value: str) -> str:
    return value.translate({ord(c): None for c in DELETED_INVISIBLES})


def batch(values: st.SearchStrategy[str]) -> st.SearchStrategy[list[str | None]]:
    return st.lists(st.one_of(values, st.none()), min_size=1, max_size=25)


def apply(expression, values: list[str | None]) -> list[str | None]:
    frame = pl.DataFrame({"v": values}, schema={"v": pl.String})
    return frame.select(expression(pl.col("v")).alias("out"))["out"].to_list()


def is_nfc(value: str) -> bool:
    return unicodedata.normalize("NFC", value) == value


_WHITE_SPACE = "\t\n\v\f\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
UNICODE_SPACE_AT_ENDS_OR_TWICE = re.compile(f"^[{_WHITE_SPACE}]|[{_WHITE_SPACE}]$|[{_WHITE_SPACE}]{{2}}")
FOLDED = re.compile(r"^[a-z0-9]+(?: [a-z0-9]+)*$")


# ------------------------------------------------------------------------------------------------ text
@PROPERTY_SETTINGS
@given(batch(ANY_TEXT | REGISTER_TEXT))
def test_folded_keys_are_ascii_words_and_folding_twice_changes_nothing(values: list[str | None]) -> None:
    for fold in (fold_ascii, text_key):
        folded = apply(fold, values)
        assert len(folded) == len(values)
        assert all(v is None or FOLDED.match(v) for v in folded), folded
        assert apply(fold, folded) == folded


@PROPERTY_SETTINGS
@given(batch((ANY_TEXT | REGISTER_TEXT).map(without_invisibles)))
def test_clean_text_is_single_spaced_and_idempotent(values: list[str | None]) -> None:
    cleaned = apply(clean_text, values)
    for value in cleaned:
        # Unicode White_Space (Python's str.strip also strips the C0 separators \x1c-\x1f, which are not spaces).
        assert value is None or (value != "" and not UNICODE_SPACE_AT_ENDS_OR_TWICE.search(value)), repr(
            value
        )
    assert apply(clean_text, cleaned) == cleaned


@PROPERTY_SETTINGS
@given(batch(REGISTER_TEXT.map(without_invisibles)))
def test_clean_text_output_is_nfc(values: list[str | None]) -> None:
    cleaned = apply(clean_text, values)
    assert all(v is None or is_nfc(v) for v in cleaned), [v for v in cleaned if v and not is_nfc(v)]


def test_clean_text_is_nfc_even_with_an_invisible_character_inside_a_letter() -> None:
    values = ["a\u200b\u0301", "Ho\ufeff\u0300a", "Nguye\u200d\u0302\u0303n"]
    cleaned = apply(clean_text, values)
    assert [is_nfc(v) for v in cleaned] == [True, True, True]
    assert apply(clean_text, cleaned) == cleaned


@PROPERTY_SETTINGS
@given(batch(VIETNAMESE_WORDS))
def test_title_case_and_tone_placement_are_idempotent_and_keep_the_letters(values: list[str | None]) -> None:
    nfc_values = [None if v is None else unicodedata.normalize("NFC", v) for v in values]
    titled = apply(title_case, nfc_values)
    assert apply(title_case, titled) == titled
    placed = apply(place_tone_marks, titled)
    assert apply(place_tone_marks, placed) == placed
    # Tone placement only moves marks: the folded letters are the same.
    assert apply(fold_ascii, placed) == apply(fold_ascii, nfc_values)


@PROPERTY_SETTINGS
@given(batch(ANY_TEXT | REGISTER_TEXT))
def test_names_never_raise_and_their_display_form_is_stable(values: list[str | None]) -> None:
    names = name_columns(pl.DataFrame({"full_name": values}, schema={"full_name": pl.String}))
    assert names.height == len(values)
    assert all(v is None or FOLDED.match(v) for v in names["name_key"].to_list())
    shown = names["name_norm"].to_list()
    assert apply(display_name, shown) == shown
    for row in names.iter_rows(named=True):
        if row["name_norm"] is not None:
            assert row["given_name"] is not None and row["name_norm"].endswith(row["given_name"])


# ---------------------------------------------------------------------------------------------- dates
DATE_LIKE = st.text(alphabet="0123456789/-.: TZ+APMapm", max_size=25)


@PROPERTY_SETTINGS
@given(batch(ANY_TEXT | DATE_LIKE))
def test_dates_never_raise_and_every_parsed_date_reads_back(values: list[str | None]) -> None:
    frame = pl.DataFrame({"date_of_birth": values}, schema={"date_of_birth": pl.String})
    parsed = dob_columns(frame)
    assert parsed.height == len(values)
    assert set(parsed["dob_status"].to_list()) <= {"ok", "missing", "unparsable", "impossible"}
    ok = parsed.filter(pl.col("dob").is_not_null())
    assert (ok["dob_status"] == "ok").all() and set(ok["dob_precision"].to_list()) <= {"day", "year"}
    assert parsed.filter(pl.col("dob").is_null())["dob_status"].to_list().count("ok") == 0
    # A parsed date written back the register way parses to itself.
    again = dob_columns(ok.select(pl.col("dob").dt.strftime("%d/%m/%Y").alias("date_of_birth")))
    assert again["dob"].to_list() == ok["dob"].to_list()
    stamps = timestamp_column(pl.DataFrame({"updated_at": values}, schema={"updated_at": pl.String}))
    assert stamps.schema["updated_ts"] == pl.Datetime("us")
    assert all(v is None or date(1, 1, 1) <= v.date() for v in stamps["updated_ts"].to_list())


# --------------------------------------------------------------------------------------------- phones
PHONE_LIKE = st.text(alphabet="0123456789+ .-()", max_size=18)
E164 = re.compile(r"^\+84(?:[35789]\d{8}|2\d{9})$")


@PROPERTY_SETTINGS
@given(batch(ANY_TEXT | PHONE_LIKE))
def test_phones_are_valid_e164_or_null_and_normalizing_twice_changes_nothing(
    values: list[str | None],
) -> None:
    phones = phone_columns(pl.DataFrame({"phone": values}, schema={"phone": pl.String}))
    assert phones.height == len(values)
    e164 = phones["phone_e164"].to_list()
    assert all(v is None or E164.match(v) for v in e164), e164
    assert (
        phones.select((pl.col("phone_status") == "ok") == pl.col("phone_e164").is_not_null())
        .to_series()
        .all()
    )
    assert (
        phone_columns(pl.DataFrame({"phone": e164}, schema={"phone": pl.String}))["phone_e164"].to_list()
        == e164
    )


# ------------------------------------------------------------------------------------------- identity
ID_LIKE = st.text(alphabet="0123456789 .-_/", max_size=20)


@PROPERTY_SETTINGS
@given(batch(ANY_TEXT | ID_LIKE))
def test_identity_numbers_have_their_shape_and_digits_are_stable(values: list[str | None]) -> None:
    ids = identity_columns(pl.DataFrame({"citizen_id": values}, schema={"citizen_id": pl.String}))
    assert ids.height == len(values)
    digits = ids["citizen_id_digits"].to_list()
    again = identity_columns(pl.DataFrame({"citizen_id": digits}, schema={"citizen_id": pl.String}))
    assert again["citizen_id_digits"].to_list() == digits
    for row in ids.iter_rows(named=True):
        assert row["cccd"] is None or re.fullmatch(r"\d{12}", row["cccd"])
        assert row["cmnd"] is None or re.fullmatch(r"\d{9}", row["cmnd"])
        assert (row["cccd"] is None) == (row["cccd_birth_year"] is None)
        if row["cccd"] is not None:
            assert row["cccd_sex"] in ("M", "F") and 1900 <= row["cccd_birth_year"] <= 2399
    assert set(apply(sex_code, values)) <= {"M", "F", None}

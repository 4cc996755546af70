"""The address resolver: old 3-tier and new 2-tier addresses → new ward and province codes.

Expected codes are looked up in the reference tables (legacy ward → its new ward), not hard-coded.
"""

from __future__ import annotations

import unicodedata

import polars as pl
import pytest

from sachsong.standardize.address import AddressInputError, resolve_addresses
from sachsong.standardize.reference import load_reference


@pytest.fixture(scope="module")
def ref():
    return load_reference()


def new_codes_of_legacy(ref, ward: str, district: str, province: str) -> list[str]:
    legacy = ref.legacy_wards.filter(
        (pl.col("legacy_ward_name") == ward)
        & (pl.col("legacy_district_name").str.to_lowercase() == district.lower())
        & (pl.col("legacy_province_name") == province)
    )
    assert legacy.height == 1, (ward, district, province)
    codes = ref.legacy_to_new.join(legacy.select("legacy_key"), on="legacy_key")["ward_code"]
    return sorted(codes.to_list())


def new_code(ref, ward: str, province: str) -> str:
    return ref.new_wards.filter((pl.col("ward_name") == ward) & (pl.col("province_name") == province))[
        "ward_code"
    ].item()


def province_code(ref, province: str) -> str:
    return ref.provinces.filter(pl.col("province_name") == province)["province_code"].item()


def resolve_one(text: str | None, **kwargs) -> dict:
    return resolve_addresses(pl.DataFrame({"address": [text]}, schema={"address": pl.String}), **kwargs).row(
        0, named=True
    )


QUANG_PHU = ("Xã Quảng Phú", "Huyện Quảng Trạch", "Tỉnh Quảng Bình")
OLD_QUANG_PHU_SPELLINGS = [
    "Thôn 3, Xã Quảng Phú, Huyện Quảng Trạch, Tỉnh Quảng Bình",
    "X. Quảng Phú, H. Quảng Trạch, T. Quảng Bình",
    "xa quang phu huyen quang trach quang binh",
    "XÃ QUẢNG PHÚ, HUYỆN QUẢNG TRẠCH, TỈNH QUẢNG BÌNH",
    unicodedata.normalize("NFD", "Xã Quảng Phú, Huyện Quảng Trạch, Tỉnh Quảng Bình"),
    "Xã Quảng Phú, Huyện Quảng Trạch",
    "Số 12 đường Lê Lợi, Quảng Phú, Quảng Trạch, Quảng Bình",
]


@pytest.mark.parametrize("text", OLD_QUANG_PHU_SPELLINGS)
def test_old_three_tier_spellings_resolve_exactly(ref, text):
    [expected] = new_codes_of_legacy(ref, *QUANG_PHU)
    row = resolve_one(text)
    assert row["address_status"] == "exact", text
    assert row["ward_code"] == expected
    assert row["ward_candidates"] == [expected]
    assert row["province_code"] == province_code(ref, "Tỉnh Quảng Trị")  # Quảng Bình merged into Quảng Trị


@pytest.mark.parametrize(
    "text", ["P. 5, Q. 3, TP. HCM", "123 Lê Lợi, P.05, Q.3, TP.HCM", "P5, Quận 3, TPHCM"]
)
def test_numbered_wards_and_districts(ref, text):
    [expected] = new_codes_of_legacy(ref, "Phường 5", "Quận 3", "Thành phố Hồ Chí Minh")
    row = resolve_one(text)
    assert (row["ward_code"], row["address_status"]) == (expected, "exact")


def test_abbreviated_town_without_province(ref):
    [expected] = new_codes_of_legacy(ref, "Thị trấn Kiến Giang", "Huyện Lệ Thủy", "Tỉnh Quảng Bình")
    # "Kiến Giang" is also the name of a province (Kiên Giang once folded): the district settles it.
    row = resolve_one("TT. Kiến Giang, H. Lệ Thủy")
    assert (row["ward_code"], row["address_status"]) == (expected, "exact")


@pytest.mark.parametrize(
    ("text", "ward"),
    [("Xã Quảng Trạch, Tỉnh Quảng Trị", "Xã Quảng Trạch"), ("Phường Đồng Hới, Quảng Trị", "Phường Đồng Hới")],
)
def test_new_two_tier_addresses(ref, text, ward):
    row = resolve_one(text)
    assert row["ward_code"] == new_code(ref, ward, "Tỉnh Quảng Trị")
    assert row["address_status"] == "exact"


def test_district_named_like_a_new_ward_is_read_as_the_district(ref):
    # New "Xã Quảng Trạch" exists, but here the text calls Quảng Trạch a district (Huyện) of the old address.
    [expected] = new_codes_of_legacy(ref, *QUANG_PHU)
    row = resolve_one("Xa Quang Phu, Huyen Quang Trach, Quang Binh")
    assert row["ward_code"] == expected


def test_typo_in_ward_name_is_fuzzy(ref):
    [expected] = new_codes_of_legacy(ref, *QUANG_PHU)
    row = resolve_one("Thôn 3, Xã Quảng Phuu, Huyện Quảng Trạch, Tỉnh Quảng Bình")
    assert (row["ward_code"], row["address_status"]) == (expected, "fuzzy")


def test_typo_in_district_name_is_fuzzy(ref):
    # Phường 1 exists in both Đông Hà and Thị xã Quảng Trị: only the (misspelt) district tells them apart.
    [expected] = new_codes_of_legacy(ref, "Phường 1", "Thành phố Đông Hà", "Tỉnh Quảng Trị")
    row = resolve_one("Phường 1, Thành phố Đông Hàa, Tỉnh Quảng Trị")
    assert (row["ward_code"], row["address_status"]) == (expected, "fuzzy")
    without_district = resolve_one("Phường 1, Tỉnh Quảng Trị")
    assert without_district["address_status"] == "ambiguous"
    assert expected in without_district["ward_candidates"]


def split_ward(ref) -> tuple[dict, list[str]]:
    """The old Xã Yên Than (Huyện Tiên Yên, Quảng Ninh), split between two new communes (both sources agree).

    (Xã Tân Thạnh of Thới Lai was used here until the statistics office's crosswalk showed it was merged whole:
    vietnamadminunits' second ward was Sóc Trăng's Tân Thạnh, a name recurring in the merged Cần Thơ.)"""
    legacy = ref.legacy_wards.filter(
        (pl.col("legacy_ward_name") == "Xã Yên Than") & (pl.col("legacy_district_name") == "Huyện Tiên Yên")
    ).row(0, named=True)
    candidates = sorted(
        ref.legacy_to_new.filter(pl.col("legacy_key") == legacy["legacy_key"])["ward_code"].to_list()
    )
    return legacy, candidates


def test_split_ward_is_ambiguous_with_all_candidates(ref):
    legacy, candidates = split_ward(ref)
    assert len(candidates) >= 2
    row = resolve_one("Xã Yên Than, Huyện Tiên Yên, Tỉnh Quảng Ninh")
    assert row["address_status"] == "ambiguous"
    assert row["ward_code"] is None
    assert row["ward_candidates"] == candidates
    assert row["province_code"] == legacy["new_province_code"]


def test_split_ward_settled_by_a_village_named_like_a_candidate(ref):
    _, candidates = split_ward(ref)
    names = ref.new_wards.filter(pl.col("ward_code").is_in(candidates)).select("ward_code", "ward_short")
    # (not the candidate named like the district: "Thôn Tiên Yên" would also name Huyện Tiên Yên)
    other = names.filter(~pl.col("ward_short").is_in(["Yên Than", "Tiên Yên"])).row(0, named=True)
    row = resolve_one(f"Thôn {other['ward_short']}, Xã Yên Than, Huyện Tiên Yên, Tỉnh Quảng Ninh")
    assert (row["ward_code"], row["address_status"]) == (other["ward_code"], "exact")


def test_new_code_hint_does_not_settle_a_split_in_an_old_address(ref):
    # An old 3-tier address comes from an old system: its hint is read as an old code first. 06874 is a
    # candidate's new code, but as an old code it is another ward (Xã Điền Xá): it settles nothing.
    legacy, candidates = split_ward(ref)
    hint = candidates[1]
    assert (
        ref.legacy_wards.filter(pl.col("legacy_ward_code") == hint)["legacy_key"].item()
        != legacy["legacy_key"]
    )
    frame = pl.DataFrame(
        {
            "address": ["Xã Yên Than, Huyện Tiên Yên, Tỉnh Quảng Ninh"] * 3,
            "commune_code": [hint, legacy["legacy_ward_code"], None],
        }
    )
    out = resolve_addresses(frame, hint_column="commune_code")
    assert out["address_status"].to_list() == ["ambiguous"] * 3
    assert out["ward_code"].to_list() == [None] * 3
    assert out["ward_candidates"].to_list() == [candidates] * 3


NGOC_THUY = ("Phường Ngọc Thụy", "Quận Long Biên", "Thành phố Hà Nội")


def test_old_code_of_a_split_ward_that_is_also_a_new_code_settles_nothing(ref):
    # Ngọc Thụy was split; its old code is also the new code of one of its successors (3,316 of the 3,321 new
    # codes are also old codes). Read as the old code the text names, it cannot choose between them.
    candidates = new_codes_of_legacy(ref, *NGOC_THUY)
    assert len(candidates) == 2
    old_code = ref.legacy_wards.filter(
        (pl.col("legacy_ward_name") == NGOC_THUY[0]) & (pl.col("legacy_district_name") == NGOC_THUY[1])
    )["legacy_ward_code"].item()
    assert old_code in candidates  # the trap: the hint is also a valid new code among the candidates
    frame = pl.DataFrame(
        {
            "address": [
                "Tổ dân phố 15, Phường Ngọc Thụy, Quận Long Biên, Thành phố Hà Nội",
                "Tổ dân phố 15, Phường Ngọc Thụy, Thành phố Hà Nội",  # 2-tier form: both readings fit
            ],
            "commune_code": [old_code, old_code],
        }
    )
    out = resolve_addresses(frame, hint_column="commune_code")
    assert out["address_status"].to_list() == ["ambiguous", "ambiguous"]
    assert out["ward_code"].to_list() == [None, None]
    assert out["ward_candidates"].to_list() == [candidates, candidates]
    assert out["province_code"].to_list() == ["01", "01"]


def test_new_code_hint_settles_a_split_in_a_two_tier_address(ref):
    # Without a district the address is in the new 2-tier form: a new code naming one candidate settles it,
    # as long as the code is not also the old code of the ward the text names.
    candidates = new_codes_of_legacy(ref, *NGOC_THUY)
    old_code = ref.legacy_wards.filter(pl.col("legacy_ward_name") == NGOC_THUY[0])["legacy_ward_code"].item()
    [other] = [code for code in candidates if code != old_code]
    frame = pl.DataFrame(
        {"address": ["Phường Ngọc Thụy, Thành phố Hà Nội"] * 2, "commune_code": [other, None]}
    )
    out = resolve_addresses(frame, hint_column="commune_code")
    assert out["ward_code"].to_list() == [other, None]
    assert out["address_status"].to_list() == ["exact", "ambiguous"]


def test_old_code_hint_settles_tied_old_wards(ref):
    # "Phường 1" exists in Đông Hà and in Thị xã Quảng Trị: the old code of one of them is the text's own reading.
    [dong_ha] = new_codes_of_legacy(ref, "Phường 1", "Thành phố Đông Hà", "Tỉnh Quảng Trị")
    old_code = ref.legacy_wards.filter(
        (pl.col("legacy_ward_name") == "Phường 1") & (pl.col("legacy_district_name") == "Thành phố Đông Hà")
    )["legacy_ward_code"].item()
    out = resolve_addresses(
        pl.DataFrame({"address": ["Phường 1, Tỉnh Quảng Trị"], "commune_code": [old_code]}),
        hint_column="commune_code",
    )
    assert (out["ward_code"][0], out["address_status"][0]) == (dong_ha, "exact")


@pytest.mark.parametrize(
    "text",
    [
        "Thôn Đông Thành, Phường Đồng Sơn, Tỉnh Quảng Trị",
        "thon dong thanh phuong dong son tinh quang tri",
        "Thôn Đông Thành, Phường Đồng Sơn, Tỉnh Quảng Bình",
        "Thôn Đông Thành, Đồng Sơn, Quảng Trị",  # no type words: the province alone rules out Thanh Hóa
    ],
)
def test_village_name_is_not_the_ward_and_the_named_province_holds(ref, text):
    # "Đông Thành" folds like Xã Đông Thanh of Thanh Hóa city (whose keywords include "Huyện Đông Sơn"): read
    # as ward + district it used to win over the ward and province the text names.
    [expected] = new_codes_of_legacy(ref, "Phường Đồng Sơn", "Thành Phố Đồng Hới", "Tỉnh Quảng Bình")
    row = resolve_one(text)
    assert (row["ward_code"], row["address_status"]) == (expected, "exact")
    assert row["province_code"] == province_code(ref, "Tỉnh Quảng Trị")


def test_ward_typed_inside_a_town_name_is_not_a_ward(ref):
    # Without commas "thi xa son tay ha noi" also reads "xã Sơn Tây" and "xã Sơn Tây Hà": those run into the
    # typed town (Thị xã Sơn Tây) and must not override it.
    [expected] = new_codes_of_legacy(ref, "Xã Sơn Đông", "Thị xã Sơn Tây", "Thành phố Hà Nội")
    for text in ("Xã Sơn Đông, Thị xã Sơn Tây, Hà Nội", "xa son dong thi xa son tay ha noi"):
        row = resolve_one(text)
        assert (row["ward_code"], row["address_status"]) == (expected, "exact"), text


def test_ward_named_like_an_old_district_is_the_ward(ref):
    # New Xã Quảng Trạch carries the name of the old district; "Thôn Quảng Phú" is a village here, not the old
    # Xã Quảng Phú of Huyện Quảng Trạch.
    row = resolve_one("Thôn Quảng Phú, Xã Quảng Trạch, Tỉnh Quảng Trị")
    assert row["ward_code"] == new_code(ref, "Xã Quảng Trạch", "Tỉnh Quảng Trị")
    assert row["address_status"] == "exact"


def test_hint_alone_and_hint_against_text(ref):
    [quang_phu] = new_codes_of_legacy(ref, *QUANG_PHU)
    legacy_code = ref.legacy_wards.filter(
        (pl.col("legacy_ward_name") == QUANG_PHU[0]) & (pl.col("legacy_district_name") == QUANG_PHU[1])
    )["legacy_ward_code"].item()
    dong_hoi = new_code(ref, "Phường Đồng Hới", "Tỉnh Quảng Trị")
    frame = pl.DataFrame(
        {
            "address": [None, "Tỉnh Quảng Bình", "Xã Quảng Phú, Huyện Quảng Trạch, Tỉnh Quảng Bình"],
            "commune_code": [dong_hoi, dong_hoi, dong_hoi],
        }
    )
    out = resolve_addresses(frame, hint_column="commune_code")
    # A new code alone is used (it may also be someone's legacy code: both readings are checked).
    assert out["ward_code"][1] == dong_hoi or out["address_status"][1] == "ambiguous"
    # Text and hint disagree: flagged, both answers listed, nothing chosen silently.
    assert out["address_status"][2] == "ambiguous"
    assert out["ward_code"][2] is None
    assert {quang_phu, dong_hoi} <= set(out["ward_candidates"][2])
    # A legacy code that agrees with the text confirms it.
    agree = resolve_addresses(
        pl.DataFrame({"address": [OLD_QUANG_PHU_SPELLINGS[0]], "commune_code": [legacy_code]}),
        hint_column="commune_code",
    )
    assert (agree["ward_code"][0], agree["address_status"][0]) == (quang_phu, "exact")


@pytest.mark.parametrize("text", ["hello world", "asdf qwer zxcv", "", "12345", None])
def test_garbage_and_null_are_unmatched(text):
    row = resolve_one(text)
    assert row["address_status"] == "unmatched"
    assert row["ward_code"] is None
    assert row["ward_candidates"] == []


def test_province_only_keeps_the_province(ref):
    row = resolve_one("Tỉnh Quảng Bình")
    assert row["address_status"] == "unmatched"
    assert row["province_code"] == province_code(ref, "Tỉnh Quảng Trị")


def test_every_row_kept_in_order_with_repeats(ref):
    texts = ["P. 5, Q. 3, TP. HCM", None, "hello", "P. 5, Q. 3, TP. HCM", OLD_QUANG_PHU_SPELLINGS[1]] * 3
    frame = pl.DataFrame({"record_id": [str(i) for i in range(len(texts))], "address": texts})
    out = resolve_addresses(frame)
    assert out.height == frame.height
    assert out["record_id"].to_list() == frame["record_id"].to_list()
    assert out["address"].to_list() == texts
    assert out.schema["ward_candidates"] == pl.List(pl.String)
    statuses = out["address_status"].to_list()
    assert statuses[:5] == ["exact", "unmatched", "unmatched", "exact", "exact"]
    assert statuses == statuses[:5] * 3


def test_rerun_replaces_previous_output_columns():
    once = resolve_addresses(pl.DataFrame({"address": ["P. 5, Q. 3, TP. HCM"]}))
    twice = resolve_addresses(once)
    assert twice.columns == once.columns
    assert twice.equals(once)


def test_missing_column_is_a_clear_error():
    with pytest.raises(AddressInputError, match=r"no column 'address'.*dia_chi"):
        resolve_addresses(pl.DataFrame({"dia_chi": ["x"]}))


WELL_FORMED_AND_NOT = [
    "Thôn 3, Xã Quảng Phú, Huyện Quảng Trạch, Tỉnh Quảng Bình",  # typed ward, district, old province
    "XA QUANG PHU, HUYEN QUANG TRACH, QUANG TRI",  # the new province of the district
    "Xã Quảng Phú, Huyện Quảng Trạch",  # no province
    "P. 5, Q. 3, TP. Hồ Chí Minh",
    "Xã Yên Than, Huyện Tiên Yên, Tỉnh Quảng Ninh",  # split ward: not for the shortcut
    "Xã Quảng Phú, Huyện Quảng Trạch, Tỉnh Thanh Hóa",  # another province: not for the shortcut
    "Quảng Phú, Quảng Trạch, Quảng Bình",  # untyped ward: not for the shortcut
    "Xã Sơn Đông, Thị xã Sơn Tây, Hà Nội",
    "P. 5, Q. 3, TP. HCM",  # "TP. HCM" is found only by the span reading ("hcm" inside it): full reading
]


def test_well_formed_shortcut_gives_what_the_full_reading_gives(monkeypatch):
    import sachsong.standardize.address as address

    frame = pl.DataFrame({"address": WELL_FORMED_AND_NOT})
    tokens = address._tokens(frame.select(text="address").with_row_index("addr_id"))
    claimed = sorted(address._well_formed(tokens)["addr_id"].to_list())
    assert claimed == [0, 1, 2, 3, 7]
    shortcut = resolve_addresses(frame)
    shortcut_off = address._well_formed
    monkeypatch.setattr(address, "_well_formed", lambda tokens: shortcut_off(tokens).clear())
    full = resolve_addresses(frame)
    assert shortcut.equals(full)
    assert full["address_status"].to_list()[:4] == ["exact"] * 4

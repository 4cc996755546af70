"""Header dialects → canonical columns."""

from __future__ import annotations

import pytest

from sachsong.sources.headers import (
    FAMILY_PART,
    GIVEN_PART,
    MIDDLE_PART,
    SYNONYMS,
    combine_header_rows,
    fold_header,
    header_score,
    lookup,
    map_header,
)

EXPECTED = {
    "Họ và tên": "full_name",
    "HO_TEN": "full_name",
    "ho ten": "full_name",
    "Họ tên": "full_name",
    "Tên công dân": "full_name",
    "HỌ VÀ TÊN (*)": "full_name",
    "full_name": "full_name",
    "name": "full_name",
    "Ngày sinh": "date_of_birth",
    "NGAY_SINH": "date_of_birth",
    "ngaysinh": "date_of_birth",
    "dob": "date_of_birth",
    "Ngày sinh (dd/mm/yyyy)": "date_of_birth",
    "Giới tính": "sex",
    "gioi_tinh": "sex",
    "gender": "sex",
    "Số CCCD": "citizen_id",
    "CCCD/CMND": "citizen_id",
    "So dinh danh": "citizen_id",
    "Số định danh cá nhân": "citizen_id",
    "CMND": "citizen_id",
    "id_number": "citizen_id",
    "Số điện thoại": "phone",
    "SĐT": "phone",
    "dien thoai": "phone",
    "phone": "phone",
    "Địa chỉ": "address",
    "Nơi thường trú": "address",
    "Địa chỉ thường trú": "address",
    "address": "address",
    "Mã xã": "commune_code",
    "Mã ĐVHC": "commune_code",
    "Ngày cập nhật": "updated_at",
    "cap_nhat_luc": "updated_at",
    "updated_at": "updated_at",
    "ID": "record_id",
    "Mã": "record_id",
    "Mã hồ sơ": "record_id",
}


@pytest.mark.parametrize(("header", "canonical"), sorted(EXPECTED.items()))
def test_spellings_map_to_their_canonical_column(header: str, canonical: str) -> None:
    hit = lookup(header)
    assert hit is not None, header
    assert hit[0] == canonical


def test_fold_ignores_diacritics_case_separators_and_notes() -> None:
    assert fold_header("Họ và tên") == fold_header("HO_VA_TEN") == fold_header("ho.va.ten") == "hovaten"
    assert fold_header("Mã ĐVHC") == "madvhc"
    assert fold_header("Ngày sinh (dd/mm/yyyy)") == "ngaysinh"


def test_no_spelling_is_listed_for_two_columns() -> None:
    seen: dict[str, str] = {}
    for canonical, spellings in SYNONYMS.items():
        for spelling in spellings:
            folded = fold_header(spelling)
            assert seen.setdefault(folded, canonical) == canonical, spelling


def test_stt_is_a_row_counter_not_an_identity() -> None:
    mapping = map_header(["STT", "Họ và tên", "Ngày sinh"])
    assert "record_id" not in mapping.targets
    assert mapping.extras == ["STT"]
    with_id = map_header(["STT", "Mã hồ sơ", "Họ và tên"])
    assert with_id.columns[1] == "record_id"


def test_best_ranked_spelling_wins_and_the_other_is_an_extra() -> None:
    mapping = map_header(["CMND", "Họ tên", "Số CCCD"])
    assert mapping.columns[2] == "citizen_id"
    assert 0 not in mapping.columns
    assert mapping.extras == ["CMND"]
    assert any("CMND" in note and "Số CCCD" in note for note in mapping.notes)


def test_duplicate_header_keeps_the_first_and_says_so() -> None:
    mapping = map_header(["Họ và tên", "Ngày sinh", "Họ và tên"])
    assert mapping.columns == {0: "full_name", 1: "date_of_birth"}
    assert any("duplicate header" in note and "column 3" in note for note in mapping.notes)


def test_name_parts_are_used_only_without_a_full_name_column() -> None:
    parts = map_header(["Họ", "Tên đệm", "Tên", "Ngày sinh"])
    assert parts.has_name
    assert parts.columns == {0: FAMILY_PART, 1: MIDDLE_PART, 2: GIVEN_PART, 3: "date_of_birth"}
    both = map_header(["Họ và tên", "Họ", "Tên"])
    assert both.columns == {0: "full_name"}
    assert both.extras == ["Họ", "Tên"]


def test_explicit_registry_mapping_beats_synonyms() -> None:
    mapping = map_header(
        ["HOTEN_CD", "DIACHI", "Địa chỉ"], explicit={"HOTEN_CD": "full_name", "DIACHI": "address"}
    )
    assert mapping.columns == {0: "full_name", 1: "address"}
    assert mapping.extras == ["Địa chỉ"]


def test_unknown_columns_are_extras() -> None:
    mapping = map_header(["Họ và tên", "Dân tộc", "Tôn giáo"])
    assert mapping.extras == ["Dân tộc", "Tôn giáo"]
    assert not map_header(["Dân tộc", "Tôn giáo"]).has_name


def test_family_and_middle_in_one_column_plus_given_name_make_the_full_name() -> None:
    for family in ("Họ và tên đệm", "Họ và đệm", "Họ, tên đệm", "HO VA TEN DEM"):
        mapping = map_header(["STT", family, "Tên", "Ngày sinh"])
        assert mapping.columns == {1: "_family_name", 2: "_given_name", 3: "date_of_birth"}
        assert mapping.has_name


def test_split_date_sex_marks_and_address_parts_are_placed_by_their_neighbours() -> None:
    mapping = map_header(["Họ và tên", "Ngày sinh", "Tháng sinh", "Năm sinh", "Nam", "Nữ", "Thôn, xóm", "Xã"])
    assert list(mapping.columns.values()) == [
        "full_name",
        "_dob_day",
        "_dob_month",
        "_dob_year",
        "_sex_male_mark",
        "_sex_female_mark",
        "_addr_village",
        "_addr_commune",
    ]
    # Alone, "Năm sinh" is the date of birth and "Tháng" means nothing.
    assert map_header(["Họ và tên", "Năm sinh", "Tháng"]).columns == {0: "full_name", 1: "date_of_birth"}
    # A whole date-of-birth column makes day / month / year columns extras.
    mapping = map_header(["Họ và tên", "Ngày tháng năm sinh", "Ngày", "Tháng", "Năm"])
    assert mapping.columns == {0: "full_name", 1: "date_of_birth"}


def test_two_row_header_keeps_the_group_of_each_leaf() -> None:
    upper = ["STT", "Họ và tên", "Ngày sinh", "", "", "Giới tính", "", "Quê quán", "", "Ghi chú"]
    lower = ["", "", "Ngày", "Tháng", "Năm", "Nam", "Nữ", "Xã", "Huyện", ""]
    names = combine_header_rows(upper, lower)
    assert names == [
        "STT",
        "Họ và tên",
        "Ngày (Ngày sinh)",
        "Tháng (Ngày sinh)",
        "Năm (Ngày sinh)",
        "Nam (Giới tính)",
        "Nữ (Giới tính)",
        "Quê quán (Xã)",  # a birthplace, not the address
        "Quê quán (Huyện)",
        "Ghi chú",
    ]
    mapping = map_header(names)
    assert sorted(mapping.targets) == sorted(
        ["full_name", "_dob_day", "_dob_month", "_dob_year", "_sex_male_mark", "_sex_female_mark"]
    )
    assert header_score(names) > header_score(upper)


def test_three_name_columns_and_year_under_sex_columns_in_one_header_row() -> None:
    mapping = map_header(["TT", "Họ", "Đệm", "Tên", "Năm sinh Nam", "Năm sinh Nữ"])
    assert list(mapping.columns.values()) == [
        "_family_name",
        "_middle_name",
        "_given_name",
        "_sex_male_mark",
        "_sex_female_mark",
    ]

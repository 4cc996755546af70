"""Header dialects → canonical columns."""

from __future__ import annotations

import pytest
from sachsong.sources.headers import (
    FAMILY_PART,
    GIVEN_PART,
    MIDDLE_PART,
    SYNONYMS,
    fold_header,
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

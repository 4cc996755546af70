"""Reference tables built from vietnamadminunits, vietnam-provinces and the statistics office's crosswalk."""

from __future__ import annotations

import unicodedata

import polars as pl
import pytest

from sachsong.standardize.reference import fold_expr, key_expr, load_reference, reference_diff


@pytest.fixture(scope="module")
def ref():
    return load_reference()


def test_table_sizes_match_the_2025_reform(ref):
    assert ref.legacy_wards.height == 10_040
    assert ref.new_wards.height == 3_321
    assert ref.provinces.height == 34
    assert ref.new_wards["ward_code"].n_unique() == 3_321
    assert ref.legacy_wards["legacy_province_code"].n_unique() == 63


def test_codes_have_the_expected_shape(ref):
    assert ref.new_wards["ward_code"].str.contains(r"^\d{5}$").all()
    assert ref.new_wards["province_code"].str.contains(r"^\d{2}$").all()
    legacy_codes = ref.legacy_wards["legacy_ward_code"].drop_nulls()
    assert legacy_codes.str.contains(r"^\d{5}$").all()
    # Only the five island districts that had no wards lack a legacy ward code.
    assert ref.legacy_wards["legacy_ward_code"].null_count() == 5


def test_every_legacy_ward_maps_to_existing_new_wards(ref):
    mapping = ref.legacy_to_new
    assert mapping["legacy_key"].n_unique() == ref.legacy_wards.height
    assert mapping.join(ref.new_wards, on="ward_code", how="anti").is_empty()
    # Exactly one default per old ward; split wards have several candidates.
    defaults = mapping.group_by("legacy_key").agg(
        pl.col("is_default").sum(), pl.len(), pl.col("is_split").first()
    )
    assert (defaults["is_default"] == 1).all()
    assert defaults.filter(pl.col("is_split"))["len"].min() >= 2
    assert defaults.filter(~pl.col("is_split"))["len"].max() == 1
    # vietnamadminunits alone lists 471 split wards; 31 of them the statistics office's crosswalk says were merged
    # whole (a name recurring in the merged province), so 440 remain.
    assert defaults["is_split"].sum() == 440


def legacy_key_of(ref, ward: str, district: str) -> str:
    return ref.legacy_wards.filter(
        (pl.col("legacy_ward_name") == ward) & (pl.col("legacy_district_name") == district)
    )["legacy_key"].item()


def new_wards_of(ref, ward: str, district: str) -> tuple[list[str], bool]:
    rows = ref.legacy_to_new.filter(pl.col("legacy_key") == legacy_key_of(ref, ward, district))
    return sorted(rows["ward_code"].to_list()), rows["is_split"].any()


def test_recurring_name_is_not_a_split_when_the_crosswalk_says_merged_whole(ref):
    # vietnamadminunits lists Phường 4 of Tân An also under Tân Ninh (where Tây Ninh's Phường 4 went, now in the
    # same province); the crosswalk says it was merged whole into Long An: two votes (its list, its note) to one.
    tan_an = ref.new_wards.filter(pl.col("ward_name") == "Phường Long An")["ward_code"].item()
    assert new_wards_of(ref, "Phường 4", "Thành phố Tân An") == ([tan_an], False)
    assert new_wards_of(ref, "Xã Hòa Bình", "Huyện Vĩnh Bảo")[1] is False


def test_real_split_keeps_the_crosswalk_candidates(ref):
    # Hòa Bình of Kim Thành was divided ("Nhập một phần diện tích"): the crosswalk's two wards, not the third
    # one vietnamadminunits adds (Vĩnh Bảo's Hòa Bình, same name in the merged Hải Phòng).
    codes, split = new_wards_of(ref, "Xã Hòa Bình", "Huyện Kim Thành")
    assert split and len(codes) == 2
    vinh_bao, _ = new_wards_of(ref, "Xã Hòa Bình", "Huyện Vĩnh Bảo")
    assert not set(vinh_bao) & set(codes)


def test_misnumbered_crosswalk_rows_are_moved_to_the_ward_they_name(ref):
    # The sheet files one Đặng Xá row under Cổ Bi's code: read by its name, Đặng Xá went to two new wards and
    # Cổ Bi to three, as vietnamadminunits also says.
    assert len(new_wards_of(ref, "Xã Đặng Xá", "Huyện Gia Lâm")[0]) == 2
    assert len(new_wards_of(ref, "Xã Cổ Bi", "Huyện Gia Lâm")[0]) == 3


def test_mapping_disagreements_are_reported(ref):
    mapping = ref.disagreements.filter(pl.col("kind") == "mapping")
    assert mapping.height >= 31
    assert mapping["legacy_ward_code"].str.contains(r"^\d{5}$").all()
    assert (mapping["vietnamadminunits_codes"] != mapping["nso_codes"]).all()
    tan_an = mapping.filter(pl.col("legacy_ward_name") == "Phường 4, Thành phố Tân An").row(0, named=True)
    assert tan_an["chosen_split"] is False and tan_an["chosen_codes"] == tan_an["nso_codes"]


def test_legacy_wards_carry_their_new_province(ref):
    quang_binh = ref.legacy_wards.filter(pl.col("legacy_province_name") == "Tỉnh Quảng Bình")
    assert quang_binh.height > 0
    new_quang_tri = ref.provinces.filter(pl.col("province_name") == "Tỉnh Quảng Trị")["province_code"].item()
    assert quang_binh["new_province_code"].unique().to_list() == [new_quang_tri]


def test_disagreements_list_both_codes_and_names(ref):
    diff = ref.disagreements.filter(pl.col("kind") != "mapping")
    assert diff.height > 0
    assert set(diff["kind"].unique()) <= {"code", "name", "code+name"}
    assert diff["ward_code"].null_count() == 0 and diff["alias_code"].null_count() == 0
    codes = diff.filter(pl.col("kind").str.contains("code"))
    assert (codes["ward_code"] != codes["alias_code"]).all()
    names = diff.filter(pl.col("kind") == "name")
    assert (names["ward_name"] != names["alias_name"]).all()
    # The documented example: Phường Cửa Nam has different codes in the two packages.
    cua_nam = diff.filter(pl.col("ward_name") == "Phường Cửa Nam")
    assert cua_nam.height == 1 and cua_nam["kind"].item() == "code"


def test_alias_code_is_kept_on_new_wards(ref):
    with_alias = ref.new_wards.filter(pl.col("alias_code").is_not_null())
    code_rows = ref.disagreements.filter(pl.col("kind").str.contains("^code"))
    assert with_alias.height == code_rows.height
    joined = with_alias.join(code_rows, on="ward_code")
    assert (joined["alias_code"] == joined["alias_code_right"]).all()


def test_reference_diff_is_the_disagreements_table(ref):
    assert reference_diff().equals(ref.disagreements)


def test_fold_handles_case_accents_nfd_and_d():
    spellings = ["Đồng Hới", "ĐỒNG HỚI", unicodedata.normalize("NFD", "Đồng Hới"), "dong hoi"]
    frame = pl.DataFrame({"s": spellings})
    assert frame.select(fold_expr(pl.col("s")))["s"].to_list() == ["dong hoi"] * 4
    assert pl.select(key_expr(pl.lit("Phường  Phúc-Xá"))).item() == "phuongphucxa"

"""The resolver on the shapes real addresses take (issue 12), one class at a time.

Expected codes come from the reference tables (old ward → its new wards, as reconciled with the statistics
office's crosswalk), never from the resolver. Each class has worked examples and, where the class can be
generated from the reference, a sample of every such unit in the country: a class is fixed as a class, not row by
row. The one outcome never allowed is a confident (`exact`/`fuzzy`) answer that is wrong.
"""

from __future__ import annotations

import logging

import polars as pl
import pytest
from unidecode import unidecode

from sachsong.standardize.address import MAX_ADDRESS_CHARS, resolve_addresses
from sachsong.standardize.reference import key_expr, load_reference


@pytest.fixture(scope="module")
def ref():
    return load_reference()


def old_codes(ref, ward: str, district: str) -> list[str]:
    legacy = ref.legacy_wards.filter(
        (pl.col("legacy_ward_name") == ward) & (pl.col("legacy_district_name") == district)
    )
    assert legacy.height == 1, (ward, district)
    return sorted(ref.legacy_to_new.join(legacy.select("legacy_key"), on="legacy_key")["ward_code"].to_list())


def new_code(ref, ward: str, province_code: str) -> str:
    return ref.new_wards.filter((pl.col("ward_name") == ward) & (pl.col("province_code") == province_code))[
        "ward_code"
    ].item()


def resolve(texts: list[str]) -> list[dict]:
    return resolve_addresses(pl.DataFrame({"address": texts})).to_dicts()


def assert_exact(rows: list[dict], expected: str) -> None:
    for row in rows:
        assert (row["address"], row["ward_code"], row["address_status"]) == (
            row["address"],
            expected,
            "exact",
        )


# --------------------------------------------------------------------------------------------------------------
# Worked examples of each class.
# --------------------------------------------------------------------------------------------------------------


def test_thi_tran_marks_an_old_town_not_the_new_commune_of_its_name(ref):
    [town] = old_codes(ref, "Thị trấn Lai Vung", "Huyện Lai Vung")
    commune = new_code(ref, "Xã Lai Vung", "82")
    assert town != commune
    assert_exact(
        resolve(["Thị trấn Lai Vung, tỉnh Đồng Tháp", "TT. Lai Vung, Đồng Tháp", "TT Lai Vung, Đồng Tháp"]),
        town,
    )
    # Without the mark the same name is the new commune.
    assert_exact(resolve(["Xã Lai Vung, tỉnh Đồng Tháp"]), commune)


@pytest.mark.parametrize("mark", ["(cũ)", "cũ", "(cu)", "( cũ )"])
def test_cu_marks_the_old_commune(ref, mark):
    [old] = old_codes(ref, "Xã Long Hưng", "Huyện Văn Giang")
    assert old != new_code(ref, "Xã Long Hưng", "33")
    assert_exact(resolve([f"Thôn 2, Xã Long Hưng {mark}, Hưng Yên"]), old)


def test_without_cu_the_new_commune_is_read(ref):
    assert_exact(resolve(["Thôn 2, Xã Long Hưng, Hưng Yên"]), new_code(ref, "Xã Long Hưng", "33"))


def test_cu_inside_a_place_name_is_not_a_mark(ref):
    # "Củ Chi" folds to "cu chi": only the word "cũ" (or "(cu)") marks an old unit.
    [old] = old_codes(ref, "Xã Tân Thạnh Đông", "Huyện Củ Chi")
    assert_exact(resolve(["Xã Tân Thạnh Đông, Huyện Củ Chi, TP. Hồ Chí Minh"]), old)


def test_old_district_named_like_a_new_ward_with_an_old_ward_before_it(ref):
    # New Xã Hoằng Hóa carries the old district's name; the text names the old ward Hoằng Phú before it.
    [old] = old_codes(ref, "Xã Hoằng Phú", "Huyện Hoằng Hóa")
    assert old != new_code(ref, "Xã Hoằng Hóa", "38")
    assert_exact(
        resolve(["Hoằng Phú, Hoằng Hóa, Thanh Hóa", "Thôn 2, Xã Hoằng Phú, Hoằng Hóa, Thanh Hóa"]), old
    )
    # Unaccented, Hoằng Phú and Hoằng Phụ (same district) fold alike: ambiguous between them, never the new
    # Xã Hoằng Hóa.
    [row] = resolve(["Hoang Phu, Hoang Hoa, Thanh Hoa"])
    assert row["address_status"] == "ambiguous" and old in row["ward_candidates"]


def test_a_new_ward_alone_with_its_province_is_still_the_new_ward(ref):
    assert_exact(resolve(["Xã Hoằng Hóa, Thanh Hóa"]), new_code(ref, "Xã Hoằng Hóa", "38"))


@pytest.mark.parametrize(
    ("text", "ward", "district"),
    [
        ("Phường IV, TP Tây Ninh, Tây Ninh", "Phường 4", "Thành phố Tây Ninh"),
        ("Phường X, Quận Tân Bình, Hồ Chí Minh", "Phường 10", "Quận Tân Bình"),
        ("P. XIII, Q. Tân Bình, TP.HCM", "Phường 13", "Quận Tân Bình"),
        ("phuong iv thanh pho tay ninh tay ninh", "Phường 4", "Thành phố Tây Ninh"),
    ],
)
def test_roman_numeral_wards(ref, text, ward, district):
    [expected] = old_codes(ref, ward, district)
    assert_exact(resolve([text]), expected)


def test_a_syllable_that_looks_roman_is_a_name(ref):
    # "Vị" folds to "vi": Phường Vị Tân is not Phường 6.
    assert_exact(
        resolve(["Phường Vị Tân, TP Cần Thơ", "Số 19 đường số 17, Phường Vị Tân, TPCT"]),
        new_code(ref, "Phường Vị Tân", "92"),
    )


def test_letter_suffixes_tell_wards_apart(ref):
    [a] = old_codes(ref, "Xã Phú Thuận A", "Huyện Hồng Ngự")
    b = old_codes(ref, "Xã Phú Thuận B", "Huyện Hồng Ngự")
    assert len(b) == 2  # B was divided; A was not
    assert_exact(resolve(["Xã Phú Thuận A, Hồng Ngự, Đồng Tháp"]), a)
    [row] = resolve(["Xã Phú Thuận B, Hồng Ngự, Đồng Tháp"])
    assert (row["address_status"], row["ward_candidates"]) == ("ambiguous", b)


def test_a_district_name_shared_by_two_districts_is_still_a_district(ref):
    # Huyện and Thành phố Hồng Ngự share the bare name; unaccented, it also folds like new Phường Hồng Ngự.
    [expected] = old_codes(ref, "Xã Thường Phước 1", "Huyện Hồng Ngự")
    assert_exact(resolve(["Thuong Phuoc 1, Hong Ngu, Dong Thap"]), expected)


def test_a_district_named_like_its_province_written_last_is_the_province(ref):
    [expected] = old_codes(ref, "Xã Thượng Cường", "Huyện Chi Lăng")
    assert_exact(
        resolve(["Thuong Cuong, Chi Lang, Lang Son", "Xã Thượng Cường, Chi Lăng, Lạng Sơn"]), expected
    )


@pytest.mark.parametrize(
    "text",
    [
        "TPHCM - H.Bình Chánh - X Phong Phú - Thôn 3",
        "TP.HCM, Huyện Bình Chánh, Xã Phong Phú",
        "TPHCM - H.Bình Chánh - X Phong Phú - Thôn Lê Lợi",
        "Hồ Chí Minh - huyện Bình Chánh - xã Phong Phú - Ấp 4",
    ],
)
def test_reversed_order(ref, text):
    [expected] = old_codes(ref, "Xã Phong Phú", "Huyện Bình Chánh")
    assert_exact(resolve([text]), expected)


@pytest.mark.parametrize(
    "text",
    [
        "TPHCM - H.Bình Chánh - X Phong Phú - Thôn Quảng Phú",
        "TPHCM - X Quảng Phú - Thôn 3",
        "Hà Nội, Xã Quảng Phú, Huyện Quảng Trạch",
        "Số 5 đường Hà Nội, Xã Quảng Phú, Huyện Quảng Trạch, Tỉnh Quảng Bình",
    ],
)
def test_a_confident_answer_is_in_the_province_the_text_names(ref, text):
    # Quảng Phú is a ward of Quảng Bình (now Quảng Trị); a street named after Hà Nội names no province.
    [row] = resolve([text])
    named = "44" if text.endswith("Quảng Bình") else ("01" if text.startswith("Hà Nội") else "79")
    if row["address_status"] in ("exact", "fuzzy"):
        assert row["province_code"] == named, row


@pytest.mark.parametrize(
    ("text", "ward", "province"),
    [
        ("Phường Tam Thắng, BR-VT", "Phường Tam Thắng", "79"),
        ("Số 3 đường số 1, Phường Tân Phú, SG", "Phường Tân Phú", "79"),
        ("Phường Ninh Kiều, TPCT", "Phường Ninh Kiều", "92"),
        ("Phường Hải Châu, ĐN", "Phường Hải Châu", "48"),
        ("Phường Hoàn Kiếm, HN", "Phường Hoàn Kiếm", "01"),
        ("Phường Vị Tân, tỉnh HG", "Phường Vị Tân", "92"),
        ("Phường Sài Gòn, Q.1, TP.HCM", "Phường Sài Gòn", "79"),
        ("TP.HCM, Phường Bến Thành", "Phường Bến Thành", "79"),
    ],
)
def test_new_addresses_with_old_abbreviations_and_districts(ref, text, ward, province):
    assert_exact(resolve([text]), new_code(ref, ward, province))


def test_a_name_both_old_and_new_with_an_old_province_is_ambiguous(ref):
    # Old Xã Vị Thủy (Hậu Giang) went to another new ward than today's Xã Vị Thủy: with only the old province
    # written, either is possible, and neither is chosen silently.
    [old] = old_codes(ref, "Xã Vị Thủy", "Huyện Vị Thủy")
    new = new_code(ref, "Xã Vị Thủy", "92")
    [row] = resolve(["Xã Vị Thủy, tỉnh HG"])
    assert (row["address_status"], row["ward_candidates"]) == ("ambiguous", sorted([old, new]))


def test_a_recurring_name_the_crosswalk_merged_whole_is_exact(ref):
    # vietnamadminunits alone called Phường 4 of Tân An split (Tây Ninh's Phường 4 is in the same new province).
    [expected] = old_codes(ref, "Phường 4", "Thành phố Tân An")
    assert_exact(resolve(["Phường 4, TP Tân An, Long An", "Ph. 04, TP. Tân An, tỉnh Long An"]), expected)


def test_an_address_longer_than_the_cap_is_unmatched_and_logged_without_its_value(caplog):
    address = "Thôn 3, Xã Quảng Phú, Huyện Quảng Trạch, Tỉnh Quảng Bình"
    long_value = (address + "; ") * (300_000 // len(address))
    with caplog.at_level(logging.WARNING):
        rows = resolve([long_value, address])
    assert len(long_value) > MAX_ADDRESS_CHARS
    assert rows[0]["address_status"] == "unmatched" and rows[0]["ward_code"] is None
    assert rows[1]["address_status"] == "exact"
    assert "longer than" in caplog.text and "Quảng" not in caplog.text


# --------------------------------------------------------------------------------------------------------------
# Whole classes, sampled from the reference.
# --------------------------------------------------------------------------------------------------------------


def _short(name: str) -> str:
    for word in ("Thị trấn", "Phường", "Xã", "Huyện", "Quận", "Thị xã", "Thành phố", "Thành Phố", "Tỉnh"):
        if name.startswith(word + " "):
            return name[len(word) + 1 :]
    return name


def class_corpus(ref, per_class: int = 12) -> pl.DataFrame:
    """Addresses of each failing class for units across the country, with their expected new wards."""
    mapping = ref.legacy_to_new.group_by("legacy_key").agg(
        codes=pl.col("ward_code").sort(), split=pl.col("is_split").any()
    )
    old = (
        ref.legacy_wards.drop_nulls("legacy_ward_code")
        .join(mapping, on="legacy_key")
        .with_columns(short=key_expr(pl.col("legacy_ward_name")).str.replace("^(phuong|xa|thitran)", ""))
        .with_columns(unique=pl.len().over("new_province_code", "short") == 1)
        .sort("legacy_key")
    )
    new = ref.new_wards.sort("ward_code").select(
        "ward_code", "province_code", short=key_expr(pl.col("ward_short"))
    )
    # Old wards whose name is also a new ward of their new province that they did not go into.
    namesakes = (
        old.filter("unique")
        .join(new, left_on=["new_province_code", "short"], right_on=["province_code", "short"])
        .filter(~pl.col("codes").list.contains(pl.col("ward_code")))
        .unique("legacy_key")
        .sort("legacy_key")
    )
    rows: list[tuple[str, str, list[str], bool]] = []
    towns = namesakes.filter(pl.col("legacy_ward_type") == "Thị trấn")
    for r in towns.sample(min(per_class, towns.height), seed=1).iter_rows(named=True):
        rows.append(
            (
                "thi_tran",
                f"TT. {_short(r['legacy_ward_name'])}, {_short(r['legacy_province_name'])}",
                r["codes"],
                r["split"],
            )
        )
    communes = namesakes.filter(pl.col("legacy_ward_type") != "Thị trấn")
    for r in communes.sample(min(per_class, communes.height), seed=1).iter_rows(named=True):
        rows.append(
            (
                "cu",
                f"{r['legacy_ward_name']} (cũ), {_short(r['legacy_province_name'])}",
                r["codes"],
                r["split"],
            )
        )
    numbered = old.filter(pl.col("legacy_ward_name").str.contains(r"^Phường ([1-9]|1[0-9])$"))
    roman = [
        "I",
        "II",
        "III",
        "IV",
        "V",
        "VI",
        "VII",
        "VIII",
        "IX",
        "X",
        "XI",
        "XII",
        "XIII",
        "XIV",
        "XV",
        "XVI",
        "XVII",
        "XVIII",
        "XIX",
    ]
    for r in numbered.sample(per_class, seed=1).iter_rows(named=True):
        number = int(r["legacy_ward_name"].split()[-1])
        rows.append(
            ("roman", f"Phường {roman[number - 1]}, {r['legacy_district_name']}", r["codes"], r["split"])
        )
    lettered = old.filter(pl.col("legacy_ward_name").str.contains(r" [A-C]$"))
    for r in lettered.sample(per_class, seed=1).iter_rows(named=True):
        text = f"{_short(r['legacy_ward_name'])}, {_short(r['legacy_district_name'])}, {_short(r['legacy_province_name'])}"
        rows.append(("letter_unaccented", unidecode(text), r["codes"], r["split"]))
    rural = old.filter(pl.col("legacy_district_type") == "Huyện")
    for i, r in enumerate(rural.sample(per_class, seed=1).iter_rows(named=True)):
        kind = {"Xã": "X.", "Phường": "P.", "Thị trấn": "TT."}[r["legacy_ward_type"]]
        text = (
            f"{r['legacy_province_name']} - H.{_short(r['legacy_district_name'])} - "
            f"{kind}{_short(r['legacy_ward_name'])} - Thôn {i + 1}"
        )
        rows.append(("reversed", text, r["codes"], r["split"]))
    return pl.DataFrame(
        rows,
        schema={"cls": pl.String, "address": pl.String, "expected": pl.List(pl.String), "split": pl.Boolean},
        orient="row",
    )


def test_each_class_across_the_country(ref):
    corpus = class_corpus(ref)
    out = resolve_addresses(corpus.select("address"))
    judged = pl.concat(
        [corpus, out.select("ward_code", "address_status", "ward_candidates")], how="horizontal"
    )
    confident = pl.col("address_status").is_in(["exact", "fuzzy"])
    judged = judged.with_columns(
        right=(confident & pl.col("expected").list.contains(pl.col("ward_code")))
        | (
            (pl.col("address_status") == "ambiguous")
            & pl.col("split")
            & (pl.col("ward_candidates").list.set_intersection(pl.col("expected")).list.len() > 0)
        ),
        confident_wrong=confident & ~pl.col("expected").list.contains(pl.col("ward_code")),
    )
    wrong = judged.filter("confident_wrong").select("cls", "address", "ward_code")
    assert wrong.is_empty(), wrong
    per_class = judged.group_by("cls").agg(n=pl.len(), right=pl.col("right").sum()).sort("cls")
    assert set(per_class["cls"]) == {"thi_tran", "cu", "roman", "letter_unaccented", "reversed"}
    # A class may keep a truly ambiguous row (two wards folding alike); not more.
    assert (per_class["right"] >= per_class["n"] - 1).all(), per_class


@pytest.mark.parametrize(
    ("text", "ward", "district"),
    [
        ("Xã Hạ Mĩ, Huyện Bố Trạch, Tỉnh Quảng Bình", "Xã Hạ Mỹ", "Huyện Bố Trạch"),
        ("X Bình Mĩ, H Bình Sơn, T. Quảng Ngãi", "Xã Bình Mỹ", "Huyện Bình Sơn"),
        ("Xã Quế Mĩ, Huyện Quế Sơn, Tỉnh Quảng Nam", "Xã Quế Mỹ", "Huyện Quế Sơn"),
    ],
)
def test_final_i_and_y_are_the_same_letter(ref, text, ward, district):
    # "Mĩ"/"Mỹ", "Lí"/"Lý" are two spellings of one syllable; a typo-tolerant match must not pick a neighbour.
    [expected] = old_codes(ref, ward, district)
    assert_exact(resolve([text]), expected)


def test_a_district_name_inside_a_province_name_is_not_a_district(ref):
    # "Lắk" (Huyện Lắk) is inside "Đắk Lắk": Xã Ea Tu of Buôn Ma Thuột is not contradicted by it.
    [expected] = old_codes(ref, "Xã Ea Tu", "Thành phố Buôn Ma Thuột")
    assert_exact(resolve(["Xã Ea Tu, Đắk Lắk"]), expected)


def test_a_street_named_like_a_ward_is_not_the_ward_when_the_ward_is_misspelt(ref):
    # Xã Lê Lợi is a ward of Thạch An; here "Lê Lợi" is the street, and the ward (Canh Tân) is misspelt.
    [expected] = old_codes(ref, "Xã Canh Tân", "Huyện Thạch An")
    [row] = resolve(["Số 12 đường Lê Lợi, Xã Canh Tânn, Huyện Thạch An, Tỉnh Cao Bằng"])
    assert (row["ward_code"], row["address_status"]) == (expected, "fuzzy")


@pytest.mark.parametrize(
    "text",
    [
        "Thị xã Phú Mỹ, Bà Rịa - Vũng Tàu",
        "Thị xã Phú Mỹ, Tỉnh Bà Rịa - Vũng Tàu",
        "Huyện Quảng Trạch, Quảng Bình",
    ],
)
def test_a_district_without_a_ward_names_no_ward(text):
    # Phú Mỹ is also a ward (old and new) and "Bà Rịa" inside the province's name is also a ward: a district's
    # name after its type word, or part of a province's name, is neither.
    [row] = resolve([text])
    assert (row["ward_code"], row["address_status"]) == (None, "unmatched")
    assert row["province_code"] is not None


@pytest.mark.parametrize(
    "text",
    ["Ấp 3 Mỹ Tịnh An Chợ Gạo Tiền Giang, Chợ Gạo, Tiền Giang", "Mỹ Tịnh An, Chợ Gạo, Tiền Giang"],
)
def test_a_ward_named_like_its_district_does_not_take_the_district_s_place(ref, text):
    # Thị trấn Chợ Gạo is named like its district: where "Chợ Gạo" is the district of the ward before it, it is
    # not also the town (two equally good readings, one standing on the other).
    [expected] = old_codes(ref, "Xã Mỹ Tịnh An", "Huyện Chợ Gạo")
    assert_exact(resolve([text]), expected)


def test_a_town_named_like_its_district_written_twice_is_the_town(ref):
    [expected] = old_codes(ref, "Thị trấn Hóc Môn", "Huyện Hóc Môn")
    assert_exact(resolve(["Hóc Môn, Hóc Môn, TP. Hồ Chí Minh"]), expected)


def test_duong_in_a_province_name_is_not_a_street(ref):
    # Folded, "Dương" and "đường" (street) are both "duong": as written, only the second starts a street.
    [expected] = old_codes(ref, "Phường Văn An", "Thành phố Chí Linh")
    assert_exact(resolve(["tỉnh Hải Dương - TP Chí Linh - P. Văn An - Khu phố 5"]), expected)


def test_a_district_after_a_ward_number_is_still_the_district(ref):
    [expected] = old_codes(ref, "Phường 1", "Quận 4")
    assert_exact(resolve(["P 01 - Q.4 - Tp. Hồ Chí Minh", "P.01, Q.4, TP.HCM"]), expected)


def test_a_name_cut_short_by_a_typo_is_not_read_as_the_shorter_ward(ref):
    # Bình Hòa and Bình Hòa Tây are both wards of Mộc Hóa: "Bình Hòa Tâ" is the second, misspelt.
    [expected] = old_codes(ref, "Xã Bình Hòa Tây", "Huyện Mộc Hóa")
    [row] = resolve(["Số 12 đường Lê Lợi, Xã Bình Hòa Tâ, Huyện Mộc Hóa, Tỉnh Long An"])
    assert (row["ward_code"], row["address_status"]) == (expected, "fuzzy")


def test_a_bare_ward_number_before_a_district_named_like_a_new_ward(ref):
    # "10, Vũng Tàu, …": the number is the old ward (Phường 10) and Vũng Tàu its district, not the new
    # Phường Vũng Tàu; without the ward's type the number alone settles nothing, so no confident answer.
    [row] = resolve(["10, Vũng Tàu, Tỉnh Bà Rịa - Vũng Tàu"])
    assert row["address_status"] == "unmatched"
    assert_exact(resolve(["Phường Vũng Tàu, Tỉnh Bà Rịa - Vũng Tàu"]), new_code(ref, "Phường Vũng Tàu", "79"))


@pytest.mark.parametrize("mark", ["(cũ)", ""])
def test_a_typed_name_is_not_read_as_a_shorter_ward_inside_it(ref, mark):
    # Xã Tân Phú Đông (Sa Đéc) and the new Xã Tân Phú are both in the new Đồng Tháp: the typed name is the
    # longer one (with "cũ", the old commune).
    [row] = resolve([f"Xã Tân Phú Đông {mark}, Đồng Tháp".replace(" ,", ",")])
    shorter = new_code(ref, "Xã Tân Phú", "82")
    assert row["ward_code"] != shorter and shorter not in row["ward_candidates"]


def test_a_typed_ward_of_another_province_does_not_swallow_the_ward(ref):
    # "Xã An Lạc - Thôn 1" also spells Xã An Lạc Thôn, a ward of Sóc Trăng: not in the province written.
    [expected] = old_codes(ref, "Xã An Lạc", "Huyện Sơn Động")
    assert_exact(resolve(["Bắc Giang - Huyện Sơn Động - Xã An Lạc - Thôn 1"]), expected)


def test_cu_is_not_a_syllable_of_the_next_name(ref):
    # "An (cũ)" must not read as An Cư.
    [expected] = old_codes(ref, "Xã Khánh An", "Huyện An Phú")
    assert_exact(resolve(["Xã Khánh An (cũ), An Giang"]), expected)


def test_two_old_wards_of_one_name_in_one_district_stay_ambiguous(ref):
    # Xã and Thị trấn Mường Tè are both in Huyện Mường Tè and went to different new wards; without a type word
    # the text cannot tell them apart, and the name written twice does not settle it.
    town, commune = (
        old_codes(ref, "Thị trấn Mường Tè", "Huyện Mường Tè"),
        old_codes(ref, "Xã Mường Tè", "Huyện Mường Tè"),
    )
    assert town != commune
    [row] = resolve(["Mường Tè, Mường Tè, Lai Châu"])
    assert row["address_status"] == "ambiguous"
    assert set(town + commune) <= set(row["ward_candidates"])


def test_a_bare_district_number_after_the_ward_marks_an_old_address(ref):
    # "12" is Quận 12: the new ward of the same name is not meant.
    [row] = resolve(["Tân Chánh Hiệp, 12, Hồ Chí Minh"])
    assert (
        row["ward_code"] in old_codes(ref, "Phường Tân Chánh Hiệp", "Quận 12")
        or row["address_status"] != "exact"
    )


def test_a_ward_named_by_part_of_a_district_name_is_not_read(ref):
    # "Lạt" of "Đà Lạt" is also Xã Lát (Lạc Dương): "8, Đà Lạt, Lâm Đồng" is Phường 8 of Đà Lạt, not Xã Lát.
    [lat] = old_codes(ref, "Xã Lát", "Huyện Lạc Dương")
    [row] = resolve(["8, Đà Lạt, Lâm Đồng"])
    assert row["ward_code"] != lat and row["address_status"] != "exact"
    assert_exact(resolve(["Xã Lát, Lạc Dương, Lâm Đồng"]), lat)


def test_a_tie_between_old_wards_of_one_name_is_not_broken_by_a_typo_match(ref):
    # Đồng Nai has several old Xã Phú Sơn; the typo pass must not read the exact name as a misspelt Phước Sơn.
    [row] = resolve(["Xã Phú Sơn, Tỉnh Đồng Nai"])
    assert row["address_status"] == "ambiguous"
    assert new_code(ref, "Xã Phước Sơn", "75") not in row["ward_candidates"]

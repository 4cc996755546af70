"""Unit behaviour of the matching parts: name keys, comparison levels, the blocking guard, clustering guards,
survivorship, and the review round trip."""

from __future__ import annotations

import logging
from datetime import date, datetime

import polars as pl
import pytest
from matching_cases import CASE_OFFSET as O
from matching_cases import frame, record

from sachsong.matching.blocking import BlockingRule, generate_candidate_pairs, rule_names
from sachsong.matching.cluster import cluster_records, connected_components
from sachsong.matching.compare import compare_pairs, level_label
from sachsong.matching.dedupe import dedupe_standardized
from sachsong.matching.golden import build_golden
from sachsong.matching.keys import build_features
from sachsong.matching.review import DecisionFileError, read_decision_file, resolve_decisions


# --- name keys -------------------------------------------------------------------------------------------
def test_name_parts_from_the_folded_key():
    features = build_features(
        frame(
            [
                record(1, "Nguyễn Thị Thu Hà"),
                record(2, "Đặng Hùng"),
                record(3, "Lý"),
                record(4, "Nguyen  Van   Hung"),
            ]
        ).with_columns(pl.col("name_key").str.replace("nguyen van hung", "Nguyen  Van   Hung"))
    )
    rows = features.select("fam_key", "mid_key", "giv_key", "giv_has_marks").rows()
    assert rows[0] == ("nguyen", "thi thu", "ha", True)
    assert rows[1] == ("dang", None, "hung", True)  # Đ folds to d; no middle name
    assert rows[2] == ("li", None, None, True)  # one syllable: a family name alone, i/y unified
    assert rows[3] == ("nguyen", "van", "hung", False)  # case and repeated spaces do not matter


def test_year_only_date_is_not_a_first_of_january_birthday():
    features = build_features(
        frame(
            [record(1, "Lê Văn A", date(1990, 1, 1), "year"), record(2, "Lê Văn A", date(1990, 1, 1), "day")]
        )
    )
    assert features["dob_day"].to_list() == [None, "19900101"]
    assert features["birth_year"].to_list() == [1990, 1990]


# --- comparison levels ---------------------------------------------------------------------------------------
def levels(left: dict, right: dict) -> dict[str, str]:
    std = frame([left, right])
    compared = compare_pairs(
        pl.DataFrame({"left_uid": [left["row_uid"]], "right_uid": [right["row_uid"]]}), build_features(std)
    )
    names = ("given", "family", "middle", "dob", "id", "phone", "ward", "sex")
    return dict(zip(names, compared.select(level_label(n) for n in names).row(0), strict=True))


def test_vietnamese_name_levels():
    base = record(1, "Nguyễn Văn Hùng", date(1980, 4, 5))
    assert levels(base, record(2, "Nguyễn Văn Hùng", date(1980, 4, 5)))["given"] == "exact"
    assert levels(base, record(2, "Nguyen Van Hung", date(1980, 4, 5)))["given"] == "same_letters_unmarked"
    # Hùng and Hưng fold to the same letters but are different names when both are written with marks.
    assert levels(base, record(2, "Nguyễn Văn Hưng", date(1980, 4, 5)))["given"] == "same_letters_other_marks"
    assert levels(base, record(2, "Nguyễn Văn Hùnh", date(1980, 4, 5)))["given"] == "fuzzy"
    assert levels(base, record(2, "Nguyễn Văn Long", date(1980, 4, 5)))["given"] == "different"
    # An adjacent transposition is one slip, not a different name (Jaro-Winkler alone misses short names).
    assert levels(record(1, "Nguyễn Thị Nhã"), record(2, "Nguyễn Thị Nãh"))["given"] == "fuzzy"
    assert levels(record(1, "Phạm Văn Yên"), record(2, "Phạm Văn Ynê"))["given"] == "fuzzy"
    assert levels(record(1, "Mẫn Công Lưu"), record(2, "Mnẫ Công Lưu"))["family"] == "fuzzy"
    assert levels(base, record(2, "Nguyễn Hùng", date(1980, 4, 5)))["middle"] == "dropped_or_partial"
    assert levels(base, record(2, "Nguyen Van Hung"))["family"] == "same_letters"
    thu = levels(record(1, "Lê Thị Thu Hà"), record(2, "Lê Thu Hà"))
    assert thu["middle"] == "dropped_or_partial"


def test_date_levels():
    base = record(1, "Trần Văn Nam", date(1980, 4, 5))
    assert levels(base, record(2, "Trần Văn Nam", date(1980, 5, 4)))["dob"] == "day_month_swapped"
    assert levels(base, record(2, "Trần Văn Nam", date(1980, 4, 6)))["dob"] == "one_digit_or_day"
    assert levels(base, record(2, "Trần Văn Nam", date(1980, 1, 1), "year"))["dob"] == "same_year_imprecise"
    assert levels(base, record(2, "Trần Văn Nam", date(1981, 1, 1), "year"))["dob"] == "different"
    assert levels(base, record(2, "Trần Văn Nam", date(1975, 9, 30)))["dob"] == "different"
    assert levels(base, record(2, "Trần Văn Nam", None))["dob"] == "missing"


def test_identity_number_levels():
    a = record(1, "Trần Văn Nam", cccd="044080001234", phone="+84901234567")
    assert levels(a, record(2, "Trần Văn Nam", cccd="044080001234"))["id"] == "same_cccd"
    assert levels(a, record(2, "Trần Văn Nam", cccd="044080001235"))["id"] == "typing_slip"
    assert levels(a, record(2, "Trần Văn Nam", cccd="044080991299"))["id"] == "different_cccd"
    # Only the century/sex and year digits differ (same province, same serial): a slip when the birth years of
    # the records agree or one is unknown, two people when the records' own years differ too.
    born = date(1980, 4, 5)
    b = record(1, "Trần Văn Nam", born, cccd="044080001234")
    assert levels(b, record(2, "Trần Văn Nam", born, cccd="044188001234"))["id"] == "typing_slip"
    assert levels(b, record(2, "Trần Văn Nam", None, cccd="044188001234"))["id"] == "typing_slip"
    assert (
        levels(b, record(2, "Trần Văn Nam", date(2008, 1, 2), cccd="044208001234"))["id"] == "different_cccd"
    )
    assert levels(b, record(2, "Trần Văn Nam", born, cccd="038080001234"))["id"] == "different_cccd"
    assert levels(a, record(2, "Trần Văn Nam", cmnd="190000001"))["id"] == "missing"  # CCCD vs CMND
    assert levels(record(1, "A B", cmnd="190000001"), record(2, "A B", cmnd="190000001"))["id"] == "same_cmnd"
    assert levels(a, record(2, "Trần Văn Nam", phone="+84901234567"))["phone"] == "same"


# --- blocking guard ---------------------------------------------------------------------------------------------
def test_blocking_guard_refines_then_drops_oversize_blocks(caplog):
    # 30 records share one phone (a commune office number); 12 share a birth year among them.
    rows = [
        record(i, f"Nguyễn Văn Người{i}", date(1990 if i < 12 else 1960 + i, 1, 2), phone="+84900000000")
        for i in range(30)
    ]
    features = build_features(frame(rows))
    rule = (BlockingRule("phone", ("phone_e164",), refine="birth_year"),)
    pairs, report = generate_candidate_pairs(features, rule, max_block_size=20)
    # The 30-record block was split by birth year: only the 12 born in 1990 still meet, no block is dropped.
    assert report["oversize_blocks"].item() == 1 and report["refined_blocks"].item() == 1
    assert report["dropped_blocks"].item() == 0
    assert pairs.height == 12 * 11 // 2 == report["pairs"].item()
    assert (pairs["left_uid"] < pairs["right_uid"]).all()

    with caplog.at_level(logging.WARNING):
        pairs, report = generate_candidate_pairs(features, rule, max_block_size=10)
    assert report["dropped_blocks"].item() == 1 and report["dropped_records"].item() == 12
    assert pairs.height == 0
    assert "phone" in caplog.text and "dropped" in caplog.text


def test_a_rule_may_guard_its_blocks_more_strictly_than_the_run():
    # 14 records of one given name at one address detail of a ward: a hamlet, not a household. The address rule's
    # own guard (10) splits the block by birth year although the run allows 1000 records per block.
    rows = [
        record(i, "Nguyễn Văn Hùng", date(1990 if i < 6 else 1950 + i, 1, 2), address="Thôn 3")
        for i in range(14)
    ]
    features = build_features(frame(rows))
    loose = BlockingRule("address_given", ("ward_code", "addr_key", "giv_key"), refine="birth_year")
    strict = BlockingRule(
        "address_given", ("ward_code", "addr_key", "giv_key"), refine="birth_year", max_block_size=10
    )
    pairs, report = generate_candidate_pairs(features, (loose,), max_block_size=1000)
    assert report["oversize_blocks"].item() == 0 and pairs.height == 14 * 13 // 2
    pairs, report = generate_candidate_pairs(features, (strict,), max_block_size=1000)
    assert report["oversize_blocks"].item() == 1 and report["refined_blocks"].item() == 1
    assert pairs.height == 6 * 5 // 2  # only the six born in 1990 still meet
    # The run's guard still applies when it is the stricter one.
    pairs, report = generate_candidate_pairs(features, (strict,), max_block_size=5)
    assert report["dropped_blocks"].item() == 1 and pairs.height == 0


def test_blocking_pairs_are_unioned_and_deduplicated():
    rows = [
        record(1, "Lê Văn Tám", date(1970, 1, 2), cccd="044070000001", phone="+84900000001"),
        record(2, "Lê Văn Tám", date(1970, 1, 2), cccd="044070000001", phone="+84900000001"),
        record(3, "Hồ Thị Mơ", date(1990, 3, 4)),
    ]
    pairs, _ = generate_candidate_pairs(build_features(frame(rows)))
    assert pairs.select("left_uid", "right_uid").rows() == [(1, 2)]
    assert pairs["blocked_by"].item() == "cccd"  # the first rule that found the pair
    assert {"cccd", "phone", "name_ward"} <= set(rule_names(pairs["blocking_rules"].item()))


# --- clustering guards ------------------------------------------------------------------------------------------
def test_connected_components_follow_long_chains():
    edges = pl.DataFrame({"left_uid": list(range(0, 40)), "right_uid": list(range(1, 41))})
    nodes = pl.Series(list(range(45)))
    components = connected_components(nodes, edges)
    assert components.filter(pl.col("row_uid") <= 40)["component"].unique().to_list() == [0]
    assert components.filter(pl.col("row_uid") > 40)["component"].to_list() == [41, 42, 43, 44]


def test_cannot_link_splits_a_household_chain():
    # Father (1) — weak duplicate (2) — son (3): 1-2 strong, 2-3 weaker; 1-3 is a cannot-link.
    nodes = pl.DataFrame(
        {"row_uid": [1, 2, 3, 4], "cccd": [None, None, None, None]},
        schema={"row_uid": pl.Int64, "cccd": pl.String},
    )
    edges = pl.DataFrame(
        {"left_uid": [1, 2], "right_uid": [2, 3], "match_weight": [20.0, 5.0], "forced": [False, False]}
    )
    cannot = pl.DataFrame({"left_uid": [1], "right_uid": [3]})
    roots, cut = cluster_records(nodes, edges, cannot)
    label = dict(roots.rows())
    assert label[1] == label[2] != label[3]
    assert label[4] == 4
    assert cut.select("left_uid", "right_uid").rows() == [(2, 3)]


@pytest.mark.parametrize("spacing", [1, 10**9], ids=["dense uids", "sparse uids"])
def test_cannot_links_split_the_same_way_whatever_the_uids(spacing: int) -> None:
    # Two household chains and a stray cannot-link naming a record that is not a node: uids 0..N take the direct
    # lookup table, uids a billion apart the binary search.
    def uid(i: int) -> int:
        return 5 + i * spacing

    nodes = pl.DataFrame(
        {"row_uid": [uid(i) for i in range(7)], "cccd": [None] * 7},
        schema={"row_uid": pl.Int64, "cccd": pl.String},
    )
    edges = pl.DataFrame(
        {
            "left_uid": [uid(0), uid(1), uid(3), uid(4)],
            "right_uid": [uid(1), uid(2), uid(4), uid(5)],
            "match_weight": [20.0, 5.0, 9.0, 3.0],
            "forced": [False] * 4,
        }
    )
    cannot = pl.DataFrame(
        {"left_uid": [uid(0), uid(3), uid(0), uid(6)], "right_uid": [uid(2), uid(5), uid(6), uid(99)]}
    )
    roots, cut = cluster_records(nodes, edges, cannot)
    label = dict(roots.rows())
    assert label[uid(0)] == label[uid(1)] != label[uid(2)]
    assert label[uid(3)] == label[uid(4)] != label[uid(5)]
    assert label[uid(6)] == uid(6)  # the cannot-links naming it change nothing: it was alone
    assert sorted(cut.select("left_uid", "right_uid").rows()) == [(uid(1), uid(2)), (uid(4), uid(5))]


def test_two_cccds_split_and_a_one_digit_slip_does_not():
    nodes = pl.DataFrame(
        {
            "row_uid": [1, 2, 3, 4, 5, 6],
            "cccd": ["044000000001", None, "044000999999", "044000000011", None, "044000000012"],
        }
    )
    edges = pl.DataFrame(
        {
            "left_uid": [1, 2, 4, 5],
            "right_uid": [2, 3, 5, 6],
            "match_weight": [9.0, 8.0, 9.0, 8.0],
            "forced": [False] * 4,
        }
    )
    roots, _ = cluster_records(
        nodes, edges, pl.DataFrame(schema={"left_uid": pl.Int64, "right_uid": pl.Int64})
    )
    label = dict(roots.rows())
    assert label[1] == label[2] != label[3]  # two different cards: the weaker link goes
    assert label[4] == label[5] == label[6]  # ...11 vs ...12: a typing slip, one person


def test_max_cluster_size_guard():
    nodes = pl.DataFrame(
        {"row_uid": list(range(6)), "cccd": [None] * 6}, schema={"row_uid": pl.Int64, "cccd": pl.String}
    )
    edges = pl.DataFrame(
        {
            "left_uid": [0, 1, 2, 3, 4],
            "right_uid": [1, 2, 3, 4, 5],
            "match_weight": [9.0, 8.0, 1.0, 8.0, 9.0],
            "forced": [False] * 5,
        }
    )
    roots, cut = cluster_records(
        nodes, edges, pl.DataFrame(schema={"left_uid": pl.Int64, "right_uid": pl.Int64}), max_cluster_size=3
    )
    sizes = roots.group_by("cluster_root").len()["len"].sort().to_list()
    assert sizes == [3, 3] and cut.height == 1


# --- survivorship ------------------------------------------------------------------------------------------------
def test_golden_record_survivorship_and_lineage():
    std = frame(
        [
            record(
                1,
                "Nguyen Van Hung",
                date(1980, 1, 1),
                "year",
                cmnd="190000001",
                phone="+84900000001",
                ward="19001",
                updated=datetime(2025, 6, 1),
                source="xa_a",
            ),
            record(
                2,
                "Nguyễn Văn Hùng",
                date(1980, 4, 5),
                "day",
                cccd="044080001234",
                phone="+84900000002",
                ward="19002",
                updated=datetime(2021, 1, 1),
                source="xa_b",
                sex="M",
            ),
            record(
                3,
                "Nguyễn Hùng",
                None,
                cccd=None,
                phone=None,
                ward="19002",
                updated=datetime(2023, 1, 1),
                source="xa_c",
                sex="M",
            ),
            record(4, "Trần Thị Lan", date(1990, 2, 3), ward="19009"),
        ]
    )
    clusters = pl.DataFrame(
        {
            "row_uid": [1, 2, 3, 4],
            "cluster_id": ["P1", "P1", "P1", "P4"],
            "cluster_size": [3, 3, 3, 1],
            "confidence": [0.99, 0.97, 0.95, 1.0],
        }
    )
    golden = build_golden(std, clusters)
    person = golden.filter(pl.col("cluster_id") == "P1").row(0, named=True)
    assert person["name_norm"] == "Nguyễn Văn Hùng"  # fullest name with diacritics, not the newest ASCII one
    assert (person["family_name"], person["middle_name"], person["given_name"]) == ("Nguyễn", "Văn", "Hùng")
    assert person["dob"] == date(1980, 4, 5) and person["dob_precision"] == "day"  # day over year-only
    assert person["id_number"] == "044080001234" and person["cmnd"] == "190000001"  # CCCD over CMND
    assert person["phone_e164"] == "+84900000001"  # the newest phone
    assert person["ward_code"] == "19002"  # most frequent ward
    assert person["sex_code"] == "M"
    assert person["confidence"] == 0.95
    assert person["member_row_uids"] == [1, 2, 3]
    assert person["member_record_ids"] == ["xa_a:T1", "xa_b:T2", "xa_c:T3"]
    assert person["sources"] == ["xa_a", "xa_b", "xa_c"]
    assert golden.height == 2


# --- review round trip ------------------------------------------------------------------------------------------
def test_review_export_and_decisions_round_trip(province, province_result, tmp_path):
    review = province_result.review
    assert review.height > 0
    assert {
        "left_name_norm",
        "right_name_norm",
        "given_dob_weight",
        "probability",
        "reason",
        "decision",
    } <= set(review.columns)
    csv_path = province_result.write_review(tmp_path / "review.csv")
    xlsx_path = province_result.write_review(tmp_path / "review.xlsx")
    from_csv, from_xlsx = read_decision_file(csv_path), read_decision_file(xlsx_path)
    assert from_csv.height == from_xlsx.height == review.height

    std = province.drop("person_id", "household_id")
    clusters = province_result.clusters
    split = review.join(
        clusters.select(pl.col("row_uid").alias("left_row_uid"), pl.col("cluster_id").alias("lc")),
        on="left_row_uid",
    )
    split = split.join(
        clusters.select(pl.col("row_uid").alias("right_row_uid"), pl.col("cluster_id").alias("rc")),
        on="right_row_uid",
    )
    apart = split.filter(pl.col("lc") != pl.col("rc")).row(0, named=True)
    # Stewards answer in the exported file, naming records by source and record id (stable across runs).
    decided = from_xlsx.with_columns(
        pl.when(
            (pl.col("left_row_uid") == str(apart["left_row_uid"]))
            & (pl.col("right_row_uid") == str(apart["right_row_uid"]))
        )
        .then(pl.lit("same"))
        .otherwise(None)
        .alias("decision")
    ).drop("left_row_uid", "right_row_uid")
    not_father = pl.DataFrame(
        {"left_row_uid": [str(O + 10)], "right_row_uid": [str(O + 12)], "decision": ["different"]}
    )
    decision_file = tmp_path / "decisions.csv"
    decided.write_csv(decision_file)

    again = dedupe_standardized(std, decisions=decision_file)
    assert again.decisions_applied == 1
    left, right = (
        again.clusters.filter(pl.col("row_uid") == apart[k])["cluster_id"].item()
        for k in ("left_row_uid", "right_row_uid")
    )
    assert left == right  # must-link honoured

    split_father = dedupe_standardized(std, decisions=not_father)
    father, father_again = (
        split_father.clusters.filter(pl.col("row_uid") == O + k)["cluster_id"].item() for k in (10, 12)
    )
    assert father != father_again  # cannot-link honoured, even against a strong score


def test_bad_decision_file_names_row_and_field():
    std = frame([record(1, "Lê Văn A"), record(2, "Lê Văn A")])
    with pytest.raises(DecisionFileError, match="row 3, field 'decision'"):
        resolve_decisions(
            pl.DataFrame(
                {"left_row_uid": ["1", "1"], "right_row_uid": ["2", "2"], "decision": ["same", "maybe"]}
            ),
            std,
        )
    with pytest.raises(DecisionFileError, match="row 2, field 'left_row_uid'"):
        resolve_decisions(
            pl.DataFrame({"left_row_uid": ["x"], "right_row_uid": ["2"], "decision": ["same"]}), std
        )
    with pytest.raises(DecisionFileError, match="no 'decision' column"):
        resolve_decisions(pl.DataFrame({"left_row_uid": ["1"], "right_row_uid": ["2"]}), std)

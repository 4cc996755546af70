"""The mismatches the end-to-end evaluation found (benchmarks/evaluate.py on the held-out demo), as hand-made
pairs inside the synthetic province, plus the scorer's behaviour on degenerate inputs."""

from __future__ import annotations

import warnings
from datetime import date, datetime

import numpy as np
import polars as pl
import pytest
from matching_cases import CASE_OFFSET as O
from matching_cases import frame, load_synth, record

from sachsong.matching.cluster import cluster_records
from sachsong.matching.dedupe import dedupe_standardized
from sachsong.matching.keys import build_features
from sachsong.matching.scoring import MatchModel, Thresholds, decide_bands


def cluster_of(result, uid: int) -> str:
    return result.clusters.filter(pl.col("row_uid") == uid)["cluster_id"].item()


def pair(result, left: int, right: int) -> dict:
    rows = result.pairs.filter((pl.col("left_uid") == left) & (pl.col("right_uid") == right))
    assert rows.height == 1, f"pair {left}-{right} was not a candidate"
    return rows.row(0, named=True)


def test_same_card_and_birth_date_merge_despite_a_transposed_name(province_result):
    assert cluster_of(province_result, O + 60) == cluster_of(province_result, O + 61)
    scored = pair(province_result, O + 60, O + 61)
    assert scored["given_level"] == 3  # fuzzy, not "different": no hard rule left to argue with the card
    assert scored["band"] == "link"


def test_cccd_with_mistyped_birth_digits_is_one_person(province_result):
    assert cluster_of(province_result, O + 70) == cluster_of(province_result, O + 71)
    scored = pair(province_result, O + 70, O + 71)
    assert scored["id_level"] == 2 and scored["hard_rule"] is None


def test_generations_of_a_household_never_auto_link(province_result):
    for parent, child, years in ((O + 80, O + 81, 36), (O + 90, O + 91, 71)):
        assert cluster_of(province_result, parent) != cluster_of(province_result, child)
        scored = pair(province_result, parent, child)
        assert scored["years_apart"] == years
        assert scored["hard_rule"] == "different generation" and scored["band"] != "link"


def test_an_undated_record_shares_its_evidence_among_namesakes(province_result):
    undated = O + 102
    for dated in (O + 100, O + 101):
        scored = pair(province_result, dated, undated)
        assert scored["namesake_weight"] < -0.5  # the other namesake competes
        assert scored["band"] != "link"
        assert cluster_of(province_result, dated) != cluster_of(province_result, undated)
    assert cluster_of(province_result, O + 100) != cluster_of(province_result, O + 101)
    alone = pair(province_result, O + 110, O + 111)
    assert alone["namesake_weight"] == 0.0 and alone["band"] == "link"
    assert cluster_of(province_result, O + 110) == cluster_of(province_result, O + 111)


def test_a_mistyped_sex_with_the_same_name_and_birth_year_is_no_hard_no(province_result):
    scored = pair(province_result, O + 120, O + 121)
    assert scored["sex_level"] == 1 and scored["hard_rule"] is None
    assert cluster_of(province_result, O + 120) == cluster_of(province_result, O + 121)


def test_a_card_slip_in_the_birth_digits_does_not_split_a_cluster():
    nodes = pl.DataFrame(
        {"row_uid": [1, 2, 3], "cccd": ["044069792837", "044077792837", "044069000001"]},
        schema={"row_uid": pl.Int64, "cccd": pl.String},
    )
    edges = pl.DataFrame(
        {"left_uid": [1, 2], "right_uid": [2, 3], "match_weight": [20.0, 5.0], "forced": [False, False]}
    )
    roots, cut = cluster_records(
        nodes, edges, pl.DataFrame(schema={"left_uid": pl.Int64, "right_uid": pl.Int64})
    )
    label = dict(roots.rows())
    assert (
        label[1] == label[2] != label[3]
    )  # the birth-digit slip stays together; a third card is another person
    assert cut.height == 1


def test_a_birth_date_after_the_records_update_counts_as_missing():
    father = record(1, "Võ Văn Thuỵ", date(1958, 10, 22), sex="M", phone="+84920424065", cccd="045058335625")
    future = record(
        2,
        "Võ Văn Thuỵ",
        date(2032, 8, 7),
        sex="M",
        phone="+84920424065",
        cccd="045063335625",
        updated=datetime(2025, 3, 1),
    )
    background = load_synth().make_residents(300, seed=3).drop("person_id", "household_id")
    std = pl.concat(
        [background, frame([{**father, "row_uid": O + 1}, {**future, "row_uid": O + 2}])],
        how="diagonal_relaxed",
    )
    result = dedupe_standardized(std)
    scored = pair(result, O + 1, O + 2)
    assert scored["dob_level"] is None and scored["years_apart"] is None
    assert scored["id_level"] == 2  # the card's year digits disagree, the serial agrees: a slip
    assert cluster_of(result, O + 1) == cluster_of(result, O + 2)


@pytest.mark.parametrize(
    "blank",
    [
        {"name_key": None, "name_norm": None},  # every name missing (used to fail on an empty vocabulary)
        {"dob": None},
        {"cccd": None, "cmnd": None},  # no anchors: the EM fallback
        {"phone_e164": None, "sex_code": None, "ward_code": None},
    ],
)
def test_degenerate_columns_score_without_numeric_warnings(blank):
    std = load_synth().make_residents(200, seed=9).drop("person_id", "household_id")
    std = std.with_columns(pl.lit(v, dtype=std.schema[c]).alias(c) for c, v in blank.items())
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        result = dedupe_standardized(std)
    assert result.clusters.height == std.height
    assert np.isfinite(result.pairs["match_weight"].to_numpy()).all()


def test_a_level_never_seen_weighs_nothing_and_a_zero_u_stays_finite():
    model = MatchModel(m={"x": np.array([0.5, 0.5, 0.0])}, u={"x": np.array([0.5, 0.0, 0.0])}, prior=0.1)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        weights = model.weights("x")
    assert weights[0] == 0.0 and np.isfinite(weights[1]) and weights[1] > 10 and weights[2] == 0.0


def test_name_parts_and_sex_are_not_counted_as_independent(province_result):
    pairs = province_result.pairs
    agree = (
        (pl.col("given_level") <= 2)
        & (pl.col("family_level") <= 1)
        & (pl.col("middle_level") == 0)
        & (pl.col("sex_level") == 0)
    )
    whole = pairs.filter(agree)["name_dependence_weight"]
    # Measured on the synthetic province: "Văn"/"Thị" and the given names tell the sex, so agreeing on all of
    # them is charged back a share of the bits the independent parts would add.
    assert whole.len() and whole.n_unique() == 1 and -3.0 < whole[0] < -0.3
    apart = pairs.filter((pl.col("given_level") >= 3) | (pl.col("sex_level") == 1))["name_dependence_weight"]
    assert apart.len() and (apart == 0.0).all()


def test_a_birth_date_over_120_years_before_the_update_counts_as_missing():
    # One woman in three registers: the clean record, the same CCCD with the year typed 1905, her old CMND with
    # the same name, date and phone in a neighbouring ward. The 1905 date must not make a "different generation"
    # cannot-link against the CMND record and split her.
    shared = {"sex": "F", "phone": "+84907728908", "updated": datetime(2026, 10, 31)}
    rows = [
        record(O + 1, "Phùng Thị Hoa", date(1972, 12, 2), cccd="087172236497", ward="19001", **shared),
        record(O + 2, "Phung Thi Hoa", date(1905, 12, 2), cccd="087172236497", ward="19001", **shared),
        record(O + 3, "Phùng Thị Hoa", date(1972, 12, 2), cmnd="196532627", ward="19003", **shared),
    ]
    background = load_synth().make_residents(300, seed=3).drop("person_id", "household_id")
    result = dedupe_standardized(pl.concat([background, frame(rows)], how="diagonal_relaxed"))
    scored = pair(result, O + 1, O + 2)
    assert scored["dob_level"] is None and scored["years_apart"] is None and scored["band"] == "link"
    assert pair(result, O + 2, O + 3)["hard_rule"] is None
    assert cluster_of(result, O + 1) == cluster_of(result, O + 2) == cluster_of(result, O + 3)


def test_birth_dates_are_judged_against_the_update_or_the_newest_update():
    update = datetime(2026, 10, 31)
    rows = [
        record(1, "Phùng Văn Bảy", date(1906, 11, 2), updated=update),  # 119: old but possible, kept
        record(2, "Phùng Văn Bảy", date(1906, 10, 30), updated=update),  # just over 120: missing
        record(3, "Phùng Văn Bảy", date(2026, 11, 1), updated=update),  # after the update: missing
        record(4, "Phùng Văn Bảy", date(1905, 12, 2), updated=None),  # no update: the table's newest one
        record(5, "Phùng Văn Bảy", date(1972, 12, 2), updated=None),
    ]
    dob = build_features(frame(rows))["dob"].to_list()
    assert dob == [date(1906, 11, 2), None, None, None, date(1972, 12, 2)]


def test_a_near_given_name_holds_back_an_auto_link_but_forbids_no_merge():
    levels = {"id_level": [None, None, 0], "given_level": [3, 4, 3], "dob_level": [None, None, None]}
    scored = pl.DataFrame(
        {
            **levels,
            "sex_level": [0, 0, 0],
            "years_apart": [None, None, None],
            "match_weight": [20.0, -2.0, 20.0],
        },
        schema_overrides={"years_apart": pl.Int16},
    )
    out = decide_bands(scored, Thresholds()).to_dicts()
    near, different, same_card = out
    assert (
        near["hard_rule"] == "near given name only" and near["band"] == "review" and not near["cannot_link"]
    )
    assert different["hard_rule"] == "different given name" and different["cannot_link"]
    assert same_card["hard_rule"] is None and same_card["band"] == "link"


def _sisters(dob_a: date | None, dob_b: date | None, **second) -> pl.DataFrame:
    household = {"sex": "F", "phone": "+84838331645", "ward": "19002", "address": "Thôn Mỹ Thủy"}
    return frame(
        [
            record(O + 1, "Đỗ Thu Thương", dob_a, cccd="044190556123", **household),
            record(O + 2, "Đỗ Thu Hương", dob_b, **{"cmnd": "194556299", **household, **second}),
        ]
    )


@pytest.mark.parametrize(
    "dob_a, dob_b",
    [(date(1990, 3, 2), date(1993, 7, 9)), (date(1990, 3, 2), None), (None, None)],
    ids=["three-years-apart", "one-date-missing", "no-dates"],
)
def test_household_given_names_one_letter_apart_never_auto_link(dob_a, dob_b):
    background = load_synth().make_residents(300, seed=3).drop("person_id", "household_id")
    result = dedupe_standardized(pl.concat([background, _sisters(dob_a, dob_b)], how="diagonal_relaxed"))
    scored = pair(result, O + 1, O + 2)
    assert scored["given_level"] == 3  # fuzzy: Thương/Hương are one letter apart
    assert scored["hard_rule"] == "near given name only" and scored["band"] != "link"
    assert cluster_of(result, O + 1) != cluster_of(result, O + 2)


@pytest.mark.parametrize(
    "dob_b, second",
    [
        (date(1990, 3, 2), {}),  # the same full birth date confirms the typo
        (None, {"cccd": "044190556123", "cmnd": None}),  # so does the same card
    ],
    ids=["same-birth-date", "same-card"],
)
def test_a_given_name_typo_confirmed_by_something_personal_still_links(dob_b, second):
    background = load_synth().make_residents(300, seed=3).drop("person_id", "household_id")
    sisters = _sisters(date(1990, 3, 2), dob_b, **second)
    result = dedupe_standardized(pl.concat([background, sisters], how="diagonal_relaxed"))
    scored = pair(result, O + 1, O + 2)
    assert scored["given_level"] == 3 and scored["hard_rule"] is None and scored["band"] == "link"
    assert cluster_of(result, O + 1) == cluster_of(result, O + 2)

"""The pieces added to keep matching fast at a million records: integer-coded features, hard rules that do not
switch off on a missing id, the middle-name TF term, scipy components, and a realistic synthetic province."""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl
import pytest
from matching_cases import frame, load_synth, record

from sachsong.matching.cluster import connected_components
from sachsong.matching.compare import SCORED_LEVELS, compare_pairs
from sachsong.matching.keys import build_features, encode_features
from sachsong.matching.scoring import MatchModel, Thresholds, score_compared


def test_encoded_features_keep_strings_recoverable_and_positions_checked():
    std = frame(
        [record(30, "Đỗ Thị Mai"), record(10, "Lê Văn Tám"), record(20, "Lê Tám", cccd="044070000001")]
    )
    encoded = encode_features(build_features(std))
    assert encoded.uids.tolist() == [10, 20, 30]  # sorted by row_uid whatever the input order
    ids, _ = encoded.array("giv_key")
    assert encoded.vocab["giv_key"].gather(ids).to_list() == ["tam", "tam", "mai"]
    _, has_middle = encoded.array("mid_key")
    assert has_middle.tolist() == [True, False, True]
    assert encoded.frame["cccd"].to_list() == [None, 44070000001, None]  # leading zero restored by position
    assert encoded.positions(np.array([30, 10])).tolist() == [2, 0]
    try:
        encoded.positions(np.array([11]))
    except ValueError as error:
        assert "11" in str(error)
    else:
        raise AssertionError("an unknown row_uid must be refused")


def test_positions_are_the_same_through_the_uid_table_and_the_binary_search():
    # Dense uids (a night's positions) are looked up in a table, sparse ones by binary search: same answers, and
    # an unknown uid below, inside or above the range is refused either way.
    dense = encode_features(build_features(frame([record(u, "Lê Văn Tám") for u in (40, 7, 12, 8)])))
    sparse = encode_features(build_features(frame([record(u, "Lê Văn Tám") for u in (40, 7, 10**8, 8)])))
    assert dense.positions(np.array([7, 40, 12, 8, 7])).tolist() == [0, 3, 2, 1, 0]
    assert sparse.positions(pl.Series([7, 10**8, 8])).tolist() == [0, 3, 1]
    for encoded in (dense, sparse):
        for unknown in (6, 9, 41):
            with pytest.raises(ValueError, match=str(unknown)):
                encoded.positions(np.array([7, unknown]))


def _score(left: dict, right: dict) -> dict:
    std = frame([left, right])
    compared = compare_pairs(pl.DataFrame({"left_uid": [1], "right_uid": [2]}), build_features(std))
    flat = {name: np.full(len(levels), 1.0 / len(levels)) for name, levels in SCORED_LEVELS.items()}
    model = MatchModel(m=flat, u=flat, prior=0.5)
    return score_compared(compared, model, build_features(std), Thresholds()).row(0, named=True)


def test_hard_rules_hold_without_an_id_and_yield_to_the_same_card():
    born = date(1990, 3, 4)
    # Different sex, different birth date, no card to compare: a hard "no" (a null id level must not hide it).
    pair = _score(record(1, "Lê Văn An", born, sex="M"), record(2, "Lê Văn An", date(1990, 5, 6), sex="F"))
    assert pair["hard_rule"] == "different sex"
    # Same given name and full birth date: the sex field was mistyped, no hard rule.
    pair = _score(record(1, "Lê Văn An", born, sex="M"), record(2, "Lê Văn An", born, sex="F"))
    assert pair["hard_rule"] is None
    # A different given name is a hard "no" unless both records carry the same card.
    pair = _score(record(1, "Lê Văn An", born), record(2, "Lê Văn Bình", born))
    assert pair["hard_rule"] == "different given name"
    card = "044090000001"
    pair = _score(record(1, "Lê Văn An", born, cccd=card), record(2, "Lê Văn Bình", born, cccd=card))
    assert pair["hard_rule"] is None


def test_common_middle_name_weighs_less_than_a_rare_one():
    rows = [record(i, "Trần Văn Hải") for i in range(1, 9)]
    rows += [record(9, "Trần Diệu Hải"), record(10, "Trần Diệu Hải")]
    std = frame(rows)
    pairs = pl.DataFrame({"left_uid": [1, 9], "right_uid": [2, 10]})
    features = build_features(std)
    flat = {name: np.full(len(levels), 1.0 / len(levels)) for name, levels in SCORED_LEVELS.items()}
    scored = score_compared(
        compare_pairs(pairs, features), MatchModel(m=flat, u=flat, prior=0.5), features, Thresholds()
    )
    common, rare = scored["tf_middle"].to_list()
    assert common < 0 < rare


def test_components_keep_input_order_and_ignore_unknown_nodes():
    nodes = pl.Series([50, 7, 9, 3])
    edges = pl.DataFrame({"left_uid": [7, 9, 3], "right_uid": [50, 999, 999]})
    components = connected_components(nodes, edges)
    assert components.rows() == [(50, 7), (7, 7), (9, 9), (3, 3)]


def test_synthetic_province_is_realistic():
    synth = load_synth()
    std = synth.make_residents(3000, seed=3)
    assert std["ward_code"].drop_nulls().n_unique() == len(synth.province_wards("44")) == 78
    people = std.unique("person_id")
    top = (
        people.group_by("sex_code", "given_name")
        .len()
        .group_by("sex_code")
        .agg((pl.col("len").max() / pl.col("len").sum()).alias("share"))
    )
    assert top.filter(pl.col("sex_code").is_not_null())["share"].max() < 0.06
    records_per_person = std.height / std["person_id"].n_unique()
    assert 1.4 < records_per_person < 1.6
    # No birth-date pile-up on the cut-off (children are born before it).
    assert std.filter(pl.col("dob_precision") == "day").group_by("dob").len()["len"].max() < 30

"""Lean mode (DedupeConfig.keep_pairs=False, issue 7): compare and score per chunk of candidate pairs, keep only
what clustering and the review queue need — and give exactly what keeping every pair gives."""

from __future__ import annotations

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from sachsong.matching import scoring
from sachsong.matching.blocking import DEFAULT_RULES, generate_candidate_pairs
from sachsong.matching.compare import compare_pairs
from sachsong.matching.dedupe import DedupeConfig, dedupe_standardized
from sachsong.matching.keys import build_features, encode_features
from sachsong.matching.scoring import Thresholds, estimate_u_random, fit_anchored, score_compared

CHUNK = 300  # the province has ~1,500 candidate pairs: several chunks run


def _std(province: pl.DataFrame) -> pl.DataFrame:
    return province.drop("person_id", "household_id")


def _assert_same_outcome(keep, lean) -> None:
    assert lean.clusters.equals(keep.clusters)
    assert lean.golden.equals(keep.golden)
    assert lean.review.equals(keep.review)
    assert lean.pairs_scored == keep.pairs_scored == keep.pairs.height
    assert lean.pairs.height == 0
    assert lean.pairs.schema == keep.pairs.schema
    assert lean.model.table().equals(keep.model.table())


def test_lean_mode_gives_the_same_clusters_golden_and_review(province, province_result):
    lean = dedupe_standardized(_std(province), config=DedupeConfig(keep_pairs=False, pair_chunk=CHUNK))
    keep = province_result
    assert keep.pairs.height > 3 * CHUNK  # several chunks
    # The comparison means something only if the outcome has merges, review pairs and cut links.
    assert keep.golden.filter(pl.col("cluster_size") > 1).height > 100
    assert keep.review.height > 0
    assert set(keep.review["reason"]) > {"uncertain score"}
    _assert_same_outcome(keep, lean)
    # The review queue's explanation (per-field weights) came through for every listed pair.
    assert lean.review["given_dob_weight"].null_count() == 0
    assert lean.review["tf_family"].null_count() == 0
    assert "candidate pairs scored" in lean.describe() and str(keep.pairs.height) in lean.describe()


def test_lean_mode_applies_steward_decisions_the_same_way(province, province_result):
    keep_all = province_result
    review_pair = keep_all.review.row(0, named=True)
    linked = keep_all.pairs.filter(pl.col("band") == "link").row(0, named=True)
    candidates = set(zip(keep_all.pairs["left_uid"], keep_all.pairs["right_uid"], strict=True))
    uids = sorted(province["row_uid"])
    stranger = next((a, b) for a, b in zip(uids, uids[500:], strict=False) if (a, b) not in candidates)
    decisions = pl.DataFrame(
        {
            "left_row_uid": [review_pair["left_row_uid"], linked["left_uid"], stranger[0]],
            "right_row_uid": [review_pair["right_row_uid"], linked["right_uid"], stranger[1]],
            "decision": ["same", "different", "same"],
        }
    ).with_columns(pl.all().cast(pl.String))
    std = _std(province)
    keep = dedupe_standardized(std, decisions=decisions)
    lean = dedupe_standardized(
        std, decisions=decisions, config=DedupeConfig(keep_pairs=False, pair_chunk=CHUNK)
    )
    assert keep.decisions_applied == lean.decisions_applied == 3
    assert keep.pairs_scored == keep_all.pairs_scored + 1  # the steward's own pair was scored too
    _assert_same_outcome(keep, lean)
    cluster_of = dict(zip(lean.clusters["row_uid"], lean.clusters["cluster_id"], strict=True))
    assert cluster_of[stranger[0]] == cluster_of[stranger[1]]
    assert cluster_of[linked["left_uid"]] != cluster_of[linked["right_uid"]]


def test_lean_mode_fits_plain_em_on_every_pair(province):
    std = _std(province)
    keep = dedupe_standardized(std, config=DedupeConfig(estimation="em"))
    lean = dedupe_standardized(std, config=DedupeConfig(estimation="em", keep_pairs=False, pair_chunk=CHUNK))
    assert keep.model.method == "em" and keep.model.iterations > 1
    _assert_same_outcome(keep, lean)


def test_scoring_in_chunks_equals_scoring_at_once_and_counts_the_records_once(province, monkeypatch):
    features = build_features(_std(province))
    pairs, _ = generate_candidate_pairs(encode_features(features).frame, DEFAULT_RULES, 10_000)
    compared = compare_pairs(pairs, encode_features(features))
    u = estimate_u_random(encode_features(features), 20_000, 11)
    model = fit_anchored(compared, u, records_with_cccd=features["cccd"].count())
    at_once = score_compared(compared, model, encode_features(features), Thresholds())
    assert (at_once["household_dependence_weight"] < 0).any()  # the household statistic is in play
    assert (at_once["tf_family"] != 0).any()

    calls = []
    counted = scoring._collision_within

    def counting(*args):
        calls.append(args[2])
        return counted(*args)

    monkeypatch.setattr(scoring, "_collision_within", counting)
    encoded = encode_features(features)  # fresh: nothing measured yet
    chunks = [
        score_compared(compared.slice(start, 250), model, encoded, Thresholds())
        for start in range(0, compared.height, 250)
    ]
    assert len(chunks) > 3
    # Equal up to the last bit of the summed weights: polars' horizontal sum is not bit-stable from run to run
    # (keep_pairs=True differs from itself the same way); bands, rules and levels must match exactly.
    assert_frame_equal(pl.concat(chunks), at_once, rel_tol=1e-12, abs_tol=1e-12)
    # Three within-ward collision rates (phone, address, both), measured once for all the chunks.
    assert sorted(calls) == [("addr_key",), ("phone_e164",), ("phone_e164", "addr_key")]
    table, _ = encoded.array("fam_key")
    with pytest.raises(ValueError):  # a shared statistic cannot be changed by a caller
        scoring.term_frequency_by_id(encoded, "fam_key")[0] = 1.0
    assert table is encoded.array("fam_key")[0]


def test_pair_chunk_must_be_positive():
    with pytest.raises(ValueError, match="pair_chunk"):
        DedupeConfig(keep_pairs=False, pair_chunk=0)

"""One record, one person: a record without a full birth date shares its evidence among the namesakes it could be.

A record whose birth date is missing (or year-only) agrees with every namesake of its ward on all it has — name,
ward, sex. Fellegi–Sunter scores each such pair alone, so the record links to all of them and the clusters chain
different people together, or it links to the wrong one. But it can be at most one of them. Among its candidates
that carry a full date, those already linked together (by pairs that both have a date) are one person; the
others compete. With odds o_g for each competing person g, the probability that the record is g given that it
is at most one of them is o_g / (1 + Σ_h o_h), i.e. the pair's odds are divided by 1 + Σ_(h≠g) o_h. A record with
one plausible person keeps its score; one with two equally likely namesakes drops to the review band.
"""

from __future__ import annotations

import numpy as np
import polars as pl
from scipy.sparse import coo_matrix, csgraph

from sachsong.matching.keys import EncodedFeatures
from sachsong.matching.scoring import NEAR_GIVEN_NAME


def _persons_with_dates(n: int, left: np.ndarray, right: np.ndarray, link: np.ndarray) -> np.ndarray:
    """Component label per record over the link edges whose two records both carry a full date."""
    graph = coo_matrix((np.ones(int(link.sum()), dtype=np.int8), (left[link], right[link])), shape=(n, n))
    return csgraph.connected_components(graph.tocsr(), directed=False)[1]


def share_among_namesakes(scored: pl.DataFrame, encoded: EncodedFeatures) -> pl.DataFrame:
    """Adds `namesake_weight` (≤ 0, log2 of the odds divisor) and lowers `match_weight` by it for the pairs
    where exactly one record lacks a full birth date and that record has other plausible persons.

    `scored` needs `left_uid, right_uid, match_weight, probability, hard_rule, band`.
    """
    n_pairs = scored.height
    penalty = np.zeros(n_pairs)
    if n_pairs:
        left = encoded.positions(scored["left_uid"])
        right = encoded.positions(scored["right_uid"])
        _, has_day = encoded.array("dob_day")
        both_dated = has_day[left] & has_day[right]
        one_dated = has_day[left] ^ has_day[right]
        band_link = (scored["band"] == "link").to_numpy()
        if one_dated.any():
            person = _persons_with_dates(encoded.height, left, right, band_link & both_dated)
            # Odds of each pair as a competitor: a hard-ruled pair is not a plausible person (a near given name
            # with nothing personal to confirm it still is: too little evidence, not evidence against).
            probability = scored["probability"].fill_null(0.0).to_numpy().clip(0.0, 1.0 - 1e-12)
            rule = scored["hard_rule"]
            plausible = (rule.is_null() | (rule == NEAR_GIVEN_NAME)).fill_null(True).to_numpy()
            odds = np.where(plausible, probability / (1.0 - probability), 0.0)
            index = np.flatnonzero(one_dated)
            undated = np.where(has_day[left[index]], right[index], left[index])
            dated = np.where(has_day[left[index]], left[index], right[index])
            halves = pl.DataFrame(
                {"pair": index, "record": undated, "person": person[dated], "odds": odds[index]}
            )
            per_person = halves.group_by("record", "person").agg(pl.col("odds").max().alias("person_odds"))
            total = per_person.group_by("record").agg(pl.col("person_odds").sum().alias("total_odds"))
            shared = halves.join(per_person, on=["record", "person"]).join(total, on="record")
            others = (shared["total_odds"] - shared["person_odds"]).clip(lower_bound=0.0).to_numpy()
            penalty[shared["pair"].to_numpy()] = -np.log2(1.0 + others)
    return scored.with_columns(
        pl.Series("namesake_weight", penalty, dtype=pl.Float64),
        (pl.col("match_weight") + pl.Series(penalty)).alias("match_weight"),
    )

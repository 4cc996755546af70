"""Unsupervised Fellegi–Sunter scoring: m/u by EM on the candidate pairs, term-frequency adjustment for names,
hard rules where the domain is certain.

EM runs on the distinct comparison patterns (a few thousand rows whatever the number of pairs), so it costs
milliseconds. u starts from random record pairs (what agreement looks like between strangers); by default EM
then re-estimates u on the candidate pairs too, because the non-matches that blocking brings together are
households and namesakes, who agree on family name, phone and ward far more often than strangers do — keeping
the random-pair u would count a shared household phone as strong evidence of identity.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np
import polars as pl

from sachsong.matching.compare import SCORED as COMPARISONS
from sachsong.matching.compare import SCORED_LEVELS as LEVELS
from sachsong.matching.compare import compare_pairs, level, levels
from sachsong.matching.keys import EncodedFeatures, encode_features

EPSILON = 1e-6
TF_CLIP = 5.0  # bits: a very rare name may add at most this much, a very common one remove at most this much


@dataclass
class MatchModel:
    """Fellegi–Sunter parameters: per comparison and level, m = P(level | match), u = P(level | non-match)."""

    m: dict[str, np.ndarray]
    u: dict[str, np.ndarray]
    prior: float  # match share: among candidate pairs (EM) or among all pairs (anchored)
    iterations: int = 0
    converged: bool = False
    u_random: dict[str, np.ndarray] = field(default_factory=dict)
    method: str = "em"  # "em" or "anchored" (m from same-CCCD pairs, u from random pairs)
    anchors: int = 0  # same-card candidate pairs m was measured on
    anchor_card: str = "CCCD"  # the card the anchors share (CMND when a register holds too few CCCDs)

    def weights(self, comparison: str) -> np.ndarray:
        """log2(m/u) per level; a level neither matches nor strangers ever show (m = u = 0) weighs nothing."""
        m, u = self.m[comparison], self.u[comparison]
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.log2(np.where(u > 0, m, 1.0) / np.where(u > 0, u, 1.0))
        # u = 0 with m > 0 would be an infinite weight: cap it like a level seen once in a million pairs.
        return np.where(u > 0, ratio, np.where(m > 0, np.log2(np.maximum(m, EPSILON) / EPSILON), 0.0))

    def prior_weight(self) -> float:
        return float(np.log2(self.prior / (1.0 - self.prior)))

    def table(self) -> pl.DataFrame:
        """One row per comparison level with its m, u and match weight, for explanation and reports."""
        rows = []
        for name in COMPARISONS:
            for code, label in enumerate(LEVELS[name]):
                rows.append(
                    {
                        "comparison": name,
                        "level": code,
                        "label": label,
                        "m": float(self.m[name][code]),
                        "u": float(self.u[name][code]),
                        "u_random": float(self.u_random[name][code]) if self.u_random else None,
                        "match_weight": float(self.weights(name)[code]),
                    }
                )
        return pl.DataFrame(rows)


def random_pairs(features: pl.DataFrame | EncodedFeatures, n_pairs: int, seed: int) -> pl.DataFrame:
    """Uniformly random distinct record pairs (almost all non-matches) for the u estimate."""
    rng = np.random.default_rng(seed)
    frame = features.frame if isinstance(features, EncodedFeatures) else features
    uids = frame["row_uid"].sort().to_numpy()  # by uid, so the sample does not depend on input order
    if len(uids) < 2:
        return pl.DataFrame(schema={"left_uid": pl.Int64, "right_uid": pl.Int64})
    left = rng.integers(0, len(uids), n_pairs)
    right = rng.integers(0, len(uids), n_pairs)
    keep = left != right
    return pl.DataFrame({"left_uid": uids[left[keep]], "right_uid": uids[right[keep]]}).cast(pl.Int64)


# Comparisons made only between records of one ward: their u is measured on random pairs inside a ward.
WITHIN_WARD: tuple[str, ...] = ("address", "source")


def random_pairs_same_ward(encoded: EncodedFeatures, n_pairs: int, seed: int) -> pl.DataFrame:
    """Uniformly random distinct record pairs inside one ward (a record drawn at random, its partner at random
    among the other records of its ward): how strangers who are neighbours agree."""
    rng = np.random.default_rng(seed + 1)
    wards, present = encoded.array("ward_code")
    keyed = np.flatnonzero(present)
    if len(keyed) < 2:
        return pl.DataFrame(schema={"left_uid": pl.Int64, "right_uid": pl.Int64})
    order = keyed[np.argsort(wards[keyed], kind="stable")]  # positions grouped by ward, uid order inside
    sorted_wards = wards[order]
    starts = np.searchsorted(sorted_wards, sorted_wards, side="left")
    ends = np.searchsorted(sorted_wards, sorted_wards, side="right")
    pick = rng.integers(0, len(order), n_pairs)
    size = ends[pick] - starts[pick]
    partner = starts[pick] + (rng.random(n_pairs) * size).astype(np.int64)
    keep = (size > 1) & (partner != pick)
    uids = encoded.uids
    return pl.DataFrame({"left_uid": uids[order[pick[keep]]], "right_uid": uids[order[partner[keep]]]}).cast(
        pl.Int64
    )


def level_frequencies(compared: pl.DataFrame, weights: pl.Series | None = None) -> dict[str, np.ndarray]:
    """Smoothed share of each level among the pairs where the comparison is possible."""
    out = {}
    for name in COMPARISONS:
        k = len(LEVELS[name])
        codes = compared[f"{name}_level"]
        counts = np.full(k, 1.0)  # add-one smoothing: no level is ever impossible
        present = codes.is_not_null()
        values = codes.filter(present).to_numpy().astype(int)
        w = np.ones(len(values)) if weights is None else weights.filter(present).to_numpy()
        np.add.at(counts, values, w)
        out[name] = counts / counts.sum()
    return out


def _marginal(codes: pl.Series, k: int) -> np.ndarray:
    """Share of each level plus a last cell for "missing", add-half smoothed."""
    values = codes.fill_null(k).to_numpy().astype(int)
    counts = np.bincount(values, minlength=k + 1).astype(float) + 0.5
    return counts / counts.sum()


def estimate_u_random(
    features: pl.DataFrame | EncodedFeatures, n_pairs: int = 200_000, seed: int = 11
) -> dict[str, np.ndarray]:
    """u from random record pairs (strangers).

    The joint given-name × birth-date u is the product of the two marginals: for two strangers the name and
    the date are independent, and the product is far less noisy than counting joint cells directly (two random
    records share a name and a full birth date about once in a million pairs).
    """
    encoded = features if isinstance(features, EncodedFeatures) else encode_features(features)
    compared = compare_pairs(random_pairs(encoded, n_pairs, seed), encoded)
    u = level_frequencies(compared)
    given = _marginal(compared["given_level"], 5)
    dob = _marginal(compared["dob_level"], 5)
    joint = np.outer(given, dob).reshape(-1)
    joint[-1] = EPSILON  # both missing: not comparable, never scored (kept non-zero for the log ratio)
    u["given_dob"] = joint / joint.sum()
    # Address detail and source register are only compared inside a ward: their u is how neighbours agree.
    neighbours = compare_pairs(random_pairs_same_ward(encoded, n_pairs, seed), encoded)
    if neighbours.height:
        within = level_frequencies(neighbours)
        u.update({name: within[name] for name in WITHIN_WARD})
    return u


def _initial_m() -> dict[str, np.ndarray]:
    out = {}
    for name in COMPARISONS:
        k = len(LEVELS[name])
        if name == "id":
            m = np.array([0.55, 0.35, 0.08, 0.01, 0.01])
        elif name == "source":
            m = np.ones(k)  # no belief either way: EM learns whether a register holds a person twice
        elif name == "given_dob":
            # Agreement on both is likely for a match; the joint code is given * 6 + dob.
            g, d = np.divmod(np.arange(k), 6)
            m = 0.15 ** np.minimum(g, 4) * 0.2 ** np.minimum(d, 4)
        else:
            m = 0.15 ** np.arange(k)
        out[name] = m / m.sum()
    return out


def fit_em(
    compared: pl.DataFrame,
    u_start: dict[str, np.ndarray],
    estimate_u: bool | tuple[str, ...] = True,
    max_iterations: int = 60,
    tolerance: float = 1e-6,
    m_start: dict[str, np.ndarray] | None = None,
    fixed_m: bool = False,
) -> MatchModel:
    """EM on the distinct comparison patterns of the candidate pairs (no labels).

    estimate_u: True (every comparison), False (keep `u_start`), or the names whose u EM re-estimates.
    fixed_m: keep `m_start` for every comparison whose u is also kept (only the free ones move)."""
    level_cols = [f"{c}_level" for c in COMPARISONS]
    patterns = compared.lazy().group_by(level_cols).len("count").sort(level_cols, nulls_last=True).collect()
    codes = patterns.select(pl.col(level_cols).fill_null(-1)).to_numpy().astype(int)
    counts = patterns["count"].to_numpy().astype(float)
    m = {k: v.copy() for k, v in (m_start or _initial_m()).items()}
    u = {k: v.copy() for k, v in u_start.items()}

    def free(name: str) -> bool:
        return estimate_u is True or bool(estimate_u and name in estimate_u)

    prior = 0.3
    iterations, converged = 0, False
    for iterations in range(1, max_iterations + 1):  # noqa: B007 - the count is reported
        log_odds = np.full(len(counts), np.log(prior / (1 - prior)))
        for j, name in enumerate(COMPARISONS):
            present = codes[:, j] >= 0
            w = np.log(m[name] / u[name])
            log_odds[present] += w[codes[present, j]]
        posterior = 1.0 / (1.0 + np.exp(-np.clip(log_odds, -50, 50)))
        match_mass = counts * posterior
        non_mass = counts * (1 - posterior)
        new_prior = float(np.clip(match_mass.sum() / counts.sum(), EPSILON, 1 - EPSILON))
        change = abs(new_prior - prior)
        for j, name in enumerate(COMPARISONS):
            k = len(LEVELS[name])
            present = codes[:, j] >= 0
            if fixed_m and not free(name):
                continue
            mm = np.bincount(codes[present, j], weights=match_mass[present], minlength=k) + EPSILON
            new_m = mm / mm.sum()
            change = max(change, float(np.abs(new_m - m[name]).max()))
            m[name] = new_m
            if free(name):
                uu = np.bincount(codes[present, j], weights=non_mass[present], minlength=k) + EPSILON
                new_u = uu / uu.sum()
                change = max(change, float(np.abs(new_u - u[name]).max()))
                u[name] = new_u
        prior = new_prior
        if change < tolerance:
            converged = True
            break
    return MatchModel(m=m, u=u, prior=prior, iterations=iterations, converged=converged, u_random=u_start)


MIN_ANCHOR_PAIRS = 200  # below this many same-CCCD candidate pairs, fall back to plain EM

# P(identity-number level | match) where no anchor can measure it: a person's CCCD/CMND is the same on every
# record except for typing slips. Levels: same_cccd, same_cmnd, one_digit_apart, different_cmnd, different_cccd.
ID_M_DOMAIN = np.array([0.60, 0.37, 0.02, 0.006, 0.004])


def _no_worse_than_different(name: str, m: np.ndarray, u: np.ndarray) -> np.ndarray:
    """m raised where a level would weigh less than "different": any agreement short of "different" (a fuzzy
    name, a dropped middle name, a phone one slip off, a partial address) is at least as much a sign of one
    person. Only a level the anchors (almost) never show falls below it, through the smoothing towards u
    (m = u·50 / (anchors + 50): −12 bits at 180k anchors). Renormalized (the added mass is tiny)."""
    labels = LEVELS[name]
    if name not in MONOTONE_COMPARISONS or "different" not in labels:
        return m
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(u > 0, m / u, np.inf)
    floor = ratio[labels.index("different")]
    raised = np.where(ratio < floor, u * floor, m)
    return raised / raised.sum()


# Comparisons whose levels are all closer agreements than their "different" level (not `source`: a shared
# register may be evidence either way; not `id`: its m is fixed; not the joint name × date).
MONOTONE_COMPARISONS: tuple[str, ...] = ("family", "middle", "phone", "ward", "sex", "address")


def fit_anchored(
    compared: pl.DataFrame,
    u_random: dict[str, np.ndarray],
    records_with_cccd: int,
    smoothing: float = 50.0,
    records_with_cmnd: int = 0,
) -> MatchModel | None:
    """Fellegi–Sunter parameters measured without labels, anchored on the identity card.

    - m: two records with the same CCCD are one person, so the candidate pairs sharing a CCCD show how every
      other field behaves for a match (typos, dropped middle names, swapped dates, moves, new phones);
    - u: random record pairs show how strangers agree (the classic, population-level u);
    - prior: the share of same-CCCD pairs among all pairs of records that carry a CCCD is the population's
      match rate, so probabilities stay calibrated as the province grows (more namesakes, weaker name evidence).
    Counts are smoothed towards u (`smoothing` pseudo-pairs) so a level never seen among the anchors gets a sane
    weight. A register of old cards only (too few same-CCCD pairs) is anchored the same way on the 9-digit CMND,
    which also names one person. Returns None when there are too few anchors; the caller then runs plain EM.
    """
    same_cards = (
        ("CCCD", level("id", "same_cccd"), records_with_cccd),
        ("CMND", level("id", "same_cmnd"), records_with_cmnd),
    )
    for card, card_level, records in same_cards:  # noqa: B007
        # Lazy: an eager filter would first copy `compared` whole when it is stacked from chunks (lean mode).
        same = compared.lazy().filter(pl.col("id_level") == card_level).collect()
        pairs_with_card = records * (records - 1) / 2
        if same.height >= MIN_ANCHOR_PAIRS and pairs_with_card > same.height:
            break
    else:
        return None
    m, u = {}, {}
    for name in COMPARISONS:
        u[name] = u_random[name].copy()
        if name == "id":
            m[name] = ID_M_DOMAIN / ID_M_DOMAIN.sum()
            continue
        codes = same[f"{name}_level"].drop_nulls().to_numpy().astype(int)
        counts = np.bincount(codes, minlength=len(LEVELS[name])).astype(float) + smoothing * u_random[name]
        m[name] = _no_worse_than_different(name, counts / counts.sum(), u[name])
    prior = same.height / pairs_with_card
    return MatchModel(
        m=m,
        u=u,
        prior=prior,
        iterations=0,
        converged=True,
        u_random=u_random,
        method="anchored",
        anchors=same.height,
        anchor_card=card,
    )


def term_frequencies(features: pl.DataFrame, key: str) -> pl.DataFrame:
    """Per value of a name key: the TF adjustment log2(Σp² / p_value), clipped, for an exact agreement on it.

    Agreeing on "nguyen" (p ≈ 0.38) says less than agreeing on a rare family name; Σp² is the chance two random
    records agree on this key at all, so the adjustment averages to about zero over agreeing pairs.
    """
    counts = features.select(pl.col(key)).drop_nulls().group_by(key).len("n")
    total = counts["n"].sum()
    if not total:
        return pl.DataFrame(schema={key: pl.String, "tf_adjustment": pl.Float64})
    p = pl.col("n") / total
    collision = float((counts["n"].cast(pl.Float64) / total).pow(2).sum())
    return counts.select(key, (np.log2(collision) - p.log(2)).clip(-TF_CLIP, TF_CLIP).alias("tf_adjustment"))


Statistic = TypeVar("Statistic")


def per_records(function: Callable[..., Statistic]) -> Callable[..., Statistic]:
    """Computed once per EncodedFeatures and argument tuple: a statistic of the records, not of the pairs.

    Pairs may be scored chunk by chunk (`DedupeConfig.pair_chunk`); recounting the province for every chunk
    would make scoring grow with records × chunks. Arrays come back read-only (they are shared)."""

    @functools.wraps(function)
    def once(encoded: EncodedFeatures, *args: object) -> Statistic:
        memo = vars(encoded).setdefault("_per_records", {})
        key = (function.__name__, *args)
        if key not in memo:
            value = function(encoded, *args)
            for item in value if isinstance(value, tuple) else (value,):
                if isinstance(item, np.ndarray):
                    item.setflags(write=False)
            memo[key] = value
        return memo[key]

    return once


@per_records
def term_frequency_by_id(encoded: EncodedFeatures, column: str) -> np.ndarray:
    """`term_frequencies` per dictionary id of an encoded vocab column (0 for an id no record carries)."""
    counts = encoded.counts(column).astype(np.float64)
    total = counts.sum()
    if not total:
        # No record carries the key: one zero cell, so that looking up the null-filled id 0 still works.
        return np.zeros(max(len(counts), 1))
    p = counts / total
    collision = float((p**2).sum())
    with np.errstate(divide="ignore"):
        tf = np.log2(collision) - np.log2(p)
    return np.where(counts > 0, np.clip(tf, -TF_CLIP, TF_CLIP), 0.0)


# A ward's own name frequencies are shrunk towards the province's by this many pseudo-records (a small ward
# measures its rare names coarsely).
WARD_TF_PSEUDO_RECORDS = 100.0


def term_frequency_in_ward(encoded: EncodedFeatures, column: str, positions: np.ndarray) -> np.ndarray:
    """`term_frequency_by_id` of each record's value measured among the records of its own ward.

    Names cluster by place (a village of one clan, a family name common in one region): agreeing on a name that
    is rare in the province but common in the ward says little about two neighbours. The ward's share of the
    value is shrunk towards the province's (`WARD_TF_PSEUDO_RECORDS`); the reference Σp² stays the province's,
    the same as for `term_frequency_by_id`. A record without a ward or a value gets the province figure.
    """
    ids, _ = encoded.array(column)
    wards, _ = encoded.array("ward_code")
    out = term_frequency_by_id(encoded, column)[ids[positions]] if len(positions) else np.zeros(0)
    keep, share, collision, ward_values, in_ward, keys, key_counts = _ward_value_counts(encoded, column)
    if not keep.any() or not len(positions):
        return out
    width = np.int64(len(share))
    asked = keep[positions]
    ward_asked = np.minimum(np.searchsorted(ward_values, wards[positions[asked]]), len(ward_values) - 1)
    value_asked = ids[positions[asked]].astype(np.int64)
    key_asked = ward_asked.astype(np.int64) * width + value_asked
    j = np.minimum(np.searchsorted(keys, key_asked), len(keys) - 1)
    local = np.where(keys[j] == key_asked, key_counts[j], 0).astype(np.float64)
    p_ward = (local + WARD_TF_PSEUDO_RECORDS * share[value_asked]) / (
        in_ward[ward_asked] + WARD_TF_PSEUDO_RECORDS
    )
    with np.errstate(divide="ignore"):
        out[asked] = np.clip(np.log2(collision) - np.log2(p_ward), -TF_CLIP, TF_CLIP)
    return out


@per_records
def _ward_value_counts(encoded: EncodedFeatures, column: str) -> tuple:
    """For `term_frequency_in_ward`: which records count (a value and a ward), the province's shares and Σp²,
    the sorted wards with their record counts, and the sorted ward × value keys with theirs."""
    ids, present = encoded.array(column)
    wards, has_ward = encoded.array("ward_code")
    counts = encoded.counts(column).astype(np.float64)
    total = counts.sum()
    keep = present & has_ward if total else np.zeros(len(ids), dtype=bool)
    share = counts / total if total else counts
    collision = float((share**2).sum())
    ward_values = np.unique(wards[keep])
    ward_of = np.searchsorted(ward_values, wards[keep])
    in_ward = np.bincount(ward_of, minlength=len(ward_values)).astype(np.float64)
    keys, key_counts = np.unique(
        ward_of.astype(np.int64) * np.int64(len(counts)) + ids[keep], return_counts=True
    )
    return keep, share, collision, ward_values, in_ward, keys, key_counts


# (column, key, comparison, highest level that means "the keys are equal"). The middle name matters as much as
# the others: "Văn"/"Thị" are carried by ~40% of their sex, a rare middle name is strong evidence.
TF_TERMS: tuple[tuple[str, str, str, int], ...] = (
    ("tf_given", "giv_key", "given", 2),
    ("tf_family", "fam_key", "family", 1),
    ("tf_middle", "mid_key", "middle", 0),
)


MAX_NAME_DEPENDENCE = 2.0  # bits

# The soft hard rule: a fuzzy given name with nothing personal (birth date, card) to confirm it.
NEAR_GIVEN_NAME = "near given name only"


@per_records
def _collision(encoded: EncodedFeatures, columns: tuple[str, ...]) -> float:
    """The chance that two distinct random records (both carrying every column) agree on all of `columns`:
    Σ c(c-1) / N(N-1) over the values' counts c (Σ p² would count each record paired with itself, which
    dominates on a small table where most full names are unique)."""
    present = np.ones(encoded.height, dtype=bool)
    codes = np.zeros(encoded.height, dtype=np.uint64)
    for column in columns:
        values, has = encoded.array(column)
        present &= has
        # Combine the columns into one 64-bit code (a multiply-xor hash; collisions only blur the estimate).
        codes = (codes * np.uint64(0x9E3779B97F4A7C15)) ^ values.astype(np.int64).view(np.uint64)
    if present.sum() < 2:
        return 0.0
    _, counts = np.unique(codes[present], return_counts=True)
    counts = counts.astype(np.float64)
    total = counts.sum()
    return float((counts * (counts - 1)).sum() / (total * (total - 1)))


def name_dependence(compared: pl.DataFrame, encoded: EncodedFeatures) -> pl.Series:
    """A correction (bits, ≤ 0 on average) for weighing name parts and sex as if they were independent.

    They are not: "Văn"/"Thị" and most given names tell the sex, and a middle name goes with given names, so
    two strangers agree on the whole name and sex far more often than the product of the parts says (2.6× on
    the synthetic province). Measured here on the records themselves, no labels: log2 of the ratio between the
    collision rate of the combination and the product of the parts' rates, charged to the pairs agreeing on it.
    """
    parts = {c: _collision(encoded, (c,)) for c in ("fam_key", "mid_key", "giv_key", "sex_code")}

    def excess(columns: tuple[str, ...]) -> float:
        independent = float(np.prod([parts[c] for c in columns]))
        joint = _collision(encoded, columns)
        return float(np.log2(joint / independent)) if joint > 0 and independent > 0 else 0.0

    # Never a bonus, and at most 2 bits back (a small table measures the joint rates coarsely).
    whole = float(np.clip(excess(("fam_key", "mid_key", "giv_key", "sex_code")), 0.0, MAX_NAME_DEPENDENCE))
    given_sex = float(np.clip(excess(("giv_key", "sex_code")), 0.0, MAX_NAME_DEPENDENCE))
    level = {c: compared[f"{c}_level"].fill_null(99).to_numpy() for c in ("given", "family", "middle", "sex")}
    given_and_sex = (level["given"] <= 2) & (level["sex"] == 0)
    everything = given_and_sex & (level["family"] <= 1) & (level["middle"] == 0)
    correction = np.where(everything, -whole, np.where(given_and_sex, -given_sex, 0.0))
    return pl.Series("name_dependence_weight", correction, dtype=pl.Float64)


def _collision_within(
    encoded: EncodedFeatures, group: str, columns: tuple[str, ...], mask: np.ndarray
) -> float:
    """The chance that two distinct random records of one `group` (a ward) agree on all of `columns`, among the
    records in `mask`: Σ over (group, values) c(c-1) / Σ over groups n(n-1)."""
    groups, _ = encoded.array(group)
    group_codes = groups.astype(np.int64).view(np.uint64)[mask]
    codes = group_codes.copy()
    for column in columns:
        values, _ = encoded.array(column)
        codes = (codes * np.uint64(0x9E3779B97F4A7C15)) ^ values[mask].astype(np.int64).view(np.uint64)

    def pairs(keys: np.ndarray) -> float:
        counts = np.unique(keys, return_counts=True)[1].astype(np.float64)
        return float((counts * (counts - 1)).sum())

    total = pairs(group_codes)
    return pairs(codes) / total if total > 0 else 0.0


@per_records
def _household_excess(encoded: EncodedFeatures) -> float:
    """log2 of (phone, address) agreeing together over agreeing apart, inside one ward (uncapped)."""
    _, has_ward = encoded.array("ward_code")
    _, has_phone = encoded.array("phone_e164")
    _, has_address = encoded.array("addr_key")
    mask = has_ward & has_phone & has_address
    excess = 0.0
    if mask.sum() > 2:
        phone = _collision_within(encoded, "ward_code", ("phone_e164",), mask)
        address = _collision_within(encoded, "ward_code", ("addr_key",), mask)
        both = _collision_within(encoded, "ward_code", ("phone_e164", "addr_key"), mask)
        if both > 0 and phone > 0 and address > 0:
            excess = float(np.log2(both / (phone * address)))
    return excess


def household_dependence(compared: pl.DataFrame, encoded: EncodedFeatures, model: MatchModel) -> pl.Series:
    """A correction (bits, ≤ 0) for weighing a shared phone and a shared address as independent evidence.

    A household shares both: inside one ward, two different people who share a phone almost always share the
    address too, so for a pair agreeing on both the address adds little to what the phone said. Measured on the
    records (no labels): log2 of the ratio between the within-ward collision rate of (phone, address) and the
    product of the two rates, charged to the pairs agreeing on both (at most the smaller of the two agreement
    weights: the correction never makes agreeing on both worth less than agreeing on one).
    """
    excess = _household_excess(encoded)
    cap = max(0.0, min(float(model.weights("phone")[0]), float(model.weights("address")[0])))
    excess = float(np.clip(excess, 0.0, cap))
    agree = (compared["phone_level"] == 0) & (compared["address_level"] == 0)
    correction = np.where(agree.fill_null(False).to_numpy(), -excess, 0.0)
    return pl.Series("household_dependence_weight", correction, dtype=pl.Float64)


@dataclass(frozen=True)
class Thresholds:
    link: float = 0.7  # auto-link at or above this (calibrated) probability
    review: float = 0.1  # send to stewards between review and link
    cannot_link_weight: float = -8.0  # a scored pair this far below zero forbids merging its two records
    # Birth years this far apart (and the dates not near each other) are two generations of one household, who
    # share its family name, phone and address: never auto-linked without the same card.
    generation_years: int = 15
    # A hard-ruled pair reaches the stewards only from this probability up (else it is distinct): below it such
    # pairs are nearly all different people (a different given name, different generations), so listing them
    # only buries the real questions (docs/matching.md).
    review_hard: tuple[tuple[str, float], ...] = (
        ("different given name", 0.99),
        ("different generation", 0.99),
    )


def score_compared(
    compared: pl.DataFrame,
    model: MatchModel,
    features: pl.DataFrame | EncodedFeatures,
    thresholds: Thresholds,
) -> pl.DataFrame:
    """Per-field weights, TF adjustments, total weight, probability, hard rules and the pair's band."""
    encoded = features if isinstance(features, EncodedFeatures) else encode_features(features)
    if "years_apart" not in compared.columns:  # levels built by hand: no birth-year gap to test
        compared = compared.with_columns(pl.lit(None, dtype=pl.Int16).alias("years_apart"))
    columns = []
    for name in COMPARISONS:
        codes = compared[f"{name}_level"]
        weights = model.weights(name)
        # Missing (null) carries no weight: look up level k in weights, null → an extra 0.0 cell.
        table = np.append(weights, 0.0)
        index = codes.fill_null(len(weights)).to_numpy().astype(np.intp)
        columns.append(pl.Series(f"{name}_weight", table[index], dtype=pl.Float64))
    # TF adjustments apply to an exact agreement on the key (the left key then equals the right one).
    left = encoded.positions(compared["left_uid"])
    tf_columns = []
    same_ward = (compared["ward_level"] == 0).fill_null(False).to_numpy()
    for name, column, comparison, agree in TF_TERMS:
        ids, present = encoded.array(column)
        tf = term_frequency_by_id(encoded, column)[ids[left]]
        # Two neighbours: how common the name is in their own ward.
        tf[same_ward] = term_frequency_in_ward(encoded, column, left[same_ward])
        level = compared[f"{comparison}_level"].fill_null(99).to_numpy()
        tf_columns.append(pl.Series(name, np.where(present[left] & (level <= agree), tf, 0.0)))
    out = compared.with_columns(
        *columns,
        *tf_columns,
        name_dependence(compared, encoded),
        household_dependence(compared, encoded, model),
    )
    weight_cols = [f"{name}_weight" for name in COMPARISONS] + [term[0] for term in TF_TERMS]
    weight_cols += ["name_dependence_weight", "household_dependence_weight"]
    # Summed left to right in a fixed order: pl.sum_horizontal adds the columns in parallel in an order that varies
    # between runs, and its last-bit noise flipped pairs tied at a threshold (the same input, other clusters).
    match_weight = pl.lit(model.prior_weight())
    for column in weight_cols:
        match_weight = match_weight + pl.col(column).fill_null(0.0)  # as sum_horizontal: a null adds nothing
    out = out.with_columns(match_weight.alias("match_weight"))
    return decide_bands(out, thresholds)


def decide_bands(scored: pl.DataFrame, thresholds: Thresholds) -> pl.DataFrame:
    """From `match_weight` and the levels: `hard_rule`, `probability`, `band` (link/review/distinct) and
    `cannot_link`. Re-run after anything adjusts `match_weight`."""
    out = scored
    # Hard rules: two different valid CCCDs are two people; a different sex or given name (both present) is a
    # strong "no" that a steward may still overrule, so those pairs can reach review but never auto-link (a same
    # CCCD/CMND outweighs a differing sex or given name: the card is the identity, the register's field was
    # mistyped). A null id level (no comparable card) must not switch the rules off.
    same_card = pl.col("id_level").is_in(levels("id", "same_cccd", "same_cmnd")).fill_null(False)
    # The same given name and a compatible birth date (the same day, swapped, one slip, or the same year where
    # one side only has the year) with a different sex is a mistyped sex field, not a twin (twins differ in the
    # given name): on the synthetic province such pairs were all one person.
    same_name_and_day = (
        (pl.col("given_level") <= level("given", "same_letters_other_marks"))
        & (pl.col("dob_level") <= level("dob", "same_year_imprecise"))
    ).fill_null(False)
    # Missing evidence is not evidence of identity: a parent and a child whose only disagreement left is the
    # birth date (the child's name missing, the parent's card malformed) must not link on the household's
    # phone and address.
    different_generation = (
        (pl.col("dob_level") == level("dob", "different")) & (pl.col("years_apart") >= thresholds.generation_years)
    ).fill_null(False)
    # A given name one or two letters off is a typo only when something personal confirms the person: in
    # Vietnamese, names one letter apart are often different names (Hương/Thương, Hà/Hoa, Linh/Lình), and
    # sisters share the household's phone, address, family and middle name. With the birth dates different or
    # not comparable and no card in common (the same card or one slip of it), nothing personal is left.
    near_given_name_only = (
        (pl.col("given_level") == level("given", "fuzzy"))
        & (pl.col("dob_level").is_null() | (pl.col("dob_level") == level("dob", "different")))
        & ~pl.col("id_level").is_in(levels("id", "same_cccd", "same_cmnd", "typing_slip")).fill_null(False)
    ).fill_null(False)
    hard_rule = (
        pl.when(pl.col("id_level") == level("id", "different_cccd"))
        .then(pl.lit("different CCCD"))
        .when((pl.col("sex_level") == level("sex", "different")) & ~same_card & ~same_name_and_day)
        .then(pl.lit("different sex"))
        .when((pl.col("given_level") == level("given", "different")) & ~same_card)
        .then(pl.lit("different given name"))
        .when(different_generation & ~same_card)
        .then(pl.lit("different generation"))
        .when(near_given_name_only)
        .then(pl.lit(NEAR_GIVEN_NAME))
    )
    probability = 1.0 / (1.0 + pl.lit(2.0).pow(-pl.col("match_weight").clip(-60, 60)))
    out = out.with_columns(
        hard_rule.alias("hard_rule"),
        pl.when(pl.col("id_level") == level("id", "different_cccd")).then(0.0).otherwise(probability).alias("probability"),
    )
    # The same card (12-digit CCCD or 9-digit CMND, both issued to one person) and the same full birth date are
    # one person whatever the name field says (a typo, a missing name, family and given name written in swapped
    # fields): the strongest evidence there is, never left to the name weights.
    same_card_and_day = (
        pl.col("id_level").is_in(levels("id", "same_cccd", "same_cmnd")) & (pl.col("dob_level") == level("dob", "exact"))
    ).fill_null(False)
    review_bar = pl.col("hard_rule").replace_strict(
        [rule for rule, _ in thresholds.review_hard],
        [bar for _, bar in thresholds.review_hard],
        default=thresholds.review,
        return_dtype=pl.Float64,
    )
    review_bar = pl.coalesce(review_bar, pl.lit(thresholds.review))
    band = (
        pl.when(
            same_card_and_day | pl.col("hard_rule").is_null() & (pl.col("probability") >= thresholds.link)
        )
        .then(pl.lit("link"))
        .when(pl.col("probability") >= review_bar)
        .then(pl.lit("review"))
        .otherwise(pl.lit("distinct"))
    )
    # A near given name is no evidence of two people, only too little for one: it holds the pair back from an
    # auto-link but forbids no merge that other records' links make.
    strong_no = pl.col("hard_rule").is_not_null() & (pl.col("hard_rule") != NEAR_GIVEN_NAME)
    cannot = strong_no & (pl.col("probability") < review_bar)
    cannot = (cannot | (pl.col("match_weight") <= thresholds.cannot_link_weight)) & ~same_card_and_day
    return out.with_columns(band.alias("band"), cannot.alias("cannot_link"))

"""The matching room's entry points: find the same citizen across sources and build golden records.

`dedupe_standardized(std)` runs blocking (DuckDB) → comparisons (polars + rapidfuzz) → unsupervised
Fellegi–Sunter scoring (EM) → household-safe clustering → golden records → review queue. Every input record
comes out in `.clusters` exactly once (a record with no match is its own cluster of size 1).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from sachsong.matching.blocking import (
    DEFAULT_MAX_BLOCK_SIZE,
    DEFAULT_RULES,
    STEWARD,
    BlockingRule,
    generate_candidate_pairs,
)
from sachsong.matching.cluster import DEFAULT_MAX_CLUSTER_SIZE, cluster_records
from sachsong.matching.compare import COMPARISONS, SCORED, compare_pairs
from sachsong.matching.exclusive import share_among_namesakes
from sachsong.matching.golden import build_golden
from sachsong.matching.keys import EncodedFeatures, build_features, check_columns, encode_features
from sachsong.matching.pair_cache import CacheReport, ComparisonCache, record_fingerprints
from sachsong.matching.review import build_review, read_decision_file, resolve_decisions, write_review
from sachsong.matching.scoring import (
    MatchModel,
    Thresholds,
    decide_bands,
    estimate_u_random,
    fit_anchored,
    fit_em,
    score_compared,
)
from sachsong.schema import CLUSTER_SCHEMA
from sachsong.tableio import stack_single_chunk

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DedupeConfig:
    rules: tuple[BlockingRule, ...] = DEFAULT_RULES
    max_block_size: int = DEFAULT_MAX_BLOCK_SIZE
    max_cluster_size: int = DEFAULT_MAX_CLUSTER_SIZE
    thresholds: Thresholds = field(default_factory=Thresholds)
    random_pairs_for_u: int = 200_000
    # Household-shared fields get u re-estimated on the candidate pairs; identity fields keep the stranger u.
    estimate_u_by_em: bool | tuple[str, ...] = True  # for plain EM (when there are too few ID anchors)
    estimation: str = "anchored"  # "anchored" (ID-decided pairs measure m/u, EM the rest) or "em"
    seed: int = 11
    # A record without a full birth date is at most one of the namesakes it resembles (see exclusive.py).
    share_among_namesakes: bool = True
    # Keep every scored pair with its per-field weights in `DedupeResult.pairs` (explanation, tests). With False
    # (the nightly flow) compare and score run `pair_chunk` candidate pairs at a time and keep per pair only
    # what clustering and the review queue need, so memory no longer grows with ~36 columns per candidate pair;
    # clusters, golden records and the review queue are the same, and `.pairs` is empty.
    keep_pairs: bool = True
    pair_chunk: int = 1_000_000
    # A Boolean column of the input naming the records that may be published. The others (quarantined for one
    # field) are still matched, so their person can be found, but golden records are built from the publishable
    # members only; a cluster with none has no golden record.
    publishable: str | None = None
    # Incremental nights (see pair_cache.py): last night's comparison cache, whose levels are reused for the pairs
    # of records whose features are unchanged (exactly what comparing them again gives), and where to write
    # tonight's. A missing, unreadable or other-version cache is ignored with a warning.
    comparison_cache_in: Path | str | None = None
    comparison_cache_out: Path | str | None = None

    def __post_init__(self) -> None:
        if self.pair_chunk < 1:
            raise ValueError(f"DedupeConfig.pair_chunk must be at least 1, got {self.pair_chunk}")


PAIR_COLUMNS: tuple[str, ...] = (
    "left_uid",
    "right_uid",
    "blocked_by",
    "blocking_rules",
    *(f"{c}_level" for c in COMPARISONS),
    "given_dob_level",
    "years_apart",
    *(f"{c}_weight" for c in SCORED),
    "tf_given",
    "tf_family",
    "tf_middle",
    "name_dependence_weight",
    "household_dependence_weight",
    "namesake_weight",
    "match_weight",
    "probability",
    "hard_rule",
    "band",
    "decision",
)

# What a scored pair keeps in lean mode (keep_pairs=False) for the steps after scoring: the namesake step
# (uids, match_weight, probability, hard_rule, band), decide_bands (levels, years_apart, match_weight),
# clustering and the cluster table (band, cannot_link, match_weight, probability).
LEAN_COLUMNS: tuple[str, ...] = (
    "left_uid",
    "right_uid",
    *(f"{c}_level" for c in COMPARISONS),
    "given_dob_level",
    "years_apart",
    "match_weight",
    "probability",
    "hard_rule",
    "band",
    "cannot_link",
)
# The explanation the review queue shows; in lean mode scored again only for the pairs it lists.
DETAIL_COLUMNS: tuple[str, ...] = (
    *(f"{c}_weight" for c in SCORED),
    "tf_given",
    "tf_family",
    "tf_middle",
    "name_dependence_weight",
    "household_dependence_weight",
)


@dataclass
class DedupeResult:
    clusters: pl.DataFrame  # schema.CLUSTER_SCHEMA, one row per input record
    golden: pl.DataFrame  # one row per cluster
    review: pl.DataFrame  # uncertain pairs explained field by field
    pairs: pl.DataFrame  # every scored candidate pair with per-field weights
    blocking: pl.DataFrame  # the blocking guard's report, one row per rule
    model: MatchModel | None
    decisions_applied: int = 0
    timings: dict[str, float] = field(default_factory=dict)
    pairs_scored: int = 0  # candidate pairs scored (`.pairs` holds them only with keep_pairs=True)
    pairs_reused: int = 0  # of those, pairs whose comparison levels came from last night's cache
    comparison_cache: CacheReport | None = None  # with a comparison cache configured

    def write_review(self, path: str | Path) -> Path:
        return write_review(self.review, path)

    def describe(self) -> str:
        records = self.clusters.height
        clusters = self.golden.height
        multi = self.golden.filter(pl.col("cluster_size") > 1).height
        dropped = int(self.blocking["dropped_blocks"].sum()) if self.blocking.height else 0
        lines = [
            f"{records} records → {clusters} persons ({multi} with duplicates, "
            f"{records - clusters} duplicate records merged)",
            f"{self.pairs_scored} candidate pairs scored; {self.review.height} pairs for steward review; "
            f"{self.decisions_applied} steward decisions applied",
        ]
        if dropped:
            lines.append(f"blocking guard dropped {dropped} oversize block(s); see .blocking")
        if self.model is not None and self.model.method == "anchored":
            lines.append(
                f"model: m measured on {self.model.anchors} same-{self.model.anchor_card} pairs, u on random pairs; "
                f"match rate among all pairs {self.model.prior:.2e}"
            )
        elif self.model is not None:
            lines.append(
                f"EM: {self.model.iterations} iterations, converged={self.model.converged}, "
                f"match share among candidates {self.model.prior:.3f}"
            )
        if self.comparison_cache is not None:
            cache = self.comparison_cache
            lines.append(
                f"comparison cache: {self.pairs_reused} of {self.pairs_scored} pairs reused"
                + (f" (last night's cache ignored: {cache.ignored})" if cache.ignored else "")
                + f"; read {cache.read_seconds:.2f}s, write {cache.write_seconds:.2f}s (part of compare)"
            )
        if self.timings:
            lines.append("time: " + ", ".join(f"{k} {v:.2f}s" for k, v in self.timings.items()))
        return "\n".join(lines)


def _empty_result(std: pl.DataFrame, publishable: str | None = None) -> DedupeResult:
    clusters = std.select(
        pl.col("row_uid").cast(pl.Int64),
        pl.col("record_id").cast(pl.String),
        pl.col("source_id").cast(pl.String),
        pl.format("P{}", pl.col("row_uid").cast(pl.String).str.zfill(9)).alias("cluster_id"),
        pl.lit(1, dtype=pl.Int64).alias("cluster_size"),
        pl.lit(1.0).alias("confidence"),
    ).cast(CLUSTER_SCHEMA)
    return DedupeResult(
        clusters=clusters,
        golden=_golden(std, clusters, publishable),
        review=pl.DataFrame(),
        pairs=pl.DataFrame(schema={"left_uid": pl.Int64, "right_uid": pl.Int64}),
        blocking=pl.DataFrame(),
        model=None,
    )


def _golden(std: pl.DataFrame, clusters: pl.DataFrame, publishable: str | None) -> pl.DataFrame:
    if publishable is None:
        return build_golden(std, clusters)
    members = std.filter(pl.col(publishable))
    kept = (
        clusters.join(members.select("row_uid"), on="row_uid", how="semi", maintain_order="left")
        .with_columns(pl.len().over("cluster_id").cast(pl.Int64).alias("cluster_size"))
    )
    return build_golden(members, kept)


def _as_decisions(decisions: pl.DataFrame | str | Path | None, std: pl.DataFrame) -> pl.DataFrame:
    if decisions is None:
        return pl.DataFrame(schema={"left_uid": pl.Int64, "right_uid": pl.Int64, "decision": pl.String})
    if isinstance(decisions, str | Path):
        return resolve_decisions(read_decision_file(decisions), std, origin=str(decisions))
    return resolve_decisions(decisions.with_columns(pl.all().cast(pl.String)), std)


def dedupe_standardized(
    std: pl.DataFrame,
    decisions: pl.DataFrame | str | Path | None = None,
    config: DedupeConfig | None = None,
) -> DedupeResult:
    """Dedupe a standardized residents table (`schema.STANDARD_COLUMNS` beside the raw ones).

    decisions: steward decisions (a frame or a .xlsx/.csv/.parquet path) read as must-link / cannot-link.
    """
    config = config or DedupeConfig()
    check_columns(std)
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[name] = now - clock
        clock = now

    if std.height < 2:
        return _empty_result(std, config.publishable)
    features = build_features(std)
    encoded = encode_features(features)
    cache = None
    if config.comparison_cache_in is not None or config.comparison_cache_out is not None:
        cache = ComparisonCache(
            record_fingerprints(features), config.comparison_cache_in, config.comparison_cache_out
        )
    # Only the cards are read as strings from here on; the other string columns (names, address details) are
    # released before the pairs are built (hundreds of MB at a million records).
    cards = features.select("row_uid", "cccd", "cmnd")
    del features
    resolved = _as_decisions(decisions, std)
    lap("features")
    pairs, blocking = generate_candidate_pairs(encoded.frame, config.rules, config.max_block_size)
    # Steward decisions may name pairs blocking did not bring together; score them too. (Not joined when there
    # are none: the join hashes every candidate pair.)
    extra = (
        resolved.select("left_uid", "right_uid").join(pairs, on=["left_uid", "right_uid"], how="anti")
        if resolved.height
        else resolved.select("left_uid", "right_uid")
    )
    if extra.height:
        steward = extra.with_columns(
            pl.lit(STEWARD, dtype=pairs["blocked_by"].dtype).alias("blocked_by"),
            pl.lit(0, dtype=pl.Int64).alias("blocking_rules"),
        )
        pairs = pl.concat([pairs, steward])
    lap("blocking")
    if pairs.height == 0:
        result = _empty_result(std, config.publishable)
        result.blocking = blocking
        if cache is not None:
            # Tonight's cache (empty) replaces last night's.
            cache.compare_chunks(pairs.select("left_uid", "right_uid"), encoded, config.pair_chunk)
            result.comparison_cache = cache.report
        return result
    pairs_scored = pairs.height
    u_random = estimate_u_random(encoded, config.random_pairs_for_u, config.seed)
    lean = not config.keep_pairs
    if not lean:
        compared = (
            compare_pairs(pairs, encoded)
            if cache is None
            else pl.concat(cache.compare_chunks(pairs, encoded, config.pair_chunk), rechunk=True)
        )
        del pairs
        lap("compare")
        model = _fit_model(compared, u_random, cards, config)
        scored = score_compared(compared, model, encoded, config.thresholds)
        del compared
        scored = _share_among_namesakes(scored, encoded, config)
    else:
        # Zero rows through every step: `.pairs` keeps its schema when it is left empty.
        empty_pairs = compare_pairs(pairs.clear(), encoded)
        uids = pairs.select("left_uid", "right_uid")
        del pairs
        scored, model = _score_in_chunks(uids, encoded, u_random, cards, config, lap, cache)
        del uids
        empty_pairs = score_compared(empty_pairs, model, encoded, config.thresholds)
        empty_pairs = _share_among_namesakes(empty_pairs, encoded, config)
        empty_pairs = _apply_decisions(empty_pairs, resolved.clear()).select(PAIR_COLUMNS)
    lap("score")
    scored = _apply_decisions(scored, resolved)
    # Lazy, so only the selected columns of the matching pairs are copied, not every column of every pair.
    edges = (
        scored.lazy()
        .filter(pl.col("band") == "link")
        .select(
            "left_uid",
            "right_uid",
            "match_weight",
            (pl.col("decision") == "same").fill_null(False).alias("forced"),
        )
        .collect()
    )
    cannot = scored.lazy().filter(pl.col("cannot_link")).select("left_uid", "right_uid").collect()
    roots, cut = cluster_records(cards.select("row_uid", "cccd"), edges, cannot, config.max_cluster_size)
    del edges, cannot
    clusters = _cluster_table(std, roots, scored, encoded)
    lap("cluster")
    if lean:
        undecided = _listed_with_details(scored, cut, encoded, model, config)
    else:
        undecided = scored.filter(pl.col("decision").is_null())
    review = build_review(undecided, std, cut)
    del undecided
    lap("review")
    if lean:
        # The pairs are done with; the golden records are built without them in memory.
        scored = None
    golden = _golden(std, clusters, config.publishable)
    lap("golden")
    return DedupeResult(
        clusters=clusters,
        golden=golden,
        review=review,
        pairs=scored.select(PAIR_COLUMNS) if scored is not None else empty_pairs,
        blocking=blocking,
        model=model,
        decisions_applied=resolved.height,
        timings=timings,
        pairs_scored=pairs_scored,
        pairs_reused=cache.report.pairs_reused if cache is not None else 0,
        comparison_cache=cache.report if cache is not None else None,
    )


def _fit_model(
    compared: pl.DataFrame, u_random: dict[str, np.ndarray], cards: pl.DataFrame, config: DedupeConfig
) -> MatchModel:
    """Anchored on the identity cards when there are enough same-card pairs, else plain EM."""
    model = None
    if config.estimation == "anchored":
        model = fit_anchored(
            compared,
            u_random,
            records_with_cccd=cards["cccd"].count(),
            records_with_cmnd=cards["cmnd"].count(),
        )
    if model is None:
        model = fit_em(compared, u_random, estimate_u=config.estimate_u_by_em)
    return model


def _share_among_namesakes(
    scored: pl.DataFrame, encoded: EncodedFeatures, config: DedupeConfig
) -> pl.DataFrame:
    if config.share_among_namesakes:
        return decide_bands(share_among_namesakes(scored, encoded), config.thresholds)
    return scored.with_columns(pl.lit(0.0).alias("namesake_weight"))


def _apply_decisions(scored: pl.DataFrame, resolved: pl.DataFrame) -> pl.DataFrame:
    """Steward decisions override the band: "same" links, "different" forbids the merge."""
    if not resolved.height:
        # No decisions (most nights): nothing to override, and a join or a rewritten band column would copy every
        # pair (hundreds of MB at a million records).
        return scored.with_columns(pl.lit(None, dtype=resolved["decision"].dtype).alias("decision"))
    scored = scored.join(resolved, on=["left_uid", "right_uid"], how="left")
    return scored.with_columns(
        band=pl.when(pl.col("decision") == "same")
        .then(pl.lit("link"))
        .when(pl.col("decision") == "different")
        .then(pl.lit("distinct"))
        .otherwise(pl.col("band")),
        cannot_link=pl.when(pl.col("decision") == "same")
        .then(False)
        .when(pl.col("decision") == "different")
        .then(True)
        .otherwise(pl.col("cannot_link")),
    )


def _score_in_chunks(
    pairs: pl.DataFrame,
    encoded: EncodedFeatures,
    u_random: dict[str, np.ndarray],
    cards: pl.DataFrame,
    config: DedupeConfig,
    lap: Callable[[str], None],
    cache: ComparisonCache | None = None,
) -> tuple[pl.DataFrame, MatchModel]:
    """Lean mode (keep_pairs=False): compare and score `config.pair_chunk` candidate pairs at a time.

    Every per-pair output depends only on its pair, on the model and on statistics of the records (computed
    once, see scoring.per_records), so the chunks give the rows the whole table would. The model is fit on the
    levels of all the pairs at once (the same input as with keep_pairs). Each scored chunk is cut at once to
    LEAN_COLUMNS; the per-field explanation is scored again later for the few pairs the review queue lists
    (`_listed_with_details`). Returns the lean scored pairs (after the namesake step) and the model.
    """
    if cache is None:
        compared = [
            compare_pairs(pairs.slice(start, config.pair_chunk), encoded)
            for start in range(0, pairs.height, config.pair_chunk)
        ]
    else:
        compared = cache.compare_chunks(pairs, encoded, config.pair_chunk)
    lap("compare")
    model = _fit_model(pl.concat(compared, rechunk=False), u_random, cards, config)
    _, has_day = encoded.array("dob_day")
    lean, dated_sides = [], []
    while compared:
        scored = score_compared(compared.pop(0), model, encoded, config.thresholds)
        # Bands and hard-rule names as categories: a few bytes per pair instead of a string view each.
        lean.append(
            scored.select(LEAN_COLUMNS).with_columns(pl.col("hard_rule", "band").cast(pl.Categorical))
        )
        left, right = encoded.positions(scored["left_uid"]), encoded.positions(scored["right_uid"])
        dated_sides.append(has_day[left].astype(np.int8) + has_day[right])
        del scored, left, right
    # One chunk per column: polars' eager operations copy a many-chunk frame whole before working on it.
    scored = stack_single_chunk(lean)
    if config.share_among_namesakes:
        scored = _share_in_place(scored, np.concatenate(dated_sides), encoded, config)
    else:
        scored = _share_among_namesakes(scored, encoded, config)
    return scored, model


def _listed_with_details(
    scored: pl.DataFrame, cut: pl.DataFrame, encoded: EncodedFeatures, model: MatchModel, config: DedupeConfig
) -> pl.DataFrame:
    """Lean mode: the undecided pairs the review queue can list (review band, or a link cut by clustering) with
    their per-field explanation (DETAIL_COLUMNS), scored again for these pairs only.

    A pair's details depend only on the pair, the model and statistics of the records (scoring.per_records), so
    scoring the few listed pairs again gives the values the chunks had, without keeping them for every pair.
    """
    undecided = pl.col("decision").is_null()
    listed = [scored.lazy().filter(undecided & (pl.col("band") == "review"))]
    if cut.height:
        keys = cut.lazy().select("left_uid", "right_uid").unique()
        listed.append(
            scored.lazy()
            .join(keys, on=["left_uid", "right_uid"], how="semi")
            .filter(undecided & (pl.col("band") == "link"))
        )
    pairs = (
        pl.concat(listed)
        .with_columns(pl.col("hard_rule", "band").cast(pl.String))
        .sort("left_uid", "right_uid")
        .collect()
    )
    explained = score_compared(
        compare_pairs(pairs.select("left_uid", "right_uid"), encoded), model, encoded, config.thresholds
    ).select("left_uid", "right_uid", *DETAIL_COLUMNS)
    return pairs.join(explained, on=["left_uid", "right_uid"], how="left", maintain_order="left")


def _share_in_place(
    scored: pl.DataFrame, dated_sides: np.ndarray, encoded: EncodedFeatures, config: DedupeConfig
) -> pl.DataFrame:
    """The namesake step on the pairs it reads, written back in place: it lowers only the pairs where exactly one
    record has a full birth date, from those pairs and the links between two dated records (see exclusive.py);
    every other pair keeps its weight and band (namesake_weight 0). Same rows as the step over every pair,
    without its temporaries for all of them."""
    band_link = (scored["band"] == "link").to_numpy()
    reads = np.flatnonzero((dated_sides == 1) | ((dated_sides == 2) & band_link))
    part = _share_among_namesakes(scored[reads], encoded, config)
    lowered = dated_sides[reads] == 1
    rows = pl.Series(reads[lowered])
    part = part.filter(pl.Series(lowered))
    namesake = pl.Series("namesake_weight", np.zeros(scored.height)).scatter(rows, part["namesake_weight"])
    # One column at a time: the old column is freed before the next is copied.
    for column in ("match_weight", "probability", "hard_rule", "band", "cannot_link"):
        scored = scored.with_columns(scored[column].scatter(rows, part[column].cast(scored[column].dtype)))
    return scored.with_columns(namesake)


def _cluster_table(
    std: pl.DataFrame, roots: pl.DataFrame, scored: pl.DataFrame, encoded: EncodedFeatures
) -> pl.DataFrame:
    """One row per input record (input order) with a deterministic cluster id and a confidence.

    cluster_id = "P" + the cluster's smallest row_uid, zero-padded: the same input gives the same ids.
    confidence: for a merged record, its strongest link inside its cluster; for a lone record, 1 − its
    strongest candidate's probability (how sure we are that it has no duplicate).
    """
    width = max(9, len(str(int(std["row_uid"].max()))))
    root = roots.sort("row_uid")["cluster_root"].to_numpy()  # aligned with encoded.uids
    left = encoded.positions(scored["left_uid"])
    right = encoded.positions(scored["right_uid"])
    probability = scored["probability"].to_numpy()
    same = root[left] == root[right]
    inside = np.full(len(root), -1.0)
    outside = np.full(len(root), -1.0)
    for ends in (left, right):
        np.maximum.at(inside, ends[same], probability[same])
        np.maximum.at(outside, ends[~same], probability[~same])
    labelled = pl.DataFrame({"row_uid": encoded.uids, "cluster_root": root}).with_columns(
        pl.format("P{}", pl.col("cluster_root").cast(pl.String).str.zfill(width)).alias("cluster_id"),
        pl.len().over("cluster_root").cast(pl.Int64).alias("cluster_size"),
        pl.Series("inside", inside),
        pl.Series("outside", outside),
    )
    labelled = labelled.with_columns(
        confidence=pl.when(pl.col("cluster_size") > 1)
        .then(pl.when(pl.col("inside") >= 0).then(pl.col("inside")).otherwise(1.0))
        .otherwise(1.0 - pl.col("outside").clip(lower_bound=0.0))
        # Multi-threaded sums leave last-bit noise (≈1e-16) between runs; the published value must not carry
        # it, or the same inputs would give different table hashes.
        .round(9)
    )
    out = std.select(
        "row_uid", pl.col("record_id").cast(pl.String), pl.col("source_id").cast(pl.String)
    ).join(
        labelled.select("row_uid", "cluster_id", "cluster_size", "confidence"),
        on="row_uid",
        how="left",
        maintain_order="left",
    )
    return out.select(list(CLUSTER_SCHEMA)).cast(CLUSTER_SCHEMA)


def dedupe_raw_table(
    raw: pl.DataFrame,
    decisions: pl.DataFrame | str | Path | None = None,
    config: DedupeConfig | None = None,
) -> DedupeResult:
    """Standardize a canonical raw residents table, then dedupe it."""
    from sachsong.standardize.residents import standardize_residents

    return dedupe_standardized(standardize_residents(raw), decisions=decisions, config=config)

"""Field-by-field comparison of candidate pairs into discrete agreement levels.

Levels are integers per comparison (0 = strongest agreement); null means "cannot compare" (a value is missing)
and carries no weight. String similarity is character-correct: names are compared on folded keys and, where the
diacritics matter (Hùng vs Hưng both fold to "hung"), on the display form; fuzzy scores come from rapidfuzz's
batch `cpdist`, computed once per distinct pair of strings and joined back.
"""

from __future__ import annotations

import numpy as np
import polars as pl
from rapidfuzz import process
from rapidfuzz.distance import JaroWinkler, Levenshtein
from sachsong.matching.keys import FEATURE_COLUMNS

# Level labels per comparison, index = level code. Order matters: it is the contract of `.pairs`.
LEVELS: dict[str, tuple[str, ...]] = {
    "given": ("exact", "same_letters_unmarked", "same_letters_other_marks", "fuzzy", "different"),
    "family": ("exact", "same_letters", "fuzzy", "different"),
    "middle": ("exact", "dropped_or_partial", "fuzzy", "different"),
    "dob": ("exact", "day_month_swapped", "one_digit_or_day", "same_year_imprecise", "different"),
    "id": ("same_cccd", "same_cmnd", "one_digit_apart", "different_cmnd", "different_cccd"),
    "phone": ("same", "different"),
    "ward": ("same", "different"),
    "sex": ("same", "different"),
}
COMPARISONS: tuple[str, ...] = tuple(LEVELS)

# What the scoring model weighs. Given name and date of birth are scored jointly: among the pairs blocking brings
# together they are strongly dependent (namesakes share the name but not the date, twins and same-day strangers
# the date but not the name), so weighing them as independent would undervalue "same name AND same date" and
# overvalue twins. The joint level is given_level * 6 + dob_level, with 5 standing for "missing".
_MISSING = 5
JOINT_GIVEN_DOB: tuple[str, ...] = tuple(
    f"given {g} & dob {d}" for g in (*LEVELS["given"], "missing") for d in (*LEVELS["dob"], "missing")
)
SCORED_LEVELS: dict[str, tuple[str, ...]] = {
    "given_dob": JOINT_GIVEN_DOB,
    **{name: LEVELS[name] for name in ("family", "middle", "id", "phone", "ward", "sex")},
}
SCORED: tuple[str, ...] = tuple(SCORED_LEVELS)

FUZZY_JARO_WINKLER = 0.88


def _pair_similarity(pairs: pl.DataFrame, left: str, right: str) -> pl.DataFrame:
    """Jaro-Winkler similarity and Levenshtein distance per distinct (left, right) string pair."""
    distinct = pairs.select(pl.col(left).alias("a"), pl.col(right).alias("b")).drop_nulls().unique()
    distinct = distinct.filter(pl.col("a") != pl.col("b"))
    if distinct.height == 0:
        return distinct.with_columns(
            pl.lit(None, dtype=pl.Float64).alias("jw"), pl.lit(None, dtype=pl.Int64).alias("lev")
        )
    a, b = distinct["a"].to_list(), distinct["b"].to_list()
    jw = process.cpdist(a, b, scorer=JaroWinkler.normalized_similarity, workers=-1)
    lev = process.cpdist(a, b, scorer=Levenshtein.distance, workers=-1)
    return distinct.with_columns(pl.Series("jw", np.asarray(jw, dtype=np.float64)), pl.Series("lev", lev))


def _with_similarity(pairs: pl.DataFrame, field: str) -> pl.DataFrame:
    sims = _pair_similarity(pairs, f"l_{field}", f"r_{field}")
    sims = sims.rename({"a": f"l_{field}", "b": f"r_{field}", "jw": f"{field}_jw", "lev": f"{field}_lev"})
    return pairs.join(sims, on=[f"l_{field}", f"r_{field}"], how="left")


def _digits_apart(left: pl.Expr, right: pl.Expr, width: int) -> pl.Expr:
    """How many positions two equal-length digit strings differ in (vectorized Hamming distance)."""
    return pl.sum_horizontal(
        (left.str.slice(i, 1) != right.str.slice(i, 1)).cast(pl.Int32) for i in range(width)
    )


def attach_sides(pairs: pl.DataFrame, features: pl.DataFrame) -> pl.DataFrame:
    """Join each pair's left and right features (columns prefixed l_ / r_)."""
    feats = features.select(FEATURE_COLUMNS)
    left = feats.rename({c: f"l_{c}" for c in FEATURE_COLUMNS})
    right = feats.rename({c: f"r_{c}" for c in FEATURE_COLUMNS})
    out = pairs.join(left, left_on="left_uid", right_on="l_row_uid", how="left")
    return out.join(right, left_on="right_uid", right_on="r_row_uid", how="left")


def compare_pairs(pairs: pl.DataFrame, features: pl.DataFrame) -> pl.DataFrame:
    """`pairs` (left_uid, right_uid, ...) → the same rows with one `<comparison>_level` column per comparison."""
    sides = attach_sides(pairs, features)
    for field in ("giv_key", "fam_key", "mid_key"):
        sides = _with_similarity(sides, field)

    def fuzzy(field: str) -> pl.Expr:
        return (pl.col(f"{field}_jw") >= FUZZY_JARO_WINKLER) | (pl.col(f"{field}_lev") <= 1)

    lg, rg = pl.col("l_giv_key"), pl.col("r_giv_key")
    given = (
        pl.when(lg.is_null() | rg.is_null())
        .then(None)
        .when(pl.col("l_giv_norm") == pl.col("r_giv_norm"))
        .then(0)
        .when((lg == rg) & ~(pl.col("l_giv_has_marks") & pl.col("r_giv_has_marks")))
        .then(1)
        .when(lg == rg)
        .then(2)
        .when(fuzzy("giv_key"))
        .then(3)
        .otherwise(4)
    )
    lf, rf = pl.col("l_fam_key"), pl.col("r_fam_key")
    family = (
        pl.when(lf.is_null() | rf.is_null())
        .then(None)
        .when(pl.col("l_fam_norm") == pl.col("r_fam_norm"))
        .then(0)
        .when(lf == rf)
        .then(1)
        .when(fuzzy("fam_key"))
        .then(2)
        .otherwise(3)
    )
    lm, rm = pl.col("l_mid_key"), pl.col("r_mid_key")
    # A middle name that is missing on one side, or whose syllables sit inside the other's, was dropped.
    partial = lm.str.contains(rm, literal=True) | rm.str.contains(lm, literal=True)
    middle = (
        pl.when(lg.is_null() | rg.is_null())
        .then(None)
        .when(lm == rm)
        .then(0)
        .when(lm.is_null() | rm.is_null() | partial)
        .then(1)
        .when(fuzzy("mid_key"))
        .then(2)
        .otherwise(3)
    )
    ld, rd = pl.col("l_dob_day"), pl.col("r_dob_day")
    swapped = (ld.str.slice(0, 4) == rd.str.slice(0, 4)) & (ld.str.slice(4, 2) == rd.str.slice(6, 2))
    swapped = swapped & (ld.str.slice(6, 2) == rd.str.slice(4, 2))
    near = (_digits_apart(ld, rd, 8) == 1) | ((pl.col("l_dob") - pl.col("r_dob")).dt.total_days().abs() == 1)
    dob = (
        pl.when(pl.col("l_dob").is_null() | pl.col("r_dob").is_null())
        .then(None)
        .when(ld.is_not_null() & rd.is_not_null())
        .then(pl.when(ld == rd).then(0).when(swapped).then(1).when(near).then(2).otherwise(4))
        .when(pl.col("l_birth_year") == pl.col("r_birth_year"))
        .then(3)
        .otherwise(4)
    )
    lc, rc, lo, ro = pl.col("l_cccd"), pl.col("r_cccd"), pl.col("l_cmnd"), pl.col("r_cmnd")
    both_cccd = lc.is_not_null() & rc.is_not_null()
    both_cmnd = lo.is_not_null() & ro.is_not_null()
    identity = (
        pl.when(both_cccd & (lc == rc))
        .then(0)
        .when(both_cmnd & (lo == ro))
        .then(1)
        .when(both_cccd & (_digits_apart(lc, rc, 12) == 1))
        .then(2)
        .when(both_cmnd & (_digits_apart(lo, ro, 9) == 1))
        .then(2)
        .when(both_cccd)
        .then(4)
        .when(both_cmnd)
        .then(3)
        .otherwise(None)
    )

    def same_or_not(field: str) -> pl.Expr:
        left, right = pl.col(f"l_{field}"), pl.col(f"r_{field}")
        return pl.when(left.is_null() | right.is_null()).then(None).when(left == right).then(0).otherwise(1)

    levels = {
        "given": given,
        "family": family,
        "middle": middle,
        "dob": dob,
        "id": identity,
        "phone": same_or_not("phone_e164"),
        "ward": same_or_not("ward_code"),
        "sex": same_or_not("sex_code"),
    }
    out = sides.with_columns(expr.cast(pl.Int8).alias(f"{name}_level") for name, expr in levels.items())
    g, d = pl.col("given_level"), pl.col("dob_level")
    joint = (
        pl.when(g.is_null() & d.is_null())
        .then(None)
        .otherwise(g.fill_null(_MISSING).cast(pl.Int16) * 6 + d.fill_null(_MISSING).cast(pl.Int16))
    )
    return out.with_columns(joint.cast(pl.Int8).alias("given_dob_level"))


def level_label(comparison: str) -> pl.Expr:
    """Readable label of a comparison's level column ("missing" when null)."""
    labels = pl.Series(list({**LEVELS, **SCORED_LEVELS}[comparison]), dtype=pl.String)
    code = pl.col(f"{comparison}_level")
    named = code.replace_strict(list(range(len(labels))), labels.to_list(), default="missing")
    return pl.when(code.is_null()).then(pl.lit("missing")).otherwise(named).alias(comparison)

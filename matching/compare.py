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
from rapidfuzz.distance import OSA, JaroWinkler

from sachsong.matching.keys import EncodedFeatures, encode_features

# Level labels per comparison, index = level code. Order matters: it is the contract of `.pairs`.
LEVELS: dict[str, tuple[str, ...]] = {
    "given": ("exact", "same_letters_unmarked", "same_letters_other_marks", "fuzzy", "different"),
    "family": ("exact", "same_letters", "fuzzy", "different"),
    "middle": ("exact", "dropped_or_partial", "fuzzy", "different"),
    "dob": ("exact", "day_month_swapped", "one_digit_or_day", "same_year_imprecise", "different"),
    "id": ("same_cccd", "same_cmnd", "typing_slip", "different_cmnd", "different_cccd"),
    # "one_slip" (one digit, or two adjacent digits swapped) is appended so the older codes keep their meaning.
    "phone": ("same", "different", "one_slip"),
    "ward": ("same", "different"),
    "sex": ("same", "different"),
    # Compared only inside one ward (null when the wards differ or one is unknown): a house number or a hamlet
    # says nothing across wards, and inside one ward namesakes usually live at different addresses.
    "address": ("same", "contained", "different"),
    # Whether both records come from one source register (one old commune's system), also only inside one ward:
    # whether a register holds the same person twice is measured on the anchors, not assumed.
    "source": ("same", "different"),
}
COMPARISONS: tuple[str, ...] = tuple(LEVELS)


def level(comparison: str, label: str) -> int:
    """The code of a named level (`level("id", "different_cccd")` → 4): rules name levels, never their numbers."""
    try:
        return LEVELS[comparison].index(label)
    except (KeyError, ValueError):
        raise KeyError(f"comparison '{comparison}' has no level '{label}'") from None


def levels(comparison: str, *labels: str) -> list[int]:
    """The codes of several named levels of one comparison."""
    return [level(comparison, label) for label in labels]

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
    **{
        name: LEVELS[name] for name in ("family", "middle", "id", "phone", "ward", "sex", "address", "source")
    },
}
SCORED: tuple[str, ...] = tuple(SCORED_LEVELS)

FUZZY_JARO_WINKLER = 0.88
PHONE_DIGITS = 15  # an E.164 number has at most 15 digits
NULL = -1  # a level that cannot be computed (a value is missing); becomes a polars null


def _fuzzy(encoded: EncodedFeatures, column: str, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Whether two dictionary-coded strings are close (Jaro-Winkler ≥ 0.88 or one edit apart, an adjacent
    transposition counting as one edit: "nha"/"nah"), computed once per distinct pair of ids with rapidfuzz's
    batch `cpdist` and mapped back."""
    out = np.zeros(len(left), dtype=bool)
    if len(left) == 0:
        return out
    # Similarity is symmetric: order each pair so (a, b) and (b, a) are scored once.
    low, high = np.minimum(left, right).astype(np.int64), np.maximum(left, right).astype(np.int64)
    distinct, inverse = np.unique(low * (len(encoded.vocab[column]) + 1) + high, return_inverse=True)
    width = len(encoded.vocab[column]) + 1
    words = np.asarray(encoded.vocab[column], dtype=object)
    a, b = words[distinct // width].tolist(), words[distinct % width].tolist()
    jw = process.cpdist(a, b, scorer=JaroWinkler.normalized_similarity, workers=-1)
    # Optimal string alignment: Levenshtein plus adjacent transpositions (Jaro-Winkler misses "nah"/"nha": with
    # three letters its matching window is zero).
    edits = process.cpdist(a, b, scorer=OSA.distance, workers=-1)
    close = (np.asarray(jw) >= FUZZY_JARO_WINKLER) | (np.asarray(edits) <= 1)
    return close[inverse.reshape(-1)]


def _contains_either(
    encoded: EncodedFeatures, column: str, left: np.ndarray, right: np.ndarray, whole_words: bool = False
) -> np.ndarray:
    """Whether one coded string sits inside the other (a dropped middle-name syllable), per distinct pair;
    with `whole_words`, whether one's words are all among the other's, in any order ("1" is not inside "12")."""
    if len(left) == 0:
        return np.zeros(0, dtype=bool)
    width = len(encoded.vocab[column]) + 1
    distinct, inverse = np.unique(left.astype(np.int64) * width + right, return_inverse=True)
    words = pl.Series(encoded.vocab[column], dtype=pl.String)
    pairs = pl.DataFrame({"a": words.gather(distinct // width), "b": words.gather(distinct % width)})
    if whole_words:
        a, b = pl.col("a").str.split(" "), pl.col("b").str.split(" ")
        inside = pairs.select(
            (a.list.set_difference(b).list.len() == 0) | (b.list.set_difference(a).list.len() == 0)
        ).to_series()
    else:
        inside = pairs.select(
            pl.col("a").str.contains(pl.col("b"), literal=True)
            | pl.col("b").str.contains(pl.col("a"), literal=True)
        ).to_series()
    return inside.to_numpy()[inverse.reshape(-1)]


def _one_slip(left: np.ndarray, right: np.ndarray, width: int) -> np.ndarray:
    """Whether two numbers of `width` decimal digits (zero-padded) differ by one keying slip: one digit, or two
    adjacent digits swapped ("1985" / "1958", "…12" / "…21"). The dob level keeps its label `one_digit_or_day`
    (the `.pairs` contract); it covers the swap too."""
    a, b = left.astype(np.int64), right.astype(np.int64)
    differ = np.zeros((width, len(a)), dtype=bool)
    swapped_next = np.zeros((width, len(a)), dtype=bool)  # digit i of a is digit i+1 of b and the reverse
    for i in range(width):
        da, db = a // 10**i % 10, b // 10**i % 10
        differ[i] = da != db
        if i + 1 < width:
            na, nb = a // 10 ** (i + 1) % 10, b // 10 ** (i + 1) % 10
            swapped_next[i] = (da == nb) & (na == db)
    count = differ.sum(axis=0)
    adjacent_pair = (differ[:-1] & differ[1:] & swapped_next[:-1]).any(axis=0) if width > 1 else False
    return (count == 1) | ((count == 2) & adjacent_pair)


def cccd_birth_digits_only(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Whether two CCCDs (as integers) differ only in their century/sex and birth-year digits (positions 4-6 of
    12): the same birth-registration province and the same six-digit serial."""
    a, b = left.astype(np.int64), right.astype(np.int64)
    return (a != b) & (a // 10**9 == b // 10**9) & (a % 10**6 == b % 10**6)


def _select(conditions: list[np.ndarray], choices: list[int], default: int) -> np.ndarray:
    return np.select(conditions, [np.int8(c) for c in choices], np.int8(default)).astype(np.int8)


def compare_positions(encoded: EncodedFeatures, left: np.ndarray, right: np.ndarray) -> dict[str, np.ndarray]:
    """The comparison levels (int8, NULL = missing) of the pairs of record positions (left[i], right[i])."""

    def sides(column: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        values, present = encoded.array(column)
        return values[left], values[right], present[left], present[right]

    def fuzzy_where(column: str, lv: np.ndarray, rv: np.ndarray, mask: np.ndarray) -> np.ndarray:
        out = np.zeros(len(left), dtype=bool)
        out[mask] = _fuzzy(encoded, column, lv[mask], rv[mask])
        return out

    levels: dict[str, np.ndarray] = {}
    # Given name: exact display form > same letters with marks on one side only > other marks > fuzzy.
    lg, rg, plg, prg = sides("giv_key")
    ln, rn, pln, prn = sides("giv_norm")
    lm, rm, _, _ = sides("giv_has_marks")
    both_given = plg & prg
    same_display = pln & prn & (ln == rn)
    same_key = lg == rg
    given_fuzzy = fuzzy_where("giv_key", lg, rg, both_given & ~same_display & ~same_key)
    levels["given"] = _select(
        [~both_given, same_display, same_key & ~(lm & rm), same_key, given_fuzzy], [NULL, 0, 1, 2, 3], 4
    )
    # Family name.
    lf, rf, plf, prf = sides("fam_key")
    lfn, rfn, plfn, prfn = sides("fam_norm")
    both_family = plf & prf
    same_family_display = plfn & prfn & (lfn == rfn)
    family_fuzzy = fuzzy_where("fam_key", lf, rf, both_family & ~same_family_display & (lf != rf))
    levels["family"] = _select(
        [~both_family, same_family_display, lf == rf, family_fuzzy], [NULL, 0, 1, 2], 3
    )
    # Middle name: a middle name missing on one side (or on both), or whose syllables sit inside the other's,
    # was dropped; only scored when both given names are known (else the name split is unreliable).
    lmid, rmid, plmid, prmid = sides("mid_key")
    both_middle = plmid & prmid
    same_middle = both_middle & (lmid == rmid)
    differ = both_middle & ~same_middle
    partial = np.zeros(len(left), dtype=bool)
    partial[differ] = _contains_either(encoded, "mid_key", lmid[differ], rmid[differ])
    middle_fuzzy = fuzzy_where("mid_key", lmid, rmid, differ & ~partial)
    levels["middle"] = _select(
        [~both_given, same_middle, ~both_middle | partial, middle_fuzzy], [NULL, 0, 1, 2], 3
    )
    # Date of birth: full dates compared digit by digit; a year-only date only by year.
    ld, rd, pld, prd = sides("dob")
    lday, rday, plday, prday = sides("dob_day")
    ly, ry, ply, pry = sides("birth_year")
    both_day = plday & prday
    swapped = (
        (lday // 10000 == rday // 10000)
        & (lday // 100 % 100 == rday % 100)
        & (lday % 100 == rday // 100 % 100)
    )
    near = _one_slip(lday, rday, 8) | (np.abs(ld.astype(np.int64) - rd) == 1)
    levels["dob"] = _select(
        [
            ~(pld & prd),
            both_day & (lday == rday),
            both_day & swapped,
            both_day & near,
            both_day,
            ly == ry,
        ],
        [NULL, 0, 1, 2, 4, 3],
        4,
    )
    # Identity numbers: a one-digit difference is a typing slip, and so is a CCCD whose century/sex and year
    # digits were mistyped (same birth province, same six-digit serial) unless the records' birth years differ
    # (then the digits may be right: two people); any other two different CCCDs are two people.
    lc, rc, plc, prc = sides("cccd")
    lo, ro, plo, pro = sides("cmnd")
    both_cccd, both_cmnd = plc & prc, plo & pro
    levels["id"] = _select(
        [
            both_cccd & (lc == rc),
            both_cmnd & (lo == ro),
            both_cccd
            & (_one_slip(lc, rc, 12) | (cccd_birth_digits_only(lc, rc) & ~(ply & pry & (ly != ry)))),
            both_cmnd & _one_slip(lo, ro, 9),
            both_cccd,
            both_cmnd,
        ],
        [0, 1, 2, 2, 4, 3],
        NULL,
    )
    for name, column in (("phone", "phone_e164"), ("ward", "ward_code"), ("sex", "sex_code")):
        lv, rv, plv, prv = sides(column)
        levels[name] = _select([~(plv & prv), lv == rv], [NULL, 0], 1)
    # A phone number keyed with one slip is still the person's (or the household's) number.
    lp, rp, plp, prp = sides("phone_digits")
    phone_differ = levels["phone"] == 1
    phone_slip = np.zeros(len(left), dtype=bool)
    phone_slip[phone_differ] = _one_slip(lp[phone_differ], rp[phone_differ], PHONE_DIGITS)
    levels["phone"] = np.where(phone_slip & plp & prp, np.int8(2), levels["phone"]).astype(np.int8)
    # Inside one ward only: the address detail (same / one inside the other: a dropped house number or
    # hamlet / different) and the source register.
    same_ward = levels["ward"] == 0
    la, ra, pla, pra = sides("addr_key")
    both_address = same_ward & pla & pra
    address_differ = both_address & (la != ra)
    contained = np.zeros(len(left), dtype=bool)
    contained[address_differ] = _contains_either(
        encoded, "addr_key", la[address_differ], ra[address_differ], whole_words=True
    )
    levels["address"] = _select([~both_address, la == ra, contained], [NULL, 0, 1], 2)
    ls, rs, pls, prs = sides("source_id")
    levels["source"] = _select([~(same_ward & pls & prs), ls == rs], [NULL, 0], 1)
    # The joint given-name × birth-date level (see JOINT_GIVEN_DOB); null only when both are missing.
    g, d = levels["given"], levels["dob"]
    joint = np.where(g == NULL, _MISSING, g) * 6 + np.where(d == NULL, _MISSING, d)
    levels["given_dob"] = np.where((g == NULL) & (d == NULL), NULL, joint).astype(np.int8)
    return levels


def _level_columns(levels: dict[str, np.ndarray]) -> list[pl.Series]:
    out = []
    for name, codes in levels.items():
        series = pl.Series(f"{name}_level", codes, dtype=pl.Int8)
        out.append(series.set(series == NULL, None) if (codes == NULL).any() else series)
    return out


def years_apart(encoded: EncodedFeatures, left: np.ndarray, right: np.ndarray) -> pl.Series:
    """|birth year difference| of each pair (Int16, null when a year is missing): a parent and a child share a
    household's name, phone and address, and only the years tell them apart."""
    years, present = encoded.array("birth_year")
    gap = np.abs(years[left].astype(np.int64) - years[right]).astype(np.int16)
    series = pl.Series("years_apart", gap, dtype=pl.Int16)
    missing = ~(present[left] & present[right])
    return series.set(pl.Series(missing), None) if missing.any() else series


def compare_pairs(pairs: pl.DataFrame, features: pl.DataFrame | EncodedFeatures) -> pl.DataFrame:
    """`pairs` (left_uid, right_uid, ...) → the same rows with one `<comparison>_level` column per comparison
    (Int8, null = cannot compare), `given_dob_level` and `years_apart`."""
    encoded = features if isinstance(features, EncodedFeatures) else encode_features(features)
    left = encoded.positions(pairs["left_uid"])
    right = encoded.positions(pairs["right_uid"])
    levels = _level_columns(compare_positions(encoded, left, right))
    return pairs.with_columns(*levels, years_apart(encoded, left, right))


def level_label(comparison: str) -> pl.Expr:
    """Readable label of a comparison's level column ("missing" when null)."""
    labels = pl.Series(list({**LEVELS, **SCORED_LEVELS}[comparison]), dtype=pl.String)
    code = pl.col(f"{comparison}_level")
    named = code.replace_strict(list(range(len(labels))), labels.to_list(), default="missing")
    return pl.when(code.is_null()).then(pl.lit("missing")).otherwise(named).alias(comparison)

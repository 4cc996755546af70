"""Vietnamese personal names: display form, matching key, and family / middle / given split.

Vietnamese order is family name first, given name last: "Nguyễn Thị Thuý Hằng" → family "Nguyễn", middle
"Thị Thuý", given "Hằng". A few family names span several syllables ("Tôn Thất", "Âu Dương", the royal "Công
Tằng Tôn Nữ"); they are kept whole from a small curated list below (data, not code).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

import polars as pl

from sachsong.sources.legacy_fonts import is_vietnamese_syllable
from sachsong.standardize.text import (
    clean_text,
    empty_to_null,
    place_tone_marks,
    text_key,
    title_case,
    tokens,
)
from sachsong.vietnamese_names import FAMILY_NAME_SHARES

# Multi-syllable family names, matched on the folded key of the leading syllables (longest first).
COMPOUND_FAMILY_NAMES: tuple[str, ...] = (
    "Công Tằng Tôn Nữ",
    "Công Huyền Tôn Nữ",
    "Công Tôn Nữ",
    "Tôn Nữ",
    "Tôn Thất",
    "Nguyễn Phúc",
    "Nguyễn Phước",
    "Công Tôn",
    "Âu Dương",
    "Hoàng Phủ",
    "Tư Mã",
    "Gia Cát",
    "Thượng Quan",
)

# Values that say "no name" rather than being one (compared on the folded key; "N/A" folds to "n a").
JUNK_NAME_KEYS: frozenset[str] = frozenset(
    {
        "khong ro",
        "chua ro",
        "khong co",
        "khong ten",
        "chua co ten",
        "chua dat ten",
        "vo danh",
        "n a",
        "na n",
        "null",
        "none",
        "unknown",
        "x",
        "xx",
        "xxx",
    }
)


def _compound_keys() -> list[tuple[int, str]]:
    """(syllable count, folded key) of each compound family name, shortest first so the longest match wins."""
    folded = pl.DataFrame({"name": COMPOUND_FAMILY_NAMES}).select(key=text_key(pl.col("name")))["key"]
    return sorted((len(key.split(" ")), key) for key in folded.to_list())


_COMPOUND_KEYS: list[tuple[int, str]] = _compound_keys()
_TEMP = "_name_"  # prefix of intermediate columns, dropped before returning


def _letters_only(expr: pl.Expr) -> pl.Expr:
    """Keep letters, combining marks, and apostrophes/hyphens inside a word ("H'Hen"); the rest become spaces."""
    letters = expr.str.replace_all(r"[^\p{L}\p{M}'\-\s]+", " ")
    return letters.str.replace_all(r"(^|\s)['\-]+", "${1}").str.replace_all(r"['\-]+(\s|$)", "${1}")


def display_name(raw: pl.Expr) -> pl.Expr:
    """Display form before the junk check: NFC, letters only, single spaces, title case, new tone placement."""
    return place_tone_marks(title_case(clean_text(_letters_only(clean_text(raw)))))


# --- honorifics, input-method residue, given-name-first order --------------------------------------------------

# Family names: the demo generator's survey list (sources room, data only) plus the compound ones above.
FAMILY_NAME_KEYS: frozenset[str] = frozenset(
    unicodedata.normalize("NFC", name).split(" ")[0] for name, _ in FAMILY_NAME_SHARES
) | frozenset(name.split(" ")[0] for name in COMPOUND_FAMILY_NAMES)

# Honorifics written before a name (display form) → the sex they imply, or None. "Cụ Ông"/"Cụ Bà" first.
HONORIFIC_SEX: dict[str, str | None] = {
    "Cụ Ông": "M",
    "Cụ Bà": "F",
    "Ông": "M",
    "Bà": "F",
    "Anh": "M",
    "Chị": "F",
    "Cô": "F",
    "Chú": "M",
    "Cụ": None,
    "Bé": None,
    "Cháu": None,
    "Em": None,
}
# Honorifics that are also common given or middle names: stripped only when the rest still reads as a whole
# name in Vietnamese order (family name first, not ending on a middle-name marker).
_NAME_LIKE_HONORIFICS = frozenset({"Anh", "Em", "Bé", "Cô", "Chú"})
# Syllables that are middle-name markers and (almost) never given names: a name ending on one is reversed.
_MIDDLE_MARKERS = frozenset({"Văn", "Thị"})
# Family names that are also common given names or last syllables: a name ending in one is not known to be
# written family-name-last.
_FAMILY_ALSO_GIVEN = frozenset(
    {"Hoàng", "Lâm", "Mai", "Hà", "Kim", "Châu", "Giang", "Quan", "Thái", "Gia", "Công", "Tư", "La", "Vi", "Ninh",
     "Thân", "Lạc", "Thượng", "Cao", "Hàn", "Âu", "Trình", "Bạch", "Diệp", "Tôn", "Đồng", "Tăng", "Lương", "Từ",
     "Ông", "Phan", "Đào", "Đoàn", "Tô", "Chu", "Lục", "Nghiêm", "Khúc"}
)  # fmt: skip
# A formula or a function call typed into the name column ("=HYPERLINK(...)", "@SUM(A1)"): no one's name.
_FORMULA = r"^[=+@]|^-\s*[\d(]|^-[A-Za-z]+\s*[|(]|[A-Za-z_]{2,}\(|[A-Za-z]+\|'"

_TELEX_TONES = {"s": "\u0301", "f": "\u0300", "r": "\u0309", "x": "\u0303", "j": "\u0323"}
_VNI_TONES = {"1": "\u0301", "2": "\u0300", "3": "\u0309", "4": "\u0303", "5": "\u0323"}
_CIRCUMFLEX = {"a": "â", "e": "ê", "o": "ô"}
_HORN = {"o": "ơ", "u": "ư"}
_VOWELS = "aăâeêioôơuưy"
_ONSET = re.compile(r"^(ngh|ng|nh|ch|gh|gi|kh|ph|qu|th|tr|[bcdđghklmnpqrstvx])?")


def _place_tone(letters: str, tone: str | None) -> str:
    """Put `tone` (a combining mark) on the syllable's main vowel, new-style placement (hoà, thuý)."""
    if tone is None:
        return letters
    onset = _ONSET.match(letters)
    start = onset.end() if onset else 0
    # "gi"/"qu" before another vowel: the i/u belongs to the onset ("gia", "quý"); alone it is the vowel ("gì").
    vowel_positions = [i for i, ch in enumerate(letters) if ch in _VOWELS and i >= start]
    if not vowel_positions:
        vowel_positions = [i for i, ch in enumerate(letters) if ch in _VOWELS][-1:]
    if not vowel_positions:
        return letters
    nucleus_end = vowel_positions[-1] + 1
    nucleus = letters[vowel_positions[0] : nucleus_end]
    has_coda = nucleus_end < len(letters)
    marked = [p for p in vowel_positions if letters[p] in "ăâêôơư"]
    if marked:
        position = marked[-1]  # "ươ" → on ơ
    elif has_coda or len(nucleus) == 1 or nucleus in {"oa", "oe", "uy"}:
        position = vowel_positions[-1]
    elif len(nucleus) == 3:
        position = vowel_positions[1]
    else:
        position = vowel_positions[0]
    return unicodedata.normalize("NFC", letters[: position + 1] + tone + letters[position + 1 :])


def _apply_marks(letters: str, circumflex: bool, horn: bool, breve: bool, stroke: bool) -> str | None:
    """Apply deferred vowel marks to the (last) vowel they fit; None when a mark fits nowhere."""
    chars = list(letters)
    if stroke:
        if not letters.startswith("d"):
            return None
        chars[0] = "đ"
    if circumflex:
        positions = [i for i, ch in enumerate(chars) if ch in _CIRCUMFLEX]
        if not positions:
            return None
        chars[positions[-1]] = _CIRCUMFLEX[chars[positions[-1]]]
    if horn:
        text = "".join(chars)
        if "uo" in text:
            text = text.replace("uo", "ươ", 1)
            chars = list(text)
        else:
            positions = [i for i, ch in enumerate(chars) if ch in _HORN]
            if not positions:
                return None
            chars[positions[-1]] = _HORN[chars[positions[-1]]]
    if breve:
        positions = [i for i, ch in enumerate(chars) if ch == "a"]
        if not positions:
            return None
        chars[positions[-1]] = "ă"
    return "".join(chars)


def _decode_vni_word(word: str) -> str | None:
    letters = "".join(ch for ch in word if not ch.isdigit())
    keys = [ch for ch in word if ch.isdigit()]
    if not keys or not letters or any(k not in "123456789" for k in keys) or len(keys) > 3:
        return None
    tones = [k for k in keys if k in _VNI_TONES]
    if len(tones) > 1:
        return None
    marked = _apply_marks(letters, "6" in keys, "7" in keys, "8" in keys, "9" in keys)
    if marked is None:
        return None
    return _place_tone(marked, _VNI_TONES[tones[0]] if tones else None)


def _decode_telex_word(word: str) -> str | None:
    letters, tone = word, None
    if len(letters) > 1 and letters[-1] in _TELEX_TONES:
        letters, tone = letters[:-1], _TELEX_TONES[letters[-1]]
    stroke = letters.startswith("dd")
    if stroke:
        letters = letters[1:]
    # Doubled vowels and w written in place ("nguyeen", "vawn", "nguwowi").
    letters = letters.replace("uow", "ươ").replace("aw", "ă").replace("ow", "ơ").replace("uw", "ư")
    for plain, hatted in _CIRCUMFLEX.items():
        letters = letters.replace(plain + plain, hatted)
    # A mark typed after the final consonant ("tranaf" = trần, "vanw" = văn).
    circumflex = horn = False
    deferred = re.fullmatch(r"(.*[^aeiouyăâêôơư])([aeow])", letters)
    if deferred and deferred.group(2) in "aeo" and deferred.group(2) in deferred.group(1):
        letters, circumflex = deferred.group(1), True
    elif deferred and deferred.group(2) == "w":
        letters, horn = deferred.group(1), True
    if letters.startswith("w"):
        letters = "ư" + letters[1:]
    if "w" in letters:
        return None
    breve = horn and "a" in letters and not any(ch in letters for ch in "ou")
    marked = _apply_marks(letters, circumflex, horn and not breve, breve, stroke)
    if marked is None:
        return None
    return _place_tone(marked, tone)


def _decode_residue(name: str, decode: Callable[[str], str | None]) -> str | None:
    """The name with every word decoded, when every resulting syllable is Vietnamese; else None."""
    out = []
    changed = False
    for word in name.split(" "):
        lower = word.lower()
        decoded = decode(lower)
        if decoded is None or decoded == lower:
            if not is_vietnamese_syllable(lower):
                return None
            out.append(lower)
            continue
        if not is_vietnamese_syllable(decoded):
            return None
        out.append(decoded)
        changed = True
    return " ".join(out) if changed else None


# Candidates: ASCII letters (and VNI's digits) only, with a key no Vietnamese word has: a final s/f/r/x/j, a w,
# a doubled vowel, "dd", or a digit inside a word.
_TELEX_CANDIDATE = r"^[A-Za-z ]+$"
_TELEX_SIGN = r"(?i)(?:[a-z][sfrxj]\b|w|aa|ee|oo|\bdd)"
_VNI_CANDIDATE = r"^[A-Za-z1-9 ]+$"
_VNI_SIGN = r"(?i)[a-z][1-9]"


_MAX_DECODED_NAME = 80


def _decode_batch(names: pl.Series) -> pl.Series:
    """ "telex:<decoded>" / "vni:<decoded>" per candidate name, "residue:" for a candidate that does not decode to
    Vietnamese syllables, else null. Python runs once per distinct candidate, a small share of the names."""
    telex = names.str.contains(_TELEX_CANDIDATE) & names.str.contains(_TELEX_SIGN)
    vni = names.str.contains(_VNI_CANDIDATE) & names.str.contains(_VNI_SIGN)
    # A real name is short; a pasted paragraph is not worth decoding word by word.
    short = names.str.len_chars() <= _MAX_DECODED_NAME
    candidates = names.filter(((telex | vni) & short).fill_null(False)).unique()
    decoded: dict[str, str | None] = {}
    for name in candidates.to_list():
        result = None
        if re.fullmatch(r"[A-Za-z1-9 ]+", name) and re.search(r"[a-zA-Z][1-9]", name):
            result = _decode_residue(name, _decode_vni_word)
            result = None if result is None else "vni:" + result
        elif re.fullmatch(r"[A-Za-z ]+", name):
            result = _decode_residue(name, _decode_telex_word)
            result = None if result is None else "telex:" + result
        decoded[name] = result or "residue:"
    if not decoded:
        return pl.Series(names.name, [None] * len(names), dtype=pl.String)
    return names.replace_strict(decoded, default=None, return_dtype=pl.String)


REPAIRS_COLUMN = "_repairs_name"
FLAGS_COLUMN = "_flags_name"


def name_columns(frame: pl.DataFrame, column: str = "full_name") -> pl.DataFrame:
    """`frame` plus name_norm, name_key, family_name, middle_name, given_name, honorific and the List[String]
    columns `_repairs_name` / `_flags_name`, computed from `column` (run it over distinct values).

    name_norm: display form, null for junk ("?", "không rõ", "N/A", blank). name_key: folded ASCII, i/y
    unified. Given = last syllable; family = first syllable, or a whole compound family name when at least one
    syllable remains after it; middle = the rest, null when empty. A single syllable is a given name only.
    Before the split:
    - Telex / VNI residue typed with the input method off ("Nguyeenx Vawn An", "Nguye6n4 Va8n An") is decoded
      when every resulting syllable is Vietnamese (`name:telex`, `name:vni`); an ASCII name with such keys that
      does not decode is flagged `name:input_method_residue`.
    - A leading honorific ("Ông", "Bà", "Cụ Bà", "Anh", "Chị"…) followed by a family name moves to `honorific`
      (`name:honorific`). "Anh", "Em", "Bé", "Cô", "Chú" are also given or middle names: they are stripped only
      when the rest does not end on a middle-name marker ("Anh Nguyễn Văn" is given-name-first, not "Anh" +
      "Nguyễn Văn"); an honorific without a family name after it stays in the name, flagged `name:honorific_kept`.
    - Given-name-first order ("An Nguyễn Văn") is turned round when certain: the first syllable is not a family
      name, the second is, and the last is "Văn" or "Thị" (`name:given_first`); other names whose second
      syllable is the only family name are flagged `name:order_uncertain`. Family-name-last order ("Thị Lan Trần",
      "Minh Tuấn Lê") is turned round when the first syllable is "Văn"/"Thị", or when nothing else could be the
      family name and the last syllable is a family name that is never a given name (`name:given_first`);
      otherwise a family name written last is flagged `name:order_uncertain`.
    - A formula or function call typed in the name column ("=HYPERLINK(...)") is no name: null, flagged
      `name:formula`.
    Computed in stages (see text.py on why nothing is nested).
    """
    t = {n: _TEMP + n for n in ("cleaned", "residue", "display", "syl", "count", "honorific", "strip", "rotate",
                                "uncertain", "key", "syllables", "family_length", "honorific_left", "rotate_back",
                                "formula")}  # fmt: skip
    staged = frame.with_columns(clean_text(pl.col(column)).alias(t["cleaned"]))
    staged = staged.with_columns(
        pl.col(t["cleaned"]).str.contains(_FORMULA).fill_null(False).alias(t["formula"])
    )
    staged = staged.with_columns(
        pl.col(t["cleaned"])
        .map_batches(_decode_batch, return_dtype=pl.String, is_elementwise=True)
        .alias(t["residue"])
    )
    residue = pl.col(t["residue"])
    decoded_text = residue.str.replace(r"^(?:telex|vni):", "")
    usable = residue.str.starts_with("telex:") | residue.str.starts_with("vni:")
    # Residue that does not decode keeps its letters together ("Va9n" → "Van", not "Va N"): the folded key
    # still meets the person's other records.
    source = (
        pl.when(usable.fill_null(False))
        .then(decoded_text)
        .when(residue == "residue:")
        .then(pl.col(t["cleaned"]).str.replace_all(r"[0-9]", ""))
        .otherwise(pl.col(t["cleaned"]))
    )
    staged = staged.with_columns(display_name(source).alias(t["display"]))
    staged = staged.with_columns(pl.col(t["display"]).str.split(" ").alias(t["syl"]))
    syl = pl.col(t["syl"])
    count = syl.list.len()
    first, second = syl.list.get(0, null_on_oob=True), syl.list.get(1, null_on_oob=True)
    third, last = syl.list.get(2, null_on_oob=True), syl.list.last()
    families = list(FAMILY_NAME_KEYS)
    first_two = first + " " + second
    two_word = first_two.is_in(["Cụ Ông", "Cụ Bà"]) & (count >= 4) & third.is_in(families)
    name_like = first.is_in(list(_NAME_LIKE_HONORIFICS))
    one_word = (
        first.is_in(list(HONORIFIC_SEX))
        & (count >= 3)
        & second.is_in(families)
        & (~name_like | ~last.is_in(list(_MIDDLE_MARKERS)))
    )
    staged = staged.with_columns(
        pl.when(two_word).then(2).when(one_word).then(1).otherwise(0).alias(t["strip"]),
        (first.is_in(list(HONORIFIC_SEX)) & ~name_like & (count >= 2) & ~one_word & ~two_word)
        .fill_null(False)
        .alias(t["honorific_left"]),
    )
    strip = pl.col(t["strip"])
    staged = staged.with_columns(
        pl.when(strip > 0).then(syl.list.slice(0, strip).list.join(" ")).alias(t["honorific"]),
        syl.list.slice(strip).alias(t["syl"]),
    )
    count = syl.list.len()
    first, second, last = (
        syl.list.get(0, null_on_oob=True),
        syl.list.get(1, null_on_oob=True),
        syl.list.last(),
    )
    family_order_breaks = ~first.is_in(families) & second.is_in(families) & (count >= 3)
    rotate = family_order_breaks & last.is_in(list(_MIDDLE_MARKERS))
    # Written family-name-last, the Western way ("Thị Lan Trần", "Minh Tuấn Lê"): certain when the first syllable
    # is a middle-name marker, or when no family name opens the name, none follows the first syllable as a marker
    # would, and the last syllable is a family name that is never a given name.
    # No Vietnamese name opens with "Văn"/"Thị", so such a name ending in a family name is certain even when its
    # given name is also a family name ("Thị Mai Phạm").
    family_last = (count >= 3) & last.is_in(families) & ~first.is_in(families)
    rotate_back = family_last & (
        first.is_in(list(_MIDDLE_MARKERS))
        | (
            ~family_order_breaks
            & ~second.is_in(list(_MIDDLE_MARKERS))
            & ~last.is_in(list(_FAMILY_ALSO_GIVEN))
        )
    )
    rotate = rotate & ~rotate_back
    staged = staged.with_columns(
        (rotate | rotate_back).fill_null(False).alias(t["rotate"]),
        rotate_back.fill_null(False).alias(t["rotate_back"]),
        ((family_order_breaks & ~rotate & ~rotate_back) | (family_last & ~family_order_breaks & ~rotate_back))
        .fill_null(False)
        .alias(t["uncertain"]),
    )
    staged = staged.with_columns(
        pl.when(pl.col(t["rotate_back"]))
        .then(syl.list.slice(-1).list.concat(syl.list.slice(0, count - 1)))
        .when(pl.col(t["rotate"]))
        .then(syl.list.slice(1).list.concat(syl.list.slice(0, 1)))
        .otherwise(syl)
        .list.join(" ")
        .alias(t["display"])
    )
    display, key = t["display"], t["key"]
    syllables, count_name, family_length = t["syllables"], t["count"], t["family_length"]
    staged = staged.with_columns(empty_to_null(pl.col(display)).alias(display))
    staged = staged.with_columns(text_key(pl.col(display)).alias(key))
    is_junk = pl.col(key).is_null() | pl.col(key).is_in(list(JUNK_NAME_KEYS)) | pl.col(t["formula"])
    staged = staged.with_columns(
        name_norm=pl.when(is_junk).then(None).otherwise(pl.col(display)),
        name_key=pl.when(is_junk).then(None).otherwise(pl.col(key)),
        honorific=pl.col(t["honorific"]),
    )
    staged = staged.with_columns(pl.col("name_norm").str.split(" ").alias(syllables))
    staged = staged.with_columns(pl.col(syllables).list.len().alias(count_name))
    length_expr = pl.when(pl.col(count_name) >= 2).then(pl.lit(1)).otherwise(pl.lit(0))
    for length, compound_key in _COMPOUND_KEYS:
        starts_with_compound = pl.col("name_key").str.starts_with(compound_key + " ")
        length_expr = (
            pl.when(starts_with_compound & (pl.col(count_name) > length)).then(length).otherwise(length_expr)
        )
    staged = staged.with_columns(length_expr.alias(family_length))
    middle_length = (pl.col(count_name) - pl.col(family_length) - 1).clip(lower_bound=0)
    has_name = pl.col("name_norm").is_not_null()
    staged = staged.with_columns(
        family_name=pl.when(pl.col(family_length) > 0).then(
            pl.col(syllables).list.slice(0, pl.col(family_length)).list.join(" ")
        ),
        middle_name=empty_to_null(
            pl.col(syllables).list.slice(pl.col(family_length), middle_length).list.join(" ")
        ),
        given_name=pl.col(syllables).list.last(),
        **{
            REPAIRS_COLUMN: tokens(
                (has_name & residue.str.starts_with("telex:"), "name:telex"),
                (has_name & residue.str.starts_with("vni:"), "name:vni"),
                (has_name & (pl.col(t["strip"]) > 0), "name:honorific"),
                (has_name & pl.col(t["rotate"]), "name:given_first"),
            ),
            FLAGS_COLUMN: tokens(
                (pl.col(t["formula"]), "name:formula"),
                (has_name & (residue == "residue:"), "name:input_method_residue"),
                (has_name & pl.col(t["honorific_left"]), "name:honorific_kept"),
                (has_name & pl.col(t["uncertain"]), "name:order_uncertain"),
            ),
        },
    )
    return staged.drop(*(c for c in staged.columns if c.startswith(_TEMP)))

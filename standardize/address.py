"""Resolve free-text Vietnamese addresses (old 3-tier or new 2-tier) to the new (post-2025) ward and province.

How it works, all vectorized (polars expressions and joins, one rapidfuzz batch call per level):
1. Deduplicate the address column: a province has far fewer distinct addresses than records. Values longer
   than MAX_ADDRESS_CHARS are not read (unmatched): every step's work grows with an address's length.
2. Cut each distinct address into comma segments and words, fold each distinct word once (NFC, lower case, no
   accents, đ→d), expand unit-type abbreviations ("TT." → "thitran"), and form every run of up to a few
   adjacent words as a spaceless key ("Xã Quảng Phú" → "xaquangphu", "quangphu"), the form of
   vietnamadminunits' keyword lists.
   Well-formed old addresses (the last comma segments are exactly a typed ward, its district and its
   province, in any spelling that folds the same) are resolved right here by one join (`_well_formed`); the
   steps below give the same answer for them, only slower.
3. Join those keys to the province and district keywords (old and new), then to the ward keywords of only the
   provinces the address names (directly or through a district): each hit is a *match* with its position.
4. Clean the matches: a span the text types as a unit ("Huyện Quảng Trạch", "Phường Đồng Sơn") overrides other
   readings of the words inside it; a name right after a village or street word ("Thôn Đông Thành", "đường Lê
   Lợi") is not the ward when a ward is named explicitly after it.
   Marks of an old address rule out the new ward of the same name: a type word no new ward has before it
   ("Thị trấn", "TT.", "Huyện"…), "cũ"/"(cũ)" after it. A name after a district's type word is not a ward; a
   name that is only part of a province's ("Bà Rịa" in "Bà Rịa - Vũng Tàu") is neither ward nor district.
5. Score readings of the address: an old ward followed by its old district (and province), a new ward followed
   by its new province, an old ward followed by its province only; in reversed order ("TPHCM - H.Bình Chánh -
   X Phong Phú - Thôn 3") a district right before the ward and a province before it count the same. A reading
   in another province than every one the text names (before or after it) is dropped: a confident answer is
   always inside the province written. The best reading wins; equal best readings that lead to different new
   wards make the address ambiguous.
6. Addresses with no reading, or whose ward reading stops short of an unexplained word, get typo-tolerant
   matches for the span that runs up to their province or district (rapidfuzz `process.cpdist` over the
   distinct (span, keyword) pairs of each scope; a match must beat the next unit by FUZZY_MARGIN), then are
   scored again.
7. Old wards split between several new ones stay ambiguous (all candidates listed, `ward_code` null) unless the
   text, or a `commune_code` hint read consistently with the text (see `_apply_hints`), names one of them.
"""

from __future__ import annotations

import logging
from functools import lru_cache

import numpy as np
import polars as pl
from rapidfuzz import fuzz, process

from sachsong.standardize.reference import (
    EXTRA_PROVINCE_KEYWORDS,
    UNIT_TYPE_KEYS,
    Reference,
    fold_expr,
    key_expr,
    load_reference,
)

OUTPUT_COLUMNS: tuple[str, ...] = ("ward_code", "province_code", "address_status", "ward_candidates")

logger = logging.getLogger(__name__)

# The longest address text that is read; longer values are unmatched (see `_resolve_distinct`).
MAX_ADDRESS_CHARS = 512

# Levels of the lexicon.
PROVINCE_OLD, PROVINCE_NEW, DISTRICT, WARD_OLD, WARD_NEW = (
    "province_old",
    "province_new",
    "district",
    "ward_old",
    "ward_new",
)

# Matches carry levels and unit codes as Enum / Categorical: joins and comparisons on them run on integers,
# not on long keys such as "tinhquangbinh_huyenquangtrach_xaquangphu".
LEVEL = pl.Enum([PROVINCE_OLD, PROVINCE_NEW, DISTRICT, WARD_OLD, WARD_NEW, "ward_span"])
CODE = pl.Categorical

# Abbreviations of unit types, as whole folded words ("tp" inside "tphcm" is untouched; "T.P" is joined to
# "tp" first). Spaceless, like the lexicon's keys: "TP. HCM" gives the key "thanhphohcm".
ABBREVIATED_TYPES: dict[str, str] = {
    "tp": "thanhpho",
    "tx": "thixa",
    "tt": "thitran",
    "dk": "dackhu",
    "x": "xa",
    "h": "huyen",
    "q": "quan",
    "p": "phuong",
    "ph": "phuong",
    "f": "phuong",
    "t": "tinh",
}
# Roman numerals written for numbered wards ("Phường IV" is Phường 4), read only right after "phường".
ROMAN_NUMERALS: dict[str, str] = {
    roman: str(number)
    for number, roman in enumerate(
        [
            "i",
            "ii",
            "iii",
            "iv",
            "v",
            "vi",
            "vii",
            "viii",
            "ix",
            "x",
            "xi",
            "xii",
            "xiii",
            "xiv",
            "xv",
            "xvi",
            "xvii",
            "xviii",
            "xix",
            "xx",
        ],
        start=1,
    )
}
# A word of the raw text: letters (precomposed or with combining marks), digits, apostrophes inside names.
WORD = r"[\p{L}\p{M}\p{N}'’`‘]+"
APOSTROPHES = r"['’`‘]"

# Scores of the readings (higher wins): an old ward with its district is the strongest evidence; a new ward
# with its new province beats an old ward with only a province, because a 2-tier address names no district.
# A new ward with an old province ("Xã Vị Thủy, tỉnh HG") weighs as much as the old ward of that name with it:
# when they lead to different new wards the address is ambiguous, not silently old or new.
SCORE_DISTRICT = 8
SCORE_PROVINCE = 4
SCORE_NEW_WITH_PROVINCE = 6
SCORE_NEW_WITH_OLD_PROVINCE = 4
SCORE_TYPED = 1

# Words that introduce a village, hamlet, residential group or street, folded: Thôn, Xóm, Ấp, Bản, Khóm, Tổ
# (dân phố), Khu (phố), Phố, Đường, Ngõ, Hẻm, Kiệt, Ngách, Số, Đội, Làng, Cụm.
LOCALITY_WORDS: tuple[str, ...] = (
    "thon",
    "xom",
    "ap",
    "ban",
    "khom",
    "to",
    "khu",
    "pho",
    "duong",
    "ngo",
    "hem",
    "kiet",
    "ngach",
    "so",
    "doi",
    "lang",
    "cum",
)

ACCENTED_LOCALITY_WORDS: tuple[str, ...] = (
    "thôn",
    "xóm",
    "ấp",
    "bản",
    "khóm",
    "tổ",
    "khu",
    "phố",
    "đường",
    "ngõ",
    "hẻm",
    "kiệt",
    "ngách",
    "số",
    "đội",
    "làng",
    "cụm",
)

# The longest ward, district or province name in tokens that the well-formed shortcut reads whole
# ("thanh pho ho chi minh"); longer segments go to the full reading.
WELL_FORMED_TOKENS = 6

FUZZY_CUTOFF = 84.0
FUZZY_MARGIN = 3.0
FUZZY_MIN_KEY_LENGTH = 4
FUZZY_WINDOW_TOKENS = 6


class AddressInputError(ValueError):
    """The frame lacks the address (or hint) column, naming what is there."""


# --------------------------------------------------------------------------------------------------------------
# Lexicon: every keyword of every unit, with its level and unit id.
# --------------------------------------------------------------------------------------------------------------


TYPE_PREFIX = "^(" + "|".join(UNIT_TYPE_KEYS) + ")"
# A folded syllable ending in i or y right after its initial consonant ("my", "li", "quy"); "gi" is itself an
# initial, and "ay", "uy", "oi" are not such syllables.
I_Y_SYLLABLE = r"\b(b|ch|c|d|h|kh|k|l|m|ngh|ng|nh|n|ph|p|qu|r|s|th|tr|t|v|x)[iy]\b"


def _keywords(
    frame: pl.DataFrame, level: str, unit: str, keyword_lists: str, name: str, bare_name: bool = False
) -> pl.DataFrame:
    """Every keyword of every unit at one level, marked `typed` when it carries the unit's type word.

    Typed means "the type word + the name" ("huyenquanson"), not merely starting like one: the name of
    Huyện Quan Sơn starts with "quan" and the name of Phường Phương Mai with "phuong". Numbered units
    ("p5", "quan3") are always typed. `bare_name` adds the name without its type word ("hongngu") where the
    package withholds it because two units share it (Huyện and Thành phố Hồng Ngự): the ward read with it
    decides which one is meant.
    """
    units = frame.select(unit=pl.col(unit), name_key=key_expr(pl.col(name)), keys=pl.col(keyword_lists))
    units = units.with_columns(type_key=pl.col("name_key").str.extract(TYPE_PREFIX).fill_null(""))
    units = units.with_columns(short_key=pl.col("name_key").str.slice(pl.col("type_key").str.len_chars()))
    # Folded again: a few of the package's keywords were left accented ("xãhoằngphú").
    listed = (
        units.select("unit", "type_key", "short_key", key="keys")
        .explode("key")
        .with_columns(key=key_expr(pl.col("key")))
    )
    named = units.select("unit", "type_key", "short_key", key="name_key")
    # The name with a syllable's final i/y swapped ("Mỹ"/"Mĩ", "Lý"/"Lí", "Quy"/"Qui"): both spellings are in
    # use. Made from the name's syllables (the package's spaceless keywords cannot tell "Mỹ An" from a "ya").
    syllables = frame.select(
        unit=pl.col(unit),
        folded=fold_expr(pl.col(name)).str.replace(
            r"^(thanh pho|thi tran|thi xa|dac khu|phuong|huyen|quan|tinh|xa)\s+", ""
        ),
    )
    variants = pl.concat(
        [
            syllables.select("unit", short=pl.col("folded").str.replace_all(I_Y_SYLLABLE, "${1}" + letter))
            for letter in ("i", "y")
        ]
    ).with_columns(short=pl.col("short").str.replace_all("[^a-z0-9]", ""))
    variants = variants.join(units.select("unit", "type_key", "short_key"), on="unit").filter(
        (pl.col("short") != pl.col("short_key")) & (pl.col("short").str.len_chars() >= 3)
    )
    named = pl.concat(
        [
            named,
            variants.select("unit", "type_key", "short_key", key=pl.col("type_key") + pl.col("short")),
            variants.select("unit", "type_key", "short_key", key="short"),
        ]
    )
    if bare_name:
        bare = units.filter(
            (pl.col("type_key") != "") & pl.col("short_key").str.contains("^[a-z]{3}")
        ).select("unit", "type_key", "short_key", key="short_key")
        named = pl.concat([named, bare])
    return (
        pl.concat([listed, named])
        .drop_nulls("key")
        .filter(pl.col("key") != "")
        .unique(["unit", "key"])
        .select(
            "key",
            level=pl.lit(level, dtype=LEVEL),
            unit=pl.col("unit").cast(CODE),
            typed=(
                (pl.col("type_key") != "")
                & pl.col("key").str.starts_with(pl.col("type_key"))
                & (pl.col("key") != pl.col("short_key"))
            )
            | pl.col("key").str.contains("[0-9]"),
        )
    )


@lru_cache(maxsize=1)
def _lexicon() -> tuple[pl.DataFrame, int]:
    ref = load_reference()
    legacy = ref.legacy_wards
    old_provinces = legacy.unique("legacy_province_code")
    new_provinces = ref.provinces
    districts = legacy.unique("legacy_district_code")
    # The five island districts had no wards: the district itself is their "ward" (their key ends in "_").
    wardless = legacy.filter(pl.col("legacy_ward_code").is_null()).with_columns(
        ward_keywords=pl.col("district_keywords"), legacy_ward_name=pl.col("legacy_district_name")
    )
    wards = pl.concat([legacy.filter(pl.col("legacy_ward_code").is_not_null()), wardless])
    lexicon = pl.concat(
        [
            _keywords(
                old_provinces,
                PROVINCE_OLD,
                "legacy_province_code",
                "province_keywords",
                "legacy_province_name",
            ),
            _keywords(new_provinces, PROVINCE_NEW, "province_code", "province_keywords", "province_name"),
            _keywords(
                districts.filter(pl.col("legacy_ward_code").is_not_null()),
                DISTRICT,
                "legacy_district_code",
                "district_keywords",
                "legacy_district_name",
                bare_name=True,
            ),
            _keywords(wards, WARD_OLD, "legacy_key", "ward_keywords", "legacy_ward_name", bare_name=True),
            _keywords(ref.new_wards, WARD_NEW, "ward_code", "ward_keywords", "ward_name"),
        ]
    ).select("key", "level", "unit", "typed")
    # Everyday province names the package lacks ("tphcm", "saigon"), added beside the keyword they extend.
    extras = pl.DataFrame(
        [(known, extra) for known, more in EXTRA_PROVINCE_KEYWORDS.items() for extra in more],
        schema={"key": pl.String, "extra": pl.String},
        orient="row",
    )
    added = (
        lexicon.filter(pl.col("level").is_in([PROVINCE_OLD, PROVINCE_NEW]))
        .join(extras, on="key")
        .select(key="extra", level="level", unit="unit", typed="typed")
    )
    # ... and typed: "tỉnh HG", "TP.HCM" ("thanhpho" + "hcm").
    typed_added = pl.concat(
        [
            added.filter(~pl.col("key").str.starts_with("tp")).select(
                key=pl.lit(type_word) + pl.col("key"), level="level", unit="unit", typed=pl.lit(True)
            )
            for type_word in ("tinh", "thanhpho")
        ]
    )
    lexicon = pl.concat([lexicon, added, typed_added]).unique()
    names = pl.concat(
        [
            legacy.select(n="legacy_ward_name"),
            legacy.select(n="legacy_district_name"),
            ref.new_wards.select(n="ward_name"),
        ]
    )
    longest = names.select(fold_expr(pl.col("n")).str.extract_all("[a-z0-9]+").list.len().max()).item()
    return lexicon, int(longest)


@lru_cache(maxsize=1)
def _unit_tables() -> dict[str, pl.DataFrame]:
    ref = load_reference()
    legacy = ref.legacy_wards.select(
        unit=pl.col("legacy_key").cast(CODE),
        district=pl.col("legacy_district_code").cast(CODE),
        old_province=pl.col("legacy_province_code").cast(CODE),
        new_province=pl.col("new_province_code").cast(CODE),
    )
    mapping = ref.legacy_to_new.group_by("legacy_key").agg(
        new_codes=pl.col("ward_code").sort(), is_split=pl.col("is_split").any()
    )
    new = ref.new_wards.select(
        unit=pl.col("ward_code").cast(CODE), new_province=pl.col("province_code").cast(CODE)
    )
    old_province_to_new = ref.legacy_wards.unique("legacy_province_code").select(
        unit=pl.col("legacy_province_code").cast(CODE), new_province=pl.col("new_province_code").cast(CODE)
    )
    strip_type = r"^(phường|xã|thị trấn|đặc khu|huyện|quận|thị xã|thành phố)\s+"
    accented_names = pl.concat(
        [
            ref.legacy_wards.select(
                kind=pl.lit("old"),
                unit="legacy_key",
                name=pl.coalesce("legacy_ward_name", "legacy_district_name"),
            ),
            ref.new_wards.select(kind=pl.lit("new"), unit="ward_code", name="ward_name"),
        ]
    ).with_columns(
        unit=pl.col("unit").cast(CODE),
        name=pl.col("name").str.normalize("NFC").str.to_lowercase().str.replace(strip_type, ""),
    )
    return {
        "accented_names": accented_names,
        "legacy_attrs": legacy,
        "legacy_codes": mapping.select(
            pl.col("legacy_key").cast(CODE).alias("unit"), "new_codes", "is_split"
        ),
        "new": new,
        "new_types": ref.new_wards.select(
            unit=pl.col("ward_code").cast(CODE), own_type=key_expr(pl.col("ward_type"))
        ),
        # The old districts each new ward took land from: "Phường Sài Gòn, Quận 1" names a new ward with the
        # old district it lies in, which does not contradict it.
        "new_ward_districts": ref.legacy_to_new.select("legacy_key", "ward_code")
        .join(ref.legacy_wards.select("legacy_key", "legacy_district_code"), on="legacy_key")
        .select(unit=pl.col("ward_code").cast(CODE), other_district=pl.col("legacy_district_code").cast(CODE))
        .unique(),
        "old_province_to_new": old_province_to_new,
        "district_to_new_province": legacy.select("district", "new_province").unique(),
    }


@lru_cache(maxsize=1)
def _lexicon_parts() -> dict[str, pl.DataFrame]:
    """The lexicon cut for scoped matching: a ward keyword is only looked up inside the provinces an address
    names (directly or through a district), so a street called "Lê Lợi" is not matched against the 40 wards of
    that name across the country."""
    lexicon, _ = _lexicon()
    units = _unit_tables()
    high_levels = [PROVINCE_OLD, PROVINCE_NEW, DISTRICT]
    ward_provinces = pl.concat(
        [
            units["legacy_attrs"].select("unit", "new_province", level=pl.lit(WARD_OLD, dtype=LEVEL)),
            units["new"].select("unit", "new_province", level=pl.lit(WARD_NEW, dtype=LEVEL)),
        ]
    )
    # Every distinct key gets an integer id: the spans are joined on the string once, the rest on the id.
    keys = (
        lexicon.group_by("key")
        .agg(
            ward_key=pl.col("level").is_in([WARD_OLD, WARD_NEW]).any(),
            typed_ward_key=(pl.col("level").is_in([WARD_OLD, WARD_NEW]) & pl.col("typed")).any(),
        )
        .sort("key")
        .with_row_index("key_id")
    )
    with_id = lexicon.join(keys.select("key", "key_id"), on="key").drop("key")
    return {
        "keys": keys,
        "high": with_id.filter(pl.col("level").is_in(high_levels)),
        "wards": with_id.filter(~pl.col("level").is_in(high_levels)).join(
            ward_provinces, on=["level", "unit"]
        ),
    }


# --------------------------------------------------------------------------------------------------------------
# Tokenising and span keys.
# --------------------------------------------------------------------------------------------------------------


def _tokens(distinct: pl.DataFrame) -> pl.DataFrame:
    """One row per token: addr_id, segment uid, position in the address, token (folded, abbreviations of
    unit types expanded, a Roman numeral after "phường" as digits) and `old_mark` (the word "cũ", "former":
    what precedes it is an old unit). The text is only lower-cased and split; folding runs once per distinct
    word."""
    lowered = (
        pl.col("text")
        .str.to_lowercase()
        .str.replace_all(r"\bt\.\s*p\b", "tp")
        # "(cu)" typed without accents is the same mark as "(cũ)"; bare "cu" is left alone ("Củ Chi").
        .str.replace_all(r"\(\s*cu\s*\)", " cũ ")
    )
    words = (
        distinct.select("addr_id", segment=lowered.str.split(","))
        .explode("segment")
        .with_row_index("seg_uid")
        .select("addr_id", "seg_uid", word=pl.col("segment").str.extract_all(WORD))
        .explode("word")
        .drop_nulls("word")
    )
    # Apostrophes inside names ("Ea H'MLay", "M'Drắk") are dropped, so "h'" is not read as "huyện".
    vocabulary = (
        words.select("word")
        .unique()
        .with_columns(
            tok=fold_expr(pl.col("word")).str.replace_all(APOSTROPHES, "").str.extract_all("[a-z0-9]+")
        )
        # A village/street word as written: "đường" is a street, "Dương" (Hải Dương) is not; unaccented text
        # cannot tell, so its "duong" still counts.
        .with_columns(
            local_word=pl.col("word").str.normalize("NFC").is_in(ACCENTED_LOCALITY_WORDS)
            | (pl.col("word").str.contains(r"^[a-z]+$") & pl.col("word").is_in(LOCALITY_WORDS))
        )
    )
    tokens = (
        words.join(vocabulary, on="word", how="left", maintain_order="left")
        .explode("tok")
        .drop_nulls("tok")
        .select(
            "addr_id",
            "seg_uid",
            "tok",
            "local_word",
            typed_tok=pl.col("tok").replace(ABBREVIATED_TYPES),
            old_mark=pl.col("word").str.normalize("NFC") == "cũ",
            unaccented=pl.col("word").str.contains(r"^[a-z0-9]+$"),
        )
    )
    # A Roman numeral is the whole ward name: right after "phường" (checked before expansion: "Phường X" is
    # Phường 10, not "phường xã"), unaccented ("Phường Vị Tân" is not Phường 6), and last in its part of the
    # address (followed by a comma or a type word).
    same_segment = pl.col("seg_uid").shift(-1) == pl.col("seg_uid")
    next_two = pl.col("typed_tok").shift(-1) + pl.col("typed_tok").shift(-2)
    last = (
        ~same_segment.fill_null(False)
        | pl.col("typed_tok").shift(-1).is_in(list(UNIT_TYPE_KEYS))
        | next_two.is_in(list(UNIT_TYPE_KEYS)).fill_null(False)
    )
    roman = (
        (pl.col("typed_tok").shift(1) == "phuong")
        & (pl.col("seg_uid").shift(1) == pl.col("seg_uid"))
        & pl.col("unaccented")
        & pl.col("tok").is_in(list(ROMAN_NUMERALS))
        & last
    )
    tokens = tokens.select(
        "addr_id",
        "seg_uid",
        "old_mark",
        "local_word",
        # "cũ" is a mark, not a syllable of any name: it joins no span ("An (cũ)" is not An Cư).
        tok=pl.when(pl.col("old_mark"))
        .then(pl.lit("~cu"))
        .when(roman.fill_null(False))
        .then(pl.col("tok").replace(ROMAN_NUMERALS))
        .otherwise(pl.col("typed_tok")),
    )
    return tokens.with_columns(pos=pl.int_range(pl.len(), dtype=pl.Int32).over("addr_id"))


def _old_marks(tokens: pl.DataFrame) -> pl.DataFrame:
    """Where a unit marked "cũ" ends: "Xã Long Hưng (cũ)" is the old commune, not the new one of that name."""
    return tokens.filter(pl.col("old_mark")).select("addr_id", end=pl.col("pos") - 1)


def _types_before(tokens: pl.DataFrame) -> pl.DataFrame:
    """The unit type word written right before a position ("Thị trấn |Đông Anh", "X. |Phong Phú")."""
    same = [pl.col("seg_uid").shift(k) == pl.col("seg_uid") for k in (1, 2)]
    one = pl.when(same[0]).then(pl.col("tok").shift(1))
    two = pl.when(same[0] & same[1]).then(pl.col("tok").shift(2) + pl.col("tok").shift(1))
    type_words = list(UNIT_TYPE_KEYS)
    return tokens.select(
        "addr_id",
        start="pos",
        type_before=pl.when(two.is_in(type_words)).then(two).when(one.is_in(type_words)).then(one),
    ).drop_nulls("type_before")


def _locality_starts(tokens: pl.DataFrame) -> pl.DataFrame:
    """Positions right after a village/street word or a house number ("Thôn |Đông Thành", "đường |Lê Lợi",
    "45/7 |Nguyễn Trãi"): a name there is a village or a street, whatever ward it is also named like."""
    previous = pl.when(pl.col("seg_uid").shift(1) == pl.col("seg_uid")).then(pl.col("tok").shift(1))
    before = pl.when(pl.col("seg_uid").shift(2) == pl.col("seg_uid")).then(pl.col("tok").shift(2))
    city = (previous == "pho") & (before == "thanh").fill_null(False)  # "thành phố X" names a city
    previous_local = pl.when(pl.col("seg_uid").shift(1) == pl.col("seg_uid")).then(
        pl.col("local_word").shift(1)
    )
    local = (previous_local & ~city) | previous.str.contains(r"^[0-9]+$")
    return tokens.filter(local.fill_null(False)).select("addr_id", start="pos")


def _spans(tokens: pl.DataFrame, max_tokens: int) -> pl.DataFrame:
    """Every run of 1..max_tokens adjacent tokens inside one comma segment, as a spaceless key."""
    parts = []
    shifted = [pl.col("tok")]
    for k in range(1, max_tokens):
        same_segment = pl.col("seg_uid").shift(-k) == pl.col("seg_uid")
        shifted.append(pl.when(same_segment).then(pl.col("tok").shift(-k)))
    wide = tokens.with_columns([expr.alias(f"t{k}") for k, expr in enumerate(shifted)])
    for length in range(1, max_tokens + 1):
        parts.append(
            wide.select(
                "addr_id",
                start=pl.col("pos"),
                end=pl.col("pos") + (length - 1),
                key=pl.concat_str([pl.col(f"t{k}") for k in range(length)]),
            ).drop_nulls("key")
        )
    return pl.concat(parts)


# --------------------------------------------------------------------------------------------------------------
# Readings and their scores.
# --------------------------------------------------------------------------------------------------------------


# A span typed as a ward anywhere in the country ("phuongdongson"), not inside a typed district ("thi xa ...").
WARD_SPAN = LEVEL.categories[-1]

# Which levels a typed span overrides: what the text calls a district ("Huyện Quảng Trạch") is not a ward or a
# province of the same name inside it, and "Tỉnh Sóc Trăng" is not the district Sóc Trăng.
ANCHOR_OVERRIDES: dict[str, tuple[str, ...]] = {
    DISTRICT: (WARD_OLD, WARD_NEW, DISTRICT, PROVINCE_OLD, PROVINCE_NEW),
    PROVINCE_OLD: (WARD_OLD, WARD_NEW, DISTRICT),
    PROVINCE_NEW: (WARD_OLD, WARD_NEW, DISTRICT),
    WARD_SPAN: (DISTRICT, PROVINCE_OLD, PROVINCE_NEW),
    # A ward the text types, found in a province it names, overrides other wards inside or across it: "Xã Tân
    # Phú Đông" is not Xã Tân Phú + "Đông". (Not any typed name in the country: "Xã An Lạc - Thôn 1" also
    # spells Xã An Lạc Thôn of another province.)
    WARD_OLD: (WARD_OLD, WARD_NEW),
    WARD_NEW: (WARD_OLD, WARD_NEW),
}


def _drop_overlapped(matches: pl.DataFrame, explicit_wards: pl.DataFrame) -> pl.DataFrame:
    """Drop matches overlapping a typed span of another unit (also cross-word run-ons such as
    "tan [binh thanh] pho" when the text has no commas): what the text calls a ward ("Phường Đồng Sơn") is not
    the district Đông Sơn inside it."""
    anchors = pl.concat(
        [
            matches.filter(pl.col("typed") & pl.col("level").is_in(list(ANCHOR_OVERRIDES))).select(
                "addr_id", a_start="start", a_end="end", a_level="level", a_unit="unit"
            ),
            explicit_wards.select(
                "addr_id",
                a_start="start",
                a_end="end",
                a_level=pl.lit(WARD_SPAN, dtype=LEVEL),
                a_unit=pl.lit(None, CODE),
            ),
        ]
    )
    overridden = pl.DataFrame(
        [(a, v) for a, victims in ANCHOR_OVERRIDES.items() for v in victims],
        schema={"a_level": LEVEL, "level": LEVEL},
        orient="row",
    )
    indexed = matches.with_row_index("_match")
    victims = (
        indexed.lazy()
        .select("_match", "addr_id", "start", "end", "level", "unit")
        .join(anchors.lazy(), on="addr_id")
        .filter(
            (pl.col("start") <= pl.col("a_end"))
            & (pl.col("end") >= pl.col("a_start"))
            & ~((pl.col("level") == pl.col("a_level")) & (pl.col("unit") == pl.col("a_unit")))
            & ~((pl.col("start") <= pl.col("a_start")) & (pl.col("end") >= pl.col("a_end")))
        )
        .join(overridden.lazy(), on=["a_level", "level"], how="semi")
        .select("_match")
        .unique()
    )
    return indexed.lazy().join(victims, on="_match", how="anti").drop("_match").collect()


def _drop_localities(
    matches: pl.DataFrame,
    explicit_wards: pl.DataFrame,
    local_starts: pl.DataFrame,
    types_before: pl.DataFrame,
) -> pl.DataFrame:
    """A village or street named like a ward ("Thôn Đông Thành", "đường Lê Lợi") is not read as the ward when
    the text names a ward explicitly ("Phường Đồng Sơn") after it, or writes a ward type word after it (the
    ward's own name may be misspelt: "đường Lê Lợi, Xã Canh Tânn")."""
    indexed = matches.with_row_index("_match").lazy()
    ward_slots = types_before.filter(pl.col("type_before").is_in(["xa", "phuong", "thitran", "dackhu"]))
    last_explicit = (
        pl.concat([explicit_wards.select("addr_id", "start"), ward_slots.select("addr_id", "start")])
        .lazy()
        .group_by("addr_id")
        .agg(last_start=pl.col("start").max())
    )
    victims = (
        indexed.filter(pl.col("level").is_in([WARD_OLD, WARD_NEW]) & ~pl.col("typed"))
        .join(local_starts.lazy(), on=["addr_id", "start"], how="semi")
        .join(last_explicit, on="addr_id")
        .filter(pl.col("last_start") > pl.col("end"))
        .select("_match")
    )
    return indexed.join(victims, on="_match", how="anti").drop("_match").collect()


def _drop_nested(matches: pl.DataFrame) -> pl.DataFrame:
    """Drop an untyped match inside a typed match of the same unit ("quangphu" inside "xaquangphu"): it says
    nothing the typed one does not, and a third of all matches are such. Done after the overlap and locality
    rules, which look at both."""
    indexed = matches.with_row_index("_match").lazy()
    typed = indexed.filter(pl.col("typed")).select("addr_id", "level", "unit", t_start="start", t_end="end")
    nested = (
        indexed.filter(~pl.col("typed"))
        .join(typed, on=["addr_id", "level", "unit"])
        .filter((pl.col("t_start") <= pl.col("start")) & (pl.col("t_end") >= pl.col("end")))
        .select("_match")
    )
    return indexed.join(nested, on="_match", how="anti").drop("_match").collect()


def local_marks(local_starts: pl.DataFrame, column: str) -> pl.DataFrame:
    """The village/street starts as (addr_id, `column`, local=True), to left-join onto mentions starting there."""
    return local_starts.select("addr_id", pl.col("start").alias(column), local=pl.lit(True)).unique()


def _drop_other_provinces(
    readings: pl.DataFrame, matches: pl.DataFrame, districts: pl.DataFrame, local_starts: pl.DataFrame
) -> pl.DataFrame:
    """Drop readings in another province than every one the text names, after the ward or before it ("TPHCM -
    H.Bình Chánh - X Phong Phú" is in Hồ Chí Minh City, whatever else Phong Phú names): "Thôn Đông Thành,
    Phường Đồng Sơn, Tỉnh Quảng Trị" is not Đông Thanh of Huyện Đông Sơn in Thanh Hóa. Only exact province
    mentions count, not those at a village or street start ("đường Hà Nội"), not those overlapping the ward,
    and not those inside the reading's own district ("Xã A, Quảng Ninh, Quảng Bình": Quảng Ninh is the
    district there, not the province)."""
    units = _unit_tables()
    exact = ~pl.col("fuzzy")
    named = pl.concat(
        [
            matches.filter((pl.col("level") == PROVINCE_NEW) & exact).select(
                "addr_id", p_start="start", p_end="end", named="unit"
            ),
            matches.filter((pl.col("level") == PROVINCE_OLD) & exact)
            .join(units["old_province_to_new"], on="unit")
            .select("addr_id", p_start="start", p_end="end", named="new_province"),
        ]
    ).join(local_starts, left_on=["addr_id", "p_start"], right_on=["addr_id", "start"], how="anti")
    keys = ["addr_id", "kind", "unit", "w_start", "w_end"]
    after = (
        readings.select(*keys, "new_province")
        .join(named, on="addr_id")
        .filter((pl.col("p_start") > pl.col("w_end")) | (pl.col("p_end") < pl.col("w_start")))
    )
    own_district = (
        readings.filter(pl.col("kind") == "old")
        .select(keys)
        .join(units["legacy_attrs"].select("unit", "district"), on="unit")
        .join(districts.select("addr_id", "district", "d_start", "d_end"), on=["addr_id", "district"])
        .filter((pl.col("d_start") > pl.col("w_end")) | (pl.col("d_end") < pl.col("w_start")))
    )
    inside_district = (
        after.join(own_district, on=keys)
        .filter((pl.col("p_start") <= pl.col("d_end")) & (pl.col("p_end") >= pl.col("d_start")))
        .select(*keys, "p_start", "p_end")
        .unique()
    )
    contradicted = (
        after.join(inside_district, on=[*keys, "p_start", "p_end"], how="anti")
        .group_by(keys)
        .agg(agrees=(pl.col("named") == pl.col("new_province")).any())
        .filter(~pl.col("agrees"))
    )
    return readings.join(contradicted.select(keys), on=keys, how="anti")


def _context(tokens: pl.DataFrame) -> dict[str, pl.DataFrame]:
    """What the readings need from the tokens besides the matches: village/street starts, type words written
    before a position, and units marked "cũ"."""
    # A part of the address that is only a number ("10, Vũng Tàu, …") holds a ward's number.
    numbers = tokens.filter(
        (pl.len().over("addr_id", "seg_uid") == 1) & pl.col("tok").str.contains(r"^[0-9]{1,2}$")
    ).select("addr_id", start="pos", end="pos")
    return {
        "local_starts": _locality_starts(tokens),
        "types_before": _types_before(tokens),
        "old_marks": _old_marks(tokens),
        "number_segments": numbers,
    }


# Type words no new ward carries (the new wards are phường, xã, đặc khu): a name right after them is an old
# unit ("Thị trấn Đông Anh" is not the new Xã Đông Anh).
OLD_ONLY_TYPES: tuple[str, ...] = ("thitran", "huyen", "quan", "thixa", "thanhpho")
DISTRICT_TYPES: tuple[str, ...] = ("huyen", "quan", "thixa", "thanhpho")


def _drop_marked_old(matches: pl.DataFrame, context: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """Drop new-ward matches the text marks as something else: written after a type word the new ward does not
    have ("Thị trấn X", "Phường X" for a new Xã X), or followed by "cũ" (the old commune of that name)."""
    units = _unit_tables()
    new = matches.filter(pl.col("level") == WARD_NEW).with_row_index("_new")
    wrong_type = (
        new.filter(~pl.col("typed"))
        .join(context["types_before"], on=["addr_id", "start"])
        .join(units["new_types"], on="unit")
        .filter(pl.col("type_before").is_in(OLD_ONLY_TYPES) | (pl.col("type_before") != pl.col("own_type")))
        .select("_new")
    )
    marked = new.join(context["old_marks"], on=["addr_id", "end"], how="semi").select("_new")
    kept = new.join(pl.concat([wrong_type, marked]), on="_new", how="anti").drop("_new")
    # A name right after a district's type word is the district, not an old ward of that name ("Thị xã Phú
    # Mỹ" is not Phường Phú Mỹ).
    old = matches.filter(pl.col("level") == WARD_OLD)
    after_district_type = (
        old.filter(~pl.col("typed"))
        .join(
            context["types_before"].filter(pl.col("type_before").is_in(DISTRICT_TYPES)),
            on=["addr_id", "start"],
            how="semi",
        )
        .select("addr_id", "start", "end", "unit")
    )
    old = old.join(after_district_type, on=["addr_id", "start", "end", "unit"], how="anti")
    return pl.concat([matches.filter(~pl.col("level").is_in([WARD_NEW, WARD_OLD])), old, kept])


def _readings(
    matches: pl.DataFrame, explicit_wards: pl.DataFrame, context: dict[str, pl.DataFrame]
) -> pl.DataFrame:
    """Score every old-ward and new-ward reading of each address; one row per (addr_id, reading)."""
    units = _unit_tables()
    local_starts = context["local_starts"]
    matches = _drop_marked_old(matches, context)
    matches = _drop_nested(
        _drop_localities(
            _drop_overlapped(matches, explicit_wards), explicit_wards, local_starts, context["types_before"]
        )
    )
    by_level = {
        level: matches.filter(pl.col("level") == level)
        for level in (PROVINCE_OLD, PROVINCE_NEW, DISTRICT, WARD_OLD, WARD_NEW)
    }
    # A district whose name is only part of a province's ("Lắk" in "Đắk Lắk") is not named.
    province_spans_all = matches.filter(pl.col("level").is_in([PROVINCE_OLD, PROVINCE_NEW])).select(
        "addr_id", p_start="start", p_end="end"
    )
    inside_province = (
        by_level[DISTRICT]
        .join(province_spans_all, on="addr_id")
        .filter(
            (pl.col("start") >= pl.col("p_start"))
            & (pl.col("end") <= pl.col("p_end"))
            & ((pl.col("start") != pl.col("p_start")) | (pl.col("end") != pl.col("p_end")))
        )
        .select("addr_id", "start", "end")
        .unique()
    )
    # A district named like its province ("Lạng Sơn", "Quảng Trị") written last, after everything else, is
    # the province: "Xã Thượng Cường, Chi Lăng, Lạng Sơn" does not name Thành phố Lạng Sơn.
    last_high = (
        matches.filter(pl.col("level").is_in([PROVINCE_OLD, PROVINCE_NEW, DISTRICT]))
        .join(inside_province, on=["addr_id", "start", "end"], how="anti")
        .group_by("addr_id")
        .agg(last_start=pl.col("start").max())
    )
    province_last = (
        matches.filter(pl.col("level").is_in([PROVINCE_OLD, PROVINCE_NEW]))
        .join(last_high, on="addr_id")
        .filter(pl.col("start") == pl.col("last_start"))
        .select("addr_id", "start", "end")
        .unique()
    )
    districts = (
        by_level[DISTRICT]
        .join(province_last, on=["addr_id", "start", "end"], how="anti")
        .join(inside_province, on=["addr_id", "start", "end"], how="anti")
        .select("addr_id", district="unit", d_start="start", d_end="end", d_fuzzy="fuzzy")
    )
    # ... and so is a ward of that name ("…, Thị xã An Nhơn, Bình Định" does not name Phường Bình Định), and a
    # ward whose name is only part of a province's ("Bà Rịa" in "Bà Rịa - Vũng Tàu").
    # A ward named by part of a district's name ("Lạt" in "Đà Lạt") is not read either, unless that district's
    # name is itself part of a longer ward's ("Hòa Bình" in "Xã Hòa Bình Thạnh").
    ward_spans = matches.filter(pl.col("level").is_in([WARD_OLD, WARD_NEW])).select(
        "addr_id", w_s="start", w_e="end"
    )
    district_spans = by_level[DISTRICT].select("addr_id", p_start="start", p_end="end").unique()
    district_spans = district_spans.join(
        district_spans.join(ward_spans, on="addr_id")
        .filter(
            (pl.col("w_s") <= pl.col("p_start"))
            & (pl.col("w_e") >= pl.col("p_end"))
            & ((pl.col("w_s") != pl.col("p_start")) | (pl.col("w_e") != pl.col("p_end")))
        )
        .select("addr_id", "p_start", "p_end"),
        on=["addr_id", "p_start", "p_end"],
        how="anti",
    )
    for level in (WARD_OLD, WARD_NEW):
        inside = (
            by_level[level]
            .join(pl.concat([province_spans_all, district_spans]), on="addr_id")
            .filter(
                (pl.col("start") >= pl.col("p_start"))
                & (pl.col("end") <= pl.col("p_end"))
                & ((pl.col("start") != pl.col("p_start")) | (pl.col("end") != pl.col("p_end")))
            )
            .select("addr_id", "start", "end")
            .unique()
        )
        by_level[level] = (
            by_level[level]
            .join(province_last, on=["addr_id", "start", "end"], how="anti")
            .join(inside, on=["addr_id", "start", "end"], how="anti")
        )
    old_provinces = by_level[PROVINCE_OLD].select(
        "addr_id", old_province="unit", p_start="start", p_end="end", p_fuzzy="fuzzy"
    )
    new_provinces = pl.concat(
        [
            by_level[PROVINCE_NEW].select(
                "addr_id",
                new_province="unit",
                np_start="start",
                np_end="end",
                np_fuzzy="fuzzy",
                np_old=pl.lit(False),
            ),
            by_level[PROVINCE_OLD]
            .join(units["old_province_to_new"], on="unit")
            .select(
                "addr_id",
                "new_province",
                np_start="start",
                np_end="end",
                np_fuzzy="fuzzy",
                np_old=pl.lit(True),
            ),
        ]
    )

    old = (
        by_level[WARD_OLD].rename({"start": "w_start", "end": "w_end"}).join(units["legacy_attrs"], on="unit")
    )
    keys = ["addr_id", "unit", "w_start"]
    # Evidence after the ward: its own district, its old province, or the new province it now belongs to.
    # Aggregated to small tables first (only the hits), then left-joined: no list columns through group_bys.
    # Reversed order ("TPHCM - H.Bình Chánh - X Phong Phú - Thôn 3"): the district right before the ward, and
    # then the province anywhere before it, count as they would after it. A name at a village or street start
    # ("đường Hà Nội") is not a unit of the address.
    district_hits = (
        old.select(*keys, "w_end", "district")
        .join(
            districts.join(local_marks(local_starts, "d_start"), on=["addr_id", "d_start"], how="left"),
            on=["addr_id", "district"],
        )
        .filter(
            (pl.col("d_start") > pl.col("w_end"))
            | ((pl.col("d_end") + 1 == pl.col("w_start")) & pl.col("local").is_null())
        )
        .group_by(keys)
        .agg(
            d_fuzzy=pl.col("d_fuzzy").all(),
            d_before=(pl.col("d_end") < pl.col("w_start")).all(),
            d_pos=pl.col("d_start").min(),
        )
    )
    # (before the ward only: after it, a name right after a number is the district's "Q.4 - Tp. HCM")
    visible_old_provinces = old_provinces.join(
        local_marks(local_starts, "p_start"), on=["addr_id", "p_start"], how="left"
    )
    visible_new_provinces = new_provinces.join(
        local_marks(local_starts, "np_start"), on=["addr_id", "np_start"], how="left"
    )
    province_hits = (
        pl.concat(
            [
                old.select(*keys, "w_end", "old_province")
                .join(visible_old_provinces, on=["addr_id", "old_province"])
                .select(
                    *keys,
                    "p_fuzzy",
                    p_after=pl.col("p_start") > pl.col("w_end"),
                    p_before=(pl.col("p_end") < pl.col("w_start")) & pl.col("local").is_null(),
                    p_adjacent=pl.col("p_end") + 1 == pl.col("w_start"),
                ),
                old.select(*keys, "w_end", "new_province")
                .join(visible_new_provinces.filter(~pl.col("np_old")), on=["addr_id", "new_province"])
                .select(
                    *keys,
                    p_fuzzy="np_fuzzy",
                    p_after=pl.col("np_start") > pl.col("w_end"),
                    p_before=(pl.col("np_end") < pl.col("w_start")) & pl.col("local").is_null(),
                    p_adjacent=pl.col("np_end") + 1 == pl.col("w_start"),
                ),
            ]
        )
        # Before the ward, a province counts right before it, or with its district before the ward too.
        .join(district_hits.filter(pl.col("d_before")).select(*keys, rev=pl.lit(True)), on=keys, how="left")
        .filter(
            pl.col("p_after") | (pl.col("p_before") & (pl.col("rev").fill_null(False) | pl.col("p_adjacent")))
        )
        .group_by(keys)
        .agg(pl.col("p_fuzzy").all())
    )
    old = (
        old.join(district_hits.drop("d_before"), on=keys, how="left")
        .join(province_hits, on=keys, how="left")
        .with_columns(
            has_district=pl.col("d_fuzzy").is_not_null(), has_province=pl.col("p_fuzzy").is_not_null()
        )
        .filter(pl.col("has_district") | pl.col("has_province"))
        .with_columns(
            score=pl.col("has_district").cast(pl.Int32) * SCORE_DISTRICT
            + pl.col("has_province").cast(pl.Int32) * SCORE_PROVINCE
            + pl.col("typed").cast(pl.Int32) * SCORE_TYPED,
            any_fuzzy=pl.col("fuzzy")
            | pl.col("d_fuzzy").fill_null(False)
            | pl.col("p_fuzzy").fill_null(False),
            kind=pl.lit("old"),
            three_tier=pl.col("has_district"),
        )
        .sort("score", descending=True)
        .unique(["addr_id", "unit", "w_start", "w_end"], keep="first")
        .join(units["legacy_codes"], on="unit")
    )
    # A reading without its district is contradicted when the text names another district of the same
    # province after the ward ("Lê Lợi" the street is not Phường Lê Lợi of another district).
    # A span that also names a province ("Quảng Trị": the province and Thị xã Quảng Trị) proves nothing.
    province_spans = matches.filter(pl.col("level").is_in([PROVINCE_OLD, PROVINCE_NEW])).select(
        "addr_id", d_start="start", d_end="end"
    )
    named_districts = (
        districts.join(province_spans.unique(), on=["addr_id", "d_start", "d_end"], how="anti")
        .join(units["district_to_new_province"], on="district")
        .select("addr_id", "new_province", other_district="district", o_start="d_start")
    )
    old_contradicted = (
        old.filter(~pl.col("has_district"))
        .select("addr_id", "unit", "w_start", "w_end", "new_province")
        .join(units["legacy_attrs"].select("unit", "district"), on="unit")
        .join(named_districts, on=["addr_id", "new_province"])
        .filter((pl.col("o_start") > pl.col("w_end")) & (pl.col("other_district") != pl.col("district")))
        .select("addr_id", "unit", "w_start")
        .unique()
    )
    old = old.join(old_contradicted, on=["addr_id", "unit", "w_start"], how="anti")

    new = by_level[WARD_NEW].rename({"start": "w_start", "end": "w_end"}).join(units["new"], on="unit")
    new_contradicted = (
        new.select("addr_id", "unit", "w_start", "w_end", "new_province")
        .join(named_districts, on=["addr_id", "new_province"])
        .filter(pl.col("o_start") > pl.col("w_end"))
        .join(units["new_ward_districts"], on=["unit", "other_district"], how="anti")
        .select("addr_id", "unit", "w_start")
        .unique()
    )
    # A new ward named like an old district of its province, with a ward named before it ("Xã Liên Hà, Đông
    # Anh, Hà Nội"): the name is the old district of an old 3-tier address, not the new Xã Đông Anh.
    wards_before = (
        pl.concat(
            [
                matches.filter(pl.col("level").is_in([WARD_OLD, WARD_NEW]))
                .join(local_starts, on=["addr_id", "start"], how="anti")
                .select("addr_id", "start", "end"),
                context["number_segments"],
            ]
        )
        .group_by("addr_id")
        .agg(first_end=pl.col("end").min())
    )
    district_spans = districts.join(units["district_to_new_province"], on="district").select(
        "addr_id", "new_province", w_start="d_start", w_end="d_end"
    )

    def read_as_district(readings: pl.DataFrame) -> pl.DataFrame:
        """The readings whose ward text is also a district of their province with a ward written before it."""
        return (
            readings.select("addr_id", "unit", "w_start", "w_end", "new_province")
            .join(district_spans, on=["addr_id", "new_province", "w_start", "w_end"])
            .join(wards_before, on="addr_id")
            .filter(pl.col("first_end") < pl.col("w_start"))
            .select("addr_id", "unit", "w_start")
            .unique()
        )

    as_district = read_as_district(new)
    # A part that is only a number after the ward is an old district's ("Tân Chánh Hiệp, 12, Hồ Chí Minh": Quận
    # 12): a new 2-tier address has no district.
    numbered_district = (
        new.select("addr_id", "unit", "w_start", "w_end")
        .join(context["number_segments"].select("addr_id", n_start="start"), on="addr_id")
        .filter(pl.col("n_start") > pl.col("w_end"))
        .select("addr_id", "unit", "w_start")
        .unique()
    )
    new = new.join(
        pl.concat([new_contradicted, as_district, numbered_district]),
        on=["addr_id", "unit", "w_start"],
        how="anti",
    )
    # The same for an old ward read with its province only ("3, Tân An, Long An": Phường 3 of Tân An).
    old_as_district = read_as_district(old.filter(~pl.col("has_district")))
    old = old.join(old_as_district, on=["addr_id", "unit", "w_start"], how="anti")
    new = (
        new.join(visible_new_provinces, on=["addr_id", "new_province"], how="inner")
        # the province after the ward, or right before it ("TP.HCM, Phường Bến Thành")
        .filter(
            (pl.col("np_start") > pl.col("w_end"))
            | ((pl.col("np_end") + 1 == pl.col("w_start")) & pl.col("local").is_null())
        )
        .with_columns(
            score=pl.when(pl.col("np_old"))
            .then(SCORE_NEW_WITH_OLD_PROVINCE)
            .otherwise(SCORE_NEW_WITH_PROVINCE)
            + pl.col("typed").cast(pl.Int32) * SCORE_TYPED,
            any_fuzzy=pl.col("fuzzy") | pl.col("np_fuzzy"),
        )
        .sort("score", descending=True)
        .unique(["addr_id", "unit", "w_start", "w_end"], keep="first")
        .select(
            "addr_id",
            "unit",
            "w_start",
            "w_end",
            "new_province",
            "score",
            "any_fuzzy",
            new_codes=pl.concat_list(pl.col("unit").cast(pl.String)),
            is_split=pl.lit(False),
            kind=pl.lit("new"),
            three_tier=pl.lit(False),
            d_pos=pl.lit(None, pl.Int32),
        )
    )
    columns = [
        "addr_id",
        "kind",
        "unit",
        "w_start",
        "w_end",
        "new_province",
        "new_codes",
        "is_split",
        "score",
        "any_fuzzy",
        "three_tier",
        "d_pos",
    ]
    readings = pl.concat([old.select(columns), new.select(columns)], how="vertical_relaxed")
    return _drop_other_provinces(readings, matches, districts, local_starts)


def _accent_tiebreak(best: pl.DataFrame, texts: pl.DataFrame) -> pl.DataFrame:
    """Among tied readings keep those whose accented name is in the text: folding makes "Nghi Vạn" and
    "Nghi Văn" (neighbours in one district) equal, the accents the writer typed do not."""
    tied = best.filter(pl.col("unit").n_unique().over("addr_id") > 1)
    if tied.is_empty():
        return best
    lowered = pl.col("text").str.normalize("NFC").str.to_lowercase()
    hits = (
        tied.select("addr_id", "kind", "unit")
        .join(texts, on="addr_id")
        .join(_unit_tables()["accented_names"], on=["kind", "unit"])
        .with_columns(hit=lowered.str.contains(pl.col("name"), literal=True))
        .group_by("addr_id", "kind", "unit")
        .agg(pl.col("hit").any())
    )
    return (
        best.join(hits, on=["addr_id", "kind", "unit"], how="left")
        .with_columns(hit=pl.col("hit").fill_null(False))
        .filter(pl.col("hit") | ~pl.col("hit").any().over("addr_id"))
        .drop("hit")
    )


def _decide(readings: pl.DataFrame, matches: pl.DataFrame, texts: pl.DataFrame) -> pl.DataFrame:
    """Pick the best reading(s) per address and turn them into ward_code / candidates / status."""
    best = readings.filter(pl.col("score") == pl.col("score").max().over("addr_id"))
    # A reading whose ward is the district another equally good reading stands on ("Mỹ Tịnh An, Chợ Gạo, Tiền
    # Giang": Chợ Gạo is the district there, not Thị trấn Chợ Gạo) gives way to it.
    districts_used = best.group_by("addr_id").agg(d_used=pl.col("d_pos").drop_nulls().unique())
    # (When every reading is another's district, as in "Hóc Môn, Hóc Môn", none gives way.)
    gives_way = pl.col("d_used").list.contains(pl.col("w_start")).fill_null(False)
    best = (
        best.join(districts_used, on="addr_id", how="left")
        .filter(~gives_way | gives_way.all().over("addr_id"))
        .drop("d_used")
    )
    # Among equally scored readings the rightmost ward wins (a street named like a ward comes first).
    best = best.filter(pl.col("w_end") == pl.col("w_end").max().over("addr_id"))
    # Prefer exact over fuzzy evidence for the same reading.
    best = best.sort("any_fuzzy").unique(["addr_id", "kind", "unit"], keep="first")
    best = _accent_tiebreak(best, texts)

    # Several distinct old wards (or readings) that agree on one new ward are fine; otherwise ambiguous.
    decided = best.group_by("addr_id").agg(
        candidates=pl.col("new_codes").list.explode(keep_nulls=False, empty_as_null=False).unique().sort(),
        units=pl.col("unit").n_unique(),
        split_unit=pl.when(pl.col("is_split")).then(pl.col("unit")).first(),
        w_start=pl.col("w_start").min(),
        w_end=pl.col("w_end").max(),
        new_province=pl.col("new_province").unique(),
        any_fuzzy=pl.col("any_fuzzy").all(),
        three_tier=pl.col("three_tier").all(),
        reading_units=pl.col("unit").filter(pl.col("kind") == "old").cast(pl.String).unique().sort(),
    )
    # A split old ward is settled when the text elsewhere (before the ward) names exactly one candidate.
    naming = (
        matches.filter(pl.col("level") == WARD_NEW)
        .join(
            # (a split old ward only: two old wards of one name read alike are not told apart by it)
            decided.filter((pl.col("candidates").list.len() > 1) & (pl.col("units") == 1)).select(
                "addr_id", "w_start", "candidates"
            ),
            on="addr_id",
        )
        .with_columns(pl.col("unit").cast(pl.String))
        .filter((pl.col("end") < pl.col("w_start")) & pl.col("candidates").list.contains(pl.col("unit")))
        .group_by("addr_id")
        .agg(settled=pl.col("unit").unique())
        .filter(pl.col("settled").list.len() == 1)
        .select("addr_id", settled=pl.col("settled").list.first())
    )
    decided = decided.join(naming, on="addr_id", how="left").with_columns(
        ward_code=pl.when(pl.col("candidates").list.len() == 1)
        .then(pl.col("candidates").list.first())
        .otherwise(pl.col("settled"))
    )
    return decided.select(
        "addr_id",
        "ward_code",
        province_code=pl.when(pl.col("new_province").list.len() == 1).then(
            pl.col("new_province").list.first().cast(pl.String)
        ),
        address_status=pl.when(pl.col("ward_code").is_null())
        .then(pl.lit("ambiguous"))
        .when(pl.col("any_fuzzy"))
        .then(pl.lit("fuzzy"))
        .otherwise(pl.lit("exact")),
        ward_candidates=pl.when(pl.col("ward_code").is_null())
        .then(pl.col("candidates"))
        .otherwise(pl.concat_list(pl.col("ward_code"))),
        # Several old wards matched equally (not a split): worth a typo-tolerant second look.
        tied=pl.col("ward_code").is_null() & (pl.col("units") > 1),
        # For reading a commune_code hint: did the text name a district (an old 3-tier address), and which
        # old wards did it name.
        three_tier="three_tier",
        reading_units="reading_units",
        w_end="w_end",
    )


def _cut_short(decided: pl.DataFrame, tokens: pl.DataFrame, matches: pl.DataFrame) -> pl.DataFrame:
    """Addresses whose ward reading stops before the end of its part of the address, with a word nothing
    explains after it ("Xã Bình Hòa Tâ, Huyện Mộc Hóa": Bình Hòa, or a misspelt Bình Hòa Tây?): worth the
    typo-tolerant second look, which keeps the longer reading when it finds one."""
    ends = decided.filter(pl.col("ward_code").is_not_null()).select("addr_id", pos=pl.col("w_end") + 1)
    following = tokens.join(ends, on=["addr_id", "pos"]).join(
        tokens.select("addr_id", "seg_uid", pos=pl.col("pos") + 1),
        on=["addr_id", "seg_uid", "pos"],
        how="semi",
    )
    explained = pl.concat(
        [
            matches.select("addr_id", pos="start"),
            tokens.filter(
                pl.col("tok").is_in(list(UNIT_TYPE_KEYS) + list(LOCALITY_WORDS)) | pl.col("old_mark")
            ).select("addr_id", "pos"),
        ]
    )
    return (
        following.filter(~pl.col("tok").str.contains(r"^[0-9]+$"))
        .join(explained, on=["addr_id", "pos"], how="anti")
        .select("addr_id")
        .unique()
    )


# --------------------------------------------------------------------------------------------------------------
# Typo tolerance for the leftovers.
# --------------------------------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _fuzzy_choices() -> dict[str, pl.DataFrame]:
    """Keywords per level for typo-tolerant matching, with the scope each is searched in (all provinces; the
    old province of a district; the district of an old ward; the new province of a new ward), their type word
    and length. Keys shorter than FUZZY_MIN_KEY_LENGTH are left out: one edit in them is another name."""
    lexicon, _ = _lexicon()
    units = _unit_tables()
    everywhere = pl.lit("all", dtype=CODE)
    scoped = {
        PROVINCE_OLD: lexicon.filter(pl.col("level") == PROVINCE_OLD).with_columns(scope=everywhere),
        PROVINCE_NEW: lexicon.filter(pl.col("level") == PROVINCE_NEW).with_columns(scope=everywhere),
        DISTRICT: lexicon.filter(pl.col("level") == DISTRICT).join(
            units["legacy_attrs"].select(unit="district", scope="old_province").unique(), on="unit"
        ),
        WARD_OLD: lexicon.filter(pl.col("level") == WARD_OLD).join(
            units["legacy_attrs"].select("unit", scope="district"), on="unit"
        ),
        WARD_NEW: lexicon.filter(pl.col("level") == WARD_NEW).join(
            units["new"].select("unit", scope="new_province"), on="unit"
        ),
    }
    return {
        level: choices.filter(pl.col("key").str.len_chars() >= FUZZY_MIN_KEY_LENGTH).select(
            "scope",
            "key",
            "unit",
            "typed",
            type_word=pl.col("key").str.extract(TYPE_PREFIX).fill_null(""),
            c_len=pl.col("key").str.len_chars().cast(pl.Int32),
        )
        for level, choices in scoped.items()
    }


def _fuzzy_matches(spans: pl.DataFrame, scopes: pl.DataFrame, level: str) -> pl.DataFrame:
    """Fuzzy-match spans to keywords of `level`, each address only against the keywords of its scope.

    spans: addr_id, start, end, key. scopes: addr_id, scope, before (spans must end before this position).
    The keywords are `_fuzzy_choices()[level]`. The (span key, keyword) pairs of each scope are formed by a join, pruned by
    length (a ratio of FUZZY_CUTOFF needs lengths this close), deduplicated, and scored in one rapidfuzz
    `cpdist` call (C, threaded): no Python loop over scopes or addresses.
    """
    empty = pl.DataFrame(
        schema={
            "addr_id": pl.UInt32,
            "start": pl.Int32,
            "end": pl.Int32,
            "level": LEVEL,
            "unit": CODE,
            "typed": pl.Boolean,
            "fuzzy": pl.Boolean,
            "score": pl.Float64,
        }
    )
    if scopes.is_empty():
        return empty
    # The misspelt name runs up to the unit that scopes it ("Xã Quảng Phuu, Huyện Quảng Trạch").
    candidates = (
        spans.join(
            scopes.select("addr_id", "scope", end=pl.col("before") - 1).unique(), on=["addr_id", "end"]
        )
        .filter(
            (pl.col("end") - pl.col("start") < FUZZY_WINDOW_TOKENS)
            & (pl.col("key").str.len_chars() >= FUZZY_MIN_KEY_LENGTH)
        )
        .select("addr_id", "start", "end", "key", "scope")
    )
    if candidates.is_empty():
        return empty
    choices = _fuzzy_choices()[level]
    slack = (100.0 - FUZZY_CUTOFF) / 100.0
    # A typed span is compared with keywords typed the same way ("xaquangphuu" with "xaquangphu"), an untyped
    # one with untyped keywords: every typed span also has its untyped tail among the queries.
    type_word = pl.col("key").str.extract(TYPE_PREFIX).fill_null("")
    pairs = (
        candidates.select("scope", "key")
        .unique()
        .with_columns(type_word=type_word, q_len=pl.col("key").str.len_chars().cast(pl.Int32))
        .join(choices.select("scope", "type_word", "c_len", choice="key").unique(), on=["scope", "type_word"])
        # fuzz.ratio = 100·(1 − indel/(len1+len2)) and indel ≥ |len1 − len2|.
        .filter((pl.col("q_len") - pl.col("c_len")).abs() <= slack * (pl.col("q_len") + pl.col("c_len")))
    )
    scored = pairs.select("key", "choice").unique()
    if scored.is_empty():
        return empty
    scores = process.cpdist(
        scored["key"].to_list(),
        scored["choice"].to_list(),
        scorer=fuzz.ratio,
        score_cutoff=FUZZY_CUTOFF,
        dtype=np.uint8,
        workers=-1,
    )
    scored = scored.with_columns(score=pl.Series(scores, dtype=pl.Float64)).filter(pl.col("score") > 0)
    hits = (
        pairs.select("scope", "key", "choice")
        .join(scored, on=["key", "choice"])
        .join(choices.select("scope", choice="key", unit="unit", typed="typed"), on=["scope", "choice"])
    )
    matched = candidates.join(hits, on=["scope", "key"])
    # Per address keep the best-scoring unit only when no other unit scores nearly as well: a typo that is as
    # close to two names ("Bình Mĩ": Bình Mỹ, Bình Minh) names neither.
    per_unit = matched.group_by("addr_id", "unit").agg(unit_best=pl.col("score").max())
    runner_up = (
        per_unit.sort("unit_best", descending=True)
        .group_by("addr_id", maintain_order=True)
        .agg(second=pl.col("unit_best").get(1, null_on_oob=True))
    )
    best = matched.filter(pl.col("score") == pl.col("score").max().over("addr_id"))
    best = best.filter(pl.col("unit").n_unique().over("addr_id") == 1)
    best = best.join(runner_up, on="addr_id", how="left").filter(
        pl.col("second").is_null() | (pl.col("score") - pl.col("second") >= FUZZY_MARGIN)
    )
    return best.select(
        "addr_id",
        pl.col("start").cast(pl.Int32),
        pl.col("end").cast(pl.Int32),
        level=pl.lit(level, dtype=LEVEL),
        unit="unit",
        typed="typed",
        fuzzy=pl.lit(True),
        score="score",
    )


def _fuzzy_pass(
    spans: pl.DataFrame,
    matches: pl.DataFrame,
    leftover_ids: pl.Series,
    exact_ward_spans: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Typo-tolerant matches for addresses that have no reading: province, then district, then ward. A span
    that is exactly some ward's name (`exact_ward_spans`) is not read as a misspelling of another: "Xã Phú Sơn"
    tied between two old Phú Sơn is not the new Xã Phước Sơn."""
    units = _unit_tables()
    spans = spans.filter(pl.col("addr_id").is_in(leftover_ids.implode()))
    ward_spans = (
        spans
        if exact_ward_spans is None
        else spans.join(exact_ward_spans, on=["addr_id", "start", "end"], how="anti")
    )
    # A misspelt name runs up to the whole typed district ("Huyện Quảng Trạch"), not up to the name inside it.
    # Typed spans override what they contain ("Tỉnh Quảng Trị" is not Thị xã Quảng Trị): a district that is
    # not really there must not stop the search for the misspelt one.
    no_explicit = pl.DataFrame(schema={"addr_id": pl.UInt32, "start": pl.Int32, "end": pl.Int32})
    current = _drop_nested(
        _drop_overlapped(matches.filter(pl.col("addr_id").is_in(leftover_ids.implode())), no_explicit)
    )
    added = []
    last_position = spans.group_by("addr_id").agg(before=pl.col("end").max() + 1)

    # Province: only for addresses with none, against all provinces (old and new).
    no_province = last_position.join(
        current.filter(pl.col("level").is_in([PROVINCE_OLD, PROVINCE_NEW])).select("addr_id").unique(),
        on="addr_id",
        how="anti",
    ).with_columns(scope=pl.lit("all", dtype=CODE))
    for level in (PROVINCE_OLD, PROVINCE_NEW):
        added.append(_fuzzy_matches(spans, no_province, level))
    current = pl.concat([current, *[a.drop("score") for a in added]], how="vertical_relaxed")

    # District: addresses with an old province (or a new one, via its old provinces) and no district.
    province_scope = pl.concat(
        [
            current.filter(pl.col("level") == PROVINCE_OLD).select("addr_id", scope="unit", before="start"),
            current.filter(pl.col("level") == PROVINCE_NEW)
            .join(units["old_province_to_new"].rename({"unit": "old", "new_province": "unit"}), on="unit")
            .select("addr_id", scope="old", before="start"),
        ]
    )
    district_scope = province_scope.join(
        current.filter(pl.col("level") == DISTRICT).select("addr_id").unique(), on="addr_id", how="anti"
    )
    district_added = _fuzzy_matches(spans, district_scope, DISTRICT)
    added.append(district_added)
    current = pl.concat([current, district_added.drop("score")], how="vertical_relaxed")

    # Old ward within each matched district; new ward within each matched new province.
    ward_scope = current.filter(pl.col("level") == DISTRICT).select("addr_id", scope="unit", before="start")
    added.append(_fuzzy_matches(ward_spans, ward_scope, WARD_OLD))
    new_scope = pl.concat(
        [
            current.filter(pl.col("level") == PROVINCE_NEW).select("addr_id", scope="unit", before="start"),
            current.filter(pl.col("level") == PROVINCE_OLD)
            .join(units["old_province_to_new"], on="unit")
            .select("addr_id", scope="new_province", before="start"),
        ]
    )
    # Where a district runs up to the province (an old 3-tier address), no new ward can be there.
    district_ends = current.filter(pl.col("level") == DISTRICT).select("addr_id", before=pl.col("end") + 1)
    new_scope = new_scope.join(district_ends.unique(), on=["addr_id", "before"], how="anti")
    added.append(_fuzzy_matches(ward_spans, new_scope, WARD_NEW))
    return pl.concat([a.drop("score") for a in added], how="vertical_relaxed")


# --------------------------------------------------------------------------------------------------------------
# Public API.
# --------------------------------------------------------------------------------------------------------------


def _province_only(matches: pl.DataFrame, local_starts: pl.DataFrame) -> pl.DataFrame:
    """The new province named by the rightmost province mention (not a street: "đường Hà Nội"), when it names
    exactly one."""
    units = _unit_tables()
    provinces = pl.concat(
        [
            matches.filter(pl.col("level") == PROVINCE_NEW).select(
                "addr_id", "start", "end", province_code="unit"
            ),
            matches.filter(pl.col("level") == PROVINCE_OLD)
            .join(units["old_province_to_new"], on="unit")
            .select("addr_id", "start", "end", province_code="new_province"),
        ]
    ).join(local_starts, on=["addr_id", "start"], how="anti")
    rightmost = provinces.filter(pl.col("end") == pl.col("end").max().over("addr_id"))
    return (
        rightmost.group_by("addr_id")
        .agg(pl.col("province_code").unique())
        .filter(pl.col("province_code").list.len() == 1)
        .select("addr_id", province_code=pl.col("province_code").list.first().cast(pl.String))
    )


def _high_matches(hits: pl.DataFrame) -> pl.DataFrame:
    """Exact province and district matches of the known span keys."""
    return _as_matches(hits.join(_lexicon_parts()["high"], on="key_id"))


def _as_matches(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.select(
        "addr_id",
        pl.col("start").cast(pl.Int32),
        pl.col("end").cast(pl.Int32),
        "level",
        "unit",
        "typed",
        fuzzy=pl.lit(False),
    )


def _ward_matches(hits: pl.DataFrame, high: pl.DataFrame) -> pl.DataFrame:
    """Exact ward matches, looked up only inside the new provinces the address names: by a province (old or
    new) or through a district. Every reading needs one of those, so nothing readable is lost."""
    units = _unit_tables()
    parts = _lexicon_parts()
    scope = pl.concat(
        [
            high.filter(pl.col("level") == PROVINCE_NEW).select("addr_id", new_province="unit"),
            high.filter(pl.col("level") == PROVINCE_OLD)
            .join(units["old_province_to_new"], on="unit")
            .select("addr_id", "new_province"),
            high.filter(pl.col("level") == DISTRICT)
            .join(units["district_to_new_province"].rename({"district": "unit"}), on="unit")
            .select("addr_id", "new_province"),
        ]
    ).unique()
    ward_hits = hits.filter(pl.col("ward_key"))
    return _as_matches(
        ward_hits.join(scope, on="addr_id").join(parts["wards"], on=["key_id", "new_province"])
    )


def _explicit_wards(hits: pl.DataFrame, high: pl.DataFrame) -> pl.DataFrame:
    """Spans the text types as a ward of some name ("Phường Đồng Sơn", "xa quang phu"), wherever in the country
    that ward is, except where they overlap a typed district or province: "thi xa son tay ha noi" holds
    "xã Sơn Tây" and "xã Sơn Tây Hà", neither of which is a ward there."""
    spans = hits.filter(pl.col("typed_ward_key")).select("addr_id", "start", "end")
    typed_high = high.filter(pl.col("typed")).select("addr_id", a_start="start", a_end="end")
    overlapping = (
        spans.join(typed_high, on="addr_id")
        .filter((pl.col("a_start") <= pl.col("end")) & (pl.col("a_end") >= pl.col("start")))
        .select("addr_id", "start", "end")
    )
    return spans.join(overlapping, on=["addr_id", "start", "end"], how="anti").unique()


@lru_cache(maxsize=1)
def _well_formed_tables() -> dict[str, pl.DataFrame]:
    """For `_well_formed`: (typed old-ward keyword, district keyword) pairs that name exactly one old ward that
    was not split, with its new ward; and the keywords of every old and new province."""
    lexicon, _ = _lexicon()
    units = _unit_tables()
    wards = (
        lexicon.filter((pl.col("level") == WARD_OLD) & pl.col("typed"))
        .select(ward_key="key", unit="unit")
        .join(units["legacy_attrs"], on="unit")
        .join(units["legacy_codes"], on="unit")
    )
    districts = lexicon.filter(pl.col("level") == DISTRICT).select(district_key="key", district="unit")
    pairs = (
        wards.join(districts, on="district")
        .unique(["ward_key", "district_key", "unit"])
        .filter(pl.len().over(["ward_key", "district_key"]) == 1)
        .filter(~pl.col("is_split"))
        .select(
            "ward_key",
            "district_key",
            "unit",
            "old_province",
            "new_province",
            ward_code=pl.col("new_codes").list.first(),
        )
    )
    provinces = pl.concat(
        [
            lexicon.filter(pl.col("level") == PROVINCE_OLD)
            .join(units["old_province_to_new"], on="unit")
            .select(province_key="key", old_province="unit", new_province="new_province"),
            lexicon.filter(pl.col("level") == PROVINCE_NEW).select(
                province_key="key", old_province=pl.lit(None, CODE), new_province="unit"
            ),
        ]
    )
    return {"pairs": pairs, "provinces": provinces}


def _well_formed(tokens: pl.DataFrame) -> pl.DataFrame:
    """Old 3-tier addresses whose last comma segments are exactly a typed ward, its district and (optionally)
    its province ("…, Xã Quảng Phú, Huyện Quảng Trạch, Tỉnh Quảng Bình", any spelling that folds the same):
    resolved by one join, without the span machinery. Only where the full reading would give the same answer:
    the ward is typed (the top score), the pair names one unsplit old ward, and a last segment names its own
    province; anything else is left to the full reading."""
    tables = _well_formed_tables()
    # Each segment's key from its first row: its tokens concatenated (null when it has more than a ward,
    # district or province name can have; such a segment is never part of a well-formed tail).
    same_segment = [
        pl.col("seg_uid").shift(-k) == pl.col("seg_uid") for k in range(1, WELL_FORMED_TOKENS + 1)
    ]
    key = pl.concat_str(
        [pl.col("tok")]
        + [
            pl.when(same).then(pl.col("tok").shift(-k)).otherwise(pl.lit(""))
            for k, same in enumerate(same_segment[:-1], 1)
        ]
    )
    segments = (
        tokens.select(
            "addr_id",
            first=(pl.col("seg_uid") != pl.col("seg_uid").shift(1)).fill_null(True),
            key=pl.when(~same_segment[-1].fill_null(False)).then(key),
        )
        .filter(pl.col("first"))
        .group_by("addr_id", maintain_order=True)
        .agg(keys=pl.col("key"))
    )
    last = pl.col("keys")
    with_province = segments.select(
        "addr_id",
        ward_key=last.list.get(-3, null_on_oob=True),
        district_key=last.list.get(-2, null_on_oob=True),
        province_key=last.list.get(-1),
    ).join(tables["pairs"], on=["ward_key", "district_key"])
    kept = ["addr_id", "unit", "new_province", "ward_code"]
    own_province = pl.concat(
        [
            with_province.join(
                tables["provinces"].drop_nulls("old_province").drop("new_province"),
                on=["province_key", "old_province"],
            ).select(kept),
            with_province.join(
                tables["provinces"].drop("old_province"), on=["province_key", "new_province"]
            ).select(kept),
        ]
    )
    # Without a province last, only when no part of the address is a province ("Hà Nội, Xã Quảng Phú, Huyện
    # Quảng Trạch" names another province: the full reading decides).
    naming_a_province = (
        segments.select("addr_id", key="keys")
        .explode("key")
        .join(tables["provinces"].select(key="province_key"), on="key", how="semi")
        .select("addr_id")
    )
    without_province = (
        segments.join(own_province.select("addr_id"), on="addr_id", how="anti")
        .join(naming_a_province, on="addr_id", how="anti")
        .select(
            "addr_id",
            ward_key=last.list.get(-2, null_on_oob=True),
            district_key=last.list.get(-1),
        )
        .join(tables["pairs"], on=["ward_key", "district_key"])
        .select("addr_id", "unit", "new_province", "ward_code")
    )
    found = pl.concat([own_province, without_province]).unique("addr_id")
    return found.select(
        "addr_id",
        "ward_code",
        province_code=pl.col("new_province").cast(pl.String),
        address_status=pl.lit("exact"),
        ward_candidates=pl.concat_list("ward_code"),
        tied=pl.lit(False),
        three_tier=pl.lit(True),
        reading_units=pl.concat_list(pl.col("unit").cast(pl.String)),
    )


def _resolve_distinct(texts: pl.Series) -> pl.DataFrame:
    """Resolve distinct address strings: one row per input string (same order), with the output columns and
    what a hint is read against (`three_tier`, `reading_units`)."""
    _, max_tokens = _lexicon()
    distinct = pl.DataFrame({"text": texts.cast(pl.String)}).with_row_index("addr_id")
    texts_by_id = distinct.drop_nulls("text")
    # Every step's work grows with an address's length (spans, overlaps): a value far longer than any address
    # (a pasted document, a 300 KB cell) is left unmatched instead of being read.
    too_long = texts_by_id["text"].str.len_chars() > MAX_ADDRESS_CHARS
    if too_long.any():
        logger.warning(
            "%d distinct address values longer than %d characters left unmatched (too long to be an address)",
            int(too_long.sum()),
            MAX_ADDRESS_CHARS,
        )
        texts_by_id = texts_by_id.filter(~too_long)
    tokens = _tokens(texts_by_id)
    well_formed = _well_formed(tokens)
    if well_formed.height:
        tokens = tokens.join(well_formed.select("addr_id"), on="addr_id", how="anti")
        texts_by_id = texts_by_id.join(well_formed.select("addr_id"), on="addr_id", how="anti")
    context = _context(tokens)
    spans = _spans(tokens, max_tokens)
    hits = spans.join(_lexicon_parts()["keys"], on="key").drop("key")
    high = _high_matches(hits)
    explicit = _explicit_wards(hits, high)
    matches = pl.concat([high, _ward_matches(hits, high)])
    decided = _decide(_readings(matches, explicit, context), matches, texts_by_id)
    settled = decided.filter(~pl.col("tied")).select("addr_id")
    settled = settled.join(_cut_short(decided, tokens, matches), on="addr_id", how="anti")
    leftover = texts_by_id.join(settled, on="addr_id", how="anti")["addr_id"]
    if leftover.len():
        left_high = high.filter(pl.col("addr_id").is_in(leftover.implode()))
        # A misspelt name does not run into "cũ".
        unmarked = spans.join(
            tokens.filter("old_mark").select("addr_id", end="pos"), on=["addr_id", "end"], how="anti"
        )
        exact_ward_spans = (
            matches.filter(pl.col("level").is_in([WARD_OLD, WARD_NEW]))
            .select("addr_id", pl.col("start").cast(pl.Int32), pl.col("end").cast(pl.Int32))
            .unique()
        )
        fuzzy = _fuzzy_pass(unmarked, left_high, leftover, exact_ward_spans)
        if fuzzy.height:
            second_look = fuzzy.select("addr_id").unique()
            is_high = pl.col("level").is_in([PROVINCE_OLD, PROVINCE_NEW, DISTRICT])
            second_high = pl.concat(
                [left_high.join(second_look, on="addr_id", how="semi"), fuzzy.filter(is_high)],
                how="vertical_relaxed",
            )
            second_matches = pl.concat(
                [
                    second_high,
                    _ward_matches(hits.join(second_look, on="addr_id", how="semi"), second_high),
                    fuzzy.filter(~is_high),
                ],
                how="vertical_relaxed",
            )
            redecided = _decide(_readings(second_matches, explicit, context), second_matches, texts_by_id)
            decided = pl.concat(
                [decided.join(redecided.select("addr_id"), on="addr_id", how="anti"), redecided]
            )
            matches = pl.concat([matches, fuzzy], how="vertical_relaxed")
    provinces = _province_only(matches, context["local_starts"])
    decided = decided.drop("w_end")
    decided = pl.concat([decided, well_formed.select(decided.columns)], how="vertical_relaxed")
    out = distinct.join(decided, on="addr_id", how="left", maintain_order="left").join(
        provinces.rename({"province_code": "named_province"}), on="addr_id", how="left", maintain_order="left"
    )
    return out.select(
        "text",
        "ward_code",
        province_code=pl.coalesce("province_code", "named_province"),
        address_status=pl.col("address_status").fill_null("unmatched"),
        ward_candidates=pl.col("ward_candidates").fill_null(pl.lit([], dtype=pl.List(pl.String))),
        three_tier=pl.col("three_tier").fill_null(False),
        reading_units=pl.col("reading_units").fill_null(pl.lit([], dtype=pl.List(pl.String))),
    )


def resolve_texts(texts: pl.Series) -> pl.DataFrame:
    """Resolve distinct address strings; one row per input string (same order) with the four output columns."""
    return _resolve_distinct(texts).select("text", *OUTPUT_COLUMNS)


def _hint_readings(hints: pl.Series, reference: Reference) -> pl.DataFrame:
    """The two things a commune_code hint may mean: a new ward code itself, or a legacy ward code (then the old
    ward it names and the new wards it went to). New and legacy codes share one 5-digit space: 3,316 of the
    3,321 new codes are also legacy codes, so both readings are kept and the text decides between them."""
    frame = (
        pl.DataFrame({"hint": hints.cast(pl.String)})
        .with_columns(code=pl.col("hint").str.replace_all(r"\D", ""))
        .with_columns(
            code=pl.when(pl.col("code").str.len_chars().is_between(1, 5)).then(pl.col("code").str.zfill(5))
        )
    )
    as_new = frame.join(reference.new_wards.select(code="ward_code", hint_new="ward_code"), on="code")
    as_legacy = (
        frame.join(
            reference.legacy_to_new.select(
                code="legacy_ward_code", hint_unit="legacy_key", ward="ward_code"
            ).drop_nulls("code"),
            on="code",
        )
        .group_by("hint")
        .agg(pl.col("hint_unit").first(), hint_old_codes=pl.col("ward").unique().sort())
    )
    return (
        frame.select("hint")
        .join(as_new.select("hint", "hint_new"), on="hint", how="left")
        .join(as_legacy, on="hint", how="left")
        .filter(pl.col("hint_new").is_not_null() | pl.col("hint_unit").is_not_null())
    )


def _apply_hints(resolved: pl.DataFrame, reference: Reference) -> pl.DataFrame:
    """Combine the text's answer with the hint; a disagreement is flagged, never papered over.

    - The text names one ward: kept when either reading of the hint agrees with it, else ambiguous with both
      answers as candidates.
    - The text is ambiguous (a split old ward, or tied readings): the hint narrows the candidates only through
      the readings consistent with the text. As a legacy code, it must be one of the old wards the text names
      (then its new wards among the candidates count: for a split ward, that is all of them). As a new code, it
      must be one of the candidates, and is only taken for a 2-tier address: an old 3-tier address is read with
      its old code, and a hint that merely is also a new code settles nothing. When both readings fit, both
      count: "Phường Ngọc Thụy … 00118" stays ambiguous between 00097 and 00118.
    - The text names no ward: the hint's candidates (both readings), inside the province the text names.
    """
    hints = _hint_readings(resolved["hint"].drop_nulls().unique(), reference)
    ward_province = reference.new_wards.select("ward_code", "province_code")
    no_codes = pl.lit([], dtype=pl.List(pl.String))
    frame = resolved.join(hints, on="hint", how="left", maintain_order="left").with_columns(
        pl.col("hint_old_codes").fill_null(no_codes),
        hint_new_codes=pl.when(pl.col("hint_new").is_not_null())
        .then(pl.concat_list(pl.col("hint_new")))
        .otherwise(no_codes),
    )
    hint_codes = pl.col("hint_new_codes").list.concat(pl.col("hint_old_codes")).list.unique().list.sort()
    has_hint = hint_codes.list.len() > 0
    text_codes = pl.col("ward_candidates")
    old_fits = pl.col("reading_units").list.contains(pl.col("hint_unit")).fill_null(False)
    by_old = (
        pl.when(old_fits).then(pl.col("hint_old_codes").list.set_intersection(text_codes)).otherwise(no_codes)
    )
    by_new = (
        pl.when(~pl.col("three_tier"))
        .then(pl.col("hint_new_codes").list.set_intersection(text_codes))
        .otherwise(no_codes)
    )
    narrowed = by_old.list.concat(by_new).list.unique().list.sort()
    status = pl.col("address_status")
    combined = frame.with_columns(
        new_candidates=pl.when(~has_hint)
        .then(text_codes)
        .when(
            status.is_in(["exact", "fuzzy"]) & (hint_codes.list.set_intersection(text_codes).list.len() > 0)
        )
        .then(text_codes)
        .when(status.is_in(["exact", "fuzzy"]))
        .then(text_codes.list.concat(hint_codes).list.unique().list.sort())
        .when(status == "ambiguous")
        .then(pl.when(narrowed.list.len() > 0).then(narrowed).otherwise(text_codes))
        .otherwise(hint_codes)
    )
    # When the text names only a province, drop hint codes outside it.
    combined = combined.with_row_index("_row")
    in_province = (
        combined.filter((pl.col("address_status") == "unmatched") & pl.col("province_code").is_not_null())
        .select("_row", "province_code", "new_candidates")
        .explode("new_candidates")
        .join(
            ward_province.rename({"ward_code": "new_candidates", "province_code": "ward_province"}),
            on="new_candidates",
            how="left",
        )
        .filter(pl.col("ward_province") == pl.col("province_code"))
        .group_by("_row")
        .agg(kept=pl.col("new_candidates"))
    )
    combined = combined.join(in_province, on="_row", how="left", maintain_order="left").with_columns(
        new_candidates=pl.when(
            (pl.col("address_status") == "unmatched") & pl.col("province_code").is_not_null()
        )
        .then(pl.col("kept").fill_null(no_codes))
        .otherwise(pl.col("new_candidates"))
    )
    single = pl.col("new_candidates").list.len() == 1
    combined = combined.with_columns(
        address_status=pl.when(pl.col("new_candidates").list.len() == 0)
        .then(pl.lit("unmatched"))
        .when(~single)
        .then(pl.lit("ambiguous"))
        .when(status == "fuzzy")
        .then(pl.lit("fuzzy"))
        .otherwise(pl.lit("exact")),
        ward_code=pl.when(single).then(pl.col("new_candidates").list.first()),
        ward_candidates=pl.col("new_candidates"),
    )
    combined = combined.join(
        ward_province.rename({"province_code": "_ward_province"}),
        on="ward_code",
        how="left",
        maintain_order="left",
    ).with_columns(
        province_code=pl.coalesce("_ward_province", "province_code"),
    )
    return combined.select("text", "hint", *OUTPUT_COLUMNS)


def resolve_addresses(
    frame: pl.DataFrame, column: str = "address", hint_column: str | None = None
) -> pl.DataFrame:
    """Add `ward_code`, `province_code`, `address_status`, `ward_candidates` to `frame`.

    `address_status`: exact | fuzzy | ambiguous | unmatched. When ambiguous, `ward_code` is null and
    `ward_candidates` lists the possible new ward codes (`province_code` is still set when known). `hint_column`
    (e.g. `commune_code`) may hold a legacy 5-digit ward code or a new ward code; it is read consistently with the
    text (see `_apply_hints`), may settle an ambiguity, and is checked against the text: when they disagree the
    row becomes ambiguous with both answers as candidates.
    Each distinct address (and hint) is resolved once, then joined back; every input row keeps its place.
    """
    if column not in frame.columns:
        raise AddressInputError(f"no column '{column}' to resolve (columns: {', '.join(frame.columns)})")
    if hint_column is not None and hint_column not in frame.columns:
        raise AddressInputError(f"no hint column '{hint_column}' (columns: {', '.join(frame.columns)})")
    reference = load_reference()
    base = frame.drop([c for c in OUTPUT_COLUMNS if c in frame.columns])
    texts = base.select(
        text=pl.col(column).cast(pl.String),
        hint=pl.col(hint_column).cast(pl.String) if hint_column else pl.lit(None, pl.String),
    )
    pairs = texts.unique(maintain_order=False)
    by_text = _resolve_distinct(pairs["text"].unique())
    resolved = pairs.join(by_text, on="text", how="left", nulls_equal=True)
    if hint_column is not None and resolved["hint"].is_not_null().any():
        resolved = _apply_hints(resolved, reference)
    keyed = texts.join(
        resolved.select("text", "hint", *OUTPUT_COLUMNS),
        on=["text", "hint"],
        how="left",
        nulls_equal=True,
        maintain_order="left",
    )
    return base.with_columns(keyed.select(OUTPUT_COLUMNS))


def warm_up() -> None:
    """Build the reference and lexicon tables every address lookup reads (once per process, a few seconds), e.g.
    on a thread of its own while the exports are read, instead of in each batch's first lookup."""
    samples = pl.DataFrame(
        {
            "address": [
                "Số 12 đường Lê Lợi, phường Bến Thành, quận 1, TP Hồ Chí Minh",
                "Thon 3, xa Hai Le, thi xa Quang Tri, tinh Quang Tri",
                "Tổ 5, Phường Đông Hà, Quảng Trị",
            ],
            "hint": ["26734", None, "19330"],
        }
    )
    resolve_addresses(samples, hint_column="hint")

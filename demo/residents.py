"""The demo province: raw exports of every old commune's register in a merged province, with ground truth.

`write_demo(out_dir)` writes

- `out_dir/exports/<legacy ward code>_<ward slug>.<csv|xlsx|json>`: one file per old commune's system, each in
  its own dialect (CSV with comma or semicolon, UTF-8 with or without BOM, Windows-1258 with combining tones,
  TCVN3/VNI when `sachsong.sources.legacy_fonts` has encoders, xlsx with text cells, JSON list of objects), its own
  header spellings and column order;
- `out_dir/truth/records.parquet`: one row per written record — lineage (`source_file`, 1-based `source_row`,
  `record_id` as written or null, `source_id`), identity (`person_id`, `household_id`), place (`legacy_ward_code`,
  `ward_code`, `ward_candidates` for old wards split between new ones, else null), the clean values
  (`*_clean`: what the record should say about the person; names in NFC with traditional tone placement, "Hòa"),
  `defects` (injected kind plus the kinds it implies, e.g. an age over 120 also contradicts the CCCD's year
  digits), `injected_defect`, `noise` (harmless variation applied) and `raw_*` (every value exactly as written);
- `out_dir/truth/persons.parquet` and `out_dir/truth/meta.json` (province, seed, as_of, counts, every file with
  its dialect and header mapping).

People are generated as households with real Vietnamese name frequencies; each person appears in one to three old
communes' systems (the merger overlap) with the noise real registers have. Everything is vectorized with numpy and
polars; Python loops run only over communes and files. Deterministic for a seed.
"""

from __future__ import annotations

import contextlib
import json
import re
import sqlite3
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from sachsong import vietnamese_names as names

DEFAULT_AS_OF = date(2026, 11, 1)
DEFECT_SHARE = 0.08

DEFECT_KINDS: tuple[str, ...] = (
    "bad_cccd_length",
    "cccd_sex_mismatch",
    "cccd_year_mismatch",
    "future_dob",
    "impossible_date",
    "age_over_120",
    "missing_name",
    "missing_dob",
    "missing_sex",
    "unknown_commune_code",
    "invalid_phone",
    "stale_record",
    "future_updated_at",
)
# Kinds that need something the record may lack (a CCCD, a commune-code column) fall back to one of these.
_ALWAYS_APPLICABLE = (
    "future_dob",
    "impossible_date",
    "age_over_120",
    "missing_name",
    "missing_dob",
    "missing_sex",
    "invalid_phone",
    "stale_record",
    "future_updated_at",
)

# Household sizes 1..6 and their shares.
_HOUSEHOLD_SIZE_SHARES = (0.13, 0.22, 0.22, 0.24, 0.13, 0.06)
# Each person is registered in 1, 2 or 3 old communes' systems.
_APPEARANCE_SHARES = (0.65, 0.28, 0.07)
# Share of the population per 5-year age band 0-4 … 90-94, then 95 (Vietnam, mid-2020s, approximate).
_AGE_BAND_SHARES = (
    7.4, 8.0, 7.8, 7.0, 7.0, 7.6, 8.0, 7.8, 7.3, 6.6, 6.0, 5.3, 4.5, 3.5, 2.4, 1.5, 1.0, 0.7, 0.3, 0.05,
)  # fmt: skip

# Output dialects: (name, share). TCVN3/VNI are only used when the ingest room ships an encoder for them.
_FORMAT_SHARES: tuple[tuple[str, float], ...] = (
    ("csv-utf8", 0.24),
    ("csv-utf8-semicolon", 0.12),
    ("csv-utf8-bom", 0.15),
    ("csv-cp1258", 0.15),
    ("xlsx", 0.18),
    ("json", 0.11),
    ("csv-tcvn3", 0.025),
    ("csv-vni", 0.025),
)

# Header spellings per canonical field; every file picks one per field.
HEADER_VARIANTS: dict[str, tuple[str, ...]] = {
    "record_id": ("Mã hồ sơ", "ID", "Mã", "MA_HO_SO", "ma ho so", "Mã công dân"),
    "full_name": ("Họ và tên", "HO_TEN", "ho ten", "Họ tên", "HO_VA_TEN", "Họ và tên công dân"),
    "date_of_birth": ("Ngày sinh", "NGAY_SINH", "ngay sinh", "Ngày tháng năm sinh", "NgaySinh"),
    "sex": ("Giới tính", "gioi_tinh", "GIOI_TINH", "Gioi tinh"),
    "citizen_id": ("Số CCCD", "CCCD/CMND", "So dinh danh", "SO_CCCD", "Số định danh cá nhân", "CMND/CCCD"),
    "phone": ("Số điện thoại", "SĐT", "SDT", "so_dien_thoai", "Điện thoại"),
    "address": ("Địa chỉ", "Nơi thường trú", "DIA_CHI", "dia chi thuong tru", "Địa chỉ thường trú"),
    "commune_code": ("Mã xã", "MA_XA", "ma_xa", "Mã ĐVHC xã"),
    "updated_at": ("Ngày cập nhật", "NGAY_CAP_NHAT", "ngay cap nhat", "Cập nhật lúc"),
}
_SEX_VOCABULARIES: tuple[tuple[str, str], ...] = (
    ("Nam", "Nữ"),
    ("nam", "nữ"),
    ("NAM", "NỮ"),
    ("M", "F"),
    ("Nam", "Nu"),
)
_DATE_FORMATS = ("dd/mm/yyyy", "yyyy-mm-dd", "d/m/yyyy")
_UPDATED_FORMATS = ("%d/%m/%Y %H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S")
_PHONE_FORMATS = ("local", "plus84", "84", "dotted", "spaced")
_ADDRESS_FORMS = ("old_full", "old_abbreviated", "old_unaccented", "ward_district", "new_two_tier")
# How a file writes its record ids (n = row number + a per-file offset).
_ID_FORMATS = ("HS{n:06d}", "{legacy_ward_code}-{n:05d}", "{n}")

# Tone placement: the data holds the traditional form ("hòa", "thủy"); registers typed with the new rule write
# "hoà", "thuỷ". Only open syllables carry these pairs in traditional spelling, so a plain replacement is safe.
_NEW_TONE_PLACEMENT: dict[str, str] = {
    unicodedata.normalize("NFC", first + tone) + second: first + unicodedata.normalize("NFC", second + tone)
    for first, second in (("o", "a"), ("o", "e"), ("u", "y"))
    for tone in ("\u0300", "\u0301", "\u0309", "\u0303", "\u0323")
}
# i/y after a consonant at the end of a syllable ("Lý"/"Lí", "Sỹ"/"Sĩ"): y-form → i-form.
_Y_TO_I = {"y": "i", "ý": "í", "ỳ": "ì", "ỷ": "ỉ", "ỹ": "ĩ", "ỵ": "ị"}
_CONSONANTS = "bcdđghklmnpqrstvxBCDĐGHKLMNPQRSTVX"
_TYPO_LETTERS = np.array(list("aăâbcdđeêghiklmnoôơpqrstuưvxy"))
_WARD_ABBREVIATIONS = {"Xã": "X.", "Phường": "P.", "Thị trấn": "TT.", "Đặc khu": "ĐK."}
_DISTRICT_ABBREVIATIONS = {"Huyện": "H.", "Quận": "Q.", "Thị xã": "TX.", "Thành phố": "TP."}
_TONE_MARKS = {"\u0300", "\u0301", "\u0303", "\u0309", "\u0323"}


# ---------------------------------------------------------------------------------------------------------------
# Reference data: the old communes of a new province and the new ward each maps to (vietnamadminunits).


@dataclass(frozen=True)
class ProvinceCommunes:
    """The old communes of one new province, each with the new ward it maps to."""

    province_code: str
    province_name: str
    communes: pl.DataFrame
    birth_province_codes: tuple[str, ...]  # every old province code (3-digit CCCD form), for migrants
    known_ward_codes: frozenset[str]  # every legacy and new ward code in the country


def _package_data_dir() -> Path:
    from sachsong.adminunits import admin_units_data_dir

    return admin_units_data_dir()


@cache
def load_province_communes(province: str) -> ProvinceCommunes:
    """Old communes of the new `province` (2-digit code) with their new ward codes, from vietnamadminunits."""
    data_dir = _package_data_dir()
    with contextlib.closing(sqlite3.connect(f"file:{data_dir / 'dataset.db'}?mode=ro", uri=True)) as con:
        new_rows = con.execute(
            "select provinceCode, province, provinceKey, wardCode, ward, wardType, wardKey from admin_units"
        ).fetchall()
        legacy_rows = con.execute(
            "select provinceCode, province, provinceKey, districtType, district, districtKey,"
            " wardType, wardShort, ward, wardKey, wardCode from admin_units_legacy"
        ).fetchall()
    converter = json.loads((data_dir / "converter_2025.json").read_text(encoding="utf-8"))

    province_rows = [r for r in new_rows if r[0] == province]
    if not province_rows:
        valid = sorted({r[0] for r in new_rows})
        raise ValueError(f"unknown new province code {province!r}; valid codes: {', '.join(valid)}")
    province_name, province_key = province_rows[0][1], province_rows[0][2]
    new_by_key = {r[6]: (r[3], r[4], r[5]) for r in province_rows}

    # old key "provincekey_districtkey_wardkey" → (default new ward code, candidate codes or None)
    mapping: dict[str, tuple[str, list[str] | None]] = {}
    for new_key, old_keys in converter["DICT_PROVINCE_WARD_NO_DIVIDED"][province_key].items():
        for old_key in old_keys:
            mapping[old_key] = (new_by_key[new_key][0], None)
    for old_key, candidates in converter["DICT_PROVINCE_WARD_DIVIDED"].get(province_key, {}).items():
        codes = [new_by_key[c["newWardKey"]][0] for c in candidates]
        default = next(new_by_key[c["newWardKey"]][0] for c in candidates if c["isDefaultNewWard"])
        mapping[old_key] = (default, codes)

    # The truth follows the reconciled mapping the resolver uses (vietnamadminunits outvoted by the statistics
    # office's crosswalk where a name merely recurs), so a right answer is never scored as a wrong guess.
    from sachsong.standardize.reference import load_reference

    province_codes = {code for code, _, _ in new_by_key.values()}
    reconciled = (
        load_reference()
        .legacy_to_new.filter(pl.col("ward_code").is_in(sorted(province_codes)))
        .group_by("legacy_key")
        .agg(
            pl.col("ward_code").filter(pl.col("is_default")).first().alias("default"),
            pl.col("ward_code").sort().alias("codes"),
            pl.col("is_split").any().alias("split"),
        )
    )
    for key, default, codes, split in reconciled.iter_rows():
        if key in mapping and default is not None:
            mapping[key] = (default, codes if split else None)

    old_province_keys = set(converter["DICT_PROVINCE"][province_key])
    new_name_by_code = {code: name for code, name, _ in new_by_key.values()}
    rows = []
    for (
        p_code,
        p_name,
        p_key,
        d_type,
        d_name,
        d_key,
        w_type,
        _w_short,
        w_name,
        w_key,
        w_code,
    ) in legacy_rows:
        if p_key not in old_province_keys or w_code is None:  # island districts without communes have no code
            continue
        target = mapping.get(f"{p_key}_{d_key}_{w_key}")
        if target is None:
            continue
        default_code, candidates = target
        # The package's short forms carry disambiguation ("Kỳ Anh (Huyện)") and odd capitals ("Thành Phố"):
        # derive both forms from the full name instead.
        d_name = d_name.replace("Thành Phố ", "Thành phố ").replace("Thị Xã ", "Thị xã ")
        rows.append(
            {
                "legacy_ward_code": w_code,
                "legacy_ward_name": w_name,
                "legacy_ward_type": w_type,
                "legacy_ward_short": w_name.removeprefix(f"{w_type} "),
                "legacy_district_name": d_name,
                "legacy_district_type": d_type,
                "legacy_district_short": d_name.removeprefix(f"{d_type} "),
                "legacy_province_name": p_name,
                "legacy_province_code": p_code,
                "ward_code": default_code,
                "ward_name": new_name_by_code[default_code],
                "ward_candidates": candidates,
                "is_split": candidates is not None,
            }
        )
    communes = pl.DataFrame(rows, schema_overrides={"ward_candidates": pl.List(pl.String)}).sort(
        "legacy_ward_code"
    )
    known = frozenset(r[3] for r in new_rows) | frozenset(r[10] for r in legacy_rows if r[10])
    birth_codes = tuple(sorted({f"0{r[0]}" for r in legacy_rows}))
    return ProvinceCommunes(province, province_name, communes, birth_codes, known)


# ---------------------------------------------------------------------------------------------------------------
# People and households.


def _weights(values: tuple[tuple[str, float], ...]) -> tuple[np.ndarray, np.ndarray]:
    labels = np.array([v for v, _ in values])
    shares = np.array([s for _, s in values], dtype=float)
    return labels, shares / shares.sum()


def _zipf_weights(count: int, exponent: float = 0.7) -> np.ndarray:
    raw = 1.0 / np.arange(1, count + 1) ** exponent
    return raw / raw.sum()


def _age_weights() -> np.ndarray:
    """Per single year of age 0..95 from the 5-year band shares."""
    per_year = np.repeat(np.array(_AGE_BAND_SHARES[:-1]) / 5.0, 5)
    per_year = np.append(per_year, _AGE_BAND_SHARES[-1])
    return per_year / per_year.sum()


def _draw_ages(rng: np.random.Generator, size: int, low: int, high: int, lean: float = 0.0) -> np.ndarray:
    """Ages in [low, high] from the population pyramid; `lean` > 0 favours older ages (household heads)."""
    ages = np.arange(96)
    weights = _age_weights().copy()
    weights[(ages < low) | (ages > high)] = 0
    if lean:
        weights *= np.clip((ages - low + 1) / lean, 0, 1)
    return rng.choice(ages, size=size, p=weights / weights.sum())


_ROLES = ("head", "spouse", "grandparent", "child")
HEAD, SPOUSE, GRANDPARENT, CHILD = range(4)


def _vocabulary(*groups: tuple[str, ...]) -> tuple[list[str], dict[str, int]]:
    """One list of distinct labels for several name tables, and each label's position in it."""
    labels = list(dict.fromkeys(label for group in groups for label in group))
    return labels, {label: i for i, label in enumerate(labels)}


def _pick(
    rng: np.random.Generator, size: int, table: tuple[tuple[str, float], ...], index: dict[str, int]
) -> np.ndarray:
    """`size` draws from a weighted name table, as positions in a vocabulary."""
    labels, weights = _weights(table)
    positions = np.array([index[label] for label in labels])
    return positions[rng.choice(len(labels), size=size, p=weights)]


def _random_mobiles(rng: np.random.Generator, size: int) -> np.ndarray:
    """Mobile numbers as integers: the 9 digits after the leading 0 (a prefix digit 3, 5, 7, 8 or 9 first)."""
    labels, weights = _weights(names.MOBILE_PREFIXES)
    prefix = np.array([int(label) for label in labels], dtype=np.int64)[
        rng.choice(len(labels), size=size, p=weights)
    ]
    return prefix * 10_000_000 + rng.integers(0, 10_000_000, size=size)


def _generate_people(
    rng: np.random.Generator, ref: ProvinceCommunes, persons: int, as_of: date
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Households and their members. Returns (households, persons).

    Everything is drawn as numpy integers (positions in name vocabularies, codes); strings are made once, in
    polars, at the end.
    """
    n_communes = ref.communes.height
    sizes = rng.choice(np.arange(1, 7), size=persons // 2 + 10, p=_HOUSEHOLD_SIZE_SHARES)
    cumulative = np.cumsum(sizes)
    n_households = int(np.searchsorted(cumulative, persons) + 1)
    sizes = sizes[:n_households]
    sizes[-1] -= int(cumulative[n_households - 1] - persons)

    female_forms = tuple(female for _, female in names.FAMILY_NAME_BY_SEX)
    family_vocab, family_index = _vocabulary(tuple(n for n, _ in names.FAMILY_NAME_SHARES), female_forms)

    # --- household attributes
    commune_weights = rng.lognormal(0.0, 0.5, size=n_communes)
    home = rng.choice(n_communes, size=n_households, p=commune_weights / commune_weights.sum())
    has_spouse = (sizes >= 2) & (rng.random(n_households) < np.where(sizes == 2, 0.7, 0.9))
    head_male = np.where(has_spouse, rng.random(n_households) < 0.8, rng.random(n_households) < 0.55)
    head_age = np.where(
        sizes == 1,
        _draw_ages(rng, n_households, 20, 95, lean=30),
        _draw_ages(rng, n_households, 22, 85, lean=20),
    )
    has_grandparent = (sizes >= 4) & (head_age <= 62) & (rng.random(n_households) < 0.3)
    spouse_gap = rng.integers(0, 7, size=n_households)
    spouse_age = np.clip(np.where(head_male, head_age - spouse_gap, head_age + spouse_gap), 18, 95)
    mother_age = np.where(head_male, np.where(has_spouse, spouse_age, head_age - 3), head_age)
    grandparent_age = np.clip(head_age + rng.integers(20, 33, size=n_households), 0, 95)
    paternal_family = _pick(rng, n_households, names.FAMILY_NAME_SHARES, family_index)
    spouse_family = _pick(rng, n_households, names.FAMILY_NAME_SHARES, family_index)
    grandmother_family = _pick(rng, n_households, names.FAMILY_NAME_SHARES, family_index)
    hh_phone = _random_mobiles(rng, n_households)
    locality = rng.integers(0, 400, size=(n_households, 3))  # village / street-number choices
    order_key = rng.random(n_households)

    # --- members
    household = np.repeat(np.arange(n_households), sizes)
    starts = np.repeat(cumulative[:n_households] - sizes, sizes)
    member = np.arange(persons) - starts
    size_of = sizes[household]
    role = np.full(persons, CHILD, dtype=np.int8)
    role[member == 0] = HEAD
    role[(member == 1) & has_spouse[household]] = SPOUSE
    role[(member == size_of - 1) & (member >= 2) & has_grandparent[household]] = GRANDPARENT
    is_head, is_spouse, is_grandparent = role == HEAD, role == SPOUSE, role == GRANDPARENT

    child_u = rng.random(persons)
    sex_u = rng.random(persons)
    male = np.select(
        [is_head, is_spouse, is_grandparent],
        [head_male[household], ~head_male[household], sex_u < 0.4],
        default=sex_u < 0.515,
    )
    m_age = mother_age[household]
    child_low = np.maximum(0, m_age - 42)
    child_high = np.maximum(child_low, m_age - 18)
    child_age = child_low + np.floor(child_u * (child_high - child_low + 1)).astype(int)
    age = np.select(
        [is_head, is_spouse, is_grandparent],
        [head_age[household], spouse_age[household], grandparent_age[household]],
        default=child_age,
    ).astype(int)

    # Twins: the 2nd and 3rd member-children of ~1% of households share a date of birth.
    first_child = np.where(has_spouse, 2, 1)
    eligible = (sizes - has_grandparent.astype(int) - first_child) >= 2
    twin_rate = min(1.0, 0.01 * n_households / max(1, eligible.sum()))
    twins = eligible & (rng.random(n_households) < twin_rate)
    second_twin = (member == first_child[household] + 1) & twins[household] & (role == CHILD)
    twin_idx = np.flatnonzero(second_twin)
    age[twin_idx] = age[twin_idx - 1]

    days_into_year = rng.integers(0, 365, size=persons)
    days_back = np.floor(age * 365.2425).astype(np.int64) + days_into_year
    dob = np.datetime64(as_of, "D") - days_back.astype("timedelta64[D]")
    dob[twin_idx] = dob[twin_idx - 1]

    # Family names: children and the household's men carry the paternal name; wives keep their own.
    is_paternal = np.select(
        [is_head, is_spouse, is_grandparent],
        [head_male[household] | ~has_spouse[household], male, male],
        default=True,
    )
    family = np.where(is_paternal, paternal_family[household], spouse_family[household])
    family = np.where(is_grandparent & ~male, grandmother_family[household], family)
    for male_form, female_form in names.FAMILY_NAME_BY_SEX:
        male_code, female_code = family_index[male_form], family_index[female_form]
        family = np.where((family == male_code) & ~male, female_code, family)
        family = np.where((family == female_code) & male, male_code, family)

    # Middle names: by sex and generation; sometimes none, sometimes two syllables.
    middle_tables = (
        (True, False, names.MALE_MIDDLE_OLDER),
        (True, True, names.MALE_MIDDLE_YOUNGER),
        (False, False, names.FEMALE_MIDDLE_OLDER),
        (False, True, names.FEMALE_MIDDLE_YOUNGER),
    )
    middle_vocab, middle_index = _vocabulary(
        *(tuple(n for n, _ in table) for _, _, table in middle_tables),
        names.SECOND_MIDDLE_MALE,
        names.SECOND_MIDDLE_FEMALE,
    )
    birth_year = dob.astype("datetime64[Y]").astype(int) + 1970
    younger = birth_year >= 1990
    middle = np.zeros(persons, dtype=np.int64)
    for is_male, is_younger, table in middle_tables:
        mask = (male == is_male) & (younger == is_younger)
        middle[mask] = _pick(rng, int(mask.sum()), table, middle_index)
    middle_count = rng.choice(3, size=persons, p=(0.04, 0.84, 0.12))
    second_male = np.array([middle_index[n] for n in names.SECOND_MIDDLE_MALE])
    second_female = np.array([middle_index[n] for n in names.SECOND_MIDDLE_FEMALE])
    second = np.where(
        male,
        second_male[rng.integers(0, len(second_male), persons)],
        second_female[rng.integers(0, len(second_female), persons)],
    )
    second = np.where((middle_count == 2) & (second != middle), second, -1)
    middle = np.where(middle_count == 0, -1, middle)

    # Given names: a long tail per sex; twins get different ones.
    given_vocab, given_index = _vocabulary(names.MALE_GIVEN, names.FEMALE_GIVEN)
    male_given = np.array([given_index[n] for n in names.MALE_GIVEN])
    female_given = np.array([given_index[n] for n in names.FEMALE_GIVEN])
    male_pick = rng.choice(len(male_given), size=persons, p=_zipf_weights(len(male_given)))
    female_pick = rng.choice(len(female_given), size=persons, p=_zipf_weights(len(female_given)))
    given = np.where(male, male_given[male_pick], female_given[female_pick])
    clash = second_twin & (given == np.roll(given, 1))
    given[clash] = np.where(
        male[clash],
        male_given[(male_pick[clash] + 1) % len(male_given)],
        female_given[(female_pick[clash] + 1) % len(female_given)],
    )

    # --- identity numbers and phones
    birth_codes = list(ref.birth_province_codes)
    home_province_code = ref.communes["legacy_province_code"].to_numpy()
    home_birth_code = np.array([birth_codes.index(f"0{code}") for code in home_province_code])[
        home[household]
    ]
    migrant = rng.random(persons) < 0.06
    birth_province = np.where(migrant, rng.integers(0, len(birth_codes), persons), home_birth_code)
    century_digit = np.where(birth_year >= 2000, 2, 0) + np.where(male, 0, 1)
    only_cmnd = (age >= 60) & (rng.random(persons) < 0.05)
    has_cmnd = only_cmnd | ((age >= 25) & (rng.random(persons) < 0.85))
    cmnd_offset = int(rng.integers(0, 10_000_000))
    cmnd_serial = (np.arange(persons, dtype=np.int64) * 3_967_031 + cmnd_offset) % 10_000_000

    own_phone = ((age >= 18) & (rng.random(persons) < 0.55)) | ((age >= 15) & (rng.random(persons) < 0.3))
    phone = np.where(own_phone, _random_mobiles(rng, persons), hh_phone[household])
    changed_phone = (age >= 15) & (rng.random(persons) < 0.1)
    old_phone = np.where(changed_phone, _random_mobiles(rng, persons), -1)
    appearances = rng.choice(np.arange(1, 4), size=persons, p=_APPEARANCE_SHARES)
    bucket_offsets = pl.Series(rng.integers(0, 1_000_000, size=persons))

    def label(vocab: list[str], column: str) -> pl.Expr:
        return pl.when(pl.col(column) >= 0).then(
            pl.lit(pl.Series(vocab)).gather(pl.col(column).clip(0, None))
        )

    def local_phone(column: str) -> pl.Expr:
        return pl.when(pl.col(column) >= 0).then(pl.concat_str(pl.lit("0"), pl.col(column).cast(pl.String)))

    people = pl.DataFrame(
        {
            "person_index": np.arange(persons),
            "household_index": household,
            "member": member,
            "_role": role,
            "_male": male,
            "_family": family,
            "_middle": middle,
            "_second": second,
            "_given": given,
            "dob": dob,
            "_birth_province": birth_province,
            "century_digit": century_digit,
            "only_cmnd": only_cmnd,
            "has_cmnd": has_cmnd,
            "_cmnd_serial": cmnd_serial,
            "_phone": phone,
            "_old_phone": old_phone,
            "is_second_twin": second_twin,
            "appearances": appearances,
        }
    )
    people = people.with_columns(
        label(list(_ROLES), "_role").alias("role"),
        pl.when(pl.col("_male")).then(pl.lit("M")).otherwise(pl.lit("F")).alias("sex"),
        label(family_vocab, "_family").alias("family_name"),
        pl.when(pl.col("_middle") >= 0)
        .then(
            pl.concat_str(
                label(middle_vocab, "_middle"),
                label(middle_vocab, "_second"),
                separator=" ",
                ignore_nulls=True,
            )
        )
        .alias("middle_name"),
        label(given_vocab, "_given").alias("given_name"),
        label(birth_codes, "_birth_province").alias("birth_province_code"),
        local_phone("_phone").alias("phone_local"),
        local_phone("_old_phone").alias("old_phone_local"),
    )
    # Serials unique within (birth province, century+sex digit, birth year): the rank inside that bucket,
    # scrambled by a stride coprime with 10^6 and shifted by a random offset per bucket.
    bucket = (
        pl.col("_birth_province") * 1_000_000 + pl.col("century_digit") * 10_000 + pl.col("dob").dt.year()
    )
    people = (
        people.with_columns(
            pl.concat_str("family_name", "middle_name", "given_name", separator=" ", ignore_nulls=True).alias(
                "full_name"
            ),
            (
                pl.int_range(pl.len()).over(bucket) * 387_713
                + pl.lit(bucket_offsets).gather(bucket.rank("dense").cast(pl.Int64) - 1)
            )
            .mod(1_000_000)
            .alias("_serial"),
        )
        .with_columns(
            pl.when(pl.col("only_cmnd"))
            .then(None)
            .otherwise(
                pl.concat_str(
                    pl.col("birth_province_code"),
                    pl.col("century_digit").cast(pl.String),
                    (pl.col("dob").dt.year() % 100).cast(pl.String).str.zfill(2),
                    pl.col("_serial").cast(pl.String).str.zfill(6),
                )
            )
            .alias("cccd"),
            pl.when(pl.col("has_cmnd"))
            .then(pl.concat_str(pl.lit("19"), pl.col("_cmnd_serial").cast(pl.String).str.zfill(7)))
            .alias("cmnd"),
            pl.concat_str(pl.lit("+84"), pl.col("phone_local").str.slice(1)).alias("phone_e164"),
            pl.concat_str(pl.lit("+84"), pl.col("old_phone_local").str.slice(1)).alias("old_phone_e164"),
        )
        .select(pl.exclude("^_.*$"))
    )

    households = pl.DataFrame(
        {
            "household_index": np.arange(n_households),
            "size": sizes,
            "home": home,
            "locality_0": locality[:, 0],
            "locality_1": locality[:, 1],
            "locality_2": locality[:, 2],
            "order_key": order_key,
            "is_twin_household": twins,
        }
    )
    return households, people


def _alternate_communes(rng: np.random.Generator, ref: ProvinceCommunes, home: np.ndarray) -> np.ndarray:
    """Two other old communes per household: preferably ones merged into the same new ward, else same district."""
    communes = ref.communes
    ward = communes["ward_code"].to_numpy()
    district = (communes["legacy_province_code"] + communes["legacy_district_name"]).to_numpy()
    alternates = np.zeros((len(home), 2), dtype=np.int64)
    for commune in np.unique(home):  # a loop over communes, not people
        rows = np.flatnonzero(home == commune)
        siblings = np.flatnonzero((ward == ward[commune]) & (np.arange(len(ward)) != commune))
        neighbours = np.flatnonzero((district == district[commune]) & (np.arange(len(ward)) != commune))
        if len(neighbours) == 0:
            neighbours = np.flatnonzero(np.arange(len(ward)) != commune)
        first_pool = siblings if len(siblings) else neighbours
        first = first_pool[rng.integers(0, len(first_pool), len(rows))]
        pool = np.union1d(siblings, neighbours)
        second = pool[rng.integers(0, len(pool), len(rows))]
        # avoid naming the same commune twice where another exists
        clash = second == first
        if len(pool) > 1:
            second[clash] = pool[(np.searchsorted(pool, second[clash]) + 1) % len(pool)]
        alternates[rows, 0] = first
        alternates[rows, 1] = second
    return alternates


# ---------------------------------------------------------------------------------------------------------------
# Files and their dialects.


def _legacy_font_encoder(font: str) -> Any | None:
    """The ingest room's encoder for TCVN3/VNI text (str → bytes), if it ships one."""
    try:
        from sachsong.sources import legacy_fonts  # type: ignore[attr-defined]
    except ImportError:
        return None
    for name in (f"encode_{font}", "encode"):
        encoder = getattr(legacy_fonts, name, None)
        if callable(encoder):
            if name == "encode":
                return lambda text, _enc=encoder: _enc(text, font)
            return encoder
    return None


def _available_formats() -> list[tuple[str, float]]:
    formats = []
    for name, share in _FORMAT_SHARES:
        if name in ("csv-tcvn3", "csv-vni") and _legacy_font_encoder(name.removeprefix("csv-")) is None:
            continue
        formats.append((name, share))
    return formats


def _balanced_choice(rng: np.random.Generator, shares: list[tuple[str, float]], count: int) -> list[str]:
    """`count` labels in roughly the given shares, each label at least once when count allows, shuffled."""
    labels = [label for label, _ in shares]
    weights = np.array([s for _, s in shares]) / sum(s for _, s in shares)
    counts = (
        np.maximum(1, np.floor(weights * count)).astype(int)
        if count >= len(labels)
        else np.zeros(len(labels), int)
    )
    while counts.sum() > count:
        counts[int(np.argmax(counts))] -= 1
    extra = rng.choice(len(labels), size=count - int(counts.sum()), p=weights)
    chosen = [label for label, n in zip(labels, counts, strict=True) for _ in range(n)]
    chosen += [labels[i] for i in extra]
    return [chosen[i] for i in rng.permutation(len(chosen))]


def _slug(text: str) -> str:
    folded = unicodedata.normalize("NFD", text.replace("Đ", "D").replace("đ", "d"))
    folded = "".join(c for c in folded if not unicodedata.combining(c))
    return re.sub(r"[^a-z0-9]+", "_", folded.lower()).strip("_")



# A Windows office's exports: the legacy encodings and BOM-marked UTF-8 end their lines with CRLF.
WINDOWS_FORMATS = ("csv-cp1258", "csv-utf8-bom", "csv-tcvn3", "csv-vni")


def export_encoding(fmt: str) -> str:
    """The encoding an export format is written in."""
    return {"csv-utf8-bom": "utf-8-sig", "csv-cp1258": "cp1258", "csv-tcvn3": "tcvn3", "csv-vni": "vni"}.get(
        fmt, "utf-8"
    )


def line_terminator(fmt: str) -> str:
    return "\r\n" if fmt in WINDOWS_FORMATS else "\n"


def _plan_files(rng: np.random.Generator, communes: pl.DataFrame) -> pl.DataFrame:
    """One export per old commune with records: its file name and dialect."""
    formats = _balanced_choice(rng, _available_formats(), communes.height)
    rows = []
    for i, commune in enumerate(communes.iter_rows(named=True)):  # a loop over files
        fmt = formats[i]
        unaccented = fmt not in ("csv-cp1258", "csv-tcvn3", "csv-vni") and rng.random() < 0.06
        has_id = rng.random() < 0.85
        has_commune = rng.random() < 0.45
        fields = [
            f
            for f in HEADER_VARIANTS
            if (f != "record_id" or has_id) and (f != "commune_code" or has_commune)
        ]
        headers = {}
        for f in fields:
            variants = [v for v in HEADER_VARIANTS[f] if not unaccented or v.isascii()]
            headers[f] = variants[int(rng.integers(0, len(variants)))]
        order = [fields[j] for j in rng.permutation(len(fields))]
        ext = {"xlsx": "xlsx", "json": "json"}.get(fmt, "csv")
        source_id = f"{commune['legacy_ward_code']}_{_slug(commune['legacy_ward_name'])}"
        delimiter = (
            ";"
            if fmt == "csv-utf8-semicolon"
            or (fmt.startswith("csv-") and fmt != "csv-utf8" and rng.random() < 0.4)
            else ","
        )
        rows.append(
            {
                "commune_index": commune["commune_index"],
                "source_id": source_id,
                "source_file": f"{source_id}.{ext}",
                "format": fmt,
                "encoding": export_encoding(fmt),
                "delimiter": delimiter if ext == "csv" else None,
                "line_terminator": line_terminator(fmt),
                "columns": order,
                "headers": [headers[f] for f in order],
                "id_format": int(rng.integers(0, len(_ID_FORMATS))) if has_id else None,
                "id_offset": int(rng.integers(0, 5000)),
                "has_commune_column": has_commune,
                "date_format": int(rng.choice(3, p=(0.6, 0.25, 0.15))),
                "updated_format": int(rng.integers(0, len(_UPDATED_FORMATS))),
                "phone_format": int(rng.choice(len(_PHONE_FORMATS), p=(0.7, 0.1, 0.08, 0.07, 0.05))),
                "address_form": int(rng.choice(len(_ADDRESS_FORMS), p=(0.35, 0.2, 0.05, 0.1, 0.3))),
                "sex_vocabulary": int(rng.choice(len(_SEX_VOCABULARIES), p=(0.6, 0.1, 0.1, 0.1, 0.1))),
                "file_upper": bool(rng.random() < 0.08),
                "file_unaccented": bool(unaccented),
                "file_new_tone": bool(rng.random() < 0.3),
            }
        )
    return pl.DataFrame(rows)


# ---------------------------------------------------------------------------------------------------------------
# Records: appearances of people in old communes' systems, with noise and injected defects.


_COMBINING_MARKS = ["\u0300", "\u0301", "\u0303", "\u0309", "\u0323", "\u0302", "\u0306", "\u031b"]


def _fold(expr: pl.Expr) -> pl.Expr:
    """Strip Vietnamese diacritics (Đ→D) the way an accent-less system stores text."""
    # replace_many (Aho-Corasick) is several times faster here than a \p{Mn} regex.
    return expr.str.normalize("NFD").str.replace_many(
        [*_COMBINING_MARKS, "Đ", "đ"], [""] * len(_COMBINING_MARKS) + ["D", "d"]
    )


def _new_tone(expr: pl.Expr) -> pl.Expr:
    return expr.str.replace_many(list(_NEW_TONE_PLACEMENT), list(_NEW_TONE_PLACEMENT.values()))


_Y_ENDINGS = re.compile(rf"([{_CONSONANTS}])([{''.join(_Y_TO_I)}])\b")


def _y_to_i_text(text: str) -> str:
    """'Lý' → 'Lí', 'Sỹ' → 'Sĩ': y after a consonant at the end of a syllable."""
    return _Y_ENDINGS.sub(lambda m: m.group(1) + _Y_TO_I[m.group(2)], text)


def _map_distinct(frame: pl.DataFrame, column: str, func: Any) -> pl.Expr:
    """Apply a Python string function to the distinct values of a small-domain column and map them back."""
    mapping = {v: func(v) for v in frame[column].unique().drop_nulls().to_list()}
    return pl.col(column).replace({k: v for k, v in mapping.items() if k != v})


def _typo(expr: pl.Expr, kind: pl.Expr, position_u: pl.Expr, letter: pl.Expr) -> pl.Expr:
    """One typing error: substitution (0), deletion (1) or transposition (2), never on the first letter."""
    length = expr.str.len_chars()
    p = (1 + (position_u * (length - 1)).floor().cast(pl.Int64)).clip(1, None)
    p_swap = pl.min_horizontal(p, length - 2).clip(1, None)
    substituted = pl.concat_str(expr.str.slice(0, p), letter, expr.str.slice(p + 1))
    deleted = pl.concat_str(expr.str.slice(0, p), expr.str.slice(p + 1))
    swapped = pl.concat_str(
        expr.str.slice(0, p_swap),
        expr.str.slice(p_swap + 1, 1),
        expr.str.slice(p_swap, 1),
        expr.str.slice(p_swap + 2),
    )
    return (
        pl.when(length < 3)
        .then(expr)
        .when(kind == 0)
        .then(substituted)
        .when(kind == 1)
        .then(deleted)
        .otherwise(swapped)
    )


def _format_date(day: pl.Expr, month: pl.Expr, year: pl.Expr, fmt: pl.Expr) -> pl.Expr:
    dd = day.cast(pl.String).str.zfill(2)
    mm = month.cast(pl.String).str.zfill(2)
    yyyy = year.cast(pl.String)
    return (
        pl.when(fmt == 0)
        .then(pl.concat_str(dd, mm, yyyy, separator="/"))
        .when(fmt == 1)
        .then(pl.concat_str(yyyy, mm, dd, separator="-"))
        .otherwise(pl.concat_str(day.cast(pl.String), month.cast(pl.String), yyyy, separator="/"))
    )


def _group_digits(expr: pl.Expr, separator: str) -> pl.Expr:
    """'044195012345' → '044 195 012 345'; 9-digit CMNDs in three groups."""
    return pl.concat_str(
        expr.str.slice(0, 3),
        expr.str.slice(3, 3),
        expr.str.slice(6, 3),
        expr.str.slice(9, 3),
        separator=separator,
    ).str.strip_chars_end(separator)


def _locality(ward_type: pl.Expr, index: pl.Expr) -> pl.Expr:
    villages = pl.Series(names.VILLAGE_NAMES)
    streets = pl.Series(names.STREET_NAMES)
    village = pl.lit(villages).gather(index % len(villages))
    street = pl.lit(streets).gather(index % len(streets))
    rural = (
        pl.when(index % 3 == 0)
        .then(pl.concat_str(pl.lit("Thôn "), (1 + index % 12).cast(pl.String)))
        .when(index % 3 == 1)
        .then(pl.concat_str(pl.lit("Thôn "), village))
        .otherwise(pl.concat_str(pl.lit("Xóm "), (1 + index % 9).cast(pl.String)))
    )
    urban = (
        pl.when(index % 2 == 0)
        .then(pl.concat_str(pl.lit("Tổ dân phố "), (1 + index % 15).cast(pl.String)))
        .otherwise(pl.concat_str(pl.lit("Số "), (1 + index % 200).cast(pl.String), pl.lit(" đường "), street))
    )
    return pl.when(ward_type == "Xã").then(rural).otherwise(urban)


def _labels(*labels: pl.Expr) -> pl.Expr:
    """Comma-joined labels of the conditions that hold (null-valued labels skipped)."""
    # concat_str is ~10x faster than concat_list of when/then literals.
    return pl.concat_str(*labels, separator=",", ignore_nulls=True)


def _as_list(labels: pl.Expr) -> pl.Expr:
    return labels.fill_null("").str.split(",").list.filter(pl.element() != "")


def _stage(records: pl.DataFrame, expr: pl.Expr, alias: str) -> tuple[pl.DataFrame, pl.Expr]:
    """Materialize one step of a chain of conditional rewrites. Nesting `when(c).then(f(x)).otherwise(x)`
    repeats `x` in both branches, so an unmaterialized chain grows exponentially."""
    return records.with_columns(expr.alias(alias)), pl.col(alias)


def _abbreviate(expr: pl.Expr, table: dict[str, str]) -> pl.Expr:
    return expr.replace_strict(list(table), list(table.values()), default=expr)


def _build_records(
    rng: np.random.Generator,
    ref: ProvinceCommunes,
    households: pl.DataFrame,
    people: pl.DataFrame,
    as_of: date,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Every record of every export (raw strings plus truth), and the file plan. Returns (records, files)."""
    communes = ref.communes.with_row_index("commune_index").with_columns(
        pl.col("commune_index").cast(pl.Int64)
    )
    home = households["home"].to_numpy()
    alternates = _alternate_communes(rng, ref, home)

    appearances = people["appearances"].to_numpy()
    person = np.repeat(people["person_index"].to_numpy(), appearances)
    slot = np.arange(len(person)) - np.repeat(np.cumsum(appearances) - appearances, appearances)
    household = people["household_index"].to_numpy()[person]
    commune = np.choose(slot, [home[household], alternates[household, 0], alternates[household, 1]])
    locality = np.choose(
        slot,
        [households[f"locality_{i}"].to_numpy()[household] for i in range(3)],
    )
    n = len(person)

    # Files: one per old commune that has records, in code order.
    used = communes.filter(pl.col("commune_index").is_in(np.unique(commune).tolist()))
    files = _plan_files(rng, used).with_row_index("file_index")

    base = pl.DataFrame(
        {
            "person_index": person,
            "slot": slot,
            "commune_index": commune.astype(np.int64),
            "locality_index": locality.astype(np.int64),
        }
    )
    # Independent draws for every kind of noise and defect, in a fixed order (determinism).
    draws = {f"u_{name}": rng.random(n) for name in (
        "tone", "iy", "typo", "typo_target", "typo_pos", "drop_middle", "upper", "fold", "space", "nfd",
        "date_alt", "year_only", "swap", "cmnd", "id_format", "phone_alt", "phone_old", "address_alt",
        "commune_fill", "defect", "addr_nfd",
    )}  # fmt: skip
    ints = {
        "typo_kind": rng.integers(0, 3, n),
        "space_kind": rng.integers(0, 3, n),
        "date_alt_format": rng.integers(0, 3, n),
        "phone_alt_format": rng.integers(0, len(_PHONE_FORMATS), n),
        "address_alt_form": rng.integers(0, len(_ADDRESS_FORMS), n),
        "defect_kind": rng.integers(0, len(DEFECT_KINDS), n),
        "fallback_kind": rng.integers(0, len(_ALWAYS_APPLICABLE), n),
        "variant": rng.integers(0, 6, n),
        "extra_digit": rng.integers(0, 10, n),
        "future_days": rng.integers(30, 3000, n),
        # 122+ years back: with 121, a birthday later in the year than as_of is still only 120 (not a defect).
        "old_years": rng.integers(122, 137, n),
        "updated_days": rng.integers(1, 301, n),
        "stale_days": rng.integers(400, 1500, n),
        "ahead_days": rng.integers(1, 91, n),
        "seconds": rng.integers(0, 86_400, n),
        "year_shift": rng.integers(1, 10, n),
        "unknown_code": rng.integers(33_000, 99_999, n),
    }
    typo_letter = _TYPO_LETTERS[rng.integers(0, len(_TYPO_LETTERS), n)]
    row_order = households["order_key"].to_numpy()[household]

    records = (
        base.with_columns(
            *[pl.Series(k, v) for k, v in draws.items()],
            *[pl.Series(k, v) for k, v in ints.items()],
            pl.Series("typo_letter", typo_letter),
            pl.Series("row_order", row_order),
        )
        .join(people, on="person_index", how="left")
        .join(communes, on="commune_index", how="left")
        .join(files.drop("columns", "headers"), on="commune_index", how="left")
        .sort("file_index", "row_order", "member", "slot")
        .with_columns((pl.int_range(pl.len()).over("file_index") + 1).alias("source_row"))
    )
    records = _assign_defects(records)
    records = _render_fields(records, ref, as_of)
    return records, files


def _assign_defects(records: pl.DataFrame) -> pl.DataFrame:
    kinds = pl.Series(DEFECT_KINDS)
    fallback = pl.Series(_ALWAYS_APPLICABLE)
    drawn = pl.lit(kinds).gather(pl.col("defect_kind"))
    needs_cccd = drawn.is_in(["bad_cccd_length", "cccd_sex_mismatch", "cccd_year_mismatch"])
    applicable = (
        pl.when(needs_cccd)
        .then(pl.col("only_cmnd").not_())
        .when(drawn == "unknown_commune_code")
        .then(pl.col("has_commune_column"))
        .otherwise(True)
    )
    return records.with_columns(
        pl.when(pl.col("u_defect") >= DEFECT_SHARE)
        .then(None)
        .when(applicable)
        .then(drawn)
        .otherwise(pl.lit(fallback).gather(pl.col("fallback_kind")))
        .alias("injected_defect")
    )


def _render_fields(records: pl.DataFrame, ref: ProvinceCommunes, as_of: date) -> pl.DataFrame:
    """The raw strings each export holds, from the clean values, the file's dialect, noise and defects."""
    defect = pl.col("injected_defect").fill_null("")
    as_of_date = pl.lit(as_of)

    # --- name
    drop_middle = (pl.col("u_drop_middle") < 0.02) & pl.col("middle_name").is_not_null()
    typo = pl.col("u_typo") < 0.03
    typo_on_family = typo & (pl.col("u_typo_target") < 0.3)
    typo_on_given = typo & (pl.col("u_typo_target") >= 0.3)
    typo_args = (pl.col("typo_kind"), pl.col("u_typo_pos"), pl.col("typo_letter"))
    i_y = pl.col("u_iy") < 0.15
    records = records.with_columns(
        pl.when(i_y).then(_map_distinct(records, c, _y_to_i_text)).otherwise(pl.col(c)).alias(f"_{c}_iy")
        for c in ("family_name", "middle_name", "given_name")
    )
    records = records.with_columns(
        pl.when(typo_on_family)
        .then(_typo(pl.col("_family_name_iy"), *typo_args))
        .otherwise(pl.col("_family_name_iy"))
        .alias("_family"),
        pl.when(drop_middle).then(None).otherwise(pl.col("_middle_name_iy")).alias("_middle"),
        pl.when(typo_on_given)
        .then(_typo(pl.col("_given_name_iy"), *typo_args))
        .otherwise(pl.col("_given_name_iy"))
        .alias("_given"),
    ).with_columns(
        pl.concat_str("_family", "_middle", "_given", separator=" ", ignore_nulls=True).alias("_name0"),
    )
    new_tone = pl.col("file_new_tone") | (pl.col("u_tone") < 0.05)
    records = records.with_columns(
        pl.when(new_tone).then(_new_tone(pl.col("_name0"))).otherwise(pl.col("_name0")).alias("_name2")
    )
    upper = pl.col("file_upper") | (pl.col("u_upper") < 0.04)
    fold = pl.col("file_unaccented") | (pl.col("u_fold") < 0.04)
    spaced = pl.col("u_space") < 0.04
    nfd = pl.col("u_nfd") < 0.03
    name = pl.when(upper).then(pl.col("_name2").str.to_uppercase()).otherwise(pl.col("_name2"))
    records, name = _stage(records, name, "_name3")
    records, name = _stage(records, pl.when(fold).then(_fold(name)).otherwise(name), "_name4")
    name = (
        pl.when(spaced & (pl.col("space_kind") == 0))
        .then(name.str.replace(" ", "  ", literal=True))
        .when(spaced & (pl.col("space_kind") == 1))
        .then(pl.concat_str(pl.lit(" "), name))
        .when(spaced)
        .then(pl.concat_str(name, pl.lit("  ")))
        .otherwise(name)
    )
    records, name = _stage(records, name, "_name5")
    name = pl.when(nfd).then(name.str.normalize("NFD")).otherwise(name)
    missing_name = pl.lit(pl.Series(["", "?", "không rõ", "", "?", "khong ro"])).gather(pl.col("variant"))
    records = records.with_columns(
        pl.when(defect == "missing_name").then(missing_name).otherwise(name).alias("out_full_name"),
        _labels(
            pl.when(pl.col("_name2") != pl.col("_name0")).then(pl.lit("name_new_tone")),
            pl.when(
                pl.any_horizontal(
                    pl.col(f"_{c}_iy").ne_missing(pl.col(c))
                    for c in ("family_name", "middle_name", "given_name")
                )
            ).then(pl.lit("name_i_y")),
            pl.when(
                typo
                & (pl.concat_str("_family", "_given") != pl.concat_str("_family_name_iy", "_given_name_iy"))
            ).then(pl.lit("name_typo")),
            pl.when(drop_middle).then(pl.lit("name_no_middle")),
            pl.when(upper).then(pl.lit("name_upper")),
            pl.when(fold).then(pl.lit("name_unaccented")),
            pl.when(spaced).then(pl.lit("name_extra_space")),
            pl.when(nfd).then(pl.lit("name_nfd")),
        ).alias("_noise_name"),
    )

    # --- date of birth
    day, month, year = pl.col("dob").dt.day(), pl.col("dob").dt.month(), pl.col("dob").dt.year()
    future = as_of_date + pl.duration(days=pl.col("future_days"))
    impossible_day = pl.lit(pl.Series([31, 30, 31, 31, 31, 31])).gather(pl.col("variant"))
    impossible_month = pl.lit(pl.Series([2, 2, 4, 6, 9, 11])).gather(pl.col("variant"))
    swap = (pl.col("u_swap") < 0.015) & (day <= 12) & (day != month) & (defect == "")
    year_only = (pl.col("u_year_only") < 0.02) & (defect == "")
    shown_day = (
        pl.when(defect == "future_dob")
        .then(future.dt.day())
        .when(defect == "impossible_date")
        .then(impossible_day)
        .when((defect == "age_over_120") & (month == 2) & (day == 29))
        .then(28)
        .when(swap)
        .then(month)
        .otherwise(day)
    )
    shown_month = (
        pl.when(defect == "future_dob")
        .then(future.dt.month())
        .when(defect == "impossible_date")
        .then(impossible_month)
        .when(swap)
        .then(day)
        .otherwise(month)
    )
    shown_year = (
        pl.when(defect == "future_dob")
        .then(future.dt.year())
        .when(defect == "age_over_120")
        .then(as_of.year - pl.col("old_years"))
        .otherwise(year)
    )
    records = records.with_columns(
        shown_day.alias("_shown_day"), shown_month.alias("_shown_month"), shown_year.alias("_shown_year")
    )
    shown_day, shown_month, shown_year = pl.col("_shown_day"), pl.col("_shown_month"), pl.col("_shown_year")
    date_alt = pl.col("u_date_alt") < 0.05
    date_format = pl.when(date_alt).then(pl.col("date_alt_format")).otherwise(pl.col("date_format"))
    records = records.with_columns(
        pl.when(defect == "missing_dob")
        .then(pl.lit(""))
        .when(year_only)
        .then(year.cast(pl.String))
        .otherwise(_format_date(shown_day, shown_month, shown_year, date_format))
        .alias("out_date_of_birth"),
        _labels(
            pl.when(year_only).then(pl.lit("dob_year_only")),
            pl.when(swap).then(pl.lit("dob_day_month_swapped")),
            pl.when(date_alt & (pl.col("date_alt_format") != pl.col("date_format"))).then(
                pl.lit("dob_other_format")
            ),
        ).alias("_noise_dob"),
    )

    # --- sex
    vocab = pl.col("sex_vocabulary")
    male_word = pl.lit(pl.Series([m for m, _ in _SEX_VOCABULARIES])).gather(vocab)
    female_word = pl.lit(pl.Series([f for _, f in _SEX_VOCABULARIES])).gather(vocab)
    sex_word = pl.when(pl.col("sex") == "M").then(male_word).otherwise(female_word)
    records = records.with_columns(
        pl.when(defect == "missing_sex")
        .then(pl.lit(""))
        .when(pl.col("file_unaccented"))
        .then(_fold(sex_word))
        .otherwise(sex_word)
        .alias("out_sex")
    )

    # --- citizen id
    cccd_defect = defect.is_in(["bad_cccd_length", "cccd_sex_mismatch", "cccd_year_mismatch"])
    show_cmnd = pl.col("only_cmnd") | (pl.col("has_cmnd") & (pl.col("u_cmnd") < 0.10) & cccd_defect.not_())
    cccd = pl.col("cccd")
    flipped_sex = (pl.col("century_digit") + 1 - 2 * (pl.col("century_digit") % 2)).cast(pl.String)
    shifted_year = (
        ((cccd.str.slice(4, 2).cast(pl.Int64) + pl.col("year_shift")) % 100).cast(pl.String).str.zfill(2)
    )
    digits = (
        pl.when(show_cmnd)
        .then(pl.col("cmnd"))
        .when(defect == "bad_cccd_length")
        .then(
            pl.when(pl.col("variant") % 2 == 0)
            .then(cccd.str.slice(0, 11))
            .otherwise(pl.concat_str(cccd, pl.col("extra_digit").cast(pl.String)))
        )
        .when(defect == "cccd_sex_mismatch")
        .then(pl.concat_str(cccd.str.slice(0, 3), flipped_sex, cccd.str.slice(4)))
        .when(defect == "cccd_year_mismatch")
        .then(pl.concat_str(cccd.str.slice(0, 4), shifted_year, cccd.str.slice(6)))
        .otherwise(cccd)
    )
    records, digits = _stage(records, digits, "_digits")
    id_spaced = (pl.col("u_id_format") < 0.05) & (defect != "bad_cccd_length")
    id_dotted = (
        (pl.col("u_id_format") >= 0.05) & (pl.col("u_id_format") < 0.10) & (defect != "bad_cccd_length")
    )
    records = records.with_columns(
        pl.when(show_cmnd).then(pl.lit("cmnd")).otherwise(pl.lit("cccd")).alias("id_shown"),
        pl.when(id_spaced)
        .then(_group_digits(digits, " "))
        .when(id_dotted)
        .then(_group_digits(digits, "."))
        .otherwise(digits)
        .alias("out_citizen_id"),
        _labels(
            pl.when(show_cmnd & pl.col("only_cmnd").not_()).then(pl.lit("cmnd_instead_of_cccd")),
            pl.when(id_spaced).then(pl.lit("id_spaced")),
            pl.when(id_dotted).then(pl.lit("id_dotted")),
        ).alias("_noise_id"),
    )

    # --- phone: the last system a person with a changed number appears in still holds the old one
    stale_number = (
        pl.col("old_phone_local").is_not_null()
        & (pl.col("appearances") >= 2)
        & (pl.col("slot") == pl.col("appearances") - 1)
    )
    records, local = _stage(
        records,
        pl.when(stale_number).then(pl.col("old_phone_local")).otherwise(pl.col("phone_local")),
        "_local",
    )
    old_prefix = local.str.slice(0, 3).replace_strict(
        list(names.OLD_ELEVEN_DIGIT_PREFIX), list(names.OLD_ELEVEN_DIGIT_PREFIX.values()), default=None
    )
    records, old_prefix = _stage(records, old_prefix, "_old_prefix")
    eleven_digit = (pl.col("u_phone_old") < 0.06) & old_prefix.is_not_null()
    phone_alt = pl.col("u_phone_alt") < 0.10
    phone_format = pl.when(phone_alt).then(pl.col("phone_alt_format")).otherwise(pl.col("phone_format"))
    rest = local.str.slice(1)
    formatted_phone = (
        pl.when(eleven_digit)
        .then(pl.concat_str(old_prefix, local.str.slice(3)))
        .when(phone_format == 1)
        .then(pl.concat_str(pl.lit("+84"), rest))
        .when(phone_format == 2)
        .then(pl.concat_str(pl.lit("84"), rest))
        .when(phone_format == 3)
        .then(pl.concat_str(local.str.slice(0, 4), local.str.slice(4, 3), local.str.slice(7), separator="."))
        .when(phone_format == 4)
        .then(pl.concat_str(local.str.slice(0, 4), local.str.slice(4, 3), local.str.slice(7), separator=" "))
        .otherwise(local)
    )
    invalid_phone = (
        pl.when(pl.col("variant") % 3 == 0)
        .then(local.str.slice(0, 7))
        .when(pl.col("variant") % 3 == 1)
        .then(pl.concat_str(local, pl.lit("12")))
        .otherwise(pl.concat_str(pl.lit("1"), local.str.slice(1)))
    )
    records = records.with_columns(
        pl.when(defect == "invalid_phone").then(invalid_phone).otherwise(formatted_phone).alias("out_phone"),
        pl.concat_str(pl.lit("+84"), rest).alias("phone_clean"),
        _labels(
            pl.when(stale_number).then(pl.lit("phone_changed_number")),
            pl.when(eleven_digit).then(pl.lit("phone_old_11_digit")),
            pl.when(phone_alt & (pl.col("phone_alt_format") != pl.col("phone_format"))).then(
                pl.lit("phone_other_format")
            ),
        ).alias("_noise_phone"),
    )

    # --- address: every form is built once per distinct (commune, locality, file style), then joined back
    style = ["commune_index", "locality_index", "file_new_tone", "file_unaccented"]
    pairs = (
        records.select(
            *style,
            "legacy_ward_type",
            "legacy_ward_name",
            "legacy_ward_short",
            "legacy_district_type",
            "legacy_district_name",
            "legacy_district_short",
            "legacy_province_name",
            "ward_name",
        )
        .unique(subset=style)
        .sort(style)
        .with_row_index("_pair")
    )
    pairs, loc = _stage(pairs, _locality(pl.col("legacy_ward_type"), pl.col("locality_index")), "_loc")
    loc_abbreviated = loc.str.replace("Tổ dân phố", "TDP", literal=True)
    province_short = pl.col("legacy_province_name").str.replace(r"^(Tỉnh|Thành phố) ", "")
    province_abbreviation = (
        pl.when(pl.col("legacy_province_name").str.starts_with("Tỉnh"))
        .then(pl.lit("T."))
        .otherwise(pl.lit("TP."))
    )
    pairs = pairs.with_columns(
        pl.concat_str(
            loc, "legacy_ward_name", "legacy_district_name", "legacy_province_name", separator=", "
        ).alias("legacy_address_clean"),
        pl.concat_str(
            loc_abbreviated,
            pl.concat_str(
                _abbreviate(pl.col("legacy_ward_type"), _WARD_ABBREVIATIONS),
                "legacy_ward_short",
                separator=" ",
            ),
            pl.concat_str(
                _abbreviate(pl.col("legacy_district_type"), _DISTRICT_ABBREVIATIONS),
                "legacy_district_short",
                separator=" ",
            ),
            pl.concat_str(province_abbreviation, province_short, separator=" "),
            separator=", ",
        ).alias("_old_abbreviated"),
        pl.concat_str(loc, "ward_name", pl.lit(ref.province_name), separator=", ").alias("address_clean"),
    )
    forms = [
        pl.col("legacy_address_clean"),
        pl.col("_old_abbreviated"),
        _fold(pl.col("legacy_address_clean")),
        pl.concat_str("legacy_ward_name", "legacy_district_name", separator=", "),
        pl.col("address_clean"),
    ]
    address_alt = pl.col("u_address_alt") < 0.2
    form = pl.when(address_alt).then(pl.col("address_alt_form")).otherwise(pl.col("address_form"))
    records = records.join(
        pairs.select(*style, "_pair"), on=style, how="left", maintain_order="left"
    ).with_columns((form * 2 + (pl.col("u_addr_nfd") < 0.03).cast(pl.Int64)).alias("_variant"))
    # Only the (place, form, NFD) combinations some record uses are rendered.
    combos = records.select("_pair", "_variant").unique().join(pairs, on="_pair", how="left")
    chosen = pl.col("_variant") // 2
    text = pl.when(chosen == 0).then(forms[0])
    for i, form_expr in enumerate(forms[1:], start=1):
        text = text.when(chosen == i).then(form_expr)
    combos, text = _stage(combos, text, "_text")
    combos, text = _stage(
        combos, pl.when(pl.col("file_new_tone")).then(_new_tone(text)).otherwise(text), "_text"
    )
    combos, text = _stage(
        combos, pl.when(pl.col("file_unaccented")).then(_fold(text)).otherwise(text), "_text"
    )
    combos = combos.select(
        "_pair",
        "_variant",
        pl.when(pl.col("_variant") % 2 == 1)
        .then(text.str.normalize("NFD"))
        .otherwise(text)
        .alias("out_address"),
    )
    records = records.join(combos, on=["_pair", "_variant"], how="left", maintain_order="left").join(
        pairs.select("_pair", "legacy_address_clean", "address_clean"),
        on="_pair",
        how="left",
        maintain_order="left",
    )
    unknown_code = pl.col("unknown_code").cast(pl.String)
    records = records.with_columns(
        pl.lit(pl.Series(_ADDRESS_FORMS)).gather(form).alias("address_form"),
        pl.when(pl.col("has_commune_column").not_())
        .then(None)
        .when(defect == "unknown_commune_code")
        .then(
            pl.when(unknown_code.is_in(sorted(ref.known_ward_codes)))
            .then(pl.lit("99999"))
            .otherwise(unknown_code)
        )
        .when(pl.col("u_commune_fill") < 0.8)
        .then(pl.col("legacy_ward_code"))
        .otherwise(pl.lit(""))
        .alias("out_commune_code"),
    )

    # --- updated_at (relative to midnight of as_of)
    midnight = pl.lit(datetime(as_of.year, as_of.month, as_of.day))
    seconds = pl.duration(seconds=pl.col("seconds"))
    updated = (
        pl.when(defect == "stale_record")
        .then(midnight - pl.duration(days=pl.col("stale_days")) + seconds)
        .when(defect == "future_updated_at")
        .then(midnight + pl.duration(days=pl.col("ahead_days")) + seconds)
        # A live register is touched every night: each export's first record was updated the day before as_of,
        # except every 20th export, which plays a system that stopped syncing (the "source refreshed" rule).
        .when((pl.col("source_row") == 1) & (pl.col("file_index") % 20 != 7))
        .then(midnight - pl.duration(days=1) + seconds)
        .otherwise(midnight - pl.duration(days=pl.col("updated_days")) + seconds)
    )
    records = records.with_columns(updated.alias("updated_at_clean")).with_columns(
        pl.when(pl.col("updated_format") == 0)
        .then(pl.col("updated_at_clean").dt.strftime(_UPDATED_FORMATS[0]))
        .when(pl.col("updated_format") == 1)
        .then(pl.col("updated_at_clean").dt.strftime(_UPDATED_FORMATS[1]))
        .otherwise(pl.col("updated_at_clean").dt.strftime(_UPDATED_FORMATS[2]))
        .alias("out_updated_at")
    )

    # --- record id as the file writes it
    row = pl.col("source_row") + pl.col("id_offset")
    records = records.with_columns(
        pl.when(pl.col("id_format").is_null())
        .then(None)
        .when(pl.col("id_format") == 0)
        .then(pl.concat_str(pl.lit("HS"), row.cast(pl.String).str.zfill(6)))
        .when(pl.col("id_format") == 1)
        .then(pl.concat_str(pl.col("legacy_ward_code"), pl.lit("-"), row.cast(pl.String).str.zfill(5)))
        .otherwise(row.cast(pl.String))
        .alias("out_record_id")
    )

    # --- defects the injected one implies: a changed birth year contradicts the CCCD's year digits
    implied_year = (
        defect.is_in(["future_dob", "age_over_120"])
        & (pl.col("id_shown") == "cccd")
        & (pl.col("_shown_year") != pl.col("dob").dt.year())
    )
    records = records.with_columns(
        _as_list(
            _labels(pl.col("injected_defect"), pl.when(implied_year).then(pl.lit("cccd_year_mismatch")))
        ).alias("defects"),
        _as_list(
            pl.concat_str(
                "_noise_name", "_noise_dob", "_noise_id", "_noise_phone", separator=",", ignore_nulls=True
            )
        ).alias("noise"),
    )
    return records


# ---------------------------------------------------------------------------------------------------------------
# Writing exports and truth.


def _cp1258_table() -> dict[int, str]:
    """NFC letter → Windows-1258 form: vowel shape precomposed (â, ơ, …), tone as a combining mark."""
    table: dict[int, str] = {}
    for code in range(0x00C0, 0x1EFA):
        char = chr(code)
        decomposed = unicodedata.normalize("NFD", char)
        if len(decomposed) < 2 or not decomposed[0].isascii():
            continue
        tones = "".join(c for c in decomposed[1:] if c in _TONE_MARKS)
        shape = unicodedata.normalize(
            "NFC", decomposed[0] + "".join(c for c in decomposed[1:] if c not in _TONE_MARKS)
        )
        candidate = shape + tones
        with contextlib.suppress(UnicodeEncodeError):
            candidate.encode("cp1258")
            table[code] = candidate
    return table


_CP1258_TABLE = _cp1258_table()


def encode_cp1258(text: str) -> bytes:
    """Encode Vietnamese text as Windows-1258 (tones as combining marks). Raises on unencodable characters."""
    return unicodedata.normalize("NFC", text).translate(_CP1258_TABLE).encode("cp1258")


_XLSX_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_XLSX_RELS = "http://schemas.openxmlformats.org/package/2006/relationships"
_XLSX_DOC_RELS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml"
_XLSX_PARTS: dict[str, str] = {
    "[Content_Types].xml": (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        f'<Override PartName="/xl/workbook.xml" ContentType="{_XLSX_CONTENT_TYPE}.sheet.main+xml"/>'
        f'<Override PartName="/xl/worksheets/sheet1.xml" ContentType="{_XLSX_CONTENT_TYPE}.worksheet+xml"/>'
        f'<Override PartName="/xl/styles.xml" ContentType="{_XLSX_CONTENT_TYPE}.styles+xml"/>'
        "</Types>"
    ),
    "_rels/.rels": (
        f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Relationships xmlns="{_XLSX_RELS}">'
        f'<Relationship Id="rId1" Type="{_XLSX_DOC_RELS}/officeDocument" Target="xl/workbook.xml"/>'
        "</Relationships>"
    ),
    "xl/workbook.xml": (
        f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><workbook xmlns="{_XLSX_MAIN}"'
        f' xmlns:r="{_XLSX_DOC_RELS}"><sheets><sheet name="Danh sach" sheetId="1" r:id="rId1"/></sheets>'
        "</workbook>"
    ),
    "xl/_rels/workbook.xml.rels": (
        f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Relationships xmlns="{_XLSX_RELS}">'
        f'<Relationship Id="rId1" Type="{_XLSX_DOC_RELS}/worksheet" Target="worksheets/sheet1.xml"/>'
        f'<Relationship Id="rId2" Type="{_XLSX_DOC_RELS}/styles" Target="styles.xml"/>'
        "</Relationships>"
    ),
    "xl/styles.xml": (
        f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><styleSheet xmlns="{_XLSX_MAIN}">'
        '<fonts count="1"><font><sz val="11"/><name val="Calibri"/></font></fonts>'
        '<fills count="1"><fill><patternFill patternType="none"/></fill></fills>'
        '<borders count="1"><border/></borders><cellStyleXfs count="1"><xf/></cellStyleXfs>'
        '<cellXfs count="1"><xf xfId="0"/></cellXfs>'
        '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles></styleSheet>'
    ),
}


def _xml_escape(expr: pl.Expr) -> pl.Expr:
    return expr.str.replace_many(["&", "<", ">"], ["&amp;", "&lt;", "&gt;"])


def _write_xlsx(path: Path, frame: pl.DataFrame) -> None:
    """A one-sheet workbook whose cells are all inline text (IDs and phones keep their leading zeros).

    The sheet XML is built with polars string expressions: a cell-by-cell Python writer (xlsxwriter) is the
    slowest part of a million-person demo otherwise.
    """
    import zipfile

    header = pl.DataFrame({c: [c] for c in frame.columns})
    table = pl.concat([header, frame.cast(pl.String)]).with_columns(
        (pl.int_range(pl.len()) + 1).cast(pl.String).alias("_row")
    )
    cells = [
        pl.when(pl.col(column).fill_null("") != "")
        .then(
            pl.concat_str(
                pl.lit(f'<c r="{chr(ord("A") + i)}'),
                pl.col("_row"),
                pl.lit('" t="inlineStr"><is><t xml:space="preserve">'),
                _xml_escape(pl.col(column)),
                pl.lit("</t></is></c>"),
            )
        )
        .otherwise(pl.lit(""))
        for i, column in enumerate(frame.columns)
    ]
    rows = table.select(
        pl.concat_str(pl.lit('<row r="'), pl.col("_row"), pl.lit('">'), *cells, pl.lit("</row>")).str.join("")
    ).item()
    sheet = (
        f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><worksheet xmlns="{_XLSX_MAIN}">'
        f'<dimension ref="A1:{chr(ord("A") + frame.width - 1)}{table.height}"/>'
        f"<sheetData>{rows}</sheetData></worksheet>"
    )
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, content in [*_XLSX_PARTS.items(), ("xl/worksheets/sheet1.xml", sheet)]:
            # a fixed timestamp keeps the file byte-for-byte reproducible
            archive.writestr(zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0)), content)


def _encode_by_character(text: str, encoder: Any) -> bytes:
    """Encode with a per-character encoder (TCVN3/VNI) once per distinct character, then translate in C."""
    text = unicodedata.normalize("NFC", text)
    table = {ord(c): encoder(c).decode("latin-1") for c in set(text)}
    return text.translate(table).encode("latin-1")


def _write_export(path: Path, frame: pl.DataFrame, plan: dict[str, Any]) -> None:
    fmt = plan["format"]
    if fmt == "xlsx":
        _write_xlsx(path, frame)
        return
    if fmt == "json":
        path.write_text(frame.write_json(), encoding="utf-8")  # a list of objects, one per row
        return
    text = frame.write_csv(
        separator=plan["delimiter"], line_terminator=plan["line_terminator"], null_value=""
    )
    encoding = plan["encoding"]
    if encoding == "cp1258":
        data = encode_cp1258(text)
    elif encoding in ("tcvn3", "vni"):
        encoder = _legacy_font_encoder(encoding)
        if encoder is None:
            raise RuntimeError(f"{path.name}: no {encoding} encoder available")
        data = _encode_by_character(text, encoder)
    else:
        data = text.encode(encoding)
    path.write_bytes(data)


@dataclass(frozen=True)
class DemoSummary:
    """What `write_demo` wrote."""

    persons: int
    records: int
    files: int
    defects: int
    paths: dict[str, Path] = field(default_factory=dict)
    province: str = ""
    province_name: str = ""
    households: int = 0

    def describe(self) -> str:
        return (
            f"demo province {self.province} ({self.province_name}): {self.persons} persons in {self.households}"
            f" households, {self.records} records in {self.files} exports, {self.defects} with injected defects"
            f" → {self.paths.get('exports', '')} (truth: {self.paths.get('truth', '')})"
        )


@dataclass(frozen=True)
class DemoData:
    """The generated demo in memory: people, every record (raw strings and truth), and the file plan."""

    province: ProvinceCommunes
    households: pl.DataFrame
    people: pl.DataFrame
    records: pl.DataFrame
    files: pl.DataFrame
    seed: int
    as_of: date


def generate_demo(
    province: str = "44", persons: int = 5000, seed: int = 7, as_of: date = DEFAULT_AS_OF
) -> DemoData:
    """Generate the demo province in memory (no files). Deterministic for a seed."""
    if persons < 1:
        raise ValueError(f"persons must be at least 1, got {persons}")
    ref = load_province_communes(province)
    people_rng, records_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2))
    households, people = _generate_people(people_rng, ref, persons, as_of)
    records, files = _build_records(records_rng, ref, households, people, as_of)
    return DemoData(ref, households, people, records, files, seed, as_of)


RAW_OUTPUT_FIELDS = tuple(HEADER_VARIANTS)


def truth_records(demo: DemoData) -> pl.DataFrame:
    """One row per written record: lineage, identity, clean values and injected defects."""
    return demo.records.select(
        "source_file",
        pl.col("source_row").cast(pl.Int64),
        pl.col("out_record_id").alias("record_id"),
        "source_id",
        pl.format("P{}", pl.col("person_index").cast(pl.String).str.zfill(7)).alias("person_id"),
        pl.format("H{}", pl.col("household_index").cast(pl.String).str.zfill(7)).alias("household_id"),
        "legacy_ward_code",
        "ward_code",
        "ward_candidates",
        "is_split",
        pl.col("full_name").alias("full_name_clean"),
        pl.col("dob").alias("dob_clean"),
        pl.col("sex").alias("sex_clean"),
        pl.col("cccd").alias("cccd_clean"),
        pl.col("cmnd").alias("cmnd_clean"),
        "phone_clean",
        "address_clean",
        "legacy_address_clean",
        "updated_at_clean",
        "id_shown",
        "address_form",
        "injected_defect",
        "defects",
        "noise",
        *[pl.col(f"out_{f}").alias(f"raw_{f}") for f in RAW_OUTPUT_FIELDS],
    )


def truth_persons(demo: DemoData) -> pl.DataFrame:
    communes = demo.province.communes.with_row_index("home").with_columns(pl.col("home").cast(pl.Int64))
    homes = demo.households.select("household_index", pl.col("home").cast(pl.Int64), "locality_0")
    people = demo.people.join(homes, on="household_index", how="left", maintain_order="left").join(
        communes, on="home", how="left", maintain_order="left"
    )
    people = people.with_columns(
        _locality(pl.col("legacy_ward_type"), pl.col("locality_0")).alias("_locality"),
    )
    return people.select(
        pl.format("P{}", pl.col("person_index").cast(pl.String).str.zfill(7)).alias("person_id"),
        pl.format("H{}", pl.col("household_index").cast(pl.String).str.zfill(7)).alias("household_id"),
        "role",
        "full_name",
        "family_name",
        "middle_name",
        "given_name",
        "sex",
        "dob",
        "cccd",
        "cmnd",
        "birth_province_code",
        "phone_e164",
        "old_phone_e164",
        pl.col("legacy_ward_code").alias("home_legacy_ward_code"),
        pl.col("ward_code").alias("home_ward_code"),
        pl.concat_str("_locality", "ward_name", pl.lit(demo.province.province_name), separator=", ").alias(
            "address_clean"
        ),
        "is_second_twin",
        "appearances",
    )


def _clear_previous(out_dir: Path) -> None:
    """Remove the exports a previous demo run wrote here; refuse to mix with files it did not write."""
    meta_path = out_dir / "truth" / "meta.json"
    exports = out_dir / "exports"
    if meta_path.exists():
        previous = json.loads(meta_path.read_text(encoding="utf-8"))
        for entry in previous.get("files", []):
            (exports / entry["source_file"]).unlink(missing_ok=True)
    if exports.exists():
        strangers = sorted(p.name for p in exports.iterdir())
        if strangers:
            raise FileExistsError(
                f"{exports} already holds files the demo did not write ({', '.join(strangers[:5])}…);"
                " choose an empty directory"
            )


def write_demo(
    out_dir: Path, province: str = "44", persons: int = 5000, seed: int = 7, as_of: date = DEFAULT_AS_OF
) -> DemoSummary:
    """Write a demo province's raw exports (`out_dir/exports`) and their ground truth (`out_dir/truth`)."""
    out_dir = Path(out_dir)
    demo = generate_demo(province, persons, seed, as_of)
    _clear_previous(out_dir)
    exports = out_dir / "exports"
    truth = out_dir / "truth"
    exports.mkdir(parents=True, exist_ok=True)
    truth.mkdir(parents=True, exist_ok=True)

    by_file = demo.records.partition_by("file_index", as_dict=True)
    file_entries = []
    for plan in demo.files.iter_rows(named=True):  # a loop over files
        rows = by_file[(plan["file_index"],)]
        frame = rows.select(
            [pl.col(f"out_{f}").alias(h) for f, h in zip(plan["columns"], plan["headers"], strict=True)]
        )
        _write_export(exports / plan["source_file"], frame, plan)
        file_entries.append(
            {
                "source_file": plan["source_file"],
                "source_id": plan["source_id"],
                "legacy_ward_code": rows["legacy_ward_code"][0],
                "ward_code": rows["ward_code"][0],
                "format": plan["format"],
                "encoding": plan["encoding"] if plan["format"] not in ("xlsx", "json") else None,
                "delimiter": plan["delimiter"],
                "line_terminator": plan["line_terminator"] if plan["delimiter"] else None,
                "columns": dict(zip(plan["columns"], plan["headers"], strict=True)),
                "record_id_format": None if plan["id_format"] is None else _ID_FORMATS[plan["id_format"]],
                "date_format": _DATE_FORMATS[plan["date_format"]],
                "updated_at_format": _UPDATED_FORMATS[plan["updated_format"]],
                "sex_values": list(_SEX_VOCABULARIES[plan["sex_vocabulary"]]),
                "main_address_form": _ADDRESS_FORMS[plan["address_form"]],
                "upper_case": plan["file_upper"],
                "unaccented": plan["file_unaccented"],
                "new_tone_placement": plan["file_new_tone"],
                "rows": rows.height,
            }
        )

    records = truth_records(demo)
    people = truth_persons(demo)
    records.write_parquet(truth / "records.parquet")
    people.write_parquet(truth / "persons.parquet")
    defect_counts = (
        records.select(pl.col("defects").explode().drop_nulls())
        .to_series()
        .value_counts(sort=True, name="count")
    )
    meta = {
        "province": province,
        "province_name": demo.province.province_name,
        "legacy_provinces": demo.province.communes.select("legacy_province_code", "legacy_province_name")
        .unique()
        .sort("legacy_province_code")
        .to_dicts(),
        "seed": seed,
        "persons": people.height,
        "households": demo.households.height,
        "records": records.height,
        "as_of": as_of.isoformat(),
        "defect_share": DEFECT_SHARE,
        "defect_counts": {row[0]: row[1] for row in defect_counts.iter_rows()},
        "name_tone_placement": "traditional (Hòa, Thúy) in *_clean; new placement (Hoà, Thuý) appears as noise",
        "files": file_entries,
    }
    (truth / "meta.json").write_text(json.dumps(meta, ensure_ascii=False, indent=1), encoding="utf-8")
    return DemoSummary(
        persons=people.height,
        records=records.height,
        files=len(file_entries),
        defects=int(records.filter(pl.col("injected_defect").is_not_null()).height),
        paths={
            "root": out_dir,
            "exports": exports,
            "truth": truth,
            "records": truth / "records.parquet",
            "persons": truth / "persons.parquet",
            "meta": truth / "meta.json",
        },
        province=province,
        province_name=demo.province.province_name,
        households=demo.households.height,
    )

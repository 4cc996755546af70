"""Header dialects: map a source's column names onto the canonical raw columns.

The synonym table below is data: add a spelling to the list of its canonical column. Names are compared folded
(diacritics removed, Đ→D, lower case, everything but letters and digits dropped, parenthesised notes ignored), so
"Họ và tên", "HO_VA_TEN", "ho va ten" and "Họ và tên (*)" are one spelling. Within a list, earlier spellings win
when a file has several columns for the same canonical field (a "Số CCCD" column beats a "CMND" one).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import lru_cache

from unidecode import unidecode

from sachsong.schema import RAW_COLUMNS

# Canonical targets. The three name parts are assembled into full_name when a file has no full-name column.
FAMILY_PART, MIDDLE_PART, GIVEN_PART = "_family_name", "_middle_name", "_given_name"
NAME_PARTS = (FAMILY_PART, MIDDLE_PART, GIVEN_PART)
ROW_COUNTER = "_row_counter"  # STT: a row counter, never an identity
# Split columns joined by ingest: date of birth in three columns, sex as marks under Nam / Nữ, the address over
# several columns (joined with ", " in the order below, most specific first).
DOB_DAY, DOB_MONTH, DOB_YEAR = "_dob_day", "_dob_month", "_dob_year"
DOB_PARTS = (DOB_DAY, DOB_MONTH, DOB_YEAR)
SEX_MALE, SEX_FEMALE = "_sex_male_mark", "_sex_female_mark"
ADDRESS_PARTS = ("_addr_house", "_addr_village", "_addr_commune", "_addr_district", "_addr_province")
ADDR_HOUSE, ADDR_VILLAGE, ADDR_COMMUNE, ADDR_DISTRICT, ADDR_PROVINCE = ADDRESS_PARTS
# Which canonical column each part fills (to count a header row's hits and check a group label).
PART_OF: dict[str, str] = {
    **dict.fromkeys(NAME_PARTS, "full_name"),
    **dict.fromkeys(DOB_PARTS, "date_of_birth"),
    SEX_MALE: "sex",
    SEX_FEMALE: "sex",
    **dict.fromkeys(ADDRESS_PARTS, "address"),
}

SYNONYMS: dict[str, tuple[str, ...]] = {
    "full_name": (
        "Họ và tên",
        "Họ tên",
        "Họ và tên công dân",
        "Họ tên công dân",
        "Tên công dân",
        "Họ và tên khai sinh",
        "Họ tên khai sinh",
        "Tên người dân",
        "Tên đầy đủ",
        "Họ và tên chủ hộ",
        "full_name",
        "full name",
        "name",
        "citizen_name",
    ),
    "record_id": (
        "Mã hồ sơ",
        "Mã công dân",
        "Mã nhân khẩu",
        "Mã bản ghi",
        "Số hồ sơ",
        "Mã HS",
        "record_id",
        "record id",
        "ID",
        "Mã",
        "uuid",
        "key",
    ),
    "date_of_birth": (
        "Ngày sinh",
        "Ngày tháng năm sinh",
        "Ngày, tháng, năm sinh",
        "NTNS",
        "Sinh ngày",
        "date_of_birth",
        "dob",
        "birth_date",
        "birthdate",
        "birthday",
        "Năm sinh",
        "birth_year",
        "year_of_birth",
    ),
    "sex": ("Giới tính", "GT", "Phái", "Nam/Nữ", "sex", "gender"),
    "citizen_id": (
        "Số CCCD",
        "CCCD",
        "Số căn cước công dân",
        "Số căn cước",
        "Căn cước công dân",
        "Số định danh cá nhân",
        "Số định danh",
        "Mã định danh cá nhân",
        "Mã định danh",
        "Số ĐDCN",
        "CCCD/CMND",
        "CMND/CCCD",
        "Số CCCD/CMND",
        "Số CMND/CCCD",
        "Số giấy tờ tùy thân",
        "Số giấy tờ",
        "citizen_id",
        "id_number",
        "national_id",
        "id_no",
        "CMND",
        "Số CMND",
        "Chứng minh nhân dân",
        "Số chứng minh nhân dân",
        "CMTND",
        "Số CMTND",
    ),
    "phone": (
        "Số điện thoại",
        "Điện thoại",
        "Điện thoại liên hệ",
        "Số điện thoại liên hệ",
        "SĐT",
        "Số ĐT",
        "ĐT",
        "Di động",
        "Số di động",
        "phone",
        "phone_number",
        "mobile",
        "tel",
        "telephone",
    ),
    "address": (
        "Địa chỉ thường trú",
        "Nơi thường trú",
        "Nơi đăng ký thường trú",
        "Thường trú",
        "permanent_address",
        "Địa chỉ",
        "Địa chỉ liên hệ",
        "address",
        "addr",
        "Nơi ở hiện tại",
        "Chỗ ở hiện nay",
        "Nơi ở",
        "Địa chỉ tạm trú",
        "Tạm trú",
    ),
    "commune_code": (
        "Mã xã",
        "Mã phường xã",
        "Mã xã phường",
        "Mã phường",
        "Mã ĐVHC",
        "Mã đơn vị hành chính",
        "Mã ĐVHC xã",
        "commune_code",
        "ward_code",
        "Mã xã cũ",
    ),
    "updated_at": (
        "Ngày cập nhật",
        "Cập nhật lúc",
        "cap_nhat_luc",
        "Thời gian cập nhật",
        "Thời điểm cập nhật",
        "Ngày cập nhật cuối",
        "Ngày sửa đổi",
        "Ngày chỉnh sửa",
        "updated_at",
        "updated",
        "last_updated",
        "last_modified",
        "modified_at",
        "modified",
    ),
    # "Họ và tên đệm" + "Tên" is the usual split: family and middle names in one column. It is assembled like a
    # family-name column (parts are joined with spaces in order), so it is listed here.
    FAMILY_PART: (
        "Họ",
        "Họ và tên đệm",
        "Họ và đệm",
        "Họ, tên đệm",
        "Họ tên đệm",
        "Họ đệm",
        "Họ và tên lót",
        "Họ và chữ đệm",
        "family_name",
        "last_name",
        "surname",
    ),
    MIDDLE_PART: ("Tên đệm", "Tên lót", "Chữ đệm", "Chữ lót", "Đệm", "Lót", "middle_name"),
    GIVEN_PART: ("Tên", "given_name", "first_name"),
    ROW_COUNTER: ("STT", "TT", "Số thứ tự", "No", "#", "row", "row_number"),
    # "Ngày sinh" and "Năm sinh" alone are date_of_birth; next to a month column they become day and year
    # (see `_split_date_columns`).
    DOB_MONTH: ("Tháng sinh", "Tháng"),
    # One-row headers of the form that writes the year of birth under the person's sex.
    SEX_MALE: ("Năm sinh Nam", "Năm sinh - Nam"),
    SEX_FEMALE: ("Năm sinh Nữ", "Năm sinh - Nữ"),
    ADDR_HOUSE: ("Số nhà", "Số nhà, đường phố", "Số nhà, đường", "Số nhà/đường", "Đường phố", "Đường"),
    ADDR_VILLAGE: (
        "Thôn, xóm",
        "Thôn/xóm",
        "Thôn",
        "Xóm",
        "Ấp",
        "Bản",
        "Thôn, ấp",
        "Thôn, bản",
        "Thôn, tổ",
        "Thôn, tổ dân phố",
        "Thôn/tổ dân phố",
        "Tổ dân phố",
        "Tổ",
        "Khu phố",
        "Thôn, xóm, ấp, bản",
    ),
    ADDR_COMMUNE: (
        "Xã, phường",
        "Xã/phường",
        "Xã",
        "Phường",
        "Phường, xã",
        "Phường/xã",
        "Xã, phường, thị trấn",
        "Xã/phường/thị trấn",
    ),
    ADDR_DISTRICT: (
        "Huyện, quận",
        "Huyện/quận",
        "Quận, huyện",
        "Quận/huyện",
        "Huyện",
        "Quận",
        "Huyện, thị xã",
        "Quận, huyện, thị xã",
        "Huyện, quận, thị xã, thành phố",
    ),
    ADDR_PROVINCE: ("Tỉnh, thành phố", "Tỉnh/thành phố", "Tỉnh, TP", "Tỉnh/TP", "Tỉnh", "Tỉnh, thành"),
}

_NOTES = re.compile(r"\([^)]*\)|\[[^\]]*\]")
_NOT_ALNUM = re.compile(r"[^a-z0-9]+")


@lru_cache(maxsize=4096)
def fold_header(name: object) -> str:
    """Fold a column name for comparison: "Họ và tên (*)" → "hovaten", "NGAY_SINH" → "ngaysinh"."""
    text = unicodedata.normalize("NFC", str(name or ""))
    text = _NOTES.sub(" ", text)
    return _NOT_ALNUM.sub("", unidecode(text).lower())


def _build_index(synonyms: Mapping[str, tuple[str, ...]] | None = None) -> dict[str, tuple[str, int]]:
    index: dict[str, tuple[str, int]] = {}
    for canonical, spellings in (SYNONYMS if synonyms is None else synonyms).items():
        for priority, spelling in enumerate(spellings):
            key = fold_header(spelling)
            if key in index and index[key][0] != canonical:
                raise ValueError(
                    f"header synonym '{spelling}' is listed for both {index[key][0]} and {canonical}"
                )
            index.setdefault(key, (canonical, priority))
    return index


SYNONYM_INDEX: dict[str, tuple[str, int]] = _build_index()


@dataclass(frozen=True)
class HeaderVocabulary:
    """The headers one register's exports use: the synonym index, its canonical raw columns, and the columns of
    which a file must name one (else it is refused: a table without them is not this register)."""

    name: str
    raw_columns: tuple[str, ...]
    required_any: tuple[str, ...]
    index: Mapping[str, tuple[str, int]]
    split_fields: bool = False  # residents' date of birth over three columns, sex as marks under Nam / Nữ

    @property
    def required_label(self) -> str:
        return "name" if self.name == "residents" else "/".join(c for c in self.required_any if not c.startswith("_"))


RESIDENTS_VOCABULARY = HeaderVocabulary("residents", RAW_COLUMNS, ("full_name", GIVEN_PART), SYNONYM_INDEX, True)
_ACTIVE: ContextVar[HeaderVocabulary] = ContextVar("header_vocabulary", default=RESIDENTS_VOCABULARY)


def make_vocabulary(
    name: str, synonyms: Mapping[str, tuple[str, ...]], raw_columns: tuple[str, ...], required_any: tuple[str, ...]
) -> HeaderVocabulary:
    """A register's vocabulary from its spec: its own synonyms (each column also by its canonical name), plus
    the row counter (STT) and, when it has an address, the address split over several columns."""
    own = {column: (*synonyms.get(column, ()), column) for column in raw_columns if column != "source_id"}
    shared: dict[str, tuple[str, ...]] = {ROW_COUNTER: SYNONYMS[ROW_COUNTER]}
    if "address" in raw_columns:
        shared |= {part: SYNONYMS[part] for part in ADDRESS_PARTS}
    index = _build_index({**own, **shared})
    return HeaderVocabulary(name, tuple(raw_columns), tuple(required_any), index)


def active_vocabulary() -> HeaderVocabulary:
    return _ACTIVE.get()


@contextmanager
def use_vocabulary(vocabulary: HeaderVocabulary) -> Iterator[HeaderVocabulary]:
    """Map headers with `vocabulary` inside the block (in this thread: each ingest call sets its own)."""
    token = _ACTIVE.set(vocabulary)
    try:
        yield vocabulary
    finally:
        _ACTIVE.reset(token)


def _index() -> Mapping[str, tuple[str, int]]:
    return _ACTIVE.get().index


def lookup(name: object) -> tuple[str, int] | None:
    """(canonical target, priority) for one column name, or None when the name is not known."""
    return _index().get(fold_header(name))


@dataclass
class HeaderMapping:
    """How a file's columns map onto canonical targets."""

    names: list[str]
    columns: dict[int, str] = field(default_factory=dict)  # column position → canonical target
    extras: list[str] = field(default_factory=list)  # columns kept out of the canonical table
    notes: list[str] = field(default_factory=list)

    @property
    def targets(self) -> set[str]:
        return set(self.columns.values())

    @property
    def has_name(self) -> bool:
        """The file names one of the register's required columns (residents: a name)."""
        return bool(self.targets & set(_ACTIVE.get().required_any))

    def describe(self) -> str:
        pairs = [f"{self.names[i]!r}→{target}" for i, target in sorted(self.columns.items())]
        return ", ".join(pairs)


def header_hits(names: list[object]) -> int:
    """How many distinct canonical fields a candidate header row names (to find the header row)."""
    return header_score(names)[0]


def header_score(names: list[object]) -> tuple[int, int]:
    """(distinct canonical fields named, columns mapped): split columns count for the field they fill, so a
    two-row header "Ngày sinh" over "Ngày | Tháng | Năm" names date_of_birth and maps three columns."""
    targets = _targets_by_position([str(n or "") for n in names])
    return len({PART_OF.get(t, t) for t in targets.values()}), len(targets)


def _targets_by_position(names: list[str], explicit: dict[str, str] | None = None) -> dict[int, str]:
    explicit_folded = {fold_header(raw): target for raw, target in (explicit or {}).items()}
    contextual = _contextual_targets(names) if _ACTIVE.get().split_fields else {}
    found: dict[int, str] = {}
    for position, name in enumerate(names):
        folded = fold_header(name)
        if folded in explicit_folded:
            found[position] = explicit_folded[folded]
        elif position in contextual:
            found[position] = contextual[position]
        else:
            hit = _index().get(folded)
            if hit is not None and hit[0] != ROW_COUNTER:
                found[position] = hit[0]
    # A month column with neither a day nor a year beside it is not a split date.
    if DOB_MONTH in found.values() and not {DOB_DAY, DOB_YEAR} & set(found.values()):
        found = {p: t for p, t in found.items() if t != DOB_MONTH}
    return found


_DAY_WORDS = {"ngay", "ngaysinh", "sinhngay"}
_MONTH_WORDS = {"thang", "thangsinh"}
_YEAR_WORDS = {"nam", "namsinh"}


def _leaf_text(name: str) -> str:
    """The lower-case label without its parenthesised group: "Nam (Giới tính)" → "nam" (diacritics kept, since
    "Nam" and "Năm" fold alike)."""
    return " ".join(_NOTES.sub(" ", unicodedata.normalize("NFC", name)).lower().split())


def _is_male_label(name: str) -> bool:
    return _leaf_text(name) == "nam"


def _is_female_label(name: str) -> bool:
    return fold_header(name) == "nu"


def _contextual_targets(names: list[str]) -> dict[int, str]:
    """Targets that depend on the neighbouring columns: "Nam" beside "Nữ" are sex marks; "Ngày (sinh)" and
    "Năm (sinh)" beside a month column are the day and year of a date split over three columns."""
    found: dict[int, str] = {}
    n = len(names)
    for i in range(n - 1):
        if i in found:
            continue
        if _is_male_label(names[i]) and _is_female_label(names[i + 1]):
            found[i], found[i + 1] = SEX_MALE, SEX_FEMALE
        elif _is_female_label(names[i]) and _is_male_label(names[i + 1]):
            found[i], found[i + 1] = SEX_FEMALE, SEX_MALE
    for i in range(n):
        if i in found or fold_header(names[i]) not in _MONTH_WORDS:
            continue
        found[i] = DOB_MONTH
        if i > 0 and i - 1 not in found and fold_header(names[i - 1]) in _DAY_WORDS:
            found[i - 1] = DOB_DAY
        if i + 1 < n and i + 1 not in found and fold_header(names[i + 1]) in _YEAR_WORDS:
            found[i + 1] = DOB_YEAR
    return found


def _leaf_fields(name: str) -> set[str]:
    """Canonical fields a lower-row label could be part of."""
    folded = fold_header(name)
    fields: set[str] = set()
    if folded in _DAY_WORDS | _MONTH_WORDS | _YEAR_WORDS:
        fields.add("date_of_birth")
    if _is_male_label(name) or _is_female_label(name):
        fields.add("sex")
    hit = _index().get(folded)
    if hit is not None and hit[0] != ROW_COUNTER:
        fields.add(PART_OF.get(hit[0], hit[0]))
    return fields


def _is_part_label(name: str) -> bool:
    """A label that means something only under a group ("Ngày", "Nam", "Xã", "Tên"), not a whole field."""
    hit = _index().get(fold_header(name))
    if hit is not None and hit[0] not in PART_OF and hit[0] != DOB_MONTH:
        return False  # a whole field ("Ngày sinh", "Số CCCD") keeps its own name under any group
    return bool(_leaf_fields(name))


def combine_header_rows(upper: list[str], lower: list[str]) -> list[str]:
    """Column names for a two-row header (a group label merged over leaf labels, exported as two lines).

    A column empty in the lower row takes the upper label (merged vertically, like "STT" or "Họ và tên"). A part
    label under a group of its field is kept as "leaf (group)", which maps by its leaf: "Ngày (Ngày sinh)",
    "Nữ (Giới tính)", "Xã (Địa chỉ thường trú)". A part label under another group ("Quê quán" over "Xã") is
    named "group (leaf)", so it maps by the group (usually to nothing) instead of posing as the address.
    """
    width = max(len(upper), len(lower))
    names: list[str] = []
    group, previous_lower = "", ""
    for i in range(width):
        up = (upper[i] if i < len(upper) else "").strip()
        low = (lower[i] if i < len(lower) else "").strip()
        if up:
            group = up
        elif not previous_lower:
            group = ""  # a merged group spans only columns that have leaves below it
        previous_lower = low
        if not low:
            names.append(up)
            continue
        if not group or not _is_part_label(low):
            names.append(low)
            continue
        hit = _index().get(fold_header(group))
        group_field = PART_OF.get(hit[0], hit[0]) if hit is not None else None
        leaf = _leaf_fields(low)
        # Year of birth written under the Nam or Nữ column: a sex mark that is also the date.
        fits = group_field in leaf or (group_field == "date_of_birth" and "sex" in leaf)
        names.append(f"{low} ({group})" if fits else f"{group} ({low})")
    return names


def map_header(names: list[str], explicit: dict[str, str] | None = None) -> HeaderMapping:
    """Map column names to canonical targets.

    `explicit` (from the registry) maps raw header → canonical column and overrides the synonyms for the
    headers it names. Several columns for one target: the best-ranked spelling wins, then the leftmost; the
    others become extras with a note. STT-like row counters are extras too: they are not identities.
    """
    explicit_folded = {fold_header(raw): target for raw, target in (explicit or {}).items()}
    best: dict[str, tuple[int, int]] = {}  # target → (priority, position)
    for position, target in _targets_by_position([str(n) for n in names], explicit).items():
        folded = fold_header(names[position])
        hit = _index().get(folded)
        if folded in explicit_folded:
            priority = -1
        elif hit is not None and hit[0] == target:
            priority = hit[1]
        else:
            priority = 0  # placed by its neighbours (split date, Nam / Nữ marks)
        if target not in best or priority < best[target][0]:
            best[target] = (priority, position)

    mapping = HeaderMapping(names=[str(n) for n in names])
    for target, (_, position) in best.items():
        mapping.columns[position] = target
    # A whole column makes its split parts redundant (a full-name column beside name parts, a date of birth
    # beside day/month/year): keep the parts out of the table. Address parts are joined with the address.
    for whole, parts in (
        ("full_name", NAME_PARTS),
        ("date_of_birth", DOB_PARTS),
        ("sex", (SEX_MALE, SEX_FEMALE)),
    ):
        if whole in mapping.targets:
            for position, target in list(mapping.columns.items()):
                if target in parts:
                    del mapping.columns[position]
    for position, name in enumerate(mapping.names):
        if position in mapping.columns:
            continue
        mapping.extras.append(name)
        hit = _index().get(fold_header(name))
        if hit is not None and hit[0] != ROW_COUNTER and hit[0] in best:
            kept = mapping.names[best[hit[0]][1]]
            if fold_header(kept) == fold_header(name):
                mapping.notes.append(
                    f"duplicate header {name!r} (column {position + 1}): the first one (column "
                    f"{best[hit[0]][1] + 1}) is used"
                )
            else:
                mapping.notes.append(f"column {name!r} also looks like {hit[0]}: {kept!r} is used instead")
    return mapping

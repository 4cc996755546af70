"""Header dialects: map a source's column names onto the canonical raw columns.

The synonym table below is data: add a spelling to the list of its canonical column. Names are compared folded
(diacritics removed, Đ→D, lower case, everything but letters and digits dropped, parenthesised notes ignored), so
"Họ và tên", "HO_VA_TEN", "ho va ten" and "Họ và tên (*)" are one spelling. Within a list, earlier spellings win
when a file has several columns for the same canonical field (a "Số CCCD" column beats a "CMND" one).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache

from unidecode import unidecode

# Canonical targets. The three name parts are assembled into full_name when a file has no full-name column.
FAMILY_PART, MIDDLE_PART, GIVEN_PART = "_family_name", "_middle_name", "_given_name"
NAME_PARTS = (FAMILY_PART, MIDDLE_PART, GIVEN_PART)
ROW_COUNTER = "_row_counter"  # STT: a row counter, never an identity

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
    FAMILY_PART: ("Họ", "family_name", "last_name", "surname"),
    MIDDLE_PART: ("Tên đệm", "Tên lót", "Chữ đệm", "middle_name"),
    GIVEN_PART: ("Tên", "given_name", "first_name"),
    ROW_COUNTER: ("STT", "TT", "Số thứ tự", "No", "#", "row", "row_number"),
}

_NOTES = re.compile(r"\([^)]*\)|\[[^\]]*\]")
_NOT_ALNUM = re.compile(r"[^a-z0-9]+")


@lru_cache(maxsize=4096)
def fold_header(name: object) -> str:
    """Fold a column name for comparison: "Họ và tên (*)" → "hovaten", "NGAY_SINH" → "ngaysinh"."""
    text = unicodedata.normalize("NFC", str(name or ""))
    text = _NOTES.sub(" ", text)
    return _NOT_ALNUM.sub("", unidecode(text).lower())


def _build_index() -> dict[str, tuple[str, int]]:
    index: dict[str, tuple[str, int]] = {}
    for canonical, spellings in SYNONYMS.items():
        for priority, spelling in enumerate(spellings):
            key = fold_header(spelling)
            if key in index and index[key][0] != canonical:
                raise ValueError(
                    f"header synonym '{spelling}' is listed for both {index[key][0]} and {canonical}"
                )
            index.setdefault(key, (canonical, priority))
    return index


SYNONYM_INDEX: dict[str, tuple[str, int]] = _build_index()


def lookup(name: object) -> tuple[str, int] | None:
    """(canonical target, priority) for one column name, or None when the name is not known."""
    return SYNONYM_INDEX.get(fold_header(name))


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
        return "full_name" in self.targets or GIVEN_PART in self.targets

    def describe(self) -> str:
        pairs = [f"{self.names[i]!r}→{target}" for i, target in sorted(self.columns.items())]
        return ", ".join(pairs)


def header_hits(names: list[object]) -> int:
    """How many distinct canonical fields a candidate header row names (to find the header row)."""
    targets = {hit[0] for hit in map(lookup, names) if hit is not None}
    targets.discard(ROW_COUNTER)
    return len(targets)


def map_header(names: list[str], explicit: dict[str, str] | None = None) -> HeaderMapping:
    """Map column names to canonical targets.

    `explicit` (from the registry) maps raw header → canonical column and overrides the synonyms for the
    headers it names. Several columns for one target: the best-ranked spelling wins, then the leftmost; the
    others become extras with a note. STT-like row counters are extras too: they are not identities.
    """
    explicit_folded = {fold_header(raw): target for raw, target in (explicit or {}).items()}
    best: dict[str, tuple[int, int]] = {}  # target → (priority, position)
    for position, name in enumerate(names):
        folded = fold_header(name)
        if folded in explicit_folded:
            candidate: tuple[str, int] | None = (explicit_folded[folded], -1)
        else:
            candidate = SYNONYM_INDEX.get(folded)
        if candidate is None or candidate[0] == ROW_COUNTER:
            continue
        target, priority = candidate
        if target not in best or priority < best[target][0]:
            best[target] = (priority, position)

    mapping = HeaderMapping(names=[str(n) for n in names])
    for target, (_, position) in best.items():
        mapping.columns[position] = target
    if "full_name" in mapping.targets:
        # A full-name column makes name parts redundant; keep them out of the table.
        for position, target in list(mapping.columns.items()):
            if target in NAME_PARTS:
                del mapping.columns[position]
    for position, name in enumerate(mapping.names):
        if position in mapping.columns:
            continue
        mapping.extras.append(name)
        hit = SYNONYM_INDEX.get(fold_header(name))
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

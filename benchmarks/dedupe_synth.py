"""Synthetic standardized residents for the dedupe benchmark and tests: realistic Vietnamese names, households,
twins, and 1-3 noisy records per person. Everything is generated (no real citizen's data).

`make_residents(persons, seed)` returns a standardized table (raw columns + `schema.STANDARD_COLUMNS` subset the
matcher reads) with the truth column `person_id`. Generation is vectorized with numpy/polars; only the typo step
loops in Python, over the few records it touches.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import date, datetime

import numpy as np
import polars as pl
from unidecode import unidecode


def _names(text: str) -> list[str]:
    """Whitespace-separated names, NFC, duplicates dropped (first occurrence kept)."""
    return list(dict.fromkeys(unicodedata.normalize("NFC", name) for name in text.split()))


# Family-name shares from Vietnamese surname studies (Nguyễn ≈ 38%, Trần 11%, Lê 9.5%, Phạm 7%, ...); the tail
# shares the remainder with Zipf-like weights.
FAMILY_HEAD = {
    "Nguyễn": 38.0,
    "Trần": 11.0,
    "Lê": 9.5,
    "Phạm": 7.0,
    "Hoàng": 4.0,
    "Huỳnh": 2.0,
    "Phan": 4.5,
    "Vũ": 3.0,
    "Võ": 2.0,
    "Đặng": 2.1,
    "Bùi": 2.0,
    "Đỗ": 1.4,
    "Hồ": 1.3,
    "Ngô": 1.3,
    "Dương": 1.0,
    "Lý": 0.5,
}
FAMILY_TAIL = [
    "Đinh",
    "Trương",
    "Lâm",
    "Mai",
    "Đào",
    "Cao",
    "Lương",
    "Tạ",
    "Hà",
    "Tô",
    "Quách",
    "Kiều",
    "La",
    "Châu",
    "Thái",
    "Triệu",
    "Khúc",
    "Lại",
    "Chu",
    "Đoàn",
    "Lưu",
    "Tăng",
    "Vương",
    "Phùng",
    "Từ",
    "Nông",
    "Giang",
    "Mạc",
    "Hứa",
    "Âu",
    "Tống",
    "Diệp",
    "Ông",
    "Thân",
    "Kim",
    "Lục",
    "Hầu",
    "Viên",
    "Khổng",
    "Nghiêm",
    "Tôn",
    "Bạch",
]
MIDDLE_MALE = {
    "Văn": 35,
    "Đức": 8,
    "Minh": 8,
    "Quang": 6,
    "Hữu": 6,
    "Thanh": 5,
    "Xuân": 4,
    "Công": 4,
    "Ngọc": 3,
}
MIDDLE_MALE |= {
    "Anh": 3,
    "Tuấn": 2,
    "Duy": 3,
    "Đình": 4,
    "Trọng": 2,
    "Gia": 2,
    "Hoàng": 2,
    "Nhật": 2,
    "Bá": 2,
}
MIDDLE_MALE |= {"Thế": 2, "Tiến": 2}
MIDDLE_FEMALE = {"Thị": 45, "Ngọc": 8, "Thu": 6, "Thanh": 5, "Minh": 3, "Hồng": 4, "Phương": 3, "Mai": 3}
MIDDLE_FEMALE |= {"Kim": 4, "Bảo": 3, "Thùy": 3, "Diệu": 2, "Hoài": 2, "Khánh": 2, "Lan": 2, "Mỹ": 3}
# Given names: a long tail (a few hundred per sex, the most common ≈3.5% of its sex, see GIVEN_ZIPF), listed
# roughly by popularity. Single syllables; duplicates in the text are dropped in order.
GIVEN_MALE = _names(
    """Anh Hùng Dũng Tuấn Minh Nam Hải Long Sơn Thắng Cường Hưng Huy Hoàng Phúc Quân Đức Khánh Trung Thành Tùng
    Bình An Bảo Đạt Hiếu Kiên Lâm Lộc Lợi Mạnh Nghĩa Phong Quang Quý Tài Tâm Thái Thịnh Toàn Trí Tú Việt Vinh Vũ
    Khoa Khang Duy Hậu Hiển Hòa Hợp Kỳ Luân Nhân Sang Thuận Tiến Trọng Định Chiến Công Hiệp Phát Tân Thiện Tín
    Vương Dương Giang Hảo Hào Khải Lực Nhật Quyết Sỹ Tường Thông Uy Xuân Bách Bắc Cảnh Chính Chung Danh Doanh Du
    Điệp Đông Đăng Đoàn Được Hạnh Hiền Hoan Học Huân Hướng Khiêm Khôi Kiệt Lĩnh Lương Lượng Nguyên Ninh Phương
    Quảng Quốc Sâm Sinh Tạo Thạch Thanh Thao Thế Thiêm Thìn Thọ Thụ Thức Tính Toản Trường Tuân Tuệ Tuyên Tuyển
    Văn Vĩnh Vỹ Yên Ân Bằng Biên Cao Cẩn Châu Chí Chương Cơ Diễn Đại Đàm Độ Giáp Hà Hán Hiện Hiệu Hinh Hoạt Hội
    Hồng Huấn Hữu Khanh Khiết Khương Kha Lai Lãm Lập Liêm Lịch Linh Loan Luật Lưu Mậu Mẫn Mỹ Nghị Ngọc Nhạc Nhẫn
    Pháp Phi Phụng Phước Quy Sáng Sử Tấn Tập Tề Thạc Thăng Thân Thiệp Thiều Thoại Thục Thuật Thượng Tiệp Tịnh
    Tòng Triều Triệu Trinh Trực Tư Tỵ Ước Vạn Viên Võ Vượng Xứng Ý Đô Đồng Đương Hoàn Kính Lành Lũy Mừng Nhàn
    Nhiên Oai Quyền Sĩ Tám"""
)
GIVEN_FEMALE = _names(
    """Anh Hà Hương Lan Linh Mai Ngọc Nhung Oanh Phương Quỳnh Thảo Trang Trinh Tuyết Uyên Vân Yến Châu Diệp Dung
    Giang Hằng Hạnh Hiền Hoa Hòa Huệ Hồng Huyền Khánh Liên Loan My Nga Ngân Nhi Nhàn Phượng Thanh Thơ Thu Thủy
    Thúy Tâm Trâm Vy Xuân Thư Ly Lý Hậu Hiên Hiếu Hoài Kiều Lệ Lụa Mơ Nguyệt Như Quyên Sen Thắm Thêu Thoa Tiên
    Trà Tú Vi An Ánh Bích Bình Cúc Chi Chinh Dịu Diễm Diệu Dương Đào Điệp Gấm Hải Hạ Hân Hoàn Hợi Huyên Hường
    Khuê Lành Lài Lam Lê Liễu Lộc Luyến Lựu Mận Miên Minh Mỹ Na Nương Nhã Nhài Nhạn Nhiên Nhu Nhuần Nữ Phúc Quế
    Quý Sương Tài Thẩm Thể Thi Thìn Thịnh Thoan Thơm Thùy Thuận Thương Tình Trúc Tươi Tường Uyển Vàng Viên Xoan
    Yên Ý Hiệp Ngà Hảo Duyên Dạ Đan Giao Hiểu Hoàng Huế Kim Khanh Khiết Lãnh Lợi Mẫn Mến Mùi Ngát Nhân Nhị Phấn
    Phụng Quyến Sa Sáu Thạch Thái Thân Thiện Thoại Thục Thường Tiền Tím Tín Tịnh Toan Trầm Triều Tuyền Tuệ Vẹn
    Vĩnh Xinh Ái Bảo Cầm Chăm Đoan Kha Nhật Phi Phước Sang Sim Thêm Thy Tuyến Út Vui"""
)
GIVEN_ZIPF = 0.5  # popularity ∝ rank^-0.5: the top name ≈3.5% of its sex, the top ten ≈18%

# The default province: its real new wards (post-2025) come from the reference tables, with unequal sizes.
PROVINCE_CODE = "44"
# Records per person: 1, 2 or 3 (mean 1.5: 680k people → 1.02M records, as in a real merged province).
COPIES_P = (0.6, 0.3, 0.1)
RECORDS_PER_PERSON = sum((i + 1) * p for i, p in enumerate(COPIES_P))


def persons_for_records(records: int) -> int:
    """How many persons to generate for about `records` records."""
    return max(100, round(records / RECORDS_PER_PERSON))


Y_AFTER_CONSONANT = r"\b([bcdghklmnpqrstvx]+)y\b"


def fold_name(name: str) -> str:
    """The synth's own fold (mirrors the standardizer's contract): ASCII lower case, Đ→d, i/y unified."""
    import re

    folded = unidecode(unicodedata.normalize("NFC", name)).lower()
    folded = re.sub(Y_AFTER_CONSONANT, r"\1i", folded)
    return " ".join(folded.split())


def fold_expr(column: str) -> pl.Expr:
    """Vectorized version of `fold_name` for the unique names of a column (applied via a join in callers)."""
    return pl.col(column).map_elements(fold_name, return_dtype=pl.String)


def _weights(values: dict[str, float] | list[str]) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(values, dict):
        names = np.array(list(values.keys()), dtype=object)
        w = np.array(list(values.values()), dtype=float)
    else:
        names = np.array(values, dtype=object)
        w = 1.0 / np.arange(1, len(values) + 1) ** GIVEN_ZIPF
    return names, w / w.sum()


def province_wards(province: str = PROVINCE_CODE) -> list[str]:
    """The province's new (post-2025) ward codes from the reference tables (78 for "44")."""
    from sachsong.standardize.reference import load_reference

    wards = load_reference().new_wards.filter(pl.col("province_code") == province)["ward_code"].sort()
    if wards.is_empty():
        raise ValueError(f"province {province!r} has no wards in the reference tables")
    return wards.to_list()


def _ward_distribution(count: int, rng: np.random.Generator) -> np.ndarray:
    """Unequal ward populations (a town ward holds several times a mountain commune's people)."""
    sizes = rng.lognormal(0.0, 0.6, count)
    return sizes / sizes.sum()


def _family_distribution() -> tuple[np.ndarray, np.ndarray]:
    head = dict(FAMILY_HEAD)
    remainder = 100.0 - sum(head.values())
    tail_w = 1.0 / np.arange(1, len(FAMILY_TAIL) + 1)
    tail_w = tail_w / tail_w.sum() * remainder
    return _weights(head | dict(zip(FAMILY_TAIL, tail_w, strict=True)))


@dataclass(frozen=True)
class Noise:
    """Per-record noise rates (each extra record of a person draws them independently)."""

    name_typo: float = 0.06
    no_diacritics: float = 0.06
    drop_middle: float = 0.05
    tone_change: float = 0.03
    dob_swap: float = 0.04
    dob_year_only: float = 0.07
    dob_digit: float = 0.03
    dob_missing: float = 0.03
    id_missing: float = 0.15
    id_typo: float = 0.01
    phone_changed: float = 0.12
    phone_missing: float = 0.15
    ward_moved: float = 0.04
    ward_missing: float = 0.03
    sex_missing: float = 0.05
    sex_wrong: float = 0.003
    # Address detail noise (drawn from its own random stream, so every other field is the same as without it):
    # a register that left out the house number, one holding an older address inside the ward (a move within
    # the commune), and one with no address below the ward. A move to another ward changes the whole address.
    address_partial: float = 0.05
    address_moved: float = 0.03
    address_missing: float = 0.03
    # Keying slips that swap two adjacent digits (own random stream too; off by default so the benchmark's
    # figures stay comparable): the birth year's last two digits, a CCCD's serial, a phone number.
    dob_year_swap: float = 0.0
    id_swap: float = 0.0
    phone_swap: float = 0.0


def _persons(n: int, rng: np.random.Generator, ward_p: np.ndarray) -> pl.DataFrame:
    """Households of 1-6 sharing family name (head and children), ward, address and often a phone; twins."""
    sizes = rng.choice([1, 2, 3, 4, 5, 6], size=n, p=[0.15, 0.2, 0.25, 0.25, 0.1, 0.05])
    sizes = sizes[np.cumsum(sizes) <= n]
    n = int(sizes.sum())
    household = np.repeat(np.arange(len(sizes)), sizes)
    position = np.arange(n) - np.repeat(np.cumsum(sizes) - sizes, sizes)  # 0 head, 1 spouse, 2+ children
    fam_names, fam_p = _family_distribution()
    head_family = rng.choice(len(fam_names), size=len(sizes), p=fam_p)
    spouse_family = rng.choice(len(fam_names), size=n, p=fam_p)
    family = np.where(position == 1, spouse_family, head_family[household])
    is_female = np.where(
        position == 0, rng.random(n) < 0.2, np.where(position == 1, True, rng.random(n) < 0.5)
    )
    # The head is female in 20% of households; then the spouse is male.
    head_female = is_female[np.cumsum(sizes) - sizes]
    is_female = np.where(position == 1, ~head_female[household], is_female)

    mm, mm_p = _weights(MIDDLE_MALE)
    mf, mf_p = _weights(MIDDLE_FEMALE)
    gm, gm_p = _weights(GIVEN_MALE)
    gf, gf_p = _weights(GIVEN_FEMALE)
    middle = np.where(is_female, mf[rng.choice(len(mf), n, p=mf_p)], mm[rng.choice(len(mm), n, p=mm_p)])
    second_middle = mf[rng.choice(len(mf), n, p=mf_p)]
    double = is_female & (middle == "Thị") & (rng.random(n) < 0.12) & (second_middle != "Thị")
    middle = np.where(
        double, np.char.add(np.char.add(middle.astype(str), " "), second_middle.astype(str)), middle
    )
    given = np.where(is_female, gf[rng.choice(len(gf), n, p=gf_p)], gm[rng.choice(len(gm), n, p=gm_p)])

    head_birth = rng.integers(date(1945, 1, 1).toordinal(), date(1998, 12, 31).toordinal(), size=len(sizes))
    offset = np.where(
        position == 0,
        0,
        np.where(position == 1, rng.integers(-2000, 3000, n), rng.integers(19 * 365, 36 * 365, n)),
    )
    birth = head_birth[household] + offset
    # A child the parents' ages would place after the cut-off date is born somewhere between the head's 19th
    # birthday and the cut-off instead (clamping them all to the cut-off would pile thousands on one date).
    cutoff = date(2025, 6, 30).toordinal()
    earliest = head_birth[household] + 19 * 365
    late = birth > cutoff
    birth = np.where(late, earliest + (rng.random(n) * (cutoff - earliest)).astype(np.int64), birth)
    # Twins: in some households with 2+ children the second child shares the first child's birth date.
    first_child = np.cumsum(sizes) - sizes + 2
    twin = (position == 3) & (rng.random(n) < 0.08)
    birth = np.where(twin, birth[np.minimum(first_child[household], n - 1)], birth)
    birth = np.minimum(birth, date(2025, 6, 30).toordinal())
    twin_of = np.where(twin, np.minimum(first_child[household], n - 1), -1)
    # Twins never get the same given name; re-draw until different (vectorized: shift in the name list).
    twin_given_same = twin & (given == given[np.maximum(twin_of, 0)])
    given = np.where(
        twin_given_same, np.where(is_female, gf[(np.arange(n) % 7) + 1], gm[(np.arange(n) % 7) + 1]), given
    )

    ward_idx = rng.choice(len(ward_p), size=len(sizes), p=ward_p)[household]
    house_no = rng.integers(1, 400, size=len(sizes))[household]
    hamlet = rng.integers(1, 12, size=len(sizes))[household]
    household_phone = rng.integers(300_000_000, 999_999_999, size=len(sizes))[household]
    own_phone = rng.integers(300_000_000, 999_999_999, size=n)
    phone_kind = rng.random(n)
    phone = np.where(phone_kind < 0.45, household_phone, own_phone).astype(np.int64)
    has_phone = phone_kind < 0.88

    birth_dates = np.array([date.fromordinal(int(o)) for o in birth[:1]])  # dtype probe, cheap
    del birth_dates
    frame = pl.DataFrame(
        {
            "person_id": np.arange(n, dtype=np.int64),
            "household_id": household.astype(np.int64),
            "family_name": fam_names[family].astype(str),
            "middle_name": middle.astype(str),
            "given_name": given.astype(str),
            "is_female": is_female,
            "birth_ordinal": birth.astype(np.int64),
            "ward_idx": ward_idx.astype(np.int64),
            "house_no": house_no.astype(np.int64),
            "hamlet": hamlet.astype(np.int64),
            "phone_num": phone,
            "has_phone": has_phone,
            "is_spouse": position == 1,
        }
    )
    # Days since 0001-01-01 (ordinal 1) → polars Date (days since 1970-01-01).
    epoch = date(1970, 1, 1).toordinal()
    frame = frame.with_columns(
        (pl.col("birth_ordinal") - epoch).cast(pl.Int32).cast(pl.Date).alias("birth_date")
    )
    born = pl.col("birth_date").dt.year()
    century_sex = pl.when(born < 2000).then(pl.when(pl.col("is_female")).then(1).otherwise(0))
    century_sex = century_sex.otherwise(pl.when(pl.col("is_female")).then(3).otherwise(2))
    frame = frame.with_columns(
        cccd_true=pl.format(
            "{}{}{}{}",
            pl.lit(rng.choice(["044", "045", "001", "079", "038"], size=n, p=[0.4, 0.35, 0.1, 0.1, 0.05])),
            century_sex.cast(pl.String),
            (born % 100).cast(pl.String).str.zfill(2),
            pl.Series(rng.integers(0, 1_000_000, n)).cast(pl.String).str.zfill(6),
        ),
        has_cccd=pl.Series(rng.random(n) < 0.92),
        cmnd_true=pl.Series(rng.integers(100_000_000, 399_999_999, n)).cast(pl.String),
        has_cmnd=(born < 2005) & pl.Series(rng.random(n) < 0.7),
    )
    return frame


def _typo(text: str, rng: np.random.Generator) -> str:
    """One keyboard-style error inside one syllable: substitute, delete, duplicate or transpose a letter."""
    syllables = text.split(" ")
    i = int(rng.integers(0, len(syllables)))
    s = syllables[i]
    if len(s) < 2:
        return text
    j = int(rng.integers(0, len(s)))
    kind = int(rng.integers(0, 4))
    letters = "aăâbcdđeêghiklmnoôơpqrstuưvxy"
    if kind == 0:
        s = s[:j] + letters[int(rng.integers(0, len(letters)))] + s[j + 1 :]
    elif kind == 1 and len(s) > 2:
        s = s[:j] + s[j + 1 :]
    elif kind == 2:
        s = s[:j] + s[j] + s[j:]
    elif j < len(s) - 1:
        s = s[:j] + s[j + 1] + s[j] + s[j + 2 :]
    syllables[i] = s if i == 0 else s.lower()
    return " ".join(syllables)


TONE_SWAPS = {
    "à": "á",
    "á": "ả",
    "ả": "à",
    "ù": "ú",
    "ú": "ù",
    "ì": "í",
    "í": "ì",
    "ơ": "ô",
    "ư": "u",
    "ò": "ó",
}


def _tone_change(text: str) -> str:
    for src, dst in TONE_SWAPS.items():
        if src in text:
            return text.replace(src, dst, 1)
    return text


def _strip_diacritics(text: str) -> str:
    return unidecode(text)


def _addresses(rng: np.random.Generator, n: int, noise: Noise) -> pl.Expr:
    """Each record's address: the household's, or (noise) one without the house number, an older one inside the
    ward, only the ward; a record placed in another ward than its household's (`home_ward_idx`) has moved, and
    its whole address is new."""
    draw = pl.Series(rng.random(n))
    new_house = pl.Series(rng.integers(1, 400, n))
    new_hamlet = pl.Series(rng.integers(1, 12, n))
    moved_ward = pl.col("ward_idx") != pl.col("home_ward_idx")
    ward = pl.col("ward_idx") + 1
    partial, moved = noise.address_partial, noise.address_partial + noise.address_moved
    missing = moved + noise.address_missing
    return (
        pl.when(moved_ward | (draw >= partial) & (draw < moved))
        .then(pl.format("Số {}, Thôn {}, Xã {}", new_house, new_hamlet, ward))
        .when(draw < partial)
        .then(pl.format("Thôn {}, Xã {}", "hamlet", ward))
        .when(draw < missing)
        .then(pl.format("Xã {}", ward))
        .otherwise(pl.format("Số {}, Thôn {}, Xã {}", "house_no", "hamlet", ward))
    )


def _swap_at(text: pl.Expr, at: pl.Expr) -> pl.Expr:
    """`text` with the characters at `at` and `at + 1` swapped."""
    return pl.concat_str(
        text.str.slice(0, at), text.str.slice(at + 1, 1), text.str.slice(at, 1), text.str.slice(at + 2)
    )


def _digit_swaps(rec: pl.DataFrame, noise: Noise, rng: np.random.Generator) -> pl.DataFrame:
    """Two adjacent digits swapped: a birth year's last two (1985 → 1958, kept only when still a past date),
    two digits of a CCCD's six-digit serial, two digits of a phone's nine-digit national number."""
    n = rec.height
    draw = {k: pl.Series(rng.random(n)) for k in ("dob", "id", "phone")}
    serial_at = pl.Series(rng.integers(6, 11, n))  # CCCD positions 6..10 (and the next one)
    phone_at = pl.Series(rng.integers(3, 11, n))  # after "+84"
    year = pl.col("dob").dt.year()
    swapped_year = (year // 100) * 100 + (year % 10) * 10 + (year // 10 % 10)
    swapped_dob = pl.date(swapped_year, pl.col("dob").dt.month(), pl.col("dob").dt.day().clip(1, 28))
    dob_swap = (draw["dob"] < noise.dob_year_swap) & (pl.col("dob_precision") == "day")
    dob_swap = dob_swap & (swapped_year != year) & (swapped_dob <= pl.date(2025, 6, 30))
    return rec.with_columns(
        dob=pl.when(dob_swap).then(swapped_dob).otherwise(pl.col("dob")),
        cccd=pl.when(draw["id"] < noise.id_swap).then(_swap_at(pl.col("cccd"), serial_at)).otherwise("cccd"),
        phone_e164=pl.when(draw["phone"] < noise.phone_swap)
        .then(_swap_at(pl.col("phone_e164"), phone_at))
        .otherwise("phone_e164"),
    )


def _clan_villages(people: pl.DataFrame, share: float, rng: np.random.Generator, wards: int) -> pl.DataFrame:
    """Names cluster by place: in each ward a `share` of the households carry that ward's clan name (a family
    name rare in the province), the spouses keeping their own."""
    clan_names = np.array(FAMILY_TAIL, dtype=object)[rng.integers(0, len(FAMILY_TAIL), wards)]
    households = people["household_id"].max() + 1
    clan_household = pl.lit(pl.Series(rng.random(households) < share))
    return people.with_columns(
        family_name=pl.when(clan_household.gather(pl.col("household_id")) & ~pl.col("is_spouse"))
        .then(pl.lit(pl.Series(clan_names.astype(str))).gather(pl.col("ward_idx")))
        .otherwise(pl.col("family_name"))
    )


def make_residents(
    persons: int = 10_000,
    seed: int = 7,
    noise: Noise | None = None,
    province: str = PROVINCE_CODE,
    clan_share: float = 0.0,
) -> pl.DataFrame:
    """A standardized residents table for `persons` people (≈1.5 records each) with truth `person_id`, spread
    over the province's real new wards. `clan_share` > 0 makes family names cluster by ward (see
    `_clan_villages`; drawn from its own random stream, every other field stays the same)."""
    noise = noise or Noise()
    rng = np.random.default_rng(seed)
    rng_address = np.random.default_rng([seed, 1])  # its own stream: the other fields do not depend on it
    wards = province_wards(province)
    ward_p = _ward_distribution(len(wards), rng)
    people = _persons(persons, rng, ward_p)
    if clan_share > 0:
        people = _clan_villages(people, clan_share, np.random.default_rng([seed, 2]), len(wards))
    n_people = people.height
    copies = rng.choice([1, 2, 3], size=n_people, p=COPIES_P)
    rec = people.select(pl.all().gather(np.repeat(np.arange(n_people), copies)))
    n = rec.height
    r = lambda: pl.Series(rng.random(n))  # noqa: E731 - a fresh uniform column per noise draw

    full = pl.concat_str(["family_name", "middle_name", "given_name"], separator=" ")
    drop_middle = r() < noise.drop_middle
    rec = rec.with_columns(
        name_display=pl.when(drop_middle)
        .then(pl.concat_str(["family_name", "given_name"], separator=" "))
        .otherwise(full),
        drop_middle=drop_middle,
    )
    # Typos, tone changes and ASCII-only records: the only Python loop, over the touched rows alone.
    names = rec["name_display"].to_list()
    typo_rows = np.flatnonzero(rng.random(n) < noise.name_typo)
    for i in typo_rows:
        names[i] = _typo(names[i], rng)
    for i in np.flatnonzero(rng.random(n) < noise.tone_change):
        names[i] = _tone_change(names[i])
    for i in np.flatnonzero(rng.random(n) < noise.no_diacritics):
        names[i] = _strip_diacritics(names[i])
    rec = rec.with_columns(pl.Series("name_norm", names))

    # Date of birth noise.
    bd = pl.col("birth_date")
    swap_ok = (bd.dt.day() <= 12) & (bd.dt.day() != bd.dt.month())
    swapped = pl.date(bd.dt.year(), bd.dt.day(), bd.dt.month())
    # A one-digit slip in the day (mostly a single digit; the month's last days step back one day instead).
    last = bd.dt.day() % 10
    digit_typo = pl.when((last >= 1) & (last <= 4) & (bd.dt.day() < 28)).then(bd + pl.duration(days=1))
    digit_typo = digit_typo.otherwise(bd - pl.duration(days=1))
    u_swap, u_year, u_digit, u_missing = r(), r(), r(), r()
    rec = rec.with_columns(
        dob=pl.when(u_missing < noise.dob_missing)
        .then(None)
        .when((u_swap < noise.dob_swap) & swap_ok)
        .then(swapped)
        .when(u_digit < noise.dob_digit)
        .then(digit_typo)
        .when(u_year < noise.dob_year_only)
        .then(pl.date(bd.dt.year(), 1, 1))
        .otherwise(bd),
        dob_precision=pl.when(u_missing < noise.dob_missing)
        .then(None)
        .when((u_swap < noise.dob_swap) & swap_ok)
        .then(pl.lit("day"))
        .when(u_digit < noise.dob_digit)
        .then(pl.lit("day"))
        .when(u_year < noise.dob_year_only)
        .then(pl.lit("year"))
        .otherwise(pl.lit("day")),
    )

    # Identity numbers: old systems hold the CMND, new ones the CCCD, some hold nothing.
    id_draw = r()
    cccd_typo = pl.format(
        "{}{}{}",
        pl.col("cccd_true").str.slice(0, 11),
        ((pl.col("cccd_true").str.slice(11, 1).cast(pl.Int32) + 1) % 10).cast(pl.String),
        pl.lit(""),
    )
    show_cccd = pl.col("has_cccd") & (id_draw < pl.when(pl.col("has_cmnd")).then(0.6).otherwise(0.85))
    show_cmnd = ~show_cccd & pl.col("has_cmnd") & (id_draw < 1.0 - noise.id_missing)
    rec = rec.with_columns(
        cccd=pl.when(show_cccd)
        .then(pl.when(r() < noise.id_typo).then(cccd_typo).otherwise(pl.col("cccd_true")))
        .otherwise(None),
        cmnd=pl.when(show_cmnd).then(pl.col("cmnd_true")).otherwise(None),
    )
    new_phone = pl.Series(rng.integers(300_000_000, 999_999_999, n))
    rec = rec.with_columns(pl.col("ward_idx").alias("home_ward_idx")).with_columns(
        phone_e164=pl.when(~pl.col("has_phone") | (r() < noise.phone_missing))
        .then(None)
        .otherwise(
            pl.format(
                "+84{}", pl.when(r() < noise.phone_changed).then(new_phone).otherwise(pl.col("phone_num"))
            )
        ),
        ward_idx=pl.when(r() < noise.ward_moved)
        .then(pl.Series(rng.choice(len(wards), size=n, p=ward_p)))
        .otherwise(pl.col("ward_idx")),
    )
    ward_missing = r() < noise.ward_missing
    ward_codes = pl.lit(pl.Series(wards, dtype=pl.String))
    sex_draw = r()
    rec = rec.with_columns(
        ward_code=pl.when(ward_missing).then(None).otherwise(ward_codes.gather(pl.col("ward_idx"))),
        sex_code=pl.when(sex_draw < noise.sex_missing)
        .then(None)
        .when(sex_draw > 1 - noise.sex_wrong)
        .then(pl.when(pl.col("is_female")).then(pl.lit("M")).otherwise(pl.lit("F")))
        .otherwise(pl.when(pl.col("is_female")).then(pl.lit("F")).otherwise(pl.lit("M"))),
        address=_addresses(rng_address, n, noise),
        updated_ts=(
            pl.lit(datetime(2019, 1, 1)) + pl.duration(seconds=pl.Series(rng.integers(0, 7 * 365 * 86400, n)))
        ).dt.cast_time_unit("us"),
        source_id=pl.Series(rng.choice(["xa_a", "xa_b", "xa_c", "phuong_d"], n)),
    )
    if noise.dob_year_swap or noise.id_swap or noise.phone_swap:
        rec = _digit_swaps(rec, noise, np.random.default_rng([seed, 3]))
    # Fold keys over unique display names (few distinct values), joined back.
    uniques = rec.select(pl.col("name_norm").unique())
    uniques = uniques.with_columns(
        name_key=pl.col("name_norm").map_elements(fold_name, return_dtype=pl.String)
    )
    rec = rec.join(uniques, on="name_norm", how="left")
    parts = pl.col("name_norm").str.split(" ")
    rec = rec.with_columns(
        family_name=parts.list.first(),
        given_name=parts.list.last(),
        middle_name=pl.when(parts.list.len() > 2).then(
            parts.list.slice(1, parts.list.len() - 2).list.join(" ")
        ),
    )
    order = rng.permutation(n)
    rec = rec[order]
    rec = rec.with_columns(
        row_uid=pl.int_range(0, pl.len(), dtype=pl.Int64),
        record_id=pl.format("R{}", pl.int_range(0, pl.len())),
        province_code=pl.lit(PROVINCE_CODE),
        address_status=pl.lit("exact"),
    )
    return rec.select(
        "row_uid",
        "record_id",
        "source_id",
        pl.col("name_norm").alias("full_name"),
        pl.col("dob").dt.strftime("%d/%m/%Y").alias("date_of_birth"),
        pl.col("sex_code").alias("sex"),
        pl.coalesce("cccd", "cmnd").alias("citizen_id"),
        pl.col("phone_e164").alias("phone"),
        "address",
        pl.col("ward_code").alias("commune_code"),
        pl.col("updated_ts").dt.strftime("%Y-%m-%d %H:%M:%S").alias("updated_at"),
        "name_norm",
        "name_key",
        "family_name",
        "middle_name",
        "given_name",
        "dob",
        "dob_precision",
        "sex_code",
        "cccd",
        "cmnd",
        "phone_e164",
        "ward_code",
        "province_code",
        "address_status",
        "updated_ts",
        "person_id",
        "household_id",
    )


if __name__ == "__main__":
    import sys

    table = make_residents(int(sys.argv[1]) if len(sys.argv) > 1 else 2000)
    with pl.Config(tbl_cols=30, tbl_width_chars=250, tbl_rows=20):
        print(table.head(20))
        print(table.height, "records", table["person_id"].n_unique(), "persons")

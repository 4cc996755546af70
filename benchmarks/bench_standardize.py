"""Benchmark of `standardize_residents` without the address room, against a naive per-row Python baseline.

    .venv/bin/python benchmarks/bench_standardize.py [ROWS] [BASELINE_ROWS]

Generates ROWS (default 200,000) synthetic noisy residents (real family-name frequencies, upper case, NFD, old
tone placement, every date format, spaced IDs, old 11-digit phones), times the vectorized standardizer with a
pass-through address resolver, then times the same normalisation written as a plain Python loop per record on
BASELINE_ROWS (default 20,000) rows of the same data, measured in the same run. Prints rows/s and the ratio.
"""

from __future__ import annotations

import re
import sys
import time
import unicodedata
from datetime import date, datetime, timedelta

import numpy as np
import polars as pl
from unidecode import unidecode

from sachsong.standardize.residents import standardize_residents

FAMILY = {"Nguyễn": 38, "Trần": 11, "Lê": 9.5, "Phạm": 7, "Hoàng": 5, "Huỳnh": 4, "Phan": 4.5, "Vũ": 4,
          "Võ": 4, "Đặng": 2, "Bùi": 2, "Đỗ": 1.5, "Hồ": 1.5, "Ngô": 1.3, "Dương": 1, "Lý": 0.5, "Tôn Thất": 0.1}  # fmt: skip
MIDDLE = ["Văn", "Thị", "Hữu", "Đức", "Minh", "Ngọc", "Thanh", "Quốc", "Xuân", "Thúy", ""]
GIVEN = ["An", "Bình", "Hòa", "Thủy", "Thúy", "Lan", "Hùng", "Dũng", "Hoàn", "Huỳnh", "Khoa", "Lý", "Sỹ", "Quý",
         "Hằng", "Trang", "Tuấn", "Nam", "Linh", "Khỏe", "Uyên", "Phương", "Hà", "Đạt", "Yến"]  # fmt: skip
SEX = ["Nam", "Nữ", "nam", "nu", "NỮ", "M", "F", "1", "0", "nữ giới", "", "?"]
OLD_PREFIXES = ["0162", "0168", "0120", "0126", "0199", "0186"]
NEW_PREFIXES = ["091", "098", "032", "070", "086", "039"]


def generate(rows: int, seed: int = 11) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    weights = np.array(list(FAMILY.values()))
    family = rng.choice(list(FAMILY), rows, p=weights / weights.sum())
    middle = rng.choice(MIDDLE, rows)
    given = rng.choice(GIVEN, rows)
    names = pl.Series([f"{f} {m} {g}" for f, m, g in zip(family, middle, given, strict=True)])
    style = rng.integers(0, 5, rows)
    names = (
        pl.DataFrame({"n": names, "s": style})
        .select(
            pl.when(pl.col("s") == 0)
            .then(pl.col("n").str.to_uppercase())
            .when(pl.col("s") == 1)
            .then(pl.col("n").str.normalize("NFD"))
            .when(pl.col("s") == 2)
            .then("  " + pl.col("n").str.replace_all(" ", "   ") + " ")
            .when(pl.col("s") == 3)
            .then(pl.col("n").str.to_lowercase())
            .otherwise(pl.col("n"))
        )
        .to_series()
    )
    births = [date(1930, 1, 1) + timedelta(days=int(d)) for d in rng.integers(0, 33_000, rows)]
    formats = ["%d/%m/%Y", "%Y-%m-%d", "%d-%m-%Y", "%d.%m.%Y", "%Y%m%d", "%-d/%-m/%Y", "%Y"]
    chosen = rng.integers(0, len(formats) + 2, rows)
    dob = []
    for birth, f in zip(births, chosen, strict=True):
        if f < len(formats):
            dob.append(birth.strftime(formats[f]))
        elif f == len(formats):
            dob.append(str((birth - date(1899, 12, 30)).days))  # Excel serial
        else:
            dob.append("31/02/1990")
    century = np.where(np.array([b.year for b in births]) >= 2000, 2, 0) + rng.integers(0, 2, rows)
    ids = [
        f"0{p:02d}{c}{b.year % 100:02d}{s:06d}"
        for p, c, b, s in zip(
            rng.integers(1, 97, rows), century, births, rng.integers(0, 999_999, rows), strict=True
        )
    ]
    ids = [
        f"{i[:3]} {i[3:6]} {i[6:9]} {i[9:]}" if k == 0 else i
        for i, k in zip(ids, rng.integers(0, 3, rows), strict=True)
    ]
    phone_kind = rng.integers(0, 4, rows)
    tails = rng.integers(0, 9_999_999, rows)
    phones = []
    for kind, tail in zip(phone_kind, tails, strict=True):
        if kind == 0:
            phones.append(f"{rng.choice(OLD_PREFIXES)}{tail:07d}")
        elif kind == 1:
            phones.append(f"+84 {rng.choice(NEW_PREFIXES)[1:]} {tail:07d}")
        elif kind == 2:
            phones.append(f"{rng.choice(NEW_PREFIXES)}.{tail // 10_000:03d}.{tail % 10_000:04d}")
        else:
            phones.append("")
    updated = [
        (datetime(2024, 1, 1) + timedelta(minutes=int(m))).strftime("%Y-%m-%dT%H:%M:%S")
        for m in rng.integers(0, 700_000, rows)
    ]
    return pl.DataFrame(
        {
            "record_id": [f"r{i}" for i in range(rows)],
            "source_id": rng.choice(["ho_khau", "dan_so", "tam_tru"], rows),
            "full_name": names,
            "date_of_birth": dob,
            "sex": rng.choice(SEX, rows),
            "citizen_id": ids,
            "phone": phones,
            "address": None,
            "commune_code": None,
            "updated_at": updated,
        },
        schema_overrides={"address": pl.String, "commune_code": pl.String},
    )


def no_address(frame: pl.DataFrame, column: str = "address", hint_column: str | None = None) -> pl.DataFrame:
    return frame.with_columns(
        ward_code=pl.lit(None, pl.String),
        province_code=pl.lit(None, pl.String),
        address_status=pl.lit("unmatched"),
        ward_candidates=pl.lit(None, pl.List(pl.String)),
    )


# --- the naive baseline: the same normalisation, one record at a time in Python ---------------------------
_TONES = {"\u0300", "\u0301", "\u0309", "\u0303", "\u0323"}
_SEX = {"nam": "M", "nam gioi": "M", "m": "M", "male": "M", "1": "M", "nu": "F", "nu gioi": "F", "f": "F",
        "female": "F", "0": "F"}  # fmt: skip
_OLD = {"0162": "032", "0163": "033", "0164": "034", "0165": "035", "0166": "036", "0167": "037", "0168": "038",
        "0169": "039", "0120": "070", "0121": "079", "0122": "077", "0126": "076", "0128": "078", "0123": "083",
        "0124": "084", "0125": "085", "0127": "081", "0129": "082", "0186": "056", "0188": "058", "0199": "059"}  # fmt: skip


def _move_tone(syllable: str) -> str:
    decomposed = unicodedata.normalize("NFD", syllable)
    for first, second in (("o", "a"), ("o", "e"), ("u", "y")):
        for tone in _TONES:
            for a, b in ((first, second), (first.upper(), second), (first.upper(), second.upper())):
                if decomposed.endswith(a + tone + b):
                    return unicodedata.normalize("NFC", decomposed[:-3] + a + b + tone)
    return syllable


def _fold(text: str) -> str:
    folded = unidecode(text).lower()
    folded = re.sub(r"[^a-z0-9]+", " ", folded).strip()
    return re.sub(r"\b([bcdghklmnprstvx]+|qu)y\b", r"\1i", folded)


def _date(text: str) -> tuple[date | None, str]:
    text = text.strip()
    if not text:
        return None, "missing"
    for fmt in ("%d/%m/%Y", "%d-%m-%Y", "%d.%m.%Y", "%Y-%m-%d", "%Y/%m/%d", "%Y%m%d"):
        try:
            return datetime.strptime(text, fmt).date(), "ok"
        except ValueError:
            continue
    if text.isdigit() and len(text) == 4:
        return date(int(text), 1, 1), "ok"
    if text.isdigit() and len(text) == 5:
        return date(1899, 12, 30) + timedelta(days=int(text)), "ok"
    return None, "unparsable"


def naive_row(row: dict) -> dict:
    name = re.sub(r"\s+", " ", unicodedata.normalize("NFC", row["full_name"] or "")).strip()
    norm = " ".join(_move_tone(s[:1].upper() + s[1:].lower()) for s in name.split(" ")) if name else None
    parts = norm.split(" ") if norm else []
    digits = re.sub(r"[\s.\-]", "", row["citizen_id"] or "")
    phone = re.sub(r"[\s.\-()]", "", row["phone"] or "")
    if phone.startswith("+84"):
        phone = "0" + phone[3:]
    if phone[:4] in _OLD and len(phone) == 11:
        phone = _OLD[phone[:4]] + phone[4:]
    dob, status = _date(row["date_of_birth"] or "")
    return {
        "name_norm": norm,
        "name_key": _fold(norm) if norm else None,
        "family_name": parts[0] if len(parts) > 1 else None,
        "given_name": parts[-1] if parts else None,
        "dob": dob,
        "dob_status": status,
        "sex_code": _SEX.get(_fold(row["sex"] or "")),
        "cccd": digits if len(digits) == 12 and digits.isdigit() else None,
        "cccd_birth_year": 1900 + int(digits[3]) // 2 * 100 + int(digits[4:6]) if len(digits) == 12 else None,
        "phone_e164": "+84" + phone[1:] if re.fullmatch(r"0[35789]\d{8}", phone) else None,
        "updated_ts": datetime.fromisoformat(row["updated_at"]) if row["updated_at"] else None,
    }


def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    baseline_rows = int(sys.argv[2]) if len(sys.argv) > 2 else 20_000
    raw = generate(rows)

    standardize_residents(raw.head(1000), address_resolver=no_address)  # warm-up: regex compilation
    start = time.perf_counter()
    out = standardize_residents(raw, address_resolver=no_address)
    vectorized = time.perf_counter() - start
    assert out.height == rows

    subset = raw.head(baseline_rows).to_dicts()
    start = time.perf_counter()
    baseline = [naive_row(row) for row in subset]
    naive = time.perf_counter() - start
    assert len(baseline) == baseline_rows

    fast_rate, slow_rate = rows / vectorized, baseline_rows / naive
    print(
        f"standardize_residents (no address): {rows:,} rows in {vectorized:.2f} s = {fast_rate:,.0f} rows/s"
    )
    print(
        f"naive per-row Python baseline:      {baseline_rows:,} rows in {naive:.2f} s = {slow_rate:,.0f} rows/s"
    )
    print(f"ratio vectorized / naive: {fast_rate / slow_rate:.1f}x")
    print(f"projected 1M rows: {1_000_000 / fast_rate:.1f} s vectorized, {1_000_000 / slow_rate:.1f} s naive")
    agree = sum(
        1
        for row, mine in zip(baseline, out.head(baseline_rows).iter_rows(named=True), strict=True)
        if row["name_key"] == mine["name_key"] and row["cccd"] == mine["cccd"]
    )
    print(f"sanity: name_key and cccd agree with the baseline on {agree / baseline_rows:.1%} of the subset")


if __name__ == "__main__":
    main()

"""The demo household-business register: every old commune's export of its hộ kinh doanh, with ground truth.

`write_household_business_demo(out_dir)` writes

- `out_dir/exports/hkd_<legacy ward code>_<slug>.<csv|xlsx|json>`: one register per old commune, each in its own
  dialect (the residents demo's file formats and encodings, its own Vietnamese header spellings and column order,
  date format, status words, accents or none, Excel damage or none);
- `out_dir/truth/records.parquet`: one row per written record: lineage (`source_file`, 1-based `source_row`,
  `record_id` as written), `entity` (the true business), the owner (`owner_person_id`, `owner_in_residents`) and
  the clean values (`*_clean`);
- `out_dir/truth/errors.parquet`: `source_file, source_row, kind` for every injected error (kinds: ERROR_KINDS);
- `out_dir/truth/meta.json`: province, seed, as_of, counts, every file and its dialect.

Owners are people of the residents demo's population (`sachsong.demo.residents`, same province, seed and
`residents_persons`), so the "owner is a published resident" check meets real matches; a share are people from
elsewhere. A business appears in one to three old communes' registers (the merger overlap) with small
differences; some owners also run a branch location (the owner's MST with a `-001` suffix): another business.
Deterministic for a seed. Vectorized with numpy and polars; Python loops run over files and small tables only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import numpy as np
import polars as pl

from sachsong.demo.residents import (
    _DISTRICT_ABBREVIATIONS,
    _WARD_ABBREVIATIONS,
    DEFAULT_AS_OF,
    ProvinceCommunes,
    _abbreviate,
    _alternate_communes,
    _available_formats,
    _balanced_choice,
    _clear_previous,
    _fold,
    _generate_people,
    _locality,
    _new_tone,
    _slug,
    _stage,
    _typo,
    _write_export,
    export_encoding,
    line_terminator,
    load_province_communes,
)

ERROR_SHARE = 0.12
ERROR_KINDS: tuple[str, ...] = (
    "mst_check_digit",
    "tax_code_digits_lost",
    "vsic_invalid",
    "registered_future",
    "registered_impossible_date",
    "owner_cccd_malformed",
    "closed_updated",
    "missing_business_name",
    "missing_owner_name",
    "missing_tax_code",
    "missing_address",
    "invalid_phone",
    "stale_record",
)
# Every kind and the rule of datasets/household_business/rules.yaml that must find it.
ERROR_RULES: dict[str, str] = {
    "mst_check_digit": "tax_code_check_digit",
    "tax_code_digits_lost": "tax_code_unreadable",
    "vsic_invalid": "vsic_code_unknown",
    "registered_future": "registered_in_future",
    "registered_impossible_date": "registered_date_invalid",
    "owner_cccd_malformed": "owner_citizen_id_malformed",
    "closed_updated": "closed_business_updated",
    "missing_business_name": "business_name_missing",
    "missing_owner_name": "owner_name_missing",
    "missing_tax_code": "tax_code_missing",
    "missing_address": "address_missing",
    "invalid_phone": "phone_invalid",
    "stale_record": "record_stale",
}

# (shop word as registers write it, its VSIC 2018 level-5 code, share). Codes are in data/vsic2018.csv.
SHOP_TYPES: tuple[tuple[str, str, float], ...] = (
    ("Tạp hóa", "47119", 0.20),
    ("Quán cơm", "56101", 0.07),
    ("Quán phở", "56101", 0.03),
    ("Quán bún", "56101", 0.03),
    ("Cà phê", "56302", 0.08),
    ("Quán nhậu", "56301", 0.03),
    ("Tiệm vàng", "47732", 0.03),
    ("Cửa hàng điện thoại", "47412", 0.03),
    ("Salon tóc", "96310", 0.05),
    ("Karaoke", "93290", 0.02),
    ("Nhà nghỉ", "55103", 0.03),
    ("Tiệm may", "14100", 0.03),
    ("Sửa xe", "45420", 0.05),
    ("Vật liệu xây dựng", "47524", 0.03),
    ("Nhà thuốc", "47721", 0.03),
    ("Shop thời trang", "47711", 0.04),
    ("Mỹ phẩm", "47722", 0.02),
    ("Tiệm bánh", "10710", 0.02),
    ("Rau quả", "47223", 0.03),
    ("Quầy thịt", "47221", 0.03),
    ("Gas", "47735", 0.02),
    ("Điện máy", "47591", 0.02),
    ("Văn phòng phẩm", "47610", 0.02),
    ("Đại lý bia nước ngọt", "47230", 0.03),
    ("Giặt là", "96200", 0.01),
    ("Studio ảnh", "74200", 0.01),
    ("Ngũ kim", "47521", 0.02),
    ("Hoa tươi", "47731", 0.01),
)
# How a register may write a shop word instead (abbreviations the standardizer expands, accents, new tone).
SHOP_VARIANTS: dict[str, tuple[str, ...]] = {
    "Tạp hóa": ("Tạp hoá", "TH", "Cửa hàng tạp hóa", "Tạp Hóa"),
    "Cà phê": ("Cafe", "Cà Phê", "CF"),
    "Nhà nghỉ": ("NN",),
}
BRAND_WORDS: tuple[str, ...] = (
    "Bình Minh", "Hoàng Gia", "Phú Quý", "Minh Phát", "Thành Đạt", "Hồng Phúc", "An Khang", "Kim Thành", "Hoa Sen",
    "Thanh Bình", "Phát Đạt", "Tấn Lộc", "Mai Anh", "Hương Quê", "Sài Gòn", "Quê Nhà", "Bảo Ngọc", "Ngọc Lan",
    "Tuấn Kiệt", "Hải Đăng", "Trường An", "Phúc Lộc", "Thiên Phú", "Hạnh Phúc", "Đông Hải", "Sông Hương",
)  # fmt: skip
_TITLES = ("Cô", "Chú", "Bà", "Anh", "Chị", "Út", "Bé")
HEADER_VARIANTS: dict[str, tuple[str, ...]] = {
    "record_id": ("Mã hồ sơ", "Mã HKD", "MA_HO_SO", "Số GCN ĐKHKD", "ID"),
    "business_name": (
        "Tên hộ kinh doanh",
        "Tên HKD",
        "TEN_HKD",
        "Tên cơ sở",
        "ten ho kinh doanh",
        "Tên cửa hàng",
    ),
    "owner_name": (
        "Chủ hộ",
        "Họ tên chủ hộ",
        "Họ và tên chủ hộ",
        "HO_TEN_CHU_HO",
        "Người đại diện",
        "chu ho",
    ),
    "owner_citizen_id": (
        "Số CCCD chủ hộ",
        "CCCD chủ hộ",
        "Số định danh cá nhân",
        "SO_CCCD",
        "CCCD/CMND",
        "so cccd",
    ),
    "tax_code": ("Mã số thuế", "MST", "MA_SO_THUE", "ma so thue", "Mã số hộ kinh doanh"),
    "business_line": (
        "Ngành nghề kinh doanh",
        "Ngành nghề",
        "Mã ngành",
        "NGANH_NGHE",
        "nganh nghe",
        "Mã ngành VSIC",
    ),
    "address": ("Địa chỉ kinh doanh", "Địa chỉ", "Địa điểm kinh doanh", "DIA_CHI", "dia chi"),
    "phone": ("Số điện thoại", "Điện thoại", "SĐT", "SDT", "so_dien_thoai"),
    "registered_on": ("Ngày đăng ký", "Ngày cấp", "Ngày cấp GCN", "NGAY_DANG_KY", "ngay dang ky"),
    "status": ("Trạng thái", "Tình trạng", "Tình trạng hoạt động", "TRANG_THAI", "trang thai"),
    "commune_code": ("Mã xã", "MA_XA", "ma_xa", "Mã ĐVHC xã"),
    "updated_at": ("Ngày cập nhật", "NGAY_CAP_NHAT", "ngay cap nhat", "Cập nhật lúc"),
}
# (active, suspended, closed) as each register writes them.
STATUS_VOCABULARIES: tuple[tuple[str, str, str], ...] = (
    ("Đang hoạt động", "Tạm ngừng kinh doanh", "Đã đóng"),
    ("Hoạt động", "Tạm ngừng", "Ngừng hoạt động"),
    ("ĐANG HOẠT ĐỘNG", "TẠM NGỪNG", "ĐÃ ĐÓNG MST"),
    ("Đang kinh doanh", "Tạm ngừng hoạt động", "Chấm dứt hoạt động"),
)
_DATE_FORMATS = ("dd/mm/yyyy", "yyyy-mm-dd", "d/m/yyyy")
_UPDATED_FORMATS = ("%d/%m/%Y %H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S")
_APPEARANCE_SHARES = (0.6, 0.3, 0.1)
# First two digits of the MSTs in the demo: 8x are personal tax codes (the usual household-business case); the
# 0x ones lose their leading zero when a spreadsheet reads them as numbers.
_MST_PREFIXES: tuple[tuple[str, float], ...] = (("81", 0.35), ("80", 0.15), ("83", 0.1), ("31", 0.15), ("32", 0.1), ("01", 0.08), ("03", 0.07))  # fmt: skip
_MST_WEIGHTS = np.array([31, 29, 23, 19, 17, 13, 7, 5, 3])
# The day personal identification numbers replaced household-business tax codes (Circular 86/2024/TT-BTC).
PERSONAL_ID_TAX_CODES_FROM = date(2025, 7, 1)


@dataclass(frozen=True)
class BusinessDemoSummary:
    """What `write_household_business_demo` wrote."""

    businesses: int
    records: int
    files: int
    errors: int
    province: str = ""
    paths: dict[str, Path] = field(default_factory=dict)

    def describe(self) -> str:
        return (
            f"household-business demo, province {self.province}: {self.businesses} businesses, {self.records}"
            f" records in {self.files} registers, {self.errors} with injected errors → {self.paths.get('exports', '')}"
        )


def _weights(table: tuple[tuple[str, float], ...]) -> tuple[list[str], np.ndarray]:
    shares = np.array([s for _, s in table], dtype=float)
    return [v for v, _ in table], shares / shares.sum()


def _valid_msts(rng: np.random.Generator, size: int) -> np.ndarray:
    """`size` 10-digit MSTs with a valid check digit (a 9-digit body whose check would be 10 is redrawn)."""
    prefixes, weights = _weights(_MST_PREFIXES)
    head = np.array([[int(c) for c in p] for p in prefixes])[rng.choice(len(prefixes), size=size, p=weights)]
    body = np.hstack([head, rng.integers(0, 10, size=(size, 7))])
    while True:
        remainder = (body * _MST_WEIGHTS).sum(axis=1) % 11
        bad = (remainder == 0) | (body[:, 2:].sum(axis=1) == 0)
        if not bad.any():
            break
        body[bad, 8] = (body[bad, 8] + 1) % 10
    check = 10 - remainder
    digits = np.hstack([body, check[:, None]])
    return np.array(["".join(map(str, row)) for row in digits])  # once per business, 10 characters each


def _invalid_vsic_codes(rng: np.random.Generator, size: int) -> np.ndarray:
    """Codes that look like VSIC (a real 3-digit group, 5 digits) but are in no list."""
    from sachsong.datasets.household_business.standardize import vsic_codes

    known = vsic_codes()
    groups = sorted({c[:3] for c in known})
    pool = [f"{g}{i:02d}" for g in groups for i in range(100) if f"{g}{i:02d}" not in known]
    return np.array(pool)[rng.integers(0, len(pool), size)]


def _businesses(
    rng: np.random.Generator,
    people: pl.DataFrame,
    outsiders: pl.DataFrame,
    homes: np.ndarray,
    n_communes: int,
    count: int,
    as_of: date,
) -> pl.DataFrame:
    """One row per business: owner, name, lines, tax code, place, dates, status."""
    adults = people.filter(
        pl.col("cccd").is_not_null() & (pl.col("dob") <= pl.lit(date(as_of.year - 20, 1, 1)))
    )
    outside = outsiders.filter(
        pl.col("cccd").is_not_null()
        & (pl.col("dob") <= pl.lit(date(as_of.year - 20, 1, 1)))
        & ~pl.col("cccd").is_in(people["cccd"].drop_nulls().implode())
    )
    # ~8% of owners live elsewhere; more when the residents' population has too few adults for every business.
    n_in = min(count - round(count * 0.08), adults.height)
    n_out = min(count - n_in, outside.height)
    owners = pl.concat(
        [
            adults.sample(n_in, seed=int(rng.integers(1 << 31))).with_columns(
                pl.lit(True).alias("owner_in_residents")
            ),
            outside.sample(n_out, seed=int(rng.integers(1 << 31))).with_columns(
                pl.lit(False).alias("owner_in_residents")
            ),
        ],
        how="diagonal_relaxed",
    )
    n = owners.height
    labels, weights = _weights(tuple((w, s) for w, _, s in SHOP_TYPES))
    shop = rng.choice(len(labels), size=n, p=weights)
    codes = np.array([c for _, c, _ in SHOP_TYPES])[shop]
    second_shop = rng.choice(len(labels), size=n, p=weights)
    brand_style = rng.choice(3, size=n, p=(0.55, 0.15, 0.30))
    brand_word = np.array(BRAND_WORDS)[rng.integers(0, len(BRAND_WORDS), n)]
    title = np.array(_TITLES)[rng.integers(0, len(_TITLES), n)]
    personal_tax = rng.random(n) < 0.08
    registered_days = np.where(
        personal_tax,
        rng.integers(30, (as_of - PERSONAL_ID_TAX_CODES_FROM).days, n),
        rng.integers(200, 20 * 365, n),
    )
    status = rng.choice(3, size=n, p=(0.80, 0.07, 0.13))  # active, suspended, closed
    frame = owners.select(
        pl.col("person_index").alias("owner_person_index"),
        "full_name",
        "given_name",
        "cccd",
        "phone_local",
        "household_index",
        "owner_in_residents",
        "dob",
    ).with_columns(
        pl.Series("shop", shop),
        pl.Series("shop_word", np.array(labels)[shop]),
        pl.Series("vsic_clean", codes),
        pl.Series("vsic_second", np.array([c for _, c, _ in SHOP_TYPES])[second_shop]),
        pl.Series("has_second", rng.random(n) < 0.1),
        pl.Series("brand_style", brand_style),
        pl.Series("brand_word", brand_word),
        pl.Series("title", title),
        pl.Series("mst", _valid_msts(rng, n)),
        pl.Series("personal_tax", personal_tax),
        (pl.lit(as_of) - pl.duration(days=pl.Series(registered_days))).alias("registered_clean"),
        pl.Series("status_clean", np.array(["active", "suspended", "closed"])[status]),
        pl.Series("closed_days", rng.integers(30, 600, n)),
        pl.Series("locality", rng.integers(0, 400, n)),
        pl.Series("house_number", rng.integers(1, 300, n)),
        pl.Series("appearances", rng.choice(np.arange(1, 4), size=n, p=_APPEARANCE_SHARES)),
    )
    # A resident owner trades where the household lives; an owner from elsewhere anywhere in the province.
    in_residents = frame["owner_in_residents"].to_numpy()
    household = np.where(in_residents, frame["household_index"].to_numpy(), 0)
    frame = frame.with_columns(
        pl.Series(
            "commune",
            np.where(in_residents, homes[household], rng.integers(0, n_communes, n)).astype(np.int64),
        ),
        # registered once the owner was 18
        pl.max_horizontal("registered_clean", pl.col("dob").dt.offset_by("18y")).alias("registered_clean"),
    )
    brand = (
        pl.when(pl.col("brand_style") == 0)
        .then(pl.col("given_name"))
        .when(pl.col("brand_style") == 1)
        .then(pl.concat_str("title", "given_name", separator=" "))
        .otherwise(pl.col("brand_word"))
    )
    frame = frame.with_columns(brand.alias("brand"))
    frame = frame.with_columns(
        pl.concat_str("shop_word", "brand", separator=" ").alias("business_name_clean"),
        pl.when(pl.col("personal_tax")).then(pl.col("cccd")).otherwise(pl.col("mst")).alias("tax_code_clean"),
        pl.when(pl.col("status_clean") == "closed")
        .then(pl.lit(datetime(as_of.year, as_of.month, as_of.day)) - pl.duration(days=pl.col("closed_days")))
        .alias("closed_at"),
        pl.lit(False).alias("is_branch"),
    )
    # Branch locations: 4% of the owners with an MST run a second shop under the MST's -001 suffix.
    branch_of = frame.filter(~pl.col("personal_tax")).sample(fraction=0.04, seed=int(rng.integers(1 << 31)))
    branches = branch_of.with_columns(
        pl.concat_str("mst", pl.lit("-001")).alias("tax_code_clean"),
        pl.concat_str("business_name_clean", pl.lit("2"), separator=" ").alias("business_name_clean"),
        pl.lit(True).alias("is_branch"),
        pl.lit("active").alias("status_clean"),
        pl.lit(None, dtype=pl.Datetime("us")).alias("closed_at"),
        ((pl.col("commune") + 7) % n_communes).alias("commune"),
        ((pl.col("locality") + 13) % 400).alias("locality"),
        pl.lit(1).alias("appearances").cast(frame.schema["appearances"]),
    )
    frame = pl.concat([frame, branches.select(frame.columns)])
    return frame.with_row_index("business_index").with_columns(
        pl.format("B{}", pl.col("business_index").cast(pl.String).str.zfill(6)).alias("entity")
    )


def _plan_files(rng: np.random.Generator, communes: pl.DataFrame) -> pl.DataFrame:
    """One register per old commune with businesses: its file, dialect and habits."""
    formats = _balanced_choice(rng, _available_formats(), communes.height)
    rows = []
    for i, commune in enumerate(communes.iter_rows(named=True)):  # a loop over files
        fmt = formats[i]
        unaccented = fmt not in ("csv-cp1258", "csv-tcvn3", "csv-vni") and rng.random() < 0.06
        fields = [f for f in HEADER_VARIANTS if f != "commune_code" or rng.random() < 0.4]
        fields = [f for f in fields if f != "record_id" or rng.random() < 0.9]
        headers = {}
        for f in fields:
            variants = [v for v in HEADER_VARIANTS[f] if not unaccented or v.isascii()] or [f.upper()]
            headers[f] = variants[int(rng.integers(0, len(variants)))]
        order = [fields[j] for j in rng.permutation(len(fields))]
        ext = {"xlsx": "xlsx", "json": "json"}.get(fmt, "csv")
        source_id = f"hkd_{commune['legacy_ward_code']}_{_slug(commune['legacy_ward_name'])}"
        rows.append(
            {
                "commune": commune["commune"],
                "source_id": source_id,
                "source_file": f"{source_id}.{ext}",
                "format": fmt,
                "encoding": export_encoding(fmt),
                "delimiter": (";" if fmt == "csv-utf8-semicolon" else ",") if ext == "csv" else None,
                "line_terminator": line_terminator(fmt),
                "columns": order,
                "headers": [headers[f] for f in order],
                "id_format": int(rng.integers(0, 3)),
                "id_offset": int(rng.integers(0, 5000)),
                "date_format": int(rng.choice(3, p=(0.6, 0.25, 0.15))),
                "updated_format": int(rng.integers(0, len(_UPDATED_FORMATS))),
                "status_vocabulary": int(rng.integers(0, len(STATUS_VOCABULARIES))),
                "line_style": int(rng.choice(3, p=(0.6, 0.25, 0.15))),  # code | code - name | name
                "address_form": int(rng.choice(3, p=(0.45, 0.25, 0.30))),  # old full | old abbreviated | new
                "excel_damaged": bool(ext != "json" and rng.random() < 0.3),
                "keeps_owner_id": bool(rng.random() < 0.85),
                "file_upper": bool(rng.random() < 0.08),
                "file_unaccented": bool(unaccented),
                "file_new_tone": bool(rng.random() < 0.3),
            }
        )
    return pl.DataFrame(rows)


def _records(
    rng: np.random.Generator, ref: ProvinceCommunes, businesses: pl.DataFrame, as_of: date
) -> tuple[pl.DataFrame, pl.DataFrame]:
    communes = ref.communes.with_row_index("commune").with_columns(pl.col("commune").cast(pl.Int64))
    home = businesses["commune"].to_numpy().astype(np.int64)
    alternates = _alternate_communes(rng, ref, home)
    appearances = businesses["appearances"].to_numpy()
    business = np.repeat(np.arange(businesses.height), appearances)
    slot = np.arange(len(business)) - np.repeat(np.cumsum(appearances) - appearances, appearances)
    commune = np.choose(slot, [home[business], alternates[business, 0], alternates[business, 1]])
    n = len(business)
    used = communes.filter(pl.col("commune").is_in(np.unique(commune).tolist()))
    files = _plan_files(rng, used).with_row_index("file_index")
    draws = {f"u_{k}": rng.random(n) for k in (
        "error", "upper", "typo", "shop_variant", "space", "nfd", "id_zero", "id_space", "tax_form", "sci",
        "phone_alt", "line_second", "order", "tone")}  # fmt: skip
    ints = {
        "error_kind": rng.integers(0, len(ERROR_KINDS), n),
        "variant": rng.integers(0, 6, n),
        "typo_kind": rng.integers(0, 3, n),
        "shop_pick": rng.integers(0, 4, n),
        "updated_days": rng.integers(1, 300, n),
        "before_close_days": rng.integers(10, 300, n),
        "after_close_days": rng.integers(10, 200, n),
        "stale_days": rng.integers(4 * 365, 8 * 365, n),
        "future_days": rng.integers(1, 900, n),
        "seconds": rng.integers(0, 86_400, n),
        "wrong_check": rng.integers(1, 10, n),
    }
    records = (
        pl.DataFrame(
            {"business_index": business.astype(np.int64), "slot": slot, "commune": commune.astype(np.int64)}
        )
        .with_columns(
            *[pl.Series(k, v) for k, v in draws.items()], *[pl.Series(k, v) for k, v in ints.items()]
        )
        .with_columns(
            pl.Series("typo_letter", np.array(list("aăâbcdđeêghiklmnoôơpqrstuưvxy"))[rng.integers(0, 29, n)])
        )
        .with_columns(pl.Series("bad_vsic", _invalid_vsic_codes(rng, n)))
        .join(
            businesses.with_columns(pl.col("business_index").cast(pl.Int64)), on="business_index", how="left"
        )
        .drop("commune_right", strict=False)
        .join(communes, on="commune", how="left")
        .join(files.drop("columns", "headers"), on="commune", how="left")
        .sort("file_index", "u_order")
        .with_columns((pl.int_range(pl.len()).over("file_index") + 1).alias("source_row"))
    )
    # The record that carries a closure is the business's first appearance; the others lag behind it.
    records = records.with_columns(
        ((pl.col("status_clean") == "closed") & (pl.col("slot") == 0)).alias("closing_record"),
        pl.when(pl.col("status_clean") == "closed")
        .then(pl.when(pl.col("slot") == 0).then(pl.lit("closed")).otherwise(pl.lit("active")))
        .otherwise(pl.col("status_clean"))
        .alias("status_shown_clean"),
    )
    records = _assign_errors(records)
    records = _render(records, ref, as_of)
    return records, files


def _assign_errors(records: pl.DataFrame) -> pl.DataFrame:
    drawn = pl.lit(pl.Series(ERROR_KINDS)).gather(pl.col("error_kind"))
    tax = pl.col("tax_code_clean")
    applicable = (
        pl.when(drawn == "mst_check_digit")
        .then(tax.str.len_chars() != 12)
        .when(drawn == "tax_code_digits_lost")
        .then((tax.str.len_chars() == 10) & ~tax.str.starts_with("0"))
        .when(drawn == "stale_record")
        .then(pl.col("status_shown_clean") == "active")
        .otherwise(True)
    )
    # closed_updated is rare by construction (closed businesses seen twice): give it its own draw.
    closed_dup = (pl.col("status_clean") == "closed") & (pl.col("slot") > 0) & (pl.col("u_error") < 0.5)
    return records.with_columns(
        pl.when(closed_dup)
        .then(pl.lit("closed_updated"))
        .when((pl.col("u_error") < ERROR_SHARE) & applicable & (drawn != "closed_updated"))
        .then(drawn)
        .alias("error")
    )


def _render(records: pl.DataFrame, ref: ProvinceCommunes, as_of: date) -> pl.DataFrame:
    """The raw strings each register holds, from the clean values, the file's habits, noise and the errors."""
    error = pl.col("error").fill_null("")
    unaccented, upper_file = pl.col("file_unaccented"), pl.col("file_upper")
    midnight = pl.lit(datetime(as_of.year, as_of.month, as_of.day))

    # --- business name: shop-word variants, capitals, typos, spaces, accents
    shop_shown = pl.col("shop_word")
    for word, vs in SHOP_VARIANTS.items():
        options = pl.lit(pl.Series(list(vs)))
        shop_shown = (
            pl.when((pl.col("shop_word") == word) & (pl.col("u_shop_variant") < 0.35))
            .then(options.gather(pl.col("shop_pick") % len(vs)))
            .otherwise(shop_shown)
        )
    records, shop_shown = _stage(records, shop_shown, "_shop_shown")
    # Some registers write the brand alone ("Lan" for "Tạp hóa Lan").
    brand_only = (pl.col("slot") > 0) & (pl.col("u_shop_variant") > 0.95)
    records = records.with_columns(
        pl.when(brand_only)
        .then(pl.col("business_name_clean").str.slice(pl.col("shop_word").str.len_chars() + 1))
        .otherwise(
            pl.concat_str(
                shop_shown, pl.col("business_name_clean").str.slice(pl.col("shop_word").str.len_chars())
            )
        )
        .alias("_bn")
    )
    bn = pl.col("_bn")
    records, bn = _stage(
        records,
        pl.when(pl.col("file_new_tone") | (pl.col("u_tone") < 0.05)).then(_new_tone(bn)).otherwise(bn),
        "_bn",
    )
    records, bn = _stage(
        records,
        pl.when(upper_file | (pl.col("u_upper") < 0.05)).then(bn.str.to_uppercase()).otherwise(bn),
        "_bn",
    )
    records, bn = _stage(records, pl.when(unaccented).then(_fold(bn)).otherwise(bn), "_bn")
    records, bn = _stage(
        records,
        pl.when(pl.col("u_space") < 0.03).then(bn.str.replace(" ", "  ", literal=True)).otherwise(bn),
        "_bn",
    )
    records, bn = _stage(
        records, pl.when(pl.col("u_nfd") < 0.02).then(bn.str.normalize("NFD")).otherwise(bn), "_bn"
    )
    missing_text = pl.lit(pl.Series(["", "?", "không rõ", "", "-", ""])).gather(pl.col("variant"))
    records = records.with_columns(
        pl.when(error == "missing_business_name").then(missing_text).otherwise(bn).alias("out_business_name")
    )

    # --- owner name
    on = pl.col("full_name")
    records, on = _stage(
        records,
        pl.when(pl.col("u_typo") < 0.02)
        .then(_typo(on, pl.col("typo_kind"), pl.col("u_sci"), pl.col("typo_letter")))
        .otherwise(on),
        "_on",
    )
    records, on = _stage(records, pl.when(pl.col("file_new_tone")).then(_new_tone(on)).otherwise(on), "_on")
    male = pl.col("cccd").str.slice(3, 1).cast(pl.Int32) % 2 == 0
    honorific = pl.when(male).then(pl.lit("Ông ")).otherwise(pl.lit("Bà "))
    records, on = _stage(
        records, pl.when(pl.col("u_tone") > 0.97).then(pl.concat_str(honorific, on)).otherwise(on), "_on"
    )
    records, on = _stage(
        records,
        pl.when(upper_file | (pl.col("u_upper") > 0.94)).then(on.str.to_uppercase()).otherwise(on),
        "_on",
    )
    records, on = _stage(records, pl.when(unaccented).then(_fold(on)).otherwise(on), "_on")
    records = records.with_columns(
        pl.when(error == "missing_owner_name").then(missing_text).otherwise(on).alias("out_owner_name")
    )

    # --- owner CCCD: lost zero in Excel-damaged files, grouped digits, or malformed (the error)
    cccd = pl.col("cccd")
    malformed = (
        pl.when(pl.col("variant") == 0)
        .then(cccd.str.slice(0, 11))
        .when(pl.col("variant") == 1)
        .then(pl.concat_str(cccd, pl.lit("7")))
        .when(pl.col("variant") == 2)
        .then(pl.concat_str(cccd.str.slice(0, 3), pl.lit("O"), cccd.str.slice(4)))
        .when(pl.col("variant") == 3)
        .then(pl.concat_str(pl.lit("099"), cccd.str.slice(3)))
        .when(pl.col("variant") == 4)
        .then(pl.concat_str(cccd.str.slice(0, 3), pl.lit("7"), cccd.str.slice(4)))
        .otherwise(pl.concat_str(pl.lit("1"), cccd.str.slice(1)))
    )
    shown_id = (
        pl.when(error == "owner_cccd_malformed")
        .then(malformed)
        .when(~pl.col("keeps_owner_id"))
        .then(pl.lit(""))
        .when(pl.col("excel_damaged") & (pl.col("u_id_zero") < 0.6))
        .then(cccd.str.strip_chars_start("0"))
        .when(pl.col("u_id_space") < 0.05)
        .then(
            pl.concat_str(
                cccd.str.slice(0, 3),
                cccd.str.slice(3, 3),
                cccd.str.slice(6, 3),
                cccd.str.slice(9),
                separator=" ",
            )
        )
        .otherwise(cccd)
    )
    records = records.with_columns(shown_id.alias("out_owner_citizen_id"))

    # --- tax code
    tax = pl.col("tax_code_clean")
    is_branch = tax.str.contains("-")
    base = tax.str.slice(0, 10)
    wrong = pl.concat_str(
        base.str.slice(0, 9),
        ((base.str.slice(9, 1).cast(pl.Int64) + pl.col("wrong_check")) % 10).cast(pl.String),
    )
    # A register that re-registered the business under its owner's personal id (since 1 July 2025) shows that.
    migrated = (
        (pl.col("slot") > 0)
        & ~pl.col("personal_tax")
        & ~is_branch
        & (pl.col("u_tax_form") > 0.92)
        & ~error.is_in(["mst_check_digit", "tax_code_digits_lost"])
    )
    records, tax_shown = _stage(
        records,
        pl.when(error == "mst_check_digit")
        .then(pl.concat_str(wrong, tax.str.slice(10)))
        .when(migrated)
        .then(pl.col("cccd"))
        .otherwise(tax),
        "_tax",
    )
    records = records.with_columns(pl.col("_tax").alias("tax_code_written"))
    digits_only = tax_shown.str.replace("-", "")
    formatted = (
        pl.when(is_branch & (pl.col("u_tax_form") < 0.3))
        .then(digits_only)
        .when(is_branch & (pl.col("u_tax_form") < 0.4))
        .then(tax_shown.str.replace("-", " - "))
        .when(pl.col("u_tax_form") < 0.04)
        .then(
            pl.concat_str(
                tax_shown.str.slice(0, 4), tax_shown.str.slice(4, 3), tax_shown.str.slice(7), separator="."
            )
        )
        .otherwise(tax_shown)
    )
    # Excel reads the code as a number: its leading zeros go, and some cells show it in scientific notation with
    # every digit (8.100233482E+09), or with too few (8,10E+09: the digits are lost, the injected error).
    excel = pl.col("excel_damaged") & ~is_branch
    # (a personal id of a 00x province would come out with 10 digits, an MST's length: that office typed it as text)
    number = (
        pl.when(tax_shown.str.starts_with("00"))
        .then(tax_shown)
        .otherwise(tax_shown.str.strip_chars_start("0"))
    )
    sci = pl.concat_str(
        number.str.slice(0, 1),
        pl.lit("."),
        number.str.slice(1),
        pl.lit("E+"),
        (number.str.len_chars() - 1).cast(pl.String),
    )
    records = records.with_columns(
        pl.when(error == "missing_tax_code")
        .then(pl.lit(""))
        .when(error == "tax_code_digits_lost")
        .then(
            pl.concat_str(tax_shown.str.slice(0, 1), pl.lit(","), tax_shown.str.slice(1, 2), pl.lit("E+09"))
        )
        .when(excel & (pl.col("u_sci") < 0.2))
        .then(sci)
        .when(excel)
        .then(number)
        .otherwise(formatted)
        .alias("out_tax_code")
    )

    # --- business line
    from sachsong.datasets.household_business.standardize import vsic_reference

    names_by_code = dict(vsic_reference().drop_nulls("name").select("code", "name").iter_rows())
    name = pl.col("vsic_clean").replace_strict(names_by_code, default=None, return_dtype=pl.String)
    code = pl.when(error == "vsic_invalid").then(pl.col("bad_vsic")).otherwise(pl.col("vsic_clean"))
    style = pl.col("line_style")
    line = (
        pl.when((style == 2) & name.is_not_null() & (error != "vsic_invalid"))
        .then(name)
        .when((style == 1) & name.is_not_null())
        .then(pl.concat_str(code, pl.lit(" - "), name))
        .otherwise(code)
    )
    records, line = _stage(records, line, "_line")
    records = records.with_columns(
        pl.when(pl.col("has_second") & (pl.col("vsic_second") != pl.col("vsic_clean")) & (style == 0))
        .then(pl.concat_str(line, pl.lit("; "), pl.col("vsic_second")))
        .otherwise(line)
        .alias("out_business_line")
    )

    # --- address: house or village, old ward/district/province or the new two-tier form
    loc = _locality(pl.col("legacy_ward_type"), pl.col("locality"))
    records, loc = _stage(records, loc, "_loc")
    province_short = pl.col("legacy_province_name").str.replace(r"^(Tỉnh|Thành phố) ", "")
    forms = [
        pl.concat_str(
            loc, "legacy_ward_name", "legacy_district_name", "legacy_province_name", separator=", "
        ),
        pl.concat_str(
            loc.str.replace("Tổ dân phố", "TDP", literal=True),
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
            province_short,
            separator=", ",
        ),
        pl.concat_str(loc, "ward_name", pl.lit(ref.province_name), separator=", "),
    ]
    address = (
        pl.when(pl.col("address_form") == 0)
        .then(forms[0])
        .when(pl.col("address_form") == 1)
        .then(forms[1])
        .otherwise(forms[2])
    )
    records, address = _stage(records, address, "_addr")
    records, address = _stage(records, pl.when(unaccented).then(_fold(address)).otherwise(address), "_addr")
    records = records.with_columns(
        pl.when(error == "missing_address").then(pl.lit("")).otherwise(address).alias("out_address"),
        pl.concat_str(loc, "ward_name", pl.lit(ref.province_name), separator=", ").alias("address_clean"),
    )

    # --- phone
    local = pl.col("phone_local")
    phone = (
        pl.when(pl.col("u_phone_alt") < 0.1)
        .then(pl.concat_str(pl.lit("+84"), local.str.slice(1)))
        .when(pl.col("u_phone_alt") < 0.18)
        .then(pl.concat_str(local.str.slice(0, 4), local.str.slice(4, 3), local.str.slice(7), separator="."))
        .when(pl.col("excel_damaged") & (pl.col("u_phone_alt") < 0.5))
        .then(local.str.slice(1))
        .otherwise(local)
    )
    bad_phone = (
        pl.when(pl.col("variant") % 2 == 0)
        .then(local.str.slice(0, 7))
        .otherwise(pl.concat_str(pl.lit("1"), local.str.slice(1)))
    )
    records = records.with_columns(
        pl.when(error == "invalid_phone").then(bad_phone).otherwise(phone).alias("out_phone"),
        pl.concat_str(pl.lit("+84"), local.str.slice(1)).alias("phone_clean"),
    )

    # --- registration date
    registered = (
        pl.when(error == "registered_future")
        .then(pl.lit(as_of) + pl.duration(days=pl.col("future_days")))
        .otherwise(pl.col("registered_clean"))
    )
    records, registered = _stage(records, registered.cast(pl.Date), "_reg")
    day, month, year = registered.dt.day(), registered.dt.month(), registered.dt.year()
    dd, mm = day.cast(pl.String).str.zfill(2), month.cast(pl.String).str.zfill(2)
    records = records.with_columns(
        pl.when(error == "registered_impossible_date")
        .then(
            pl.concat_str(
                pl.lit("31/"),
                pl.lit(pl.Series(["02", "04", "06", "09", "11", "02"])).gather(pl.col("variant")),
                pl.lit("/"),
                year.cast(pl.String),
            )
        )
        .when(pl.col("date_format") == 0)
        .then(pl.concat_str(dd, mm, year.cast(pl.String), separator="/"))
        .when(pl.col("date_format") == 1)
        .then(pl.concat_str(year.cast(pl.String), mm, dd, separator="-"))
        .otherwise(
            pl.concat_str(day.cast(pl.String), month.cast(pl.String), year.cast(pl.String), separator="/")
        )
        .alias("out_registered_on")
    )

    # --- status and update time (a closure is carried by one register; the others were updated before it)
    shown_status = (
        pl.when(error == "closed_updated").then(pl.lit("active")).otherwise(pl.col("status_shown_clean"))
    )
    vocab = pl.col("status_vocabulary")
    word = (
        pl.when(shown_status == "active")
        .then(pl.lit(pl.Series([v[0] for v in STATUS_VOCABULARIES])).gather(vocab))
        .when(shown_status == "suspended")
        .then(pl.lit(pl.Series([v[1] for v in STATUS_VOCABULARIES])).gather(vocab))
        .otherwise(pl.lit(pl.Series([v[2] for v in STATUS_VOCABULARIES])).gather(vocab))
    )
    seconds = pl.duration(seconds=pl.col("seconds"))
    updated = (
        pl.when(error == "stale_record")
        .then(midnight - pl.duration(days=pl.col("stale_days")) + seconds)
        .when(error == "closed_updated")
        .then(
            pl.min_horizontal(
                pl.col("closed_at") + pl.duration(days=pl.col("after_close_days")),
                midnight - pl.duration(days=1),
            )
            + seconds
        )
        .when(pl.col("closing_record"))
        .then(pl.col("closed_at") + seconds)
        .when(pl.col("status_clean") == "closed")
        .then(pl.col("closed_at") - pl.duration(days=pl.col("before_close_days")) + seconds)
        # each register's first record was touched the day before as_of: the nightly sync runs
        .when(pl.col("source_row") == 1)
        .then(midnight - pl.duration(days=1) + seconds)
        .otherwise(midnight - pl.duration(days=pl.col("updated_days")) + seconds)
    )
    records = records.with_columns(
        pl.when(unaccented).then(_fold(word)).otherwise(word).alias("out_status"),
        shown_status.alias("status_shown"),
        updated.alias("updated_at_clean"),
    )
    records = records.with_columns(
        pl.when(pl.col("updated_format") == 0)
        .then(pl.col("updated_at_clean").dt.strftime(_UPDATED_FORMATS[0]))
        .when(pl.col("updated_format") == 1)
        .then(pl.col("updated_at_clean").dt.strftime(_UPDATED_FORMATS[1]))
        .otherwise(pl.col("updated_at_clean").dt.strftime(_UPDATED_FORMATS[2]))
        .alias("out_updated_at"),
        pl.when(pl.col("u_phone_alt") < 0.85)
        .then(pl.col("legacy_ward_code"))
        .otherwise(pl.lit(""))
        .alias("out_commune_code"),
    )
    row = (pl.col("source_row") + pl.col("id_offset")).cast(pl.String)
    return records.with_columns(
        pl.when(pl.col("id_format") == 0)
        .then(pl.concat_str(pl.lit("HKD"), row.str.zfill(6)))
        .when(pl.col("id_format") == 1)
        .then(pl.concat_str(pl.col("legacy_ward_code"), pl.lit("-"), row.str.zfill(5)))
        .otherwise(row)
        .alias("out_record_id")
    )


def generate_household_business_demo(
    province: str = "44",
    businesses: int = 2000,
    seed: int = 7,
    as_of: date = DEFAULT_AS_OF,
    residents_persons: int = 5000,
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """(records, files, businesses) in memory. Owners come from the residents demo's people for the same
    province, seed and `residents_persons`; when it has too few adults, the rest are people from elsewhere."""
    if businesses < 1:
        raise ValueError(f"businesses must be at least 1, got {businesses}")
    ref = load_province_communes(province)
    persons = residents_persons
    # The residents demo draws its people from the first child of SeedSequence(seed): the same people here.
    people_rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(2)[0])
    households, people = _generate_people(people_rng, ref, persons, as_of)
    own_rng, outsider_rng = (
        np.random.default_rng(s) for s in np.random.SeedSequence([seed, 44_2025]).spawn(2)
    )
    _, outsiders = _generate_people(outsider_rng, ref, max(400, 2 * businesses), as_of)
    homes = households["home"].to_numpy()
    table = _businesses(own_rng, people, outsiders, homes, ref.communes.height, businesses, as_of)
    records, files = _records(own_rng, ref, table, as_of)
    return records, files, table


def write_household_business_demo(
    out_dir: Path,
    province: str = "44",
    businesses: int = 2000,
    seed: int = 7,
    as_of: date = DEFAULT_AS_OF,
    residents_persons: int = 5000,
) -> BusinessDemoSummary:
    """Write the registers (`out_dir/exports`) and their ground truth (`out_dir/truth`)."""
    out_dir = Path(out_dir)
    records, files, table = generate_household_business_demo(
        province, businesses, seed, as_of, residents_persons
    )
    _clear_previous(out_dir)
    exports, truth = out_dir / "exports", out_dir / "truth"
    exports.mkdir(parents=True, exist_ok=True)
    truth.mkdir(parents=True, exist_ok=True)
    by_file = records.partition_by("file_index", as_dict=True)
    entries = []
    for plan in files.iter_rows(named=True):  # a loop over files
        rows = by_file[(plan["file_index"],)].sort("source_row")
        frame = rows.select(
            pl.col(f"out_{f}").alias(h) for f, h in zip(plan["columns"], plan["headers"], strict=True)
        )
        _write_export(exports / plan["source_file"], frame, plan)
        entries.append(
            {
                "source_file": plan["source_file"],
                "source_id": plan["source_id"],
                "format": plan["format"],
                "encoding": plan["encoding"] if plan["format"] not in ("xlsx", "json") else None,
                "columns": dict(zip(plan["columns"], plan["headers"], strict=True)),
                "date_format": _DATE_FORMATS[plan["date_format"]],
                "status_words": list(STATUS_VOCABULARIES[plan["status_vocabulary"]]),
                "excel_damaged": plan["excel_damaged"],
                "unaccented": plan["file_unaccented"],
                "rows": rows.height,
            }
        )
    truth_records = records.sort("file_index", "source_row").select(
        "source_file",
        pl.col("source_row").cast(pl.Int64),
        pl.col("out_record_id").alias("record_id"),
        "source_id",
        "entity",
        pl.format("P{}", pl.col("owner_person_index").cast(pl.String).str.zfill(7)).alias("owner_person_id"),
        "owner_in_residents",
        "is_branch",
        pl.col("business_name_clean"),
        pl.col("full_name").alias("owner_name_clean"),
        pl.col("cccd").alias("owner_cccd_clean"),
        "tax_code_clean",
        "tax_code_written",
        "vsic_clean",
        "phone_clean",
        "address_clean",
        "ward_code",
        "registered_clean",
        pl.col("status_clean"),
        pl.col("status_shown"),
        "updated_at_clean",
        "error",
    )
    errors = truth_records.filter(pl.col("error").is_not_null()).select(
        "source_file", "source_row", pl.col("error").alias("kind")
    )
    truth_records.write_parquet(truth / "records.parquet")
    errors.write_parquet(truth / "errors.parquet")
    meta = {
        "dataset": "household_business",
        "province": province,
        "seed": seed,
        "as_of": as_of.isoformat(),
        "businesses": int(table.height),
        "records": truth_records.height,
        "error_counts": dict(errors.group_by("kind").len().sort("kind").iter_rows()),
        "error_rules": ERROR_RULES,
        "files": entries,
    }
    (truth / "meta.json").write_text(json.dumps(meta, ensure_ascii=False, indent=1), encoding="utf-8")
    return BusinessDemoSummary(
        businesses=int(table.height),
        records=truth_records.height,
        files=len(entries),
        errors=errors.height,
        province=province,
        paths={"root": out_dir, "exports": exports, "truth": truth},
    )

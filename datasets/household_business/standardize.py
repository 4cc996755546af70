"""Household businesses (hộ kinh doanh): canonical raw table → raw + the standardized columns of dataset.yaml.

Every row is kept, in order; raw columns are never changed; `row_uid` is the row's position. Text work runs once
per distinct value (registers repeat names, codes and statuses) and is joined back; nothing raises on a bad value:
it becomes a status (`tax_code_status`, `vsic_status`, …) and, for spreadsheet damage, a `repairs`/`flags` token.

Tax codes (mã số thuế) are read as the three forms registers hold:
- `mst10`: the 10-digit MST, the last digit a check digit over the first nine (python-stdnum's `stdnum.vn.mst`);
- `branch`: 13 digits, the owner's MST and a 3-digit location suffix, written `0101234567-001`;
- `personal_id`: since 1 July 2025 (Circular 86/2024/TT-BTC) a household business's tax code is its
  representative's 12-digit personal identification number.
Excel damage is undone where certain: a lost leading zero (9 digits → 10, 12 digits starting 1-9 → 13, 11 → a
12-digit personal id whose province and century digits exist), ".0", a scientific rendering with every digit.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from functools import cache
from pathlib import Path

import polars as pl
from stdnum import exceptions as stdnum_errors
from stdnum.vn import mst

from sachsong.standardize.dates import dob_columns, timestamp_columns
from sachsong.standardize.identity import cccd_province_codes, identity_columns
from sachsong.standardize.names import name_columns
from sachsong.standardize.phones import commune_code_columns, phone_columns
from sachsong.standardize.text import (
    clean_text,
    collect_tokens,
    empty_to_null,
    number_cell_columns,
    over_unique,
    place_tone_marks,
    text_key,
    title_case,
    tokens,
)

RAW_COLUMNS: tuple[str, ...] = (
    "record_id",
    "source_id",
    "business_name",
    "owner_name",
    "owner_citizen_id",
    "tax_code",
    "business_line",
    "address",
    "phone",
    "registered_on",
    "status",
    "commune_code",
    "updated_at",
)

# Standardized columns and their dtypes (dataset.yaml's `standardized:` declares the same, with their checks).
STANDARD_COLUMNS: dict[str, pl.DataType] = {
    "business_name_norm": pl.String(),
    "business_name_key": pl.String(),
    "business_brand_key": pl.String(),
    "owner_name_norm": pl.String(),
    "owner_name_key": pl.String(),
    "owner_family_name": pl.String(),
    "owner_middle_name": pl.String(),
    "owner_given_name": pl.String(),
    "owner_citizen_id_digits": pl.String(),
    "owner_cccd": pl.String(),
    "owner_cmnd": pl.String(),
    "owner_citizen_id_std": pl.String(),
    "owner_citizen_id_status": pl.String(),
    "tax_code_std": pl.String(),
    "tax_code_base": pl.String(),
    "tax_code_kind": pl.String(),
    "tax_code_status": pl.String(),
    "tax_code_mst": pl.String(),
    "tax_code_branch": pl.String(),
    "owner_id_key": pl.String(),
    "vsic_code": pl.String(),
    "vsic_codes": pl.List(pl.String()),
    "vsic_status": pl.String(),
    "phone_e164": pl.String(),
    "phone_status": pl.String(),
    "commune_code_std": pl.String(),
    "ward_code": pl.String(),
    "province_code": pl.String(),
    "address_status": pl.String(),
    "ward_candidates": pl.List(pl.String()),
    "registered_date": pl.Date(),
    "registered_status": pl.String(),
    "status_code": pl.String(),
    "updated_ts": pl.Datetime("us"),
    "repairs": pl.List(pl.String()),
    "flags": pl.List(pl.String()),
}

DATA_DIR = Path(__file__).parent / "data"

# Shop words as registers abbreviate them, folded (first word(s) of the name) → their folded full form.
_SHOP_ABBREVIATIONS: dict[str, str] = {
    "th": "tap hoa",
    "ch": "cua hang",
    "chth": "cua hang tap hoa",
    "hkd": "",
    "ho kd": "",
    "ho kinh doanh": "",
    "cs": "co so",
    "dl": "dai ly",
    "nn": "nha nghi",
    "cf": "ca phe",
    "cafe": "ca phe",
    "coffee": "ca phe",
    "caphe": "ca phe",
    "tiem tap hoa": "tap hoa",
    "cua hang tap hoa": "tap hoa",
    "quan ca phe": "ca phe",
}
# Generic shop words: dropped from the brand key ("Tạp hóa Lan" and "Cửa hàng Lan" share the brand "lan").
SHOP_WORDS: tuple[str, ...] = (
    "cua hang tap hoa", "tap hoa", "cua hang", "quan com", "quan an", "quan nhau", "quan bun", "quan pho",
    "quan ca phe", "ca phe", "giai khat", "tiem vang", "tiem may", "tiem toc", "tiem banh", "tiem", "salon toc",
    "salon", "karaoke", "nha nghi", "nha tro", "sua xe", "sua chua xe may", "dien thoai", "dien may", "vat lieu xay dung",
    "vlxd", "thuoc tay", "nha thuoc", "quay thuoc", "hieu thuoc", "photo", "my pham", "thoi trang", "shop", "quan",
    "co so", "dai ly", "xuong", "bach hoa", "hieu", "kinh doanh", "ban le", "ban buon",
)  # fmt: skip

# Folded status words → status_code. Order matters: "tạm ngừng" is a suspension before "ngừng" is a closure.
_SUSPENDED = r"(tam ngung|tam dung|tam nghi|suspend)"
_CLOSED = r"(ngung|da dong|dong cua|cham dut|giai the|thu hoi|chet|closed|^dong$|^0$|khong hoat dong)"
_ACTIVE = r"(hoat dong|dang kinh doanh|con kinh doanh|active|^dhd$|\bhd\b|^1$|binh thuong|\bkd\b)"

_TAX = "_tax_"
_VSIC = "_vsic_"


# --------------------------------------------------------------------------------------------- reference data
@cache
def vsic_reference() -> pl.DataFrame:
    """`data/vsic2018.csv`: level-5 codes (VSIC 2018 as read from the decision, and VSIC 2025), names where known."""
    with open(DATA_DIR / "vsic2018.csv", encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    return pl.DataFrame(
        {
            "code": [r["code"] for r in rows],
            "in_vsic2018": [r["in_vsic2018"] == "1" for r in rows],
            "in_vsic2025": [r["in_vsic2025"] == "1" for r in rows],
            "name": [r["name"] or None for r in rows],
        },
        schema={"code": pl.String, "in_vsic2018": pl.Boolean, "in_vsic2025": pl.Boolean, "name": pl.String},
    )


@cache
def vsic_codes() -> frozenset[str]:
    """Every level-5 code a register may carry (see data/PROVENANCE.md for what the list covers)."""
    return frozenset(vsic_reference().get_column("code").to_list())


@cache
def vsic_level4_codes() -> frozenset[str]:
    """4-digit codes that are the parent of a known level-5 code (registers also list level-4 lines)."""
    return frozenset(code[:4] for code in vsic_codes())


@cache
def _vsic_names() -> dict[str, str]:
    """Folded VSIC name → code, for business lines written as a name only."""
    ref = vsic_reference().drop_nulls("name")
    keys = ref.select(text_key(pl.col("name")).alias("key"), "code")
    return dict(zip(keys["key"].to_list(), keys["code"].to_list(), strict=True))


# ------------------------------------------------------------------------------------------------- business name
def _business_name_columns(frame: pl.DataFrame, column: str) -> pl.DataFrame:
    """Display form, matching key (shop-word abbreviations expanded) and brand key (shop words dropped)."""
    staged = frame.with_columns(clean_text(pl.col(column)).alias("_bn_clean"))
    staged = staged.with_columns(
        place_tone_marks(title_case(pl.col("_bn_clean"))).alias("business_name_norm"),
        text_key(pl.col("_bn_clean")).alias("_bn_key"),
    )
    # An abbreviated shop word opening the name, as a whole word, is expanded (longest first; one stage each:
    # nesting when/then on the same column grows the expression exponentially).
    for short, full in sorted(_SHOP_ABBREVIATIONS.items(), key=lambda item: -len(item[0])):
        key = pl.col("_bn_key")
        opens = key.str.starts_with(short + " ") | (key == short)
        staged = staged.with_columns(
            pl.when(opens)
            .then(pl.concat_str(pl.lit(full), key.str.slice(len(short))))
            .otherwise(key)
            .alias("_bn_key")
        )
    staged = staged.with_columns(
        empty_to_null(pl.col("_bn_key").str.strip_chars()).alias("business_name_key")
    )
    brand = pl.col("business_name_key")
    for word in sorted(SHOP_WORDS, key=len, reverse=True):
        brand = brand.str.replace(rf"^{word}\b\s*", "")
    junk = pl.col("business_name_key").is_in(
        ["khong ro", "khong co", "chua co", "na", "n a", "null", "none", "x"]
    )
    return staged.with_columns(
        business_name_norm=pl.when(junk | pl.col("business_name_key").is_null())
        .then(None)
        .otherwise(pl.col("business_name_norm")),
        business_name_key=pl.when(junk).then(None).otherwise(pl.col("business_name_key")),
        business_brand_key=pl.when(junk).then(None).otherwise(empty_to_null(brand.str.strip_chars())),
    ).drop("_bn_clean", "_bn_key")


# ----------------------------------------------------------------------------------------------------- owner
def _owner_name_columns(frame: pl.DataFrame, column: str) -> pl.DataFrame:
    named = name_columns(frame, column)
    return (
        named.rename(
            {
                "name_norm": "owner_name_norm",
                "name_key": "owner_name_key",
                "family_name": "owner_family_name",
                "middle_name": "owner_middle_name",
                "given_name": "owner_given_name",
            }
        )
        .with_columns(
            pl.col("_repairs_name").str.replace_all("name:", "owner_name:").alias("_repairs_owner_name"),
            pl.col("_flags_name").str.replace_all("name:", "owner_name:").alias("_flags_owner_name"),
        )
        .drop("honorific", "_repairs_name", "_flags_name")
    )


def _owner_id_columns(frame: pl.DataFrame, column: str) -> pl.DataFrame:
    ided = identity_columns(frame, column, dob_column=None, sex_column=None)
    known_province = pl.col("cccd_province_code").is_in(cccd_province_codes().implode())
    unknown_province = pl.col("cccd").is_not_null() & ~known_province
    return ided.select(
        column,
        pl.col("citizen_id_digits").alias("owner_citizen_id_digits"),
        pl.when(~unknown_province).then(pl.col("cccd")).alias("owner_cccd"),
        pl.col("cmnd").alias("owner_cmnd"),
        pl.when(~unknown_province).then(pl.coalesce("cccd", "cmnd")).alias("owner_citizen_id_std"),
        pl.when(unknown_province)
        .then(pl.lit("invalid"))
        .otherwise(pl.col("citizen_id_status"))
        .alias("owner_citizen_id_status"),
        pl.col("_repairs_citizen_id")
        .str.replace_all("citizen_id:", "owner_citizen_id:")
        .alias("_repairs_owner_citizen_id"),
        pl.concat_str(
            pl.col("_flags_citizen_id").str.replace_all("citizen_id:", "owner_citizen_id:"),
            pl.when(unknown_province).then(pl.lit("owner_citizen_id:province_code")),
            separator=",",
            ignore_nulls=True,
        )
        .replace("", None)
        .alias("_flags_owner_citizen_id"),
    )


# -------------------------------------------------------------------------------------------------- tax code
def _judge_mst(values: pl.Series) -> pl.Series:
    """stdnum's verdict per distinct 10- or 13-digit candidate: ok | invalid_check_digit | malformed."""
    verdicts: dict[str, str] = {}
    for value in values.drop_nulls().unique().to_list():  # once per distinct code
        try:
            mst.validate(value)
            verdicts[value] = "ok"
        except stdnum_errors.InvalidChecksum:
            verdicts[value] = "invalid_check_digit"
        except stdnum_errors.ValidationError:
            verdicts[value] = "malformed"
    return values.replace_strict(verdicts, default=None, return_dtype=pl.String)


def _tax_code_columns(frame: pl.DataFrame, column: str) -> pl.DataFrame:
    """tax_code_std / _base / _kind / _status and the `tax_code:` repair and flag tokens, per distinct value."""
    staged = number_cell_columns(
        frame, column, _TAX, label=r"(?i)^(?:mã số thuế|ma so thue|mst|mã số|ms)\s*[:.#]?\s*([0-9].*)$"
    )
    text = pl.col(f"{_TAX}text")
    staged = staged.with_columns(
        text.str.replace_all(r"[\s.,_/]+", "").alias(f"{_TAX}compact"),
    )
    compact = pl.col(f"{_TAX}compact")
    dashed = compact.str.contains(r"^[0-9]{10}-[0-9]{3}$")
    digits = (
        pl.when(compact.str.contains(r"^[0-9]+$"))
        .then(compact)
        .when(dashed)
        .then(compact.str.replace("-", ""))
    )
    staged = staged.with_columns(digits.alias(f"{_TAX}digits"))
    d = pl.col(f"{_TAX}digits")
    n = d.str.len_chars()
    lost_zero = d.str.contains(r"^[1-9]")
    # The candidate MST (10 or 13 digits) and whether a zero was restored to get it.
    staged = staged.with_columns(
        pl.when(n.is_in([10, 13]))
        .then(d)
        .when(lost_zero & (n == 9))
        .then(d.str.zfill(10))
        .when(lost_zero & (n == 12))
        .then(d.str.zfill(13))
        .alias(f"{_TAX}mst"),
        ((lost_zero & n.is_in([9, 12])).fill_null(False)).alias(f"{_TAX}zero"),
    )
    staged = staged.with_columns(
        pl.col(f"{_TAX}mst").map_batches(_judge_mst, return_dtype=pl.String).alias(f"{_TAX}verdict")
    )
    # A 12-digit personal id (a CCCD starts with its 0-led province code); 11 digits lost that zero.
    personal = (
        pl.when((n == 12) & d.str.starts_with("0")).then(d).when(lost_zero & (n == 11)).then(d.str.zfill(12))
    )
    staged = staged.with_columns(personal.alias(f"{_TAX}personal"))
    p = pl.col(f"{_TAX}personal")
    personal_ok = p.str.slice(0, 3).is_in(cccd_province_codes().implode()) & p.str.slice(3, 1).is_in(
        ["0", "1", "2", "3"]
    )
    verdict, candidate = pl.col(f"{_TAX}verdict"), pl.col(f"{_TAX}mst")
    # A 12-digit number starting 1-9 is a branch code that lost its zero when that reading checks out, else it is
    # not a personal id either (those start with 0): malformed.
    is_branch_fix = (n == 12) & lost_zero & (verdict == "ok")
    kind = (
        pl.when(n.is_in([10, 9]) & candidate.is_not_null())
        .then(pl.lit("mst10"))
        .when((n == 13) | is_branch_fix)
        .then(pl.lit("branch"))
        .when(p.is_not_null())
        .then(pl.lit("personal_id"))
    )
    staged = staged.with_columns(kind.alias("tax_code_kind"))
    k = pl.col("tax_code_kind")
    status = (
        pl.when(pl.col(f"{_TAX}missing"))
        .then(pl.lit("missing"))
        .when(pl.col(f"{_TAX}lost"))
        .then(pl.lit("digits_lost"))
        .when(k.is_in(["mst10", "branch"]))
        .then(verdict.fill_null("malformed"))
        .when(k == "personal_id")
        .then(pl.when(personal_ok).then(pl.lit("ok")).otherwise(pl.lit("malformed")))
        .otherwise(pl.lit("malformed"))
    )
    staged = staged.with_columns(status.alias("tax_code_status"))
    ok = pl.col("tax_code_status") == "ok"
    std = (
        pl.when(ok & (k == "mst10"))
        .then(candidate)
        .when(ok & (k == "branch"))
        .then(pl.concat_str(candidate.str.slice(0, 10), pl.lit("-"), candidate.str.slice(10)))
        .when(ok & (k == "personal_id"))
        .then(p)
    )
    staged = staged.with_columns(std.alias("tax_code_std"))
    staged = staged.with_columns(
        pl.col("tax_code_std")
        .str.slice(0, pl.when(k == "personal_id").then(12).otherwise(10))
        .alias("tax_code_base"),
        tokens(
            (pl.col(f"{_TAX}excel_number"), "tax_code:excel_number"),
            (pl.col(f"{_TAX}apostrophe"), "tax_code:apostrophe"),
            (pl.col(f"{_TAX}formula"), "tax_code:excel_formula"),
            (pl.col(f"{_TAX}label"), "tax_code:label"),
            (pl.col(f"{_TAX}fullwidth"), "tax_code:fullwidth"),
            (pl.col(f"{_TAX}invisible"), "tax_code:invisible_chars"),
            (ok & (pl.col(f"{_TAX}zero") | ((k == "personal_id") & (n == 11))), "tax_code:leading_zero"),
        ).alias("_repairs_tax_code"),
        tokens(
            (pl.col(f"{_TAX}lost"), "tax_code:excel_digits_lost"),
            (pl.col(f"{_TAX}zero") & ~ok, "tax_code:leading_zero_assumed"),
        ).alias("_flags_tax_code"),
    )
    return staged.select(
        column,
        "tax_code_std",
        "tax_code_base",
        "tax_code_kind",
        "tax_code_status",
        "_repairs_tax_code",
        "_flags_tax_code",
    )


# ---------------------------------------------------------------------------------------------- business line
def _vsic_columns(frame: pl.DataFrame, column: str) -> pl.DataFrame:
    """vsic_codes (every 4/5-digit code written), vsic_code (the first level-5 one, or one read from its name)
    and vsic_status: ok | missing | unknown (a code not in the reference, or a code-like token that is not 4-5
    digits: "47A10", "471100") | incomplete (only a level-4 group code: a register classifies at level 5) |
    name_only (a name not in our list)."""
    text = clean_text(pl.col(column)).str.replace(r"^([0-9]+)\.0+$", "${1}")
    staged = frame.with_columns(text.alias(f"{_VSIC}text"))
    codes = (
        pl.col(f"{_VSIC}text")
        .str.extract_all(r"(?:^|[^0-9])([0-9]{4,5})(?:[^0-9]|$)")
        .list.eval(pl.element().str.replace_all(r"[^0-9]", ""))
    )
    staged = staged.with_columns(codes.alias(f"{_VSIC}raw"))
    known5 = pl.lit(pl.Series(sorted(vsic_codes()), dtype=pl.String)).implode()
    known4 = pl.lit(pl.Series(sorted(vsic_level4_codes()), dtype=pl.String)).implode()
    # A code whose leading zero a spreadsheet dropped (01110 → 1110) is that code when only that reading exists.
    exploded = (
        staged.select(pl.col(column), pl.col(f"{_VSIC}raw").alias("_code"))
        .with_row_index("_i")
        .explode("_code")
        .with_columns(
            (
                (pl.col("_code").str.len_chars() == 4)
                & ~pl.col("_code").is_in(known4)
                & ("0" + pl.col("_code")).is_in(known5)
            )
            .fill_null(False)
            .alias("_padded")
        )
        .with_columns(
            pl.when(pl.col("_padded")).then("0" + pl.col("_code")).otherwise(pl.col("_code")).alias("_code")
        )
        .with_columns(
            (pl.col("_code").is_in(known5) | pl.col("_code").is_in(known4)).alias("_known"),
        )
        .group_by("_i", maintain_order=True)
        .agg(
            pl.col("_code").drop_nulls().alias("vsic_codes"),
            pl.col("_code")
            .filter(pl.col("_known") & (pl.col("_code").str.len_chars() == 5))
            .first()
            .alias("_first5"),
            (pl.col("_known").not_() & pl.col("_code").is_not_null()).any().alias("_unknown"),
            (pl.col("_known") & (pl.col("_code").str.len_chars() == 5)).any().alias("_has5"),
            pl.col("_padded").any().alias("_padded"),
        )
    )
    # explode drops rows whose list is empty: join the per-row results back by position.
    staged = (
        staged.with_row_index("_i")
        .join(exploded.drop(column, strict=False), on="_i", how="left", maintain_order="left")
        .with_columns(pl.col("_unknown", "_padded", "_has5").fill_null(False))
        .drop("_i")
    )
    # The text opens with a code-like token that is not a 4-5 digit code: a damaged or invented code, not a name.
    token = pl.col(f"{_VSIC}text").str.extract(r"^\s*([0-9][0-9A-Za-z]*)", 1)
    malformed = (token.str.len_chars() >= 3) & ~token.str.contains(r"^[0-9]{4,5}$")
    staged = staged.with_columns(malformed.fill_null(False).alias("_malformed"))
    # A business line written as a name only: its code when the name is one we list.
    name_key = text_key(pl.col(f"{_VSIC}text").str.replace_all(r"[0-9]", " "))
    names = _vsic_names()
    staged = staged.with_columns(
        name_key.replace_strict(names, default=None, return_dtype=pl.String).alias("_by_name")
    )
    has_codes = pl.col("vsic_codes").list.len() > 0
    status = (
        pl.when(pl.col(f"{_VSIC}text").is_null())
        .then(pl.lit("missing"))
        .when(pl.col("_unknown") | pl.col("_malformed"))
        .then(pl.lit("unknown"))
        .when(has_codes & ~pl.col("_has5"))
        .then(pl.lit("incomplete"))
        .when(has_codes)
        .then(pl.lit("ok"))
        .when(pl.col("_by_name").is_not_null())
        .then(pl.lit("ok"))
        .otherwise(pl.lit("name_only"))
    )
    return staged.select(
        column,
        pl.coalesce("_first5", "_by_name").alias("vsic_code"),
        pl.col("vsic_codes").fill_null(pl.lit([], dtype=pl.List(pl.String))),
        status.alias("vsic_status"),
        tokens((pl.col("_padded") & ~pl.col("_unknown"), "business_line:leading_zero")).alias(
            "_repairs_business_line"
        ),
    )


# ---------------------------------------------------------------------------------------------------- status
def _status_columns(frame: pl.DataFrame, column: str) -> pl.DataFrame:
    key = text_key(pl.col(column))
    return frame.with_columns(
        pl.when(key.is_null())
        .then(pl.lit("unknown"))
        .when(key.str.contains(_SUSPENDED))
        .then(pl.lit("suspended"))
        .when(key.str.contains(_CLOSED))
        .then(pl.lit("closed"))
        .when(key.str.contains(_ACTIVE))
        .then(pl.lit("active"))
        .otherwise(pl.lit("unknown"))
        .alias("status_code")
    )


def _ensure_raw(raw: pl.DataFrame) -> pl.DataFrame:
    """Every canonical raw column as String (missing ones null), then whatever else the input carried."""
    present = [
        pl.col(c).cast(pl.String) if c in raw.columns else pl.lit(None, dtype=pl.String).alias(c)
        for c in RAW_COLUMNS
    ]
    rest = [c for c in raw.columns if c not in RAW_COLUMNS and c not in STANDARD_COLUMNS and c != "row_uid"]
    return raw.select(*present, *rest)


def standardize_household_business(
    raw: pl.DataFrame, *, address_resolver: Callable[..., pl.DataFrame] | None = None
) -> pl.DataFrame:
    """Raw household-business records → the same rows in the same order plus `row_uid` and STANDARD_COLUMNS.

    `address_resolver` defaults to `sachsong.standardize.address.resolve_addresses` (same signature), so tests
    can run without the reference data.
    """
    base = _ensure_raw(raw)
    frame = base.with_columns(pl.int_range(pl.len(), dtype=pl.Int64).alias("row_uid"))

    frame = over_unique(frame, "business_name", _business_name_columns)
    frame = over_unique(frame, "owner_name", _owner_name_columns)
    frame = over_unique(frame, "owner_citizen_id", _owner_id_columns)
    frame = over_unique(frame, "tax_code", _tax_code_columns)
    frame = over_unique(frame, "business_line", _vsic_columns)
    frame = over_unique(frame, "phone", phone_columns)
    frame = over_unique(frame, "commune_code", commune_code_columns)
    frame = over_unique(frame, "status", _status_columns)
    frame = over_unique(frame, "updated_at", timestamp_columns)
    file_column = "source_file" if "source_file" in frame.columns else "source_id"
    frame = dob_columns(frame, "registered_on", file_column=file_column, reference_column=None)
    # An ambiguous update time is read in the file's date order, as the registration dates showed it.
    swap = (pl.col("dob_order") == "month_first") & pl.col("updated_ts_month_first").is_not_null()
    frame = frame.with_columns(
        updated_ts=pl.when(swap).then(pl.col("updated_ts_month_first")).otherwise(pl.col("updated_ts")),
        _repairs_updated_at=tokens((swap, "updated_at:month_first_file")),
        _repairs_dob=pl.col("_repairs_dob").str.replace_all("dob:", "registered_on:"),
        _flags_dob=pl.col("_flags_dob").str.replace_all("dob:", "registered_on:"),
    ).rename({"dob": "registered_date", "dob_status": "registered_status"})
    frame = frame.drop("updated_ts_month_first", "dob_precision", "dob_order")
    # Matching keys: the MST (10 or 10-3 digits) apart from a personal id used as tax code, and the owner's
    # identity from either column (a register that moved to personal-id tax codes may hold no CCCD column).
    frame = frame.with_columns(
        tax_code_mst=pl.when(pl.col("tax_code_kind").is_in(["mst10", "branch"])).then(pl.col("tax_code_std")),
        # the location under an MST: "000" for the business itself, its 3-digit suffix for a branch
        tax_code_branch=pl.when(pl.col("tax_code_kind") == "mst10")
        .then(pl.lit("000"))
        .when(pl.col("tax_code_kind") == "branch")
        .then(pl.col("tax_code_std").str.slice(11, 3)),
        owner_id_key=pl.coalesce(
            "owner_cccd",
            pl.when(pl.col("tax_code_kind") == "personal_id").then(pl.col("tax_code_std")),
            "owner_cmnd",
        ),
    )
    frame = collect_tokens(frame)

    if address_resolver is None:
        from sachsong.standardize.address import resolve_addresses

        address_resolver = resolve_addresses
    hint = pl.coalesce("commune_code_std", "commune_code").alias("commune_code")
    narrow = frame.select("row_uid", "address", hint)
    resolved = address_resolver(narrow, column="address", hint_column="commune_code")
    frame = frame.join(
        resolved.select("row_uid", "ward_code", "province_code", "address_status", "ward_candidates"),
        on="row_uid",
        how="left",
        maintain_order="left",
    )
    extra = [c for c in base.columns if c not in RAW_COLUMNS]
    standard = [pl.col(name).cast(dtype) for name, dtype in STANDARD_COLUMNS.items()]
    return frame.select(*RAW_COLUMNS, *extra, "row_uid", *standard)

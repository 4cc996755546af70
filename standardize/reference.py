"""Reference data for Vietnam's administrative units before and after the 1 July 2025 merger.

Built from the installed packages, never the network:
- `vietnamadminunits` (authoritative): the 10,040 legacy wards, the 3,321 new ones and the old→new mapping
  (its `data/dataset.db` and `data/converter_2025.json`);
- `vietnam-provinces`: the 3,321 new communes again, with its own codes. Where its code differs it is kept as
  `alias_code`, and every code or name disagreement between the two is listed in `Reference.disagreements`;
- the statistics office's official old→new crosswalk (`data/nso_crosswalk_2025.csv`, provenance in
  `data/README.md`), a third vote on the old→new mapping: vietnamadminunits lists a second, wrong new ward for
  some old wards whose name recurs in the merged province, and the crosswalk's notes ("Nhập toàn bộ" = merged
  whole, "Nhập một phần…" = divided) say which old wards were really split (see `_reconcile_mapping`).

Tables are polars DataFrames; see docs/ARCHITECTURE.md for the contract.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import metadata, resources

import polars as pl

from sachsong.adminunits import query_admin_units

# Folded (accentless, lower case, spaceless) type words of every admin-unit level, longest first so that a
# key like "thitranx" is recognised as typed before "thi" could be.
UNIT_TYPE_KEYS: tuple[str, ...] = (
    "thanhpho",
    "thitran",
    "dackhu",
    "phuong",
    "huyen",
    "thixa",
    "quan",
    "tinh",
    "xa",
)

# Everyday names and abbreviations of provinces that the package's keyword lists lack (folded, spaceless).
# An abbreviation shared by two provinces ("hg": Hà Giang, Hậu Giang) names both; the ward decides.
EXTRA_PROVINCE_KEYWORDS: dict[str, tuple[str, ...]] = {
    "hochiminh": ("tphcm", "hcmc", "saigon", "tpsaigon", "thanhphosaigon", "sg", "sgn", "tpsg"),
    "hanoi": ("tphn",),
    "thuathienhue": ("hue", "tth"),
    "bariavungtau": ("brvt", "bariavt"),
    "cantho": ("tpct",),
    "haugiang": ("hg",),
    "hagiang": ("hg",),
    "danang": ("dn", "tpdn"),
    "dongnai": ("dn",),
    "haiphong": ("hp", "tphp"),
    "binhduong": ("bd",),
}


def fold_expr(expr: pl.Expr) -> pl.Expr:
    """Fold Vietnamese text for matching: NFC, lower case, accents removed, đ→d (vectorized, no Python loop)."""
    return (
        expr.str.normalize("NFC")
        .str.to_lowercase()
        .str.normalize("NFD")
        .str.replace_all(r"\p{Mn}", "")
        .str.replace_all(r"[đð]", "d")
    )


def key_expr(expr: pl.Expr) -> pl.Expr:
    """Folded and spaceless: the form vietnamadminunits' keywords use ("Phường Phúc Xá" → "phuongphucxa")."""
    return fold_expr(expr).str.replace_all(r"[^a-z0-9]+", "")


@dataclass(frozen=True)
class Reference:
    """Reference tables (polars DataFrames); see docs/ARCHITECTURE.md for their columns."""

    provinces: pl.DataFrame
    new_wards: pl.DataFrame
    legacy_wards: pl.DataFrame
    legacy_to_new: pl.DataFrame
    disagreements: pl.DataFrame
    versions: dict[str, str]

    def describe(self) -> str:
        split = self.legacy_to_new.filter(pl.col("is_split"))["legacy_key"].n_unique()
        return (
            f"{self.legacy_wards.height} legacy wards, {self.new_wards.height} new wards in "
            f"{self.provinces.height} provinces, {split} legacy wards split between several new ones, "
            f"{self.disagreements.filter(pl.col('kind') != 'mapping').height} disagreements with "
            f"vietnam-provinces, {self.disagreements.filter(pl.col('kind') == 'mapping').height} old wards "
            "mapped differently by the statistics office's crosswalk"
        )


def _package_file(package: str, *parts: str):
    return resources.files(package).joinpath(*parts)


def _read_sqlite(table: str, columns: list[str]) -> pl.DataFrame:
    rows = query_admin_units(f"SELECT {', '.join(columns)} FROM {table}")
    return pl.DataFrame(rows, schema=dict.fromkeys(columns, pl.String), orient="row")


def _json_list(column: str) -> pl.Expr:
    return pl.col(column).fill_null("[]").str.json_decode(pl.List(pl.String))


def _build_provinces_and_new_wards(new_raw: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    new_wards = new_raw.select(
        ward_code=pl.col("wardCode"),
        ward_name=pl.col("ward"),
        ward_type=pl.col("wardType"),
        ward_short=pl.col("wardShort"),
        province_code=pl.col("provinceCode"),
        province_name=pl.col("province"),
        ward_key=pl.col("wardKey"),
        province_key=pl.col("provinceKey"),
        ward_keywords=_json_list("wardKeywords"),
    )
    provinces = (
        new_raw.group_by("provinceCode")
        .agg(
            pl.col("province").first(),
            pl.col("provinceShort").first(),
            pl.col("provinceKey").first(),
            _json_list("provinceKeywords").first(),
        )
        .select(
            province_code=pl.col("provinceCode"),
            province_name=pl.col("province"),
            province_short=pl.col("provinceShort"),
            province_key=pl.col("provinceKey"),
            province_keywords=pl.col("provinceKeywords"),
        )
        .sort("province_code")
    )
    return provinces, new_wards


def _build_legacy(legacy_raw: pl.DataFrame, province_map: pl.DataFrame) -> pl.DataFrame:
    legacy = legacy_raw.select(
        legacy_ward_code=pl.col("wardCode"),
        legacy_ward_name=pl.col("ward"),
        legacy_ward_type=pl.col("wardType"),
        legacy_district_code=pl.col("districtCode"),
        legacy_district_name=pl.col("district"),
        legacy_district_type=pl.col("districtType"),
        legacy_province_code=pl.col("provinceCode"),
        legacy_province_name=pl.col("province"),
        # The five island districts had no wards; their key ends in "_" (the converter's own convention).
        legacy_key=pl.concat_str(
            [pl.col("provinceKey"), pl.col("districtKey"), pl.col("wardKey").fill_null("")], separator="_"
        ),
        legacy_province_key=pl.col("provinceKey"),
        ward_keywords=_json_list("wardKeywords"),
        district_keywords=_json_list("districtKeywords"),
        province_keywords=_json_list("provinceKeywords"),
    )
    return legacy.join(province_map, on="legacy_province_key", how="left").with_columns(
        ward_name_key=key_expr(pl.col("legacy_ward_name")),
        district_name_key=key_expr(pl.col("legacy_district_name")),
        province_name_key=key_expr(pl.col("legacy_province_name")),
    )


def _build_mapping(converter: dict, new_wards: pl.DataFrame, provinces: pl.DataFrame) -> pl.DataFrame:
    merged_rows = [
        (new_province, new_ward, old_key, True)
        for new_province, wards in converter["DICT_PROVINCE_WARD_NO_DIVIDED"].items()
        for new_ward, old_keys in wards.items()
        for old_key in old_keys
    ]
    split_rows = [
        (new_province, entry["newWardKey"], old_key, bool(entry["isDefaultNewWard"]))
        for new_province, olds in converter["DICT_PROVINCE_WARD_DIVIDED"].items()
        for old_key, entries in olds.items()
        for entry in entries
    ]
    schema = {
        "province_key": pl.String,
        "ward_key": pl.String,
        "legacy_key": pl.String,
        "is_default": pl.Boolean,
    }
    mapping = pl.DataFrame(merged_rows + split_rows, schema=schema, orient="row")
    codes = new_wards.select("province_key", "ward_key", "ward_code")
    mapping = mapping.join(codes, on=["province_key", "ward_key"], how="left")
    missing = mapping.filter(pl.col("ward_code").is_null())
    if missing.height:
        raise ValueError(
            f"converter_2025.json names {missing.height} new wards absent from dataset.db, "
            f"e.g. {missing.row(0, named=True)}"
        )
    return mapping.with_columns(is_split=pl.len().over("legacy_key") > 1).select(
        "legacy_key", "ward_code", "is_default", "is_split"
    )


NSO_CROSSWALK = "nso_crosswalk_2025.csv"
# A crosswalk note saying only part of the old ward went into this new ward ("Nhập một phần", "Nhập một phần
# diện tích", "Phần còn lại sau khi tách…", "Đổi tên từ một phần…"); a few notes carry doubled spaces.
PARTIAL_NOTE = r"(?i)một\s+phần|phần\s+còn\s+lại"
_TYPE_WORDS = r"^(phuong|xa|thitran)"


def _read_nso_crosswalk() -> pl.DataFrame:
    """The statistics office's crosswalk, one row per (old ward, new ward): codes as 5 digits (the sheet lost
    leading zeros in places), the old ward's folded name without its type word, its district code, and whether
    the note says the old ward was divided.

    Three rows carry the code of a neighbour in the same district while naming another ward ("Xã Đặng Xá" under
    Cổ Bi's code): a row whose name is not its code's ward is moved to the one ward of the same district that
    has its name, when there is exactly one."""
    with resources.as_file(_package_file("sachsong.standardize", "data", NSO_CROSSWALK)) as path:
        raw = pl.read_csv(path, infer_schema=False)
    rows = raw.drop_nulls("old_ward_code").select(
        legacy_ward_code=pl.col("old_ward_code").str.strip_chars().str.zfill(5),
        ward_code=pl.col("new_ward_code").str.strip_chars().str.zfill(5),
        name_key=key_expr(pl.col("old_ward_name")).str.replace(_TYPE_WORDS, ""),
        district_code=pl.col("old_district").str.extract(r"\((\d+)\)\s*$"),
        partial=pl.col("note").fill_null("").str.normalize("NFC").str.contains(PARTIAL_NOTE),
    )
    return rows


def _rekey_nso(rows: pl.DataFrame, legacy: pl.DataFrame) -> pl.DataFrame:
    wards = legacy.drop_nulls("legacy_ward_code").select(
        "legacy_ward_code",
        district_code="legacy_district_code",
        name_key=pl.col("ward_name_key").str.replace(_TYPE_WORDS, ""),
    )
    own = rows.join(wards, on="legacy_ward_code", how="left", suffix="_own")
    misnamed = (pl.col("name_key") != pl.col("name_key_own")) & (
        pl.col("district_code") == pl.col("district_code_own")
    )
    unique_names = wards.filter(pl.len().over("district_code", "name_key") == 1).rename(
        {"legacy_ward_code": "named_code"}
    )
    return (
        own.with_row_index("_row")
        .join(unique_names, on=["district_code", "name_key"], how="left")
        .sort("_row")
        .select(
            legacy_ward_code=pl.when(misnamed & pl.col("named_code").is_not_null())
            .then(pl.col("named_code"))
            .otherwise(pl.col("legacy_ward_code")),
            ward_code="ward_code",
            partial="partial",
        )
    )


def _reconcile_mapping(vau: pl.DataFrame, nso: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The old→new mapping from two sources, where two votes outvote one.

    Whether an old ward was split gets three votes: vietnamadminunits lists several new wards; the crosswalk
    lists several; the crosswalk's note says it was divided. The candidates of a split ward are the crosswalk's
    when it lists several (vietnamadminunits' extras are wards where the name recurs in the merged province),
    else both lists together. An unsplit ward goes to the one new ward both list, else to the crosswalk's, else
    to vietnamadminunits'. The default candidate stays vietnamadminunits' where it is still a candidate.
    Returns the mapping (`legacy_key, ward_code, is_default, is_split`) and, per old ward where the two lists
    differ, what each source says and what was chosen."""
    ours = vau.group_by("legacy_key").agg(
        pl.col("legacy_ward_code").first(),
        vau_codes=pl.col("ward_code").unique().sort(),
        vau_default=pl.col("ward_code").filter(pl.col("is_default")).first(),
    )
    theirs = nso.group_by("legacy_ward_code").agg(
        nso_codes=pl.col("ward_code").unique().sort(), nso_partial=pl.col("partial").any()
    )
    votes = ours.join(theirs, on="legacy_ward_code", how="left").with_columns(
        pl.col("nso_codes").fill_null(pl.col("vau_codes")),
        pl.col("nso_partial").fill_null(pl.col("vau_codes").list.len() > 1),
    )
    vau_split = pl.col("vau_codes").list.len() > 1
    nso_split = pl.col("nso_codes").list.len() > 1
    both = pl.col("vau_codes").list.set_intersection(pl.col("nso_codes"))
    split = (vau_split.cast(pl.Int8) + nso_split.cast(pl.Int8) + pl.col("nso_partial").cast(pl.Int8)) >= 2
    chosen = (
        pl.when(split & nso_split)
        .then(pl.col("nso_codes"))
        .when(split)
        .then(pl.col("vau_codes").list.concat(pl.col("nso_codes")).list.unique().list.sort())
        .when(both.list.len() == 1)
        .then(both)
        .when(pl.col("nso_codes").list.len() == 1)
        .then(pl.col("nso_codes"))
        .otherwise(pl.concat_list("vau_default"))
    )
    votes = votes.with_columns(chosen=chosen, is_split=split)
    mapping = (
        votes.select("legacy_key", "vau_default", "is_split", ward_code="chosen")
        .explode("ward_code")
        .with_columns(
            is_default=pl.col("ward_code") == pl.col("vau_default"),
        )
    )
    # Where vietnamadminunits' default is no longer a candidate, the first candidate is the default.
    no_default = ~pl.col("is_default").any().over("legacy_key")
    first = pl.col("ward_code") == pl.col("ward_code").min().over("legacy_key")
    mapping = mapping.with_columns(is_default=pl.col("is_default") | (no_default & first)).select(
        "legacy_key", "ward_code", "is_default", "is_split"
    )
    differing = votes.filter(pl.col("vau_codes") != pl.col("nso_codes")).select(
        "legacy_key", "legacy_ward_code", "vau_codes", "nso_codes", "nso_partial", "chosen", "is_split"
    )
    return mapping, differing


def _mapping_disagreements(
    differing: pl.DataFrame, legacy: pl.DataFrame, new_wards: pl.DataFrame
) -> pl.DataFrame:
    """One row per old ward whose new wards differ between vietnamadminunits and the crosswalk, in the
    disagreements table (codes as space-separated text, so the table still writes to CSV)."""

    def codes(column: str) -> pl.Expr:
        return pl.col(column).list.join(" ")

    return (
        differing.join(
            legacy.select(
                "legacy_key", "legacy_ward_name", "legacy_district_name", province_code="new_province_code"
            ),
            on="legacy_key",
            how="left",
        )
        .join(
            new_wards.select("province_code", "province_name").unique("province_code"),
            on="province_code",
            how="left",
        )
        .select(
            kind=pl.lit("mapping"),
            province_code="province_code",
            province_name="province_name",
            legacy_ward_code="legacy_ward_code",
            legacy_ward_name=pl.col("legacy_ward_name") + ", " + pl.col("legacy_district_name"),
            vietnamadminunits_codes=codes("vau_codes"),
            nso_codes=codes("nso_codes"),
            nso_note=pl.when(pl.col("nso_partial")).then(pl.lit("divided")).otherwise(pl.lit("merged whole")),
            chosen_codes=codes("chosen"),
            chosen_split="is_split",
        )
        .sort("province_code", "legacy_ward_code")
    )


def _province_fold(expr: pl.Expr) -> pl.Expr:
    # The packages spell the same province "Thành phố Hồ Chí Minh" and "Tp Hồ Chí Minh".
    return key_expr(expr).str.replace(r"^(thanhpho|tinh|tp)", "")


def _build_disagreements(new_wards: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Pair each vietnamadminunits ward with a vietnam-provinces one (province + folded name, then code)."""
    flat_path = _package_file("vietnam_provinces", "data", "flat-divisions.json")
    flat = pl.DataFrame(json.loads(flat_path.read_text(encoding="utf-8")))
    other = flat.select(
        other_code=pl.col("code").cast(pl.String).str.zfill(5),
        other_name=pl.col("name"),
        other_province_name=pl.col("province_name"),
    ).with_columns(
        province_fold=_province_fold(pl.col("other_province_name")), name_fold=key_expr(pl.col("other_name"))
    )
    ours = new_wards.select("ward_code", "ward_name", "province_code", "province_name").with_columns(
        province_fold=_province_fold(pl.col("province_name")), name_fold=key_expr(pl.col("ward_name"))
    )
    by_name = ours.join(other, on=["province_fold", "name_fold"], how="inner").unique(
        subset="ward_code", keep="first"
    )
    by_name = by_name.filter(pl.col("other_code").is_unique())
    ours_left = ours.join(by_name.select("ward_code"), on="ward_code", how="anti")
    other_left = other.join(by_name.select("other_code"), on="other_code", how="anti")
    by_code = ours_left.join(
        other_left.drop("province_fold", "name_fold"), left_on="ward_code", right_on="other_code", how="inner"
    ).with_columns(other_code=pl.col("ward_code"))
    pairs = pl.concat(
        [
            by_name.select(
                "ward_code", "ward_name", "province_code", "province_name", "other_code", "other_name"
            ),
            by_code.select(
                "ward_code", "ward_name", "province_code", "province_name", "other_code", "other_name"
            ),
        ]
    )
    only_ours = ours.join(pairs.select("ward_code"), on="ward_code", how="anti")
    only_other = other.join(pairs.select("other_code"), on="other_code", how="anti")
    diff_columns = [
        "kind",
        "ward_code",
        "alias_code",
        "province_code",
        "province_name",
        "ward_name",
        "alias_name",
    ]
    code_differs = pl.col("ward_code") != pl.col("other_code")
    name_differs = pl.col("ward_name").str.normalize("NFC") != pl.col("other_name").str.normalize("NFC")
    paired_diff = pairs.filter(code_differs | name_differs).select(
        kind=pl.when(code_differs & name_differs)
        .then(pl.lit("code+name"))
        .when(code_differs)
        .then(pl.lit("code"))
        .otherwise(pl.lit("name")),
        ward_code="ward_code",
        alias_code="other_code",
        province_code="province_code",
        province_name="province_name",
        ward_name="ward_name",
        alias_name="other_name",
    )
    missing_other = only_ours.select(
        kind=pl.lit("missing_in_vietnam_provinces"),
        ward_code="ward_code",
        alias_code=pl.lit(None, pl.String),
        province_code="province_code",
        province_name="province_name",
        ward_name="ward_name",
        alias_name=pl.lit(None, pl.String),
    )
    missing_ours = only_other.select(
        kind=pl.lit("missing_in_vietnamadminunits"),
        ward_code=pl.lit(None, pl.String),
        alias_code="other_code",
        province_code=pl.lit(None, pl.String),
        province_name="other_province_name",
        ward_name=pl.lit(None, pl.String),
        alias_name="other_name",
    )
    disagreements = pl.concat([paired_diff, missing_other, missing_ours]).select(diff_columns)
    alias = pairs.filter(pl.col("ward_code") != pl.col("other_code")).select(
        "ward_code", alias_code="other_code"
    )
    return disagreements.sort("kind", "province_code", "ward_code", nulls_last=True), alias


def _versions() -> dict[str, str]:
    versions = {name: metadata.version(name) for name in ("vietnamadminunits", "vietnam-provinces")}
    versions["nso_crosswalk"] = NSO_CROSSWALK
    return versions


@lru_cache(maxsize=1)
def load_reference() -> Reference:
    """Build the reference tables from the installed packages (once per process; ~0.3 s)."""
    new_raw = _read_sqlite(
        "admin_units",
        [
            "province",
            "ward",
            "provinceShort",
            "wardShort",
            "wardType",
            "provinceCode",
            "wardCode",
            "provinceKey",
            "wardKey",
            "provinceKeywords",
            "wardKeywords",
        ],
    )
    legacy_raw = _read_sqlite(
        "admin_units_legacy",
        [
            "province",
            "district",
            "ward",
            "districtType",
            "wardType",
            "provinceCode",
            "districtCode",
            "wardCode",
            "provinceKey",
            "districtKey",
            "wardKey",
            "provinceKeywords",
            "districtKeywords",
            "wardKeywords",
        ],
    )
    converter_path = _package_file("vietnamadminunits", "data", "converter_2025.json")
    converter = json.loads(converter_path.read_text(encoding="utf-8"))

    provinces, new_wards = _build_provinces_and_new_wards(new_raw)
    province_map = pl.DataFrame(
        [
            (old_key, new_key)
            for new_key, old_keys in converter["DICT_PROVINCE"].items()
            for old_key in old_keys
        ],
        schema={"legacy_province_key": pl.String, "province_key": pl.String},
        orient="row",
    ).join(provinces.select("province_key", new_province_code="province_code"), on="province_key")
    legacy = _build_legacy(legacy_raw, province_map.drop("province_key"))
    by_package = _build_mapping(converter, new_wards, provinces).join(
        legacy.select("legacy_key", "legacy_ward_code"), on="legacy_key", how="left"
    )
    nso = _rekey_nso(_read_nso_crosswalk(), legacy)
    mapping, differing = _reconcile_mapping(by_package, nso)
    legacy_to_new = mapping.join(
        legacy.select("legacy_key", "legacy_ward_code"), on="legacy_key", how="left"
    ).select("legacy_key", "legacy_ward_code", "ward_code", "is_default", "is_split")
    disagreements, alias = _build_disagreements(new_wards)
    disagreements = pl.concat(
        [disagreements, _mapping_disagreements(differing, legacy, new_wards)], how="diagonal"
    )
    new_wards = new_wards.join(alias, on="ward_code", how="left")
    return Reference(
        provinces=provinces,
        new_wards=new_wards,
        legacy_wards=legacy,
        legacy_to_new=legacy_to_new,
        disagreements=disagreements,
        versions=_versions(),
    )


def reference_diff() -> pl.DataFrame:
    """Every code or name on which vietnamadminunits and vietnam-provinces disagree (`sachsong reference diff`)."""
    return load_reference().disagreements

"""The demo province generator: realistic people, every dialect really written, truth that matches the files."""

from __future__ import annotations

import csv
import io
import json
import unicodedata
from datetime import date
from pathlib import Path

import numpy as np
import openpyxl
import polars as pl
import pytest

from sachsong.demo import residents as demo
from sachsong.demo.residents import (
    DEFECT_KINDS,
    generate_demo,
    load_province_communes,
    truth_records,
    write_demo,
)

AS_OF = date(2026, 11, 1)
MISSING_NAMES = {"", "?", "không rõ", "khong ro"}


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("demo")
    write_demo(root, persons=300, seed=11)
    return root


@pytest.fixture(scope="module")
def meta(written: Path) -> dict:
    return json.loads((written / "truth" / "meta.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def truth(written: Path) -> pl.DataFrame:
    return pl.read_parquet(written / "truth" / "records.parquet")


@pytest.fixture(scope="module")
def big() -> demo.DemoData:
    return generate_demo(persons=5000, seed=3)


@pytest.fixture(scope="module")
def big_truth(big: demo.DemoData) -> pl.DataFrame:
    return truth_records(big)


def _read_rows(path: Path, entry: dict) -> list[dict[str, str | None]]:
    """Parse one export independently of the ingest room: header → value per data row."""
    if entry["format"] == "xlsx":
        sheet = openpyxl.load_workbook(path, read_only=True).active
        rows = list(sheet.iter_rows(values_only=True))
        return [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]
    if entry["format"] == "json":
        return json.loads(path.read_text(encoding="utf-8"))
    data = path.read_bytes()
    if entry["encoding"] in ("tcvn3", "vni"):
        from sachsong.sources.legacy_fonts import decode_as

        text = decode_as(data, entry["encoding"])
    else:
        text = data.decode(entry["encoding"])
    return list(csv.DictReader(io.StringIO(text, newline=""), delimiter=entry["delimiter"]))


def _nfc(value: str | None) -> str:
    return unicodedata.normalize("NFC", value or "")


# --- reference data ------------------------------------------------------------------------------------------


def test_province_44_merges_quang_binh_and_quang_tri() -> None:
    ref = load_province_communes("44")
    communes = ref.communes
    assert ref.province_name == "Tỉnh Quảng Trị"
    assert set(communes["legacy_province_code"]) == {"44", "45"}
    assert communes.height > 250  # old communes of both provinces
    assert communes["ward_code"].n_unique() < communes.height / 2  # several old communes per new ward
    dong_phu = communes.filter(pl.col("legacy_ward_code") == "18856").row(0, named=True)
    assert dong_phu["legacy_ward_name"] == "Phường Đồng Phú"
    assert dong_phu["legacy_district_name"] == "Thành phố Đồng Hới"
    assert dong_phu["ward_name"] == "Phường Đồng Hới"


def test_split_wards_carry_their_candidates() -> None:
    communes = load_province_communes("01").communes  # Hà Nội has old wards split between new ones
    split = communes.filter(pl.col("is_split"))
    assert split.height > 0
    assert all(row["ward_code"] in row["ward_candidates"] for row in split.iter_rows(named=True))
    assert split["ward_candidates"].list.len().min() >= 2
    assert (
        communes.filter(~pl.col("is_split"))["ward_candidates"].null_count() == communes.height - split.height
    )


def test_unknown_province_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="unknown new province code '99'"):
        load_province_communes("99")


# --- people --------------------------------------------------------------------------------------------------


def test_family_name_shares_are_realistic(big: demo.DemoData) -> None:
    shares = big.people["family_name"].value_counts(normalize=True, name="share")
    share = dict(zip(shares["family_name"], shares["share"], strict=True))
    assert 0.33 < share["Nguyễn"] < 0.45
    assert 0.08 < share["Trần"] < 0.15
    assert 0.06 < share["Lê"] < 0.13
    assert 0.04 < share["Phạm"] < 0.10
    assert share["Nguyễn"] > share["Trần"] > share.get("Đỗ", 0)
    assert len(share) > 30  # a long tail


def test_compound_royal_family_names_follow_sex() -> None:
    rng = np.random.default_rng(5)
    _, people = demo._generate_people(rng, load_province_communes("44"), 30_000, AS_OF)
    royal = people.filter(pl.col("family_name").is_in(["Tôn Nữ", "Tôn Thất"]))
    assert royal.height > 0
    assert (royal.filter(pl.col("family_name") == "Tôn Nữ")["sex"] == "F").all()
    assert (royal.filter(pl.col("family_name") == "Tôn Thất")["sex"] == "M").all()


def test_ages_follow_a_population_pyramid(big: demo.DemoData) -> None:
    age = (AS_OF - big.people["dob"]).dt.total_days() / 365.2425
    assert age.min() >= 0 and age.max() < 96
    children = (age < 15).mean()
    elderly = (age >= 60).mean()
    assert 0.12 < children < 0.35
    assert 0.06 < elderly < 0.30


def test_middle_names_depend_on_sex(big: demo.DemoData) -> None:
    people = big.people
    men = people.filter(pl.col("sex") == "M")["middle_name"].drop_nulls()
    women = people.filter(pl.col("sex") == "F")["middle_name"].drop_nulls()
    assert (men.str.starts_with("Văn")).mean() > 0.2
    assert (women.str.starts_with("Thị")).mean() > 0.2
    assert not women.str.starts_with("Văn").any()
    assert not men.str.starts_with("Thị").any()
    assert people["middle_name"].null_count() > 0  # some people have no middle name
    assert people["middle_name"].str.contains(" ").any()  # some have two middle syllables


def test_households_share_address_and_mostly_family_name(written: Path) -> None:
    persons = pl.read_parquet(written / "truth" / "persons.parquet")
    per_household = persons.group_by("household_id").agg(
        pl.col("address_clean").n_unique().alias("addresses"),
        pl.col("home_legacy_ward_code").n_unique().alias("communes"),
        pl.len().alias("size"),
        (pl.col("family_name").value_counts(sort=True).first().struct.field("count") / pl.len()).alias(
            "top_share"
        ),
    )
    assert (per_household["addresses"] == 1).all()
    assert (per_household["communes"] == 1).all()
    assert per_household["size"].max() <= 6 and per_household["size"].min() >= 1
    larger = per_household.filter(pl.col("size") >= 3)
    assert (larger["top_share"] >= 0.5).mean() > 0.9


def test_twins_share_date_of_birth_but_not_given_name(big: demo.DemoData) -> None:
    people = big.people.sort("person_index")
    second = people.filter(pl.col("is_second_twin"))
    assert 0.004 < second.height / big.households.height < 0.02  # ~1% of households
    first = people[second["person_index"].to_numpy() - 1]
    assert (first["household_index"] == second["household_index"]).all()
    assert (first["dob"] == second["dob"]).all()
    assert (first["given_name"] != second["given_name"]).all()
    assert (first["family_name"] == second["family_name"]).all()


def test_citizen_ids_are_unique_and_consistent(big: demo.DemoData) -> None:
    people = big.people
    cccd = people["cccd"].drop_nulls()
    assert cccd.n_unique() == cccd.len()
    assert cccd.str.contains(r"^\d{12}$").all()
    with_id = people.filter(pl.col("cccd").is_not_null())
    digit = with_id["cccd"].str.slice(3, 1).cast(pl.Int64)
    year = with_id["dob"].dt.year()
    assert ((digit % 2 == 0) == (with_id["sex"] == "M")).all()
    assert ((digit >= 2) == (year >= 2000)).all()
    assert (with_id["cccd"].str.slice(4, 2).cast(pl.Int64) == year % 100).all()
    assert (with_id["cccd"].str.slice(0, 3).is_in(["044", "045"])).mean() > 0.85
    only_cmnd = people.filter(pl.col("cccd").is_null())
    assert only_cmnd.height > 0 and only_cmnd["cmnd"].str.contains(r"^\d{9}$").all()
    assert ((AS_OF - only_cmnd["dob"]).dt.total_days() > 59 * 365).all()


# --- records ---------------------------------------------------------------------------------------------------


def test_people_appear_in_one_to_three_old_systems(big: demo.DemoData, big_truth: pl.DataFrame) -> None:
    per_person = big_truth.group_by("person_id").agg(
        pl.len().alias("records"), pl.col("source_id").n_unique().alias("systems")
    )
    shares = per_person["records"].value_counts(normalize=True).sort("records")
    assert shares["records"].to_list() == [1, 2, 3]
    assert shares["proportion"].to_list() == pytest.approx([0.65, 0.28, 0.07], abs=0.03)
    assert (per_person["records"] == per_person["systems"]).all()  # never twice in one system
    # the overlap comes from the merger: other systems mostly belong to the same new ward
    multi = big_truth.join(per_person.filter(pl.col("records") > 1), on="person_id")
    same_ward = multi.group_by("person_id").agg(pl.col("ward_code").n_unique() == 1)
    assert same_ward["ward_code"].mean() > 0.6


def test_defect_kinds_are_all_present_at_the_intended_share(big_truth: pl.DataFrame) -> None:
    injected = big_truth["injected_defect"].drop_nulls()
    assert set(injected) == set(DEFECT_KINDS)
    assert 0.06 < injected.len() / big_truth.height < 0.10
    assert (big_truth.filter(pl.col("injected_defect").is_null())["defects"].list.len() == 0).all()


def _parse_dates(raw: pl.Expr) -> pl.Expr:
    dmy = raw.str.extract_groups(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")
    iso = raw.str.extract_groups(r"^(\d{4})-(\d{2})-(\d{2})$")
    as_iso = pl.coalesce(
        pl.concat_str(dmy.struct[2], dmy.struct[1].str.zfill(2), dmy.struct[0].str.zfill(2), separator="-"),
        pl.concat_str(iso.struct[0], iso.struct[1], iso.struct[2], separator="-"),
    )
    return as_iso.str.to_date("%Y-%m-%d", strict=False)


def _with_parsed(frame: pl.DataFrame, known_codes: frozenset[str]) -> pl.DataFrame:
    digits = pl.col("raw_citizen_id").str.replace_all(r"[ .]", "")
    phone = pl.col("raw_phone").str.replace_all(r"[ .]", "")
    return frame.with_columns(
        _parse_dates(pl.col("raw_date_of_birth")).alias("dob_parsed"),
        pl.col("raw_date_of_birth").str.contains(r"^\d{4}$").alias("dob_year_only"),
        digits.alias("id_digits"),
        (
            phone.str.contains(r"^0[35789]\d{8}$")
            | phone.str.contains(r"^(\+84|84)[35789]\d{8}$")
            | phone.str.contains(r"^01[2689]\d{8}$")
        ).alias("phone_ok"),
        pl.col("raw_commune_code").is_in(sorted(known_codes)).alias("code_known"),
        (pl.lit(AS_OF).cast(pl.Datetime("us")) - pl.col("updated_at_clean"))
        .dt.total_days()
        .alias("age_days"),
    )


def test_clean_records_are_really_clean(big: demo.DemoData, big_truth: pl.DataFrame) -> None:
    clean = _with_parsed(big_truth.filter(pl.col("defects").list.len() == 0), big.province.known_ward_codes)
    assert (~clean["raw_full_name"].str.strip_chars().is_in(sorted(MISSING_NAMES))).all()
    assert (clean["raw_sex"] != "").all()
    # dates: parse to the true date of birth unless the only noise is year-only or a day/month swap
    exact = clean.filter(~pl.col("noise").list.contains("dob_day_month_swapped") & ~pl.col("dob_year_only"))
    assert (exact["dob_parsed"] == exact["dob_clean"]).all()
    year_only = clean.filter(pl.col("dob_year_only"))
    assert (year_only["raw_date_of_birth"].cast(pl.Int64) == year_only["dob_clean"].dt.year()).all()
    swapped = clean.filter(pl.col("noise").list.contains("dob_day_month_swapped"))
    assert swapped.height > 0 and swapped["dob_parsed"].is_not_null().all()
    # identity numbers agree with sex and date of birth
    cccd = clean.filter(pl.col("id_shown") == "cccd")
    assert cccd["id_digits"].str.contains(r"^\d{12}$").all()
    assert (cccd["id_digits"] == cccd["cccd_clean"]).all()
    digit = cccd["id_digits"].str.slice(3, 1).cast(pl.Int64)
    assert ((digit % 2 == 0) == (cccd["sex_clean"] == "M")).all()
    assert (cccd["id_digits"].str.slice(4, 2).cast(pl.Int64) == cccd["dob_clean"].dt.year() % 100).all()
    cmnd = clean.filter(pl.col("id_shown") == "cmnd")
    assert cmnd.height > 0 and (cmnd["id_digits"] == cmnd["cmnd_clean"]).all()
    assert clean["phone_ok"].all()
    assert clean["phone_clean"].str.contains(r"^\+84[35789]\d{8}$").all()
    with_code = clean.filter(pl.col("raw_commune_code").fill_null("") != "")
    assert (with_code["raw_commune_code"] == with_code["legacy_ward_code"]).all()
    assert clean["age_days"].min() >= 0 and clean["age_days"].max() <= 300


def test_each_defect_really_breaks_its_rule(big: demo.DemoData, big_truth: pl.DataFrame) -> None:
    records = _with_parsed(
        big_truth.filter(pl.col("injected_defect").is_not_null()), big.province.known_ward_codes
    )

    def of(kind: str) -> pl.DataFrame:
        rows = records.filter(pl.col("injected_defect") == kind)
        assert rows.height > 0, kind
        return rows

    assert (of("bad_cccd_length")["id_digits"].str.len_chars() != 12).all()
    mismatch = of("cccd_sex_mismatch")
    assert (
        (mismatch["id_digits"].str.slice(3, 1).cast(pl.Int64) % 2 == 0) != (mismatch["sex_clean"] == "M")
    ).all()
    year = of("cccd_year_mismatch")
    assert (year["id_digits"].str.slice(4, 2).cast(pl.Int64) != year["dob_clean"].dt.year() % 100).all()
    assert (of("future_dob")["dob_parsed"] > AS_OF).all()
    impossible = of("impossible_date")
    assert impossible["dob_parsed"].is_null().all() and (impossible["raw_date_of_birth"] != "").all()
    assert ((AS_OF - of("age_over_120")["dob_parsed"]).dt.total_days() > 120 * 365).all()
    assert of("missing_name")["raw_full_name"].is_in(sorted(MISSING_NAMES)).all()
    assert (of("missing_dob")["raw_date_of_birth"] == "").all()
    assert (of("missing_sex")["raw_sex"] == "").all()
    unknown = of("unknown_commune_code")
    assert (~unknown["code_known"]).all() and unknown["raw_commune_code"].str.contains(r"^\d{5}$").all()
    assert (~of("invalid_phone")["phone_ok"]).all()
    assert (of("stale_record")["age_days"] > 365).all()
    assert (of("future_updated_at")["age_days"] < 0).all()


def test_noise_of_real_registers_is_present(big_truth: pl.DataFrame) -> None:
    noise = set(big_truth["noise"].explode().drop_nulls())
    expected = {
        "name_new_tone", "name_i_y", "name_typo", "name_no_middle", "name_upper", "name_unaccented",
        "name_extra_space", "name_nfd", "dob_year_only", "dob_day_month_swapped", "dob_other_format",
        "cmnd_instead_of_cccd", "id_spaced", "id_dotted", "phone_changed_number", "phone_old_11_digit",
        "phone_other_format",
    }  # fmt: skip
    assert expected <= noise
    plain = ~pl.col("noise").list.contains("name_unaccented") & ~pl.col("noise").list.contains("name_nfd")
    new_tone = big_truth.filter(pl.col("noise").list.contains("name_new_tone") & plain)
    assert new_tone["raw_full_name"].str.contains("(?i)oà|oá|oả|oã|oạ|oè|oé|oẻ|oẽ|oẹ|uỳ|uý|uỷ|uỹ|uỵ").all()
    i_y = big_truth.filter(pl.col("noise").list.contains("name_i_y") & plain)
    assert i_y["raw_full_name"].str.contains("(?i)[bcdđghklmnpqrstvx][iíìỉĩị]\\b").all()
    nfd = big_truth.filter(pl.col("noise").list.contains("name_nfd"))
    assert (nfd["raw_full_name"] != nfd["raw_full_name"].str.normalize("NFC")).any()
    forms = set(big_truth["address_form"])
    assert forms == {"old_full", "old_abbreviated", "old_unaccented", "ward_district", "new_two_tier"}
    abbreviated = big_truth.filter(pl.col("address_form") == "old_abbreviated")["raw_address"]
    assert abbreviated.str.contains(r"\b(X|P|TT)\. .*, (H|TX|TP)\. ").mean() > 0.8


def test_same_person_may_differ_across_systems(big_truth: pl.DataFrame) -> None:
    multi = big_truth.filter(pl.len().over("person_id") > 1)
    differing = multi.group_by("person_id").agg(
        pl.col("raw_phone").n_unique().alias("phones"), pl.col("raw_address").n_unique().alias("addresses")
    )
    assert (differing["addresses"] > 1).mean() > 0.9
    changed = big_truth.filter(pl.col("noise").list.contains("phone_changed_number"))
    assert changed.height > 0
    persons = big_truth.group_by("person_id").agg(pl.col("phone_clean").n_unique())
    assert (persons["phone_clean"] > 1).sum() >= changed["person_id"].n_unique()


# --- files -----------------------------------------------------------------------------------------------------


def test_every_dialect_is_written(written: Path, meta: dict) -> None:
    formats = {entry["format"] for entry in meta["files"]}
    assert {"csv-utf8", "csv-utf8-semicolon", "csv-utf8-bom", "csv-cp1258", "xlsx", "json"} <= formats
    for entry in meta["files"]:
        data = (written / "exports" / entry["source_file"]).read_bytes()
        if entry["format"] == "csv-utf8-bom":
            assert data.startswith(b"\xef\xbb\xbf"), entry["source_file"]
            assert b"\r\n" in data
        elif entry["format"] in ("csv-utf8", "csv-utf8-semicolon", "json"):
            assert not data.startswith(b"\xef\xbb\xbf")
            data.decode("utf-8")
        if entry["format"] == "csv-cp1258":
            with pytest.raises(UnicodeDecodeError):
                data.decode("utf-8")  # really Windows-1258 bytes, not UTF-8
            assert _nfc(data.decode("cp1258")).count("\n") == entry["rows"] + 1
        if entry["format"] == "csv-utf8-semicolon":
            assert data.splitlines()[0].count(b";") == len(entry["columns"]) - 1
    headers = [h for entry in meta["files"] for h in entry["columns"].values()]
    assert {"Họ và tên", "HO_TEN", "ho ten", "Họ tên"} & set(headers)
    assert sum(1 for entry in meta["files"] if "record_id" not in entry["columns"]) > 0


def test_files_hold_exactly_the_truth_rows(written: Path, meta: dict, truth: pl.DataFrame) -> None:
    assert truth.height == meta["records"] == sum(entry["rows"] for entry in meta["files"])
    assert truth.select("source_file", "source_row").is_unique().all()
    by_file = truth.partition_by("source_file", as_dict=True)
    for entry in meta["files"]:
        rows = _read_rows(written / "exports" / entry["source_file"], entry)
        expected = by_file[(entry["source_file"],)].sort("source_row")
        assert len(rows) == entry["rows"] == expected.height, entry["source_file"]
        assert expected["source_row"].to_list() == list(range(1, len(rows) + 1))
        header_case = str.lower if entry["format"] == "csv-tcvn3" else str
        assert [header_case(_nfc(h)) for h in rows[0]] == [header_case(h) for h in entry["columns"].values()]
        rows = [{header_case(_nfc(k)): v for k, v in row.items()} for row in rows]
        for field, header in entry["columns"].items():
            written_values = [_nfc(row[header_case(header)]) for row in rows]
            truth_values = [_nfc(v) for v in expected[f"raw_{field}"].to_list()]
            if entry["format"] == "csv-tcvn3":  # TCVN3 has no toned capitals: compare case-blind
                written_values = [v.lower() for v in written_values]
                truth_values = [v.lower() for v in truth_values]
            assert written_values == truth_values, (entry["source_file"], field)
        if "record_id" in entry["columns"]:
            assert expected["record_id"].null_count() == 0
        else:
            assert expected["record_id"].null_count() == expected.height


def test_xlsx_keeps_ids_and_phones_as_text(written: Path, meta: dict) -> None:
    entry = next(e for e in meta["files"] if e["format"] == "xlsx")
    sheet = openpyxl.load_workbook(written / "exports" / entry["source_file"]).active
    header = [cell.value for cell in sheet[1]]
    for field in ("citizen_id", "phone"):
        column = header.index(entry["columns"][field]) + 1
        cells = [sheet.cell(row=r, column=column) for r in range(2, sheet.max_row + 1)]
        assert all(cell.data_type == "s" for cell in cells if cell.value is not None)
    id_column = header.index(entry["columns"]["citizen_id"]) + 1
    assert any(
        str(sheet.cell(row=r, column=id_column).value).startswith("0") for r in range(2, sheet.max_row + 1)
    )


def test_deterministic_for_a_seed(tmp_path: Path, written: Path, truth: pl.DataFrame) -> None:
    again = write_demo(tmp_path / "again", persons=300, seed=11)
    assert pl.read_parquet(again.paths["records"]).equals(truth)
    for path in sorted((written / "exports").iterdir()):
        assert (again.paths["exports"] / path.name).read_bytes() == path.read_bytes(), path.name
    other = truth_records(generate_demo(persons=300, seed=12))
    assert not other.equals(truth)


def test_rewriting_a_demo_directory_replaces_it_but_never_foreign_files(tmp_path: Path) -> None:
    first = write_demo(tmp_path, persons=40, seed=1)
    second = write_demo(tmp_path, persons=40, seed=2)
    assert len(list(second.paths["exports"].iterdir())) == second.files
    assert "40 persons" in second.describe() and str(first.files) in first.describe()
    (tmp_path / "exports" / "someone_elses.csv").write_text("x\n1\n", encoding="utf-8")
    with pytest.raises(FileExistsError, match=r"someone_elses\.csv"):
        write_demo(tmp_path, persons=40, seed=3)


def test_cli_demo_data(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from sachsong.pipelines.cli import main

    assert main(["demo-data", str(tmp_path), "--persons", "50", "--seed", "4"]) == 0
    assert "50 persons" in capsys.readouterr().out
    meta = json.loads((tmp_path / "truth" / "meta.json").read_text(encoding="utf-8"))
    assert meta["persons"] == 50 and meta["seed"] == 4 and meta["as_of"] == "2026-11-01"


def test_demo_truth_follows_the_reconciled_old_to_new_mapping():
    """Xã Phú Tân (Châu Thành, Hậu Giang) went whole into 31378 per the statistics office; vietnamadminunits alone
    lists a second ward of the same name elsewhere in the merged Cần Thơ. The truth must not score the
    resolver's right answer as a wrong guess."""
    from sachsong.demo.residents import load_province_communes

    communes = load_province_communes("92").communes
    phu_tan = communes.filter(pl.col("legacy_ward_code") == "31379").row(0, named=True)
    assert (phu_tan["ward_code"], phu_tan["is_split"]) == ("31378", False)

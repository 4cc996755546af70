"""The engine: packs as data, every rule's examples, one-pass checking, quarantine and conservation."""

from __future__ import annotations

import textwrap
from datetime import date, datetime
from pathlib import Path

import polars as pl
import pytest

from sachsong.rules.contract import ContractError
from sachsong.rules.engine import (
    PackError,
    check_raw_table,
    check_standardized,
    load_pack,
    run_rule_examples,
)
from sachsong.rules.python_checks import CheckContext, new_ward_codes, register_check
from sachsong.schema import CRITERIA, FINDING_SCHEMA

AS_OF = date(2026, 1, 15)
NO_IDENTITY = {
    "citizen_id": None,
    "citizen_id_digits": None,
    "cccd": None,
    "cccd_province_code": None,
    "cccd_sex": None,
    "cccd_birth_year": None,
}

# --- the shipped pack ---------------------------------------------------------------------------------------


def test_residents_pack_covers_all_four_criteria_and_both_severities():
    pack = load_pack("residents")
    assert {rule.criterion for rule in pack.rules} == set(CRITERIA)
    assert {rule.severity for rule in pack.rules} == {"error", "warning"}
    for rule in pack.rules:
        assert rule.message_vi and rule.message_en and rule.id
    assert load_pack(pack.path) is pack  # cached per file version


def test_every_rule_example_behaves_as_declared():
    outcomes = run_rule_examples(load_pack("residents"))
    failed = [outcome.describe() for outcome in outcomes if not outcome.passed]
    assert not failed, "\n".join(failed)
    rules_with_both = {(o.rule_id, o.expect) for o in outcomes}
    assert all((rule.id, "fail") in rules_with_both for rule in load_pack("residents").rules)


def _write_pack(tmp_path: Path, rules_yaml: str, name: str = "custom") -> Path:
    residents = load_pack("residents")
    header = residents.path.read_text(encoding="utf-8").split("\nrules:\n")[0]
    path = tmp_path / f"{name}.yaml"
    path.write_text(
        header + "\nrules:\n" + textwrap.indent(textwrap.dedent(rules_yaml), "  "), encoding="utf-8"
    )
    return path


def test_a_wrong_example_is_reported_as_failed(tmp_path: Path):
    path = _write_pack(
        tmp_path,
        """
        - id: phone_invalid
          criterion: correct
          severity: error
          message_vi: Số điện thoại không hợp lệ
          message_en: Phone invalid
          when: phone_status == 'invalid'
          examples:
            pass: [{phone_status: "invalid", phone_e164: null}]
            fail: [{}]
        """,
    )
    outcomes = run_rule_examples(load_pack(path))
    assert [o.passed for o in outcomes] == [False, False]
    assert "expected no finding" in outcomes[0].describe()
    assert "expected a finding" in outcomes[1].describe()


def test_a_rule_without_examples_fails_its_test(tmp_path: Path):
    path = _write_pack(
        tmp_path,
        """
        - id: sex_missing
          criterion: sufficient
          severity: error
          message_vi: Thiếu giới tính
          message_en: Sex missing
          when: is_blank(sex)
        """,
    )
    outcomes = run_rule_examples(load_pack(path))
    assert {(o.expect, o.passed) for o in outcomes} == {("pass", False), ("fail", False)}


def test_an_example_that_breaks_the_contract_is_named(tmp_path: Path):
    path = _write_pack(
        tmp_path,
        """
        - id: sex_missing
          criterion: sufficient
          severity: error
          message_vi: Thiếu giới tính
          message_en: Sex missing
          when: is_blank(sex)
          examples:
            pass: [{}]
            fail: [{sex: null, sex_code: "X"}]
        """,
    )
    with pytest.raises(PackError, match=r"rule 'sex_missing' fail example #1: sex_code isin"):
        run_rule_examples(load_pack(path))


BAD_RULES = [
    ("- {id: x, criterion: tidy, severity: error, message_vi: a, message_en: b, when: 'True'}", "criterion"),
    ("- {id: x, criterion: clean, severity: fatal, message_vi: a, message_en: b, when: 'True'}", "severity"),
    ("- {id: X-1, criterion: clean, severity: error, message_vi: a, message_en: b, when: 'True'}", "id"),
    ("- {id: x, criterion: clean, severity: error, message_en: b, when: 'True'}", "message_vi is required"),
    ("- {id: x, criterion: clean, severity: error, message_vi: a, message_en: b}", "exactly one of"),
    (
        "- {id: x, criterion: clean, severity: error, message_vi: a, message_en: b, python: nope}",
        "no Python check",
    ),
    (
        "- {id: x, criterion: clean, severity: error, message_vi: a, message_en: b, when: 'True', sql: 'x'}",
        "unknown field",
    ),
    (
        "- {id: x, criterion: clean, severity: error, message_vi: a, message_en: b, when: 'True',"
        " value: 'full_name; DROP TABLE t'}",
        "is not a column",
    ),
    (
        "- {id: x, criterion: clean, severity: error, message_vi: a, message_en: b,"
        " when: \"__import__('os').system('rm -rf /')\"}",
        "rule 'x': attribute access",
    ),
    (
        "- {id: x, criterion: clean, severity: error, message_vi: a, message_en: b, when: 'is_null(dob)',"
        " params: {'a b': 1}}",
        "parameter name",
    ),
    (
        "- {id: x, criterion: clean, severity: error, message_vi: a, message_en: b, when: 'True'}\n"
        "- {id: x, criterion: clean, severity: error, message_vi: a, message_en: b, when: 'True'}",
        "defined twice",
    ),
]


@pytest.mark.parametrize(("rules_yaml", "reason"), BAD_RULES)
def test_malformed_packs_are_refused_naming_file_and_rule(tmp_path: Path, rules_yaml: str, reason: str):
    path = _write_pack(tmp_path, rules_yaml, name="bad")
    with pytest.raises(PackError) as caught:
        load_pack(path)
    assert str(path) in str(caught.value)
    assert reason in str(caught.value)


def test_pack_names_cannot_escape_the_packs_folder():
    with pytest.raises(PackError, match="not a pack name"):
        load_pack("..")
    with pytest.raises(PackError, match="no such rule pack"):
        load_pack("households")


# --- checking a table ---------------------------------------------------------------------------------------


def _findings_by_rule(findings: pl.DataFrame) -> dict[str, list]:
    grouped = findings.group_by("rule_id").agg(pl.col("row_uid").sort())
    return {row["rule_id"]: row["row_uid"] for row in grouped.iter_rows(named=True)}


def test_check_splits_rows_into_passed_and_quarantined_with_reasons(std_frame):
    std = std_frame(
        [
            {},  # 0: clean
            {"phone_status": "invalid", "phone_e164": None, "phone": "0123"},  # 1: error
            {"full_name": "NGUYỄN VĂN AN"},  # 2: warning only → passes
            {  # 3: two errors
                "dob": date(2027, 1, 1),
                "dob_precision": "day",
                "date_of_birth": "01/01/2027",
                "sex": "khác",
                "sex_code": None,
                "cccd_sex": None,
                **NO_IDENTITY,
            },
            {"address_status": "unmatched", "ward_code": None, "province_code": None, "address": "???"},  # 4
        ]
    )
    result = check_standardized(std, AS_OF, province_code="44")
    assert result.passed.get_column("row_uid").to_list() == [0, 2]
    assert result.quarantine.get_column("row_uid").to_list() == [1, 3, 4]
    assert result.passed.height + result.quarantine.height == std.height == result.rows_in
    reasons = dict(zip(result.quarantine["row_uid"], result.quarantine["reasons"].to_list(), strict=True))
    assert reasons == {
        1: ["phone_invalid"],
        3: ["dob_in_future", "sex_unrecognized"],
        4: ["address_unmatched"],
    }
    reason_text = result.quarantine.filter(pl.col("row_uid") == 1).item(0, "quarantine_reason")
    assert reason_text.startswith("phone_invalid: Số điện thoại không hợp lệ / Phone number")
    # Quarantined rows keep every input column so stewards can fix them at the source.
    assert set(std.columns) <= set(result.quarantine.columns)
    by_rule = _findings_by_rule(result.findings.filter(pl.col("row_uid").is_not_null()))
    assert by_rule == {
        "phone_invalid": [1],
        "name_not_standard_form": [2],
        "dob_in_future": [3],
        "sex_unrecognized": [3],
        "address_unmatched": [4],
    }


def test_findings_follow_the_finding_schema_and_report_values(std_frame):
    std = std_frame([{"phone_status": "invalid", "phone_e164": None, "phone": "0123", "source_id": "src_b"}])
    result = check_standardized(std, AS_OF, province_code="44")
    assert result.findings.schema == pl.Schema(FINDING_SCHEMA)
    row = result.findings.filter(pl.col("rule_id") == "phone_invalid").row(0, named=True)
    assert row == {
        "row_uid": 0,
        "record_id": "R-0000",
        "source_id": "src_b",
        "rule_id": "phone_invalid",
        "criterion": "correct",
        "severity": "error",
        "message": "Số điện thoại không hợp lệ / Phone number is not a valid Vietnamese number",
        "value": "0123",
    }


def test_time_rules_use_as_of_not_the_wall_clock(std_frame):
    std = std_frame([{"updated_ts": datetime(2024, 6, 1), "updated_at": "2024-06-01"}])
    stale_rules = {"updated_stale", "source_not_refreshed"}
    early = check_standardized(std, date(2024, 6, 2), province_code="44")
    assert stale_rules.isdisjoint(early.findings["rule_id"].to_list())
    late = check_standardized(std, "2026-01-15", province_code="44")
    assert stale_rules <= set(late.findings["rule_id"].to_list())
    # Before the update happened, the same timestamp lies in the future.
    before = check_standardized(std, date(2024, 5, 31), province_code="44")
    assert before.quarantine["reasons"].to_list() == [["updated_in_future"]]


def test_duplicates_need_clusters_and_report_the_cluster_id(std_frame):
    std = std_frame([{}, {"source_id": "ho_tich_bo_trach"}, {"full_name": "Trần Thị Bình", "sex_code": "F"}])
    without = check_standardized(std, AS_OF, province_code="44")
    assert without.skipped_rules == ["duplicate_record"]
    assert "skipped (input not given): duplicate_record" in without.describe()
    clusters = pl.DataFrame(
        {"row_uid": [0, 1, 2], "cluster_id": ["c-7", "c-7", "c-8"], "cluster_size": [2, 2, 1]}
    )
    with_clusters = check_standardized(std, AS_OF, clusters=clusters, province_code="44")
    duplicates = with_clusters.findings.filter(pl.col("rule_id") == "duplicate_record")
    assert duplicates.select("row_uid", "value").rows() == [(0, "c-7"), (1, "c-7")]
    assert with_clusters.skipped_rules == []
    # A warning: duplicates are merged downstream, never quarantined.
    assert 0 in with_clusters.passed["row_uid"].to_list()


def test_coverage_gives_one_dataset_finding_per_empty_commune(std_frame):
    wards = new_ward_codes("44")
    assert len(wards) > 50 and "18880" in wards
    covered = wards[:-3]
    std = std_frame([{"ward_code": code, "commune_code": code} for code in covered])
    result = check_standardized(std, AS_OF, province_code="44")
    coverage = result.findings.filter(pl.col("rule_id") == "commune_without_records")
    assert sorted(coverage["value"].to_list()) == sorted(wards[-3:])
    assert coverage["row_uid"].is_null().all() and coverage["record_id"].is_null().all()
    assert set(coverage["criterion"]) == {"sufficient"}
    # Without an explicit province the engine uses the province most records resolve to.
    inferred = check_standardized(std, AS_OF)
    assert inferred.findings.filter(pl.col("rule_id") == "commune_without_records").height == 3
    # Dataset findings quarantine nobody.
    assert result.quarantine.height == 0


def test_sources_not_refreshed_are_reported_per_source(std_frame):
    std = std_frame(
        [
            {"source_id": "fresh", "updated_ts": datetime(2026, 1, 14)},
            {"source_id": "fresh", "updated_ts": datetime(2019, 1, 1)},
            {"source_id": "stopped", "updated_ts": datetime(2025, 12, 1)},
            {"source_id": "no_dates", "updated_ts": None, "updated_at": None},
        ]
    )
    result = check_standardized(std, AS_OF, province_code="44")
    stale = result.findings.filter(pl.col("rule_id") == "source_not_refreshed")
    assert stale.select("source_id", "value").rows() == [("no_dates", "no_dates"), ("stopped", "stopped")]


def test_record_ids_repeated_within_one_source_only(std_frame):
    std = std_frame(
        [
            {"record_id": "A", "source_id": "s1"},
            {"record_id": "A", "source_id": "s1"},
            {"record_id": "A", "source_id": "s2"},
        ]
    )
    result = check_standardized(std, AS_OF, province_code="44")
    repeated = result.findings.filter(pl.col("rule_id") == "record_id_repeated_in_source")
    assert repeated["row_uid"].to_list() == [0, 1]


def test_an_empty_table_checks_cleanly(std_frame):
    std = std_frame([]).clear()
    result = check_standardized(std, AS_OF, province_code="44")
    assert result.passed.height == result.quarantine.height == 0
    # Every commune of the province lacks records: the đủ criterion is reported even on an empty table.
    assert result.findings.height == len(new_ward_codes("44"))


def test_a_value_outside_the_contract_quarantines_its_row_not_the_table(std_frame):
    std = std_frame([{}, {}, {}]).with_columns(
        pl.when(pl.col("row_uid") == 1).then(pl.lit("12AB")).otherwise(pl.col("cccd")).alias("cccd"),
        pl.when(pl.col("row_uid") == 2).then(pl.lit(2180, pl.Int32)).otherwise(pl.col("cccd_birth_year"))
        .alias("cccd_birth_year"),
    )
    result = check_standardized(std, AS_OF, province_code="44")
    assert result.rows_in == 3
    assert result.passed.height + result.quarantine.height == 3
    reasons = dict(zip(result.quarantine["row_uid"], result.quarantine["reasons"], strict=True))
    assert "contract_cccd" in reasons[1]
    assert "contract_cccd_birth_year" in reasons[2]
    assert 0 not in reasons or not any(r.startswith("contract_") for r in reasons[0])
    contained = result.quarantine.filter(pl.col("row_uid") == 1)
    assert contained["cccd"].to_list() == [None]  # the breaching standardized value is not passed on
    breach_findings = result.findings.filter(pl.col("rule_id").str.starts_with("contract_"))
    assert set(breach_findings["criterion"]) == {"correct"} and set(breach_findings["severity"]) == {"error"}
    # Neither the message nor the reported value repeats the breaching value.
    assert not breach_findings.filter(
        pl.col("message").str.contains("12AB") | pl.col("value").fill_null("").str.contains("12AB")
    ).height


def test_a_table_level_contract_breach_is_a_bug_and_raises_without_values(std_frame):
    duplicate_uid = std_frame([{}, {}]).with_columns(pl.lit(1, pl.Int64).alias("row_uid"))
    with pytest.raises(ContractError, match="row_uid"):
        check_standardized(duplicate_uid, AS_OF)
    wrong_type = std_frame([{}, {}]).with_columns(pl.lit("x").alias("dob"))
    with pytest.raises(ContractError, match="dob"):
        check_standardized(wrong_type, AS_OF)


# --- custom Python checks and null handling -----------------------------------------------------------------


@register_check("phone_shared_by_many", columns=("phone_e164",))
def _phone_shared_by_many(frame: pl.DataFrame, ctx: CheckContext) -> pl.Expr:
    return pl.col("phone_e164").is_not_null() & (pl.len().over("phone_e164") > ctx.params["max_people"])


def test_registered_python_checks_and_on_null_fire(tmp_path: Path, std_frame):
    path = _write_pack(
        tmp_path,
        """
        - id: phone_shared
          criterion: clean
          severity: warning
          message_vi: Một số điện thoại dùng cho quá nhiều người
          message_en: One phone number for too many people
          python: phone_shared_by_many
          params: {max_people: 2}
          value: phone_e164
          examples:
            pass: [{rows: [{}, {}]}]
            fail: [{rows: [{}, {}, {}]}]
        - id: sex_not_male
          criterion: correct
          severity: error
          message_vi: Không phải nam
          message_en: Not male
          when: sex_code != 'M'
          on_null: fire
          examples:
            pass: [{}]
            fail: [{sex_code: null, sex: null}]
        """,
    )
    pack = load_pack(path)
    assert all(outcome.passed for outcome in run_rule_examples(pack))
    std = std_frame([{}, {}, {}, {"phone_e164": "+84987654321", "sex_code": None, "sex": None}])
    result = check_standardized(std, AS_OF, pack=pack)
    assert _findings_by_rule(result.findings) == {"phone_shared": [0, 1, 2], "sex_not_male": [3]}
    assert result.quarantine["row_uid"].to_list() == [3]


def test_check_raw_table_standardizes_then_checks():
    raw = pl.DataFrame(
        {
            "record_id": ["a1", "a2", "a3"],
            "source_id": ["nhan_khau_dong_hoi"] * 3,
            "full_name": ["Nguyễn Văn An", "Trần Thị Bình", "?"],
            "date_of_birth": ["17/05/1990", "31/02/1985", "02/03/1970"],
            "sex": ["Nam", "Nữ", "Nam"],
            "citizen_id": ["044090001234", "044185004321", "044070009999"],
            "phone": ["0912345678", "0987654321", "0912000111"],
            "address": ["Phường Đồng Hới, tỉnh Quảng Trị"] * 3,
            "commune_code": ["18880"] * 3,
            "updated_at": ["2026-01-10"] * 3,
        }
    )
    result = check_raw_table(raw, AS_OF)
    assert result.rows_in == 3
    assert result.passed.height + result.quarantine.height == 3
    reasons = dict(zip(result.quarantine["record_id"], result.quarantine["reasons"].to_list(), strict=True))
    assert "dob_invalid" in reasons.get("a2", [])
    assert "full_name_missing" in reasons.get("a3", [])
    assert "a1" in result.passed["record_id"].to_list()

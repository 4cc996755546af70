"""Score arithmetic on hand-made inputs."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest
from reports_sample import PROVINCE, WARDS, make_findings, make_records

from sachsong.reports.drilldown import commune_rule_counts, mask_record_id
from sachsong.reports.scores import (
    SCORE_SCHEMA,
    Thresholds,
    compare_with_previous,
    compute_scores,
    load_targets,
    rule_catalogue,
    score_trend,
)
from sachsong.schema import FINDING_SCHEMA


def findings_frame(rows: list[tuple]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=FINDING_SCHEMA, orient="row")


def no_findings() -> pl.DataFrame:
    return pl.DataFrame(schema=FINDING_SCHEMA)


def score(scores: pl.DataFrame, level: str, key: str, criterion: str) -> dict:
    rows = scores.filter(
        (pl.col("level") == level) & (pl.col("key") == key) & (pl.col("criterion") == criterion)
    )
    assert rows.height == 1, f"expected one {level}/{key}/{criterion} row, got {rows.height}"
    return rows.row(0, named=True)


def scores_for(findings: pl.DataFrame, **kwargs) -> pl.DataFrame:
    return compute_scores(
        make_records(), findings, "run-1", date(2026, 11, 4), PROVINCE, wards=WARDS, **kwargs
    )


def test_shares_count_records_without_an_error_of_the_criterion():
    scores = scores_for(make_findings())
    assert scores.schema == pl.Schema(SCORE_SCHEMA)
    correct = score(scores, "province", PROVINCE, "correct")
    # row 0 has a "correct" error; row 1 only a warning: 7 of 8 pass.
    assert (correct["records"], correct["passing"]) == (8, 7)
    assert correct["share"] == pytest.approx(7 / 8)
    assert correct["band"] == "red"
    live = score(scores, "province", PROVINCE, "live")
    assert (live["records"], live["passing"]) == (8, 6)
    overall = score(scores, "province", PROVINCE, "overall")
    # rows 0, 4, 5 fail something; the dataset-level finding names an empty commune, touching no record.
    assert (overall["records"], overall["passing"]) == (8, 5)
    assert score(scores, "province", PROVINCE, "clean")["band"] == "green"
    assert scores.get_column("run_id").unique().to_list() == ["run-1"]
    assert scores.get_column("as_of").unique().to_list() == [date(2026, 11, 4)]


def test_warnings_are_not_counted_against_the_share():
    warning_only = findings_frame(
        [(i, f"r{i}", "s", "phone_format", "correct", "warning", "m", None) for i in range(8)]
    )
    scores = scores_for(warning_only)
    assert score(scores, "province", PROVINCE, "correct")["share"] == 1.0
    # The rule's own pass rate does count its warnings.
    rule = score(scores, "rule", "phone_format", "correct")
    assert (rule["records"], rule["passing"], rule["share"]) == (8, 0, 0.0)


def test_commune_and_source_levels_split_the_records():
    scores = scores_for(make_findings())
    dong_thuan = score(scores, "commune", "18859", "correct")
    assert (dong_thuan["records"], dong_thuan["passing"]) == (4, 3)
    dong_son_live = score(scores, "commune", "18871", "live")
    assert (dong_son_live["records"], dong_son_live["passing"]) == (3, 1)
    unresolved = score(scores, "commune", "unresolved", "overall")
    assert (unresolved["records"], unresolved["passing"]) == (1, 1)
    source = score(scores, "source", "ho_tich_lt", "live")
    assert (source["records"], source["passing"]) == (4, 2)
    assert score(scores, "source", "ho_khau_dh", "live")["share"] == 1.0


def test_empty_commune_scores_zero_on_sufficient_and_is_counted_in_coverage():
    scores = scores_for(no_findings())
    empty = {
        c: score(scores, "commune", "18880", c) for c in ("correct", "sufficient", "clean", "live", "overall")
    }
    assert empty["sufficient"]["records"] == 0
    assert empty["sufficient"]["share"] == 0.0
    assert empty["sufficient"]["band"] == "red"
    assert empty["overall"]["share"] == 0.0
    for criterion in ("correct", "clean", "live"):  # nothing to score: never a division by zero
        assert empty[criterion]["share"] is None
        assert empty[criterion]["band"] == "n/a"
    coverage = score(scores, "coverage", PROVINCE, "sufficient")
    assert (coverage["records"], coverage["passing"]) == (3, 2)
    assert coverage["share"] == pytest.approx(2 / 3)


def test_criterion_with_no_applicable_records_is_na():
    scores = scores_for(make_findings(), criteria_run=["correct", "sufficient", "clean"])
    live = score(scores, "province", PROVINCE, "live")
    assert (live["records"], live["passing"], live["share"], live["band"]) == (0, 0, None, "n/a")
    # overall then covers the criteria that ran: only row 0 fails ("correct").
    assert score(scores, "province", PROVINCE, "overall")["passing"] == 7
    # No records at all: every share is null, nothing divides by zero.
    empty = compute_scores(
        make_records().head(0), no_findings(), "run-0", "2026-11-01", PROVINCE, wards=WARDS
    )
    province = empty.filter(pl.col("level") == "province")
    assert province.height == 5
    assert province.get_column("share").null_count() == 5
    assert set(province.get_column("band")) == {"n/a"}


def test_dataset_level_findings_fail_every_record_in_their_scope():
    findings = findings_frame(
        [
            (None, None, None, "ward_count_plausible", "sufficient", "error", "too few", "18871"),
            (None, None, "ho_khau_dh", "source_refreshed", "live", "error", "late", None),
            (None, None, None, "province_dup_rate", "clean", "warning", "high", None),
        ]
    )
    scores = scores_for(findings)
    assert score(scores, "commune", "18871", "sufficient")["share"] == 0.0
    assert score(scores, "commune", "18859", "sufficient")["share"] == 1.0
    assert score(scores, "province", PROVINCE, "sufficient")["passing"] == 5
    assert score(scores, "source", "ho_khau_dh", "live")["share"] == 0.0
    assert score(scores, "source", "ho_tich_lt", "live")["share"] == 1.0
    # A run-wide warning touches every record's rule rate but no criterion share.
    assert score(scores, "province", PROVINCE, "clean")["share"] == 1.0
    assert score(scores, "rule", "province_dup_rate", "clean")["passing"] == 0


def test_rule_catalogue_lists_rules_without_findings():
    rules = pl.DataFrame(
        {"rule_id": ["cccd_birth_year", "name_present"], "criterion": ["correct", "sufficient"]}
    )
    scores = scores_for(make_findings(), rules=rules)
    assert score(scores, "rule", "name_present", "sufficient")["share"] == 1.0
    assert score(scores, "rule", "cccd_birth_year", "correct")["passing"] == 7
    # Only the catalogue passed, plus the rules that fired: no residents-pack rule sneaks in.
    assert "dob_missing" not in scores.filter(pl.col("level") == "rule").get_column("key").to_list()


def test_residents_pack_catalogue_is_the_default():
    catalogue = rule_catalogue()
    units = dict(zip(catalogue.get_column("rule_id"), catalogue.get_column("unit"), strict=True))
    assert units["commune_without_records"] == "communes"
    assert units["source_not_refreshed"] == "sources"
    assert units["dob_missing"] == "records"
    assert catalogue.filter(pl.col("message_vi").is_null() | pl.col("message_en").is_null()).is_empty()

    scores = scores_for(make_findings())
    rules = scores.filter(pl.col("level") == "rule")
    # Every rule of the pack is listed, plus the sample's own rule ids that fired.
    assert set(catalogue.get_column("rule_id")) <= set(rules.get_column("key"))
    assert {"cccd_birth_year", "commune_has_records"} <= set(rules.get_column("key"))
    never_fired = score(scores, "rule", "dob_missing", "sufficient")
    assert (never_fired["records"], never_fired["passing"], never_fired["share"]) == (8, 8, 1.0)
    assert never_fired["unit"] == "records"
    # A dataset rule that never fired is checked in its own unit: the 3 communes, the 2 sources.
    communes = score(scores, "rule", "commune_without_records", "sufficient")
    assert (communes["unit"], communes["records"], communes["passing"]) == ("communes", 3, 3)
    sources = score(scores, "rule", "source_not_refreshed", "live")
    assert (sources["unit"], sources["records"], sources["passing"]) == ("sources", 2, 2)
    # No catalogue at all: only the rules that fired.
    fired_only = scores_for(make_findings(), rules=None).filter(pl.col("level") == "rule")
    assert sorted(fired_only.get_column("key")) == [
        "cccd_birth_year",
        "commune_has_records",
        "phone_format",
        "updated_within_sla",
    ]


def test_dataset_level_rules_are_scored_in_communes_sources_or_runs():
    findings = findings_frame(
        [
            # Fired only on an empty commune: touches no record, but 1 of the 3 communes fails.
            (None, None, None, "commune_has_records", "sufficient", "error", "empty", "18880"),
            (None, None, "ho_khau_dh", "source_refreshed", "live", "warning", "late", "ho_khau_dh"),
            (None, None, None, "province_dup_rate", "clean", "warning", "high", None),
            (0, "HK-000101", "ho_khau_dh", "cccd_birth_year", "correct", "error", "m", None),
        ]
    )
    scores = scores_for(findings, rules=None)
    commune_rule = score(scores, "rule", "commune_has_records", "sufficient")
    assert commune_rule["unit"] == "communes"
    assert (commune_rule["records"], commune_rule["passing"]) == (3, 2)
    assert commune_rule["share"] == pytest.approx(2 / 3)
    assert commune_rule["band"] == "red"
    source_rule = score(scores, "rule", "source_refreshed", "live")
    assert (source_rule["unit"], source_rule["records"], source_rule["passing"]) == ("sources", 2, 1)
    run_rule = score(scores, "rule", "province_dup_rate", "clean")
    assert (run_rule["unit"], run_rule["records"], run_rule["passing"]) == ("runs", 1, 0)
    row_rule = score(scores, "rule", "cccd_birth_year", "correct")
    assert (row_rule["unit"], row_rule["records"], row_rule["passing"]) == ("records", 8, 7)
    # Criterion shares still spread the dataset-level error over its commune (here: an empty one).
    assert score(scores, "commune", "18880", "sufficient")["share"] == 0.0
    assert score(scores, "coverage", PROVINCE, "sufficient")["unit"] == "communes"
    assert set(scores.filter(pl.col("level") == "province").get_column("unit")) == {"records"}
    # A catalogue may name the unit of a dataset rule that did not fire this run.
    catalogue = pl.DataFrame(
        {"rule_id": ["ward_count_plausible"], "criterion": ["sufficient"], "unit": ["communes"]}
    )
    quiet = score(scores_for(no_findings(), rules=catalogue), "rule", "ward_count_plausible", "sufficient")
    assert (quiet["unit"], quiet["records"], quiet["passing"]) == ("communes", 3, 3)
    with pytest.raises(ValueError, match="'ward_count_plausible' has unit 'villages'"):
        scores_for(no_findings(), rules=catalogue.with_columns(pl.lit("villages").alias("unit")))


def test_bands_follow_configurable_thresholds(tmp_path):
    findings = findings_frame([(0, "a", "s", "r", "correct", "error", "m", None)])
    strict = scores_for(findings, targets={"green": 0.99, "amber": 0.95})
    assert score(strict, "province", PROVINCE, "correct")["band"] == "red"  # 87.5%
    lenient = scores_for(findings, targets={"green": 85, "amber": 50})  # percentages accepted
    assert score(lenient, "province", PROVINCE, "correct")["band"] == "green"
    path = tmp_path / "targets.yaml"
    path.write_text(
        "green: 0.98\namber: 0.90\ncriteria:\n  correct: {green: 0.9, amber: 0.8}\n", encoding="utf-8"
    )
    targets = load_targets(path)
    assert targets.for_criterion("correct") == Thresholds(green=0.9, amber=0.8)
    assert targets.for_criterion("live") == Thresholds(green=0.98, amber=0.90)
    per_criterion = scores_for(findings, targets=path)
    assert score(per_criterion, "province", PROVINCE, "correct")["band"] == "amber"
    # Exactly on a threshold is in the band.
    on_edge = scores_for(findings, targets={"green": 0.875, "amber": 0.5})
    assert score(on_edge, "province", PROVINCE, "correct")["band"] == "green"


def test_bad_targets_and_bad_input_give_clear_errors(tmp_path):
    with pytest.raises(ValueError, match=r"amber .* must not be above green"):
        load_targets({"green": 0.9, "amber": 0.95})
    path = tmp_path / "targets.yaml"
    path.write_text("criteria:\n  speed: {green: 1}\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"targets.yaml.criteria.speed: unknown criterion"):
        load_targets(path)
    with pytest.raises(ValueError, match=r"records: missing column\(s\) \['ward_code'\]"):
        compute_scores(
            make_records().drop("ward_code"), no_findings(), "r", "2026-11-01", PROVINCE, wards=WARDS
        )
    bad = findings_frame(
        [(0, "a", "s", "r1", "correct", "error", "m", None), (1, "b", "s", "r2", "tidy", "error", "m", None)]
    )
    with pytest.raises(ValueError, match=r"findings row 1 \(rule 'r2'\): field 'criterion' is 'tidy'"):
        scores_for(bad)


def history_of(*runs: tuple[str, str, list[tuple]]) -> pl.DataFrame:
    return pl.concat(
        [
            compute_scores(make_records(), findings_frame(rows), run_id, day, PROVINCE, wards=WARDS)
            for run_id, day, rows in runs
        ]
    )


def runs_frame(rows: list[tuple[str, str, str]]) -> pl.DataFrame:
    return pl.DataFrame(
        [(run_id, PROVINCE, date.fromisoformat(day), status) for run_id, day, status in rows],
        schema={"run_id": pl.String, "province_code": pl.String, "as_of": pl.Date, "status": pl.String},
        orient="row",
    )


ONE_ERROR = [(0, "a", "s", "r", "correct", "error", "m", None)]
THREE_ERRORS = [(i, "a", "s", "r", "correct", "error", "m", None) for i in range(3)]


def test_failed_runs_are_excluded_from_trends():
    history = history_of(
        ("r1", "2026-11-01", ONE_ERROR), ("r2", "2026-11-02", THREE_ERRORS), ("r3", "2026-11-03", [])
    )
    runs = runs_frame(
        [("r1", "2026-11-01", "published"), ("r2", "2026-11-02", "failed"), ("r3", "2026-11-03", "published")]
    )
    trend = score_trend(history, runs, level="province").filter(pl.col("criterion") == "correct")
    assert trend.get_column("run_id").to_list() == ["r1", "r3"]
    assert trend.get_column("share").to_list() == [7 / 8, 1.0]
    # A scored run missing from `runs` has unknown status: left out unless it is the live one.
    unknown = runs.filter(pl.col("run_id") != "r3")
    assert score_trend(history, unknown).get_column("run_id").unique().to_list() == ["r1"]
    assert score_trend(history, unknown, always=["r3"]).get_column("run_id").unique(
        maintain_order=True
    ).to_list() == [
        "r1",
        "r3",
    ]


def test_change_is_measured_against_the_previous_published_run():
    history = history_of(
        ("r1", "2026-11-01", ONE_ERROR), ("r2", "2026-11-02", THREE_ERRORS), ("r3", "2026-11-03", [])
    )
    runs = runs_frame(
        [
            ("r1", "2026-11-01", "published"),
            ("r2", "2026-11-02", "gate_failed"),
            ("r3", "2026-11-03", "published"),
        ]
    )
    current = history.filter(pl.col("run_id") == "r3")
    changed = compare_with_previous(current, history, runs)
    correct = score(changed, "province", PROVINCE, "correct")
    assert correct["previous_run_id"] == "r1"  # r2 failed: skipped
    assert correct["previous_share"] == pytest.approx(7 / 8)
    assert correct["change"] == pytest.approx(1 / 8)
    # The first run has nothing to compare with.
    first = compare_with_previous(history.filter(pl.col("run_id") == "r1"), history, runs)
    assert first.get_column("change").null_count() == first.height
    # A share that is null (n/a) has a null change, not a number.
    empty_commune = score(changed, "commune", "18880", "live")
    assert empty_commune["change"] is None


def test_no_change_across_units_or_from_history_without_units():
    findings = findings_frame(
        [(None, None, None, "commune_has_records", "sufficient", "error", "e", "18880")]
    )
    before = scores_for(findings, rules=None)
    now = compute_scores(make_records(), findings, "r2", date(2026, 11, 5), PROVINCE, wards=WARDS, rules=None)
    runs = runs_frame([("run-1", "2026-11-04", "published"), ("r2", "2026-11-05", "published")])
    same_unit = score(
        compare_with_previous(now, pl.concat([before, now]), runs),
        "rule",
        "commune_has_records",
        "sufficient",
    )
    assert same_unit["previous_share"] == pytest.approx(2 / 3) and same_unit["change"] == pytest.approx(0)
    # History written before units existed: that rule was counted in records then, so no change is claimed;
    # record-level rows still compare.
    legacy = before.drop("unit")
    changed = compare_with_previous(now, pl.concat([legacy, now.drop("unit")]), runs)
    assert score(changed, "rule", "commune_has_records", "sufficient")["change"] is None
    assert score(changed, "province", PROVINCE, "sufficient")["previous_run_id"] == "run-1"
    assert score(changed, "province", PROVINCE, "sufficient")["change"] == pytest.approx(0)


def test_record_ids_are_masked_and_drilldown_counts_per_commune_and_rule():
    ids = pl.DataFrame({"id": ["044199012345", "HK-1", None, "ABCDEFG"]})
    masked = ids.select(mask_record_id(pl.col("id"))).to_series().to_list()
    assert masked == ["04…45", "H…", None, "AB…FG"]
    drill = commune_rule_counts(make_records(), make_findings())
    live = drill.filter((pl.col("ward_code") == "18871") & (pl.col("rule_id") == "updated_within_sla")).row(
        0, named=True
    )
    assert (live["findings"], live["records_affected"]) == (2, 2)
    assert live["examples"] == ["ho_tich_lt · # 1 · 04…45", "ho_tich_lt · # 2 · B…"]
    empty = drill.filter(pl.col("ward_code") == "18880").row(0, named=True)
    assert (empty["rule_id"], empty["dataset_level"], empty["findings"]) == ("commune_has_records", True, 1)
    assert "044199012345" not in str(drill.to_dicts())


def test_outcomes_tell_fixed_from_flagged_from_quarantined_each_record_once():
    records = make_records()
    uids = records["row_uid"].to_list()
    findings = findings_frame(
        [
            # an error wins over everything else the record has
            (uids[0], "r0", "s1", "citizen_id_invalid", "correct", "error", "m", None),
            (uids[0], "r0", "s1", "value_repaired", "clean", "warning", "m", "dob:words"),
            # a suspicion wins over a repair
            (uids[1], "r1", "s1", "value_flagged", "correct", "warning", "m", "dob:order_assumed"),
            (uids[1], "r1", "s1", "value_repaired", "clean", "warning", "m", "citizen_id:excel_number"),
            (uids[2], "r2", "s1", "value_repaired", "clean", "warning", "m", "citizen_id:leading_zero"),
            # another warning alone leaves the record clean
            (uids[3], "r3", "s1", "name_not_standard_form", "clean", "warning", "m", None),
        ]
    )
    scores = compute_scores(records, findings, "run-1", date(2026, 11, 4), PROVINCE, wards=WARDS)
    outcome = {key: score(scores, "outcome", key, "overall") for key in ("clean", "fixed", "flagged", "quarantined")}
    assert {k: v["passing"] for k, v in outcome.items()} == {
        "quarantined": 1,
        "flagged": 1,
        "fixed": 1,
        "clean": len(uids) - 3,
    }
    assert all(v["records"] == len(uids) and v["band"] == "n/a" for v in outcome.values())
    assert sum(v["share"] for v in outcome.values()) == pytest.approx(1.0)

"""The `sachsong` CLI contract (DESIGN.md, "The CLI is a contract"), run through `main([...])` on a small demo.

Each command's output file is read back and its columns checked, in CSV and Parquet (chosen by extension).
`run` and `report` are tested with the pipelines and reports rooms.
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from sachsong.pipelines.cli import main
from sachsong.schema import RAW_COLUMNS
from sachsong.tableio import read_table

AS_OF = "2026-11-01"
PERSONS = 60


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cli") / "demo"
    assert main(["demo-data", str(root), "--persons", str(PERSONS), "--seed", "5"]) == 0
    return root


@pytest.fixture(scope="module")
def raw_parquet(demo: Path) -> Path:
    output = demo.parent / "raw.parquet"
    assert (
        main(["ingest", str(demo), "--output", str(output), "--rejects", str(demo.parent / "rejects.csv")])
        == 0
    )
    return output


@pytest.fixture(scope="module")
def raw_csv(raw_parquet: Path) -> Path:
    # The same table as CSV, every value a string, as a steward would hand it over.
    output = raw_parquet.with_suffix(".csv")
    read_table(raw_parquet).write_csv(output)
    return output


def test_demo_data_writes_exports_and_truth(demo: Path) -> None:
    exports = [p for p in (demo / "exports").rglob("*") if p.is_file()]
    assert {p.suffix for p in exports} >= {".csv", ".xlsx", ".json"}
    records = pl.read_parquet(demo / "truth" / "records.parquet")
    persons = pl.read_parquet(demo / "truth" / "persons.parquet")
    meta = json.loads((demo / "truth" / "meta.json").read_text(encoding="utf-8"))
    assert persons.height == PERSONS == meta["persons"]
    assert records.height == meta["records"] >= PERSONS
    assert {"source_file", "source_row", "person_id", "ward_code", "defects"} <= set(records.columns)
    assert {r["source_file"] for r in meta["files"]} == {
        p.relative_to(demo / "exports").as_posix() for p in exports
    }


def test_demo_data_is_deterministic_for_a_seed(demo: Path, tmp_path: Path) -> None:
    again = tmp_path / "again"
    assert main(["demo-data", str(again), "--persons", str(PERSONS), "--seed", "5"]) == 0
    first = pl.read_parquet(demo / "truth" / "records.parquet")
    second = pl.read_parquet(again / "truth" / "records.parquet")
    assert first.equals(second)


def test_ingest_writes_the_canonical_raw_table_with_lineage(demo: Path, raw_parquet: Path) -> None:
    table = read_table(raw_parquet)
    truth = pl.read_parquet(demo / "truth" / "records.parquet")
    assert set(RAW_COLUMNS) | {"source_file", "source_row"} <= set(table.columns)
    assert table.height == truth.height  # nothing lost (demo rows are all readable)
    assert table.join(truth, on=["source_file", "source_row"], how="anti").is_empty()
    rejects = read_table(demo.parent / "rejects.csv")
    assert set(rejects.columns) >= {"source_file", "source_row", "field", "reason", "raw_line"}


def test_ingest_output_format_follows_the_extension(demo: Path, tmp_path: Path) -> None:
    output = tmp_path / "raw.csv"
    assert main(["ingest", str(demo), "--output", str(output)]) == 0
    table = pl.read_csv(output, infer_schema=False)
    assert set(RAW_COLUMNS) <= set(table.columns)
    with pytest.raises(ValueError, match=r"\.parquet or \.csv"):
        main(["ingest", str(demo), "--output", str(tmp_path / "raw.xls")])


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_address_adds_ward_province_and_status(
    demo: Path, raw_parquet: Path, tmp_path: Path, suffix: str
) -> None:
    output = tmp_path / f"addresses{suffix}"
    assert main(["address", str(raw_parquet), "--column", "address", "--output", str(output)]) == 0
    resolved = read_table(output)
    raw = read_table(raw_parquet)
    assert resolved.height == raw.height
    assert {"ward_code", "province_code", "address_status"} <= set(resolved.columns)
    assert set(resolved["address_status"].unique()) <= {"exact", "fuzzy", "ambiguous", "unmatched"}
    placed = resolved.filter(pl.col("address_status").is_in(["exact", "fuzzy"]))
    assert placed["province_code"].unique().to_list() == ["44"]
    assert placed["ward_code"].str.contains(r"^\d{5}$").all()
    # Province 44 has no old ward split between new ones: every record lands in its true new ward.
    truth = pl.read_parquet(demo / "truth" / "records.parquet").select(
        "source_file", pl.col("source_row").cast(pl.Int64), pl.col("ward_code").alias("true_ward")
    )
    compared = resolved.with_columns(pl.col("source_row").cast(pl.Int64)).join(
        truth, on=["source_file", "source_row"], how="left"
    )
    wrong = compared.filter(pl.col("ward_code").ne_missing(pl.col("true_ward")))
    assert wrong.is_empty(), wrong.select("address", "ward_code", "true_ward", "address_status").to_dicts()


def test_address_names_a_missing_column(
    raw_parquet: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / "addresses.parquet"
    assert main(["address", str(raw_parquet), "--column", "dia_chi", "--output", str(output)]) == 2
    assert "dia_chi" in capsys.readouterr().err
    assert not output.exists()


@pytest.mark.parametrize("source, suffix", [("parquet", ".csv"), ("csv", ".parquet")])
def test_check_writes_one_row_per_finding(
    raw_parquet: Path, raw_csv: Path, tmp_path: Path, source: str, suffix: str
) -> None:
    given = raw_parquet if source == "parquet" else raw_csv
    output = tmp_path / f"findings{suffix}"
    assert main(["check", str(given), "--output", str(output), "--as-of", AS_OF]) == 0
    findings = read_table(output)
    assert {"record_id", "rule_id", "criterion", "severity", "message"} <= set(findings.columns)
    assert findings.height > 0  # the demo injects defects into ~8% of records
    assert set(findings["criterion"].unique()) <= {"correct", "sufficient", "clean", "live"}
    assert set(findings["severity"].unique()) <= {"error", "warning"}
    raw_ids = set(read_table(raw_parquet)["record_id"].drop_nulls())
    row_findings = findings.filter(pl.col("record_id").is_not_null())
    assert set(row_findings["record_id"]) <= raw_ids


def test_check_depends_on_as_of(raw_parquet: Path, tmp_path: Path) -> None:
    # Freshness is measured from --as-of: far in the future every record is stale.
    late = tmp_path / "late.parquet"
    assert main(["check", str(raw_parquet), "--output", str(late), "--as-of", "2031-01-01"]) == 0
    stale = read_table(late).filter(pl.col("rule_id") == "updated_stale")
    assert stale["record_id"].n_unique() >= 0.9 * read_table(raw_parquet)["record_id"].n_unique()


def test_check_writes_the_quarantine_with_reasons(raw_parquet: Path, tmp_path: Path) -> None:
    findings, quarantine = tmp_path / "findings.parquet", tmp_path / "quarantine.parquet"
    argv = [
        "check",
        str(raw_parquet),
        "--output",
        str(findings),
        "--quarantine",
        str(quarantine),
        "--as-of",
        AS_OF,
    ]
    assert main(argv) == 0
    held = read_table(quarantine)
    assert held.height > 0 and "reasons" in held.columns
    errors = read_table(findings).filter((pl.col("severity") == "error") & pl.col("row_uid").is_not_null())
    assert held["row_uid"].sort().to_list() == errors["row_uid"].unique().sort().to_list()


def test_rules_list_shows_every_rule(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "list"]) == 0
    out = capsys.readouterr().out
    for rule_id in (
        "citizen_id_length",
        "dob_in_future",
        "full_name_missing",
        "duplicate_record",
        "updated_stale",
    ):
        assert rule_id in out
    assert "rules in pack 'residents'" in out


def test_rules_test_runs_every_example(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "test"]) == 0
    out = capsys.readouterr().out
    assert " 0 failed" in out
    assert "FAIL" not in out


@pytest.mark.parametrize("source, suffix", [("parquet", ".parquet"), ("csv", ".csv")])
def test_dedupe_writes_one_row_per_record(
    raw_parquet: Path, raw_csv: Path, demo: Path, tmp_path: Path, source: str, suffix: str
) -> None:
    given = raw_parquet if source == "parquet" else raw_csv
    output = tmp_path / f"clusters{suffix}"
    assert main(["dedupe", str(given), "--output", str(output)]) == 0
    clusters = read_table(output)
    raw = read_table(raw_parquet)
    assert {"record_id", "cluster_id"} <= set(clusters.columns)
    assert clusters.height == raw.height
    # The demo registers most people once, some two or three times: clusters lie in between.
    truth = pl.read_parquet(demo / "truth" / "records.parquet")
    assert truth["person_id"].n_unique() * 0.95 <= clusters["cluster_id"].n_unique() < raw.height


def test_dedupe_writes_review_and_golden(raw_parquet: Path, tmp_path: Path) -> None:
    review, golden = tmp_path / "review.csv", tmp_path / "golden.parquet"
    argv = ["dedupe", str(raw_parquet), "--output", str(tmp_path / "c.parquet")]
    assert main([*argv, "--review", str(review), "--golden", str(golden)]) == 0
    assert review.exists()
    clusters = read_table(tmp_path / "c.parquet")
    assert read_table(golden).height == clusters["cluster_id"].n_unique()


def test_dedupe_writes_golden_records_as_csv_with_their_member_lists_joined(raw_parquet: Path, tmp_path: Path) -> None:
    golden = tmp_path / "golden.csv"
    argv = ["dedupe", str(raw_parquet), "--output", str(tmp_path / "c.parquet"), "--golden", str(golden)]
    assert main(argv) == 0
    written = pl.read_csv(golden, infer_schema_length=0)
    merged = written.filter(pl.col("member_row_uids").str.contains("|", literal=True))
    assert merged.height > 0  # the demo has duplicates: their row ids are listed, '|' between them
    sizes = merged["member_row_uids"].str.split("|").list.len().cast(pl.Int64)
    assert (sizes == merged["cluster_size"].cast(pl.Int64)).all()


def test_reference_diff_writes_the_disagreements(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    output = tmp_path / "diff.csv"
    assert main(["reference", "diff", "--output", str(output)]) == 0
    diff = read_table(output)
    assert diff.height > 0
    assert "vietnamadminunits" in capsys.readouterr().out
    assert main(["reference", "diff", "--limit", "3"]) == 0
    assert "authoritative: vietnamadminunits" in capsys.readouterr().out


def test_unknown_command_exits_with_usage(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["publish"])
    assert exit_info.value.code == 2
    assert "invalid choice" in capsys.readouterr().err

"""The generic, settings-driven matching engine (sachsong.matching.generic): settings validation, blocking,
comparison levels, clustering with steward decisions and size limits, ids that do not depend on row order,
survivorship, the review band, duplicate findings, and accuracy on a generated business-like register."""

from __future__ import annotations

import copy
import random
from datetime import date
from typing import Any

import polars as pl
import pytest
from unidecode import unidecode

from sachsong.matching.generic import MatchSettings, match_records, parse_settings
from sachsong.schema import CLUSTER_SCHEMA, FINDING_SCHEMA


def settings_dict(**overrides: Any) -> dict[str, Any]:
    """Business-like settings: same tax code, or same owner in the same ward."""
    base: dict[str, Any] = {
        "engine": "rules",
        "id_prefix": "B",
        "blocking": [
            {"name": "same_tax_code", "on": ["tax"], "max_block_size": 50},
            {"name": "same_owner_and_ward", "on": ["owner", "ward"], "max_block_size": 50},
        ],
        "comparisons": [
            {
                "name": "tax_code",
                "column": "tax",
                "levels": [
                    {"label": "exact", "kind": "exact", "weight": 10},
                    {"label": "one_edit", "kind": "levenshtein", "max": 1, "weight": 2},
                    {"label": "different", "kind": "else", "weight": -10},
                ],
                "null_weight": 0,
            },
            {
                "name": "owner",
                "column": "owner",
                "levels": [
                    {"label": "exact", "kind": "exact", "weight": 4},
                    {"label": "different", "kind": "else", "weight": -4},
                ],
            },
            {
                "name": "business_name",
                "column": "name",
                "levels": [
                    {"label": "exact", "kind": "exact", "weight": 5},
                    {"label": "similar", "kind": "jaro_winkler", "min": 0.92, "weight": 3},
                    {"label": "same_words", "kind": "token_set", "min": 0.9, "weight": 3},
                    {"label": "different", "kind": "else", "weight": -3},
                ],
            },
            {
                "name": "ward",
                "column": "ward",
                "levels": [
                    {"label": "exact", "kind": "exact", "weight": 1},
                    {"label": "different", "kind": "else", "weight": -1},
                ],
            },
        ],
        "thresholds": {"match": 8, "review": 2},
        "max_cluster_size": 50,
        "survivorship": {"recency": "updated", "default": "most_recent_non_null"},
        "review_fields": ["name", "tax"],
    }
    base.update(overrides)
    return base


def table(rows: list[dict[str, Any]], **columns: pl.DataType) -> pl.DataFrame:
    """A standardized table: row_uid by position; record_id and source_id defaulted."""
    schema = {
        "record_id": pl.String,
        "source_id": pl.String,
        "tax": pl.String,
        "owner": pl.String,
        "name": pl.String,
        "ward": pl.String,
        "updated": pl.Date,
        **columns,
    }
    full = [
        {"record_id": f"R{i:03d}", "source_id": "s1", "updated": date(2025, 1, 1), **row}
        for i, row in enumerate(rows)
    ]
    frame = pl.DataFrame(full, schema={k: v for k, v in schema.items() if any(k in r for r in full)})
    return frame.with_row_index("row_uid").with_columns(pl.col("row_uid").cast(pl.Int64))


def cluster_of(result, record_id: str) -> str:
    return result.clusters.filter(pl.col("record_id") == record_id)["cluster_id"].item()


def groups(result) -> set[frozenset[str]]:
    """The clusters as sets of record ids."""
    return {
        frozenset(ids)
        for ids in result.clusters.group_by("cluster_id").agg("record_id")["record_id"].to_list()
    }


# --- settings -------------------------------------------------------------------------------------------------


def test_settings_parse_with_defaults():
    s = parse_settings(settings_dict(), columns=["tax", "owner", "name", "ward", "updated"])
    assert isinstance(s, MatchSettings)
    assert [r.name for r in s.blocking] == ["same_tax_code", "same_owner_and_ward"]
    assert s.blocking[0].on == ("tax",)
    assert [level.label for level in s.comparisons[2].levels] == [
        "exact",
        "similar",
        "same_words",
        "different",
    ]
    assert (s.match_threshold, s.review_threshold) == (8.0, 2.0)
    assert s.id_prefix == "B"
    # Golden fields default to the review fields then the comparison columns, without repeats.
    assert s.golden_fields == ("name", "tax", "owner", "ward")
    assert set(s.survivorship.values()) == {"most_recent_non_null"}
    assert s.duplicate_finding.rule_id == "duplicate_record"


def _set(path: list[Any], value: Any):
    def mutate(raw: dict[str, Any]) -> None:
        target = raw
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return mutate


def _delete(path: list[Any]):
    def mutate(raw: dict[str, Any]) -> None:
        target = raw
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]

    return mutate


@pytest.mark.parametrize(
    ("mutate", "key_path"),
    [
        (_set(["comparisons", 0, "levels", 1, "kind"], "soundex"), "matching.comparisons[0].levels[1].kind"),
        (_set(["comparisons", 2, "levels", 0, "weight"], "five"), "matching.comparisons[2].levels[0].weight"),
        (_set(["comparisons", 2, "levels", 0, "weight"], True), "matching.comparisons[2].levels[0].weight"),
        (_delete(["comparisons", 1, "levels", 0, "weight"]), "matching.comparisons[1].levels[0].weight"),
        (_set(["comparisons", 2, "levels", 1, "min"], 1.5), "matching.comparisons[2].levels[1].min"),
        (_delete(["comparisons", 0, "levels", 1, "max"]), "matching.comparisons[0].levels[1].max"),
        (_set(["comparisons", 0, "levels", 0, "max"], 2), "matching.comparisons[0].levels[0].max"),
        (_set(["comparisons", 0, "levels", 0, "kind"], "else"), "matching.comparisons[0].levels[0]"),
        (_set(["comparisons", 1, "name"], "tax_code"), "matching.comparisons"),
        (_set(["comparisons", 1, "name"], "owner id"), "matching.comparisons[1].name"),
        (_set(["thresholds"], {"match": 3, "review": 5}), "matching.thresholds.review"),
        (_set(["thresholds"], {"review": 1}), "matching.thresholds.match"),
        (_set(["blok"], []), "matching.blok"),
        (_set(["blocking"], []), "matching.blocking"),
        (_set(["blocking", 1, "on"], []), "matching.blocking[1].on"),
        (_set(["blocking", 0, "max_block_size"], 1), "matching.blocking[0].max_block_size"),
        (_set(["max_cluster_size"], "big"), "matching.max_cluster_size"),
        (_set(["engine"], "persons"), "matching.engine"),
        (_set(["survivorship"], {"fields": {"name": "longest"}}), "matching.survivorship.fields.name"),
        (_set(["survivorship"], {"default": "most_recent_non_null"}), "matching.survivorship.default"),
        (_set(["duplicate_finding"], {"severity": "fatal"}), "matching.duplicate_finding.severity"),
        (_set(["duplicate_finding"], {"criterion": "tidy"}), "matching.duplicate_finding.criterion"),
    ],
)
def test_bad_settings_name_the_key(mutate, key_path):
    raw = copy.deepcopy(settings_dict())
    mutate(raw)
    with pytest.raises(ValueError) as error:
        parse_settings(raw)
    assert str(error.value).startswith(f"{key_path}:"), str(error.value)


@pytest.mark.parametrize(
    ("mutate", "key_path"),
    [
        (_set(["blocking", 1, "on"], ["owner", "commune"]), "matching.blocking[1].on[1]"),
        (_set(["comparisons", 2, "column"], "business_name_key"), "matching.comparisons[2].column"),
        (_set(["review_fields"], ["name", "phone"]), "matching.review_fields[1]"),
        (_set(["survivorship"], {"recency": "updated_ts"}), "matching.survivorship.recency"),
    ],
)
def test_a_missing_column_is_named_by_its_key(mutate, key_path):
    raw = copy.deepcopy(settings_dict())
    mutate(raw)
    with pytest.raises(
        ValueError, match=r"^" + key_path.replace("[", r"\[").replace("]", r"\]") + ": column"
    ):
        parse_settings(raw, columns=["tax", "owner", "name", "ward", "updated"])
    # match_records checks the table it is given the same way.
    with pytest.raises(ValueError, match="column"):
        match_records(table([{"tax": "1", "owner": "o", "name": "n", "ward": "w"}]), raw)


def test_a_level_kind_needs_a_column_of_its_type():
    raw = settings_dict(
        comparisons=[
            {
                "name": "opened",
                "column": "name",
                "levels": [{"label": "near", "kind": "date_days", "max": 30, "weight": 1}],
            }
        ]
    )
    with pytest.raises(ValueError, match=r"^matching\.comparisons\[0\]\.levels\[0\]\.kind: date_days"):
        match_records(table([{"tax": "1", "owner": "o", "name": "n", "ward": "w"}]), raw)


# --- comparison levels ----------------------------------------------------------------------------------------


def level_settings(
    levels: list[dict[str, Any]], column: str = "name", null_weight: float = 0
) -> dict[str, Any]:
    return settings_dict(
        blocking=[{"name": "ward", "on": ["ward"]}],
        comparisons=[{"name": "c", "column": column, "levels": levels, "null_weight": null_weight}],
        thresholds={"match": 100, "review": 100},
        survivorship={},
        review_fields=[],
    )


def pair_levels(records: pl.DataFrame, raw: dict[str, Any]) -> dict[str, tuple[str, float]]:
    """Each pair's (level label, weight), keyed 'left record id-right record id'."""
    result = match_records(records, raw, keep_pairs=True)
    ids = records.select("row_uid", "record_id")
    pairs = result.pairs.join(
        ids.rename({"row_uid": "left_row_uid", "record_id": "a"}), on="left_row_uid"
    ).join(ids.rename({"row_uid": "right_row_uid", "record_id": "b"}), on="right_row_uid")
    return {
        f"{a}-{b}": (label, w) for a, b, label, w in pairs.select("a", "b", "c_level", "match_weight").rows()
    }


def test_each_pair_takes_the_first_level_that_holds():
    levels = [
        {"label": "exact", "kind": "exact", "weight": 5},
        {"label": "one_edit", "kind": "levenshtein", "max": 1, "weight": 3},
        {"label": "similar", "kind": "jaro_winkler", "min": 0.9, "weight": 2},
        {"label": "same_words", "kind": "token_set", "min": 0.9, "weight": 1},
        {"label": "different", "kind": "else", "weight": -4},
    ]
    names = {
        "base": "tạp hóa minh anh",
        "same": "tạp hóa minh anh",  # exact (also one edit and similar: the first level wins)
        "typo": "tạp hóa minh anj",  # one edit
        "twoedits": "tạp hóa minh ahn",  # two edits apart (a swap), Jaro-Winkler still high
        "reordered": "minh anh tạp hóa",  # the same words in another order
        "other": "quán phở hùng",
    }
    records = table([{"record_id": rid, "name": value, "ward": "w"} for rid, value in names.items()])
    found = pair_levels(records, level_settings(levels))
    assert found["base-same"] == ("exact", 5)
    assert found["base-typo"] == ("one_edit", 3)
    assert found["base-twoedits"] == ("similar", 2)
    assert found["base-reordered"] == ("same_words", 1)
    assert found["base-other"] == ("different", -4)
    # Declared in the other order, the similarity level takes the identical pair first.
    swapped = [levels[2], levels[0], levels[4]]
    assert pair_levels(records, level_settings(swapped))["base-same"] == ("similar", 2)


def test_levenshtein_counts_characters_not_bytes():
    levels = [{"label": "one_edit", "kind": "levenshtein", "max": 1, "weight": 1}]
    records = table([{"name": "đặng", "ward": "w"}, {"name": "dặng", "ward": "w"}])
    assert pair_levels(records, level_settings(levels))["R000-R001"] == ("one_edit", 1)


def test_null_and_blank_take_the_null_level_and_no_level_falls_back_to_zero():
    levels = [{"label": "exact", "kind": "exact", "weight": 5}]  # no else level
    records = table(
        [
            {"record_id": "a", "name": "minh", "ward": "w"},
            {"record_id": "b", "name": None, "ward": "w"},
            {"record_id": "c", "name": "  ", "ward": "w"},
            {"record_id": "d", "name": "lan", "ward": "w"},
        ]
    )
    found = pair_levels(records, level_settings(levels, null_weight=-1.5))
    assert found["a-b"] == ("null", -1.5)
    assert found["a-c"] == ("null", -1.5)
    assert found["b-c"] == ("null", -1.5)
    assert found["a-d"] == ("else", 0.0)


def test_numeric_and_date_levels():
    records = table(
        [
            {"record_id": "a", "ward": "w", "staff": 10, "opened": date(2020, 1, 1)},
            {"record_id": "b", "ward": "w", "staff": 12, "opened": date(2020, 1, 31)},
            {"record_id": "c", "ward": "w", "staff": 30, "opened": date(2021, 6, 1)},
        ],
        staff=pl.Int64,
        opened=pl.Date,
    )
    numeric = [
        {"label": "close", "kind": "numeric_abs", "max": 2, "weight": 2},
        {"label": "far", "kind": "else", "weight": -1},
    ]
    found = pair_levels(records, level_settings(numeric, column="staff"))
    assert found["a-b"] == ("close", 2) and found["a-c"] == ("far", -1)
    dates = [
        {"label": "month", "kind": "date_days", "max": 30, "weight": 2},
        {"label": "far", "kind": "else", "weight": -1},
    ]
    found = pair_levels(records, level_settings(dates, column="opened"))
    assert found["a-b"] == ("month", 2) and found["b-c"] == ("far", -1)


# --- blocking -------------------------------------------------------------------------------------------------


def test_nulls_and_blanks_never_block_and_pairs_are_scored_once():
    records = table(
        [
            {"record_id": "a", "tax": "0101", "owner": "o1", "ward": "w1", "name": "x"},
            {"record_id": "b", "tax": "0101", "owner": "o1", "ward": "w1", "name": "x"},  # both rules: once
            {"record_id": "c", "tax": None, "owner": None, "ward": "w1", "name": "x"},
            {"record_id": "d", "tax": None, "owner": None, "ward": "w1", "name": "x"},
            {"record_id": "e", "tax": "", "owner": "o2", "ward": None, "name": "x"},
            {"record_id": "f", "tax": " ", "owner": "o2", "ward": None, "name": "x"},
        ]
    )
    result = match_records(records, settings_dict(), keep_pairs=True)
    assert result.pairs_scored == 1
    assert result.pairs.select("left_row_uid", "right_row_uid").rows() == [(0, 1)]
    report = {row["rule"]: row for row in result.blocking.to_dicts()}
    assert report["same_tax_code"]["pairs"] == 1 and report["same_tax_code"]["records_keyed"] == 2
    assert report["same_owner_and_ward"]["pairs"] == 1
    assert groups(result) >= {frozenset({"a", "b"}), frozenset({"c"}), frozenset({"d"})}


def test_an_oversize_block_is_skipped_and_counted():
    crowd = [{"tax": None, "owner": "o1", "ward": "w1", "name": f"shop {i}"} for i in range(6)]
    pair = [{"tax": None, "owner": "o2", "ward": "w1", "name": "quan pho"} for _ in range(2)]
    raw = settings_dict()
    raw["blocking"][1]["max_block_size"] = 5
    result = match_records(table(crowd + pair), raw, keep_pairs=True)
    report = result.blocking.filter(pl.col("rule") == "same_owner_and_ward").to_dicts()[0]
    assert (report["skipped_blocks"], report["skipped_records"]) == (1, 6)
    assert (report["blocks"], report["pairs"]) == (1, 1)
    assert result.pairs_scored == 1
    assert result.pairs.select("left_row_uid", "right_row_uid").rows() == [(6, 7)]


# --- clustering -----------------------------------------------------------------------------------------------


def chain_settings(**overrides: Any) -> dict[str, Any]:
    """Links only between consecutive records of a chain, each with its own weight (set by the `w` column)."""
    return settings_dict(
        **{
            "blocking": [{"name": "even", "on": ["k0"]}, {"name": "odd", "on": ["k1"]}],
            "comparisons": [
                {
                    "name": "strength",
                    "column": "w",
                    "levels": [
                        {"label": "w12", "kind": "numeric_abs", "max": 0, "weight": 12},
                        {"label": "w11", "kind": "numeric_abs", "max": 1, "weight": 11},
                        {"label": "w10", "kind": "numeric_abs", "max": 2, "weight": 10},
                        {"label": "w9", "kind": "numeric_abs", "max": 3, "weight": 9},
                        {"label": "low", "kind": "else", "weight": 0},
                    ],
                }
            ],
            "thresholds": {"match": 8, "review": 8},
            "survivorship": {},
            "review_fields": [],
            **overrides,
        }
    )


def chain_records(steps: list[int], extra: int = 0) -> pl.DataFrame:
    """Records a, b, c… where only consecutive records share a blocking key (pair i, i+1 shares `p<i>` in column
    k<i % 2>); w[i+1] - w[i] = steps[i], so that link weighs 12 - steps[i]. `extra` records block with none."""
    n = len(steps) + 1
    w = [0]
    for step in steps:
        w.append(w[-1] + step)
    rows = []
    for i in range(n):
        keys: dict[str, str | None] = {"k0": None, "k1": None}
        if i < n - 1:
            keys[f"k{i % 2}"] = f"p{i}"
        if i > 0:
            keys[f"k{(i - 1) % 2}"] = f"p{i - 1}"
        rows.append({"record_id": chr(ord("a") + i), **keys, "w": w[i]})
    rows += [{"record_id": f"z{j}", "k0": None, "k1": None, "w": 1000 + 10 * j} for j in range(extra)]
    frame = pl.DataFrame(
        rows, schema={"record_id": pl.String, "k0": pl.String, "k1": pl.String, "w": pl.Int64}
    )
    return (
        frame.with_columns(pl.lit("s1").alias("source_id"))
        .with_row_index("row_uid")
        .with_columns(pl.col("row_uid").cast(pl.Int64))
    )


def test_links_are_transitive_and_confidence_is_the_weakest_spanning_link():
    # a-b weight 12, b-c weight 9; a and c are never compared: one cluster of three.
    records = chain_records([0, 3], extra=1)
    result = match_records(records, chain_settings(), keep_pairs=True)
    assert result.pairs_scored == 2
    assert groups(result) == {frozenset("abc"), frozenset({"z0"})}
    weakest = 2**9 / (1 + 2**9)
    by_id = dict(result.clusters.select("record_id", "confidence").rows())
    assert [by_id[r] for r in "abc"] == pytest.approx([weakest] * 3)
    assert by_id["z0"] == 1.0
    assert dict(result.clusters.select("record_id", "cluster_size").rows()) == {
        "a": 3,
        "b": 3,
        "c": 3,
        "z0": 1,
    }


def test_max_cluster_size_keeps_the_strongest_links():
    # a-b 12, b-c 9, c-d 12, d-e 11: at most three per cluster. Strongest first: ab, cd, de; bc is refused.
    records = chain_records([0, 3, 0, 1])
    result = match_records(records, chain_settings(max_cluster_size=3))
    assert groups(result) == {frozenset("ab"), frozenset("cde")}
    assert result.clusters["cluster_size"].max() == 3
    assert result.links_refused == 1
    confidence = dict(result.clusters.select("record_id", "confidence").rows())
    assert confidence["a"] == pytest.approx(2**12 / (1 + 2**12))
    assert confidence["e"] == pytest.approx(2**11 / (1 + 2**11))
    assert groups(match_records(records, chain_settings())) == {frozenset("abcde")}


def test_cannot_link_cuts_the_weakest_link_and_must_link_joins():
    records = chain_records([0, 3, 0], extra=1)  # a-b 12, b-c 9, c-d 12; z0 alone
    uid = dict(records.select("record_id", "row_uid").rows())
    different = pl.DataFrame(
        {"left_row_uid": [uid["d"]], "right_row_uid": [uid["a"]], "decision": ["different"]}
    )
    result = match_records(records, chain_settings(), decisions=different)
    assert groups(result) == {frozenset("ab"), frozenset("cd"), frozenset({"z0"})}
    assert result.decisions_applied == 1 and result.links_refused == 1
    # A steward's "same" (giống) joins two records no blocking rule brought together; its link is certain.
    same = pl.DataFrame({"left_row_uid": [uid["z0"]], "right_row_uid": [uid["a"]], "decision": ["Giống"]})
    joined = match_records(records, chain_settings(), decisions=same)
    assert groups(joined) == {frozenset({"a", "b", "c", "d", "z0"})}
    # Both decisions at once: the cannot-link still wins over the chain the must-link makes.
    both = match_records(records, chain_settings(), decisions=pl.concat([same, different]))
    assert not any({"a", "d"} <= g for g in groups(both))
    assert any({"a", "z0"} <= g for g in groups(both))
    # Decisions as store.decisions gives them (left_uid, right_uid) are read the same way.
    as_store = different.rename({"left_row_uid": "left_uid", "right_row_uid": "right_uid"})
    assert groups(match_records(records, chain_settings(), decisions=as_store)) == groups(result)
    # A decision naming a record not in this input is ignored.
    unknown = pl.DataFrame({"left_row_uid": [uid["a"]], "right_row_uid": [999], "decision": ["different"]})
    assert match_records(records, chain_settings(), decisions=unknown).decisions_applied == 0


def test_an_unknown_decision_names_its_row():
    records = chain_records([0])
    bad = pl.DataFrame({"left_row_uid": [0, 0], "right_row_uid": [1, 1], "decision": ["same", "maybe"]})
    with pytest.raises(ValueError, match=r"^decisions row 1: decision"):
        match_records(records, chain_settings(), decisions=bad)


# --- ids, golden records, review, findings --------------------------------------------------------------------


def small_register() -> pl.DataFrame:
    return table(
        [
            {"record_id": "H1", "source_id": "s2", "tax": "0101234567", "owner": "o1", "ward": "w1",
             "name": "tap hoa minh anh", "updated": date(2025, 6, 1), "phone": None, "staff": 3},
            {"record_id": "H2", "source_id": "s1", "tax": "0101234567", "owner": "o1", "ward": "w1",
             "name": "tap hoa minh anh", "updated": date(2025, 5, 1), "phone": "0912", "staff": 5},
            {"record_id": "H3", "source_id": "s3", "tax": None, "owner": "o1", "ward": "w1",
             "name": "tap hoa minh anhh", "updated": None, "phone": "0987", "staff": 4},
            {"record_id": "H4", "source_id": "s1", "tax": "0109999999", "owner": "o1", "ward": "w1",
             "name": "quan pho hung", "updated": date(2025, 1, 1), "phone": None, "staff": 2},
            {"record_id": "H5", "source_id": "s1", "tax": None, "owner": "o2", "ward": "w2",
             "name": "tiem may lan", "updated": date(2025, 1, 1), "phone": None, "staff": 1},
            {"record_id": "H6", "source_id": "s2", "tax": None, "owner": "o2", "ward": "w2",
             "name": "cat toc lan", "updated": date(2025, 2, 1), "phone": "0911", "staff": 1},
        ],
        phone=pl.String,
        staff=pl.Int64,
    )  # fmt: skip


def test_cluster_ids_do_not_depend_on_row_order():
    records = small_register().with_columns(("K-" + pl.col("record_id")).alias("record_key"))
    first = match_records(records, settings_dict())
    shuffled = records.sample(fraction=1.0, shuffle=True, seed=7).drop("row_uid")
    shuffled = shuffled.with_row_index("row_uid").with_columns(pl.col("row_uid").cast(pl.Int64))
    second = match_records(shuffled, settings_dict())
    ids = first.clusters.select("record_id", "cluster_id").sort("record_id")
    assert ids.equals(second.clusters.select("record_id", "cluster_id").sort("record_id"))
    assert first.golden.equals(second.golden)
    assert first.review.drop("left_row_uid", "right_row_uid").equals(
        second.review.drop("left_row_uid", "right_row_uid")
    )
    # Named by the smallest record_key; without record_key by the smallest source_id/record_id.
    assert cluster_of(first, "H2") == "CK-H1"
    plain = match_records(small_register(), settings_dict())
    assert cluster_of(plain, "H1") == "Cs1/H2"
    assert cluster_of(plain, "H4") == "Cs1/H4"
    # Clusters come back one row per record, in input order, in the shared schema.
    assert second.clusters["row_uid"].to_list() == shuffled["row_uid"].to_list()
    assert second.clusters.schema == pl.Schema(CLUSTER_SCHEMA)


def test_a_repeated_key_still_gives_distinct_cluster_ids():
    records = table(
        [
            {"record_id": "R1", "tax": "1", "owner": "o", "ward": "w", "name": "a"},
            {"record_id": "R1", "tax": "2", "owner": None, "ward": "w", "name": "b"},
        ]
    )
    result = match_records(records, settings_dict())
    assert sorted(result.clusters["cluster_id"]) == ["Cs1/R1", "Cs1/R1-2"]


def test_golden_survivorship_modes():
    # The cluster H1, H2, H3: key order H2 (s1), H1 (s2), H3 (s3); recency H1 (June 2025), H2 (May), H3 (none).
    raw = settings_dict(
        golden_fields=["name", "tax", "phone", "staff", "updated"],
        survivorship={
            "recency": "updated",
            "default": "most_recent_non_null",
            "fields": {"name": "most_frequent", "phone": "first_non_null", "tax": "max", "updated": "min"},
        },
    )
    result = match_records(small_register(), raw)
    assert groups(result) == {
        frozenset({"H1", "H2", "H3"}),
        frozenset({"H4"}),
        frozenset({"H5"}),
        frozenset({"H6"}),
    }
    golden = result.golden
    assert golden.columns == [
        "cluster_id",
        "cluster_size",
        "records",
        "name",
        "tax",
        "phone",
        "staff",
        "updated",
    ]
    row = golden.filter(pl.col("cluster_size") == 3).to_dicts()[0]
    assert row["records"] == ["H2", "H1", "H3"]  # key order: (source_id, record_id)
    assert row["name"] == "tap hoa minh anh"  # most frequent (2 of 3)
    assert row["staff"] == 3  # most recent non-null: H1's (not the first in key order, not the largest)
    assert row["phone"] == "0912"  # first non-null in key order: H2 (s1); H1 has none
    assert row["updated"] == date(2025, 5, 1)  # min ignores H3's missing date
    assert row["tax"] == "0101234567"
    largest = match_records(small_register(), settings_dict(survivorship={"fields": {"staff": "max"}}))
    assert largest.golden.filter(pl.col("cluster_size") == 3)["staff"].item() == 5
    # most_recent_non_null skips a newer null: the newest, H1, has no phone; the next, H2, has one.
    recent = match_records(small_register(), settings_dict(golden_fields=["phone"]))
    assert recent.golden.filter(pl.col("cluster_size") == 3)["phone"].item() == "0912"
    assert golden.height == 4 and golden["cluster_id"].is_sorted()


def test_most_frequent_ties_go_to_the_most_recent():
    records = table(
        [
            {"record_id": "a", "tax": "1", "name": "old name", "ward": "w", "updated": date(2020, 1, 1)},
            {"record_id": "b", "tax": "1", "name": "new name", "ward": "w", "updated": date(2024, 1, 1)},
        ]
    )
    raw = settings_dict(
        blocking=[{"name": "tax", "on": ["tax"]}],
        comparisons=[settings_dict()["comparisons"][0]],
        review_fields=["name"],
        survivorship={"recency": "updated", "fields": {"name": "most_frequent"}},
    )
    assert match_records(records, raw).golden["name"].to_list() == ["new name"]


def test_golden_records_only_from_publishable_members():
    records = small_register().with_columns(pl.col("record_id").is_in(["H1", "H3", "H5"]).not_().alias("ok"))
    result = match_records(records, settings_dict(), publishable="ok")
    big = result.golden.filter(pl.col("records").list.contains("H2")).to_dicts()[0]
    assert big["records"] == ["H2"] and big["cluster_size"] == 1
    assert not result.golden["records"].explode().is_in(["H1", "H3", "H5"]).any()
    assert result.golden.height == 3  # H5's cluster has no publishable member
    assert result.clusters.height == 6  # every record is still clustered


def test_review_band_and_its_explanation():
    result = match_records(small_register(), settings_dict())
    review = result.review
    # Same owner and ward, names differ, one side without a tax code: 0 + 4 - 3 + 1 = 2, in the band (H4-H3,
    # H5-H6); H4 with H1/H2 (two tax codes): 10 below; H1/H2-H3 (no tax code, similar name): 8, linked.
    ids = dict(small_register().select("row_uid", "record_id").rows())
    assert [(ids[a], ids[b]) for a, b in review.select("left_row_uid", "right_row_uid").rows()] == [
        ("H4", "H3"),
        ("H5", "H6"),
    ]
    row = review.to_dicts()[1]
    assert row["match_weight"] == 2.0 and row["probability"] == pytest.approx(0.8)
    assert row["business_name_level"] == "different" and row["tax_code_level"] == "null"
    assert row["reason"] == (
        "same_owner_and_ward: tax_code=null(+0) owner=exact(+4) business_name=different(-3) ward=exact(+1)"
    )
    assert (row["left_name"], row["right_name"]) == ("tiem may lan", "cat toc lan")
    assert review["decision"].dtype == pl.String and row["decision"] is None
    # A decided pair leaves the queue (and "different" keeps it apart).
    decided = pl.DataFrame(
        {"left_row_uid": [row["left_row_uid"]], "right_row_uid": [row["right_row_uid"]], "decision": ["khác"]}
    )
    assert match_records(small_register(), settings_dict(), decisions=decided).review.height == 1


def test_findings_only_for_records_of_multi_record_clusters():
    result = match_records(small_register(), settings_dict())
    findings = result.findings
    assert findings.schema == pl.Schema(FINDING_SCHEMA)
    assert sorted(findings["record_id"]) == ["H1", "H2", "H3"]
    assert set(findings["rule_id"]) == {"duplicate_record"} and set(findings["criterion"]) == {"clean"}
    assert findings["value"].null_count() == findings.height
    assert not findings["message"].str.contains("minh anh").any()
    custom = match_records(
        small_register(),
        settings_dict(
            duplicate_finding={"rule_id": "business_duplicate", "message_vi": "Trùng", "message_en": "Dup"}
        ),
    )
    assert set(custom.findings["message"]) == {"Trùng / Dup"}
    assert set(custom.findings["rule_id"]) == {"business_duplicate"}


def test_describe_and_review_file(tmp_path):
    result = match_records(small_register(), settings_dict())
    assert (
        result.describe().splitlines()[0]
        == "6 records → 4 clusters (1 with duplicates, 2 duplicate records merged)"
    )
    written = pl.read_csv(result.write_review(tmp_path / "review.csv"))
    assert written.height == result.review.height and "decision" in written.columns


def test_scoring_in_small_chunks_gives_the_same_result():
    records = small_register()
    whole = match_records(records, settings_dict())
    chunked = match_records(records, settings_dict(), pair_chunk=1)
    assert chunked.pairs_scored == whole.pairs_scored
    assert chunked.clusters.equals(whole.clusters) and chunked.review.equals(whole.review)


def test_an_empty_register():
    empty = table([{"tax": "1", "owner": "o", "name": "n", "ward": "w"}]).head(0)
    result = match_records(empty, settings_dict())
    assert result.clusters.height == 0 and result.golden.height == 0 and result.pairs_scored == 0


# --- accuracy on a generated business register ----------------------------------------------------------------

FAMILY = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Võ", "Đặng", "Bùi", "Đỗ"]
MIDDLE = ["Văn", "Thị", "Minh", "Ngọc", "Thanh", "Hữu", "Đức"]
GIVEN = ["An", "Bình", "Cường", "Dũng", "Hà", "Hoa", "Lan", "Minh", "Nam", "Phúc", "Quang", "Sơn", "Tâm",
         "Thảo", "Trang", "Tuấn", "Vy", "Hùng", "Linh", "Khoa"]  # fmt: skip
SHOP = ["Tạp hóa", "Quán cơm", "Cửa hàng điện thoại", "Tiệm may", "Quán cà phê", "Cơ sở sản xuất bánh",
        "Đại lý gạo", "Tiệm vàng", "Nhà thuốc", "Quán phở"]  # fmt: skip


def fold(text: str | None) -> str | None:
    return None if text is None else " ".join(unidecode(text).lower().split())


def business_register(businesses: int, seed: int) -> pl.DataFrame:
    """Businesses listed by one to three old communes' registers with their noise: a missing or mistyped tax
    code, a shop word dropped or added, a typo in the name, a missing owner id. Owners with a second shop in the
    same ward, and namesake shops of other owners, are the traps."""
    rng = random.Random(seed)
    wards = [f"{26700 + i * 3}" for i in range(8)]
    owners = []
    for _ in range(int(businesses * 0.8)):
        owners.append(
            (f"0{rng.randint(1, 96):02d}{rng.randint(0, 3)}{rng.randint(0, 99):02d}{rng.randint(0, 999999):06d}",
             f"{rng.choice(FAMILY)} {rng.choice(MIDDLE)} {rng.choice(GIVEN)}")
        )  # fmt: skip
    taxes: set[str] = set()
    rows = []
    for entity in range(businesses):
        # A fifth of the businesses belong to an owner who already has one (often in the same ward).
        owner_id, _owner_name = owners[entity] if entity < len(owners) else rng.choice(owners)
        ward = rng.choice(wards)
        while (tax := f"{rng.randint(0, 9999999999):010d}") in taxes:
            pass
        taxes.add(tax)
        name = f"{rng.choice(SHOP)} {rng.choice(GIVEN)} {rng.choice(GIVEN)}"
        copies = rng.choices([1, 2, 3], weights=[45, 40, 15])[0]
        for copy_index in range(copies):
            noisy_name, noisy_tax, noisy_owner = name, tax, owner_id
            if copy_index:
                roll = rng.random()
                if roll < 0.25:
                    noisy_tax = None
                elif roll < 0.32:
                    position = rng.randrange(10)
                    noisy_tax = tax[:position] + str((int(tax[position]) + 1) % 10) + tax[position + 1 :]
                roll = rng.random()
                if roll < 0.2:
                    noisy_name = name.split(" ", name.count(" ") - 1)[-1]  # the shop word dropped
                elif roll < 0.35:
                    at = rng.randrange(len(name) - 6, len(name))
                    noisy_name = name[:at] + name[at + 1 :]  # a character lost near the end
                elif roll < 0.45:
                    noisy_name = name.upper()
                if rng.random() < 0.05:
                    noisy_owner = None
            rows.append(
                {
                    "record_id": f"HKD-{len(rows):05d}",
                    "source_id": f"old_commune_{copy_index + 1}",
                    "tax": noisy_tax,
                    "owner": noisy_owner,
                    "name": fold(noisy_name),
                    "ward": ward,
                    "updated": date(2024, 1, 1 + copy_index),
                    "truth": entity,
                }
            )
    rng.shuffle(rows)
    return pl.DataFrame(rows).with_row_index("row_uid").with_columns(pl.col("row_uid").cast(pl.Int64))


def pairwise_f1(clusters: pl.DataFrame, truth: pl.DataFrame) -> tuple[float, float, float]:
    joined = clusters.join(truth.select("row_uid", "truth"), on="row_uid")

    def pairs(by: list[str]) -> int:
        sizes = joined.group_by(by).len()["len"]
        return int((sizes * (sizes - 1) // 2).sum())

    both, predicted, actual = pairs(["cluster_id", "truth"]), pairs(["cluster_id"]), pairs(["truth"])
    precision, recall = both / predicted, both / actual
    return precision, recall, 2 * precision * recall / (precision + recall)


def test_business_register_f1():
    records = business_register(600, seed=14)
    raw = settings_dict()
    # Namesake shops in one ward are few: a small block limit, and name plus ward alone (6) stays below match.
    raw["blocking"].append({"name": "same_name_and_ward", "on": ["name", "ward"], "max_block_size": 10})
    result = match_records(records.drop("truth"), raw)
    precision, recall, f1 = pairwise_f1(result.clusters, records)
    assert f1 >= 0.98, (precision, recall, f1)
    # The traps are real: owners with two shops, and pairs in the review band, exist in the data.
    assert (
        records.group_by("owner", "ward").agg(pl.col("truth").n_unique()).filter(pl.col("truth") > 1).height
        > 0
    )
    assert result.review.height > 0
    assert result.golden.height == result.clusters["cluster_id"].n_unique()
    assert result.findings.height == result.clusters.filter(pl.col("cluster_size") > 1).height


def test_datetime_values_are_accepted_for_recency():
    records = small_register().with_columns(pl.col("updated").cast(pl.Datetime("us")))
    result = match_records(records, settings_dict(golden_fields=["tax"]))
    assert result.golden.filter(pl.col("cluster_size") == 3)["tax"].item() == "0101234567"

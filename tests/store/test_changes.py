"""The change feed on generated nights: records added / edited / removed, exports missing and added, persons."""

from __future__ import annotations

import random
from dataclasses import dataclass

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from sachsong.standardize.record_keys import add_record_keys, content_hash
from sachsong.store.changes import CHANGE_SCHEMA, CHANGES, MISSING_EXPORT_DETAIL, change_feed
from sachsong.store.identity import EVENT_SCHEMA, assign_entity_ids

CONTENT = ["full_name", "date_of_birth", "sex", "citizen_id", "phone", "address"]
FAMILY = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Võ", "Đặng"]
GIVEN = ["Văn An", "Thị Bình", "Minh Châu", "Thị Dung", "Quốc Huy", "Thu Hà", "Đức Long", "Ngọc Lan"]


def _person(i: int, rng: random.Random) -> dict[str, str]:
    return {
        "full_name": f"{rng.choice(FAMILY)} {rng.choice(GIVEN)}",
        "date_of_birth": f"{rng.randint(1, 28):02d}/{rng.randint(1, 12):02d}/{rng.randint(1940, 2010)}",
        "sex": rng.choice(["Nam", "Nữ"]),
        "citizen_id": f"0{rng.randint(10, 96)}{rng.randint(0, 3)}{rng.randint(0, 99):02d}{i:06d}",
        "phone": f"09{rng.randint(10_000_000, 99_999_999)}",
        "address": f"Thôn {rng.randint(1, 9)}, xã Hải {rng.choice(['An', 'Ba', 'Lăng'])}",
    }


def _export(source_id: str, rows: list[dict[str, str]], with_ids: bool) -> pl.DataFrame:
    frame = pl.DataFrame(rows, schema={c: pl.String for c in [*CONTENT, "own_id"]}).with_columns(
        pl.lit(source_id).alias("source_id"),
        pl.lit(f"{source_id}.xlsx").alias("source_file"),
        pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias("source_row"),
    )
    positional = pl.format("{}-{}", pl.col("source_id"), pl.col("source_row"))
    return frame.with_columns((pl.col("own_id") if with_ids else positional).alias("record_id")).drop(
        "own_id"
    )


@dataclass
class Night:
    records: pl.DataFrame  # raw + record_key + entity_id
    golden: pl.DataFrame
    assignment: object


def _run(exports: list[pl.DataFrame], run_id: str, previous: Night | None, dormant_files: set[str]) -> Night:
    """A miniature night: keys, clusters by CCCD (a stand-in for matching), ids, golden records."""
    raw = pl.concat(exports).with_row_index("row_uid").with_columns(pl.col("row_uid").cast(pl.Int64))
    keyed = add_record_keys(raw, CONTENT).frame
    current = keyed.select("record_key", pl.col("citizen_id").alias("cluster_id"), "citizen_id")
    prev = None
    issued = None
    if previous is not None:
        files = previous.records.select("record_key", "source_file")
        prev = (
            previous.assignment.next_previous()
            .join(files, on="record_key", how="left")
            .with_columns(pl.col("source_file").is_in(list(dormant_files)).alias("dormant"))
            .drop("source_file")
        )
        issued = previous.assignment.issued
    assignment = assign_entity_ids(current, prev, run_id=run_id, issued=issued, anchors=["citizen_id"])
    records = keyed.join(assignment.records.select("record_key", "entity_id"), on="record_key")
    golden = (
        records.sort("record_key")
        .group_by("entity_id")
        .agg(pl.col("full_name", "phone", "address").first(), pl.len().alias("cluster_size"))
    )
    return Night(records=records, golden=golden, assignment=assignment)


def _truthful_pair(seed: int = 11):
    rng = random.Random(seed)
    people = [_person(i, rng) for i in range(900)]
    for p in people:
        p["own_id"] = None
    a_rows = [dict(p, own_id=f"A{i:05d}") for i, p in enumerate(people[:400])]
    b_rows = [dict(p) for p in people[300:700]]  # 100 people also in xa_a
    c_rows = [dict(p, own_id=f"C{i:05d}") for i, p in enumerate(people[600:800])]  # 100 also in xa_b
    night1 = [_export("xa_a", a_rows, True), _export("xa_b", b_rows, False), _export("xa_c", c_rows, True)]

    truth: dict[str, set[tuple[str, str]]] = {
        "added": set(),
        "changed": set(),
        "removed": set(),
        "held": set(),
    }
    a2 = [dict(r) for r in a_rows]
    for r in rng.sample(a2, 6):  # edits
        r["phone"] = f"08{rng.randint(10_000_000, 99_999_999)}"
        truth["changed"].add(("xa_a.xlsx", r["citizen_id"]))
    removed_a = rng.sample([r for r in a2 if ("xa_a.xlsx", r["citizen_id"]) not in truth["changed"]], 5)
    for r in removed_a:
        a2.remove(r)
        truth["removed"].add(("xa_a.xlsx", r["citizen_id"]))
    fresh = [_person(1000 + i, rng) for i in range(30)]
    for i, p in enumerate(fresh[:8]):
        a2.append(dict(p, own_id=f"A9{i:04d}"))
        truth["added"].add(("xa_a.xlsx", p["citizen_id"]))
    rng.shuffle(a2)

    b2 = [dict(r) for r in b_rows]
    for r in rng.sample(b2, 5):  # edits in an export without ids: the content key changes
        r["address"] = r["address"] + ", tổ 3"
        truth["changed"].add(("xa_b.xlsx", r["citizen_id"]))
    removed_b = rng.sample([r for r in b2 if ("xa_b.xlsx", r["citizen_id"]) not in truth["changed"]], 4)
    for r in removed_b:
        b2.remove(r)
        truth["removed"].add(("xa_b.xlsx", r["citizen_id"]))
    for p in fresh[8:12]:
        b2.append(dict(p))
        truth["added"].add(("xa_b.xlsx", p["citizen_id"]))
    rng.shuffle(b2)

    # xa_c is missing tonight; xa_0 is new and sorts first (every row position shifts).
    truth["held"] = {("xa_c.xlsx", r["citizen_id"]) for r in c_rows}
    zero = [dict(p, own_id=f"Z{i:03d}") for i, p in enumerate(fresh[12:])]
    truth["added"] |= {("xa_0.xlsx", p["citizen_id"]) for p in fresh[12:]}
    night2 = [_export("xa_0", zero, True), _export("xa_a", a2, True), _export("xa_b", b2, False)]
    return night1, night2, truth


def _feed_pairs(feed: pl.DataFrame, change: str, lookup: pl.DataFrame) -> set[tuple[str, str]]:
    rows = feed.filter(pl.col("change") == change).join(lookup, on="record_key", how="left")
    assert rows["citizen_id"].null_count() == 0
    return set(rows.select("source_file", "citizen_id").iter_rows())


def test_change_feed_finds_every_added_edited_and_removed_record_and_nothing_else() -> None:
    exports1, exports2, truth = _truthful_pair()
    n1 = _run(exports1, "r1", None, set())
    n2 = _run(exports2, "r2", n1, dormant_files={"xa_c.xlsx"})
    feed = change_feed(
        n1.records,
        n2.records,
        n1.golden,
        n2.golden,
        n2.assignment.events,
        run_id="r2",
        previous_sources=["xa_a.xlsx", "xa_b.xlsx", "xa_c.xlsx"],
        current_sources=pl.DataFrame(
            {"source_file": ["xa_0.xlsx", "xa_a.xlsx", "xa_b.xlsx"], "rows_out": [18, 0, 0]}
        ),
    )
    assert feed.schema == pl.Schema(CHANGE_SCHEMA)
    assert set(feed["change"]) <= set(CHANGES) and (feed["run_id"] == "r2").all()
    new_lookup = n2.records.select("record_key", "citizen_id")
    old_lookup = n1.records.select("record_key", "citizen_id")

    added = _feed_pairs(feed, "record_added", new_lookup)
    changed = _feed_pairs(feed, "record_changed", new_lookup)
    removed_rows = feed.filter(pl.col("change") == "record_removed")
    removed = _feed_pairs(
        removed_rows.filter(pl.col("detail") != MISSING_EXPORT_DETAIL), "record_removed", old_lookup
    )
    held = _feed_pairs(
        removed_rows.filter(pl.col("detail") == MISSING_EXPORT_DETAIL), "record_removed", old_lookup
    )
    # Recall and precision both 1: reordering, renumbered rows and a file sorting first add nothing.
    assert added == truth["added"]
    assert changed == truth["changed"]
    assert removed == truth["removed"]
    assert held == truth["held"]

    edits = feed.filter(pl.col("change") == "record_changed")
    assert sorted(set(edits["fields"].explode())) == ["address", "phone"]
    rekeyed = edits.filter(pl.col("source_file") == "xa_b.xlsx")
    assert rekeyed["detail"].str.starts_with("edited in an export without ids").all()
    assert feed.filter(pl.col("change") == "export_missing").select("source_file", "detail").rows() == [
        ("xa_c.xlsx", "200 record(s) held dormant")
    ]
    assert feed.filter(pl.col("change") == "export_added")["source_file"].to_list() == ["xa_0.xlsx"]

    # Persons: 100 only in xa_c are dormant; those deleted from their only export retired; new ones created.
    dormant = feed.filter(pl.col("change") == "person_dormant")
    assert dormant.height == 100 and set(dormant["entity_id"]) == set(n2.assignment.dormant)
    created = feed.filter(pl.col("change") == "person_created")
    assert created.height == 30 and (created["detail"] == "new").all()
    retired = feed.filter(pl.col("change") == "person_retired")
    only_a = {c for f, c in truth["removed"] if f == "xa_a.xlsx"} - {
        r["citizen_id"] for r in exports1[1].to_dicts()
    }
    only_b = {c for f, c in truth["removed"] if f == "xa_b.xlsx"} - {
        r["citizen_id"] for r in exports1[0].to_dicts()
    }
    only_b -= {r["citizen_id"] for r in exports1[2].to_dicts()}
    assert retired.height == len(only_a | only_b)
    # Every edited person's golden record changed in the edited field.
    updated = feed.filter(pl.col("change") == "person_updated")
    assert set(updated["fields"].explode()) <= {"phone", "address", "full_name"}
    assert updated.height >= 1
    # The id assignment kept every unchanged person's id.
    before = n1.records.select("citizen_id", "entity_id").unique()
    after = n2.records.select("citizen_id", "entity_id").unique()
    kept = before.join(after, on="citizen_id", suffix="_now")
    assert (kept["entity_id"] == kept["entity_id_now"]).all()

    # The same inputs in another row order give the same feed.
    again = change_feed(
        n1.records.sample(fraction=1.0, shuffle=True, seed=1),
        n2.records.sample(fraction=1.0, shuffle=True, seed=2),
        n1.golden.reverse(),
        n2.golden.reverse(),
        n2.assignment.events.reverse(),
        run_id="r2",
        previous_sources=["xa_c.xlsx", "xa_b.xlsx", "xa_a.xlsx"],
        current_sources=["xa_b.xlsx", "xa_a.xlsx", "xa_0.xlsx"],
    )
    assert again.equals(feed)


def test_first_night_everything_is_new() -> None:
    exports, _, _ = _truthful_pair()
    n1 = _run(exports, "r1", None, set())
    feed = change_feed(None, n1.records, None, n1.golden, n1.assignment.events, run_id="r1")
    counts = dict(feed.group_by("change").len().iter_rows())
    assert counts == {"person_created": 800, "record_added": 1000, "export_added": 3}


def _events(rows: list[tuple[str, str, list[str]]]) -> pl.DataFrame:
    return pl.DataFrame([(e, ev, rel, "r2") for e, ev, rel in rows], schema=EVENT_SCHEMA, orient="row")


def test_person_changes_from_events_and_golden() -> None:
    events = _events(
        [
            ("P1", "merged", ["P2", "P3"]),
            ("P2", "retired", ["P1"]),
            ("P3", "retired", ["P1"]),
            ("P4", "retired", []),
            ("P5", "split", ["P9"]),
            ("P9", "created", ["P5"]),
            ("P6", "dormant", []),
            ("P7", "revived", []),
            ("P8", "kept", []),
        ]
    )
    previous_golden = pl.DataFrame(
        {
            "entity_id": ["P1", "P5", "P8"],
            "name_norm": ["Lê An", "Võ Ba", "Hà Cư"],
            "cccd": ["1", None, "3"],
            "cluster_size": [1, 3, 1],
            "sources": [["a"], ["a"], ["b"]],
        }
    )
    current_golden = pl.DataFrame(
        {
            "entity_id": ["P1", "P5", "P8"],
            "name_norm": ["Lê An", "Võ Ba", "Hà Cừ"],
            "cccd": ["1", "2", "3"],
            "cluster_size": [3, 2, 1],
            "sources": [["a", "b"], ["a"], ["b"]],
        }
    )
    empty = pl.DataFrame(schema={"record_key": pl.String, "entity_id": pl.String, "source_file": pl.String})
    feed = change_feed(empty, empty, previous_golden, current_golden, events, run_id="r2")
    rows = {
        (c, e): (f, d) for c, e, f, d in feed.select("change", "entity_id", "fields", "detail").iter_rows()
    }
    assert rows[("person_merged", "P1")] == ([], "absorbed: P2, P3")
    assert rows[("person_retired", "P2")] == ([], "merged into: P1")
    assert rows[("person_retired", "P4")] == ([], "removed: no record left")
    assert rows[("person_split", "P5")] == ([], "records went to: P9")
    assert rows[("person_created", "P9")] == ([], "split from: P5")
    assert ("person_dormant", "P6") in rows and ("person_revived", "P7") in rows
    # Golden: P5 gained a CCCD, P8's name changed; bookkeeping (size, sources) is no update; P1 unchanged.
    assert rows[("person_updated", "P5")][0] == ["cccd"]
    assert rows[("person_updated", "P8")][0] == ["name_norm"]
    assert ("person_updated", "P1") not in rows
    assert not any(e == "P8" and c != "person_updated" for c, e in rows)  # kept gives no row of its own
    assert feed["change"].to_list() == sorted(feed["change"].to_list(), key=CHANGES.index)


def test_hash_only_records_and_named_entity_column() -> None:
    def frame(rows: list[tuple[str, str, str]]) -> pl.DataFrame:
        raw = pl.DataFrame(
            rows,
            schema={"record_key": pl.String, "person_id": pl.String, "full_name": pl.String},
            orient="row",
        ).with_columns(pl.lit("x.csv").alias("source_file"))
        return raw.with_columns(content_hash(raw, ["full_name"]).alias("content_hash")).drop("full_name")

    before = frame([("k1", "P1", "An"), ("k2", "P2", "Bình"), ("k3", "P3", "Cúc")])
    after = frame([("k3", "P3", "Cúc"), ("k2", "P2", "Bính"), ("k4", "P4", "Dũng")])
    golden = pl.DataFrame(schema={"person_id": pl.String})
    feed = change_feed(before, after, golden, golden, _events([]), run_id="r2", entity_id="person_id")
    got = feed.select("change", "entity_id", "record_key", "detail").rows()
    assert got == [
        ("record_added", "P4", "k4", None),
        ("record_changed", "P2", "k2", None),
        ("record_removed", "P1", "k1", "removed from its export"),
    ]


@settings(max_examples=50, deadline=None)
@given(
    before=st.dictionaries(
        st.sampled_from([f"s:{i}" for i in range(12)]), st.sampled_from(["An", "Bình", None])
    ),
    after=st.dictionaries(
        st.sampled_from([f"s:{i}" for i in range(12)]), st.sampled_from(["An", "Bình", None])
    ),
)
def test_property_record_changes_are_exactly_the_set_differences(before: dict, after: dict) -> None:
    def frame(records: dict) -> pl.DataFrame:
        return pl.DataFrame(
            {
                "record_key": list(records),
                "entity_id": [f"P{k}" for k in records],
                "source_file": ["x.csv"] * len(records),
                "full_name": list(records.values()),
            },
            schema={
                "record_key": pl.String,
                "entity_id": pl.String,
                "source_file": pl.String,
                "full_name": pl.String,
            },
        )

    golden = pl.DataFrame(schema={"entity_id": pl.String})
    feed = change_feed(frame(before), frame(after), golden, golden, _events([]), run_id="r")
    got = {
        c: set(feed.filter(pl.col("change") == c)["record_key"])
        for c in ("record_added", "record_removed", "record_changed")
    }
    assert got["record_added"] == set(after) - set(before)
    assert got["record_removed"] == set(before) - set(after)
    assert got["record_changed"] == {k for k in set(before) & set(after) if before[k] != after[k]}
    assert set(feed["change"]) <= {
        "record_added",
        "record_removed",
        "record_changed",
        "export_added",
        "export_missing",
    }

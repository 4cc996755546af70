"""Persistent entity ids across nights: keep, merge, split, retire, dormant, anchors, never reused."""

from __future__ import annotations

import random

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sachsong.store.identity import (
    EVENT_SCHEMA,
    HISTORY_SCHEMA,
    IdAssignment,
    assign_entity_ids,
    resolve_id,
    resolve_ids,
)


def _night(clusters: list[list[str]], *, seed: int = 0, **columns: dict[str, str]) -> pl.DataFrame:
    """Tonight's records: one cluster per list (labels and row order shuffled by `seed`, as a run's would be)."""
    rng = random.Random(seed)
    labels = [f"P{rng.randint(0, 10**6)}-{i}" for i in range(len(clusters))]
    rows = [(key, labels[i]) for i, members in enumerate(clusters) for key in members]
    rng.shuffle(rows)
    frame = pl.DataFrame(rows, schema={"record_key": pl.String, "cluster_id": pl.String}, orient="row")
    for name, values in columns.items():
        frame = frame.with_columns(pl.col("record_key").replace_strict(values, default=None).alias(name))
    return frame


def _ids(assignment: IdAssignment) -> dict[str, str]:
    return dict(assignment.records.select("record_key", "entity_id").iter_rows())


def _events(assignment: IdAssignment) -> set[tuple[str, str, tuple[str, ...]]]:
    return {(e, ev, tuple(rel)) for e, ev, rel, _ in assignment.events.iter_rows()}


def _first(clusters: list[list[str]], **kw) -> IdAssignment:
    return assign_entity_ids(_night(clusters, **kw), None, run_id="r1")


def test_first_night_mints_opaque_distinct_ids_independent_of_rows_and_labels() -> None:
    clusters = [["s:a", "s:b"], ["c:c"], ["s:d", "c:e", "s:f"]]
    one = _first(clusters, seed=1)
    two = _first(clusters, seed=2)  # other row order, other cluster labels
    assert _ids(one) == _ids(two)
    ids = _ids(one)
    assert ids["s:a"] == ids["s:b"] and ids["s:d"] == ids["c:e"] == ids["s:f"]
    assert len(set(ids.values())) == 3
    assert all(i.startswith("P") and len(i) == 17 for i in ids.values())
    assert {ev for _, ev, _ in _events(one)} == {"created"}
    assert one.history.is_empty() and one.history.schema == pl.Schema(HISTORY_SCHEMA)
    assert one.events.schema == pl.Schema(EVENT_SCHEMA)
    assert one.minted.to_list() == sorted(set(ids.values())) == one.issued.to_list()
    # Another run id mints other ids for the same clusters (ids are not derived from content alone).
    other = assign_entity_ids(_night(clusters), None, run_id="r2", prefix="H")
    assert set(_ids(other).values()).isdisjoint(ids.values())
    assert all(i.startswith("H") for i in _ids(other).values())


def test_unchanged_night_keeps_every_id_and_reports_nothing() -> None:
    clusters = [["a", "b"], ["c"], ["d", "e", "f"]]
    first = _first(clusters)
    second = assign_entity_ids(
        _night(clusters, seed=5), first.next_previous(), run_id="r2", issued=first.issued
    )
    assert _ids(second) == _ids(first)
    assert second.events.is_empty() and second.history.is_empty() and second.minted.is_empty()


def test_merge_keeps_the_id_sharing_most_records_and_retires_the_others() -> None:
    first = _first([["a", "b", "c"], ["d"], ["e", "f"]])
    big, small, other = _ids(first)["a"], _ids(first)["d"], _ids(first)["e"]
    second = assign_entity_ids(
        _night([["a", "b", "c", "d"], ["e", "f"]]), first.next_previous(), run_id="r2", issued=first.issued
    )
    assert _ids(second)["d"] == big and _ids(second)["e"] == other
    assert second.history.rows() == [(small, big, "r2", "merged")]
    assert _events(second) == {(big, "merged", (small,)), (small, "retired", (big,))}
    assert resolve_id(second.history, small) == big
    assert resolve_id(second.history, big) == big


def test_merge_tie_goes_to_the_id_issued_first() -> None:
    first = _first([["a", "b"], ["c", "d"]])
    x, y = _ids(first)["a"], _ids(first)["c"]
    for order in ([x, y], [y, x]):
        merged = assign_entity_ids(
            _night([["a", "b", "c", "d"]]), first.next_previous(), run_id="r2", issued=pl.Series(order)
        )
        assert set(_ids(merged).values()) == {order[0]}
        assert merged.history.select("retired_id", "survivor_id").rows() == [(order[1], order[0])]


def test_chains_of_merges_resolve_to_the_current_id() -> None:
    first = _first([["a"], ["b"], ["c", "c2"]])
    a, b, c = (_ids(first)[k] for k in ("a", "b", "c"))
    issued = pl.Series([a, b, c])
    # Night 2: a and b merge (tie: a was issued first); c gains a record.
    second = assign_entity_ids(
        _night([["a", "b"], ["c", "c2", "c3"]]), first.next_previous(), run_id="r2", issued=issued
    )
    # Night 3: everyone merges; c shares three records, a two: c survives.
    third = assign_entity_ids(
        _night([["a", "b", "c", "c2", "c3"]]), second.next_previous(), run_id="r3", issued=second.issued
    )
    history = pl.concat([second.history, third.history])
    assert history.select("retired_id", "survivor_id", "run_id").rows() == [(b, a, "r2"), (a, c, "r3")]
    assert set(_ids(third).values()) == {c}
    assert resolve_id(history, b) == resolve_id(history, a) == resolve_id(history, c) == c
    assert resolve_ids(history, pl.Series([b, a, c, "unknown"])).to_list() == [c, c, c, "unknown"]


def test_split_keeps_the_id_on_the_larger_part_and_mints_for_the_rest() -> None:
    first = _first([["a", "b", "c", "d", "e"]])
    x = _ids(first)["a"]
    second = assign_entity_ids(
        _night([["d", "e"], ["a", "b", "c"]]), first.next_previous(), run_id="r2", issued=first.issued
    )
    ids = _ids(second)
    assert ids["a"] == x and ids["d"] != x
    new = ids["d"]
    assert second.history.is_empty()  # a split retires nothing
    assert _events(second) == {(x, "split", (new,)), (new, "created", (x,))}
    assert new in second.minted.to_list() and second.issued.to_list() == [x, new]


def test_split_tie_goes_to_the_part_with_the_smallest_record_key() -> None:
    first = _first([["k1", "k2", "k3", "k4"]])
    x = _ids(first)["k1"]
    second = assign_entity_ids(
        _night([["k2", "k4"], ["k3", "k1"]]), first.next_previous(), run_id="r2", issued=first.issued
    )
    assert _ids(second)["k1"] == _ids(second)["k3"] == x
    assert _ids(second)["k2"] != x


def test_records_moving_between_living_ids_split_one_and_grow_the_other() -> None:
    first = _first([["a", "b", "c"], ["d", "e", "f"]])
    x, y = _ids(first)["a"], _ids(first)["d"]
    # f moves from y's person to x's: both ids live on, nothing is retired.
    second = assign_entity_ids(
        _night([["a", "b", "c", "f"], ["d", "e"]]), first.next_previous(), run_id="r2", issued=first.issued
    )
    assert _ids(second)["f"] == x and _ids(second)["d"] == y
    assert second.history.is_empty() and second.minted.is_empty()
    assert _events(second) == {(x, "kept", ()), (y, "split", (x,))}


def test_removed_person_is_retired_and_its_id_never_comes_back() -> None:
    first = _first([["a"], ["b"]])
    a, b = _ids(first)["a"], _ids(first)["b"]
    second = assign_entity_ids(_night([["a"]]), first.next_previous(), run_id="r2", issued=first.issued)
    assert second.history.rows() == [(b, None, "r2", "removed")]
    assert (b, "retired", ()) in _events(second)
    assert resolve_id(second.history, b) is None
    # b's record comes back later: a new id, never the retired one.
    third = assign_entity_ids(
        _night([["a"], ["b"]]), second.next_previous(), run_id="r3", issued=second.issued
    )
    assert _ids(third)["b"] not in (a, b)


def test_dormant_records_hold_their_id_until_they_come_back() -> None:
    first = _first([["a1", "a2"], ["b1"], ["c1", "x1"]])
    a, b, c = (_ids(first)[k] for k in ("a1", "b1", "c1"))
    # Night 2: export "x" is missing: its records x1 (person c, who also has c1) and... a1, a2 are in it too.
    previous = first.next_previous().with_columns(
        pl.col("record_key").is_in(["a1", "a2", "x1"]).alias("dormant")
    )
    second = assign_entity_ids(_night([["b1"], ["c1"]]), previous, run_id="r2", issued=first.issued)
    assert second.dormant.to_list() == [a]
    assert set(_ids(second).values()) == {b, c}  # a is not published...
    assert second.history.is_empty()  # ...nor retired
    assert sorted(second.held.select("record_key", "entity_id").rows()) == [("a1", a), ("a2", a), ("x1", c)]
    assert _events(second) == {(a, "dormant", ()), (c, "kept", ())}

    # Night 3: the export is still missing; a stays dormant (no new event), a new person gets a new id.
    previous = second.next_previous().with_columns(pl.col("held").alias("dormant"))
    third = assign_entity_ids(_night([["b1"], ["c1"], ["n1"]]), previous, run_id="r3", issued=second.issued)
    assert third.dormant.to_list() == [a]
    assert _ids(third)["n1"] not in (a, b, c)
    assert {ev for _, ev, _ in _events(third)} == {"created"}

    # Night 4: the export is back: a is revived with its id, x1 rejoins c.
    fourth = assign_entity_ids(
        _night([["a1", "a2"], ["b1"], ["c1", "x1"], ["n1"]]),
        third.next_previous(),
        run_id="r4",
        issued=third.issued,
    )
    assert _ids(fourth)["a1"] == a and _ids(fourth)["x1"] == c
    assert fourth.dormant.is_empty() and fourth.held.is_empty() and fourth.history.is_empty()
    assert (a, "revived", ()) in _events(fourth)


def test_anchor_keeps_the_id_of_an_edited_record_in_a_source_without_ids() -> None:
    cccd = {"c:old": "079190000001", "c:new": "079190000001", "s:b": "079190000002"}
    first = assign_entity_ids(_night([["c:old"], ["s:b"]], cccd=cccd), None, run_id="r1", anchors=["cccd"])
    kept_id = _ids(first)["c:old"]
    # The record was edited: its content key changed; the CCCD did not.
    second = assign_entity_ids(
        _night([["c:new"], ["s:b"]], cccd=cccd),
        first.next_previous(),
        run_id="r2",
        issued=first.issued,
        anchors=["cccd"],
    )
    assert _ids(second)["c:new"] == kept_id
    assert second.history.is_empty() and second.minted.is_empty()
    assert _events(second) == {(kept_id, "kept", ())}
    # Without the anchor the old id is retired and a new one minted.
    plain = assign_entity_ids(
        _night([["c:new"], ["s:b"]]), first.next_previous(), run_id="r2", issued=first.issued
    )
    assert _ids(plain)["c:new"] != kept_id and plain.history["reason"].to_list() == ["removed"]


def test_anchor_must_point_to_exactly_one_homeless_id() -> None:
    # Two old records with the same household phone both disappear: the phone cannot say which person is back.
    phone = {"o1": "0905", "o2": "0905", "n1": "0905", "p1": "0912", "n2": "0912"}
    first = assign_entity_ids(
        _night([["o1"], ["o2"], ["p1"]], phone=phone), None, run_id="r1", anchors=["phone"]
    )
    second = assign_entity_ids(
        _night([["n1"], ["p1"], ["n2"]], phone=phone),
        first.next_previous(),
        run_id="r2",
        issued=first.issued,
        anchors=["phone"],
    )
    ids = _ids(second)
    assert ids["n1"] not in _ids(first).values()  # ambiguous: two homeless ids share the value
    assert ids["n2"] != ids["p1"]  # p1's id is present tonight: not claimable
    assert sorted(second.history["reason"]) == ["removed", "removed"]


def test_anchors_are_tried_in_order() -> None:
    cccd = {"old": "0791", "new": "0791"}
    name_dob = {"old": "an|1990", "new": "an|1990", "old2": "an|1990"}
    first = assign_entity_ids(
        _night([["old"], ["old2"]], cccd=cccd, name_dob=name_dob),
        None,
        run_id="r1",
        anchors=["cccd", "name_dob"],
    )
    second = assign_entity_ids(
        _night([["new"]], cccd=cccd, name_dob=name_dob),
        first.next_previous(),
        run_id="r2",
        issued=first.issued,
        anchors=["cccd", "name_dob"],
    )
    assert _ids(second)["new"] == _ids(first)["old"]  # the CCCD decides; name+dob alone would be ambiguous


def test_minted_ids_never_clash_with_issued_ones() -> None:
    clusters = [["a"], ["b"]]
    natural = _ids(_first(clusters))
    # Pretend the id "a" would get was issued long ago to someone else.
    clash = assign_entity_ids(_night(clusters), None, run_id="r1", issued=pl.Series([natural["a"]]))
    assert _ids(clash)["a"] != natural["a"] and _ids(clash)["b"] == natural["b"]
    assert clash.issued.to_list()[0] == natural["a"] and clash.issued.n_unique() == 3


def test_bad_inputs_are_refused() -> None:
    with pytest.raises(ValueError, match="repeated record_key"):
        assign_entity_ids(
            pl.DataFrame({"record_key": ["a", "a"], "cluster_id": ["1", "2"]}), None, run_id="r"
        )
    with pytest.raises(ValueError, match="cccd"):
        assign_entity_ids(
            pl.DataFrame({"record_key": ["a"], "cluster_id": ["1"]}), None, run_id="r", anchors=["cccd"]
        )


# --- property: random nights --------------------------------------------------------------------------------
def _partition(labels: list[int], present: list[bool]) -> list[list[str]]:
    clusters: dict[int, list[str]] = {}
    for i, (label, here) in enumerate(zip(labels, present, strict=True)):
        if here:
            clusters.setdefault(label, []).append(f"r{i:02d}")
    return list(clusters.values())


RECORDS = 14
night_strategy = st.tuples(
    st.lists(st.integers(0, 5), min_size=RECORDS, max_size=RECORDS),  # cluster of each record
    st.lists(st.booleans(), min_size=RECORDS, max_size=RECORDS),  # present tonight
    st.lists(st.booleans(), min_size=RECORDS, max_size=RECORDS),  # if absent: its export is missing (dormant)
)


@settings(max_examples=60, deadline=None)
@given(nights=st.lists(night_strategy, min_size=1, max_size=4), seed=st.integers(0, 1000))
def test_property_ids_persist_deterministically_and_are_never_reused(nights: list, seed: int) -> None:
    previous, issued = None, None
    retired: set[str] = set()
    history = []
    for n, (labels, present, missing_export) in enumerate(nights):
        clusters = _partition(labels, present)
        run = f"r{n}"
        if previous is not None:
            absent = [f"r{i:02d}" for i in range(RECORDS) if not present[i] and missing_export[i]]
            previous = previous.with_columns(pl.col("record_key").is_in(absent).alias("dormant"))
        result = assign_entity_ids(_night(clusters, seed=seed), previous, run_id=run, issued=issued)
        again = assign_entity_ids(_night(clusters, seed=seed + 1), previous, run_id=run, issued=issued)
        ids = _ids(result)
        assert ids == _ids(again)  # rows and labels do not matter
        assert result.events.equals(again.events) and result.history.equals(again.history)
        # One id per cluster, distinct clusters distinct ids; dormant ids are not published.
        assert len({ids[c[0]] for c in clusters}) == len(clusters)
        assert all(len({ids[k] for k in c}) == 1 for c in clusters)
        assert set(result.dormant).isdisjoint(ids.values())
        assert set(result.held["entity_id"]) <= set(ids.values()) | set(result.dormant)
        # Never reused: no published or dormant id was ever retired; minted ids were never issued before.
        assert retired.isdisjoint(ids.values()) and retired.isdisjoint(result.dormant)
        if issued is not None:
            assert set(result.minted).isdisjoint(issued)
        if previous is not None:
            # A cluster equal to a previous person's record set keeps its id.
            before = previous.group_by("entity_id").agg(pl.col("record_key").sort())
            for entity, members in before.iter_rows():
                if members in [sorted(c) for c in clusters]:
                    assert ids[members[0]] == entity
            # Every previous id is published, dormant or retired tonight, and only one of them.
            published, dormant = set(ids.values()), set(result.dormant)
            gone = set(result.history["retired_id"])
            assert set(previous["entity_id"]) <= published | dormant | gone
            assert gone.isdisjoint(published | dormant)
        retired |= set(result.history["retired_id"])
        history.append(result.history)
        # Every retired id resolves to a live id (published or dormant) or to None (removed).
        whole = pl.concat(history)
        for old in retired:
            resolved = resolve_id(whole, old)
            assert resolved is None or resolved in set(ids.values()) | set(result.dormant)
        previous, issued = result.next_previous(), result.issued


def test_clashing_hashes_are_rehashed_deterministically(monkeypatch: pytest.MonkeyPatch) -> None:
    """With ids cut to two hex digits, 60 clusters clash among themselves and with issued ids."""
    import sachsong.store.identity as identity

    monkeypatch.setattr(identity, "ID_HEX", 2)
    clusters = [[f"k{i:03d}", f"k{i:03d}b"] for i in range(60)]
    taken = pl.Series([f"P{i:02x}" for i in range(0, 256, 3)])  # a third of the space issued already
    one = assign_entity_ids(_night(clusters, seed=1), None, run_id="r1", issued=taken)
    two = assign_entity_ids(_night(clusters, seed=2), None, run_id="r1", issued=taken)
    ids = _ids(one)
    assert ids == _ids(two)
    assert len(set(ids.values())) == 60
    assert set(ids.values()).isdisjoint(taken)

"""Stable record keys: own ids where the source has them, content otherwise; never row positions."""

from __future__ import annotations

import hashlib
import random
import unicodedata

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sachsong.schema import FINDING_SCHEMA
from sachsong.standardize.record_keys import add_record_keys, content_hash, sha256_hex

CONTENT = ["full_name", "date_of_birth", "sex", "citizen_id", "phone", "address"]
FAMILY = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Võ"]
GIVEN = ["Văn An", "Thị Bình", "Minh Châu", "Thị Dung", "Quốc Huy", "Thu Hà"]


def _people(n: int, seed: int) -> list[dict[str, str | None]]:
    rng = random.Random(seed)
    people = []
    for i in range(n):
        people.append(
            {
                "full_name": f"{rng.choice(FAMILY)} {rng.choice(GIVEN)}",
                "date_of_birth": f"{rng.randint(1, 28):02d}/{rng.randint(1, 12):02d}/{rng.randint(1940, 2010)}",
                "sex": rng.choice(["Nam", "Nữ"]),
                "citizen_id": f"0{rng.randint(10, 96)}{rng.randint(0, 3)}{rng.randint(0, 99):02d}{i:06d}",
                "phone": rng.choice([None, f"09{rng.randint(10_000_000, 99_999_999)}"]),
                "address": f"Thôn {rng.randint(1, 9)}, xã Hải {rng.choice(['An', 'Ba', 'Lăng'])}",
            }
        )
    return people


def _export(source_id: str, rows: list[dict[str, str | None]], ids: list[str | None] | None) -> pl.DataFrame:
    """A file as ingest gives it: rows numbered from 1; a missing id becomes `<source_id>-<row>`."""
    frame = pl.DataFrame(rows, schema={c: pl.String for c in CONTENT}).with_columns(
        pl.lit(source_id).alias("source_id"),
        pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias("source_row"),
        pl.lit(f"{source_id}.csv").alias("source_file"),
    )
    own = pl.Series("own", ids if ids is not None else [None] * len(rows), dtype=pl.String)
    return frame.with_columns(
        pl.coalesce(own, pl.format("{}-{}", pl.col("source_id"), pl.col("source_row"))).alias("record_id")
    )


def _table(*exports: pl.DataFrame) -> pl.DataFrame:
    return pl.concat(exports).with_row_index("row_uid").with_columns(pl.col("row_uid").cast(pl.Int64))


def _key_of(keyed: pl.DataFrame) -> dict[tuple, str]:
    """(source_id, content...) → record_key (content is unique per source in these tests)."""
    return {
        (row["source_id"], *(row[c] for c in CONTENT)): row["record_key"]
        for row in keyed.iter_rows(named=True)
    }


def test_sha256_matches_hashlib_in_order_on_many_rows() -> None:
    values = pl.Series("v", [f"giá trị {i}" if i % 97 else None for i in range(200_000)])
    hashed = sha256_hex(values)
    assert hashed.len() == values.len()
    for i in random.Random(3).sample(range(200_000), 200):
        expected = None if values[i] is None else hashlib.sha256(values[i].encode()).hexdigest()
        assert hashed[i] == expected


def test_own_ids_keyed_by_source_and_id_others_by_content() -> None:
    people = _people(6, seed=1)
    table = _table(
        _export("xa_a", people[:3], ["A1", "A2", "A3"]),
        _export("xa_b", people[3:], None),
    )
    keyed = add_record_keys(table, CONTENT).frame
    assert keyed.columns[: table.width] == table.columns  # input kept, keys appended
    assert keyed["key_kind"].to_list() == ["source_id"] * 3 + ["content"] * 3
    assert keyed["record_key"].str.starts_with("s:").head(3).all()
    assert keyed["record_key"].str.starts_with("c:").tail(3).all()
    assert keyed["record_key"].n_unique() == 6
    # The same id in another source is another record.
    other = add_record_keys(_table(_export("xa_c", people[:1], ["A1"])), CONTENT).frame
    assert other["record_key"][0] != keyed["record_key"][0]


def test_an_id_that_only_looks_positional_is_an_own_id() -> None:
    people = _people(2, seed=2)
    # The source's own id happens to read "xa_a-9", but the row is row 1: it came from the source.
    keyed = add_record_keys(_table(_export("xa_a", people, ["xa_a-9", None])), CONTENT).frame
    assert keyed["key_kind"].to_list() == ["source_id", "content"]


def test_keys_survive_reordering_reexport_and_a_file_added_before() -> None:
    people = _people(40, seed=3)
    night1 = _table(
        _export("xa_b", people[:20], [f"B{i:03d}" for i in range(20)]),
        _export("xa_c", people[20:], None),
    )
    keys1 = _key_of(add_record_keys(night1, CONTENT).frame)

    # Night 2: both exports re-exported in another order (rows renumbered), and a new export that sorts first.
    rng = random.Random(4)
    ids_b = [f"B{i:03d}" for i in range(20)]
    order_b = list(range(20))
    rng.shuffle(order_b)
    order_c = list(range(20, 40))
    rng.shuffle(order_c)
    night2 = _table(
        _export("xa_a", _people(5, seed=99), None),
        _export("xa_b", [people[i] for i in order_b], [ids_b[i] for i in order_b]),
        _export("xa_c", [people[i] for i in order_c], None),
    )
    keyed2 = add_record_keys(night2, CONTENT).frame
    keys2 = _key_of(keyed2)
    assert all(keys2[k] == v for k, v in keys1.items())
    # record_id of xa_c rows changed with their row numbers; the keys did not.
    assert keyed2.filter(pl.col("source_id") == "xa_c")["record_id"].to_list() != [
        f"xa_c-{i}" for i in order_c
    ]


def test_content_key_ignores_case_spacing_and_unicode_form() -> None:
    person = _people(1, seed=5)[0]
    person["full_name"] = "Nguyễn Thị Thuý"
    variant = dict(person)
    variant["full_name"] = unicodedata.normalize("NFD", "  NGUYỄN   thị thuý ")
    a = add_record_keys(_table(_export("xa_a", [person], None)), CONTENT).frame["record_key"][0]
    b = add_record_keys(_table(_export("xa_a", [variant], None)), CONTENT).frame["record_key"][0]
    assert a == b
    edited = dict(person, date_of_birth="02/02/1990")
    c = add_record_keys(_table(_export("xa_a", [edited], None)), CONTENT).frame["record_key"][0]
    assert c != a
    # Missing and empty are the same; a missing value is not the text "~".
    d = add_record_keys(_table(_export("xa_a", [dict(person, phone=None)], None)), CONTENT).frame
    e = add_record_keys(_table(_export("xa_a", [dict(person, phone="")], None)), CONTENT).frame
    f = add_record_keys(_table(_export("xa_a", [dict(person, phone="~")], None)), CONTENT).frame
    assert d["record_key"][0] == e["record_key"][0] != f["record_key"][0]


def test_duplicates_numbered_by_content_and_reported() -> None:
    people = _people(6, seed=6)
    rows_a = [people[0], people[1], people[2], people[3]]
    ids_a = ["A1", "A1", "A1", "A2"]  # one id used three times, on different people
    rows_c = [people[4], people[4], people[4], people[5]]  # identical rows in a source without ids
    table = _table(_export("xa_a", rows_a, ids_a), _export("xa_c", rows_c, None))
    keyed = add_record_keys(table, CONTENT)
    keys = keyed.frame["record_key"]
    assert keys.n_unique() == 8
    # The repeated id: one base, each row's key carrying its own content hash.
    base = keys[0].split("#")[0]
    assert keys.head(3).str.contains(rf"^{base}#[0-9a-f]{{8}}$").all()
    # The identical rows: the key, then #2, #3.
    same = keys[4]
    assert sorted(keys.slice(4, 3).to_list()) == [same, f"{same}#2", f"{same}#3"]

    dup = keyed.findings.filter(pl.col("rule_id") == "record_key_duplicate")
    assert sorted(dup["row_uid"].to_list()) == [0, 1, 2, 4, 5, 6]
    assert set(dup["criterion"]) == {"clean"} and set(dup["severity"]) == {"warning"}
    assert dup["value"].is_null().all()
    assert keyed.findings.schema == pl.Schema(FINDING_SCHEMA)

    # The numbering follows content, not rows: reversed rows give each person the same key.
    reversed_table = _table(_export("xa_a", rows_a[::-1], ids_a[::-1]), _export("xa_c", rows_c[::-1], None))
    again = add_record_keys(reversed_table, CONTENT).frame
    by_person = dict(zip(table["full_name"] + table["citizen_id"], keys, strict=True))
    again_by_person = dict(zip(again["full_name"] + again["citizen_id"], again["record_key"], strict=True))
    assert by_person == again_by_person


def test_editing_or_adding_a_row_under_a_repeated_id_moves_no_key() -> None:
    people = _people(4, seed=12)
    before = add_record_keys(_table(_export("xa_a", people[:2], ["A1", "A1"])), CONTENT).frame
    edited = [dict(people[0], phone="0911111111"), people[1]]
    added = [people[2], people[0], people[1]]
    for rows, ids in ((edited, ["A1", "A1"]), (added, ["A1", "A1", "A1"])):
        after = add_record_keys(_table(_export("xa_a", rows, ids)), CONTENT).frame
        old = dict(zip(before["citizen_id"], before["record_key"], strict=True))
        new = dict(zip(after["citizen_id"], after["record_key"], strict=True))
        # The rows not edited keep their keys; no key now names another person's row.
        assert new[people[1]["citizen_id"]] == old[people[1]["citizen_id"]]
        for citizen, key in new.items():
            assert key not in old.values() or old.get(citizen) == key


def test_source_without_ids_is_one_dataset_finding_partial_ids_are_row_findings() -> None:
    people = _people(7, seed=7)
    table = _table(
        _export("xa_a", people[:3], ["A1", "A2", "A3"]),
        _export("xa_b", people[3:5], ["B1", None]),
        _export("xa_c", people[5:], None),
    )
    findings = add_record_keys(table, CONTENT).findings
    whole = findings.filter(pl.col("rule_id") == "source_without_ids")
    assert whole.select("source_id", "criterion", "severity").rows() == [("xa_c", "sufficient", "warning")]
    assert whole["row_uid"].is_null().all() and whole["record_id"].is_null().all()
    partial = findings.filter(pl.col("rule_id") == "record_without_id")
    assert partial.select("row_uid", "source_id").rows() == [(4, "xa_b")]
    assert findings.filter(pl.col("source_id") == "xa_a").is_empty()


def test_messages_never_carry_a_value() -> None:
    people = _people(4, seed=8)
    table = _table(
        _export("xa_a", [people[0], people[1]], ["079123456789", "079123456789"]),
        _export("xa_c", [people[2], people[2]], None),
    )
    findings = add_record_keys(table, CONTENT).findings
    assert findings.height == 5
    text = " ".join(findings["message"].to_list())
    for person in people[:3]:
        for value in person.values():
            if value:
                assert value not in text
    assert "079123456789" not in text


def test_positional_content_columns_are_refused() -> None:
    table = _table(_export("xa_a", _people(1, seed=9), None))
    with pytest.raises(ValueError, match="record_id"):
        add_record_keys(table, ["full_name", "record_id"])
    with pytest.raises(ValueError, match="nickname"):
        add_record_keys(table, ["full_name", "nickname"])


def test_content_hash_exact_and_normalized() -> None:
    frame = pl.DataFrame({"a": ["Hoà", "hoà ", None], "b": ["x", "x", "x"]})
    exact = content_hash(frame, ["a", "b"])
    folded = content_hash(frame, ["a", "b"], normalize=True)
    assert exact[0] != exact[1] and folded[0] == folded[1]
    assert exact[2] is not None and exact[2] != exact[0]


@settings(max_examples=40, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            st.sampled_from(["An", "Bình", "Châu", "an"]),
            st.sampled_from(["1990", "1991"]),
            st.sampled_from([None, "K1", "K2"]),
        ),
        min_size=1,
        max_size=12,
    ),
    seed=st.integers(0, 10_000),
)
def test_property_keys_are_a_function_of_content_and_id_not_of_order(rows: list[tuple], seed: int) -> None:
    """Any shuffle of an export (rows renumbered) gives the same multiset of (content, id, key) triples."""

    def keyed(order: list[int]) -> list[tuple]:
        people = [
            {
                "full_name": rows[i][0],
                "date_of_birth": rows[i][1],
                "sex": None,
                "citizen_id": None,
                "phone": None,
                "address": None,
            }
            for i in order
        ]
        table = _table(_export("xa_a", people, [rows[i][2] for i in order]))
        frame = add_record_keys(table, CONTENT).frame
        own = frame["key_kind"] == "source_id"
        ids = frame["record_id"].zip_with(own, pl.Series([None] * frame.height, dtype=pl.String))
        return sorted(
            zip(frame["full_name"], frame["date_of_birth"], ids, frame["record_key"], strict=True), key=str
        )

    order = list(range(len(rows)))
    shuffled = order[:]
    random.Random(seed).shuffle(shuffled)
    first, second = keyed(order), keyed(shuffled)
    assert len({k for *_, k in first}) == len(rows)  # unique keys
    # Identical rows are interchangeable: compare the (content, id) → key multisets.
    assert first == second

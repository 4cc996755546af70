"""Persistent entity (person) ids: tonight's clusters matched to last night's ids by the records they share.

`assign_entity_ids(current, previous, run_id=..., prefix="P", issued=None, anchors=())`:

- `current`: tonight's `record_key, cluster_id` (cluster labels of this run only, any text) and, optionally, the
  anchor columns named in `anchors` (e.g. `cccd`; several fields packed into one column for a compound anchor).
- `previous`: last night's `record_key, entity_id` (None on the first night), the records published last night
  plus the records held for missing exports (see *Dormant*), with the same anchor columns when anchors are used,
  and two optional Boolean columns: `dormant` (the record's export is missing tonight: hold it) and `held` (the
  record was already held last night, not published). `IdAssignment.next_previous()` builds it for the next night.
- `issued`: every id ever issued in this store, **in issue order** (never reused; the order breaks merge ties).

Rules, applied in this order, all deterministic and independent of row order and of the cluster labels:

1. **Home of a previous id**: the tonight cluster holding most of its records; ties → the cluster holding the
   smallest `record_key` among them.
2. **Keep**: a cluster that is the home of exactly one previous id keeps that id.
3. **Merge**: a cluster that is the home of several previous ids keeps the *survivor*, the one sharing most
   records with it; ties → the id issued first (its position in `issued`; ids missing from `issued` come after,
   by text). The others are retired, reason `merged`, survivor recorded in `history`.
4. **Split**: the parts of a previous id outside its home go with their own cluster: to that cluster's id when
   it is the home of another previous id, else to a new id. The split is an event (`split` on the kept id,
   `created` with the origin id on each new one), not a retirement.
5. **Anchors**: a cluster sharing no record with any previous id tries the anchors in the given order: when its
   anchor values point to exactly one previous id, that id has no home tonight, and no other such cluster
   points to it, the cluster takes that id (an edited record in a source without ids gets a new content key;
   the person keeps the id). Otherwise a new id.
6. **Dormant**: previous records marked `dormant` and absent tonight are held (`IdAssignment.held`) under their
   id (or its survivor). An id with no home and no anchor tonight but held records is dormant: not retired, not
   reused, not published tonight; it comes back (`revived`) when its records or an anchor do.
7. **Removed**: a previous id with no home, no anchor and no held record is retired, reason `removed`, survivor
   null.

New ids are opaque: `prefix` + the first 16 hex digits of SHA-256(the cluster's sorted record keys); an id
already issued, already held by a previous record or minted twice tonight is hashed again with a counter, so an
id is never handed to anyone else. Same inputs → same ids: a full rebuild, even into a new store, gives the same
ids to the same groups of records (the run id does not enter: two stores built from the same exports agree).

Events (`entity_id, event, related_ids, run_id`), at most one of each kind per id and run:
`created` (related: the previous ids whose records it took, empty for a new person), `kept` (an id carried over
whose record set changed, or recovered by an anchor; unchanged persons give no event), `merged` (survivor;
related: the retired ids), `split` (related: the ids of the clusters that took its other records), `retired`
(related: the survivor, or empty when removed), `dormant` (the id became dormant tonight), `revived` (it was held
last night and is published tonight).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import polars as pl

from sachsong.standardize.record_keys import sha256_hex

HISTORY_SCHEMA: dict[str, pl.DataType] = {
    "retired_id": pl.String(),
    "survivor_id": pl.String(),
    "run_id": pl.String(),
    "reason": pl.String(),
}
EVENT_SCHEMA: dict[str, pl.DataType] = {
    "entity_id": pl.String(),
    "event": pl.String(),
    "related_ids": pl.List(pl.String()),
    "run_id": pl.String(),
}
EVENTS: tuple[str, ...] = ("created", "kept", "merged", "split", "retired", "dormant", "revived")
ID_HEX = 16


@dataclass
class IdAssignment:
    records: pl.DataFrame  # current's columns + `entity_id` (String), in current's row order
    history: pl.DataFrame  # HISTORY_SCHEMA: the ids retired tonight
    events: pl.DataFrame  # EVENT_SCHEMA
    dormant: pl.Series  # ids held dormant tonight (not published, not retired, not reusable)
    held: pl.DataFrame  # previous records held for missing exports: previous' columns, entity_id resolved
    minted: pl.Series  # ids issued tonight, sorted
    issued: pl.Series  # `issued` + previous ids it lacked + `minted`: every id issued so far, in issue order
    clusters: pl.DataFrame  # `cluster_id` (String) → `entity_id`: one row per tonight cluster

    def next_previous(self) -> pl.DataFrame:
        """Tomorrow's `previous`: tonight's records (`held` false) and the held ones (`held` true).

        The caller sets `dormant` on it for the records of exports missing tomorrow.
        """
        published = self.records.drop("cluster_id").with_columns(pl.lit(False).alias("held"))
        held = self.held.drop("dormant", strict=False).with_columns(pl.lit(True).alias("held"))
        return pl.concat([published, held], how="diagonal_relaxed")

    def describe(self) -> str:
        counts = self.events.group_by("event").len().sort("event").iter_rows()
        summary = ", ".join(f"{event}: {n}" for event, n in counts) or "no change"
        persons = self.records["entity_id"].n_unique()
        return f"{persons} ids published, {self.dormant.len()} dormant, {self.minted.len()} minted; {summary}"


def _validated(frame: pl.DataFrame, name: str, needed: Sequence[str]) -> None:
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise ValueError(f"assign_entity_ids: {name} lacks column(s) {', '.join(missing)}")
    if frame["record_key"].null_count():
        raise ValueError(f"assign_entity_ids: {name} has null record_key values")
    if frame["record_key"].n_unique() != frame.height:
        raise ValueError(f"assign_entity_ids: {name} has repeated record_key values")


def _mint(members: pl.DataFrame, run_id: str, prefix: str, taken: pl.Series) -> pl.DataFrame:
    """`members` (record_key, cluster_id) of the clusters needing an id → (cluster_id, entity_id)."""
    # Sorted once, then joined per cluster in that order (a sort inside each group costs more).
    texts = (
        members.sort("record_key")
        .group_by("cluster_id")
        .agg(pl.col("record_key").str.join("\n").alias("_keys"), pl.col("record_key").first().alias("_first"))
        .with_columns(pl.col("_keys").alias("_text"))
        .drop("_keys")
    )
    ids = texts.with_columns(
        (pl.lit(prefix) + sha256_hex(texts["_text"]).str.slice(0, ID_HEX)).alias("entity_id"),
        pl.lit(0, dtype=pl.Int32).alias("_counter"),
    )
    # A clash (an id issued before, or one minted twice tonight: the cluster with the smallest key keeps it) is
    # hashed again with a counter. Clashes are rare, so the loop runs once in practice.
    while True:
        # The taken ids among tonight's candidates: a lookup in the few candidates, not in every issued id.
        taken_here = taken.filter(taken.is_in(ids["entity_id"].implode()))
        clash = ids.select(
            (
                pl.col("entity_id").is_in(taken_here.implode())
                | (pl.col("_first") != pl.col("_first").min().over("entity_id"))
            ).alias("clash")
        )["clash"]
        if not clash.any():
            break
        counter = ids["_counter"] + clash.cast(pl.Int32)
        again = ids.select(pl.format("{}#{}", pl.col("_text"), pl.lit(counter)).alias("t"))["t"]
        rehashed = pl.lit(prefix) + sha256_hex(again).str.slice(0, ID_HEX)
        ids = ids.with_columns(
            pl.when(clash).then(rehashed).otherwise(pl.col("entity_id")).alias("entity_id"),
            counter.alias("_counter"),
        )
    return ids.select("cluster_id", "entity_id")


def assign_entity_ids(
    current: pl.DataFrame,
    previous: pl.DataFrame | None,
    *,
    run_id: str,
    prefix: str = "P",
    issued: pl.Series | None = None,
    anchors: Sequence[str] = (),
) -> IdAssignment:
    """Give each of tonight's clusters a persistent id (rules in the module docstring)."""
    _validated(current, "current", ["record_key", "cluster_id", *anchors])
    if previous is None:
        previous = pl.DataFrame(schema={"record_key": pl.String(), "entity_id": pl.String()})
    _validated(previous, "previous", ["record_key", "entity_id"])
    if previous["entity_id"].null_count():
        raise ValueError("assign_entity_ids: previous has null entity_id values")
    issued = pl.Series("entity_id", [], dtype=pl.String) if issued is None else issued.cast(pl.String)

    cur = current.select(pl.col("record_key").cast(pl.String), pl.col("cluster_id").cast(pl.String))
    prev = previous.select(
        pl.col("record_key").cast(pl.String),
        pl.col("entity_id").cast(pl.String),
        (pl.col("dormant") if "dormant" in previous.columns else pl.lit(False))
        .fill_null(False)
        .alias("dormant"),
        (pl.col("held") if "held" in previous.columns else pl.lit(False)).fill_null(False).alias("held"),
    )
    # Each previous id once: what the later rules ask of last night's records, in one pass over them.
    previous_ids = prev.group_by("entity_id").agg(
        (~pl.col("held")).sum().alias("before"), pl.col("held").all().alias("was_held")
    )

    # 1. Shared records of each (previous id, tonight cluster), and each previous id's home cluster.
    # Tonight's records with last night's id (null: new tonight), read once for the clusters' sizes, the clusters
    # made only of new records, and the records each (previous id, cluster) pair shares.
    linked = cur.join(prev.select("record_key", "entity_id"), on="record_key", how="left")
    sizes = linked.group_by("cluster_id").agg(
        pl.len().alias("size"), pl.col("entity_id").null_count().alias("fresh")
    )
    shared = linked.filter(pl.col("entity_id").is_not_null())
    overlap = shared.group_by("entity_id", "cluster_id").agg(pl.len().alias("n"))
    # Most ids overlap one cluster and most clusters are the home of one id: only the contested rows are sorted,
    # and only they need their smallest shared key (the tie-break).
    contested = overlap.select(pl.len().over("entity_id") > 1).to_series()
    spread = overlap.filter(contested)
    min_keys = (
        shared.filter(pl.col("entity_id").is_in(spread["entity_id"].implode()))
        .group_by("entity_id", "cluster_id")
        .agg(pl.col("record_key").min().alias("min_key"))
    )
    homes = pl.concat(
        [
            overlap.filter(~contested),
            spread.join(min_keys, on=["entity_id", "cluster_id"], how="left")
            .sort(["entity_id", "n", "min_key"], descending=[False, True, False])
            .unique("entity_id", keep="first")
            .drop("min_key"),
        ]
    )
    # 2–3. Each cluster keeps the previous id whose home it is; several → the survivor, the others merged.
    contested = homes.select(pl.len().over("cluster_id") > 1).to_series()
    rivals = homes.filter(contested)
    # Issue positions of the rival ids only (the first one when `issued` repeats an id).
    order = (
        pl.DataFrame({"entity_id": issued})
        .with_row_index("_issue")
        .filter(pl.col("entity_id").is_in(rivals["entity_id"].implode()))
        .unique("entity_id", keep="first")
    )
    ranked = pl.concat(
        [
            homes.filter(~contested).with_columns(pl.col("entity_id").alias("survivor")),
            rivals.join(order, on="entity_id", how="left")
            .sort(
                ["cluster_id", "n", "_issue", "entity_id"],
                descending=[False, True, False, False],
                nulls_last=True,
            )
            .with_columns(pl.col("entity_id").first().over("cluster_id").alias("survivor"))
            .drop("_issue"),
        ]
    )
    kept_shared = ranked.filter(pl.col("entity_id") == pl.col("survivor")).select("cluster_id", "entity_id", "n")
    kept = kept_shared.drop("n")
    merged = ranked.filter(pl.col("entity_id") != pl.col("survivor")).select(
        pl.col("entity_id").alias("retired_id"), pl.col("survivor").alias("survivor_id")
    )

    # 5. Clusters sharing nothing with a previous id try the anchors against ids without a home tonight.
    clusters = sizes.select("cluster_id")
    homeless_ids = previous_ids.select("entity_id").join(homes, on="entity_id", how="anti")
    open_clusters = sizes.filter(pl.col("fresh") == pl.col("size")).select("cluster_id")
    usable = [anchor for anchor in anchors if anchor in previous.columns]
    # The records of the clusters still open, taken once: the anchors below look only at them.
    open_records = (
        current.select(
            pl.col("cluster_id").cast(pl.String), *(pl.col(anchor).cast(pl.String) for anchor in usable)
        ).join(open_clusters, on="cluster_id", how="semi")
        if usable and not open_clusters.is_empty() and not homeless_ids.is_empty()
        else None
    )
    anchored_parts: list[pl.DataFrame] = []
    for anchor in usable:
        if open_records is None or open_clusters.is_empty() or homeless_ids.is_empty():
            continue
        tonight = (
            open_records.select("cluster_id", pl.col(anchor).alias("_v"))
            .join(open_clusters, on="cluster_id", how="semi")
            .drop_nulls()
            .unique()
        )
        # Only previous values some open cluster holds can pair (a cluster's count is over all previous ids).
        before = previous.select(
            pl.col("entity_id").cast(pl.String), pl.col(anchor).cast(pl.String).alias("_v")
        ).filter(pl.col("_v").is_in(tonight["_v"].implode()))
        before = before.drop_nulls().unique()
        pairs = tonight.join(before, on="_v", how="inner").select("cluster_id", "entity_id").unique()
        # Exactly one previous id per cluster (among all previous ids), that id homeless, one cluster per id.
        pairs = pairs.filter(pl.len().over("cluster_id") == 1)
        pairs = pairs.join(homeless_ids, on="entity_id", how="semi").filter(pl.len().over("entity_id") == 1)
        if pairs.is_empty():
            continue
        anchored_parts.append(pairs)
        open_clusters = open_clusters.join(pairs, on="cluster_id", how="anti")
        homeless_ids = homeless_ids.join(pairs, on="entity_id", how="anti")
    anchored = (
        pl.concat(anchored_parts)
        if anchored_parts
        else pl.DataFrame(schema={"cluster_id": pl.String(), "entity_id": pl.String()})
    )

    # 4. Clusters still without an id (split parts and new persons) get a new one.
    claimed = pl.concat([kept, anchored])
    needing = clusters.join(claimed, on="cluster_id", how="anti")
    taken = pl.concat([issued, previous_ids["entity_id"]])
    minted = _mint(cur.join(needing, on="cluster_id", how="semi"), run_id, prefix, taken)
    assigned = pl.concat([claimed, minted])

    records = (
        current.drop("entity_id", strict=False)
        .with_columns(pl.col("cluster_id").cast(pl.String))
        .join(assigned, on="cluster_id", how="left", maintain_order="left")
    )

    # 6. Held records of missing exports; their id resolved through tonight's merges.
    to_survivor = merged.rename({"retired_id": "entity_id"})
    dormant_records = previous.filter(prev["dormant"]).with_columns(
        pl.col("record_key").cast(pl.String), pl.col("entity_id").cast(pl.String)
    )
    # Tonight's keys among the few dormant ones: a probe of tonight's records, not a table of them.
    back = cur.filter(pl.col("record_key").is_in(dormant_records["record_key"].implode())).select("record_key")
    held = (
        dormant_records.join(back, on="record_key", how="anti")
        .join(to_survivor, on="entity_id", how="left")
        .with_columns(pl.coalesce("survivor_id", "entity_id").alias("entity_id"))
        .drop("survivor_id")
    )
    published = assigned.select("entity_id").unique()
    dormant_ids = held.select("entity_id").unique().join(published, on="entity_id", how="anti")

    # 7. Removed: no home, no anchor, nothing held.
    removed = homeless_ids.join(dormant_ids, on="entity_id", how="anti").select(
        pl.col("entity_id").alias("retired_id"), pl.lit(None, dtype=pl.String).alias("survivor_id")
    )
    history = (
        pl.concat(
            [
                merged.with_columns(pl.lit("merged").alias("reason")),
                removed.with_columns(pl.lit("removed").alias("reason")),
            ]
        )
        .with_columns(pl.lit(run_id).alias("run_id"))
        .select(list(HISTORY_SCHEMA))
        .cast(HISTORY_SCHEMA)
        .sort("retired_id")
    )

    events = _events(
        previous_ids=previous_ids,
        sizes=sizes.select("cluster_id", "size"),
        overlap=overlap,
        spread_ids=spread["entity_id"],
        kept_shared=kept_shared,
        anchored=anchored,
        minted=minted,
        merged=merged,
        removed=removed,
        dormant_ids=dormant_ids,
        published=published,
        run_id=run_id,
    )

    new_ids = minted["entity_id"].sort()
    missing_from_issued = (
        previous_ids.select("entity_id")
        .join(pl.DataFrame({"entity_id": issued}), on="entity_id", how="anti")["entity_id"]
        .sort()
    )
    all_issued = pl.concat([issued, missing_from_issued, new_ids]).alias("entity_id")
    return IdAssignment(
        records=records,
        history=history,
        events=events,
        dormant=dormant_ids["entity_id"].sort(),
        held=held,
        minted=new_ids,
        issued=all_issued,
        clusters=assigned,
    )


def _events(
    *,
    previous_ids: pl.DataFrame,
    sizes: pl.DataFrame,
    overlap: pl.DataFrame,
    spread_ids: pl.Series,
    kept_shared: pl.DataFrame,
    anchored: pl.DataFrame,
    minted: pl.DataFrame,
    merged: pl.DataFrame,
    removed: pl.DataFrame,
    dormant_ids: pl.DataFrame,
    published: pl.DataFrame,
    run_id: str,
) -> pl.DataFrame:
    empty_list = pl.lit([], dtype=pl.List(pl.String))
    kept = kept_shared.drop("n")
    assigned = pl.concat([kept, anchored, minted])
    # Final id of the cluster each previous id's records went to, for the flows an event names: into a new id
    # (created), or out of a kept id's home (split: only an id whose records went to several clusters has any).
    flows = overlap.filter(
        pl.col("entity_id").is_in(spread_ids.implode()) | pl.col("cluster_id").is_in(minted["cluster_id"].implode())
    )
    flows = flows.join(
        assigned.filter(pl.col("cluster_id").is_in(flows["cluster_id"].implode())).rename({"entity_id": "to_id"}),
        on="cluster_id",
        how="left",
    )

    created = (
        minted.join(
            flows.select("cluster_id", pl.col("entity_id").alias("from_id")), on="cluster_id", how="left"
        )
        .group_by("entity_id")
        .agg(pl.col("from_id").drop_nulls().unique().sort().alias("related_ids"))
    )
    created = created.with_columns(pl.lit("created").alias("event"))

    merged_events = (
        merged.group_by(pl.col("survivor_id").alias("entity_id"))
        .agg(pl.col("retired_id").sort().alias("related_ids"))
        .with_columns(pl.lit("merged").alias("event"))
    )
    retired = pl.concat(
        [
            merged.select(
                pl.col("retired_id").alias("entity_id"), pl.concat_list("survivor_id").alias("related_ids")
            ),
            removed.select(pl.col("retired_id").alias("entity_id"), empty_list.alias("related_ids")),
        ]
    ).with_columns(pl.lit("retired").alias("event"))

    # Split: a previous id still published whose records went to more than one cluster.
    live_ids = kept.select("entity_id")
    split = (
        flows.join(live_ids, on="entity_id", how="semi")
        .filter(pl.col("to_id") != pl.col("entity_id"))
        .group_by("entity_id")
        .agg(pl.col("to_id").unique().sort().alias("related_ids"))
        .with_columns(pl.lit("split").alias("event"))
    )

    # Kept with a changed record set: tonight's cluster size, shared records, last night's published records.
    carried = (
        kept_shared.join(sizes, on="cluster_id", how="left")
        .join(previous_ids.select("entity_id", "before"), on="entity_id", how="left")
        .join(merged_events.select("entity_id"), on="entity_id", how="anti")
        .join(split.select("entity_id"), on="entity_id", how="anti")
        .filter((pl.col("n") != pl.col("size")) | (pl.col("n") != pl.col("before").fill_null(0)))
        .select("entity_id")
    )
    kept_events = (
        pl.concat([carried, anchored.select("entity_id")])
        .unique()
        .with_columns(empty_list.alias("related_ids"), pl.lit("kept").alias("event"))
    )

    # Held last night: every previous record of the id was held.
    held_before = previous_ids.filter(pl.col("was_held")).select("entity_id")
    dormant = dormant_ids.join(held_before, on="entity_id", how="anti").with_columns(
        empty_list.alias("related_ids"), pl.lit("dormant").alias("event")
    )
    revived = published.join(held_before, on="entity_id", how="semi").with_columns(
        empty_list.alias("related_ids"), pl.lit("revived").alias("event")
    )

    columns = ["entity_id", "event", "related_ids"]
    parts = [created, kept_events, merged_events, split, retired, dormant, revived]
    events = pl.concat([p.select(columns).cast({"related_ids": pl.List(pl.String)}) for p in parts])
    rank = {event: i for i, event in enumerate(EVENTS)}
    return (
        events.with_columns(pl.lit(run_id).alias("run_id"))
        .sort([pl.col("event").replace_strict(rank, return_dtype=pl.Int8), "entity_id"])
        .select(list(EVENT_SCHEMA))
        .cast(EVENT_SCHEMA)
    )


def resolve_id(history: pl.DataFrame, any_id: str) -> str | None:
    """The id now standing for `any_id`: itself when never retired, else its survivor's, following chains of
    merges; None when the chain ends in a removal."""
    return resolve_ids(history, pl.Series("entity_id", [any_id], dtype=pl.String))[0]


def resolve_ids(history: pl.DataFrame, ids: pl.Series) -> pl.Series:
    """`resolve_id` for many ids at once: one join per step of the longest chain."""
    links = history.select(
        pl.col("retired_id").cast(pl.String), pl.col("survivor_id").cast(pl.String)
    ).unique("retired_id", keep="last")
    frame = pl.DataFrame({"current": ids.cast(pl.String)})
    for _ in range(links.height + 1):
        retired = frame["current"].is_in(links["retired_id"].implode()).fill_null(False)
        if not retired.any():
            return frame["current"].alias(ids.name)
        step = frame.join(links, left_on="current", right_on="retired_id", how="left", maintain_order="left")
        frame = frame.with_columns(
            pl.when(retired).then(step["survivor_id"]).otherwise(pl.col("current")).alias("current")
        )
    raise ValueError("resolve_ids: the id history has a cycle")

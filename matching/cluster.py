"""Clustering that does not chain households together.

1. Connected components over the auto-link edges (and steward must-links), by scipy's sparse-graph
   `connected_components` (C code, linear time; no per-record Python).
2. A component is *in conflict* when it holds two different CCCDs, a cannot-link pair (a hard rule, a strongly
   negative score, or a steward's "different"), or more records than any one person plausibly has. Only those
   components are re-clustered, by a cannot-link-aware agglomerative union: edges strongest first, and a merge is
   refused when it would put two records that cannot be the same person in one cluster. The loop runs over the
   edges of conflicted components only (a small domain), never over all records.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import polars as pl
from scipy.sparse import coo_matrix, csgraph

DEFAULT_MAX_CLUSTER_SIZE = 8


def connected_components(nodes: pl.Series, edges: pl.DataFrame) -> pl.DataFrame:
    """`row_uid, component` for every node (in the order given); a component is labelled by its smallest
    row_uid. Edges naming an unknown row_uid are ignored. scipy's union-find in C: linear in nodes + edges."""
    uids = nodes.cast(pl.Int64).to_numpy()
    n = len(uids)
    if edges.height == 0 or n == 0:
        return pl.DataFrame(
            {"row_uid": uids, "component": uids}, schema={"row_uid": pl.Int64, "component": pl.Int64}
        )
    position_of = _position_lookup(uids)
    left = position_of(edges["left_uid"].cast(pl.Int64).to_numpy())
    right = position_of(edges["right_uid"].cast(pl.Int64).to_numpy())
    known = (left >= 0) & (right >= 0)
    graph = coo_matrix(
        (np.ones(int(known.sum()), dtype=np.int8), (left[known], right[known])), shape=(n, n)
    ).tocsr()
    _, labels = csgraph.connected_components(graph, directed=False)
    smallest = np.full(labels.max() + 1, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(smallest, labels, uids)
    return pl.DataFrame(
        {"row_uid": uids, "component": smallest[labels]}, schema={"row_uid": pl.Int64, "component": pl.Int64}
    )


def _position_lookup(uids: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """uids asked → their index in `uids` (the first, for a repeated uid), -1 for a uid not there.

    A direct table when the uids are dense (the flow's are 0..N; int32 positions: tens of millions of links and
    59M cannot-links are looked up at 10M records), else a binary search over the sorted uids.
    """
    n = len(uids)
    if not n:
        return lambda asked: np.full(len(asked), -1, dtype=np.int64)
    low, high = int(uids.min()), int(uids.max())
    if high - low < 4 * n + 1024:
        table = np.full(high - low + 1, -1, dtype=np.int32 if n < 2**31 else np.int64)
        table[uids[::-1] - low] = np.arange(n - 1, -1, -1)  # written last, the first index of a uid wins

        def direct(asked: np.ndarray) -> np.ndarray:
            found = np.full(len(asked), -1, dtype=table.dtype)
            inside = (asked >= low) & (asked <= high)
            found[inside] = table[asked[inside] - low]
            return found

        return direct
    order = np.argsort(uids, kind="stable")
    sorted_uids = uids[order]

    def searched(asked: np.ndarray) -> np.ndarray:
        at = np.minimum(np.searchsorted(sorted_uids, asked), n - 1)
        return np.where(sorted_uids[at] == asked, order[at], -1)

    return searched


def _cccd_slip(a: str, b: str) -> bool:
    """Two CCCD strings one typing slip apart (as `compare` judges them): one digit, two adjacent digits swapped,
    or only the century/sex and year digits (positions 4-6: same birth province, same serial)."""
    apart = [i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y]
    swapped = (
        len(apart) == 2
        and apart[1] == apart[0] + 1
        and a[apart[0]] == b[apart[1]]
        and a[apart[1]] == b[apart[0]]
    )
    return len(apart) <= 1 or swapped or (a[:3] == b[:3] and a[6:] == b[6:])


def _cccds_compatible(left: set[str], right: set[str]) -> bool:
    """Two clusters may hold one person unless they carry CCCDs further apart than a typing slip (two different
    numbers are two people)."""
    return all(_cccd_slip(a, b) for a in left for b in right)


class _Clusters:
    """Union-find with per-cluster cannot-link sets and CCCD sets (used only inside conflicted components)."""

    def __init__(self, cannot: dict[int, set[int]], cccd: dict[int, str], max_size: int) -> None:
        self.parent: dict[int, int] = {}
        self.members: dict[int, set[int]] = {}
        self.cannot = cannot
        self.cannot_of: dict[int, set[int]] = {}
        self.cccds: dict[int, set[str]] = {}
        self.cccd = cccd
        self.max_size = max_size

    def find(self, x: int) -> int:
        if x not in self.parent:
            self.parent[x] = x
            self.members[x] = {x}
            self.cannot_of[x] = set(self.cannot.get(x, ()))
            self.cccds[x] = {self.cccd[x]} if x in self.cccd else set()
        root = x
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[x] != root:
            self.parent[x], x = root, self.parent[x]
        return root

    def try_union(self, a: int, b: int, forced: bool = False) -> bool:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return True
        if not forced:
            if self.members[ra] & self.cannot_of[rb] or self.members[rb] & self.cannot_of[ra]:
                return False
            if not _cccds_compatible(self.cccds[ra], self.cccds[rb]):
                return False
            if len(self.members[ra]) + len(self.members[rb]) > self.max_size:
                return False
        if len(self.members[ra]) < len(self.members[rb]):
            ra, rb = rb, ra
        self.parent[rb] = ra
        self.members[ra] |= self.members.pop(rb)
        self.cannot_of[ra] |= self.cannot_of.pop(rb)
        self.cccds[ra] |= self.cccds.pop(rb)
        return True


# Cannot-link pairs looked up per slice of this many: in a big city nearly every candidate pair is one, and
# looking them all up at once would hold them all.
CANNOT_LINK_SLICE = 4_000_000


_NOT_A_NODE = np.iinfo(np.int64).min


def _cannot_links_within(cannot_links: pl.DataFrame, components: pl.DataFrame) -> pl.DataFrame:
    """The cannot-link pairs whose two records fell in one component: `left_uid, right_uid, lc` (the component).

    Components looked up in numpy (`_position_lookup`) a slice at a time, not two joins over every pair: at 10M records those joins
    held 4 GB for 59M cannot-links, of which a few thousand fall inside a component. Pairs naming a record that is
    not a node are ignored.
    """
    position_of = _position_lookup(components["row_uid"].cast(pl.Int64).to_numpy())
    labels = components["component"].to_numpy()

    def component_of(asked: np.ndarray) -> np.ndarray:
        position = position_of(asked)
        return np.where(position >= 0, labels[position], _NOT_A_NODE)

    found = []
    for start in range(0, cannot_links.height, CANNOT_LINK_SLICE):
        part = cannot_links.slice(start, CANNOT_LINK_SLICE)
        left = part["left_uid"].cast(pl.Int64).to_numpy()
        right = part["right_uid"].cast(pl.Int64).to_numpy()
        left_component, right_component = component_of(left), component_of(right)
        inside = (left_component != _NOT_A_NODE) & (left_component == right_component)
        found.append(
            pl.DataFrame(
                {"left_uid": left[inside], "right_uid": right[inside], "lc": left_component[inside]},
                schema={"left_uid": pl.Int64, "right_uid": pl.Int64, "lc": pl.Int64},
            )
        )
    if not found:
        return pl.DataFrame(schema={"left_uid": pl.Int64, "right_uid": pl.Int64, "lc": pl.Int64})
    return pl.concat(found)


def cluster_records(
    nodes: pl.DataFrame,
    edges: pl.DataFrame,
    cannot_links: pl.DataFrame,
    max_cluster_size: int = DEFAULT_MAX_CLUSTER_SIZE,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Cluster records.

    nodes: `row_uid, cccd`; edges: `left_uid, right_uid, match_weight, forced` (forced = steward must-link);
    cannot_links: `left_uid, right_uid`. Returns (`row_uid, cluster_root`, the edges cut while splitting).
    """
    components = connected_components(nodes["row_uid"], edges)
    sizes = components.group_by("component").len("size")
    cannot_in = _cannot_links_within(cannot_links, components)
    cccd_conflicts = (
        nodes.join(components, on="row_uid")
        .filter(pl.col("cccd").is_not_null())
        .group_by("component")
        .agg(pl.col("cccd").n_unique().alias("n_cccd"))
        .filter(pl.col("n_cccd") > 1)
    )
    conflicted = pl.concat(
        [
            cannot_in.select(pl.col("lc").alias("component")),
            cccd_conflicts.select("component"),
            sizes.filter(pl.col("size") > max_cluster_size).select("component"),
        ]
    ).unique()
    empty_cut = edges.head(0)
    if conflicted.height == 0:
        return components.rename({"component": "cluster_root"}), empty_cut

    in_conflict = components.filter(pl.col("component").is_in(conflicted["component"].implode()))
    conflict_uids = set(in_conflict["row_uid"].to_list())
    local_edges = edges.filter(pl.col("left_uid").is_in(in_conflict["row_uid"].implode())).sort(
        ["forced", "match_weight", "left_uid", "right_uid"], descending=[True, True, False, False]
    )
    cannot: dict[int, set[int]] = {}
    for left, right in cannot_in.select("left_uid", "right_uid").iter_rows():
        cannot.setdefault(left, set()).add(right)
        cannot.setdefault(right, set()).add(left)
    cccd = dict(
        nodes.filter(pl.col("row_uid").is_in(list(conflict_uids)) & pl.col("cccd").is_not_null())
        .select("row_uid", "cccd")
        .iter_rows()
    )
    clusters = _Clusters(cannot, cccd, max_cluster_size)
    cut = []
    for index, (left, right, forced) in enumerate(
        local_edges.select("left_uid", "right_uid", "forced").iter_rows()
    ):
        if not clusters.try_union(left, right, forced=bool(forced)):
            cut.append(index)
    roots = pl.DataFrame(
        {"row_uid": list(conflict_uids), "split_root": [clusters.find(u) for u in conflict_uids]},
        schema={"row_uid": pl.Int64, "split_root": pl.Int64},
    )
    # Relabel each split cluster by its smallest member so the label stays deterministic.
    roots = roots.with_columns(pl.col("row_uid").min().over("split_root").alias("split_root"))
    out = components.join(roots, on="row_uid", how="left").select(
        "row_uid", pl.coalesce("split_root", "component").alias("cluster_root")
    )
    cut_edges = local_edges.with_row_index("_i").filter(pl.col("_i").is_in(cut)).drop("_i")
    return out, cut_edges

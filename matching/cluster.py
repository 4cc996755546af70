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
    order = np.argsort(uids, kind="stable")
    sorted_uids = uids[order]
    n = len(uids)
    if edges.height == 0 or n == 0:
        return pl.DataFrame(
            {"row_uid": uids, "component": uids}, schema={"row_uid": pl.Int64, "component": pl.Int64}
        )
    # Positions as int32 and each side's uids freed once placed: tens of millions of links at 10M records.
    left = edges["left_uid"].cast(pl.Int64).to_numpy()
    lpos = np.minimum(np.searchsorted(sorted_uids, left), n - 1).astype(np.int32)
    known = sorted_uids[lpos] == left
    del left
    right = edges["right_uid"].cast(pl.Int64).to_numpy()
    rpos = np.minimum(np.searchsorted(sorted_uids, right), n - 1).astype(np.int32)
    known &= sorted_uids[rpos] == right
    del right
    graph = coo_matrix(
        (np.ones(int(known.sum()), dtype=np.int8), (lpos[known], rpos[known])), shape=(n, n)
    ).tocsr()
    _, labels = csgraph.connected_components(graph, directed=False)
    # Nodes are sorted by uid, so a label's first position holds its smallest uid.
    first = np.full(labels.max() + 1, n, dtype=np.int64)
    np.minimum.at(first, labels, np.arange(n))
    component_sorted = sorted_uids[first[labels]]
    component = np.empty(n, dtype=np.int64)
    component[order] = component_sorted
    return pl.DataFrame(
        {"row_uid": uids, "component": component}, schema={"row_uid": pl.Int64, "component": pl.Int64}
    )


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


# Cannot-link pairs looked up per slice of this many: at 10M records nearly every candidate pair is one (59M).
CANNOT_LINK_SLICE = 4_000_000


_NOT_A_NODE = np.iinfo(np.int64).min


def _component_lookup(components: pl.DataFrame) -> Callable[[np.ndarray], np.ndarray]:
    """uids → their component (`_NOT_A_NODE` for a uid that is not a node). A direct table when the uids are
    dense (the flow's are 0..N), else a binary search over the sorted uids."""
    uids = components["row_uid"].cast(pl.Int64).to_numpy()
    labels = components["component"].cast(pl.Int64).to_numpy()
    if not len(uids):
        return lambda asked: np.full(len(asked), _NOT_A_NODE, dtype=np.int64)
    low, high = int(uids.min()), int(uids.max())
    if high - low < 4 * len(uids) + 1024:
        table = np.full(high - low + 1, _NOT_A_NODE, dtype=np.int64)
        table[uids - low] = labels

        def direct(asked: np.ndarray) -> np.ndarray:
            found = np.full(len(asked), _NOT_A_NODE, dtype=np.int64)
            inside = (asked >= low) & (asked <= high)
            found[inside] = table[asked[inside] - low]
            return found

        return direct
    order = np.argsort(uids, kind="stable")
    sorted_uids, sorted_labels = uids[order], labels[order]

    def searched(asked: np.ndarray) -> np.ndarray:
        position = np.minimum(np.searchsorted(sorted_uids, asked), len(sorted_uids) - 1)
        return np.where(sorted_uids[position] == asked, sorted_labels[position], _NOT_A_NODE)

    return searched


def _cannot_links_within(cannot_links: pl.DataFrame, components: pl.DataFrame) -> pl.DataFrame:
    """The cannot-link pairs whose two records fell in one component: `left_uid, right_uid, lc` (the component).

    Components looked up in numpy a slice at a time, not two joins over every pair: at 10M records those joins
    held 4 GB for 59M cannot-links, of which a few thousand fall inside a component. Pairs naming a record that is
    not a node are ignored.
    """
    component_of = _component_lookup(components)
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

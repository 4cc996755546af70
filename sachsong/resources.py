"""What a step may take from the machine it runs on."""

from __future__ import annotations

import os


def duckdb_memory_limit(share: float = 0.25, floor_gb: int = 2) -> str:
    """A DuckDB `memory_limit` of `share` of this machine's memory, at least `floor_gb` GB.

    At 10M records, grouping every blocking rule's pairs and building the published records table both failed
    inside a fixed 2 GB; those steps hold little else at that point, so they may take a quarter of the machine.
    """
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return f"{max(floor_gb, int(total * share / 2**30))}GB"

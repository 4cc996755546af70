"""The shared clean store: atomic, versioned snapshots in DuckDB with Parquet exports.

`publish_snapshot` writes a snapshot and switches `CURRENT` (each table a DataFrame, or a `ParquetQuery` that
DuckDB streams from Parquet files; `materialize` gives either as a DataFrame); `open_current` gives consumers a
read-only connection; `store.history` keeps the append-only run and score history; `store.gate` is the publish
gate (imported on demand: it loads Great Expectations).
"""

from sachsong.store.history import append_scores, read_runs, read_score_history, record_run
from sachsong.store.publish import (
    GateResult,
    ParquetQuery,
    PublishResult,
    materialize,
    prune_snapshots,
    publish_snapshot,
)
from sachsong.store.reader import (
    current_manifest,
    current_run_id,
    current_snapshot,
    open_current,
    read_current_table,
)

__all__ = [
    "GateResult",
    "ParquetQuery",
    "PublishResult",
    "append_scores",
    "current_manifest",
    "current_run_id",
    "current_snapshot",
    "materialize",
    "open_current",
    "prune_snapshots",
    "publish_snapshot",
    "read_current_table",
    "read_runs",
    "read_score_history",
    "record_run",
]

"""The shared clean store: atomic, versioned snapshots in DuckDB with Parquet exports."""

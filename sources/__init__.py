"""Readers and the source registry: raw exports in any dialect → the canonical raw table with lineage."""

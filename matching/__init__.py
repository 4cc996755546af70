"""Dedupe: blocking, comparisons, unsupervised scoring, clustering, golden records, review queue."""

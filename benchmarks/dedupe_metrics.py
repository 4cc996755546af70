"""Pairwise precision / recall / F1 of a clustering against truth, computed with polars group-bys.

Pairs are counted, never enumerated: true positives = Σ over (cluster, person) cells of n(n-1)/2.
"""

from __future__ import annotations

import polars as pl


def _pairs(n: pl.Expr) -> pl.Expr:
    return (n * (n - 1) // 2).sum()


def pairwise_scores(predicted: pl.Series, truth: pl.Series) -> dict[str, float]:
    """Precision, recall and F1 over record pairs for a predicted cluster label and a true entity label."""
    frame = pl.DataFrame({"p": predicted, "t": truth})
    tp = frame.group_by("p", "t").len().select(_pairs(pl.col("len"))).item()
    predicted_pairs = frame.group_by("p").len().select(_pairs(pl.col("len"))).item()
    true_pairs = frame.group_by("t").len().select(_pairs(pl.col("len"))).item()
    precision = tp / predicted_pairs if predicted_pairs else 1.0
    recall = tp / true_pairs if true_pairs else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "true_pairs": float(true_pairs),
        "predicted_pairs": float(predicted_pairs),
    }

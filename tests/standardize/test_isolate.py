"""A value that makes a vectorized step raise costs its own row, found by bisection, not the batch."""

from __future__ import annotations

import polars as pl
import pytest

from sachsong.standardize.isolate import run_isolating


def _frame(values: list[str]) -> pl.DataFrame:
    return pl.DataFrame(
        {"value": values, "source_file": ["xa.csv"] * len(values), "source_row": list(range(1, len(values) + 1))}
    )


def _fragile_step(frame: pl.DataFrame) -> pl.DataFrame:
    """Stands in for a standardizer with a bug: any batch holding the poison value raises."""
    if frame.get_column("value").str.contains("poison", literal=True).any():
        raise ValueError("cannot parse 'poison-079012345678'")  # a message quoting the value, as libraries do
    return frame.with_columns(pl.col("value").str.to_uppercase().alias("upper"))


def test_a_clean_batch_runs_once_unchanged():
    result = run_isolating(_frame(["a", "b"]), _fragile_step)
    assert result.table["upper"].to_list() == ["A", "B"] and result.rejects.height == 0


def test_the_rows_that_raise_alone_are_rejected_and_the_others_standardized_in_order():
    values = [f"v{i}" for i in range(1000)]
    values[3] = values[517] = values[999] = "poison-079012345678"
    result = run_isolating(_frame(values), _fragile_step)
    assert result.table.height == 997
    assert result.table["source_row"].to_list() == [r for r in range(1, 1001) if r not in (4, 518, 1000)]
    assert result.rejects["source_row"].to_list() == [4, 518, 1000]
    assert set(result.rejects["source_file"]) == {"xa.csv"}
    # The reason names the kind of error, never the message (it may quote the value).
    assert all("ValueError" in r and "0790" not in r and "poison" not in r for r in result.rejects["reason"])
    assert result.error_types == ("ValueError",)


def test_a_step_broken_for_every_row_raises_its_own_error():
    with pytest.raises(ValueError, match="cannot parse"):
        run_isolating(_frame(["poison"] * 200), _fragile_step, max_isolated=10)


def test_a_step_that_fails_only_on_the_whole_batch_raises():
    def needs_small_batches(frame: pl.DataFrame) -> pl.DataFrame:
        if frame.height > 5:
            raise MemoryError("too big")
        return frame

    with pytest.raises(MemoryError):
        run_isolating(_frame([str(i) for i in range(20)]), needs_small_batches)

"""One bad value costs one row: find the rows a vectorized step cannot process, and go on without them.

A standardizer runs over a whole batch at once. If some value makes it raise (an engineering bug no test
foresaw), the batch is split in halves until the rows that raise alone are found; every other row is
standardized as usual and the isolated rows come back as rejects naming file and row, never the value.
Isolating a row costs a logarithmic number of extra calls on ever smaller slices; more than `max_isolated`
failing rows, or every row failing, means the step is broken for everyone, and the original error is raised.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import polars as pl

ISOLATED_SCHEMA: dict[str, pl.DataType] = {
    "source_file": pl.String(),
    "source_row": pl.Int64(),
    "field": pl.String(),
    "reason": pl.String(),
    "raw_line": pl.String(),
}


@dataclass(frozen=True)
class Isolated:
    """`table`: the step's output for every row it could process, in input order; `rejects`: the others."""

    table: pl.DataFrame
    rejects: pl.DataFrame
    error_types: tuple[str, ...] = ()


def run_isolating(
    frame: pl.DataFrame,
    step: Callable[[pl.DataFrame], pl.DataFrame],
    *,
    step_name: str = "standardization",
    max_isolated: int = 64,
) -> Isolated:
    """`step(frame)`; when it raises, the same step on every row but the ones that raise alone."""
    try:
        return Isolated(step(frame), pl.DataFrame(schema=ISOLATED_SCHEMA))
    except Exception as first_error:
        failing: list[int] = []
        errors: list[str] = []

        def bisect(start: int, length: int) -> None:
            if len(failing) > max_isolated:
                return
            try:
                step(frame.slice(start, length))
            except Exception as error:
                if length == 1:
                    failing.append(start)
                    errors.append(type(error).__name__)
                    return
                half = length // 2
                bisect(start, half)
                bisect(start + half, length - half)

        bisect(0, frame.height)
        if not failing or len(failing) > max_isolated or len(failing) == frame.height:
            raise first_error from None
        keep = pl.Series(range(frame.height)).is_in(pl.Series(failing).implode()).not_()
        table = step(frame.filter(keep))
        rejected = frame.filter(~keep)
        reasons = [
            f"{step_name} failed on this row alone ({kind}): an internal error, reported to the engineers"
            for kind in errors
        ]
        rejects = pl.DataFrame(
            {
                "source_file": rejected.get_column("source_file") if "source_file" in frame.columns else None,
                "source_row": rejected.get_column("source_row") if "source_row" in frame.columns else None,
                "field": [None] * rejected.height,
                "reason": reasons,
                "raw_line": [None] * rejected.height,
            },
            schema=ISOLATED_SCHEMA,
        )
        return Isolated(table, rejects, tuple(sorted(set(errors))))

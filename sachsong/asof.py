"""The run's reference date (`as_of`), parsed one way everywhere: the CLI, the pipeline, the rules, the reports.

Every time-dependent rule reads `as_of`, never the wall clock; only a missing value means today.
"""

from __future__ import annotations

import argparse
from datetime import date, datetime


def parse_as_of(value: object, *, default_today: bool = True) -> date:
    """A date from a `date`, a `datetime` (its day) or `YYYY-MM-DD` text; None → today (unless not allowed).

    Raises ValueError naming the expected form for other text, TypeError for other types.
    """
    if value is None:
        if default_today:
            return date.today()
        raise ValueError("as_of is required (YYYY-MM-DD)")
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        text = value.strip()
        try:
            return date.fromisoformat(text)
        except ValueError:
            raise ValueError(f"as_of {value!r} is not a YYYY-MM-DD date") from None
    raise TypeError(f"as_of must be a date, got {type(value).__name__}")


def as_of_argument(value: str) -> date:
    """argparse type for `--as-of`: a malformed date fails at argument parsing, naming the form."""
    try:
        return parse_as_of(value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None

"""The 34 provinces since 1 July 2025 (Resolution 202/2025/QH15), by their two-digit code.

Fixed by law, so kept as data here for argument parsing (no reference database to load); a test checks the list
against the reference packages.
"""

from __future__ import annotations

import argparse
import re

PROVINCE_CODES: tuple[str, ...] = (
    "01", "04", "08", "11", "12", "14", "15", "19", "20", "22", "24", "25", "31", "33", "37", "38", "40",
    "42", "44", "46", "48", "51", "52", "56", "66", "68", "75", "79", "80", "82", "86", "91", "92", "96",
)  # fmt: skip


def province_code(text: str) -> str:
    """An argparse type: a province code as given, or an error naming what is allowed."""
    value = text.strip()
    if not re.fullmatch(r"\d{2}", value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a province code: two digits, e.g. 44 (Quảng Trị)")
    if value not in PROVINCE_CODES:
        raise argparse.ArgumentTypeError(
            f"{value} is not one of the 34 provinces since 1 July 2025 ({', '.join(PROVINCE_CODES)})"
        )
    return value

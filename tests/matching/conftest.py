"""Session fixtures for the matching tests (helpers live in matching_cases.py, importable from here)."""

from __future__ import annotations

import sys
from pathlib import Path

import polars as pl
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from matching_cases import hand_made_cases, load_synth

from sachsong.matching.dedupe import dedupe_standardized


@pytest.fixture(scope="session")
def province() -> pl.DataFrame:
    """~2,500 synthetic records (with truth) plus the hand-made cases (person_id null)."""
    background = load_synth().make_residents(1500, seed=5)
    return pl.concat([background, hand_made_cases()], how="diagonal_relaxed")


@pytest.fixture(scope="session")
def province_result(province):
    return dedupe_standardized(province.drop("person_id", "household_id"))

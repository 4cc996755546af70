"""Fixtures of the reports tests; the sample data lives in reports_sample.py (importable: see below)."""

from __future__ import annotations

import sys
from pathlib import Path

import polars as pl
import pytest

# Test modules run in importlib mode; put this folder on the path so they can import the shared sample data.
sys.path.insert(0, str(Path(__file__).parent))

from reports_sample import write_store


@pytest.fixture
def store_factory(tmp_path: Path):
    def build(runs: list[dict], history: pl.DataFrame, current: str | None = "run-3") -> Path:
        return write_store(tmp_path / "store", runs, history, current)

    return build

"""vietnamadminunits' bundled database, opened one way (read-only) for every room that reads it: the
standardize room's reference, the CCCD province codes of the rules, the publish gate's fallback, the demo."""

from __future__ import annotations

import sqlite3
from importlib import resources
from pathlib import Path


def admin_units_data_dir() -> Path:
    """The package's data folder (`dataset.db`, `converter_2025.json`)."""
    return Path(str(resources.files("vietnamadminunits") / "data"))


def query_admin_units(query: str, parameters: tuple = ()) -> list[tuple]:
    """Rows of one read-only query over the package's `dataset.db` (opened read-only, closed after)."""
    connection = sqlite3.connect(f"file:{admin_units_data_dir() / 'dataset.db'}?mode=ro", uri=True)
    try:
        return connection.execute(query, parameters).fetchall()
    finally:
        connection.close()

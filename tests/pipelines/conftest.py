"""Shared fixtures: a Prefect test server for the session and a small generated province."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")

AS_OF = "2026-11-01"
EXPORTS_KEPT = 5  # a handful of old communes' exports keeps each flow run to seconds


@pytest.fixture(scope="session")
def prefect_server():
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture(scope="session")
def demo_sources(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A generated province cut down to a few export files of different formats (real rooms read them)."""
    from sachsong.demo.residents import write_demo

    generated = tmp_path_factory.mktemp("demo")
    write_demo(generated, province="44", persons=200, seed=11)
    exports = sorted(p for p in (generated / "exports").rglob("*") if p.is_file())
    by_format: dict[str, list[Path]] = {}
    for path in exports:
        by_format.setdefault(path.suffix.lower(), []).append(path)
    # One of each format first, then the largest files, up to EXPORTS_KEPT.
    chosen = [paths[0] for paths in by_format.values()]
    chosen += sorted((p for p in exports if p not in chosen), key=lambda p: -p.stat().st_size)
    sources = tmp_path_factory.mktemp("sources")
    for path in chosen[:EXPORTS_KEPT]:
        target = sources / path.relative_to(generated / "exports")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    return sources

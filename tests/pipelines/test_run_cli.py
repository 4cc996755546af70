"""`sachsong run` on a generated demo judges it at the demo's own reference date, not today's."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from sachsong.pipelines.run import demo_as_of


def _demo_layout(root: Path, as_of: str) -> Path:
    (root / "exports").mkdir(parents=True)
    (root / "truth").mkdir()
    (root / "truth" / "meta.json").write_text(
        json.dumps({"province": "44", "as_of": as_of}), encoding="utf-8"
    )
    return root


def test_demo_as_of_is_read_from_the_demo_truth_for_the_demo_dir_and_its_exports(tmp_path: Path) -> None:
    demo = _demo_layout(tmp_path / "demo", "2026-11-01")
    assert demo_as_of(demo) == date(2026, 11, 1)
    assert demo_as_of(demo / "exports") == date(2026, 11, 1)


def test_real_sources_have_no_demo_date(tmp_path: Path) -> None:
    sources = tmp_path / "province-44"
    sources.mkdir()
    (sources / "xa_a.csv").write_text("Họ và tên\nNguyễn Văn A\n", encoding="utf-8")
    assert demo_as_of(sources) is None

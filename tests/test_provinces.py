"""The province codes the command line accepts are exactly the 34 of the reference data."""

from __future__ import annotations

import subprocess
import sys

import pytest

from sachsong.provinces import PROVINCE_CODES
from sachsong.standardize.reference import load_reference


def test_the_34_codes_are_the_reference_provinces():
    reference = set(load_reference().new_wards.get_column("province_code").unique().to_list())
    assert set(PROVINCE_CODES) == reference and len(PROVINCE_CODES) == 34


@pytest.mark.parametrize("code", ["1", "044", "4a", "99", "02", ""])
def test_a_malformed_or_unknown_province_fails_at_argument_parsing(code, tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "sachsong.pipelines.cli", "run", "--province", code, "--store", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert "province" in done.stderr and not (tmp_path / "history.duckdb").exists()

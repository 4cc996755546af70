"""Standardized residents rows built inline: a valid row, and frames of rows that override a few fields."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any

import polars as pl
import pytest

from sachsong.schema import LINEAGE_COLUMNS, RAW_SCHEMA, STANDARD_COLUMNS

VALID_ROW: dict[str, Any] = {
    "record_id": "R-0001",
    "source_id": "nhan_khau_dong_hoi",
    "full_name": "Nguyễn Văn An",
    "date_of_birth": "17/05/1990",
    "sex": "Nam",
    "citizen_id": "044090001234",
    "phone": "0912 345 678",
    "address": "Phường Đồng Hới, tỉnh Quảng Trị",
    "commune_code": "18880",
    "updated_at": "2026-01-10 08:00:00",
    "source_file": "exports/dong_hoi.csv",
    "source_row": 1,
    "name_norm": "Nguyễn Văn An",
    "name_key": "nguyen van an",
    "family_name": "Nguyễn",
    "middle_name": "Văn",
    "given_name": "An",
    "dob": date(1990, 5, 17),
    "dob_precision": "day",
    "dob_status": "ok",
    "sex_code": "M",
    "citizen_id_digits": "044090001234",
    "cccd": "044090001234",
    "cmnd": None,
    "cccd_province_code": "044",
    "cccd_sex": "M",
    "cccd_birth_year": 1990,
    "phone_e164": "+84912345678",
    "phone_status": "ok",
    "ward_code": "18880",
    "province_code": "44",
    "address_status": "exact",
    "ward_candidates": None,
    "updated_ts": datetime(2026, 1, 10, 8, 0),
}

SCHEMA = {**RAW_SCHEMA, **LINEAGE_COLUMNS, **STANDARD_COLUMNS}


def build_frame(overrides: list[dict[str, Any]]) -> pl.DataFrame:
    rows = []
    for position, override in enumerate(overrides):
        unknown = set(override) - set(SCHEMA)
        assert not unknown, f"test row has unknown columns {unknown}"
        rows.append({**VALID_ROW, "row_uid": position, "record_id": f"R-{position:04d}", **override})
    return pl.DataFrame(rows, schema=SCHEMA)


@pytest.fixture
def std_frame() -> Callable[[list[dict[str, Any]]], pl.DataFrame]:
    return build_frame

"""The publish gate: a Great Expectations suite run on the golden table before `CURRENT` is switched.

GX 1.x validates pandas, not polars, so the golden table is handed over as pandas. The context is ephemeral (no
project folder), offline (analytics off) and quiet (no progress bars). On failure the gate builds Data Docs to
`store_dir/data_docs/` so stewards can see which expectation failed, on which values.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Iterable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

import polars as pl

from sachsong.store.layout import DATA_DOCS_DIR
from sachsong.store.publish import GateResult, Table, materialize

# GX reads this at import time; a nightly job on a government network must not try to phone home.
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

GOLDEN_TABLE = "residents_golden"
# The golden table's person id, by the first of these names it has (the matching room names it).
PERSON_ID_CANDIDATES = ("person_id", "golden_id", "cluster_id")
DATA_DOCS_SITE = "publish_gate"


@lru_cache(maxsize=1)
def reference_codes() -> tuple[frozenset[str], frozenset[str]]:
    """The authoritative new ward codes (3,321) and province codes (34).

    From the standardize room's reference when it is installed, else straight from vietnamadminunits' database
    (the authoritative source either way, see ARCHITECTURE.md).
    """
    try:
        from sachsong.standardize.reference import load_reference

        wards = load_reference().new_wards
        return frozenset(wards["ward_code"].to_list()), frozenset(wards["province_code"].to_list())
    except ImportError:
        from sachsong.adminunits import query_admin_units

        rows = query_admin_units("SELECT wardCode, provinceCode FROM admin_units")
        return frozenset(r[0] for r in rows), frozenset(r[1] for r in rows)


class GoldenGate:
    """Callable gate for `publish_snapshot`: expectations on the golden table, plus a row-count floor.

    - `id_column` (default: the first of PERSON_ID_CANDIDATES present) unique and not null (one golden record
      per person);
    - `key_columns` not null;
    - `ward_code` / `province_code` (when present) within the reference sets — nulls are allowed, since an
      unresolved address is a finding for stewards, not a reason to withhold the whole province;
    - row count at least `min_row_ratio` of the previous snapshot's golden table (a collapsing export must not
      replace yesterday's good data).
    """

    def __init__(
        self,
        id_column: str | None = None,
        key_columns: Iterable[str] = (),
        table: str = GOLDEN_TABLE,
        min_row_ratio: float = 0.5,
        ward_codes: Iterable[str] | None = None,
        province_codes: Iterable[str] | None = None,
        build_docs: str = "on_failure",  # on_failure | always | never
    ) -> None:
        if build_docs not in ("on_failure", "always", "never"):
            raise ValueError(f"build_docs must be on_failure, always or never, got {build_docs!r}")
        self.id_column = id_column
        self.extra_keys = tuple(key_columns)
        self.table = table
        self.min_row_ratio = min_row_ratio
        self._ward_codes = frozenset(ward_codes) if ward_codes is not None else None
        self._province_codes = frozenset(province_codes) if province_codes is not None else None
        self.build_docs = build_docs

    def _code_sets(self) -> tuple[frozenset[str], frozenset[str]]:
        if self._ward_codes is not None and self._province_codes is not None:
            return self._ward_codes, self._province_codes
        wards, provinces = reference_codes()
        return self._ward_codes or wards, self._province_codes or provinces

    def minimum_rows(self, previous: Mapping[str, Any] | None) -> int:
        previous_rows = ((previous or {}).get("row_counts") or {}).get(self.table)
        return math.ceil(previous_rows * self.min_row_ratio) if previous_rows else 0

    def columns_read(self, available: Iterable[str]) -> list[str]:
        """The golden columns this gate reads, of those `available`: a caller can load just these."""
        available = list(available)
        id_column = self.id_column or next((c for c in PERSON_ID_CANDIDATES if c in available), None)
        wanted = {id_column, *self.extra_keys, "ward_code", "province_code"}
        return [c for c in available if c in wanted]

    def __call__(
        self, tables: Mapping[str, Table], previous: Mapping[str, Any] | None, store_dir: Path
    ) -> GateResult:
        if self.table not in tables:
            return GateResult(False, f"no '{self.table}' table to validate (tables: {', '.join(tables)})")
        golden = materialize(tables[self.table])
        id_column = self.id_column or next((c for c in PERSON_ID_CANDIDATES if c in golden.columns), None)
        if id_column is None:
            return GateResult(
                False, f"{self.table} has no person id column ({' or '.join(PERSON_ID_CANDIDATES)})"
            )
        keys = tuple(dict.fromkeys((id_column, *self.extra_keys)))
        missing = [c for c in keys if c not in golden.columns]
        if missing:
            return GateResult(False, f"{self.table} lacks key column(s) {', '.join(missing)}")
        return self._validate(
            golden, id_column, keys, self.minimum_rows(previous), Path(store_dir) / DATA_DOCS_DIR
        )

    def _expectations(
        self, golden: pl.DataFrame, id_column: str, keys: tuple[str, ...], minimum_rows: int
    ) -> list[Any]:
        import great_expectations as gx

        expect = gx.expectations
        ward_codes, province_codes = self._code_sets()
        expectations: list[Any] = [
            expect.ExpectTableRowCountToBeBetween(min_value=minimum_rows),
            expect.ExpectColumnValuesToBeUnique(column=id_column),
        ]
        expectations += [expect.ExpectColumnValuesToNotBeNull(column=c) for c in keys]
        if "ward_code" in golden.columns:
            expectations.append(
                expect.ExpectColumnValuesToBeInSet(column="ward_code", value_set=sorted(ward_codes))
            )
        if "province_code" in golden.columns:
            expectations.append(
                expect.ExpectColumnValuesToBeInSet(column="province_code", value_set=sorted(province_codes))
            )
        return expectations

    def _validate(
        self, golden: pl.DataFrame, id_column: str, keys: tuple[str, ...], minimum_rows: int, docs_dir: Path
    ) -> GateResult:
        import great_expectations as gx
        from great_expectations.data_context.types.base import (
            DataContextConfig,
            InMemoryStoreBackendDefaults,
            ProgressBarsConfig,
        )

        logging.getLogger("great_expectations").setLevel(logging.WARNING)
        context = gx.get_context(
            mode="ephemeral",
            project_config=DataContextConfig(
                store_backend_defaults=InMemoryStoreBackendDefaults(),
                analytics_enabled=False,
                progress_bars=ProgressBarsConfig(globally=False),
            ),
        )
        batch_definition = (
            context.data_sources.add_pandas("store")
            .add_dataframe_asset(self.table)
            .add_batch_definition_whole_dataframe("candidate")
        )
        suite = context.suites.add(gx.ExpectationSuite(name=f"{self.table}_publish_gate"))
        for expectation in self._expectations(golden, id_column, keys, minimum_rows):
            suite.add_expectation(expectation)
        validation = context.validation_definitions.add(
            gx.ValidationDefinition(name=f"{self.table}_gate", data=batch_definition, suite=suite)
        )
        checkpoint = context.checkpoints.add(
            gx.Checkpoint(name="publish_gate", validation_definitions=[validation])
        )
        # Only the columns the suite reads: converting a wide table to pandas would dominate the gate's time.
        used = [c for c in golden.columns if c in {*keys, "ward_code", "province_code"}]
        frame = golden.select(used).to_pandas()
        result = checkpoint.run(batch_parameters={"dataframe": frame})

        failures = []
        for run_result in result.run_results.values():
            for outcome in run_result.results:
                if outcome.success:
                    continue
                details = outcome.result or {}
                failures.append(
                    {
                        "expectation": outcome.expectation_config.type,
                        "column": outcome.expectation_config.kwargs.get("column"),
                        "unexpected_count": details.get("unexpected_count"),
                        "observed_value": details.get("observed_value"),
                        "examples": [str(v) for v in (details.get("partial_unexpected_list") or [])[:10]],
                    }
                )
        passed = bool(result.success)
        docs_path = None
        if self.build_docs == "always" or (self.build_docs == "on_failure" and not passed):
            docs_path = _build_docs(context, docs_dir)
        if passed:
            message = f"gate passed on {golden.height} golden records"
        else:
            parts = [
                f"{f['expectation']}({f['column'] or 'table'}): "
                + (
                    f"{f['unexpected_count']} unexpected"
                    if f["unexpected_count"] is not None
                    else f"observed {f['observed_value']}"
                )
                for f in failures
            ]
            message = "gate failed: " + "; ".join(parts)
        return GateResult(passed, message, failures, docs_path)


def _build_docs(context: Any, docs_dir: Path) -> Path:
    docs_dir.mkdir(parents=True, exist_ok=True)
    context.add_data_docs_site(
        site_name=DATA_DOCS_SITE,
        site_config={
            "class_name": "SiteBuilder",
            "store_backend": {
                "class_name": "TupleFilesystemStoreBackend",
                "base_directory": str(docs_dir.resolve()),
            },
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        },
    )
    context.build_data_docs(site_names=[DATA_DOCS_SITE])
    return docs_dir / "index.html"

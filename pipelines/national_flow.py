"""The national job as a Prefect flow: one task calling the national room after the provinces' nightly runs.

Thin on purpose: the room (`sachsong.national`) does the work and never imports Prefect; the schedule lives in
`prefect.yaml` (deployment `national`), set after the province runs so it rolls up their fresh snapshots. A
province still publishing when it starts is read at its previous snapshot (the room reads `CURRENT` once).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from sachsong.redact import install_log_redaction


@task(name="national", cache_policy=NO_CACHE)
def national_task(
    stores: str, output: str, stale_days: int, as_of: str | None, map_criterion: str
) -> dict[str, Any]:
    from sachsong.national.site import build_national

    result = build_national(
        Path(stores),
        Path(output),
        stale_days=stale_days,
        reference_date=date.fromisoformat(as_of) if as_of else None,
        map_criterion=map_criterion,
    )
    not_current = result.provinces.filter(result.provinces["status"] != "ok")
    return {
        "index": str(result.index),
        "database": str(result.database),
        "summary": result.describe(),
        # Reasons name store folders, codes and counts only (never a record's value).
        "not_current": [
            {"province_code": r["province_code"], "status": r["status"], "reason": r["reason"]}
            for r in not_current.iter_rows(named=True)
        ],
    }


@flow(name="national-nightly")
def national_nightly(
    stores: str = "var/stores",
    output: str = "var/national",
    stale_days: int = 2,
    as_of: str | None = None,
    map_criterion: str = "overall",
) -> dict[str, Any]:
    """Every province store under `stores` → the national scorecard site and store in `output`."""
    install_log_redaction("prefect", "prefect.flow_runs", "prefect.task_runs", "prefect.extra")
    summary = national_task(stores, output, stale_days, as_of, map_criterion)
    logger = get_run_logger()
    logger.info("national: %s", summary["summary"])
    for row in summary["not_current"]:
        if row["reason"]:
            logger.warning("province %s %s: %s", row["province_code"], row["status"], row["reason"])
    logger.info("national scorecard: %s", summary["index"])
    return summary

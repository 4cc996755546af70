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


# ---------------------------------------------------------------------------------------------------- demo
DEMO_PROVINCES = ("01", "44", "79")  # Hà Nội, Quảng Trị, Hồ Chí Minh City: three different merged provinces
MOVERS_HEADERS = (
    "HO_TEN",
    "Ngày sinh",
    "GIOI_TINH",
    "Số định danh cá nhân",
    "Địa chỉ",
    "ma ho so",
    "Ngày cập nhật",
)


def _plant_movers(demos: dict[str, Path], movers: int, seed: int) -> int:
    """Citizens of one demo province registered in the next one too: their name, date of birth, sex and CCCD in
    an extra export of the second province (at an address of that province). Returns how many were planted."""
    import random

    import polars as pl

    codes = sorted(demos)
    rng = random.Random(seed)
    planted = 0
    for index, code in enumerate(codes):
        other = codes[(index + 1) % len(codes)]
        if other == code:
            continue
        persons = pl.read_parquet(demos[code] / "truth" / "persons.parquet").filter(
            pl.col("cccd").is_not_null()
        )
        records = pl.read_parquet(demos[other] / "truth" / "records.parquet")
        chosen = persons.sample(min(movers, persons.height), seed=rng.randrange(1 << 30))
        addresses = (
            records.get_column("address_clean")
            .drop_nulls()
            .sample(chosen.height, with_replacement=True, seed=rng.randrange(1 << 30))
        )
        legacy = records.get_column("legacy_ward_code").drop_nulls()[0]
        sex = {"M": "nam", "F": "nữ"}
        frame = pl.DataFrame(
            {
                "HO_TEN": chosen.get_column("full_name"),
                "Ngày sinh": chosen.get_column("dob").dt.strftime("%d/%m/%Y"),
                "GIOI_TINH": chosen.get_column("sex").replace_strict(sex, default=None),
                "Số định danh cá nhân": chosen.get_column("cccd"),
                "Địa chỉ": addresses,
                "ma ho so": [f"{legacy}-M{n:04d}" for n in range(chosen.height)],
                "Ngày cập nhật": ["15/10/2026 08:00:00"] * chosen.height,
            }
        ).select(MOVERS_HEADERS)
        frame.write_csv(demos[other] / "exports" / f"{legacy}_chuyen_den_tu_{code}.csv")
        planted += frame.height
    return planted


def run_national_demo(root: Path, persons: int = 150, movers: int = 10, seed: int = 16) -> int:
    """Generate three small provinces with some citizens registered in two of them, run their nightly flows,
    then the national job; prints where the national site is. 0 when every step succeeded."""
    import os

    from sachsong.demo.residents import write_demo
    from sachsong.national.site import build_national
    from sachsong.pipelines.run import run_nightly_cli

    # Three flows in a row on a small shared machine: give Prefect's temporary server time to start.
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "300")
    root = Path(root)
    demos = {code: root / "exports" / code for code in DEMO_PROVINCES}
    for offset, (code, folder) in enumerate(demos.items()):
        print(f"generating demo province {code} ({persons} persons) into {folder} …", flush=True)
        write_demo(folder, province=code, persons=persons, seed=seed + offset)
    planted = _plant_movers(demos, movers, seed)
    print(f"planted {planted} citizens registered in a second province", flush=True)
    status = 0
    for code, folder in demos.items():
        status |= run_nightly_cli(
            province=code,
            sources=folder / "exports",
            store=root / "stores" / code,
            as_of=None,
            dask_address=None,
            persons=persons,
        )
    result = build_national(root / "stores", root / "national")
    print(result.describe(), flush=True)
    print(f"national scorecard: {result.index.resolve()}", flush=True)
    return status

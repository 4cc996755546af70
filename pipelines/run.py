"""`sachsong run`: the nightly flow from the command line, with no Prefect server to set up.

Without a server (`PREFECT_API_URL` unset) Prefect starts a temporary local one for the run. With no sources the
demo province is generated once into `./var/demo/` and the store defaults to `./var/store`.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from datetime import date
from pathlib import Path

DEFAULT_DEMO_DIR = Path("var/demo")
DEFAULT_STORE_DIR = Path("var/store")


def _quiet_environment() -> None:
    # Before Prefect or GX are imported: a slow first start of the temporary server must not time out, and
    # nothing phones home.
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")


def _start_prefect_server() -> threading.Thread | None:
    """Start Prefect's temporary server (a process of its own, seconds to come up) on a thread, so that it boots
    while this process imports the rooms instead of after; join the thread before the flow runs (a flow that
    found it half-started would talk to it too early). None when the run uses a configured server, or when the
    thread could not be started: the flow then starts the server itself and reports any error."""
    from prefect.settings import PREFECT_API_URL, PREFECT_SERVER_EPHEMERAL_ENABLED

    if PREFECT_API_URL.value() or not PREFECT_SERVER_EPHEMERAL_ENABLED.value():
        return None
    from prefect.server.api.server import SubprocessASGIServer

    server = SubprocessASGIServer()

    def start() -> None:
        # A failed start leaves the server not running: the flow's own start tries again and raises a clear error.
        with contextlib.suppress(Exception):
            server.start()

    thread = threading.Thread(target=start, name="prefect-server", daemon=True)
    thread.start()
    return thread


def ensure_demo(demo_dir: Path, province: str, persons: int, dataset: str = "residents") -> Path:
    """The demo province's exports, generated on first use (kept between runs so reruns hit the cache)."""
    from sachsong.spec import get_dataset

    exports = demo_dir / "exports"
    if not exports.is_dir() or not any(exports.rglob("*.*")):
        spec = get_dataset(dataset)
        write = spec.demo_writer()
        if write is None:
            raise SystemExit(f"dataset {spec.name} has no demo generator: give --sources")
        print(f"generating the {spec.name} demo province {province} ({persons} {spec.unit.en}) into {demo_dir} …",
              flush=True)
        summary = write(demo_dir, province, persons)
        describe = getattr(summary, "describe", None)
        print(describe() if describe else summary, flush=True)
    return demo_dir


def default_store(dataset: str) -> Path:
    """`./var/store` for residents (as ever), `./var/store-<dataset>` for another register."""
    return DEFAULT_STORE_DIR if dataset == "residents" else Path(f"var/store-{dataset}")


def demo_as_of(sources: Path) -> date | None:
    """The reference date a generated demo was written for (`truth/meta.json`), so a demo run is not judged
    against today's date (its records would all drift stale); None for real sources."""
    import json

    sources = Path(sources)
    candidates = [sources / "truth" / "meta.json", sources.parent / "truth" / "meta.json"]
    meta = next((path for path in candidates if path.is_file()), None)
    if meta is None:
        return None
    value = json.loads(meta.read_text(encoding="utf-8")).get("as_of")
    return date.fromisoformat(value) if value else None


def run_nightly_cli(
    province: str,
    sources: Path | None,
    store: Path | None,
    as_of: date | None,
    dask_address: str | None,
    persons: int,
    replace_newer: bool = False,
    dataset: str | None = None,
    residents_store: Path | None = None,
    full: bool = False,
) -> int:
    """Run the nightly flow once; 0 when a snapshot was published, 1 otherwise."""
    _quiet_environment()
    server = None if dask_address else _start_prefect_server()
    from sachsong.pipelines.flows import RunFailed, province_nightly
    from sachsong.pipelines.steps import import_rooms
    from sachsong.spec import get_dataset

    import_rooms()

    spec = get_dataset(dataset or "residents")
    name = spec.reference
    if sources is None:
        demo_dir = DEFAULT_DEMO_DIR if spec.name == "residents" else Path(f"var/demo-{spec.name}")
        sources = ensure_demo(demo_dir, province, persons, name)
    elif not Path(sources).is_dir():
        print(f"{sources}: no such sources directory", file=sys.stderr)
        return 2
    store = Path(store) if store is not None else default_store(spec.name)
    references: dict[str, str] = {}
    if spec.name != "residents":
        residents = residents_store or DEFAULT_STORE_DIR
        if residents.is_dir():
            references["residents"] = str(residents)
        else:
            print(f"no residents store at {residents}: cross-register rules are skipped", flush=True)
    if as_of is None:
        as_of = demo_as_of(Path(sources))
    print(
        f"nightly run: {spec.name}, province {province}, sources {sources}, store {store}, "
        f"as of {as_of or 'today'}",
        flush=True,
    )
    if server is not None:
        server.join()
    try:
        summary = province_nightly(
            province=province,
            sources=str(sources),
            store=str(store),
            as_of=as_of.isoformat() if as_of else None,
            dask_address=dask_address,
            replace_newer=replace_newer,
            dataset=name,
            reference_stores=references,
            full=full,
        )
    except RunFailed as error:
        print(f"\nrun FAILED: {error}", file=sys.stderr)
        print(
            f"the store {store} still serves its previous snapshot; see {store / 'history.duckdb'} (runs)",
            file=sys.stderr,
        )
        return 1
    rows = summary["row_counts"]
    print(
        f"\nrun {summary['run_id']} published: {rows.get(spec.records_table, 0)} records, "
        f"{rows.get(spec.golden_table, 0)} {spec.unit.en}, {rows.get('quarantine', 0)} quarantined, "
        f"{rows.get('rejects', 0)} rejects",
        flush=True,
    )
    if summary["files_reused"] or summary["pairs_reused"]:
        print(
            f"reused from earlier nights: {summary['files_reused']} of {len(summary['counts_per_source'])} exports "
            f"(unchanged, not read again), {summary['pairs_reused']} of {summary['pairs_compared']} candidate "
            "pairs' comparisons",
            flush=True,
        )
    print(f"store:      {Path(summary['store']).resolve()}  (snapshot {summary['snapshot']})")
    print(f"scorecards: {Path(summary['report']).resolve()}")
    return 0

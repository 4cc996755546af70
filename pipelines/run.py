"""`sachsong run`: the nightly flow from the command line, with no Prefect server to set up.

Without a server (`PREFECT_API_URL` unset) the run starts a temporary local one the moment it begins
(`TemporaryServer`), stopped when the process exits. With no sources the
demo province is generated once into `./var/demo/` and the store defaults to `./var/store`.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
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


class TemporaryServer:
    """Prefect's temporary API server for runs with no configured server, started by this process the moment the
    run begins.

    Left to Prefect, the temporary server starts only after this process has imported Prefect's whole server
    stack (seconds it never uses: the server runs in a process of its own) and then takes seconds more to come
    up. Started here, the server process boots while this one imports the rooms. It is the command and
    environment Prefect's `SubprocessASGIServer` uses; if it does not answer, the run starts it once more or falls
    back to Prefect's own start (which reports any error; see `_server_for_the_flow`). One server per process,
    stopped at exit.
    """

    _instance: TemporaryServer | None = None

    def __init__(self) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}/api"
        env = {
            **os.environ,
            "PREFECT_UI_ENABLED": "0",
            "PREFECT__SERVER_EPHEMERAL": "1",
            "PREFECT__SERVER_FINAL": "1",
        }
        self.process: subprocess.Popen[bytes] | None = subprocess.Popen(
            [
                sys.executable, "-m", "uvicorn",
                "--app-dir", str(_prefect_parent()),
                "--factory", "prefect.server.api.server:create_app",
                "--host", "127.0.0.1", "--port", str(self.port),
                "--log-level", "error", "--lifespan", "on",
            ],
            env=env,
            stdin=subprocess.DEVNULL,
            # Its own process group: the terminal's Ctrl-C reaches the run alone, which then stops the server in
            # order (a server stopped first left the interrupted run retrying it for minutes).
            process_group=0,
            preexec_fn=_die_with_parent,
        )
        atexit.register(self.stop)
        self._healthy: bool | None = None
        self.exited = False  # it ended before it answered (rather than staying silent)

    @classmethod
    def shared(cls) -> TemporaryServer:
        if cls._instance is None or cls._instance.process is None:
            cls._instance = cls()
        return cls._instance

    def wait(self, timeout: float) -> str | None:
        """The server's API URL once it answers, or None (the server is stopped) when it exits or stays silent."""
        if self._healthy is None:
            self._healthy = self._wait_healthy(timeout)
            if not self._healthy:
                self.stop()
        return self.url if self._healthy else None

    def _wait_healthy(self, timeout: float) -> bool:
        import urllib.error
        import urllib.request

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                self.exited = True
                return False
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=2) as response:
                    if response.status == 200:
                        return True
            except (OSError, urllib.error.URLError):
                pass
            time.sleep(0.1)
        return False

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _die_with_parent() -> None:
    """In the server's process before it starts (Linux): the kernel sends it SIGTERM when the run's process dies,
    so a run killed without running its exit handlers (SIGKILL, a scheduler's SIGTERM) leaves no server behind."""
    if sys.platform.startswith("linux"):
        import ctypes
        import signal

        with contextlib.suppress(Exception):
            ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG = 1


def _free_port() -> int:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _prefect_parent() -> Path:
    """The folder that holds the `prefect` package, found without importing it."""
    import importlib.util

    spec = importlib.util.find_spec("prefect")
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError("prefect")
    return Path(spec.origin).parent.parent


def _start_temporary_server() -> TemporaryServer | None:
    """Start the temporary server at once unless a server may be configured (the environment, or a settings file
    that could name one: then Prefect's settings decide first, in `_server_for_the_flow`); None when it was not
    started here or could not be."""
    if os.environ.get("PREFECT_API_URL") or _settings_files_may_name_a_server():
        return None
    if "prefect.settings" in sys.modules:  # already imported (a caller in this process): asking costs nothing
        from prefect.settings import PREFECT_API_URL

        if PREFECT_API_URL.value():
            return None
    return _shared_server()


def _shared_server() -> TemporaryServer | None:
    """The process's temporary server, started when it has none running; None when it cannot be started."""
    try:
        return TemporaryServer.shared()
    except (OSError, ModuleNotFoundError):
        return None


def _settings_files_may_name_a_server() -> bool:
    """Whether a file Prefect reads its settings from (the profiles, `.env`, `prefect.toml`, `pyproject.toml`'s
    `[tool.prefect]`) may name a server or turn temporary servers off. Read as text, without importing Prefect;
    in doubt, yes (the run then asks Prefect's settings before starting a server)."""
    home = Path(os.environ.get("PREFECT_HOME") or "~/.prefect").expanduser()
    profiles = Path(os.environ.get("PREFECT_PROFILES_PATH") or home / "profiles.toml").expanduser()
    # A file → the words that make it count; None: the file counts whatever it holds (all of it is Prefect's).
    markers: dict[Path, tuple[str, ...] | None] = {
        profiles: ("PREFECT_API_URL", "PREFECT_SERVER_EPHEMERAL"),
        Path(".env"): ("PREFECT_API_URL", "PREFECT_SERVER_EPHEMERAL"),
        Path("prefect.toml"): None,
        Path("pyproject.toml"): ("tool.prefect",),
    }
    for path, words in markers.items():
        try:
            if not path.is_file():
                continue
            if words is None:
                return True
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return True
        if any(word in text for word in words):
            return True
    return False


def _server_for_the_flow(server: TemporaryServer | None) -> str | None:
    """The API URL the flow should use: our temporary server's, unless Prefect's settings name a server or forbid
    a temporary one (then Prefect decides, as without us). A server that ends before it answers is started once
    more; if that one fails too, or a server stays silent, Prefect starts its own and reports what went wrong."""
    if server is None and os.environ.get("PREFECT_API_URL"):
        return None
    from prefect.settings import PREFECT_API_URL, PREFECT_SERVER_EPHEMERAL_ENABLED

    if PREFECT_API_URL.value() or not PREFECT_SERVER_EPHEMERAL_ENABLED.value():
        if server is not None:
            server.stop()
        return None
    timeout = float(os.environ.get("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90"))
    server = server or _shared_server()
    if server is None:
        return None
    url = server.wait(timeout)
    if url is None and server.exited:  # one that ended is started once more; a silent one is not waited for twice
        again = _shared_server()
        url = again.wait(timeout) if again is not None else None
    return url


@contextlib.contextmanager
def _api(url: str | None) -> Iterator[None]:
    """The flow talks to `url` (our temporary server), or to what Prefect's settings say when None."""
    if url is None:
        yield
        return
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(updates={PREFECT_API_URL: url}):
        yield


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
    server = None if dask_address else _start_temporary_server()
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
    # A Dask run leaves the server to Prefect, as it always did.
    api_url = None if dask_address else _server_for_the_flow(server)
    try:
        with _api(api_url):
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

"""The `sachsong` command line. Its commands, arguments and output columns are a contract (DESIGN.md).

Each command is a thin shell over one room's public function; heavy imports happen inside the handlers so
`sachsong --help` stays fast and one room's import problem never breaks another command.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from datetime import date
from pathlib import Path
from typing import Any

from sachsong.asof import as_of_argument
from sachsong.provinces import province_code  # imports no polars: the allocator setting below still holds

# polars' allocator (jemalloc) keeps freed pages for up to ten seconds by default, so one step's garbage is still
# resident while the next step allocates. Returning them at once lowers the peak (docs/run-nightly.md, Memory).
# Set before polars is first imported; a value the caller already exported wins.
os.environ.setdefault("_RJEM_MALLOC_CONF", "dirty_decay_ms:0,muzzy_decay_ms:0")

DEFAULT_PROVINCE = "44"  # the new Quảng Trị (merged from Quảng Bình and Quảng Trị)


def _as_of(value: date | str | None) -> date:
    from sachsong.asof import parse_as_of

    return parse_as_of(value)


def _dataset(args: argparse.Namespace):  # -> DatasetSpec, imported lazily (keeps --help fast)
    from sachsong.spec import get_dataset

    return get_dataset(getattr(args, "dataset", None) or "residents")


def _say(message: str) -> None:
    print(message, flush=True)


def cmd_demo_data(args: argparse.Namespace) -> int:
    spec = _dataset(args)
    write = spec.demo_writer()
    if write is None:
        print(f"demo-data: the {spec.name} register has no demo generator", file=sys.stderr)
        return 2
    summary = write(Path(args.dir), args.province, args.persons, args.seed)
    describe = getattr(summary, "describe", None)
    _say(describe() if describe else str(summary))
    return 0


def cmd_ingest(args: argparse.Namespace) -> int:
    from sachsong.sources.ingest import ingest_directory
    from sachsong.tableio import write_table

    result = ingest_directory(Path(args.dir), registry=Path(args.registry) if args.registry else None)
    write_table(result.table, args.output)
    if args.rejects:
        write_table(result.rejects, args.rejects)
    _say(result.describe())
    for line in result.file_errors():
        print(line, file=sys.stderr)
    return 0 if result.balanced() else 1


def cmd_address(args: argparse.Namespace) -> int:
    from sachsong.standardize.address import resolve_addresses
    from sachsong.tableio import read_table, write_table

    frame = read_table(args.input)
    if args.column not in frame.columns:
        print(
            f"{args.input}: no column '{args.column}' (columns: {', '.join(frame.columns)})", file=sys.stderr
        )
        return 2
    hint = args.hint_column if args.hint_column in frame.columns else None
    resolved = resolve_addresses(frame, column=args.column, hint_column=hint)
    write_table(resolved, args.output)
    counts = resolved.group_by("address_status").len().sort("address_status")
    summary = ", ".join(f"{row['address_status']}: {row['len']}" for row in counts.iter_rows(named=True))
    _say(f"{resolved.height} addresses resolved ({summary}) → {args.output}")
    return 0


def cmd_reference_diff(args: argparse.Namespace) -> int:
    from sachsong.standardize.reference import load_reference
    from sachsong.tableio import write_table

    diff = load_reference().disagreements
    if args.output:
        write_table(diff, args.output)
        _say(f"{diff.height} disagreements between vietnamadminunits and vietnam-provinces → {args.output}")
    else:
        import polars as pl

        with pl.Config(tbl_rows=args.limit, tbl_width_chars=160, fmt_str_lengths=40):
            print(diff)
        _say(
            f"{diff.height} disagreements (authoritative: vietnamadminunits; vietnam-provinces code kept as alias_code)"
        )
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from sachsong.pipelines.oneshot import check_input
    from sachsong.tableio import write_table

    result = check_input(args.input, _dataset(args), _as_of(args.as_of))
    write_table(result.findings, args.output)
    if args.quarantine:
        write_table(result.quarantine, args.quarantine)
    _say(result.describe())
    return 0


def cmd_rules_list(args: argparse.Namespace) -> int:
    from sachsong.rules.engine import load_pack

    pack = load_pack(args.pack or _dataset(args).rules)
    for rule in pack.rules:
        _say(f"{rule.id:<32} {rule.criterion:<10} {rule.severity:<8} {rule.message_en}")
    _say(f"{len(pack.rules)} rules in pack '{pack.name}'")
    return 0


def cmd_rules_test(args: argparse.Namespace) -> int:
    from sachsong.rules.engine import load_pack, run_rule_examples

    outcomes = run_rule_examples(load_pack(args.pack or _dataset(args).rules))
    failed = [o for o in outcomes if not o.passed]
    for outcome in outcomes:
        _say(outcome.describe())
    _say(f"{len(outcomes) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


def cmd_dedupe(args: argparse.Namespace) -> int:
    from sachsong.matching.review import read_decision_file
    from sachsong.pipelines.oneshot import dedupe_input
    from sachsong.tableio import write_table

    decisions = read_decision_file(args.decisions) if args.decisions else None
    result = dedupe_input(args.input, _dataset(args), decisions)
    write_table(result.clusters, args.output)
    if args.review:
        from sachsong.pipelines.oneshot import write_review_file

        write_review_file(result.review, Path(args.review), _dataset(args), run_id="dedupe")
    if args.golden:
        write_table(result.golden, args.golden)
    describe = getattr(result, "describe", None)
    _say(describe() if describe else f"{result.clusters.height} records → {result.golden.height} golden records")
    return 0


def cmd_changes(args: argparse.Namespace) -> int:
    from sachsong.store.feed import read_changes
    from sachsong.store.layout import StoreError
    from sachsong.tableio import write_table

    try:
        changes = read_changes(Path(args.store), args.since)
    except StoreError as error:
        print(f"changes: {error}", file=sys.stderr)
        return 2
    if args.output:
        write_table(changes, args.output)
    counts = changes.group_by("run_id", "change").len().sort("run_id", "change")
    for run_id, change, count in counts.iter_rows():
        _say(f"{run_id}  {change:<16} {count}")
    _say(f"{changes.height} changes" + (f" → {args.output}" if args.output else ""))
    return 0


def cmd_decide(args: argparse.Namespace) -> int:
    import polars as pl

    from sachsong.store.decisions import record_decision
    from sachsong.store.reader import current_snapshot, snapshot_table_path

    spec = _dataset(args)
    try:  # the keys of every record the live snapshot holds, published or quarantined (that column only)
        snapshot = current_snapshot(Path(args.store))
        known = pl.concat(
            pl.read_parquet(snapshot_table_path(snapshot, table), columns=["record_key"])
            for table in (spec.records_table, "quarantine")
        ).get_column("record_key")
    except Exception as error:  # no snapshot, or one from before record keys
        print(f"decide: cannot read the live snapshot's record keys ({type(error).__name__})", file=sys.stderr)
        return 2
    try:
        record_decision(Path(args.store), args.left, args.right, args.decision, args.note, known_keys=known)
    except ValueError as error:
        print(f"decide: {error}", file=sys.stderr)
        return 2
    _say("decision recorded: it applies from the next night on")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from sachsong.reports.site import build_report

    index = build_report(Path(args.store), Path(args.output))
    _say(f"scorecard written: {index}")
    return 0


def cmd_national(args: argparse.Namespace) -> int:
    import polars as pl

    from sachsong.national.site import build_national

    if args.demo:
        # Set before Prefect is imported: three flows in a row; its temporary server may start slowly.
        os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "300")
        from sachsong.pipelines.national_flow import run_national_demo

        _private_prefect_home()
        return run_national_demo(Path(args.demo))
    if not args.stores or not args.output:
        print("national: --stores and --output are required (or --demo DIR)", file=sys.stderr)
        return 2
    try:
        result = build_national(
            Path(args.stores),
            Path(args.output),
            stale_days=args.stale_days,
            reference_date=_as_of(args.as_of) if args.as_of else None,
            map_criterion=args.map_criterion,
        )
    except (FileNotFoundError, ValueError) as error:
        print(f"national: {error}", file=sys.stderr)
        return 2
    _say(result.describe())
    for row in result.provinces.filter(pl.col("status") != "ok").iter_rows(named=True):
        if row["reason"]:
            _say(f"  {row['province_code'] or '?'} {row['status']}: {row['reason']}")
    _say(f"national scorecard: {result.index.resolve()}")
    return 0


def _private_prefect_home() -> None:
    """Prefect's home and database (logs, run parameters) are private to the user running the flow (issue 13)."""
    home = Path(os.environ.get("PREFECT_HOME") or "~/.prefect").expanduser()
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    for path in (home, home / "prefect.db"):
        if path.exists() and path.stat().st_uid == os.getuid() and path.stat().st_mode & 0o077:
            os.chmod(path, 0o700 if path.is_dir() else 0o600)


def cmd_run(args: argparse.Namespace) -> int:
    from sachsong.pipelines.run import run_nightly_cli

    _private_prefect_home()
    return run_nightly_cli(
        province=args.province,
        sources=Path(args.sources) if args.sources else None,
        store=Path(args.store) if args.store else None,
        as_of=args.as_of,
        dask_address=args.dask,
        persons=args.persons,
        replace_newer=args.replace_newer,
        full=args.full,
        dataset=args.dataset,
        residents_store=Path(args.residents_store) if args.residents_store else None,
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sachsong", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="the whole nightly flow (the embedded demo when given no sources)")
    run.add_argument(
        "--province",
        default=DEFAULT_PROVINCE,
        type=province_code,
        help="new province code (default: 44, Quảng Trị)",
    )
    run.add_argument("--sources", help="directory of raw exports (default: generate the demo province)")
    run.add_argument("--store", help="store directory (default: ./var/store)")
    run.add_argument("--as-of", type=as_of_argument, help="the run's reference date, YYYY-MM-DD (default: today)")
    run.add_argument("--dask", help="Dask scheduler address, or 'local' for a LocalCluster")
    run.add_argument("--persons", type=int, default=5000, help="demo size when generating (default: 5000)")
    run.add_argument(
        "--replace-newer",
        action="store_true",
        help="publish even when the live snapshot has a later --as-of (a deliberate re-run of an earlier night)",
    )
    run.add_argument(
        "--dataset", help="the register: a name (residents, household_business, …) or a dataset folder "
        "(default: residents)"
    )
    run.add_argument(
        "--full",
        action="store_true",
        help="rebuild from scratch: recompute every step instead of reusing the step cache (ids are kept)",
    )
    run.add_argument(
        "--residents-store",
        help="the province's residents store, read by cross-register rules (default: ./var/store when it exists)",
    )
    run.set_defaults(handler=cmd_run)

    ingest = sub.add_parser("ingest", help="raw exports → canonical raw table")
    ingest.add_argument("dir")
    ingest.add_argument("--output", required=True)
    ingest.add_argument("--rejects", help="where rejected files/rows go, with file, row and reason")
    ingest.add_argument(
        "--registry", help="source registry YAML (default: sources/<province>.yaml if present)"
    )
    ingest.set_defaults(handler=cmd_ingest)

    address = sub.add_parser("address", help="resolve old or new addresses to new ward/province codes")
    address.add_argument("input")
    address.add_argument("--column", default="address")
    address.add_argument("--hint-column", default="commune_code")
    address.add_argument("--output", required=True)
    address.set_defaults(handler=cmd_address)

    reference = sub.add_parser("reference", help="reference data tools")
    reference_sub = reference.add_subparsers(dest="reference_command", required=True)
    diff = reference_sub.add_parser("diff", help="where vietnamadminunits and vietnam-provinces disagree")
    diff.add_argument("--output")
    diff.add_argument("--limit", type=int, default=200)
    diff.set_defaults(handler=cmd_reference_diff)

    check = sub.add_parser("check", help="standardize and run the rule pack; one row per finding")
    check.add_argument("input")
    check.add_argument("--output", required=True)
    check.add_argument("--quarantine", help="also write the quarantined rows with their reasons")
    check.add_argument("--as-of", type=as_of_argument, help="the run's reference date, YYYY-MM-DD (default: today)")
    check.add_argument(
        "--dataset", help="the register: a name (residents, household_business, …) or a dataset folder "
        "(default: residents)"
    )
    check.set_defaults(handler=cmd_check)

    rules = sub.add_parser("rules", help="rule pack tools")
    rules_sub = rules.add_subparsers(dest="rules_command", required=True)
    rules_list = rules_sub.add_parser("list", help="show every rule")
    rules_list.add_argument("--pack", help="a rule pack file (default: the dataset's)")
    rules_list.add_argument(
        "--dataset", help="the register: a name (residents, household_business, …) or a dataset folder "
        "(default: residents)"
    )
    rules_list.set_defaults(handler=cmd_rules_list)
    rules_test = rules_sub.add_parser("test", help="run the examples each rule carries")
    rules_test.add_argument("--pack", help="a rule pack file (default: the dataset's)")
    rules_test.add_argument(
        "--dataset", help="the register: a name (residents, household_business, …) or a dataset folder "
        "(default: residents)"
    )
    rules_test.set_defaults(handler=cmd_rules_test)

    dedupe = sub.add_parser("dedupe", help="find the same person (business, …) across sources; one row per record")
    dedupe.add_argument("input")
    dedupe.add_argument("--output", required=True)
    dedupe.add_argument("--review", help="write the steward review queue (.xlsx or .csv)")
    dedupe.add_argument("--golden", help="write the golden records")
    dedupe.add_argument("--decisions", help="steward decisions read back as must-link / cannot-link")
    dedupe.add_argument(
        "--dataset", help="the register: a name (residents, household_business, …) or a dataset folder "
        "(default: residents)"
    )
    dedupe.set_defaults(handler=cmd_dedupe)

    changes = sub.add_parser("changes", help="what the nightly runs changed: persons, records, exports")
    changes.add_argument("--store", default="var/store")
    changes.add_argument("--since", help="a run id: only the runs published after it (default: every kept run)")
    changes.add_argument("--output", help="write the changes (.csv or .parquet)")
    changes.set_defaults(handler=cmd_changes)

    decide = sub.add_parser("decide", help="record a steward's decision on a pair of records (by record_key)")
    decide.add_argument("left", help="record_key of one record")
    decide.add_argument("right", help="record_key of the other")
    decide.add_argument("decision", help="giống / khác / chưa rõ (same / different / unsure)")
    decide.add_argument("--store", default="var/store")
    decide.add_argument("--note", help="the steward's note")
    decide.add_argument("--dataset", help="the register (default: residents)")
    decide.set_defaults(handler=cmd_decide)

    report = sub.add_parser("report", help="the scorecard site, Excel and JSON from the store")
    report.add_argument("--store", default="var/store")
    report.add_argument("--output", required=True)
    report.set_defaults(handler=cmd_report)

    national = sub.add_parser("national", help="every province store under DIR → the national scorecard")
    national.add_argument("--stores", help="folder holding one store folder per province")
    national.add_argument("--output", help="folder for the national site and store")
    national.add_argument(
        "--demo", metavar="DIR", help="generate 3 small provinces into DIR, run their nightly flows, then this"
    )
    national.add_argument("--stale-days", type=int, default=2, help="label a province this many days behind")
    national.add_argument("--as-of", type=as_of_argument, help="reference date for staleness (default: the newest province's)")
    national.add_argument("--map-criterion", default="overall", help="criterion the map opens on")
    national.set_defaults(handler=cmd_national)

    demo = sub.add_parser("demo-data", help="write a demo province's raw exports and their ground truth")
    demo.add_argument("dir")
    demo.add_argument("--province", default=DEFAULT_PROVINCE, type=province_code)
    demo.add_argument("--persons", type=int, default=5000, help="persons (businesses, …) to generate")
    demo.add_argument("--seed", type=int, default=7)
    demo.add_argument("--dataset", help="the register (default: residents; household_business has one too)")
    demo.set_defaults(handler=cmd_demo_data)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.handler(args) or 0)


class _ReaderMayLeave:
    """A standard stream whose reader may go away (`sachsong run | head -1`): once the pipe breaks, what is written
    is dropped instead of raising, so the command still finishes its work (a run still publishes) and exits with
    its own code."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self._gone = False

    def write(self, text: str) -> int:
        if not self._gone:
            try:
                return self._stream.write(text)
            except BrokenPipeError:
                self._reader_gone()
        return len(text)

    def flush(self) -> None:
        if not self._gone:
            try:
                self._stream.flush()
            except BrokenPipeError:
                self._reader_gone()

    def _reader_gone(self) -> None:
        self._gone = True
        # What is still buffered in the stream would raise again when it is flushed: its descriptor now writes
        # to /dev/null.
        with contextlib.suppress(OSError, ValueError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self._stream.fileno())
            os.close(devnull)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def console() -> None:
    """The `sachsong` script: `main`, then a quick exit. The exit handlers run (Prefect's log and event workers
    drain, the temporary server stops, logging flushes), but the interpreter's tear-down of every imported module
    is skipped: it took seconds after a run (the data libraries' modules), on every command. A reader that leaves
    early (a closed pipe) costs the output, never the work."""
    sys.stdout = _ReaderMayLeave(sys.stdout)
    sys.stderr = _ReaderMayLeave(sys.stderr)
    try:
        code = main()
    except SystemExit as stop:  # argparse's errors and --help, a handler's SystemExit("message")
        if stop.code is None or isinstance(stop.code, int):
            code = stop.code or 0
        else:
            print(stop.code, file=sys.stderr)
            code = 1
    except KeyboardInterrupt:
        code = 130
    quick_exit(code)


def quick_exit(code: int) -> None:
    """Run the exit handlers, flush the standard streams and end the process without the module tear-down."""
    import atexit

    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)


if __name__ == "__main__":
    console()

"""Hostile input is handled: rule text is never executed, source paths stay inside the sources folder, consumers
cannot write to the store, and nothing a citizen is identified by reaches the reports or the logs."""

from __future__ import annotations

import builtins
import html
import json
import re
import sys
import unicodedata
import zipfile
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from .conftest import BROKEN_PEOPLE, Baseline, Demo, assert_store_intact, copy_store

# ------------------------------------------------------------------------------------------ rule language
COLUMNS = {
    "full_name": pl.String(),
    "citizen_id_digits": pl.String(),
    "dob": pl.Date(),
    "cccd_birth_year": pl.Int32(),
}
CANARY_ATTRIBUTE = "sachsong_hardening_pwned"


def hostile_expressions(canary: Path) -> list[str]:
    """Each would leave a trace (the canary file, an attribute on `sys`, a builtin) if anything executed it."""
    touch = f"__import__('pathlib').Path('{canary}').touch()"
    flag = f"setattr(__import__('sys'), '{CANARY_ATTRIBUTE}', 1)"
    return [
        # SQL fragments
        "'; DROP TABLE residents; --",
        "full_name = '' OR 1=1",
        "1; ATTACH 'pwned.duckdb' AS p",
        "full_name == '' UNION SELECT * FROM residents",
        f"full_name == 'x'; COPY residents TO '{canary}'",
        # Python escapes
        touch,
        flag,
        f"__import__('os').system('touch {canary}')",
        f"open('{canary}', 'w').write('x') > 0",
        f"exec(\"open('{canary}', 'w')\")",
        f'eval("{flag}")',
        f"compile('{flag}', 'x', 'exec')",
        f"__builtins__['eval']('{flag}')",
        f"globals()['__builtins__'].setattr(__import__('sys'), '{CANARY_ATTRIBUTE}', 1)",
        f"breakpoint() or {flag}",
        f"import os; os.system('touch {canary}')",
        # attribute / subscript access, class-hierarchy walks
        "full_name.__class__.__mro__[1].__subclasses__()",
        "().__class__.__base__.__subclasses__()[0]",
        f"as_of.__class__.__init__.__globals__['sys'].modules['os'].system('touch {canary}')",
        "full_name[0] == 'N'",
        f"is_null(full_name).__class__ and {touch}",
        # lambdas, f-strings, walrus, comprehensions, generators
        f"(lambda: {touch})()",
        f"f'{{{touch}}}' == 'x'",
        f"(pwned := {touch}) is None",
        f"[{touch} for _ in 'a'] == []",
        f"{{k: {touch} for k in 'a'}} == {{}}",
        f"any({touch} for _ in 'a')",
        f"is_null(*[{touch}])",
        # other Python syntax the language does not have
        f"{touch} if True else False",
        "len(full_name) > 10 ** 10 ** 10",  # would never finish if computed
        "full_name in ('a',) * 100000000",
        "~len(full_name) == 1",
        "full_name is None",
        "(yield full_name)",
        "await full_name",
        # unicode tricks: NFKC-folded dunders, invisible and bidi characters, look-alike letters
        f"＿＿import＿＿('pathlib').Path('{canary}').touch()",
        f"__𝐢𝐦𝐩𝐨𝐫𝐭__('pathlib').Path('{canary}').touch()",
        f'ｅｖａｌ("{flag}")',
        "is_null(full_name) \u202e or True",
        "is_null(full\u200bname)",
        "is_null(full_nаme)",  # Cyrillic а
        "is_null(full_name)\x00 or True",
        # huge and deeply nested input
        "(" * 5000 + "is_null(full_name)" + ")" * 5000,
        "not " * 400 + "is_null(full_name)",
        "lower(" * 200 + "full_name" + ")" * 200 + " == 'a'",
        " or ".join(["is_null(full_name)"] * 10_000),
        "'" + "A" * 1_000_000 + "' == full_name",
        "full_name in (" + ", ".join(f"'{i}'" for i in range(400)) + ")" + " or x" * 400,
    ]


def _mentions(value: object, markers: tuple[str, ...], depth: int = 0) -> bool:
    """Whether a source text or code object (with its nested code constants) carries one of the markers."""
    if isinstance(value, str | bytes):
        text = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
        return any(marker in text for marker in markers)
    constants = getattr(value, "co_consts", None)
    if constants is None or depth > 20:
        return False
    return any(_mentions(c, markers, depth + 1) for c in (*constants, *getattr(value, "co_names", ())))


class ExecutionWatch:
    """Records any compile-to-code or execution of text carrying the canary markers, and any process spawn, while
    a test runs. (Imports and dataclasses compile and exec their own code all the time; only the hostile text
    carries the markers.) Audit hooks cannot be removed, so the hook reads a flag."""

    def __init__(self, canary: Path) -> None:
        self.canary = canary
        self.markers = (str(canary), CANARY_ATTRIBUTE)
        self.seen: list[str] = []
        self.on = True

    def audit(self, event: str, args: tuple) -> None:
        if not self.on:
            return
        if event in ("os.system", "subprocess.Popen", "os.posix_spawn", "os.fork") or event.startswith(
            "os.exec"
        ):
            self.seen.append(event)
        elif event == "exec" and args and _mentions(args[0], self.markers):
            self.seen.append("exec of hostile code")

    def assert_nothing_ran(self) -> None:
        assert not self.canary.exists(), "a hostile expression created the canary file"
        assert not hasattr(sys, CANARY_ATTRIBUTE), "a hostile expression set an attribute on sys"
        assert self.seen == [], f"code was executed: {self.seen}"


@pytest.fixture
def watch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from ast import PyCF_ONLY_AST

    watcher = ExecutionWatch(tmp_path / "canary")
    sys.addaudithook(watcher.audit)
    real_compile = builtins.compile

    def guarded_compile(source, filename, mode, flags=0, *args, **kwargs):
        # ast.parse (PyCF_ONLY_AST) is how the language reads rules; compiling hostile text to code is not.
        if not flags & PyCF_ONLY_AST and _mentions(source, watcher.markers):
            watcher.seen.append(f"compile({mode}) of hostile text")
        return real_compile(source, filename, mode, flags, *args, **kwargs)

    monkeypatch.setattr(builtins, "compile", guarded_compile)
    yield watcher
    watcher.on = False


def test_rule_language_refuses_the_injection_corpus(tmp_path: Path, watch: ExecutionWatch) -> None:
    from sachsong.rules.expr import RuleExpressionError, compile_expression

    corpus = hostile_expressions(watch.canary)
    assert len(corpus) >= 30
    accepted = []
    for source in corpus:  # how long refusing takes is measured in benchmarks/bench_hostile_rules.py
        try:
            compile_expression(source, rule_id="hostile", columns=COLUMNS, as_of=date(2026, 1, 1))
        except RuleExpressionError as error:
            assert str(error).startswith("rule 'hostile': "), error
        else:
            accepted.append(source[:80])
    assert accepted == []
    watch.assert_nothing_ran()


def test_regular_expressions_cannot_blow_up(watch: ExecutionWatch) -> None:
    """Patterns are Rust regexes (linear time): the classic catastrophic ones are either refused at load time or
    run to the end on a long hostile value (their time against a plain pattern: benchmarks/bench_hostile_rules.py)."""
    from sachsong.rules.expr import RuleExpressionError, compile_expression

    frame = pl.DataFrame({"full_name": ["a" * 50_000 + "!"] * 4}, schema={"full_name": pl.String})
    for pattern in (r"(a+)+$", r"(a|aa)+$", r"(a*)*b", r"^(\w+\s?)*$"):
        compiled = compile_expression(f"matches(full_name, r'{pattern}')", rule_id="redos", columns=COLUMNS)
        assert frame.select(compiled.expr).to_series().to_list() == [False] * 4, pattern
    with pytest.raises(RuleExpressionError, match="rule 'huge_regex'"):
        compile_expression(
            "matches(full_name, r'(a{1000}){1000}{1000}')", rule_id="huge_regex", columns=COLUMNS
        )
    watch.assert_nothing_ran()


PACK_HEADER = "pack: hostile\ndataset: residents\nrules:\n"


def _rule(when: str) -> str:
    return (
        "  - id: hostile_rule\n    criterion: correct\n    severity: error\n"
        "    message_vi: x\n    message_en: x\n"
        f"    when: {json.dumps(when, ensure_ascii=False)}\n"
    )


def test_a_pack_with_a_hostile_rule_is_refused_naming_file_and_rule(
    tmp_path: Path, watch: ExecutionWatch
) -> None:
    from sachsong.rules.engine import PackError, load_pack

    for number, source in enumerate(hostile_expressions(watch.canary)[:24]):
        path = tmp_path / f"pack_{number}.yaml"
        path.write_text(PACK_HEADER + _rule(source), encoding="utf-8")
        with pytest.raises(PackError) as caught:
            load_pack(path)
        assert str(path.resolve()) in str(caught.value) and "hostile_rule" in str(caught.value)
    watch.assert_nothing_ran()


def test_pack_yaml_cannot_construct_python_objects_or_name_unregistered_code(
    tmp_path: Path, watch: ExecutionWatch
) -> None:
    from sachsong.rules.engine import PackError, load_pack

    canary = watch.canary
    tricks = {
        "python_tag": PACK_HEADER + f"  - !!python/object/apply:os.system ['touch {canary}']\n",
        "python_name": PACK_HEADER + "  - !!python/name:os.system\n",
        "python_check_path": PACK_HEADER
        + "  - id: r\n    criterion: correct\n    severity: error\n    message_vi: x\n    message_en: x\n"
        + "    python: os.system\n",
        "when_not_text": PACK_HEADER
        + "  - id: r\n    criterion: correct\n    severity: error\n    message_vi: x\n    message_en: x\n"
        + "    when: [is_null(full_name)]\n",
        "extra_field": PACK_HEADER
        + "  - id: r\n    criterion: correct\n    severity: error\n    message_vi: x\n    message_en: x\n"
        + "    when: is_null(full_name)\n    sql: DROP TABLE residents\n",
    }
    for name, text in tricks.items():
        path = tmp_path / f"{name}.yaml"
        path.write_text(text, encoding="utf-8")
        with pytest.raises(PackError, match=re.escape(str(path.resolve()))):
            load_pack(path)
    watch.assert_nothing_ran()


# ------------------------------------------------------------------------------------------ source paths
def _province_with_neighbours(tmp_path: Path) -> tuple[Path, Path]:
    """A sources folder with one good export, and a secret export beside it (outside the folder)."""
    root = tmp_path / "province"
    (root / "exports").mkdir(parents=True)
    (root / "exports" / "good.csv").write_text(
        "Họ và tên,Số CCCD\nNguyễn Văn Anh,044090001234\n", encoding="utf-8"
    )
    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / "leak.csv").write_text("Họ và tên,Số CCCD\nNgười Ngoài Cuộc,001099009999\n", encoding="utf-8")
    return root, secret


def _registry(path: Path, *globs: str) -> Path:
    entries = "".join(f"  - {{id: s{i}, glob: {json.dumps(g)}}}\n" for i, g in enumerate(globs))
    path.write_text("sources:\n" + entries, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "glob",
    ["../secret/*.csv", "../../secret/leak.csv", "**/../../secret/*.csv", "ABSOLUTE/*.csv", "ABSOLUTE/**"],
)
def test_registry_globs_cannot_reach_outside_the_sources_folder(tmp_path: Path, glob: str) -> None:
    from sachsong.sources.ingest import ingest_directory

    root, secret = _province_with_neighbours(tmp_path)
    registry = _registry(tmp_path / "registry.yaml", glob.replace("ABSOLUTE", str(secret)), "**/*")
    result = ingest_directory(root, registry=registry)
    assert result.table["full_name"].to_list() == ["Nguyễn Văn Anh"]
    assert "001099009999" not in result.table["citizen_id"].to_list()
    assert result.counts["source_file"].to_list() == ["good.csv"]
    assert result.balanced()


def test_symbolic_links_out_of_the_sources_folder_are_refused(tmp_path: Path) -> None:
    from sachsong.sources.ingest import ingest_directory

    root, secret = _province_with_neighbours(tmp_path)
    exports = root / "exports"
    (exports / "linked.csv").symlink_to(secret / "leak.csv")
    (exports / "linked_folder").symlink_to(secret, target_is_directory=True)
    (exports / "relative_link.csv").symlink_to(Path("..") / ".." / "secret" / "leak.csv")
    registry = _registry(tmp_path / "registry.yaml", "**/*")
    result = ingest_directory(root, registry=registry)
    assert result.table["full_name"].to_list() == ["Nguyễn Văn Anh"]
    failed = dict(
        result.counts.filter(pl.col("status") == "failed").select("source_file", "error").iter_rows()
    )
    assert set(failed) == {"linked.csv", "linked_folder", "relative_link.csv"}
    assert all("outside" in reason or "not followed" in reason for reason in failed.values())
    assert all(
        not Path(name).is_absolute() and ".." not in Path(name).parts for name in result.counts["source_file"]
    )


# --------------------------------------------------------------------------------------- read-only store
def test_consumers_cannot_change_the_live_snapshot_through_sql(baseline: Baseline, tmp_path: Path) -> None:
    from sachsong.store.reader import open_current

    store = copy_store(baseline.store, tmp_path / "store")
    live = assert_store_intact(store)
    connection = open_current(store)
    try:
        for statement in (
            "INSERT INTO rejects (source_file) VALUES ('x')",
            "UPDATE residents_records SET full_name = NULL",
            "DELETE FROM quarantine",
            "DROP TABLE findings",
            "ALTER TABLE findings ADD COLUMN z INTEGER",
            "CREATE TABLE extra (a INTEGER)",
            "CREATE VIEW extra_view AS SELECT 1",
        ):
            with pytest.raises(Exception, match=r"(?i)read.only|Cannot execute statement"):
                connection.execute(statement)
    finally:
        connection.close()
    assert assert_store_intact(store) == live


def test_consumers_cannot_overwrite_snapshot_files_through_their_connection(
    baseline: Baseline, tmp_path: Path
) -> None:
    from sachsong.store.reader import current_snapshot, open_current

    store = copy_store(baseline.store, tmp_path / "store")
    parquet = current_snapshot(store) / "parquet" / "residents_records.parquet"
    before = parquet.read_bytes()
    connection = open_current(store)
    try:
        with pytest.raises(Exception, match=r"(?i)permission|disabled|read.only"):
            connection.execute(
                f"COPY (SELECT * FROM residents_records LIMIT 1) TO '{parquet}' (FORMAT parquet)"
            )
    finally:
        connection.close()
    assert parquet.read_bytes() == before


# ------------------------------------------------------------------------------------------ personal data
_SEPARATED_DIGITS = re.compile(r"(?<=\d)[ .\-\u00a0](?=\d)")
_DIGIT_RUN = re.compile(r"\d+")


def _digits(value: str | None) -> str:
    return re.sub(r"\D", "", value or "")


def personal_data(demo: Demo) -> tuple[set[str], set[str]]:
    """(identity/phone numbers as digit strings, full names of ≥ 2 syllables, case-folded) of every input row."""
    numbers: set[str] = set()
    for column in ("raw_citizen_id", "raw_phone"):
        numbers |= {_digits(v) for v in demo.records[column].to_list()}
    for column in ("cccd", "cmnd", "phone_e164", "old_phone_e164"):
        numbers |= {_digits(v) for v in demo.persons[column].to_list()}
    for _, citizen_id, phone in BROKEN_PEOPLE:
        numbers |= {_digits(citizen_id), _digits(phone)}
    # Phones in every spelling a report could use: E.164 digits (84…), national (0…), bare subscriber number.
    for number in list(numbers):
        if number.startswith("84") and len(number) in (11, 12):
            numbers |= {"0" + number[2:], number[2:]}
        elif number.startswith("0") and len(number) in (10, 11):
            numbers |= {"84" + number[1:], number[1:]}
    numbers = {n for n in numbers if len(n) >= 9}
    names = set()
    for value in [
        *demo.records["raw_full_name"].to_list(),
        *demo.persons["full_name"].to_list(),
        *(person[0] for person in BROKEN_PEOPLE),
    ]:
        if value and len(value.split()) >= 2:
            names.add(unicodedata.normalize("NFC", " ".join(value.split())).casefold())
    return numbers, names


def _readable_text(path: Path) -> str:
    """A file's text as a reader would see it: XML/HTML entities and JSON escapes undone, xlsx unzipped."""
    if path.suffix.lower() in (".xlsx", ".xlsm", ".zip"):
        with zipfile.ZipFile(path) as archive:
            parts = [archive.read(name).decode("utf-8", "replace") for name in archive.namelist()]
        return html.unescape("\n".join(parts))
    text = path.read_bytes().decode("utf-8", "replace")
    if path.suffix.lower() == ".json":
        text += "\n" + json.dumps(json.loads(text), ensure_ascii=False)
    return html.unescape(text)


def find_personal_data(text: str, numbers: set[str], names: set[str]) -> list[str]:
    found = []
    joined = _SEPARATED_DIGITS.sub("", text)
    found += sorted({run for run in _DIGIT_RUN.findall(joined) if run in numbers})
    folded = " ".join(unicodedata.normalize("NFC", text).casefold().split())
    found += sorted(name for name in names if re.search(r"(?<!\w)" + re.escape(name) + r"(?!\w)", folded))
    return found


def test_the_scanner_finds_what_it_looks_for(demo: Demo) -> None:
    numbers, names = personal_data(demo)
    person = demo.persons.filter(pl.col("cccd").is_not_null() & pl.col("phone_e164").is_not_null()).row(
        0, named=True
    )
    cccd, phone, name = person["cccd"], person["phone_e164"], person["full_name"]
    spaced = f"{cccd[:3]} {cccd[3:6]} {cccd[6:9]} {cccd[9:]}"
    local = "0" + phone[3:6] + "." + phone[6:9] + "." + phone[9:]
    text = f"<td>{html.escape(name.upper())}</td> id {spaced}; tel {local}"
    assert len(find_personal_data(text, numbers, names)) == 3
    assert find_personal_data("run 44-20261101 scored 0.95 on 2026-11-01", numbers, names) == []


def _prefect_records(api_url: str) -> str:
    """Everything the session's Prefect server holds about runs: every log line, and every flow and task run's
    name, parameters and state message."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.sorting import LogSort

    lines: list[str] = []
    with get_client(sync_client=True) as client:
        offset = 0
        while True:
            page = client.read_logs(limit=200, offset=offset, sort=LogSort.TIMESTAMP_ASC)
            lines += [log.message for log in page]
            if len(page) < 200:
                break
            offset += 200
        for run in client.read_flow_runs(limit=200):
            lines += [
                run.name,
                json.dumps(run.parameters, default=str),
                (run.state.message if run.state else ""),
            ]
        offset = 0
        while page := client.read_task_runs(limit=200, offset=offset):
            lines += [line for run in page for line in (run.name, run.state.message if run.state else "")]
            offset += 200
    return "\n".join(line or "" for line in lines)


def test_reports_and_logs_carry_no_personal_data(baseline: Baseline, demo: Demo, prefect_api: str) -> None:
    from sachsong.store.history import read_runs

    numbers, names = personal_data(demo)
    assert len(numbers) > 100 and len(names) > 50
    reports = sorted(p for p in (baseline.store / "reports").rglob("*") if p.is_file())
    assert {p.suffix for p in reports} >= {".html", ".json", ".csv", ".xlsx"}
    leaks = {}
    for path in reports:
        found = find_personal_data(_readable_text(path), numbers, names)
        if found:
            leaks[str(path.relative_to(baseline.store))] = found[:5]
    logs = _prefect_records(prefect_api)
    assert "ingest" in logs and "matching" in logs  # the server really holds this run's task logs
    history = read_runs(baseline.store).select("message", "counts_per_source").write_csv()
    for label, text in (("stdout+stderr", baseline.output), ("prefect logs", logs), ("runs", history)):
        found = find_personal_data(text, numbers, names)
        if found:
            leaks[label] = found[:5]
    assert leaks == {}


def test_the_execution_watch_sees_executed_hostile_text(watch: ExecutionWatch) -> None:
    """The watch itself can fail: executing one marked expression is seen (then undone)."""
    hostile = f"setattr(__import__('sys'), '{CANARY_ATTRIBUTE}', 1)"
    try:
        exec(compile(hostile, "<rule>", "exec"))
        with pytest.raises(AssertionError, match="set an attribute on sys"):
            watch.assert_nothing_ran()
        assert "compile(exec) of hostile text" in watch.seen and "exec of hostile code" in watch.seen
    finally:
        if hasattr(sys, CANARY_ATTRIBUTE):
            delattr(sys, CANARY_ATTRIBUTE)
        watch.seen.clear()

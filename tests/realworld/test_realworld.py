"""Real-world exports through the command line contract only (README "The command line", DESIGN "The CLI is a
contract"): one `sachsong run` for the module, one `sachsong ingest` and one `sachsong check`.

Each test names one promise of issues 12/13 and DESIGN.md. Failures print counts and row positions (file, sheet,
row), never the values.
"""

from __future__ import annotations

import collections
import contextlib
import csv
import html
import importlib.util
import io
import json
import os
import re
import signal
import subprocess
import sys
import unicodedata
import zipfile
from pathlib import Path

import openpyxl
import polars as pl
import pytest

_spec = importlib.util.spec_from_file_location("realworld_corpus", Path(__file__).with_name("realworld_corpus.py"))
rc = importlib.util.module_from_spec(_spec)
sys.modules["realworld_corpus"] = rc
_spec.loader.exec_module(rc)

AS_OF = rc.AS_OF.isoformat()
RUN_TIMEOUT = 900
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


# ------------------------------------------------------------------------------------------------- running
def _start(args: list[str], cwd: Path) -> subprocess.Popen:
    """`sachsong ARGS` in its own process group, output to files (a pipe nobody reads could block it)."""
    script = Path(sys.executable).with_name("sachsong")
    cmd = [str(script)] if script.exists() else [sys.executable, "-m", "sachsong.pipelines.cli"]
    env = dict(os.environ, PREFECT_HOME=str(cwd / "prefect-home"), PYTHONIOENCODING="utf-8")
    with (cwd / "stdout.txt").open("wb") as out, (cwd / "stderr.txt").open("wb") as err:
        return subprocess.Popen(cmd + args, cwd=cwd, env=env, stdout=out, stderr=err, start_new_session=True)


def _finish(proc: subprocess.Popen, cwd: Path, timeout: int = RUN_TIMEOUT) -> subprocess.CompletedProcess:
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # our own child's process group only
        proc.wait()
        pytest.fail(f"sachsong {proc.args[1]} did not finish in {timeout} s")
    read = lambda name: (cwd / name).read_bytes().decode("utf-8", "replace")  # noqa: E731
    return subprocess.CompletedProcess(proc.args, proc.returncode, read("stdout.txt"), read("stderr.txt"))


def _sachsong(args: list[str], cwd: Path, timeout: int = RUN_TIMEOUT) -> subprocess.CompletedProcess:
    return _finish(_start(args, cwd), cwd, timeout)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory):
    return rc.build_corpus(tmp_path_factory.mktemp("realworld") / "exports")


@pytest.fixture(scope="module")
def run_started(corpus, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The one nightly run of the module, started early so ingest and check run beside it."""
    work = tmp_path_factory.mktemp("run")
    store = work / "store"
    proc = _start(["run", "--sources", str(corpus.root), "--store", str(store), "--province", rc.PROVINCE,
                   "--as-of", AS_OF], work)
    yield {"popen": proc, "work": work, "store": store}
    if proc.poll() is None:  # a test failed before waiting for it
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@pytest.fixture(scope="module")
def run(run_started) -> dict:
    proc = _finish(run_started["popen"], run_started["work"])
    store = run_started["store"]
    tables: dict[str, pl.DataFrame] = {}
    current = store / "CURRENT"
    if current.exists():
        snap = store / "snapshots" / current.read_text(encoding="utf-8").strip() / "parquet"
        for name in ("residents_records", "quarantine", "rejects"):
            if (snap / f"{name}.parquet").exists():
                tables[name] = pl.read_parquet(snap / f"{name}.parquet")
    return {"proc": proc, "store": store, "tables": tables}


@pytest.fixture(scope="module")
def ingested(corpus, run_started, tmp_path_factory: pytest.TempPathFactory) -> dict:
    work = tmp_path_factory.mktemp("ingest")
    out, rej = work / "raw.parquet", work / "rejects.parquet"
    proc = _sachsong(["ingest", str(corpus.root), "--output", str(out), "--rejects", str(rej)], work, 300)
    return {"proc": proc, "raw": out, "rejects": rej, "work": work}


def _need(run: dict, *names: str) -> None:
    missing = [n for n in names if n not in run["tables"]]
    if missing:
        proc = run["proc"]
        pytest.fail(f"no published snapshot table {missing}: exit {proc.returncode}; "
                    f"stderr tail: {_scrub(proc.stderr[-600:])}")


def _scrub(text: str) -> str:
    """Digits masked: a failure message must not carry a planted value either."""
    return re.sub(r"\d{6,}", "<digits>", text)


# ------------------------------------------------------------------------------------------ row matching
def _file_key(name: str) -> str:
    name = unicodedata.normalize("NFC", name)
    return "".join(c for c in name if unicodedata.category(c) != "Cf")


def _which_file(source_file: str | None, files: list[str]) -> str | None:
    if source_file is None:
        return None
    key = _file_key(Path(source_file).name if "/" in source_file else source_file)
    best = None
    for f in files:
        fk = _file_key(f)
        if (key == fk or key.startswith(fk)) and (best is None or len(fk) > len(best)):
            best = f
    return best


def _digits_key(value: object) -> str | None:
    if value is None:
        return None
    text = unicodedata.normalize("NFKC", str(value)).strip().lstrip("'")
    text = re.sub(r"\.0+$", "", text)
    digits = "".join(c for c in text if c.isdigit()).lstrip("0")
    return digits if len(digits) >= 8 else None


def _letters(value: object) -> str:
    return "".join(c for c in rc._fold(str(value or "")) if c.isalpha())


def _tokens(value: object) -> set[str]:
    return set(re.findall(r"[a-z]+", rc._fold(str(value or ""))))


def _match(corpus, frames: dict[str, pl.DataFrame]) -> tuple[dict, dict]:
    """Each published or quarantined row to the corpus row it came from, by content (CCCD digits, name) within
    its file. Returns ({(table, i): Row}, {(table, i): file}); unmatched rows map to None."""
    files = list(corpus.files)
    truth_by_file: dict[str, list] = collections.defaultdict(list)
    for r in corpus.data_rows():
        truth_by_file[r.file].append(r)
    matched: dict = {}
    file_of: dict = {}
    cands: dict[str, list] = collections.defaultdict(list)
    for table, df in frames.items():
        for i, rec in enumerate(df.select("source_file", "full_name", "citizen_id").iter_rows(named=True)):
            f = _which_file(rec["source_file"], files)
            file_of[(table, i)] = f
            matched[(table, i)] = None
            if f is not None:
                cands[f].append(((table, i), _digits_key(rec["citizen_id"]), _letters(rec["full_name"]),
                                 _tokens(rec["full_name"])))
    for f, recs in cands.items():
        scored = []
        for t_idx, t in enumerate(truth_by_file[f]):
            tdig, tname = _digits_key(t.written_cccd), _letters(t.written_name)
            tgiven = _letters(t.person.given) if t.person else ""
            for key, dig, name, toks in recs:
                s = (4 if dig and tdig and dig == tdig else 0) + (2 if name and name == tname else 0)
                s += 1 if tgiven and tgiven in toks else 0
                if s >= 3:
                    scored.append((s, t_idx, key))
        used_t: set[int] = set()
        for _score, t_idx, key in sorted(scored, key=lambda x: -x[0]):
            if t_idx in used_t or matched[key] is not None:
                continue
            used_t.add(t_idx)
            matched[key] = truth_by_file[f][t_idx]
    return matched, file_of


@pytest.fixture(scope="module")
def matched(run, corpus) -> dict:
    _need(run, "residents_records", "quarantine")
    frames = {k: run["tables"][k] for k in ("residents_records", "quarantine")}
    m, file_of = _match(corpus, frames)
    by_truth: dict[int, tuple[str, int]] = {}
    for key, row in m.items():
        if row is not None:
            by_truth[id(row)] = key
    return {"frames": frames, "row_of": m, "file_of": file_of, "by_truth": by_truth}


def _where(r) -> str:
    return f"{r.file}{'[' + r.sheet + ']' if r.sheet else ''}:{r.position}"


def _published_value(frames: dict, key: tuple[str, int], column: str):
    table, i = key
    return frames[table][column][i] if column in frames[table].columns else None


# ------------------------------------------------------------------------------------------------- tests
# ingest and check first: they run while the nightly run started beside them works
def test_b_ingest_cli_accounts_for_every_row(ingested, corpus) -> None:
    proc = ingested["proc"]
    assert proc.returncode == 0, f"ingest exit {proc.returncode}: {_scrub(proc.stderr[-600:])}"
    raw = pl.read_parquet(ingested["raw"])
    files = list(corpus.files)
    out = collections.Counter(_which_file(sf, files) or f"<unknown:{sf}>" for sf in raw["source_file"].to_list())
    rejects = pl.read_parquet(ingested["rejects"]) if ingested["rejects"].exists() else None
    problems = _conservation(corpus, out, rejects)
    assert not problems, "ingest: rows in != out + rejected:\n  " + "\n  ".join(problems)


def test_check_cli_does_not_stop_on_any_value(ingested, corpus) -> None:
    """One bad value costs one row, never the night: `check` over everything ingested completes."""
    assert ingested["raw"].exists(), "ingest produced no table"
    out = ingested["work"] / "findings.parquet"
    proc = _sachsong(["check", str(ingested["raw"]), "--output", str(out), "--as-of", AS_OF], ingested["work"],
                     300)
    assert proc.returncode == 0, f"check exit {proc.returncode}: {_scrub(proc.stderr[-800:])}"
    findings = pl.read_parquet(out)
    assert {"record_id", "rule_id", "criterion", "severity", "message"} <= set(findings.columns)
    assert findings.height > 0, "the hostile rows were checked and found nothing"


def test_e_ingest_output_carries_no_personal_value(ingested, corpus) -> None:
    proc = ingested["proc"]
    found = _leaks(corpus, [("ingest stdout", proc.stdout), ("ingest stderr", proc.stderr)])
    assert not found, "planted personal values in ingest's output: " + "; ".join(
        f"{w}, {k}: {n}" for (w, k), n in found.items())


def test_a_run_completes_and_publishes(run) -> None:
    proc = run["proc"]
    assert proc.returncode == 0, f"exit {proc.returncode}; stderr tail: {_scrub(proc.stderr[-800:])}"
    assert (run["store"] / "CURRENT").exists(), "no CURRENT pointer: nothing was published"
    _need(run, "residents_records", "quarantine", "rejects")
    assert run["tables"]["residents_records"].height > 0, "the snapshot has no records"


def _conservation(corpus, per_file_out: dict[str, int], rejects: pl.DataFrame | None) -> list[str]:
    files = list(corpus.files)
    rejected: collections.Counter = collections.Counter()
    if rejects is not None and rejects.height:
        seen: set = set()
        for rec in rejects.select("source_file", "source_row").iter_rows(named=True):
            f = _which_file(rec["source_file"], files) or f"<unknown:{rec['source_file']}>"
            # one reject per source row (several fields of one row are one row); a whole-file reject is one
            key = (f, rec["source_row"]) if rec["source_row"] is not None else (f, "file", len(seen))
            if key not in seen:
                seen.add(key)
                rejected[f] += 1
    problems = []
    for f, info in corpus.files.items():
        got = per_file_out.get(f, 0) + rejected.get(f, 0)
        if got != info.rows_in:
            problems.append(f"{f!r} ({info.note}): {info.rows_in} rows in the file, "
                            f"{per_file_out.get(f, 0)} out + {rejected.get(f, 0)} rejected = {got}")
    strays = [f for f in set(per_file_out) | set(rejected) if f not in corpus.files]
    if strays:
        problems.append(f"rows attributed to no export: {strays}")
    return problems


def test_b_every_row_of_every_file_is_published_quarantined_or_rejected(run, corpus) -> None:
    _need(run, "residents_records", "quarantine", "rejects")
    files = list(corpus.files)
    out: collections.Counter = collections.Counter()
    for name in ("residents_records", "quarantine"):
        for sf in run["tables"][name]["source_file"].to_list():
            out[_which_file(sf, files) or f"<unknown:{sf}>"] += 1
    problems = _conservation(corpus, out, run["tables"]["rejects"])
    assert not problems, "rows in != published + quarantined + rejected:\n  " + "\n  ".join(problems)


def test_b_template_rows_are_dropped_not_made_records(matched, corpus) -> None:
    """Title blocks, column numbers, repeated headers, totals, footers and STT-only lines are not people."""
    phantoms = collections.Counter()
    examples = collections.defaultdict(list)
    for key, row in matched["row_of"].items():
        if row is None:
            f = matched["file_of"][key]
            phantoms[(key[0], f)] += 1
            examples[(key[0], f)].append(_published_value(matched["frames"], key, "source_row"))
    assert not phantoms, "records that match no person row of their file (template or invented rows): " + "; ".join(
        f"{t} from {f!r}: {n} (source_row {examples[(t, f)][:8]})" for (t, f), n in phantoms.items())


def _value_checks(r, frames, key) -> list[str]:
    """Fields of a published row that differ from what the row must standardize to."""
    wrong = []
    got_cccd = _published_value(frames, key, "cccd")
    if got_cccd != r.cccd:
        wrong.append("cccd")
    got_dob = _published_value(frames, key, "dob")
    if got_dob != r.dob:
        wrong.append("dob")
    if _published_value(frames, key, "sex_code") != r.sex:
        wrong.append("sex_code")
    if _published_value(frames, key, "phone_e164") != r.phone_e164:
        wrong.append("phone_e164")
    return wrong


def test_c_recoverable_dirt_is_published_with_the_right_standard_value(matched, corpus) -> None:
    frames = matched["frames"]
    rows = [r for r in corpus.data_rows() if r.recoverable]
    ok = 0
    per_tag: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    examples: dict[str, list[str]] = collections.defaultdict(list)
    for r in rows:
        key = matched["by_truth"].get(id(r))
        if key is None:
            outcome = "not published or quarantined (rejected or lost)"
        elif key[0] == "quarantine":
            reasons = _published_value(frames, key, "reasons")
            outcome = "quarantined: " + ",".join(sorted(reasons.to_list() if reasons is not None else []))
        else:
            wrong = _value_checks(r, frames, key)
            outcome = "published, wrong " + "+".join(wrong) if wrong else "ok"
        if outcome == "ok":
            ok += 1
        for tag in r.dirt or ["clean"]:
            per_tag[tag][outcome] += 1
        if outcome != "ok":
            examples[outcome].append(_where(r))
    share = ok / len(rows)
    # a failing row is listed under each of its tags; tags that fail most often come first (the likely causes)
    rate = {tag: 1 - c["ok"] / sum(c.values()) for tag, c in per_tag.items()}
    lines = [f"{tag} ({rate[tag]:.0%} fail): " + ", ".join(f"{n} {o}" for o, n in c.most_common())
             for tag, c in sorted(per_tag.items(), key=lambda kv: -rate[kv[0]]) if rate[tag] > 0]
    lines += [f"{o}: e.g. {ex[:5]}" for o, ex in examples.items()]
    assert share >= 0.97, (f"{ok}/{len(rows)} = {share:.1%} of rows with recoverable dirt published right "
                           "(target 97%):\n  " + "\n  ".join(lines))


def test_d_no_published_value_silently_differs_from_the_truth(matched, corpus) -> None:
    frames = matched["frames"]
    changed: collections.Counter = collections.Counter()
    examples = collections.defaultdict(list)
    for r in corpus.data_rows():
        key = matched["by_truth"].get(id(r))
        if key is None or key[0] != "residents_records":
            continue
        for column, truth in (("cccd", r.cccd), ("dob", r.dob), ("sex_code", r.sex),
                              ("phone_e164", r.phone_e164)):
            got = _published_value(frames, key, column)
            if got is None or got == truth:
                continue
            written_digits = "".join(c for c in unicodedata.normalize("NFKC", r.written_cccd) if c.isdigit())
            if column == "cccd" and truth is None and got == written_digits:
                continue  # an invalid CCCD kept digit for digit as written is not a change (the rules judge it)
            tag = f"{column} (row dirt: {','.join(r.dirt) or 'clean'})"
            changed[tag] += 1
            examples[tag].append(_where(r))
        got = _published_value(frames, key, "updated_ts")
        if r.updated is not None and got is not None:
            same = got.date() == r.updated.date() if r.updated_is_date else got == r.updated
            if not same:
                tag = f"updated_ts (row dirt: {','.join(r.dirt) or 'clean'})"
                changed[tag] += 1
                examples[tag].append(_where(r))
    assert not changed, "published values that differ from the truth, with no quarantine: " + "; ".join(
        f"{t}: {n} e.g. {examples[t][:5]}" for t, n in changed.most_common())


# ---------------------------------------------------------------------------------------- names (issue 12)
def _name_key(text: str | None) -> tuple:
    """A name compared syllable by syllable: letters without tone, and the tone, so "hoà" == "hòa"."""
    out = []
    for syl in unicodedata.normalize("NFC", text or "").casefold().split():
        nfd = unicodedata.normalize("NFD", syl)
        tones = "".join(sorted(c for c in nfd if c in rc.TONE_MARKS))
        base = unicodedata.normalize("NFC", "".join(c for c in nfd if c not in rc.TONE_MARKS))
        out.append((base, tones))
    return tuple(out)


def _name_outcomes(matched, corpus, tag: str) -> tuple[int, collections.Counter, dict]:
    frames = matched["frames"]
    outcomes: collections.Counter = collections.Counter()
    examples = collections.defaultdict(list)
    rows = [r for r in corpus.data_rows() if tag in r.dirt]
    for r in rows:
        key = matched["by_truth"].get(id(r))
        if key is None or key[0] != "residents_records":
            continue
        got = _published_value(frames, key, "name_norm")
        fam = _published_value(frames, key, "family_name")
        if _name_key(got) == _name_key(r.name) and _name_key(fam) == _name_key(r.family):
            outcomes["right"] += 1
        else:
            outcome = "published with a different name"
            outcomes[outcome] += 1
            examples[outcome].append(_where(r))
    return len(rows), outcomes, examples


@pytest.mark.parametrize("tag", ["name_split", "name_honorific", "name_telex", "name_vni", "name_nfd", "name_upper",
                                 "name_nbsp_zero_width", "name_given_first", "mojibake_utf8_as_cp1252", "cp1252"])
def test_published_names_are_whole_and_unchanged(matched, corpus, tag: str) -> None:
    """Split "Họ và tên đệm" + "Tên" joined, "Ông"/"Bà" not a family name, Telex/VNI residue decoded (or held
    back), decomposed, upper-case and invisible-character names standardized, Windows-1252 letters read as
    written. A row held back in quarantine is not a failure here; a published wrong name is."""
    n, outcomes, examples = _name_outcomes(matched, corpus, tag)
    assert n > 0
    bad = {k: v for k, v in outcomes.items() if k != "right"}
    assert not bad, f"{tag}: of {n} rows, " + ", ".join(f"{v} {k} e.g. {examples[k][:5]}" for k, v in bad.items())


def test_an_impossible_cccd_is_not_published_as_one(matched, corpus) -> None:
    """Issue 13 (1): "chưa cấp", a letter O for a zero, a century digit 7 or digits lost to 7.9E+10 become the
    row's quarantine reason (or no CCCD), never a published CCCD."""
    frames = matched["frames"]
    bad = []
    rows = [r for r in corpus.data_rows() if r.cccd is None and r.person is not None]
    for r in rows:
        key = matched["by_truth"].get(id(r))
        if key is not None and key[0] == "residents_records" and _published_value(frames, key, "cccd"):
            bad.append(f"{_where(r)} ({','.join(t for t in r.dirt if t.startswith('cccd'))})")
    assert rows
    assert not bad, f"{len(bad)} of {len(rows)} rows with no valid CCCD were published with one: {bad}"


def test_junk_in_the_name_column_is_not_published_as_a_name(matched, corpus) -> None:
    """A formula ("=HYPERLINK(...)", "@SUM(...)", a DDE payload) in the name column is no person's name: the row
    is quarantined or published without a standardized name, not renamed into "Hyperlink Http ..."."""
    frames = matched["frames"]
    rows = [r for r in corpus.data_rows() if "name_formula" in r.dirt]
    bad = []
    for r in rows:
        key = matched["by_truth"].get(id(r))
        if key is not None and key[0] == "residents_records" and _published_value(frames, key, "name_norm"):
            bad.append(_where(r))
    assert rows
    assert not bad, f"{len(bad)} of {len(rows)} formula names published as standardized names: {bad}"


def test_the_same_person_in_two_exports_is_one_person(matched, corpus) -> None:
    """A citizen held by two old communes' exports (same CCCD once repaired) ends in one cluster."""
    frames = matched["frames"]
    groups: dict[int, list] = collections.defaultdict(list)
    for r in corpus.data_rows():
        if r.person is not None:
            groups[id(r.person)].append(r)
    pairs = [g for g in groups.values() if len(g) > 1]
    assert pairs
    split, unpublished = [], 0
    for g in pairs:
        keys = [matched["by_truth"].get(id(r)) for r in g]
        if any(k is None or k[0] != "residents_records" for k in keys):
            unpublished += 1
            continue
        clusters = {_published_value(frames, k, "cluster_id") for k in keys}
        if len(clusters) != 1 or None in clusters:
            split.append(" + ".join(_where(r) for r in g))
    assert not split, (f"{len(split)} of {len(pairs) - unpublished} people published from two exports are split "
                       f"into several clusters: {split[:8]}")


# ----------------------------------------------------------------------------------- leaks and downloads
def _report_texts(store: Path) -> list[tuple[str, str]]:
    texts = []
    for path in sorted((store / "reports").rglob("*")):
        if not path.is_file():
            continue
        raw = path.read_bytes()
        if path.suffix in (".xlsx", ".xlsm", ".zip"):
            with zipfile.ZipFile(io.BytesIO(raw)) as zf:
                text = "\n".join(zf.read(n).decode("utf-8", "replace") for n in zf.namelist())
        else:
            text = raw.decode("utf-8", "replace")
        if path.suffix == ".json":
            with contextlib.suppress(ValueError):
                text += "\n" + json.dumps(json.loads(text), ensure_ascii=False)
        texts.append((str(path.relative_to(store)), html.unescape(html.unescape(text))))
    return texts


def _tone_variants(name: str) -> set[str]:
    old_new = {"òa": "oà", "óa": "oá", "ỏa": "oả", "õa": "oã", "ọa": "oạ", "òe": "oè", "óe": "oé", "ỏe": "oẻ",
               "õe": "oẽ", "ọe": "oẹ", "ùy": "uỳ", "úy": "uý", "ủy": "uỷ", "ũy": "uỹ", "ụy": "uỵ"}
    a = b = unicodedata.normalize("NFC", name).casefold()
    for old, new in old_new.items():
        a, b = a.replace(old, new), b.replace(new, old)
    return {name.casefold(), a, b}


def _leaks(corpus, sources: list[tuple[str, str]]) -> collections.Counter:
    names = set()
    for n in corpus.planted_names:
        if len(n.split()) >= 3 or n.startswith(FORMULA_START):
            names |= _tone_variants(n)
    found: collections.Counter = collections.Counter()
    for where, text in sources:
        text = html.unescape(html.unescape(text))
        folded = unicodedata.normalize("NFC", text).casefold()
        joined = re.sub(r"(?<=\d)[ .\-](?=\d)", "", text)  # "0912 345 678" / "0912.345.678" as one number
        runs = set(re.findall(r"\d+", text)) | set(re.findall(r"\d+", joined))
        for n in names:
            if n in folded:
                found[(where, "name")] += 1
        for num in corpus.planted_numbers:
            if num in runs:
                found[(where, "number")] += 1
    return found


def test_e_the_leak_scanner_finds_planted_values_in_report_shapes(corpus) -> None:
    """The scanner itself: a name upper-cased and HTML-escaped, an 11-digit CCCD, a spaced phone are found;
    dates, counts and run ids are not."""
    person = next(r.person for r in corpus.data_rows() if r.person and "đ" in r.person.full_name.casefold())
    shown = html.escape(person.full_name.upper()).replace("Đ", "&#272;")
    phone = f"{person.phone[:4]} {person.phone[4:7]} {person.phone[7:]}"
    assert _leaks(corpus, [("a", f"<td>{shown}</td>")])
    assert _leaks(corpus, [("b", f"id {person.cccd[1:]}.")])
    assert _leaks(corpus, [("c", f"SĐT: {phone}")])
    assert not _leaks(corpus, [("d", "run 80-20261130-20261202T004425436870Z: 312 records, 97.5%, 2026-11-30")])


def test_e_no_planted_personal_value_in_reports_or_run_output(run, corpus) -> None:
    proc = run["proc"]
    sources = [("run stdout", proc.stdout), ("run stderr", proc.stderr), *_report_texts(run["store"])]
    found = _leaks(corpus, sources)
    assert not found, "planted personal values found (where, kind: count): " + "; ".join(
        f"{w}, {k}: {n}" for (w, k), n in found.items())
    assert len(sources) > 2, "no report files under <store>/reports to scan"


def _is_number(text: str) -> bool:
    try:
        float(text.replace(",", ""))
        return True
    except ValueError:
        return False


def test_f_no_exported_cell_is_a_live_formula(run) -> None:
    store: Path = run["store"]
    exported = [p for p in store.rglob("*") if p.suffix in (".csv", ".xlsx") and p.is_file()]
    assert exported, "no csv/xlsx export under the store"
    live = []
    for path in exported:
        rel = str(path.relative_to(store))
        if path.suffix == ".csv":
            csv.field_size_limit(64 * 1024 * 1024)
            with path.open(encoding="utf-8-sig", newline="") as fh:
                for r_i, row in enumerate(csv.reader(fh), 1):
                    for c_i, cell in enumerate(row, 1):
                        if cell.startswith(FORMULA_START) and not _is_number(cell):
                            live.append(f"{rel} row {r_i} col {c_i}")
        else:
            wb = openpyxl.load_workbook(path)
            for ws in wb.worksheets:
                for row in ws.iter_rows():
                    for c in row:
                        if c.data_type == "f" or (c.hyperlink is not None and c.hyperlink.target):
                            live.append(f"{rel} {ws.title}!{c.coordinate}")
    assert not live, f"{len(live)} live formula/hyperlink cells: {live[:10]}"


def test_file_names_with_bidi_or_invisible_characters_are_not_shown_raw(run) -> None:
    """Issue 13 (9): a right-to-left override in a file name shows reversed on the scorecard."""
    controls = re.compile("[\u200b-\u200f\u202a-\u202e\u2066-\u2069]")
    texts = _report_texts(run["store"])
    assert texts, "no report files under <store>/reports"
    hits = [where for where, text in texts if controls.search(text)]
    assert not hits, f"bidi/zero-width control characters in: {hits}"


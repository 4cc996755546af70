"""Incremental night vs full rebuild, measured from outside through the CLI and the published store (issue 15).

    night 1            sachsong run --sources NIGHT1 --store W/store --as-of 2026-11-01
    (copy)             W/store -> W/store_full, as night 1 left it
    night 2            sachsong run --sources NIGHT2 --store W/store      --as-of 2026-11-02
    night 2 --full     sachsong run --sources NIGHT2 --store W/store_full --as-of 2026-11-02 --full

Each run is its own child process under `/usr/bin/time -v`; psutil samples the RSS of the whole process tree
(the run and its children, e.g. Prefect's temporary server) every 0.2 s. Reported: wall seconds, the tree's peak
RSS (sum over live processes at a sample), /usr/bin/time's maximum RSS (largest single process), the per-step
seconds the run logs, and incremental/full ratios.

Then every table of the two published snapshots (`<store>/CURRENT`, `snapshots/<run>/parquet/*.parquet`) is
compared as a multiset of rows after (a) the run's own run_id is replaced by a placeholder (as a whole value
and inside strings) and (b) ids minted tonight (in a run's `issued_ids` but not in night 1's) are mapped one-to-one
between the runs, by the record_key of the records that carry them; an id that existed before tonight must be
identical. Differences are reported per table and column with counts and file#row examples only.

    python benchmarks/delta_nights/measure.py --night1 /work/heldout/nights/p70k/night1/exports \\
        --night2 /work/heldout/nights/p70k/night2/exports --work /work/heldout/delta/m_spread70k --label spread70k
"""
from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import polars as pl
import psutil

ROOT = Path(__file__).resolve().parents[2]
SACHSONG = ROOT / ".venv" / "bin" / "sachsong"
AS_OF = {1: "2026-11-01", 2: "2026-11-02"}
RUN = "<RUN>"
ROOMS = ("datasets", "demo", "matching", "national", "pipelines", "reports", "rules", "sources", "standardize",
         "store")  # the packages the editable install maps under sachsong.<room> (pyproject)
# Columns left out of the comparison, with why (the README repeats them). Empty: no published column holds a
# timestamp of the run itself (run ids, which embed the run's time, are replaced by a placeholder instead).
EXCLUDED: dict[str, str] = {}
# keys to line rows up for the per-column diagnosis (used only where unique in both runs)
KEYS = {
    "residents_records": ["record_key"], "quarantine": ["record_key"], "entity_index": ["record_key"],
    "source_files": ["source_file"], "residents_golden": ["person_id"], "issued_ids": ["entity_id"],
    "person_id_history": ["retired_id"], "review_queue": ["left_record_key", "right_record_key"],
    "rejects": ["source_file", "source_row", "field"], "findings": ["row_uid", "rule_id"],
    "changes": ["change", "entity_id", "record_key"],
}
EXAMPLES = 5


# ---------------------------------------------------------------- running
# What the `sachsong` script runs: `console` where the code has it (it ends the process itself), else `main`.
CLI_FROM_PATH = (
    "import sys; import sachsong.pipelines.cli as cli; sys.argv[0] = 'sachsong'; "
    "sys.exit(cli.console() if hasattr(cli, 'console') else cli.main())"
)


def freeze(root: Path) -> Path:
    """HEAD's code copied to ROOT/<commit>/pkg/sachsong in the installed layout (rooms as subpackages), so that
    other people's commits during a measurement cannot change the code between its three runs."""
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True, check=True).stdout.strip()
    dest = root / commit
    if (dest / "COMMIT").exists():
        return dest
    if dest.exists():
        shutil.rmtree(dest)
    (dest / "pkg").mkdir(parents=True)
    arch = subprocess.run(["git", "-C", str(ROOT), "archive", commit], capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=arch, check=True)
    shutil.copytree(dest / "sachsong", dest / "pkg" / "sachsong")
    for room in ROOMS:
        shutil.copytree(dest / room, dest / "pkg" / "sachsong" / room)
    (dest / "COMMIT").write_text(commit + "\n")
    return dest


def run_measured(args: list[str], log: Path, code: Path | None = None) -> dict:
    """Run one `sachsong run` in a child process; wall time, peak RSS of its tree, per-step seconds."""
    tfile = log.with_suffix(".time")
    env = None
    if code is None:
        cli = [str(SACHSONG)]
    else:  # the frozen copy first on the path: it shadows the editable install of the working tree
        # -P: `python -c` would put the current directory first on sys.path, and run from the repository that is
        # the working tree's `sachsong/` package, whose rooms then resolve to the working tree too.
        cli = [str(ROOT / ".venv" / "bin" / "python"), "-P", "-c", CLI_FROM_PATH]
        env = {**os.environ, "PYTHONPATH": str(code / "pkg")}
    cmd = ["/usr/bin/time", "-v", "-o", str(tfile), *cli, "run", *args]
    peak = {"tree": 0, "procs": 0}
    stop = threading.Event()
    load0 = os.getloadavg()[0]
    t0 = time.perf_counter()
    with log.open("w") as out:
        p = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)

        def sample() -> None:
            try:
                root = psutil.Process(p.pid)
            except psutil.NoSuchProcess:
                return
            while not stop.is_set():
                try:
                    procs = [root, *root.children(recursive=True)]
                except psutil.NoSuchProcess:
                    return
                tot = 0
                for q in procs:
                    with contextlib.suppress(psutil.Error):  # a child may end between listing and reading
                        tot += q.memory_info().rss
                peak["tree"] = max(peak["tree"], tot)
                peak["procs"] = max(peak["procs"], len(procs))
                stop.wait(0.2)

        th = threading.Thread(target=sample, daemon=True)
        th.start()
        rc = p.wait()
        stop.set()
        th.join()
    wall = time.perf_counter() - t0
    text = log.read_text(errors="replace")
    if rc:
        tail = "\n".join(text.strip().splitlines()[-15:])
        raise SystemExit(f"run failed (rc {rc}): {' '.join(cmd)}\n{tail}")
    tv = tfile.read_text(errors="replace") if tfile.exists() else ""
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", tv)
    cpu = [float(x) for x in re.findall(r"(?:User|System) time \(seconds\): ([\d.]+)", tv)]
    steps: dict[str, float] = {}
    line = None
    for ln in text.splitlines():
        if "seconds per step:" in ln:
            line = ln.split("seconds per step:", 1)[1].strip()
    if line:
        for part in line.split(", "):
            name, _, sec = part.rpartition(" ")
            try:
                steps[name] = float(sec)
            except ValueError:
                steps[part] = None
    reused = [int(x) for x in re.findall(r"(\d+) unchanged files reused", text)]
    pub = re.search(r"published: (\d+) records, (\d+) persons, (\d+) quarantined, (\d+) rejects", text)
    return {"cmd": "sachsong run " + " ".join(args), "wall_s": round(wall, 2),
            "cpu_s (user+sys, the tree)": round(sum(cpu), 1) if cpu else None,
            "load_avg_1min_start_end": [round(load0, 2), round(os.getloadavg()[0], 2)],
            "peak_rss_tree_mb": round(peak["tree"] / 2**20, 1),
            "max_rss_single_process_mb": round(int(m.group(1)) / 1024, 1) if m else None,
            "processes_seen": peak["procs"], "steps_s": steps, "steps_line": line,
            "unchanged_files_reused (ingest log)": sum(reused) if reused else None,
            "published": dict(zip(("records", "persons", "quarantined", "rejects"),
                                  map(int, pub.groups()), strict=True)) if pub else None,
            "log": str(log)}


def current(store: Path) -> tuple[str, Path]:
    run_id = (store / "CURRENT").read_text().strip()
    return run_id, store / "snapshots" / run_id / "parquet"


# ---------------------------------------------------------------- comparing
def string_cols(df: pl.DataFrame) -> tuple[list[str], list[str]]:
    s = [c for c, t in df.schema.items() if t == pl.String]
    ls = [c for c, t in df.schema.items() if t == pl.List(pl.String)]
    return s, ls


def normalize(df: pl.DataFrame, run_id: str, idmap: dict[str, str]) -> pl.DataFrame:
    """run_id -> placeholder; minted ids -> the other run's spelling (whole values and inside strings)."""
    s, ls = string_cols(df)
    pats = [run_id, *idmap]
    reps = [RUN, *idmap.values()]
    exprs = []
    for c in s:
        if df[c].str.contains_any(pats).any():
            exprs.append(pl.col(c).str.replace_many(pats, reps))
    for c in ls:
        if df[c].explode().str.contains_any(pats).any():
            exprs.append(pl.col(c).list.eval(pl.element().str.replace_many(pats, reps)))
    return df.with_columns(exprs) if exprs else df


def locators(frames: dict[str, pl.DataFrame]) -> tuple[dict, dict, dict]:
    """record_key / row_uid / person_id -> 'source_file#row' (the only way a record is named in the report)."""
    by_key, by_uid, by_person = {}, {}, {}
    for t in ("residents_records", "quarantine"):
        df = frames.get(t)
        if df is None or not {"source_file", "source_row"} <= set(df.columns):
            continue
        loc = df.select((pl.col("source_file") + "#" + pl.col("source_row").cast(pl.String)).alias("loc"),
                        *[c for c in ("record_key", "row_uid", "person_id") if c in df.columns])
        if "record_key" in loc.columns:
            by_key.update(dict(zip(loc["record_key"], loc["loc"], strict=True)))
        if "row_uid" in loc.columns:
            by_uid.update(dict(zip(loc["row_uid"], loc["loc"], strict=True)))
        if "person_id" in loc.columns:
            for pid, lc in zip(loc["person_id"], loc["loc"], strict=True):
                by_person.setdefault(pid, lc)
    return by_key, by_uid, by_person


def locate(row: dict, locs: tuple[dict, dict, dict]) -> str:
    by_key, by_uid, by_person = locs
    if row.get("source_file") is not None and row.get("source_row") is not None:
        return f"{row['source_file']}#{row['source_row']}"
    for k in ("record_key", "left_record_key"):
        if row.get(k) in by_key:
            return by_key[row[k]]
    for k in ("row_uid", "left_row_uid"):
        if row.get(k) in by_uid:
            return by_uid[row[k]]
    for k in ("person_id", "entity_id", "retired_id"):
        if row.get(k) in by_person:
            return "person of " + by_person[row[k]]
    if row.get("source_file") is not None:
        return f"{row['source_file']} (file)"
    return "(no file#row for this row)"


def round_floats(df: pl.DataFrame) -> pl.DataFrame:
    return df.with_columns([pl.col(c).round(9) for c, t in df.schema.items() if t in (pl.Float64, pl.Float32)])


def multiset_diff(a: pl.DataFrame, b: pl.DataFrame) -> tuple[int, int]:
    """Rows of a not matched in b, and of b not in a (as multisets)."""
    cols = sorted(a.columns)
    ha = a.select(cols).hash_rows(seed=1).value_counts(name="n")
    hb = b.select(cols).hash_rows(seed=1).value_counts(name="n")
    name = ha.columns[0]
    j = ha.join(hb, on=name, how="full", coalesce=True, suffix="_b").fill_null(0).with_columns(
        pl.col("n", "n_b").cast(pl.Int64))
    return int((j["n"] - j["n_b"]).clip(lower_bound=0).sum()), int((j["n_b"] - j["n"]).clip(lower_bound=0).sum())


def column_diffs(t: str, a: pl.DataFrame, b: pl.DataFrame, locs: tuple) -> dict:
    """Per column: how many rows differ (lined up on the table's key when unique) or how many values differ."""
    out: dict = {}
    key = KEYS.get(t)
    keyed = bool(key) and set(key) <= set(a.columns) and a.select(key).is_duplicated().sum() == 0 \
        and b.select(key).is_duplicated().sum() == 0
    if keyed:
        ka = a.select(key).with_columns(pl.lit(1).alias("__in_a"))
        kb = b.select(key).with_columns(pl.lit(1).alias("__in_b"))
        both = ka.join(kb, on=key, how="inner", nulls_equal=True)
        n_only_a = a.height - both.height
        n_only_b = b.height - both.height
        if n_only_a or n_only_b:
            ex_a = a.join(b.select(key), on=key, how="anti", nulls_equal=True).head(EXAMPLES).to_dicts()
            ex_b = b.join(a.select(key), on=key, how="anti", nulls_equal=True).head(EXAMPLES).to_dicts()
            out["__key__"] = {"key": key, "keys_only_incremental": n_only_a, "keys_only_full": n_only_b,
                              "examples_incremental": [locate(r, locs) for r in ex_a],
                              "examples_full": [locate(r, locs) for r in ex_b]}
        jj = a.join(b, on=key, how="inner", suffix="__full", nulls_equal=True)
        for c in a.columns:
            if c in key or c not in b.columns:
                continue
            diff = jj.filter(pl.col(c).ne_missing(pl.col(f"{c}__full")))
            if diff.height:
                ent = {"rows": diff.height, "examples": [locate(r, locs) for r in diff.head(EXAMPLES).to_dicts()]}
                if a.schema[c] in (pl.Float64, pl.Float32):
                    ent["rows_beyond_1e-9"] = int(diff.filter(
                        (pl.col(c) - pl.col(f"{c}__full")).abs().fill_null(1.0) > 1e-9).height)
                if isinstance(a.schema[c], pl.List):
                    ent["rows_differing_as_sorted_lists"] = int(diff.filter(
                        pl.col(c).list.sort().ne_missing(pl.col(f"{c}__full").list.sort())).height)
                out[c] = ent
        return out
    for c in a.columns:  # no usable key: compare each column's multiset of values
        if c not in b.columns:
            continue
        va = a.select(pl.col(c).hash(seed=1)).to_series().value_counts(name="n")
        vb = b.select(pl.col(c).hash(seed=1)).to_series().value_counts(name="n")
        j = va.join(vb, on=c, how="full", coalesce=True, suffix="_b").fill_null(0).with_columns(
            pl.col("n", "n_b").cast(pl.Int64))
        d = int((j["n"] - j["n_b"]).abs().sum())
        if d:
            out[c] = {"values_differing (multiset, no key)": d}
    return out


def compare(inc_store: Path, full_store: Path, n1_issued: set[str], n1_run: str) -> dict:
    inc_run, inc_dir = current(inc_store)
    full_run, full_dir = current(full_store)
    rep: dict = {"incremental_run": inc_run, "full_run": full_run, "night1_run": n1_run,
                 "excluded_columns": EXCLUDED, "tables": {}}
    ti = {p.stem for p in inc_dir.glob("*.parquet")}
    tf = {p.stem for p in full_dir.glob("*.parquet")}
    rep["tables_only_incremental"] = sorted(ti - tf)
    rep["tables_only_full"] = sorted(tf - ti)
    A = {t: pl.read_parquet(inc_dir / f"{t}.parquet") for t in sorted(ti & tf)}
    B = {t: pl.read_parquet(full_dir / f"{t}.parquet") for t in sorted(ti & tf)}
    for t, df in list(A.items()) + list(B.items()):
        drop = [c for c in df.columns if f"{t}.{c}" in EXCLUDED]
        if drop:
            (A if df is A.get(t) else B)[t] = df.drop(drop)

    # ids minted tonight, lined up by the record_key of the records carrying them
    def issued(frames: dict) -> set[str]:
        return set(frames["issued_ids"]["entity_id"].to_list()) if "issued_ids" in frames else set()

    new_a, new_b = issued(A) - n1_issued, issued(B) - n1_issued
    pairs: dict[str, set] = {}
    back: dict[str, set] = {}
    for t, idc in (("residents_records", "person_id"), ("quarantine", "person_id"), ("entity_index", "entity_id")):
        if t not in A or idc not in A[t].columns or "record_key" not in A[t].columns:
            continue
        j = A[t].select("record_key", idc).join(B[t].select("record_key", idc), on="record_key", suffix="__f")
        j = j.filter(pl.col(idc).is_in(list(new_a)) | pl.col(f"{idc}__f").is_in(list(new_b))).unique(
            [idc, f"{idc}__f"])
        for x, y in j.select(idc, f"{idc}__f").iter_rows():
            pairs.setdefault(x, set()).add(y)
            back.setdefault(y, set()).add(x)
    idmap, conflicts = {}, 0
    for x, ys in pairs.items():
        if x in new_a and len(ys) == 1:
            y = next(iter(ys))
            if y in new_b and len(back[y]) == 1:
                idmap[x] = y
                continue
        conflicts += 1
    rep["minted_ids"] = {"incremental": len(new_a), "full": len(new_b), "mapped_one_to_one": len(idmap),
                         "incremental_unmapped": len(new_a - set(idmap)),
                         "full_unmapped": len(new_b - set(idmap.values())),
                         "ids_lined_up_with_more_than_one_or_with_a_pre_existing_id": conflicts}

    na = {t: normalize(df, inc_run, idmap) for t, df in A.items()}
    nb = {t: normalize(df, full_run, {}) for t, df in B.items()}
    locs = locators(nb)
    equal = not rep["tables_only_incremental"] and not rep["tables_only_full"]
    for t in sorted(na):
        a, b = na[t], nb[t]
        ent: dict = {"rows_incremental": a.height, "rows_full": b.height}
        if a.schema != b.schema:
            ent["schema_differs"] = {"only_incremental": sorted(set(a.columns) - set(b.columns)),
                                     "only_full": sorted(set(b.columns) - set(a.columns)),
                                     "type_differs": sorted(c for c in set(a.columns) & set(b.columns)
                                                            if a.schema[c] != b.schema[c])}
            common = [c for c in a.columns if c in b.columns and a.schema[c] == b.schema[c]]
            a, b = a.select(common), b.select(common)
            equal = False
        oa, ob = multiset_diff(a, b)
        ent["rows_only_incremental"], ent["rows_only_full"] = oa, ob
        ent["equal"] = oa == 0 and ob == 0 and "schema_differs" not in ent
        if oa or ob:
            equal = False
            ra, rb = multiset_diff(round_floats(a), round_floats(b))
            ent["equal_with_floats_rounded_1e-9"] = ra == 0 and rb == 0
            ent["columns"] = column_diffs(t, a, b, locs)
        rep["tables"][t] = ent
    rep["equal"] = equal
    return rep


# ---------------------------------------------------------------- the report
def text_report(r: dict) -> str:
    L = [f"delta-night benchmark {r['label']}  ({r['date']}, commit {r['commit']}{' + uncommitted changes in ' + ', '.join(r['dirty']) if r['dirty'] else ''})",
         f"code: {r.get('code')}", f"night 1: {r['night1']}", f"night 2: {r['night2']}"]
    for k in ("night1", "incremental", "full"):
        x = r["runs"].get(k)
        if not x:
            continue
        L.append(f"  {k:<12} wall {x['wall_s']:>8.1f} s   cpu {x.get('cpu_s (user+sys, the tree)')} s   "
                 f"load {x.get('load_avg_1min_start_end')}   peak RSS tree {x['peak_rss_tree_mb']:>8.1f} MB   "
                 f"max single {x['max_rss_single_process_mb']} MB   published {x['published']}   "
                 f"files reused {x['unchanged_files_reused (ingest log)']}")
        L.append(f"  {'':<12} steps: {x['steps_line']}")
    q = r["ratios"]
    L.append(f"ratio incremental/full: time {q['time']:.3f}   cpu {q.get('cpu_time', float('nan')):.3f}   peak RSS tree {q['peak_rss_tree']:.3f}   "
             f"max single-process RSS {q['max_rss_single_process']:.3f}   (targets: time <= 0.15, memory <= 1.0)")
    L.append(f"sum of the logged steps: incremental {sum(v or 0 for v in r['runs']['incremental']['steps_s'].values()):.1f}"
             f" s, full {sum(v or 0 for v in r['runs']['full']['steps_s'].values()):.1f} s, ratio "
             f"{q.get('logged_steps_sum', float('nan')):.3f} (the rest of the wall time: start-up, Prefect, exit)")
    L.append("per step (incremental / full, s): " + ", ".join(
        f"{k} {r['runs']['incremental']['steps_s'].get(k)}/{v}" for k, v in r["runs"]["full"]["steps_s"].items()))
    c = r["comparison"]
    L.append(f"incremental == full: {c['equal']}   minted ids: {c['minted_ids']}")
    if c["tables_only_incremental"] or c["tables_only_full"]:
        L.append(f"  tables only incremental {c['tables_only_incremental']}, only full {c['tables_only_full']}")
    for t, e in c["tables"].items():
        s = f"  {t:<20} rows {e['rows_incremental']}/{e['rows_full']}"
        if e["equal"]:
            L.append(s + "  same")
            continue
        L.append(s + f"  DIFFERENT: {e['rows_only_incremental']} rows only incremental, {e['rows_only_full']} only "
                 f"full; equal with floats rounded: {e.get('equal_with_floats_rounded_1e-9')}")
        if "schema_differs" in e:
            L.append(f"      schema: {e['schema_differs']}")
        for col, d in e.get("columns", {}).items():
            L.append(f"      {col}: {json.dumps(d, ensure_ascii=False)}")
    return "\n".join(L)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--night1", type=Path, required=True, help="night 1 exports folder")
    ap.add_argument("--night2", type=Path, required=True, help="night 2 exports folder")
    ap.add_argument("--work", type=Path, required=True, help="where the stores, logs and report go (emptied)")
    ap.add_argument("--label", default="")
    ap.add_argument("--province", default="44")
    ap.add_argument("--night1-store", type=Path,
                    help="a store exactly as a night-1 run left it (copied instead of running night 1 again)")
    ap.add_argument("--save-night1-store", type=Path,
                    help="keep a copy of the store as night 1 left it here (for --night1-store next time)")
    ap.add_argument("--freeze", type=Path, metavar="ROOT",
                    help="run HEAD's code frozen under ROOT/<commit> instead of the working tree (recommended while "
                         "others commit: the step cache is keyed on the code)")
    ap.add_argument("--code", type=Path, help="an existing frozen copy (ROOT/<commit> made by --freeze)")
    ap.add_argument("--full-first", action="store_true", help="run the --full night before the incremental one")
    a = ap.parse_args(argv)

    if a.work.exists():
        shutil.rmtree(a.work)
    a.work.mkdir(parents=True)
    store, store_full = a.work / "store", a.work / "store_full"
    code = a.code or (freeze(a.freeze) if a.freeze else None)
    if code:
        commit, dirty = (code / "COMMIT").read_text().strip(), []
    else:
        commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True).stdout.strip()
        # the CLI runs the working tree (editable install): name the files that differ from HEAD
        dirty = [ln[3:] for ln in subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain",
                                                  "--untracked-files=no"], capture_output=True,
                                                 text=True).stdout.splitlines() if ln.strip()]
    base = ["--province", a.province]
    runs: dict = {}
    if a.night1_store:
        shutil.copytree(a.night1_store, store, symlinks=True)
    else:
        runs["night1"] = run_measured(["--sources", str(a.night1), "--store", str(store), "--as-of", AS_OF[1],
                                       *base], a.work / "night1.log", code)
    n1_run, n1_dir = current(store)
    if a.save_night1_store and not a.night1_store:
        if a.save_night1_store.exists():
            shutil.rmtree(a.save_night1_store)
        shutil.copytree(store, a.save_night1_store, symlinks=True)
    n1_issued = set(pl.read_parquet(n1_dir / "issued_ids.parquet")["entity_id"].to_list()) \
        if (n1_dir / "issued_ids.parquet").exists() else set()
    shutil.copytree(store, store_full, symlinks=True)
    n2 = ["--sources", str(a.night2), "--as-of", AS_OF[2], *base]
    order = ["full", "incremental"] if a.full_first else ["incremental", "full"]
    for k in order:
        if k == "incremental":
            runs[k] = run_measured([*n2[:2], "--store", str(store), *n2[2:]], a.work / "night2.log", code)
        else:
            runs[k] = run_measured([*n2[:2], "--store", str(store_full), *n2[2:], "--full"],
                                   a.work / "night2_full.log", code)
    inc, full = runs["incremental"], runs["full"]
    cpu_key = "cpu_s (user+sys, the tree)"
    ratios = {"time": inc["wall_s"] / full["wall_s"],
              "cpu_time": (inc[cpu_key] or 0) / (full[cpu_key] or 1),
              "logged_steps_sum": sum(v or 0 for v in inc["steps_s"].values()) /
              max(sum(v or 0 for v in full["steps_s"].values()), 1e-9),
              "peak_rss_tree": inc["peak_rss_tree_mb"] / full["peak_rss_tree_mb"],
              "max_rss_single_process": (inc["max_rss_single_process_mb"] or 0) /
              (full["max_rss_single_process_mb"] or 1)}
    t0 = time.perf_counter()
    comparison = compare(store, store_full, n1_issued, n1_run)
    report = {"label": a.label, "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
              "commit": commit, "dirty": dirty, "code": str(code) if code else "working tree",
              "night1": str(a.night1), "night2": str(a.night2),
              "order": order, "runs": runs, "ratios": {k: round(v, 4) for k, v in ratios.items()},
              "comparison": comparison, "compare_s": round(time.perf_counter() - t0, 1)}
    (a.work / "report.json").write_text(json.dumps(report, indent=1, ensure_ascii=False, default=str))
    txt = text_report(report)
    (a.work / "report.txt").write_text(txt + "\n")
    print(txt)
    return 0


if __name__ == "__main__":
    sys.exit(main())

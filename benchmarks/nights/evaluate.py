"""Persistent person ids and the change feed over three nights (issue 15), measured from the outside.

Runs `sachsong run` on night 1, 2, 3 of a make_nights.py directory into ONE store (as-of one day apart),
copies each published snapshot's Parquet tables aside, and maps published records to the ledger by
`source_file` + `source_row`. With `sachsong run --full` available, night 2 is also rebuilt from scratch
into a copy of the store as it was after night 1.

Measured (issue 15 targets in brackets):
  keep      unchanged truth persons (every record still present and unchanged, nothing added) whose records
            all keep their night-1 id                                                  [>= 99.9%]
  reused    ids live tonight that an earlier night gave to a disjoint set of truth persons     [0]
  feed      recall of records added / changed / removed in the `changes` table          [>= 0.99]
  full      the full rebuild gives unchanged persons the same ids as the incremental night
  restored  night 3: the restored export's persons get their night-1 ids back
Without a `person_id` column the pipeline's `cluster_id` is measured instead (the baseline).
Output: counts and examples as file/row only, never names, numbers or ids of citizens.

    python benchmarks/nights/make_nights.py --out /work/heldout/nights/p1500 --persons 1500
    python benchmarks/nights/evaluate.py --nights /work/heldout/nights/p1500 --work /work/heldout/nights/eval
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import polars as pl

SACHSONG = Path(__file__).resolve().parents[2] / ".venv" / "bin" / "sachsong"
AS_OF = {1: "2026-11-01", 2: "2026-11-02", 3: "2026-11-03"}
RECORD_TABLES = ("residents_records", "quarantine")
UNCHANGED = ("unchanged", "reexported", "restored")
EDITED = ("phone_changed", "address_fixed", "name_diacritics_fixed")


PROVINCE: list[str] = []


def run(night_dir: Path, store: Path, as_of: str, log: Path, full: bool = False) -> float:
    cmd = [str(SACHSONG), "run", "--sources", str(night_dir / "exports"), "--store", str(store), "--as-of", as_of,
           *PROVINCE]
    if full:
        cmd.append("--full")
    t0 = time.perf_counter()
    with log.open("w") as out:
        rc = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT).returncode
    dt = time.perf_counter() - t0
    tail = log.read_text(errors="replace").strip().splitlines()[-4:]
    if rc:
        raise SystemExit(f"run failed (rc {rc}): {' '.join(cmd)}\n" + "\n".join(tail))
    return dt


def grab(store: Path, dest: Path) -> str:
    """Copy the live snapshot's parquet tables aside; returns its run id."""
    run_id = (store / "CURRENT").read_text().strip()
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(store / "snapshots" / run_id / "parquet", dest)
    (dest / "RUN_ID").write_text(run_id)
    return run_id


def cli_has_full() -> bool:
    h = subprocess.run([str(SACHSONG), "run", "--help"], capture_output=True, text=True).stdout
    return "--full" in h


class Snap:
    def __init__(self, d: Path):
        self.dir, self.run_id = d, (d / "RUN_ID").read_text().strip()
        self.tables = {p.stem: p for p in d.glob("*.parquet")}
        recs = []
        for t in RECORD_TABLES:
            if t in self.tables:
                df = pl.read_parquet(self.tables[t])
                recs.append(df.with_columns(pl.lit(t).alias("table")))
        self.id_col = "person_id" if all("person_id" in r.columns for r in recs[:1]) else "cluster_id"
        keep = ["source_file", "source_row", "table", self.id_col] + [c for c in ("record_key",) if c in recs[0].columns]
        self.records = pl.concat([r.select([c for c in keep if c in r.columns]) for r in recs], how="diagonal")
        self.records = self.records.rename({self.id_col: "pid"})

    def table(self, name: str) -> pl.DataFrame | None:
        return pl.read_parquet(self.tables[name]) if name in self.tables else None


def pct(a: int, b: int) -> str:
    return f"{a}/{b} = {100 * a / b:.2f}%" if b else f"{a}/0"


def examples(df: pl.DataFrame, n: int = 5) -> str:
    cols = [c for c in ("source_file", "source_row") if c in df.columns]
    return ", ".join(f"{f}#{r}" for f, r in df.select(cols).head(n).rows()) if cols and df.height else ""


def id_keeping(led: pl.DataFrame, gone: pl.DataFrame, a: Snap, b: Snap, night_b: int, night_a: int,
               label: str, failures: list) -> dict:
    """Unchanged persons between night_a and night_b keep the ids their records had in night_a."""
    la = led.filter(pl.col("night") == night_a).select("source_file", "source_row", "n1_file", "n1_row",
                                                        "truth_person")
    lb = led.filter(pl.col("night") == night_b)
    # records in b descending from a record in a (through night-1 coordinates)
    pa = la.join(a.records, on=["source_file", "source_row"], how="left").rename(
        {"pid": "pid_a", "source_file": "file_a", "source_row": "row_a", "table": "table_a"})
    pb = lb.join(b.records, on=["source_file", "source_row"], how="left").rename({"pid": "pid_b"})
    j = pb.filter(pl.col("n1_file").is_not_null()).join(pa.drop("truth_person"), on=["n1_file", "n1_row"], how="inner")
    # persons changed between the nights: any record not unchanged in b, added in b, or gone since a
    changed = set(lb.filter(~pl.col("status").is_in(UNCHANGED))["truth_person"].to_list())
    a_keys = set(pa.select("n1_file", "n1_row").rows())
    b_keys = set(lb.filter(pl.col("n1_file").is_not_null()).select("n1_file", "n1_row").rows())
    missing = a_keys - b_keys
    changed |= set(la.filter(pl.struct("n1_file", "n1_row").map_elements(
        lambda s: (s["n1_file"], s["n1_row"]) in missing, return_dtype=pl.Boolean))["truth_person"].to_list())
    # records new in b since a (restored export rows are new relative to night 2)
    changed |= set(lb.filter(pl.col("n1_file").is_not_null()).filter(
        pl.struct("n1_file", "n1_row").map_elements(lambda s: (s["n1_file"], s["n1_row"]) not in a_keys,
                                                    return_dtype=pl.Boolean))["truth_person"].to_list())
    u = j.filter(~pl.col("truth_person").is_in(list(changed)) & pl.col("pid_a").is_not_null())
    per = u.group_by("truth_person").agg(
        (pl.col("pid_b") == pl.col("pid_a")).fill_null(False).all().alias("kept"),
        pl.col("pid_b").is_null().any().alias("lost"),
        pl.col("source_file").first(), pl.col("source_row").first(),
        pl.col("source_file").is_in([f for f in led.filter(pl.col("status") == "reexported")["source_file"].unique()])
        .any().alias("in_reexport"))
    kept = int(per["kept"].sum())
    r = {"label": label, "persons": per.height, "kept": kept,
         "reexport_persons": int(per["in_reexport"].sum()),
         "reexport_kept": int(per.filter(pl.col("in_reexport"))["kept"].sum())}
    bad = per.filter(~pl.col("kept"))
    if bad.height:
        failures.append(f"{label}: {bad.height} unchanged persons changed id "
                        f"({int(bad['lost'].sum())} with a record no longer published); e.g. {examples(bad)}")
    return r


def reuse(led: pl.DataFrame, snaps: dict, night: int, failures: list) -> tuple[int, int]:
    """Ids live on `night` that an earlier night gave only to other truth persons."""
    def persons(n):
        s = snaps[n].records.join(led.filter(pl.col("night") == n).select("source_file", "source_row", "truth_person"),
                                  on=["source_file", "source_row"], how="left")
        return {k: set(v) for k, v in s.filter(pl.col("pid").is_not_null()).group_by("pid")
                .agg(pl.col("truth_person")).rows()}, s
    now, recs = persons(night)
    reused, shared = [], set()
    for m in range(1, night):
        if m not in snaps:
            continue
        before, _ = persons(m)
        for pid, who in now.items():
            if pid in before:
                shared.add(pid)
                if not who & before[pid]:
                    reused.append(pid)
    shared = len(shared)
    reused = sorted(set(reused))
    if reused:
        ex = recs.filter(pl.col("pid").is_in(reused))
        failures.append(f"night {night}: {len(reused)} ids reused for a different truth person; e.g. records "
                        f"{examples(ex)}")
    return len(reused), shared


def feed(led: pl.DataFrame, gone: pl.DataFrame, a: Snap, b: Snap, night: int, removed_export: str,
         failures: list) -> dict:
    """Recall of the `changes` table for records added / changed / removed on `night` (against night-1 truth)."""
    ch = b.table("changes")
    if ch is None:
        return {"night": night, "table": "missing"}
    out = {"night": night, "rows": ch.height, "columns": ch.columns}
    strcols = [c for c, t in ch.schema.items() if t == pl.String]
    # the column naming the kind of change: the string column whose values mention add/remov/chang
    kind_col = next((c for c in strcols if ch[c].drop_nulls().str.contains(r"(?i)record").any()
                     and ch[c].drop_nulls().str.contains(r"(?i)add|remov|chang|creat|updat|delet").any()), None)
    kind_col = kind_col or next((c for c in strcols
                                 if ch[c].drop_nulls().str.contains(r"(?i)add|remov|chang|delet").any()), None)
    out["kind_column"] = kind_col
    if kind_col:
        out["kinds"] = dict(ch[kind_col].value_counts().rows())
    if b.run_id and "run_id" in ch.columns:
        ch = ch.filter(pl.col("run_id") == b.run_id)
    lb = led.filter(pl.col("night") == night)
    la = led.filter(pl.col("night") == night - 1)

    def locate(rows: pl.DataFrame, snap: Snap) -> pl.DataFrame:
        """changes rows → (source_file, source_row) of `snap`, by lineage columns or record_key."""
        extra = ["fields"] if "fields" in rows.columns else []
        if {"source_file", "source_row"} <= set(rows.columns):
            return rows.select("source_file", "source_row", kind_col, *extra).drop_nulls(["source_file", "source_row"])
        if "record_key" in rows.columns and "record_key" in snap.records.columns:
            return rows.select("record_key", kind_col, *extra).join(
                snap.records.select("record_key", "source_file", "source_row"), on="record_key")
        return pl.DataFrame(schema={"source_file": pl.String, "source_row": pl.Int64, kind_col: pl.String})

    def hit(target: pl.DataFrame, located: pl.DataFrame, pattern: str) -> pl.DataFrame:
        got = located.filter(pl.col(kind_col).str.contains(pattern)).select("source_file", "source_row").unique()
        return target.join(got.with_columns(pl.lit(True).alias("hit")), on=["source_file", "source_row"], how="left")

    if not kind_col:
        failures.append(f"night {night}: changes table has no column naming the kind of change ({ch.columns})")
        return out
    now = locate(ch, b)
    then = locate(ch, a)
    # an exact duplicate row and the row it copies cannot be told apart: a feed row on either is the addition
    if "copy_of" in lb.columns:
        dups = (
            lb.filter((pl.col("status") == "duplicate_row") & pl.col("copy_of").is_not_null()))
        for _f, r, c in dups.select("source_file", "source_row", "copy_of").rows():
            cf, cr = c.rsplit("#", 1)
            twin = lb.filter((pl.col("n1_file") == cf) & (pl.col("n1_row") == int(cr)))
            if twin.height:
                tf, tr_ = twin.row(0)[1], twin.row(0)[2]
                now = now.with_columns(
                    pl.when((pl.col("source_file") == tf) & (pl.col("source_row") == tr_)
                            & pl.col(kind_col).str.contains(r"(?i)add"))
                    .then(pl.lit(r)).otherwise(pl.col("source_row")).alias("source_row"))
    res = {}
    added = lb.filter(pl.col("n1_file").is_null() | (pl.col("status") == "restored"))
    if night == 3:  # against night 2: the restored rows are the additions, the rest were added on night 2
        added = lb.filter(pl.col("status") == "restored")
        if a.records.filter(pl.col("source_file") == removed_export).height:
            out["mode"] = "night 2 kept the missing export's records: their return is no addition"
            added = added.head(0)
        edited = lb.head(0)
    else:
        edited = lb.filter(pl.col("status").is_in(EDITED))
    removed = gone.filter(pl.col("night") == night)
    if night == 3:
        removed = removed.head(0)  # night 3 only adds the export back
    for name, target, snap_rows, pat in (("added", added.select("source_file", "source_row"), now,
                                          r"(?i)add|new|creat|restor|reviv|return"),
                                         ("changed", edited.select("source_file", "source_row"), now,
                                          r"(?i)chang|updat|edit|modif"),
                                         ("removed (deleted)", removed.filter(pl.col("reason") == "deleted")
                                          .select(pl.col("n1_file").alias("source_file"),
                                                  pl.col("n1_row").alias("source_row")), then,
                                          r"(?i)remov|delet|retir|gone|miss"),
                                         ("removed (export gone)", removed.filter(pl.col("reason") == "export_removed")
                                          .select(pl.col("n1_file").alias("source_file"),
                                                  pl.col("n1_row").alias("source_row")), then,
                                          r"(?i)remov|delet|retir|gone|miss|kept|stale")):
        if not target.height:
            continue
        h = hit(target, snap_rows, pat)
        snap = a if snap_rows is then else b
        h = h.join(snap.records.select("source_file", "source_row", "table"), on=["source_file", "source_row"],
                   how="left")
        n = int(h["hit"].fill_null(False).sum())
        res[name] = (n, target.height)
        pub = h.filter(pl.col("table") != "quarantine")
        res[f"  {name}: published records only"] = (int(pub["hit"].fill_null(False).sum()), pub.height)
        miss = h.filter(pl.col("hit").is_null())
        if miss.height:
            q = miss.filter(pl.col("table") == "quarantine").height
            failures.append(f"night {night}: feed misses {miss.height}/{target.height} {name} records "
                            f"({q} of them quarantined); e.g. {examples(miss)}")
        if name == "changed" and "fields" in ch.columns:
            want = {"phone_changed": "phone", "address_fixed": "address", "name_diacritics_fixed": "full_name"}
            fl = (edited.join(now.select("source_file", "source_row", kind_col, *(["fields"] if "fields" in now.columns
                                                                               else [])),
                              on=["source_file", "source_row"]))
            if "fields" in fl.columns:
                right = sum(1 for st, fs in fl.select("status", "fields").rows() if fs and want[st] in fs)
                res["  changed: the edited field named"] = (right, edited.height)
    # false alarms: unchanged records reported as added / changed (tonight's coordinates) or removed
    # (last night's coordinates)
    unchanged_now = lb.filter(pl.col("status").is_in(UNCHANGED) & (pl.col("status") != "restored"))
    not_removal = r"(?i)remov|delet|retir|gone|miss"
    fa_now = unchanged_now.select("source_file", "source_row").join(
        now.filter(~pl.col(kind_col).str.contains(not_removal) & ~pl.col(kind_col).str.contains(r"(?i)person"))
        .select("source_file", "source_row").unique(), on=["source_file", "source_row"], how="inner")
    then_coords = unchanged_now.select("n1_file", "n1_row").join(
        la.select("source_file", "source_row", "n1_file", "n1_row"), on=["n1_file", "n1_row"]).select(
        "source_file", "source_row")
    fa_then = then_coords.join(then.filter(pl.col(kind_col).str.contains(not_removal)
                                           & ~pl.col(kind_col).str.contains(r"(?i)person|export|file|source"))
                               .select("source_file", "source_row").unique(), on=["source_file", "source_row"])
    res["unchanged records reported added/changed"] = (fa_now.height, unchanged_now.height)
    res["unchanged records reported removed"] = (fa_then.height, unchanged_now.height)
    if fa_now.height:
        failures.append(f"night {night}: {fa_now.height} unchanged records reported as added/changed; e.g. "
                        f"{examples(fa_now)}")
    if fa_then.height:
        failures.append(f"night {night}: {fa_then.height} unchanged records reported as removed; e.g. (previous "
                        f"night's coordinates) {examples(fa_then)}")
    # the missing export named in the feed
    if night == 2:
        stem = removed_export.rsplit(".", 1)[0]
        named = any(ch[c].drop_nulls().str.contains(stem, literal=True).any() for c in strcols)
        res["missing export named"] = (int(named), 1)
        if not named:
            failures.append(f"night 2: the removed export {removed_export} is not named in the changes table")
    # person events against the truth: created = new truth persons; retired = persons whose records were all
    # deleted; dormant = persons whose records were all in the missing export
    if night == 2:
        alive = set(lb["truth_person"].to_list())
        g = gone.filter(pl.col("night") == 2)
        expect = {"person_created": lb.filter(pl.col("status") == "new_person")["truth_person"].n_unique(),
                  "person_retired": len(set(g.filter(pl.col("reason") == "deleted")["truth_person"]) - alive),
                  "person_dormant": len(set(g.filter(pl.col("reason") == "export_removed")["truth_person"]) - alive)}
        kinds = dict(ch[kind_col].value_counts().rows())
        for k, v in expect.items():
            res[f"{k} (feed rows / truth persons)"] = (kinds.get(k, 0), v)
            if kinds.get(k, 0) != v:
                failures.append(f"night 2: {kinds.get(k, 0)} {k} rows in the feed, {v} expected from the truth")
    out["recall"] = res
    return out


def history_checks(snaps: dict, night: int, failures: list, notes: list) -> dict:
    """Every id live on an earlier night is live tonight or retired in person_id_history (and never revived
    for someone else); survivors resolve to live ids."""
    h = snaps[night].table("person_id_history")
    if h is None:
        return {"person_id_history": "missing"}
    live = set(snaps[night].records["pid"].drop_nulls().to_list())
    earlier = set().union(*(set(snaps[m].records["pid"].drop_nulls().to_list()) for m in range(1, night)))
    retired = set(h["retired_id"].drop_nulls().to_list()) if "retired_id" in h.columns else set()
    held = set()
    ei = snaps[night].table("entity_index")
    if ei is not None and {"entity_id", "held"} <= set(ei.columns):
        held = set(ei.filter(pl.col("held"))["entity_id"].to_list())
    orphans = earlier - live - retired - held
    revived = retired & live
    r = {"history_rows": h.height, "earlier_ids_gone": len(earlier - live), "held_not_published": len(held),
         "orphans": len(orphans),
         "retired_but_live": len(revived)}
    if "survivor_id" in h.columns:
        surv = {s for s in h["survivor_id"].drop_nulls().to_list()}
        r["dangling_survivors"] = len(surv - live - retired)
    if orphans:
        failures.append(f"night {night}: {len(orphans)} ids of earlier nights are neither live nor in "
                        "person_id_history")
    if revived:
        notes.append(f"night {night}: {len(revived)} ids are live again although person_id_history retired them "
                     "(same person or not: see 'ids reused')")
    return r


def golden_consistency(s: Snap, night: int, failures: list) -> None:
    g = s.table("residents_golden")
    if g is None or s.id_col not in g.columns:
        return
    gid = set(g[s.id_col].drop_nulls().to_list())
    rid = set(s.records.filter(pl.col("table") == "residents_records")["pid"].drop_nulls().to_list())
    if gid != rid or g[s.id_col].n_unique() != g.height:
        failures.append(f"night {night}: golden ids and record ids disagree ({len(gid - rid)} golden-only, "
                        f"{len(rid - gid)} record-only, {g.height - g[s.id_col].n_unique()} duplicated)")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nights", type=Path, required=True, help="a make_nights.py output directory")
    ap.add_argument("--work", type=Path, required=True, help="store and snapshot copies go here (wiped)")
    ap.add_argument("--reuse", action="store_true", help="measure the snapshots already under --work")
    ap.add_argument("--only-night1", action="store_true", help="run night 1 and say whether person_id exists")
    a = ap.parse_args(argv)
    led = pl.read_parquet(a.nights / "ledger.parquet")
    gone = pl.read_parquet(a.nights / "gone.parquet")
    info = json.loads((a.nights / "nights.json").read_text())
    if info.get("province"):
        PROVINCE[:] = ["--province", info["province"]]
    store, full_store = a.work / "store", a.work / "store_full"
    timings = {}
    has_full = cli_has_full()
    if not a.reuse:
        if a.work.exists():
            shutil.rmtree(a.work)
        a.work.mkdir(parents=True)
        timings[1] = run(a.nights / "night1", store, AS_OF[1], a.work / "night1.log")
        grab(store, a.work / "snap1")
        if a.only_night1:
            s = Snap(a.work / "snap1")
            print(f"night 1 published; id column: {s.id_col}; tables: {sorted(s.tables)}")
            return 0
        if has_full:
            shutil.copytree(store, full_store)
        timings[2] = run(a.nights / "night2", store, AS_OF[2], a.work / "night2.log")
        grab(store, a.work / "snap2")
        if has_full:
            timings["2 full"] = run(a.nights / "night2", full_store, AS_OF[2], a.work / "night2_full.log", full=True)
            grab(full_store, a.work / "snap2_full")
        timings[3] = run(a.nights / "night3", store, AS_OF[3], a.work / "night3.log")
        grab(store, a.work / "snap3")
        (a.work / "timings.json").write_text(json.dumps({str(k): v for k, v in timings.items()}))
    snaps = {n: Snap(a.work / f"snap{n}") for n in (1, 2, 3) if (a.work / f"snap{n}").exists()}
    full = Snap(a.work / "snap2_full") if (a.work / "snap2_full").exists() else None
    failures: list[str] = []
    notes: list[str] = []
    id_col = snaps[1].id_col
    print(f"nights: {a.nights}  ({info['night1_records']} night-1 records; removed {info['removed_export']}, "
          f"added {info['added_first_export']}, re-exported without ids {info['reexported_without_id']})")
    print(f"id measured: {id_col}" + ("  (NO person_id column: baseline)" if id_col != "person_id" else ""))
    print(f"tables night 3: {sorted(snaps[max(snaps)].tables)}")
    if 2 in snaps:
        kept = snaps[2].records.filter(pl.col("source_file") == info["removed_export"]).height
        print(f"night 2 publishes {kept} records of the removed export "
              f"({'kept from the last snapshot' if kept else 'not published: held dormant or retired'})")
    if (a.work / "timings.json").exists():
        print("run seconds:", json.loads((a.work / "timings.json").read_text()))
    rows = []
    for nb, na, label in ((2, 1, "night 2 vs 1"), (3, 2, "night 3 vs 2"), (3, 1, "night 3 vs 1")):
        if nb in snaps and na in snaps:
            rows.append(id_keeping(led, gone, snaps[na], snaps[nb], nb, na, label, failures))
    if full is not None:
        rows.append(id_keeping(led, gone, snaps[1], full, 2, 1, "night 2 FULL vs 1", failures))
        # full rebuild vs incremental night 2, every person present in both
        j = (snaps[2].records.join(full.records, on=["source_file", "source_row"], suffix="_full")
             .join(led.filter(pl.col("night") == 2).select("source_file", "source_row", "status"),
                   on=["source_file", "source_row"], how="left")
             .with_columns((pl.col("pid") == pl.col("pid_full")).fill_null(False).alias("same")))
        for label, part in (("records whose night-1 record is unchanged", j.filter(pl.col("status").is_in(UNCHANGED))),
                            ("other records (new, edited)", j.filter(~pl.col("status").is_in(UNCHANGED)))):
            same = int(part["same"].sum())
            print(f"full rebuild vs incremental night 2, {label}: same id {pct(same, part.height)}")
        diff = j.filter(~pl.col("same"))
        bad = diff.filter(pl.col("status").is_in(UNCHANGED))
        if bad.height:
            failures.append(f"night 2 full vs incremental: {bad.height} records of unchanged rows get another id; "
                            f"e.g. {examples(bad)}")
        if diff.height > bad.height:
            notes.append(f"night 2 full vs incremental: {diff.height - bad.height} new/edited records get another id "
                         f"({dict(diff.filter(~pl.col('status').is_in(UNCHANGED))['status'].value_counts().rows())}; "
                         "the issue requires the same ids for unchanged persons only)")
    print(f"\n{'unchanged persons keep their id':38s} {'kept':>22s}   {'re-exported file (no ids)':>24s}")
    for r in rows:
        print(f"  {r['label']:36s} {pct(r['kept'], r['persons']):>22s}   "
              f"{pct(r['reexport_kept'], r['reexport_persons']):>24s}")
    # the removed export's persons on night 3 get their night-1 ids back
    if 3 in snaps:
        rest = led.filter((pl.col("night") == 3) & (pl.col("status") == "restored"))
        j = (rest.join(snaps[3].records, on=["source_file", "source_row"], how="left")
             .join(snaps[1].records, on=["source_file", "source_row"], how="left", suffix="_n1"))
        per = j.filter(pl.col("pid_n1").is_not_null()).group_by("truth_person").agg(
            (pl.col("pid") == pl.col("pid_n1")).fill_null(False).all().alias("back"),
            pl.col("source_file").first(), pl.col("source_row").first())
        print(f"  {'night 3 restored export: night-1 ids':36s} {pct(int(per['back'].sum()), per.height):>22s}")
        if per.height and not per["back"].all():
            failures.append(f"night 3: {per.height - int(per['back'].sum())} persons of the restored export do not "
                            f"get their night-1 id back; e.g. {examples(per.filter(~pl.col('back')))}")
    print("\nids reused for a different truth person (target 0):")
    for n in sorted(snaps):
        if n > 1:
            k, shared = reuse(led, snaps, n, failures)
            print(f"  night {n}: {k} of {shared} ids also live on an earlier night")
    if full is not None:
        k, shared = reuse(led, {1: snaps[1], 2: full}, 2, failures)
        print(f"  night 2 full: {k} of {shared}")
    for n, s in snaps.items():
        golden_consistency(s, n, failures)
    print("\nperson_id_history:")
    for n in sorted(snaps):
        if n > 1:
            print(f"  night {n}: {history_checks(snaps, n, failures, notes)}")
    print("\nchange feed recall (target >= 0.99):")
    for n in sorted(snaps):
        if n > 1:
            f = feed(led, gone, snaps[n - 1], snaps[n], n, info["removed_export"], failures)
            if f.get("table") == "missing":
                print(f"  night {n}: no `changes` table in the snapshot")
                failures.append(f"night {n}: no changes table")
                continue
            print(f"  night {n}: {f['rows']} feed rows; kind column {f.get('kind_column')}: {f.get('kinds')}")
            if f.get("mode"):
                print(f"    ({f['mode']})")
            for k, (x, y) in f.get("recall", {}).items():
                print(f"    {k:42s} {pct(x, y)}")
    for n in notes:
        print("note: " + n)
    print(f"\nFAILURES ({len(failures)}):")
    for f in failures:
        print("  - " + f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

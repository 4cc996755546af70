"""Score `sachsong --dataset household_business` on the held-out register made by generate.py.

Three paths, each measured against the truth:
  ingest  sachsong ingest <exports> → check / dedupe on the raw table (records mapped back to file+row by the
          table's lineage columns), i.e. what a commune's files go through
  direct  check / dedupe on truth/canonical.csv (the contract's raw columns, typed values, no file damage): rules
          and matching alone
  run     sachsong run --dataset household_business --sources <exports> --store <S> --as-of D, then the published
          household_business_records (+ quarantine) read from the store
Measured: recall and precision of MST check-digit errors, invalid VSIC codes and future registration dates
(a record counts as found when a finding of one of the kind's rules names it), and pairwise dedupe P/R/F1.
Printed: a table, then the misses and false alarms by kind as file/row/kind/damage tags (no personal values).

    /work/main/.venv/bin/python evaluate.py --data /work/heldout/business [--paths ingest,direct,run]
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import re
import subprocess
import sys
import unicodedata
from collections import Counter, defaultdict
from pathlib import Path

KINDS = ("mst_checkdigit", "vsic_invalid", "future_date")
REUSE = False
# rule ids are matched to kinds by words in the id and the rule's description from `rules list`; print what matched
KIND_PATTERNS = {
    "mst_checkdigit": [r"(mst|tax).*(check|digit|valid)", r"(check|digit).*(mst|tax)"],
    "vsic_invalid": [r"vsic", r"business_line.*(valid|code|exist)", r"(industry|line)_code"],
    "future_date": [r"(regist|registered_on).*(future|after)", r"future.*(regist)"],
}


def sh(cmd: list[str], log: Path) -> int:
    print("$ " + " ".join(cmd), flush=True)
    with open(log, "a") as f:
        f.write("$ " + " ".join(cmd) + "\n")
        f.flush()
        r = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT)
    if r.returncode:
        tail = log.read_text().splitlines()[-15:]
        print(f"  exit {r.returncode}; last lines of {log}:\n    " + "\n    ".join(tail))
    return r.returncode


def help_text(exe: str, *sub: str) -> str:
    r = subprocess.run([exe, *sub, "--help"], capture_output=True, text=True)
    return r.stdout + r.stderr


def read_table(path: Path):
    import polars as pl

    if path.suffix == ".parquet":
        return pl.read_parquet(path)
    return pl.read_csv(path, infer_schema_length=0)


def nfc(s) -> str:
    return unicodedata.normalize("NFC", str(s or "")).strip()


# ------------------------------------------------------------------ rule ids → kinds -------------------------------
def rule_map(exe: str, overrides: str | None) -> dict[str, set[str]]:
    r = subprocess.run([exe, "rules", "list", "--dataset", "household_business"], capture_output=True, text=True)
    lines = [ln for ln in r.stdout.splitlines() if ln.strip()]
    mapping: dict[str, set[str]] = {k: set() for k in KINDS}
    for ln in lines:
        rid = ln.split()[0]
        text = ln.lower()
        for kind, pats in KIND_PATTERNS.items():
            if any(re.search(p, rid.lower()) for p in pats) or (
                    kind == "future_date" and "future" in text and "regist" in text) or (
                    kind == "vsic_invalid" and "vsic" in text) or (
                    kind == "mst_checkdigit" and "check digit" in text and ("mst" in text or "tax" in text)):
                mapping[kind].add(rid)
    if overrides:
        for part in overrides.split(","):
            kind, rid = part.split("=")
            mapping[kind] = mapping[kind] if mapping[kind] and rid in mapping[kind] else set()
            mapping[kind].add(rid)
    print(f"rules list --dataset household_business: {len(lines)} rules (exit {r.returncode})")
    for k in KINDS:
        print(f"  {k:15s} ← {', '.join(sorted(mapping[k])) or 'NO RULE FOUND'}")
    return mapping


# ------------------------------------------------------------------ truth ------------------------------------------
def load_truth(data: Path):
    with open(data / "truth" / "records.csv", encoding="utf-8") as handle:
        truth = list(csv.DictReader(handle))
    for t in truth:
        t["key"] = f"{t['file']}:{t['row']}"
        t["errs"] = set(filter(None, t["errors"].split(";")))
        t["dmg"] = set(filter(None, t["damage"].split(";")))
    return truth


def _fold(s) -> str:
    s = unicodedata.normalize("NFD", nfc(s).replace("đ", "d").replace("Đ", "D"))
    return " ".join("".join(c for c in s if unicodedata.category(c) != "Mn").casefold().split())


def align_raw(raw, truth) -> tuple[dict[str, str], dict]:
    """record_id of a table with lineage → truth key (file:row).

    Within each file both sides are in row order; rows are paired in order by the folded business name (or, failing
    that, by the MST digits), skipping rows one side lacks (template rows, rejects) — so the table's own row
    numbering convention does not matter."""
    cols = raw.columns
    fcol = next((c for c in ("source_file", "file", "source_path") if c in cols), None)
    rcol = next((c for c in ("source_row", "row", "source_line") if c in cols), None)
    if fcol is None or rcol is None:
        raise SystemExit(f"table has no lineage columns (file, row): {cols}")
    by_file = defaultdict(list)
    for t in truth:
        by_file[t["file"]].append(t)
    rows = raw.select([c for c in ("record_id", fcol, rcol, "business_name", "tax_code") if c in cols]).to_dicts()
    raw_by_file = defaultdict(list)
    for r in rows:
        raw_by_file[Path(str(r[fcol])).name].append(r)
    mapping: dict[str, str] = {}
    chosen = {}

    def digits(x) -> str:
        return "".join(ch for ch in str(x or "") if ch.isdigit())

    for fname, recs in raw_by_file.items():
        recs.sort(key=lambda r: (int(r[rcol]) if str(r[rcol]).lstrip("-").isdigit() else 10**9))
        tr = sorted(by_file.get(fname, []), key=lambda t: int(t["row"]))
        j = 0
        matched = 0
        for r in recs:
            name, tax = _fold(r.get("business_name")), digits(r.get("tax_code"))
            for k in range(j, min(j + 8, len(tr))):
                t = tr[k]
                if (name and name == _fold(t["written_business_name"])) or (
                        tax and len(tax) >= 9 and tax == digits(t["written_tax_code"]) and not name):
                    mapping[str(r["record_id"])] = t["key"]
                    matched += 1
                    j = k + 1
                    break
        chosen[fname] = ("aligned by name in row order", matched, len(recs))
    return mapping, chosen


# ------------------------------------------------------------------ scoring ----------------------------------------
def score_findings(findings, rid_to_key: dict[str, str], truth, rules: dict[str, set[str]], present: set[str]):
    flagged: dict[str, set[str]] = {k: set() for k in KINDS}
    unmapped = 0
    for f in findings.select(["record_id", "rule_id"]).iter_rows():
        key = rid_to_key.get(str(f[0]))
        if key is None:
            unmapped += 1
            continue
        for kind in KINDS:
            if f[1] in rules[kind]:
                flagged[kind].add(key)
    out = {}
    for kind in KINDS:
        pos = [t for t in truth if kind in t["errs"]]
        tp = [t for t in pos if t["key"] in flagged[kind]]
        fn = [t for t in pos if t["key"] not in flagged[kind]]
        fp = [t for t in truth if kind not in t["errs"] and t["key"] in flagged[kind]]
        out[kind] = {
            "truth": len(pos), "tp": len(tp), "fn": len(fn), "fp": len(fp),
            "recall": len(tp) / len(pos) if pos else float("nan"),
            "precision": len(tp) / (len(tp) + len(fp)) if tp or fp else float("nan"),
            "misses": [(t["file"], t["row"], "not in output" if t["key"] not in present else "no finding",
                        ",".join(sorted(t["dmg"]))) for t in fn],
            "false_alarms": [(t["file"], t["row"], ",".join(sorted(t["dmg"] | t["errs"]))) for t in fp],
        }
    return out, unmapped


def pair_set(groups: dict[str, list[str]]) -> set[tuple[str, str]]:
    pairs = set()
    for members in groups.values():
        for a, b in itertools.combinations(sorted(members), 2):
            pairs.add((a, b))
    return pairs


def score_clusters(clusters, rid_to_key: dict[str, str], truth, cluster_col: str = "cluster_id"):
    {t["key"]: t["business_id"] for t in truth}
    pred = defaultdict(list)
    seen = set()
    for rid, cid in clusters.select(["record_id", cluster_col]).iter_rows():
        key = rid_to_key.get(str(rid))
        if key is None or key in seen:
            continue
        seen.add(key)
        pred[str(cid)].append(key)
    true_all = defaultdict(list)
    for t in truth:
        true_all[t["business_id"]].append(t["key"])
    true_present = {b: [k for k in ks if k in seen] for b, ks in true_all.items()}
    P, T, Tall = pair_set(pred), pair_set(true_present), pair_set(true_all)
    tp = len(P & T)
    prec = tp / len(P) if P else float("nan")
    rec = tp / len(T) if T else float("nan")
    f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
    fp_pairs = sorted(P - T)
    fn_pairs = sorted(T - P)
    # classify the false merges by what the truth says about the two businesses
    bid_info = {t["key"]: t for t in truth}
    fp_kinds = Counter()
    for a, b in fp_pairs:
        fp_kinds[_pair_kind(bid_info[a], bid_info[b])] += 1
    fn_kinds = Counter()
    for a, b in fn_pairs:
        ta, tb = bid_info[a], bid_info[b]
        tags = []
        if "mst_checkdigit" in ta["errs"] | tb["errs"]:
            tags.append("one MST mistyped")
        if not ta["written_tax_code"] or not tb["written_tax_code"]:
            tags.append("one MST blank")
        if ta["file"] == tb["file"]:
            tags.append("same file")
        fn_kinds[" + ".join(tags) or "MSTs equal"] += 1
    return {"records": len(seen), "truth_records": len(truth), "pred_pairs": len(P), "true_pairs": len(T),
            "true_pairs_all": len(Tall), "tp": tp, "precision": prec, "recall": rec, "f1": f1,
            "recall_all": tp / len(Tall) if Tall else float("nan"),
            "fp_pairs": fp_pairs, "fn_pairs": fn_pairs, "fp_kinds": fp_kinds, "fn_kinds": fn_kinds}


def _pair_kind(ta, tb) -> str:
    """Why two different businesses may look alike (from the truth's relations, no values)."""
    if ta.get("owner_id") and ta.get("owner_id") == tb.get("owner_id"):
        return "same owner, two branches (MST-001/-002)"
    if ta.get("address_id") and ta.get("address_id") == tb.get("address_id"):
        return "spouses at one address"
    if ta.get("shop_brand") and ta.get("shop_brand") == tb.get("shop_brand"):
        return "same shop word + brand, other owner"
    return "unrelated (" + ("same file" if ta["file"] == tb["file"] else "two files") + ")"


# ------------------------------------------------------------------ paths ------------------------------------------
def run_ingest_path(exe, data, work, as_of, log, rules, truth):
    exports = data / "exports"
    check_help = help_text(exe, "check")
    m = re.search(r"positional arguments:\s*\n\s*(\S+)(.*)", check_help)
    takes_dir = bool(m and (m.group(1).lower() in ("dir", "directory", "folder", "sources")
                            or re.search(r"folder|directory", m.group(2), re.I)))
    ingest_help = help_text(exe, "ingest")
    if "--dataset" not in ingest_help and not takes_dir:
        print("ingest: `sachsong ingest` has no --dataset option and check takes a file: skipped (the run path "
              "covers ingest)")
        return None
    raw = work / "raw.parquet"
    cmd = [exe, "ingest", str(exports), "--output", str(raw), "--rejects", str(work / "rejects.csv")]
    if "--dataset" in ingest_help:
        cmd[2:2] = ["--dataset", "household_business"]
    if sh(cmd, log):
        return None
    raw_t = read_table(raw)
    rid_to_key, chosen = align_raw(raw_t, truth)
    print(f"ingest: {raw_t.height} raw rows of {len(truth)} truth records; mapped {len(rid_to_key)}; "
          f"row convention per file: " + "; ".join(f"{f}={c[0]} ({c[1]}/{c[2]} names agree)"
                                                   for f, c in sorted(chosen.items())))
    rej = work / "rejects.csv"
    if rej.exists():
        rj = read_table(rej)
        print(f"  rejects: {rj.height} rows; by file/reason: " + json.dumps(
            Counter(f"{Path(str(r.get('source_file') or r.get('file') or '?')).name}: "
                    f"{str(r.get('reason') or '')[:60]}" for r in rj.to_dicts()).most_common(8), ensure_ascii=False))
    src = str(exports) if takes_dir else str(raw)
    return score_path(exe, "ingest", src, work, as_of, log, rules, truth, rid_to_key)


def run_direct_path(exe, data, work, as_of, log, rules, truth):
    canon = data / "truth" / "canonical.csv"
    rid_to_key = {t["key"].replace(".csv:", ":").replace(".xlsx:", ":"): t["key"] for t in truth}
    return score_path(exe, "direct", str(canon), work, as_of, log, rules, truth, rid_to_key)


def score_path(exe, name, src, work, as_of, log, rules, truth, rid_to_key):
    res = {"path": name}
    findings_f = work / f"{name}_findings.csv"
    quarantine_f = work / f"{name}_quarantine.csv"
    if sh([exe, "check", src, "--dataset", "household_business", "--output", str(findings_f), "--as-of", as_of,
           "--quarantine", str(quarantine_f)], log) == 0:
        fnd = read_table(findings_f)
        missing_cols = {"record_id", "rule_id", "criterion", "severity", "message"} - set(fnd.columns)
        if missing_cols:
            print(f"  CONTRACT: findings lack columns {sorted(missing_cols)}")
        present = set(rid_to_key.values())
        res["findings"], res["unmapped_findings"] = score_findings(fnd, rid_to_key, truth, rules, present)
        res["rule_counts"] = Counter(fnd["rule_id"].to_list()).most_common()
    clusters_f = work / f"{name}_clusters.csv"
    if sh([exe, "dedupe", src, "--dataset", "household_business", "--output", str(clusters_f)], log) == 0:
        cl = read_table(clusters_f)
        missing_cols = {"record_id", "cluster_id"} - set(cl.columns)
        if missing_cols:
            print(f"  CONTRACT: clusters lack columns {sorted(missing_cols)}")
        else:
            res["dedupe"] = score_clusters(cl, rid_to_key, truth)
    return res


def run_store_path(exe, data, work, as_of, log, rules, truth):
    run_help = help_text(exe, "run")
    if "--dataset" not in run_help:
        print("run: no --dataset option; skipped")
        return None
    store = work / "store"
    cmd = [exe, "run", "--dataset", "household_business", "--sources", str(data / "exports"), "--store", str(store),
           "--as-of", as_of, "--province", "44", "--replace-newer"]
    if "--replace-newer" not in run_help:
        cmd.remove("--replace-newer")
    reuse = REUSE and (store / "snapshots").exists()
    rc = 0 if reuse else sh(cmd, log)
    if reuse:
        print("run: reusing the store of an earlier run: " + " ".join(cmd))
    res = {"path": "run", "exit": rc}
    if rc:
        return res
    import polars as pl

    snaps = sorted((store / "snapshots").glob("*/parquet")) if (store / "snapshots").exists() else []
    pq = snaps[-1] if snaps else store
    res["tables"] = sorted(p.stem for p in pq.glob("*.parquet"))

    def table(name):
        p = pq / f"{name}.parquet"
        return pl.read_parquet(p) if p.exists() else None

    recs, quar, gold, fnd = (table("household_business_records"), table("quarantine"),
                             table("household_business_golden"), table("findings"))
    if recs is None:
        print(f"run: no household_business_records in {pq}")
        return res
    res["records_rows"] = recs.height
    res["quarantine_rows"] = quar.height if quar is not None else 0
    res["golden_rows"] = gold.height if gold is not None else None
    idcol = "business_id" if "business_id" in recs.columns else "cluster_id"
    keep = ["record_id", "source_file", "source_row", "business_name", "tax_code", idcol]
    both = recs.select(keep).with_columns(pl.col("record_id").cast(pl.Utf8), pl.col(idcol).cast(pl.Utf8))
    if quar is not None and idcol in quar.columns:
        both = pl.concat([both, quar.select(keep).with_columns(pl.col("record_id").cast(pl.Utf8),
                                                              pl.col(idcol).cast(pl.Utf8))])
    rid_to_key, chosen = align_raw(both, truth)
    res["aligned"] = f"{len(rid_to_key)}/{both.height}"
    print(f"run: {recs.height} published + {res['quarantine_rows']} quarantined of {len(truth)} truth records; "
          f"aligned {len(rid_to_key)}; per file " + "; ".join(f"{f} {c[1]}/{c[2]}" for f, c in sorted(chosen.items())))
    sf = table("source_files")
    if sf is not None:
        for r in sf.to_dicts():
            if r.get("notes") and ("extra columns" in str(r["notes"])) and str(r["notes"]).count("'") > 2:
                print(f"  {r['source_file']}: {r['notes']}")
    res["dedupe"] = score_clusters(both, rid_to_key, truth, cluster_col=idcol)
    if fnd is not None:
        present = set(rid_to_key.values())
        res["findings"], res["unmapped_findings"] = score_findings(fnd, rid_to_key, truth, rules, present)
        res["rule_counts"] = Counter(fnd["rule_id"].to_list()).most_common()
    res["true_businesses"] = len({t["business_id"] for t in truth})
    return res


# ------------------------------------------------------------------ report -----------------------------------------
def fmt(x) -> str:
    return "  n/a" if x != x else f"{x:.3f}"


def report(results, truth, targets=(0.98, 0.98), max_list=12):
    print("\n== held-out household_business ==")
    print(f"{'path':7s} {'measure':16s} {'truth':>6s} {'TP':>5s} {'FN':>5s} {'FP':>5s} {'recall':>7s} "
          f"{'precision':>9s}  target")
    ok = True
    for res in results:
        if not res:
            continue
        for kind, m in (res.get("findings") or {}).items():
            hit = m["recall"] >= targets[0]
            ok &= hit
            print(f"{res['path']:7s} {kind:16s} {m['truth']:6d} {m['tp']:5d} {m['fn']:5d} {m['fp']:5d} "
                  f"{fmt(m['recall']):>7s} {fmt(m['precision']):>9s}  {'ok' if hit else 'MISS'} (R≥{targets[0]})")
        d = res.get("dedupe")
        if d:
            hit = d["f1"] >= targets[1]
            ok &= hit
            print(f"{res['path']:7s} {'dedupe pairs':16s} {d['true_pairs']:6d} {d['tp']:5d} "
                  f"{d['true_pairs'] - d['tp']:5d} {d['pred_pairs'] - d['tp']:5d} {fmt(d['recall']):>7s} "
                  f"{fmt(d['precision']):>9s}  F1={fmt(d['f1'])} {'ok' if hit else 'MISS'} (F1≥{targets[1]}); "
                  f"records {d['records']}/{d['truth_records']}, recall over all truth pairs {fmt(d['recall_all'])}")
        if res["path"] == "run":
            print(f"run     exit {res.get('exit')}: published {res.get('records_rows')}, quarantined "
                  f"{res.get('quarantine_rows')}, golden {res.get('golden_rows')} (true businesses "
                  f"{res.get('true_businesses')}), aligned to truth {res.get('aligned')}")
    for res in results:
        if not res:
            continue
        for kind, m in (res.get("findings") or {}).items():
            if m["misses"]:
                print(f"\n[{res['path']}] {kind}: {len(m['misses'])} missed (file/row/why/damage tags); by file: "
                      + json.dumps(Counter(x[0] for x in m["misses"])) + "; by why/tags: "
                      + json.dumps(Counter(f"{x[2]} [{x[3]}]" for x in m["misses"]).most_common(12), ensure_ascii=False))
                for x in m["misses"][:max_list]:
                    print("   ", " | ".join(x))
            if m["false_alarms"]:
                print(f"[{res['path']}] {kind}: {len(m['false_alarms'])} false alarms; by file/tags: "
                      + json.dumps(Counter(f"{x[0]} [{x[2]}]" for x in m["false_alarms"]).most_common(8),
                                   ensure_ascii=False))
        d = res.get("dedupe")
        if d and (d["fp_pairs"] or d["fn_pairs"]):
            print(f"\n[{res['path']}] dedupe: {len(d['fn_pairs'])} missed pairs by cause "
                  f"{dict(d['fn_kinds'])}; {len(d['fp_pairs'])} false pairs {dict(d['fp_kinds'])}")
            for a, b in d["fn_pairs"][:6]:
                print(f"    missed  {a} ~ {b}")
            for a, b in d["fp_pairs"][:6]:
                print(f"    false   {a} ~ {b}")
        if res.get("rule_counts"):
            print(f"[{res['path']}] findings per rule: {res['rule_counts'][:25]}")
    return ok


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="/work/heldout/business")
    ap.add_argument("--work", default=None, help="where outputs go (default DATA/eval)")
    ap.add_argument("--sachsong", default="/work/main/.venv/bin/sachsong")
    ap.add_argument("--paths", default="ingest,direct,run")
    ap.add_argument("--as-of", default=None, help="default: the as-of the data was generated for")
    ap.add_argument("--rule-map", default=None, help="kind=rule_id,... added to the automatic mapping")
    ap.add_argument("--json", default=None, help="also write the figures here")
    ap.add_argument("--reuse-store", action="store_true", help="score the store of an earlier run, do not run")
    a = ap.parse_args()
    global REUSE
    REUSE = a.reuse_store
    data = Path(a.data)
    work = Path(a.work) if a.work else data / "eval"
    work.mkdir(parents=True, exist_ok=True)
    log = work / "sachsong.log"
    log.write_text("")
    meta = json.loads((data / "truth" / "meta.json").read_text())
    as_of = a.as_of or meta["as_of"]
    if "--dataset" not in help_text(a.sachsong, "check"):
        print("sachsong check has no --dataset option yet: nothing to measure")
        sys.exit(2)
    truth = load_truth(data)
    rules = rule_map(a.sachsong, a.rule_map)
    results = []
    paths = a.paths.split(",")
    if "ingest" in paths:
        results.append(run_ingest_path(a.sachsong, data, work, as_of, log, rules, truth))
    if "direct" in paths:
        results.append(run_direct_path(a.sachsong, data, work, as_of, log, rules, truth))
    if "run" in paths:
        results.append(run_store_path(a.sachsong, data, work, as_of, log, rules, truth))
    ok = report(results, truth)
    if a.json:
        slim = [{k: v for k, v in (r or {}).items() if k not in ("rule_counts",)} for r in results]
        for r in slim:
            for m in (r.get("findings") or {}).values():
                m.pop("misses"), m.pop("false_alarms")
            if r.get("dedupe"):
                for k in ("fp_pairs", "fn_pairs", "fp_kinds", "fn_kinds"):
                    r["dedupe"].pop(k)
        Path(a.json).write_text(json.dumps(slim, indent=1, default=str))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()

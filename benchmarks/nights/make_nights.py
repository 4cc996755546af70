"""Three nights of one demo province, changed the way real commune exports change between nights.

Independent of the pipeline's code: night 1 is exactly what `sachsong demo-data` writes; nights 2 and 3
are derived from those files and from the generator's ground truth (DIR/truth/*.parquet) only.

    night 1  the demo exports, byte for byte
    night 2  rows re-ordered inside most files; ~1% new records (copy-and-perturb rows as NEW persons, a
             few new records of existing persons in other exports, one exact duplicate row in an export
             without ids); ~0.5% of records edited (phone
             changed, house number corrected, name diacritics fixed); some records deleted; one export
             removed; one export added whose name sorts first (000_...); one export re-exported with
             another column order and without its id column
    night 3  night 2 with the removed export restored (its night-1 bytes)

Ledger (OUT/ledger.parquet): one row per (night, file, row) of nights 1-3 with the night-1 (file, row) it
descends from (null for new records), its status, the truth person id and, for an exact duplicate row, the
night-1 row it copies (`copy_of`, "file#row": the two are indistinguishable); OUT/gone.parquet: the night-1 rows
absent from a night and why. Rows are 1-based data rows (the header is not counted), as in the truth files.

    python benchmarks/nights/make_nights.py --out /work/heldout/nights/p1500 --persons 1500 --seed 7
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import random
import re
import shutil
import subprocess
import sys
import unicodedata
from datetime import date, datetime
from pathlib import Path

import openpyxl
import polars as pl

SACHSONG = Path(__file__).resolve().parents[2] / ".venv" / "bin" / "sachsong"
TEXT_SAFE = {"csv-utf8", "csv-utf8-bom", "csv-utf8-semicolon", "json", "xlsx"}  # names can be rewritten
DATE_FMT = {"dd/mm/yyyy": "%d/%m/%Y", "yyyy-mm-dd": "%Y-%m-%d", "d/m/yyyy": None}


# ---------------------------------------------------------------- files: read and write every format as strings
class Table:
    def __init__(self, meta: dict, header: list[str], rows: list[list], extra: dict):
        self.meta, self.header, self.rows, self.extra = meta, header, rows, extra

    def col(self, field: str) -> int | None:
        cols = self.meta["columns"]
        name = cols.get(field)
        if name is None:
            return None
        if name in self.header:
            return self.header.index(name)
        # legacy-font csv (read as latin-1): the generator writes the columns in the meta's order
        return list(cols).index(field) if len(self.header) == len(cols) else None


def read_table(path: Path, meta: dict) -> Table:
    fmt = meta["format"]
    if fmt == "json":
        data = json.loads(path.read_text("utf-8"))
        header = list(data[0].keys()) if data else list(meta["columns"].values())
        return Table(meta, header, [[r.get(h) for h in header] for r in data], {})
    if fmt == "xlsx":
        wb = openpyxl.load_workbook(path)
        ws = wb.worksheets[0]
        rows = [[c.value for c in r] for r in ws.iter_rows()]
        return Table(meta, [str(h) for h in rows[0]], rows[1:], {"title": ws.title})
    raw = path.read_bytes()
    bom = raw.startswith(b"\xef\xbb\xbf")
    enc = "utf-8" if meta["encoding"].startswith("utf") else "latin-1"  # latin-1 keeps legacy bytes as they are
    rows = list(csv.reader(io.StringIO(raw[3 if bom else 0:].decode(enc), newline=""), delimiter=meta["delimiter"]))
    return Table(meta, rows[0], rows[1:], {"bom": bom, "enc": enc})


def write_table(t: Table, path: Path) -> None:
    fmt = t.meta["format"]
    if fmt == "json":
        path.write_text(json.dumps([dict(zip(t.header, r, strict=False)) for r in t.rows], ensure_ascii=False,
                                   separators=(",", ":")), "utf-8")
        return
    if fmt == "xlsx":
        wb = openpyxl.Workbook()
        ws = wb.active
        ws.title = t.extra.get("title", "Danh sach")
        ws.append(t.header)
        for r in t.rows:
            ws.append(r)
        wb.save(path)
        return
    d, lt = t.meta["delimiter"], t.meta["line_terminator"]

    def q(v):
        v = "" if v is None else v
        return '"' + v.replace('"', '""') + '"' if v == "" or any(c in v for c in (d, '"', "\n", "\r")) else v

    text = "".join(d.join(q(v) for v in r) + lt for r in [t.header, *t.rows])
    path.write_bytes((b"\xef\xbb\xbf" if t.extra["bom"] else b"") + text.encode(t.extra["enc"]))


# ---------------------------------------------------------------- small perturbations
def strip_accents(s: str) -> str:
    s = s.replace("đ", "d").replace("Đ", "D")
    return unicodedata.normalize("NFC", "".join(c for c in unicodedata.normalize("NFD", s)
                                                if unicodedata.category(c) != "Mn"))


def bump_digits(s: str, rng: random.Random, last: int) -> str:
    """Change the last `last` digits of s (format kept)."""
    pos = [i for i, c in enumerate(s) if c.isdigit()][-last:]
    chars = list(s)
    while True:
        for i in pos:
            chars[i] = str(rng.randrange(10))
        if "".join(chars) != s:
            return "".join(chars)


def change_first_number(s: str, rng: random.Random) -> str | None:
    m = re.search(r"\d+", s)
    if not m:
        return None
    old = int(m.group())
    new = old + rng.choice([1, 2, 3, 5, 10, 11]) if old < 900 else old - 7
    return s[:m.start()] + str(new) + s[m.end():]


def format_date(d: date, fmt: str) -> str:
    if fmt == "d/m/yyyy":
        return f"{d.day}/{d.month}/{d.year}"
    return d.strftime(DATE_FMT[fmt])


def parse_date(s: str, fmt: str) -> date | None:
    try:
        if fmt == "d/m/yyyy":
            dd, mm, yy = (int(x) for x in s.split("/"))
            return date(yy, mm, dd)
        return datetime.strptime(s, DATE_FMT[fmt]).date()
    except (ValueError, TypeError):
        return None


def next_record_id(t: Table, rng: random.Random, used: set) -> str | None:
    c = t.col("record_id")
    if c is None:
        return None
    fmt = t.meta["record_id_format"] or "{n}"
    nums = [int(m.group()) for r in t.rows if r[c] for m in [re.search(r"(\d+)$", str(r[c]))] if m]
    n = max(nums, default=1000) + rng.randrange(50, 500)
    while True:
        rid = fmt.format(n=n, legacy_ward_code=t.meta["legacy_ward_code"])
        if rid not in used:
            used.add(rid)
            return rid
        n += 1


# ---------------------------------------------------------------- the nights
def build(out: Path, persons: int, seed: int, province: str | None = None) -> None:
    rng = random.Random(seed * 7919 + 1)
    if out.exists():
        shutil.rmtree(out)
    base = out / "demo"
    subprocess.run([str(SACHSONG), "demo-data", str(base), "--persons", str(persons), "--seed", str(seed),
                    *(["--province", province] if province else [])], check=True, stdout=subprocess.DEVNULL)
    truth = pl.read_parquet(base / "truth" / "records.parquet")
    people = pl.read_parquet(base / "truth" / "persons.parquet")
    meta = json.loads((base / "truth" / "meta.json").read_text("utf-8"))
    metas = {f["source_file"]: f for f in meta["files"]}
    exports = base / "exports"
    n1 = out / "night1" / "exports"
    shutil.copytree(exports, n1)

    tables = {name: read_table(exports / name, m) for name, m in metas.items()}
    tr = {(r["source_file"], r["source_row"]): r for r in truth.iter_rows(named=True)}
    for name, t in tables.items():  # the truth and the file agree on row count
        assert len(t.rows) == metas[name]["rows"] == sum(1 for k in tr if k[0] == name), name

    # per row: (values, origin (file,row) or None, status, truth person)
    work = {name: [(list(r), (name, i + 1), "unchanged", tr[(name, i + 1)]["person_id"])
                   for i, r in enumerate(t.rows)] for name, t in tables.items()}
    used_ids = {str(v) for t in tables.values() for r in t.rows
                for c in [t.col("record_id")] if c is not None for v in [r[c]] if v}
    used_cccd = set(truth["cccd_clean"].drop_nulls().to_list())
    gone = []  # (n1 file, n1 row, person, reason)
    files = sorted(tables)
    mid = [f for f in files if 8 <= metas[f]["rows"] <= 16]
    if len(mid) < 20:  # a big province has no small exports: take its smallest ones
        mid = sorted(files, key=lambda f: (metas[f]["rows"], f))[:40]

    # one export removed (night 2 only)
    removed = rng.choice([f for f in mid if metas[f]["format"] != "xlsx"])
    # one export re-exported: other column order, no id column (a text-safe csv with ids)
    reexported = rng.choice([f for f in mid if f != removed and metas[f]["format"] in ("csv-utf8", "csv-utf8-bom")
                             and "record_id" in metas[f]["columns"]])
    special = {removed, reexported}
    total = truth.height

    def clean(r):  # a row the generator left without defects and with readable fields
        return not r["defects"] and r["injected_defect"] is None

    # -- edits (~0.5%)
    n_edit = max(6, round(total * 0.005))
    cand = [(f, i) for f in files if f not in special for i in range(len(work[f]))]
    rng.shuffle(cand)
    kinds = ["phone_changed", "address_fixed", "name_diacritics_fixed"]
    done = {k: 0 for k in kinds}
    touched = set()
    for f, i in cand:
        if sum(done.values()) >= n_edit:
            break
        t, (vals, org, st, pid) = tables[f], work[f][i]
        r = tr[org]
        if not clean(r) or (f, i) in touched:
            continue
        kind = min((k for k in kinds), key=lambda k: done[k])
        if kind == "phone_changed":
            c = t.col("phone")
            if c is None or not vals[c] or sum(ch.isdigit() for ch in str(vals[c])) < 9:
                continue
            vals[c] = bump_digits(str(vals[c]), rng, 3)
        elif kind == "address_fixed":
            c = t.col("address")
            new = change_first_number(str(vals[c]), rng) if c is not None and vals[c] else None
            if new is None:
                continue
            vals[c] = new
        else:
            c = t.col("full_name")
            if t.meta["format"] not in TEXT_SAFE or c is None or not vals[c] or not r["full_name_clean"]:
                continue
            noise = set(r["noise"] or [])
            if not noise & {"name_unaccented", "name_new_tone", "name_typo", "name_i_y"} or "name_no_middle" in noise:
                continue
            fixed = r["full_name_clean"]
            if str(vals[c]).isupper():
                fixed = fixed.upper()
            if fixed == vals[c]:
                continue
            vals[c] = fixed
        work[f][i] = (vals, org, kind, pid)
        touched.add((f, i))
        done[kind] += 1

    # -- deletions (~0.3%)
    n_del = max(4, round(total * 0.003))
    dels = 0
    for f, i in cand:
        if dels >= n_del:
            break
        if (f, i) in touched or len(work[f]) < 3:
            continue
        touched.add((f, i))
        dels += 1
    deleted = {(f, i) for f, i in touched if work[f][i][2] == "unchanged"}
    for f, i in deleted:
        vals, org, st, pid = work[f][i]
        gone.append((org[0], org[1], pid, "deleted"))
    for f in files:
        work[f] = [w for i, w in enumerate(work[f]) if (f, i) not in deleted]

    # -- new persons, copy-and-perturb (~0.8%) and new records of existing persons (~0.2%)
    given_pool = people.select("sex", "middle_name", "given_name").drop_nulls().rows()

    def new_person_from(f, row, pid_new):
        t = tables[f]
        r = tr[row[1]]
        vals = list(row[0])
        c_name, c_id, c_ph, c_dob, c_rid = (t.col(k) for k in ("full_name", "citizen_id", "phone", "date_of_birth",
                                                                "record_id"))
        if t.meta["format"] not in TEXT_SAFE or None in (c_name, c_id, c_dob) or not clean(r):
            return None
        if r["id_shown"] != "cccd" or not r["cccd_clean"] or str(vals[c_id]) != r["cccd_clean"]:
            return None
        if "name_no_middle" in (r["noise"] or []):
            return None
        dob = parse_date(str(vals[c_dob]), t.meta["date_format"])
        if dob is None or not r["full_name_clean"]:
            return None
        fam = r["full_name_clean"].split()[0]
        _sex, mid_, giv = rng.choice([g for g in given_pool if g[0] == r["sex_clean"]] or given_pool)
        name = " ".join(x for x in (fam, mid_, giv) if x)
        if name == r["full_name_clean"]:
            return None
        if t.meta["unaccented"] or "name_unaccented" in (r["noise"] or []):
            name = strip_accents(name)
        if str(vals[c_name]).isupper():
            name = name.upper()
        vals[c_name] = name
        while True:
            cccd = r["cccd_clean"][:6] + f"{rng.randrange(10**6):06d}"
            if cccd not in used_cccd:
                used_cccd.add(cccd)
                break
        vals[c_id] = cccd
        nd = dob
        while nd == dob:
            nd = date(dob.year, rng.randint(1, 12), rng.randint(1, 28))
        vals[c_dob] = format_date(nd, t.meta["date_format"])
        if c_ph is not None and vals[c_ph] and sum(ch.isdigit() for ch in str(vals[c_ph])) >= 9:
            vals[c_ph] = bump_digits(str(vals[c_ph]), rng, 5)
        if c_rid is not None:
            vals[c_rid] = next_record_id(t, rng, used_ids)
        return (vals, None, "new_person", pid_new)

    def copy_to(src_f, row, dst_f):
        """An existing person's record written into another export of the same dialect."""
        s, d = tables[src_f], tables[dst_f]
        vals = [None if d.meta["format"] in ("json", "xlsx") else ""] * len(d.header)
        for field in d.meta["columns"]:
            sc, dc = s.col(field), d.col(field)
            if dc is not None and sc is not None:
                vals[dc] = row[0][sc]
        if d.col("record_id") is not None:
            vals[d.col("record_id")] = next_record_id(d, rng, used_ids)
        return (vals, None, "new_record", row[3])

    def dialect(f):
        m = metas[f]
        return (m["format"], m["date_format"], m["updated_at_format"], tuple(m["sex_values"]), m["upper_case"],
                m["unaccented"], m["new_tone_placement"], m["main_address_form"])

    n_new = max(8, round(total * 0.006))
    n_newrec = max(3, round(total * 0.002))
    made = 0
    seq = 0
    pool = [(f, i) for f in files if f not in special for i in range(len(work[f]))]
    rng.shuffle(pool)
    for f, i in pool:
        if made >= n_new:
            break
        if work[f][i][2] != "unchanged":
            continue
        seq += 1
        row = new_person_from(f, work[f][i], f"NEW{seq:05d}")
        if row is None:
            continue
        target = f if rng.random() < 0.7 else rng.choice([g for g in files if g not in special and dialect(g) == dialect(f)])
        if target != f:  # rewrite through the target's columns
            row = (copy_to(f, row, target)[0], None, "new_person", row[3])
        work[target].insert(rng.randrange(len(work[target]) + 1), row)
        made += 1
    newrec = 0
    for f, i in pool[::-1]:
        if newrec >= n_newrec:
            break
        if i >= len(work[f]) or work[f][i][2] != "unchanged" or not clean(tr[work[f][i][1]]):
            continue
        others = [g for g in files if g not in special and g != f and dialect(g) == dialect(f)]
        if not others:
            continue
        g = rng.choice(others)
        work[g].insert(rng.randrange(len(work[g]) + 1), copy_to(f, work[f][i], g))
        newrec += 1

    # -- one exact duplicate row in an export without ids (the same person entered twice: a content-key collision)
    dup = 0
    twins: dict = {}  # night-1 (file, row) copied exactly
    for f, i in pool:
        if "record_id" in metas[f]["columns"] or f in special or i >= len(work[f]) or work[f][i][2] != "unchanged":
            continue
        if not clean(tr[work[f][i][1]]):
            continue
        vals, org, st, pid = work[f][i]
        work[f].insert(rng.randrange(len(work[f]) + 1), (list(vals), None, "duplicate_row", pid))
        twins[org] = True
        dup += 1
        break

    # -- one new export whose name sorts first: a supplementary list in the dialect of an existing csv
    model = rng.choice([f for f in files if f not in special and metas[f]["format"] == "csv-utf8"
                        and "record_id" in metas[f]["columns"] and metas[f]["rows"] >= 6])
    first = "000_bo_sung_" + model.split("_", 1)[1]
    m0 = dict(metas[model], source_file=first, source_id=first.rsplit(".", 1)[0])
    tables[first] = Table(m0, list(tables[model].header), [], dict(tables[model].extra))
    metas[first] = m0
    rows0 = []
    for _j, w in enumerate([w for w in work[model] if w[2] == "unchanged"]):
        if len([x for x in rows0 if x[2] == "new_person"]) < 4:
            seq += 1
            nr = new_person_from(model, w, f"NEW{seq:05d}")
            if nr is not None:
                rows0.append(nr)
        elif len(rows0) < 6:
            rows0.append(copy_to(model, w, first))
    work[first] = rows0

    # -- re-ordering inside files (most files)
    for f in files:
        if f != removed and len(work[f]) > 1 and rng.random() < 0.75:
            rng.shuffle(work[f])

    # -- the re-export: columns in another order, no id column
    t = tables[reexported]
    keep = [h for h in t.header if h != t.meta["columns"]["record_id"]]
    rng.shuffle(keep)
    idx = [t.header.index(h) for h in keep]
    m_re = dict(t.meta, columns={k: v for k, v in t.meta["columns"].items() if k != "record_id"})
    tables[reexported] = Table(m_re, keep, [], t.extra)
    work[reexported] = [([w[0][k] for k in idx], w[1], "reexported" if w[2] == "unchanged" else w[2], w[3])
                        for w in work[reexported]]

    # -- write night 2 and night 3
    ledger = []
    for f, i in sorted(tr):  # night 1 ledger: identity
        ledger.append((1, f, i, f, i, "unchanged", tr[(f, i)]["person_id"], None))
    gone2 = list(gone) + [(removed, i + 1, tr[(removed, i + 1)]["person_id"], "export_removed")
                          for i in range(len(tables[removed].rows))]
    for night in (2, 3):
        d = out / f"night{night}" / "exports"
        d.mkdir(parents=True)
        for f in sorted(work):
            if f == removed:
                if night == 3:
                    shutil.copy2(exports / f, d / f)
                    for i in range(len(tables[f].rows)):
                        ledger.append((3, f, i + 1, f, i + 1, "restored", tr[(f, i + 1)]["person_id"], None))
                continue
            t = tables[f]
            write_table(Table(t.meta, t.header, [w[0] for w in work[f]], t.extra), d / f)
            for i, (vals, org, st, pid) in enumerate(work[f]):
                twin = None
                if st == "duplicate_row":  # the unchanged row it copies, by content
                    twin = next(f"{o[0]}#{o[1]}" for v, o, _, _ in work[f] if o in twins and v == vals)
                ledger.append((night, f, i + 1, org[0] if org else None, org[1] if org else None, st, pid, twin))
    schema = {"night": pl.Int64, "source_file": pl.String, "source_row": pl.Int64, "n1_file": pl.String,
              "n1_row": pl.Int64, "status": pl.String, "truth_person": pl.String, "copy_of": pl.String}
    pl.DataFrame(ledger, schema=schema, orient="row").write_parquet(out / "ledger.parquet")
    gone_rows = sorted([(2, *g) for g in gone2] + [(3, *g) for g in gone])
    pl.DataFrame(gone_rows, schema={"night": pl.Int64, "n1_file": pl.String, "n1_row": pl.Int64,
                                    "truth_person": pl.String, "reason": pl.String}, orient="row"
                 ).write_parquet(out / "gone.parquet")
    info = {"persons": persons, "seed": seed, "province": meta["province"], "night1_records": total, "removed_export": removed,
            "reexported_without_id": reexported, "added_first_export": first,
            "edits": done, "deleted": len(deleted), "new_person_records": made + sum(1 for r in rows0 if r[2] == "new_person"),
            "new_records_of_existing_persons": newrec + sum(1 for r in rows0 if r[2] == "new_record"),
            "exact_duplicate_rows_in_export_without_ids": dup,
            "removed_export_rows": len(tables[removed].rows),
            "files": {n: len(list((out / f"night{n}" / "exports").iterdir())) for n in (1, 2, 3)}}
    (out / "nights.json").write_text(json.dumps(info, indent=1, ensure_ascii=False))
    print(json.dumps(info, indent=1, ensure_ascii=False))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--persons", type=int, default=1500)
    ap.add_argument("--seed", type=int, default=4242)
    ap.add_argument("--province", help="demo province code (default: the demo's, 44)")
    a = ap.parse_args(argv)
    build(a.out, a.persons, a.seed, a.province)
    return 0


if __name__ == "__main__":
    sys.exit(main())

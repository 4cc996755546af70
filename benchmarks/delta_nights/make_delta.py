"""An "office" delta night: a realistic night 2 derived from a `sachsong demo-data` folder (issue 15, item 5).

Independent of the pipeline's code: night 1 is the demo's exports as they are (DIR/exports); night 2 is derived
from those files and the generator's ground truth (DIR/truth) only. What a few commune offices do in a day:

    ~10% of the exports (chosen at random) are re-exported by their office: the whole file is written again,
    rows re-ordered in most of them, and inside those files only:
        ~1% of the province's records are new: ~80% new persons (copy-and-perturb a clean row: another given
            name, date of birth, CCCD, phone and record id), ~20% an existing person's record copied from another
            export of the same dialect (the person registered in a second commune);
        ~0.5% of the province's records are edited (phone changed, house number corrected, name diacritics
            fixed), each with its `updated_at` moved to the night;
        ~0.1% deleted.
    every other export is byte-identical to night 1 (copied with a fresh mtime: a cache must not rely on it);
    one export (not re-exported) is removed; one new export whose name sorts first (000_bo_sung_...) is added.

Output: OUT/night2/exports, OUT/ledger.parquet (one row per night-2 file row: the night-1 file#row it descends
from, or null, and its status), OUT/delta.json (what was done; `night1_exports` names the night-1 folder).
Deterministic for a given --seed and input.

    sachsong demo-data /work/heldout/delta/d70k --persons 70000
    python benchmarks/delta_nights/make_delta.py --base /work/heldout/delta/d70k --out /work/heldout/delta/office70k
"""
from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import random
import re
import shutil
import sys
import zipfile
from pathlib import Path

import openpyxl
import polars as pl

TEXT_SAFE = {"csv-utf8", "csv-utf8-bom", "csv-utf8-semicolon", "json", "xlsx"}  # names can be rewritten
DATE_FMT = {"dd/mm/yyyy": "%d/%m/%Y", "yyyy-mm-dd": "%Y-%m-%d", "d/m/yyyy": None}
NIGHT2 = dt.datetime(2026, 11, 1, 16, 30, 0)  # the offices' working day before night 2 (as-of 2026-11-02)
FIXED_XLSX_TIME = dt.datetime(2026, 11, 1, 17, 0, 0)  # xlsx document properties: deterministic bytes


# ---------------------------------------------------------------- files: read and write every format as strings
# Reading is benchmarks/nights/make_nights.py's (the other independent tool); writing fixes xlsx times so the same
# seed gives the same bytes.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "nights"))
from make_nights import (  # noqa: E402
    Table,
    bump_digits,
    change_first_number,
    next_record_id,
    read_table,
    strip_accents,
)


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
        buf = io.BytesIO()
        wb.save(buf)
        with zipfile.ZipFile(buf) as zin, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zout:
            for item in zin.infolist():  # fixed times (entries, 'modified'): the same seed gives the same bytes
                data = zin.read(item.filename)
                if item.filename == "docProps/core.xml":
                    data = re.sub(rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*", rb"\g<1>2026-11-01T17:00:00Z", data)
                zout.writestr(zipfile.ZipInfo(item.filename, date_time=FIXED_XLSX_TIME.timetuple()[:6]), data,
                              compress_type=zipfile.ZIP_DEFLATED)
        return
    d, lt = t.meta["delimiter"], t.meta["line_terminator"]

    def q(v):
        v = "" if v is None else v
        return '"' + v.replace('"', '""') + '"' if v == "" or any(c in v for c in (d, '"', "\n", "\r")) else v

    text = "".join(d.join(q(v) for v in r) + lt for r in [t.header, *t.rows])
    path.write_bytes((b"\xef\xbb\xbf" if t.extra["bom"] else b"") + text.encode(t.extra["enc"]))


# ---------------------------------------------------------------- small perturbations


def format_date(d: dt.date, fmt: str) -> str:
    if fmt == "d/m/yyyy":
        return f"{d.day}/{d.month}/{d.year}"
    return d.strftime(DATE_FMT[fmt])


def parse_date(s: str, fmt: str) -> dt.date | None:
    try:
        if fmt == "d/m/yyyy":
            dd, mm, yy = (int(x) for x in s.split("/"))
            return dt.date(yy, mm, dd)
        return dt.datetime.strptime(s, DATE_FMT[fmt]).date()
    except (ValueError, TypeError):
        return None


def touched_updated_at(t: Table, vals: list, rng: random.Random) -> None:
    """An edited record's updated_at moves to the office's working day (same format as the cell had)."""
    c = t.col("updated_at")
    if c is None or vals[c] in (None, ""):
        return
    when = NIGHT2 - dt.timedelta(seconds=rng.randrange(8 * 3600))
    if isinstance(vals[c], dt.datetime):
        vals[c] = when
    elif isinstance(vals[c], str) and "%" in (t.meta.get("updated_at_format") or ""):
        try:  # only a cell the file's own format reads is rewritten (a damaged one is left as it was)
            dt.datetime.strptime(vals[c], t.meta["updated_at_format"])
        except ValueError:
            return
        vals[c] = when.strftime(t.meta["updated_at_format"])


# ---------------------------------------------------------------- the office night
def build(base: Path, out: Path, seed: int, share_files: float, new_share: float, edit_share: float,
          del_share: float) -> dict:
    rng = random.Random(seed)
    if out.exists():
        shutil.rmtree(out)
    truth = pl.read_parquet(base / "truth" / "records.parquet")
    people = pl.read_parquet(base / "truth" / "persons.parquet")
    meta = json.loads((base / "truth" / "meta.json").read_text("utf-8"))
    metas = {f["source_file"]: f for f in meta["files"]}
    exports = base / "exports"
    files = sorted(metas)
    total = truth.height
    need = ["source_file", "source_row", "person_id", "defects", "injected_defect", "noise", "full_name_clean",
            "id_shown", "cccd_clean", "sex_clean"]  # only what the perturbations read (1M rows at 700k persons)
    tr = {(r["source_file"], r["source_row"]): r for r in truth.select(need).iter_rows(named=True)}

    def clean(r: dict) -> bool:  # a row the generator left without defects and with readable fields
        return not r["defects"] and r["injected_defect"] is None

    # which offices re-export tonight (~10% of the exports), which export is gone
    k = max(3, round(len(files) * share_files))
    offices = sorted(rng.sample(files, k))
    removed = rng.choice([f for f in files if f not in offices and metas[f]["format"] != "xlsx"])
    tables = {f: read_table(exports / f, metas[f]) for f in files if f in offices}
    # a few more tables read as sources for records copied into the offices' files (same dialect)
    for f, t in tables.items():
        assert len(t.rows) == metas[f]["rows"], f

    def dialect(f: str) -> tuple:
        m = metas[f]
        return (m["format"], m["date_format"], m["updated_at_format"], tuple(m["sex_values"]), m["upper_case"],
                m["unaccented"], m["new_tone_placement"], m["main_address_form"])

    work = {f: [(list(r), (f, i + 1), "unchanged", tr[(f, i + 1)]["person_id"]) for i, r in enumerate(t.rows)]
            for f, t in tables.items()}
    used_ids = {str(v) for t in tables.values() for r in t.rows
                for c in [t.col("record_id")] if c is not None for v in [r[c]] if v}
    used_ids |= {str(v) for v in truth["raw_record_id"].drop_nulls().to_list()}
    used_cccd = set(truth["cccd_clean"].drop_nulls().to_list())

    # -- edits (~0.5% of the province, all in the offices' files)
    n_edit = max(6, round(total * edit_share))
    cand = [(f, i) for f in offices for i in range(len(work[f]))]
    rng.shuffle(cand)
    kinds = ["phone_changed", "address_fixed", "name_diacritics_fixed"]
    done = {kd: 0 for kd in kinds}
    touched: set = set()
    for f, i in cand:
        if sum(done.values()) >= n_edit:
            break
        t, (vals, org, _st, pid) = tables[f], work[f][i]
        r = tr[org]
        if not clean(r):
            continue
        order = sorted(kinds, key=lambda kd: (done[kd], rng.random()))
        for kind in order:
            new_vals = list(vals)
            if kind == "phone_changed":
                c = t.col("phone")
                if c is None or not new_vals[c] or sum(ch.isdigit() for ch in str(new_vals[c])) < 9:
                    continue
                new_vals[c] = bump_digits(str(new_vals[c]), rng, 3)
            elif kind == "address_fixed":
                c = t.col("address")
                new = change_first_number(str(new_vals[c]), rng) if c is not None and new_vals[c] else None
                if new is None:
                    continue
                new_vals[c] = new
            else:
                c = t.col("full_name")
                if t.meta["format"] not in TEXT_SAFE or c is None or not new_vals[c] or not r["full_name_clean"]:
                    continue
                noise = set(r["noise"] or [])
                if not noise & {"name_unaccented", "name_new_tone", "name_typo", "name_i_y"} \
                        or "name_no_middle" in noise:
                    continue
                fixed = r["full_name_clean"].upper() if str(new_vals[c]).isupper() else r["full_name_clean"]
                if fixed == new_vals[c]:
                    continue
                new_vals[c] = fixed
            touched_updated_at(t, new_vals, rng)
            work[f][i] = (new_vals, org, kind, pid)
            touched.add((f, i))
            done[kind] += 1
            break

    # -- deletions (~0.1%)
    n_del = max(3, round(total * del_share))
    deleted: set = set()
    for f, i in cand[::-1]:
        if len(deleted) >= n_del:
            break
        if (f, i) not in touched and len(work[f]) > 3:
            deleted.add((f, i))
    gone = [(f, i + 1, work[f][i][3], "deleted") for f, i in sorted(deleted)]
    for f in offices:
        work[f] = [w for i, w in enumerate(work[f]) if (f, i) not in deleted]

    # -- new records (~1%): new persons (copy-and-perturb) and existing persons' records copied from elsewhere
    given_pool = people.select("sex", "middle_name", "given_name").drop_nulls().rows()
    pool_by_sex: dict = {}
    for g in given_pool:
        pool_by_sex.setdefault(g[0], []).append(g)
    seq = 0

    def new_person_from(t: Table, row: tuple, pid_new: str) -> tuple | None:
        r = tr[row[1]]
        vals = list(row[0])
        c_name, c_id, c_ph, c_dob, c_rid = (t.col(x) for x in ("full_name", "citizen_id", "phone", "date_of_birth",
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
        _sex, mid_, giv = rng.choice(pool_by_sex.get(r["sex_clean"]) or given_pool)
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
            nd = dt.date(dob.year, rng.randint(1, 12), rng.randint(1, 28))
        vals[c_dob] = format_date(nd, t.meta["date_format"])
        if c_ph is not None and vals[c_ph] and sum(ch.isdigit() for ch in str(vals[c_ph])) >= 9:
            vals[c_ph] = bump_digits(str(vals[c_ph]), rng, 5)
        if c_rid is not None:
            vals[c_rid] = next_record_id(t, rng, used_ids)
        touched_updated_at(t, vals, rng)
        return (vals, None, "new_person", pid_new)

    def copy_to(s: Table, row: tuple, d: Table) -> list:
        """A record written into another export of the same dialect (through that export's columns)."""
        vals = [None if d.meta["format"] in ("json", "xlsx") else ""] * len(d.header)
        for field in d.meta["columns"]:
            sc, dc = s.col(field), d.col(field)
            if dc is not None and sc is not None:
                vals[dc] = row[0][sc]
        if d.col("record_id") is not None:
            vals[d.col("record_id")] = next_record_id(d, rng, used_ids)
        return vals

    n_new = max(8, round(total * new_share))
    n_person = round(n_new * 0.8)
    n_copy = n_new - n_person
    made = 0
    safe_pool = [(f, i) for f in offices if metas[f]["format"] in TEXT_SAFE for i in range(len(work[f]))]
    for _pass in range(8):  # a few passes: a small province's offices may need several new persons per row
        rng.shuffle(safe_pool)
        for f, i in safe_pool:
            if made >= n_person:
                break
            if i >= len(work[f]) or work[f][i][2] != "unchanged":
                continue
            seq += 1
            row = new_person_from(tables[f], work[f][i], f"NEW{seq:06d}")
            if row is not None:
                work[f].insert(rng.randrange(len(work[f]) + 1), row)
                made += 1
        if made >= n_person:
            break
    # existing persons registered in a second commune: source rows from any export of an office's dialect
    by_dialect: dict = {}
    for f in files:
        if f != removed:
            by_dialect.setdefault(dialect(f), []).append(f)
    copied = 0
    src_cache: dict = {}
    tries = 0
    while copied < n_copy and tries < n_copy * 50:
        tries += 1
        d = rng.choice(offices)
        srcs = [g for g in by_dialect.get(dialect(d), []) if g != d]
        if not srcs:
            continue
        g = rng.choice(srcs)
        if g not in src_cache:
            src_cache[g] = tables[g] if g in tables else read_table(exports / g, metas[g])
        s = src_cache[g]
        j = rng.randrange(len(s.rows))
        if not clean(tr[(g, j + 1)]):
            continue
        vals = copy_to(s, (s.rows[j],), tables[d])
        work[d].insert(rng.randrange(len(work[d]) + 1), (vals, None, "new_record", tr[(g, j + 1)]["person_id"]))
        copied += 1

    # -- rows re-ordered in most of the re-exported files (the rest keep their order)
    for f in offices:
        if rng.random() < 0.7:
            rng.shuffle(work[f])

    # -- one new export whose name sorts first: a supplementary list in the dialect of an existing csv with ids
    model = rng.choice([f for f in files if f != removed and metas[f]["format"] == "csv-utf8"
                        and "record_id" in metas[f]["columns"] and metas[f]["rows"] >= 6])
    first = "000_bo_sung_" + model.split("_", 1)[1]
    mt = tables[model] if model in tables else read_table(exports / model, metas[model])
    t0 = Table(dict(metas[model], source_file=first, source_id=first.rsplit(".", 1)[0]), list(mt.header), [],
               dict(mt.extra))
    rows0: list = []
    for j, r in enumerate(mt.rows):
        w = (list(r), (model, j + 1), "unchanged", tr[(model, j + 1)]["person_id"])
        if sum(1 for x in rows0 if x[2] == "new_person") < 4:
            seq += 1
            nr = new_person_from(mt, w, f"NEW{seq:06d}")
            if nr is not None:
                rows0.append(nr)
        elif len(rows0) < 6 and clean(tr[w[1]]):
            rows0.append((copy_to(mt, w, t0), None, "new_record", w[3]))
        if len(rows0) >= 6:
            break

    # -- write night 2
    d2 = out / "night2" / "exports"
    d2.mkdir(parents=True)
    ledger = []
    for f in files:
        if f == removed:
            continue
        if f in offices:
            t = tables[f]
            write_table(Table(t.meta, t.header, [w[0] for w in work[f]], t.extra), d2 / f)
            for i, (_vals, org, st, pid) in enumerate(work[f]):
                ledger.append((f, i + 1, org[0] if org else None, org[1] if org else None, st, pid))
        else:
            shutil.copyfile(exports / f, d2 / f)  # same bytes, fresh mtime
            for i in range(metas[f]["rows"]):
                ledger.append((f, i + 1, f, i + 1, "unchanged", tr[(f, i + 1)]["person_id"]))
    write_table(Table(t0.meta, t0.header, [w[0] for w in rows0], t0.extra), d2 / first)
    for i, (_vals, _org, st, pid) in enumerate(rows0):
        ledger.append((first, i + 1, None, None, st, pid))
    schema = {"source_file": pl.String, "source_row": pl.Int64, "n1_file": pl.String, "n1_row": pl.Int64,
              "status": pl.String, "truth_person": pl.String}
    pl.DataFrame(ledger, schema=schema, orient="row").write_parquet(out / "ledger.parquet")
    gone += [(removed, i + 1, tr[(removed, i + 1)]["person_id"], "export_removed")
             for i in range(metas[removed]["rows"])]
    pl.DataFrame(gone, schema={"n1_file": pl.String, "n1_row": pl.Int64, "truth_person": pl.String,
                               "reason": pl.String}, orient="row").write_parquet(out / "gone.parquet")
    office_rows = sum(metas[f]["rows"] for f in offices)
    info = {"mode": "office", "base": str(base), "night1_exports": str(exports), "seed": seed,
            "province": meta["province"], "night1_records": total, "night1_files": len(files),
            "offices_reexported": len(offices), "offices_night1_records": office_rows,
            "offices_reordered": sum(1 for f in offices
                                     if (o := [w[1] for w in work[f] if w[1]]) != sorted(o)),
            "edits": done, "deleted": len(deleted), "new_person_records": made + sum(
                1 for r in rows0 if r[2] == "new_person"),
            "new_records_of_existing_persons": copied + sum(1 for r in rows0 if r[2] == "new_record"),
            "removed_export": removed, "removed_export_rows": metas[removed]["rows"],
            "added_first_export": first, "added_first_export_rows": len(rows0),
            "byte_identical_exports": len(files) - len(offices) - 1,
            "night2_files": len(list(d2.iterdir()))}
    (out / "delta.json").write_text(json.dumps(info, indent=1, ensure_ascii=False))
    return info


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base", type=Path, required=True, help="a `sachsong demo-data` folder (exports/, truth/)")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--seed", type=int, default=515)
    ap.add_argument("--share-files", type=float, default=0.10, help="share of exports re-exported tonight")
    ap.add_argument("--new", type=float, default=0.01, help="new records, share of the province's records")
    ap.add_argument("--edit", type=float, default=0.005, help="edited records, share of the province's records")
    ap.add_argument("--delete", type=float, default=0.001, help="deleted records, share of the province's records")
    a = ap.parse_args(argv)
    info = build(a.base, a.out, a.seed, a.share_files, a.new, a.edit, a.delete)
    print(json.dumps(info, indent=1, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())

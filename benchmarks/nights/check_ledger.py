"""Self-check of make_nights.py's ledger against what `sachsong ingest` reads from each night's exports.

Every night-2/3 row descending from a night-1 row must read the same raw fields (the re-export lacks its
record_id; an edited row differs in exactly its edited field); every file's row count must match the ledger.
    python benchmarks/nights/check_ledger.py DIR      (DIR from make_nights.py; runs ingest three times)
"""
import json
import subprocess
import sys
from pathlib import Path

import polars as pl

SACHSONG = Path(__file__).resolve().parents[2] / ".venv" / "bin" / "sachsong"
FIELDS = ["record_id", "full_name", "date_of_birth", "sex", "citizen_id", "phone", "address", "commune_code",
          "updated_at"]
EDIT_FIELD = {"phone_changed": "phone", "address_fixed": "address", "name_diacritics_fixed": "full_name"}


def main(d: Path) -> int:
    ing = {}
    for n in (1, 2, 3):
        p = d / f"ingest{n}.parquet"
        if not p.exists():
            subprocess.run([str(SACHSONG), "ingest", str(d / f"night{n}" / "exports"), "--output", str(p),
                            "--rejects", str(d / f"rejects{n}.parquet")], check=True, stdout=subprocess.DEVNULL)
        ing[n] = pl.read_parquet(p)
    led = pl.read_parquet(d / "ledger.parquet")
    # exports without an id column get positional record ids from ingest: compare ids only where the file has one
    meta = json.loads((d / "demo" / "truth" / "meta.json").read_text("utf-8"))
    with_id = [f["source_file"] for f in meta["files"] if "record_id" in f["columns"]]
    bad = 0
    for n in (1, 2, 3):
        L = led.filter(pl.col("night") == n)
        counts = L.group_by("source_file").len().join(ing[n].group_by("source_file").len(), on="source_file",
                                                        how="full", coalesce=True)
        off = counts.filter(pl.col("len") != pl.col("len_right"))
        if off.height or L.height != ing[n].height:
            print(f"night {n}: row counts differ in {off.height} files ({L.height} ledger vs {ing[n].height})")
            bad += 1
        j = (L.join(ing[n], on=["source_file", "source_row"], how="left")
             .join(ing[1].select("source_file", "source_row", *FIELDS), left_on=["n1_file", "n1_row"],
                   right_on=["source_file", "source_row"], how="left", suffix="_n1"))
        for st, grp in j.filter(pl.col("n1_file").is_not_null()).group_by("status"):
            st = st[0]
            grp = grp.with_columns(pl.when(pl.col("n1_file").is_in(with_id)).then(pl.col("record_id_n1"))
                                   .otherwise(pl.col("record_id")).alias("record_id_n1"))
            diffs = {f: int((grp[f].fill_null("∅") != grp[f + "_n1"].fill_null("∅")).sum()) for f in FIELDS}
            expect = {f: 0 for f in FIELDS}
            if st == "reexported":
                expect["record_id"] = grp.height
            if st in EDIT_FIELD:
                expect[EDIT_FIELD[st]] = grp.height
            ok = diffs == expect
            bad += not ok
            print(f"night {n} {st:24s} rows {grp.height:5d} {'ok' if ok else 'MISMATCH ' + str(diffs)}")
        new = j.filter(pl.col("n1_file").is_null())
        print(f"night {n} new rows {new.height} ({new['status'].value_counts().rows()}), "
              f"truth persons {new['truth_person'].n_unique()}")
        # new rows are whole records: no field the generator fills left empty
        empty = {c: int((new[c].is_null() | (new[c].str.strip_chars() == "")).sum())
                 for c in ("full_name", "date_of_birth", "sex", "citizen_id", "phone", "address")}
        if any(empty.values()):
            print(f"night {n}: new rows with empty fields {empty}")
            bad += 1
        # a new person must not carry an existing CCCD
        old_ids = set(ing[1]["citizen_id"].drop_nulls().to_list())
        clash = new.filter(pl.col("status") == "new_person")["citizen_id"].is_in(list(old_ids)).sum()
        if clash:
            print(f"night {n}: {clash} new persons reuse an existing citizen id")
            bad += 1
    print("LEDGER OK" if not bad else f"LEDGER: {bad} problems")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))

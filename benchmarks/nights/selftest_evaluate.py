"""Self-test of evaluate.py without the pipeline: fake snapshots built from the ledger.

  perfect   person_id = the truth person, a `changes` table listing exactly the ledger's adds / edits /
            removals and the missing export, a person_id_history retiring persons whose records all went
            -> evaluate.py must report 100% and no failures
  shuffled  ids re-dealt at random each night, an empty feed -> evaluate.py must fail loudly

    python benchmarks/nights/selftest_evaluate.py DIR     (DIR from make_nights.py)
"""
import random
import shutil
import subprocess
import sys
from pathlib import Path

import polars as pl

HERE = Path(__file__).resolve().parent


def fake(d: Path, work: Path, perfect: bool) -> None:
    led = pl.read_parquet(d / "ledger.parquet")
    gone = pl.read_parquet(d / "gone.parquet")
    rng = random.Random(3)
    if work.exists():
        shutil.rmtree(work)
    prev_live: set = set()
    history: list = []
    for n in (1, 2, 3):
        s = work / f"snap{n}"
        s.mkdir(parents=True)
        run_id = f"fake-{n}"
        (s / "RUN_ID").write_text(run_id)
        L = led.filter(pl.col("night") == n)
        if perfect:
            pid = "ID-" + L["truth_person"]
        else:
            people = L["truth_person"].unique().sort().to_list()
            deal = dict(zip(people, rng.sample(range(10**6), len(people)), strict=False))
            pid = "ID-" + L["truth_person"].replace_strict({k: str(v) for k, v in deal.items()})
        recs = L.select("source_file", "source_row").with_columns(pid.alias("person_id"))
        recs.write_parquet(s / "residents_records.parquet")
        recs.group_by("person_id").len().write_parquet(s / "residents_golden.parquet")
        live = set(recs["person_id"].to_list())
        g = gone.filter(pl.col("night") == n)
        alive = set(L["truth_person"].to_list())
        dormant = {"ID-" + t for t in set(g.filter(pl.col("reason") == "export_removed")["truth_person"]) - alive}
        retiring = {"ID-" + t for t in set(g.filter(pl.col("reason") == "deleted")["truth_person"]) - alive}
        if not perfect:
            dormant, retiring = set(), prev_live - live
        history += [(r, None, run_id, "removed") for r in sorted(retiring - {h[0] for h in history})]
        pl.DataFrame({"entity_id": sorted(dormant), "held": [True] * len(dormant)},
                     schema={"entity_id": pl.String, "held": pl.Boolean}).write_parquet(s / "entity_index.parquet")
        pl.DataFrame(history, schema={"retired_id": pl.String, "survivor_id": pl.String, "run_id": pl.String,
                                      "reason": pl.String}, orient="row").write_parquet(s / "person_id_history.parquet")
        prev_live = live
        ch = []
        if perfect and n > 1:
            for f, r in L.filter(pl.col("n1_file").is_null() | (pl.col("status") == "restored")).select(
                    "source_file", "source_row").rows():
                if n == 2 or (f, r) in set(L.filter(pl.col("status") == "restored").select("source_file", "source_row").rows()):
                    ch.append((run_id, "record_added", f, r))
            if n == 2:
                for f, r in L.filter(pl.col("status").is_in(["phone_changed", "address_fixed",
                                                             "name_diacritics_fixed"])).select("source_file",
                                                                                                "source_row").rows():
                    ch.append((run_id, "record_changed", f, r))
                for f, r in gone.filter(pl.col("night") == 2).select("n1_file", "n1_row").rows():
                    ch.append((run_id, "record_removed", f, r))
                removed = gone.filter(pl.col("reason") == "export_removed")["n1_file"][0]
                ch += [(run_id, "person_created", None, None)] * L.filter(
                    pl.col("status") == "new_person")["truth_person"].n_unique()
                ch += [(run_id, "person_retired", None, None)] * len(retiring)
                ch += [(run_id, "person_dormant", None, None)] * len(dormant)
                ch.append((run_id, "export_missing", removed, None))
        pl.DataFrame(ch, schema={"run_id": pl.String, "change": pl.String, "source_file": pl.String,
                                 "source_row": pl.Int64}, orient="row").write_parquet(s / "changes.parquet")


def main(d: Path) -> int:
    bad = 0
    for perfect in (True, False):
        work = d / ("selftest_perfect" if perfect else "selftest_shuffled")
        fake(d, work, perfect)
        p = subprocess.run([sys.executable, str(HERE / "evaluate.py"), "--nights", str(d), "--work", str(work),
                            "--reuse"], capture_output=True, text=True)
        out = p.stdout + p.stderr
        ok = (p.returncode == 0 and "FAILURES (0)" in out) if perfect else (p.returncode == 1 and "0.00%" in out)
        bad += not ok
        print(f"--- {'perfect' if perfect else 'shuffled'}: {'as expected' if ok else 'UNEXPECTED'}")
        print(out if not ok or perfect else "\n".join(out.splitlines()[:14]))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))

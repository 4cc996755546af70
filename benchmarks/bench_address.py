"""Address resolver benchmark: accuracy and speed on noisy old addresses from all 63 old provinces.

Generates noisy 3-tier addresses from the legacy reference table (abbreviations, no accents, upper case, NFD,
ward+district only, house/street/village prefixes, numbered wards as "P.05"/"P5", a few typos), resolves them
with `resolve_addresses`, and scores them against the old→new mapping: a record is right when it maps to the
new ward of its old ward; an old ward split between several new ones counts as right when it is flagged
ambiguous with the right (default) new ward among its candidates, or resolved to it.
The same is measured in the same run for `vietnamadminunits.convert_address` (per-address Python) on a small
sample, with its online geocoder disabled (it is only called for split wards with a street; those are left out
of its sample), and the ratios are printed.

Speed is reported per wall-clock second and per CPU second of this process (all threads): on a shared machine
the wall clock also counts time spent waiting for a core, the CPU time does not. Each sachsong measurement is
repeated (`--repeat`) and the median is reported.

    python benchmarks/bench_address.py [--distinct 20000] [--records 300000] [--baseline-sample 1000] [--repeat 3]

With `--labelled tests/standardize/data/labelled_addresses.csv` (columns address, expected_codes "a|b", split,
class) it also scores independently labelled real-world addresses: right, ambiguous with the right candidate
(right only for a split old ward), confident wrong (exact/fuzzy outside the expected codes), unmatched, per class.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
import unicodedata

import polars as pl
from unidecode import unidecode

from sachsong.standardize.address import resolve_addresses
from sachsong.standardize.reference import load_reference

WARD_ABBREVIATION = {"Phường": "P.", "Xã": "X.", "Thị trấn": "TT."}
DISTRICT_ABBREVIATION = {"Quận": "Q.", "Huyện": "H.", "Thị xã": "TX.", "Thành phố": "TP.", "Thành Phố": "TP."}
PROVINCE_ABBREVIATION = {"Tỉnh": "T.", "Thành phố": "TP."}
PREFIXES = ("Thôn 3", "Số 12 đường Lê Lợi", "Tổ 5", "Xóm Đông", "Ấp 2", "45/7 Nguyễn Trãi", "Khu phố 4", "")
NOISE_KINDS = (
    "full",
    "abbreviated",
    "unaccented",
    "unaccented_no_commas",
    "upper",
    "nfd",
    "ward_district_only",
    "numbered",
    "typo",
)


def _abbreviate(name: str, table: dict[str, str]) -> str:
    for word, short in table.items():
        if name.startswith(word + " "):
            return short + " " + name[len(word) + 1 :]
    return name


def _typo(name: str, rng: random.Random) -> str:
    # One edit inside the last syllable of the ward name (never the type word).
    head, _, last = name.rpartition(" ")
    if len(last) < 3:
        return name
    i = rng.randrange(1, len(last))
    edit = rng.choice(("drop", "double", "swap"))
    if edit == "drop":
        last = last[:i] + last[i + 1 :]
    elif edit == "double":
        last = last[:i] + last[i] + last[i:]
    elif i < len(last) - 1:
        last = last[:i] + last[i + 1] + last[i] + last[i + 2 :]
    return f"{head} {last}".strip()


def noisy_address(row: dict, kind: str, rng: random.Random) -> str:
    ward, district, province = (
        row["legacy_ward_name"],
        row["legacy_district_name"],
        row["legacy_province_name"],
    )
    prefix = rng.choice(PREFIXES)
    parts = [p for p in (prefix, ward, district, province) if p]
    if kind == "abbreviated":
        parts = [
            p
            for p in (
                prefix,
                _abbreviate(ward, WARD_ABBREVIATION),
                _abbreviate(district, DISTRICT_ABBREVIATION),
                _abbreviate(province, PROVINCE_ABBREVIATION),
            )
            if p
        ]
    elif kind == "ward_district_only":
        parts = [p for p in (prefix, ward, district) if p]
    elif kind == "numbered" and ward.startswith("Phường ") and ward.split()[-1].isdigit():
        number = int(ward.split()[-1])
        parts[parts.index(ward)] = rng.choice((f"P.{number:02d}", f"P{number}", f"Phường {number:02d}"))
    elif kind == "typo":
        parts[parts.index(ward)] = _typo(ward, rng)
    text = ", ".join(parts)
    if kind == "unaccented":
        return unidecode(text).lower()
    if kind == "unaccented_no_commas":
        return unidecode(text).lower().replace(",", "")
    if kind == "upper":
        return text.upper()
    if kind == "nfd":
        return unicodedata.normalize("NFD", text)
    return text


def generate(distinct: int, records: int, seed: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(records with their true legacy key, the distinct noisy addresses) from all 63 old provinces."""
    rng = random.Random(seed)
    legacy = load_reference().legacy_wards.filter(pl.col("legacy_ward_code").is_not_null())
    rows = legacy.select(
        "legacy_key", "legacy_ward_name", "legacy_district_name", "legacy_province_name"
    ).to_dicts()
    picks = [rng.choice(rows) for _ in range(distinct)]
    kinds = [rng.choice(NOISE_KINDS) for _ in range(distinct)]
    texts = [noisy_address(row, kind, rng) for row, kind in zip(picks, kinds, strict=True)]
    base = pl.DataFrame(
        {"address": texts, "legacy_key": [r["legacy_key"] for r in picks], "noise": kinds}
    ).unique("address", keep="first", maintain_order=True)
    # Records repeat addresses (households, several registers), skewed like real data.
    weights = [rng.paretovariate(1.5) for _ in range(base.height)]
    index = rng.choices(range(base.height), weights=weights, k=records)
    return base[index], base


def score(resolved: pl.DataFrame) -> pl.DataFrame:
    mapping = load_reference().legacy_to_new
    truth = mapping.group_by("legacy_key").agg(
        right=pl.col("ward_code").filter(pl.col("is_default")).first(), is_split=pl.col("is_split").any()
    )
    judged = resolved.join(truth, on="legacy_key", how="left", maintain_order="left").with_columns(
        correct=(pl.col("ward_code") == pl.col("right")).fill_null(False)
        | (
            pl.col("is_split")
            & (pl.col("address_status") == "ambiguous")
            & pl.col("ward_candidates").list.contains(pl.col("right"))
        )
    )
    return judged


def timed(function, *args, repeat: int = 1):
    """(result of the last call, median wall seconds, median CPU seconds) over `repeat` calls."""
    walls, cpus = [], []
    result = None
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        result = function(*args)
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return result, statistics.median(walls), statistics.median(cpus)


def run_baseline(sample: pl.DataFrame) -> tuple[float, float, float, int]:
    """vietnamadminunits.convert_address on the sample (no split wards), geocoder disabled:
    (accuracy, wall s, CPU s, geocoder calls)."""
    from vietnamadminunits import convert_address
    from vietnamadminunits.converter import converter_2025

    geocoder_calls = 0

    def no_geocoder(*_args, **_kwargs):
        nonlocal geocoder_calls
        geocoder_calls += 1
        return None

    converter_2025.get_geo_location = no_geocoder
    new_codes = load_reference().new_wards.select("ward_key", "province_key", "ward_code")
    lookup = {(r["province_key"], r["ward_key"]): r["ward_code"] for r in new_codes.to_dicts()}
    answers = []
    start, start_cpu = time.perf_counter(), time.process_time()
    for text in sample["address"].to_list():
        try:
            unit = convert_address(text)
            answers.append(lookup.get((unit.province_key, unit.ward_key)))
        except Exception:
            answers.append(None)
    elapsed, elapsed_cpu = time.perf_counter() - start, time.process_time() - start_cpu
    judged = score(
        sample.with_columns(
            ward_code=pl.Series(answers, dtype=pl.String),
            address_status=pl.lit("exact"),
            ward_candidates=pl.lit([], dtype=pl.List(pl.String)),
        )
    )
    return judged["correct"].mean(), elapsed, elapsed_cpu, geocoder_calls


def score_labelled(path: str) -> pl.DataFrame:
    """Verdicts on a labelled address file (see the module docstring), one row per address."""
    labels = pl.read_csv(path, infer_schema=False)
    resolved = resolve_addresses(labels.select("address"))
    expected = pl.col("expected_codes").str.replace_all(";", "|").str.split("|")
    confident = pl.col("address_status").is_in(["exact", "fuzzy"])
    has_right = pl.col("ward_candidates").list.set_intersection(pl.col("expected")).list.len() > 0
    return (
        pl.concat(
            [labels, resolved.select("ward_code", "address_status", "ward_candidates")], how="horizontal"
        )
        .with_columns(expected=expected)
        .with_columns(
            verdict=pl.when(confident & pl.col("expected").list.contains(pl.col("ward_code")))
            .then(pl.lit("right"))
            .when(confident)
            .then(pl.lit("confident_wrong"))
            .when((pl.col("address_status") == "ambiguous") & has_right & (pl.col("split") == "true"))
            .then(pl.lit("right"))
            .when((pl.col("address_status") == "ambiguous") & has_right)
            .then(pl.lit("ambiguous_with_right"))
            .otherwise(pl.col("address_status"))
        )
    )


def report_labelled(path: str) -> None:
    judged = score_labelled(path)
    verdicts = ["right", "ambiguous_with_right", "confident_wrong", "ambiguous", "unmatched"]
    table = (
        judged.group_by("class")
        .agg(pl.len().alias("n"), *[(pl.col("verdict") == v).sum().alias(v) for v in verdicts])
        .sort("class")
    )
    with pl.Config(tbl_rows=60, tbl_width_chars=200):
        print(table)
    right = (judged["verdict"] == "right").sum()
    wrong = (judged["verdict"] == "confident_wrong").sum()
    print(
        f"labelled addresses: {right}/{judged.height} right ({right / judged.height:.1%}), {wrong} confident wrong"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--distinct", type=int, default=20000)
    parser.add_argument("--records", type=int, default=300000)
    parser.add_argument("--baseline-sample", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--repeat", type=int, default=3, help="sachsong runs per measurement (median)")
    parser.add_argument(
        "--labelled", help="also score a labelled address CSV (address, expected_codes, split, class)"
    )
    args = parser.parse_args()
    if args.labelled:
        report_labelled(args.labelled)

    load_reference()
    records, distinct = generate(args.distinct, args.records, args.seed)
    print(f"{records.height} records, {distinct.height} distinct noisy addresses from 63 old provinces")

    start = time.perf_counter()
    resolve_addresses(distinct.head(50))  # first call builds the lexicon; timed separately
    warmup = time.perf_counter() - start

    resolved_distinct, distinct_seconds, distinct_cpu = timed(resolve_addresses, distinct, repeat=args.repeat)
    resolved_records, record_seconds, record_cpu = timed(resolve_addresses, records, repeat=args.repeat)

    judged = score(resolved_distinct)
    accuracy = judged["correct"].mean()
    judged_records = score(resolved_records)
    print(f"lexicon build (first call): {warmup:.2f} s")
    print(
        f"sachsong: {accuracy:.2%} right on distinct addresses, {judged_records['correct'].mean():.2%} on records; "
        f"{distinct.height / distinct_seconds:,.0f} distinct addresses/s, "
        f"{records.height / record_seconds:,.0f} records/s (wall clock); per CPU second: "
        f"{distinct.height / distinct_cpu:,.0f} distinct addresses, {records.height / record_cpu:,.0f} records"
    )
    with pl.Config(tbl_rows=20):
        print(judged.group_by("noise").agg(right=pl.col("correct").mean(), n=pl.len()).sort("noise"))
        print(judged.group_by("address_status").len().sort("address_status"))
        print(
            judged.filter(~pl.col("correct"))
            .select("address", "noise", "address_status", "ward_code", "right")
            .head(15)
        )

    not_split = judged.filter(~pl.col("is_split"))
    sample = not_split.sample(min(args.baseline_sample, not_split.height), seed=args.seed).select(
        "address", "legacy_key", "noise"
    )
    ours_on_sample = score(resolve_addresses(sample))["correct"].mean()
    base_accuracy, base_seconds, base_cpu, geocoder_calls = run_baseline(sample)
    base_rate, base_cpu_rate = sample.height / base_seconds, sample.height / base_cpu
    print(
        f"vietnamadminunits.convert_address on {sample.height} non-split addresses: {base_accuracy:.2%} right "
        f"(sachsong on the same sample: {ours_on_sample:.2%}), {base_rate:,.0f} addresses/s (wall clock), "
        f"{base_cpu_rate:,.0f} per CPU second, geocoder calls blocked: {geocoder_calls}"
    )
    print(
        f"ratios vs vietnamadminunits (wall clock): speed ×{(distinct.height / distinct_seconds) / base_rate:,.0f} "
        f"on distinct addresses, ×{(records.height / record_seconds) / base_rate:,.0f} on records; accuracy "
        f"{ours_on_sample - base_accuracy:+.1%} points on the same sample"
    )
    print(
        f"ratios vs vietnamadminunits (CPU time): ×{(distinct.height / distinct_cpu) / base_cpu_rate:,.0f} on "
        f"distinct addresses, ×{(records.height / record_cpu) / base_cpu_rate:,.0f} on records"
    )


if __name__ == "__main__":
    main()

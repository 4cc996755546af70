"""The address resolver measured through its CLI contract on real-world-shaped, independently labelled addresses.

`data/labelled_addresses.csv` was written without reading the resolver (provenance in `data/README.md`): every
label is the statistics office's official old→new crosswalk. A row is right when the resolver answers
`exact`/`fuzzy` with a code among the expected ones, or — only for an old ward the crosswalk really splits —
`ambiguous` with an expected code among its candidates. A confident answer outside the expected codes is the
worst outcome (a record silently moved to another commune), so none is allowed.
"""

from __future__ import annotations

import csv
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

DATA = Path(__file__).parent / "data" / "labelled_addresses.csv"
TARGET_RIGHT = 0.97
CONFIDENT = {"exact", "fuzzy"}


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def _codes(cell: str | None) -> set[str]:
    # candidates are written "a|b"; accept ";" too so a format change does not read as wrong answers
    return {c.strip() for c in (cell or "").replace(";", "|").split("|") if c.strip()}


def _verdict(label: dict[str, str], out: dict[str, str]) -> str:
    expected = _codes(label["expected_codes"])
    status = out["address_status"]
    if status in CONFIDENT:
        return "right" if out["ward_code"] in expected else "confident_wrong"
    if status == "ambiguous" and label["split"] == "true" and _codes(out["ward_candidates"]) & expected:
        return "right"
    return status if status in {"ambiguous", "unmatched"} else "other"


def _table(labels: list[dict[str, str]], verdicts: list[str]) -> str:
    per: dict[str, Counter[str]] = defaultdict(Counter)
    for label, verdict in zip(labels, verdicts, strict=True):
        per[label["class"]][verdict] += 1
        per["ALL"][verdict] += 1
    cols = ["right", "confident_wrong", "ambiguous", "unmatched", "other"]
    lines = [f"{'class':<26}{'rows':>6}{'right%':>8}" + "".join(f"{c:>17}" for c in cols)]
    for cls in sorted(per, key=lambda c: (c == "ALL", c)):
        n = sum(per[cls].values())
        lines.append(
            f"{cls:<26}{n:>6}{100 * per[cls]['right'] / n:>7.1f}%"
            + "".join(f"{per[cls][c]:>17}" for c in cols)
        )
    return "\n".join(lines)


def test_labelled_addresses_through_the_cli(tmp_path: Path) -> None:
    labels = _read(DATA)
    assert len(labels) >= 400
    for row in labels:
        codes = row["expected_codes"].split(";")
        # a label is one or more 5-digit new codes; several only for a real split, which is flagged
        assert codes and all(len(c) == 5 and c.isdigit() for c in codes), row
        assert (row["split"] == "true") == (len(codes) > 1), row

    source = tmp_path / "addresses.csv"
    with source.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["row_no", "address"])
        writer.writerows((i, r["address"]) for i, r in enumerate(labels))
    result = tmp_path / "resolved.csv"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "sachsong.pipelines.cli",
            "address",
            str(source),
            "--column",
            "address",
            "--output",
            str(result),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]

    resolved = _read(result)
    assert len(resolved) == len(labels)
    assert {"ward_code", "province_code", "address_status", "ward_candidates"} <= set(resolved[0])
    if "row_no" in resolved[0]:
        resolved.sort(key=lambda r: int(r["row_no"]))
    # the CLI keeps the text as given: rows line up with the labels
    assert [r["address"] for r in resolved] == [r["address"] for r in labels]

    verdicts = [_verdict(label, out) for label, out in zip(labels, resolved, strict=True)]
    table = _table(labels, verdicts)
    print("\n" + table)
    misses = [
        (label, out, v) for label, out, v in zip(labels, resolved, verdicts, strict=True) if v != "right"
    ]

    def line(label: dict[str, str], out: dict[str, str], verdict: str) -> str:
        return (
            f"  {verdict} [{label['class']}] {label['address']!r}: {out['address_status']} {out['ward_code']} "
            f"(candidates {out['ward_candidates']}), expected {label['expected_codes']}"
        )

    wrong = [line(*m) for m in misses]
    confident_wrong = [line(*m) for m in misses if m[2] == "confident_wrong"]
    right = verdicts.count("right") / len(verdicts)
    report = f"{table}\n\nnot right ({len(wrong)}):\n" + "\n".join(wrong[:80])
    assert not confident_wrong, (
        f"{len(confident_wrong)} confident wrong answers:\n" + "\n".join(confident_wrong) + f"\n{report}"
    )
    assert right >= TARGET_RIGHT, f"right {right:.1%} < {TARGET_RIGHT:.0%}\n{report}"

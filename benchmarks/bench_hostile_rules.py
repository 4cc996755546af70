"""Hostile rule text costs no more than ordinary text: timings that used to sit in tests as timed assertions.

    .venv/bin/python benchmarks/bench_hostile_rules.py [--rows 4] [--length 50000]

1. The classic catastrophic regular expressions ("(a+)+$", ...) on a long value that makes a backtracking engine
   explode, against the plain pattern "a+$" on the same frame, measured in the same run.
2. Refusing the costliest kinds of hostile rule text (deep nesting, a 1 MB literal, a power tower, a huge
   counted repetition) against compiling one ordinary rule.
Prints seconds and ratios to the baseline; the machines here are shared, so read the ratios.
"""

from __future__ import annotations

import argparse
import contextlib
import time
from datetime import date

import polars as pl

from sachsong.rules.expr import RuleExpressionError, compile_expression

CATASTROPHIC = (r"(a+)+$", r"(a|aa)+$", r"(a*)*b", r"^(\w+\s?)*$")
# The costliest kinds of the injection corpus in tests/hardening/test_security.py.
HOSTILE_TEXT = (
    ("5000 nested parentheses", "(" * 5000 + "1" + ")" * 5000),
    ("a 1 MB literal", "full_name == '" + "x" * 1_000_000 + "'"),
    ("a ** tower", "2 ** 2 ** 2 ** 2 ** 2 ** 2"),
    ("a huge counted repetition", "matches(full_name, r'(a{1000}){1000}{1000}')"),
)
COLUMNS = {"full_name": pl.String(), "dob": pl.Date()}


def _seconds(work) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def _refuse(source: str) -> None:
    with contextlib.suppress(RuleExpressionError):
        compile_expression(source, rule_id="hostile", columns=COLUMNS, as_of=date(2026, 1, 1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=4)
    parser.add_argument("--length", type=int, default=50_000)
    args = parser.parse_args()

    frame = pl.DataFrame({"full_name": ["a" * args.length + "!"] * args.rows}, schema={"full_name": pl.String})

    def run(pattern: str) -> float:
        compiled = compile_expression(f"matches(full_name, r'{pattern}')", rule_id="bench", columns=COLUMNS)
        return _seconds(lambda: frame.select(compiled.expr).to_series().to_list())

    baseline = run(r"a+$")
    print(f"regex baseline 'a+$' on {args.rows} × {args.length:,} characters: {baseline * 1000:.1f} ms")
    for pattern in CATASTROPHIC:
        seconds = run(pattern)
        print(f"  {pattern:<16} {seconds * 1000:8.1f} ms  {seconds / baseline:6.1f}× the baseline")

    ordinary = _seconds(
        lambda: compile_expression("len(full_name) > 3", rule_id="ok", columns=COLUMNS, as_of=date(2026, 1, 1))
    )
    for label, source in HOSTILE_TEXT:
        seconds = _seconds(lambda s=source: _refuse(s))
        print(f"refusing {label:<26} {seconds * 1000:8.2f} ms  {seconds / ordinary:8.1f}× compiling an ordinary rule")

if __name__ == "__main__":
    main()

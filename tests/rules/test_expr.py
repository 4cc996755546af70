"""The rule-expression compiler: what it computes, its null semantics, and what it refuses."""

from __future__ import annotations

import builtins
import unicodedata
from datetime import date, datetime
from pathlib import Path

import polars as pl
import pytest

from sachsong.rules.expr import (
    MAX_DEPTH,
    MAX_EXPRESSION_LENGTH,
    RuleExpressionError,
    compile_expression,
)

COLUMNS = {
    "full_name": pl.String(),
    "citizen_id_digits": pl.String(),
    "sex": pl.String(),
    "sex_code": pl.String(),
    "cccd_sex": pl.String(),
    "cccd_birth_year": pl.Int32(),
    "dob": pl.Date(),
    "updated_ts": pl.Datetime("us"),
    "phone_e164": pl.String(),
    "ward_candidates": pl.List(pl.String()),
}
AS_OF = date(2026, 1, 15)

PEOPLE = pl.DataFrame(
    {
        "full_name": ["Nguyễn Văn An", "  ?  ", None, "KHÔNG RÕ", unicodedata.normalize("NFD", "Không rõ")],
        "citizen_id_digits": ["044090001234", "12345", None, "191234567", "0440900012345"],
        "sex": ["Nam", "nữ", None, "x", "Nam"],
        "sex_code": ["M", "F", None, None, "M"],
        "cccd_sex": ["M", "M", None, None, None],
        "cccd_birth_year": [1990, 2005, None, None, None],
        "dob": [date(1990, 5, 17), date(1905, 1, 15), None, date(2026, 1, 16), date(2008, 2, 29)],
        "updated_ts": [
            datetime(2026, 1, 14, 8),
            datetime(2025, 1, 14, 23, 59),
            None,
            datetime(2026, 1, 16, 0, 0),
            datetime(2025, 1, 15, 0, 0),
        ],
        "phone_e164": ["+84912345678", "+8491234", None, "+84912345678", "0912345678"],
        "ward_candidates": [None, ["18880"], None, None, None],
    },
    schema=COLUMNS,
)


def fires(source: str, params: dict | None = None, frame: pl.DataFrame = PEOPLE) -> list[bool | None]:
    """The raw (null-keeping) result of an expression on each row."""
    compiled = compile_expression(source, rule_id="t", columns=COLUMNS, params=params, as_of=AS_OF)
    return frame.with_columns(compiled.expr.alias("r")).get_column("r").to_list()


def test_length_and_null_semantics():
    # Rows: 12 digits, 5 digits, null, 9 digits, 13 digits. A null length gives null (does not fire).
    assert fires("len(citizen_id_digits) != 12 and len(citizen_id_digits) != 9") == [
        False,
        True,
        None,
        False,
        True,
    ]
    assert fires("is_null(citizen_id_digits) or len(citizen_id_digits) == 5") == [
        False,
        True,
        True,
        False,
        False,
    ]


def test_missing_name_markers_with_list_parameter_and_text_functions():
    markers = {"markers": ["?", "-", "không rõ", "khong ro"]}
    assert fires("is_blank(full_name) or nfc(lower(strip(full_name))) in markers", markers) == [
        False,
        True,
        True,
        True,
        True,
    ]
    # Without nfc the decomposed (NFD) spelling slips through: the function is doing real work.
    assert fires("is_blank(full_name) or lower(strip(full_name)) in markers", markers)[4] is False


def test_not_in_tuple_and_comparison_of_columns():
    assert fires("sex_code not in ('M', 'F')") == [False, False, None, None, False]
    assert fires("cccd_sex != sex_code") == [False, True, None, None, None]


def test_ages_and_dates_against_as_of():
    # years_between counts whole years: 1905-01-15 is exactly 121 on 2026-01-15; a 29 Feb birthday has not
    # come round by 15 Jan.
    assert fires("years_between(dob, as_of) > max_age", {"max_age": 120}) == [False, True, None, False, False]
    assert fires("years_between(dob, as_of) == 17") == [False, False, None, False, True]
    assert fires("dob > as_of") == [False, False, None, True, False]
    assert fires("dob > date('2026-01-15')") == fires("dob > as_of")


def test_timestamps_compare_with_dates_and_durations():
    assert fires("updated_ts < as_of - days(freshness_days)", {"freshness_days": 365}) == [
        False,
        True,
        None,
        False,
        False,
    ]
    assert fires("updated_ts >= as_of + days(1)") == [False, False, None, True, False]


def test_integer_arithmetic_and_chained_comparison():
    assert fires("cccd_birth_year // 100 == 20") == [False, True, None, None, None]
    assert fires("cccd_birth_year % 100 == 90") == [True, False, None, None, None]
    assert fires("1980 <= cccd_birth_year < 2000") == [True, False, None, None, None]
    assert fires("-cccd_birth_year < -2000") == [False, True, None, None, None]


def test_regex_and_literal_text_functions():
    assert fires(r"not matches(phone_e164, r'^\+84\d{9}$')") == [False, True, None, False, True]
    assert fires("starts_with(phone_e164, '+84') and ends_with(full_name, 'An')") == [
        True,
        False,
        None,
        False,
        False,
    ]
    # contains() is literal: the dot is not "any character".
    assert fires("contains(full_name, '.')") == [False, False, None, False, False]


def test_coalesce_and_boolean_constants():
    assert fires("coalesce(sex_code, 'U') == 'U'") == [False, False, True, True, False]
    assert fires("True and not False") == [True] * 5


def test_compiled_expression_reports_the_columns_it_reads():
    compiled = compile_expression(
        "cccd_sex != sex_code and dob > as_of", rule_id="t", columns=COLUMNS, as_of=AS_OF
    )
    assert compiled.columns == {"cccd_sex", "sex_code", "dob"}


def test_multiline_yaml_text_is_one_expression():
    assert fires("is_null(full_name)\n  or full_name == '  ?  '") == [False, True, True, False, False]


# --- refusals -----------------------------------------------------------------------------------------------

HOSTILE = [
    ("'; DROP TABLE residents; --", "not a valid expression"),
    ("full_name; DROP TABLE residents", "not a valid expression"),
    ("DROP TABLE residents", "not a valid expression"),
    ("full_name = 'x' OR 1=1 --", "not a valid expression"),
    ("select * from residents", "not a valid expression"),
    ("__import__('os').system('id')", "attribute access"),
    ("__import__('os')", "dunder"),
    ("__builtins__", "dunder"),
    ("full_name.__class__", "attribute access"),
    ("full_name.upper() == 'A'", "attribute access"),
    ("().__class__.__bases__[0].__subclasses__()", "attribute access"),
    ("open('/etc/passwd') == 'x'", "unknown function"),
    ("eval('1 == 1')", "unknown function"),
    ("exec('import os')", "unknown function"),
    ("getattr(full_name, 'upper')", "unknown function"),
    ("(lambda: True)()", "lambdas are not allowed"),
    ("is_null(full_name)(sex)", "only plain function names"),
    ("lambda: True", "lambdas are not allowed"),
    ("[c for c in full_name] == []", "comprehensions"),
    ("any(c for c in full_name)", "unknown function"),
    ("full_name[0] == 'N'", "subscripts"),
    ("{'a': 1} == full_name", "dict literals"),
    ("full_name if True else sex", "conditional expressions"),
    ("(x := 1) == 1", "assignment"),
    ("f'{full_name}' == 'x'", "f-strings"),
    ("unknown_column == 1", "unknown name"),
    ("full_nam == 'x'", "did you mean full_name"),
    ("is_null(full_name, sex)", "takes 1 argument"),
    ("is_null(x=full_name)", "keyword arguments"),
    ("len(dob) > 3", "must be text"),
    ("matches(full_name, sex)", "must be a constant"),
    ("matches(full_name, '(')", "invalid regular expression"),
    ("dob > 'yesterday'", "cannot compare"),
    ("full_name == None", "use is_null"),
    ("full_name * 2 == 'x'", "not allowed"),
    ("len(full_name) + 1", "must be true/false"),
    ("full_name in sex", "right of 'in'"),
    ("full_name in (sex, 'a')", "may only hold constants"),
    ("date('yesterday') > dob", "YYYY-MM-DD"),
    ("b'x' == full_name", "constants of type bytes"),
    ("len", "is a function"),
    ("", "empty"),
    ("matches(full_name, '^\\d+$')", "raw strings"),
]


@pytest.mark.parametrize(("source", "reason"), HOSTILE)
def test_hostile_and_malformed_expressions_are_refused_with_a_clear_error(source: str, reason: str):
    with pytest.raises(RuleExpressionError) as caught:
        compile_expression(source, rule_id="hostile_rule", columns=COLUMNS, as_of=AS_OF)
    message = str(caught.value)
    assert message.startswith("rule 'hostile_rule': ")
    assert reason in message


def test_the_offending_token_and_its_column_are_named():
    with pytest.raises(RuleExpressionError) as caught:
        compile_expression("is_null(full_name) or full_name.__class__", rule_id="r1", columns=COLUMNS)
    assert caught.value.token == "full_name.__class__"
    assert caught.value.column == 23
    assert "'full_name.__class__' (column 23)" in str(caught.value)


def test_nothing_from_the_expression_is_ever_executed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    marker = tmp_path / "pwned"
    attacks = [
        f"__import__('pathlib').Path('{marker}').touch()",
        f"open('{marker}', 'w').write('x')",
        f"exec(\"open('{marker}', 'w')\")",
    ]

    def forbidden(*args, **kwargs):
        raise AssertionError("eval/exec/compile must never be called on rule text")

    monkeypatch.setattr(builtins, "eval", forbidden)
    monkeypatch.setattr(builtins, "exec", forbidden)
    for attack in attacks:
        with pytest.raises(RuleExpressionError):
            compile_expression(attack, rule_id="attack", columns=COLUMNS)
    assert not marker.exists()


def test_deep_nesting_is_refused():
    shallow = "not " * (MAX_DEPTH - 2) + "is_null(full_name)"
    compile_expression(shallow, rule_id="ok", columns=COLUMNS)
    deep = "not " * (MAX_DEPTH + 1) + "is_null(full_name)"
    with pytest.raises(RuleExpressionError, match="nested deeper than"):
        compile_expression(deep, rule_id="deep", columns=COLUMNS)
    nested_calls = "lower(" * 40 + "full_name" + ")" * 40 + " == 'a'"
    with pytest.raises(RuleExpressionError, match="nested deeper than"):
        compile_expression(nested_calls, rule_id="calls", columns=COLUMNS)
    # Parentheses alone add no depth, but Python's own parser limit still gives a clear refusal.
    parens = "(" * 250 + "is_null(full_name)" + ")" * 250
    with pytest.raises(RuleExpressionError, match="rule 'parens': not a valid expression"):
        compile_expression(parens, rule_id="parens", columns=COLUMNS)


def test_very_long_input_is_refused_before_parsing():
    long_source = " or ".join(["is_null(full_name)"] * 200)
    assert len(long_source) > MAX_EXPRESSION_LENGTH
    with pytest.raises(RuleExpressionError, match=f"limit {MAX_EXPRESSION_LENGTH}"):
        compile_expression(long_source, rule_id="long", columns=COLUMNS)
    with pytest.raises(RuleExpressionError, match="characters long"):
        compile_expression("'" + "A" * 1_000_000 + "'", rule_id="huge", columns=COLUMNS)


def test_parameters_may_not_shadow_columns_or_as_of():
    with pytest.raises(RuleExpressionError, match="shadows"):
        compile_expression("full_name == 'x'", rule_id="p", columns=COLUMNS, params={"full_name": "y"})
    with pytest.raises(RuleExpressionError, match="shadows"):
        compile_expression("dob > as_of", rule_id="p", columns=COLUMNS, params={"as_of": date(2020, 1, 1)})

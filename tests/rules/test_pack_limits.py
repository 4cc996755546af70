"""Rule packs that would exhaust memory, the stack or the CPU are refused with a PackError naming the file
(issue 13, class 8): YAML aliases (anchor bombs), deep nesting, oversized files, costly regular expressions."""

from __future__ import annotations

import resource
import textwrap
from pathlib import Path

import polars as pl
import pytest

from sachsong.rules.engine import MAX_PACK_BYTES, PackError, check_standardized, load_pack
from sachsong.rules.expr import MAX_REGEX_REPEAT, regex_repeat_copies

RESIDENTS = load_pack("residents").path.read_text(encoding="utf-8")
HEADER = RESIDENTS.split("\nrules:\n")[0]

RULE = """
- id: {rule_id}
  criterion: correct
  severity: warning
  message_vi: Họ tên sai mẫu
  message_en: name does not match
  when: 'matches(full_name, r"{pattern}")'
"""


def _pack(tmp_path: Path, body: str, name: str = "hostile") -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(body, encoding="utf-8")
    return path


def _with_rule(tmp_path: Path, pattern: str, rule_id: str = "name_pattern") -> Path:
    rules = textwrap.indent(RULE.format(rule_id=rule_id, pattern=pattern), "  ")
    return _pack(tmp_path, HEADER + "\nrules:\n" + rules, name=f"re_{abs(hash(pattern))}")


def _peak_mb() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


def test_an_alias_bomb_in_a_description_is_refused_without_expanding(tmp_path):
    levels = "".join(
        f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]\n" for i in range(1, 10)
    )  # 9^9 ≈ 387 million strings once expanded
    body = "l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + levels
    path = _pack(tmp_path, RESIDENTS.replace("\nrules:\n", "\nbomb:\n" + textwrap.indent(body, "  ") + "rules:\n"))
    before = _peak_mb()
    with pytest.raises(PackError, match="aliases") as refused:
        load_pack(path)
    assert str(path) in str(refused.value)
    assert _peak_mb() - before < 200


def test_a_merge_key_alias_is_refused_too(tmp_path):
    rules = """
    - &base
      id: a
      criterion: correct
      severity: warning
      message_vi: a
      message_en: a
      when: "is_blank(full_name)"
    - <<: *base
      id: b
    """
    path = _pack(tmp_path, HEADER + "\nrules:\n" + textwrap.indent(textwrap.dedent(rules), "  "))
    with pytest.raises(PackError, match=r"aliases .* not allowed"):
        load_pack(path)


@pytest.mark.parametrize(
    "nested",
    [
        "[" * 100_000 + "]" * 100_000,  # flow sequences
        "{a: " * 20_000 + "1" + "}" * 20_000,  # flow mappings
        "\n" + "".join(" " * (2 * level) + "- x:\n" for level in range(1, 200)) + " " * 400 + "- 1\n",  # block
    ],
    ids=["flow-sequences", "flow-mappings", "block"],
)
def test_deep_nesting_is_a_pack_error_not_a_recursion_error(tmp_path, nested):
    path = _pack(tmp_path, "description: " + nested + "\n" + RESIDENTS)
    with pytest.raises(PackError, match="nested deeper") as refused:
        load_pack(path)
    assert str(path) in str(refused.value)


def test_an_oversized_pack_file_is_refused_before_parsing(tmp_path):
    path = _pack(tmp_path, RESIDENTS + "# " + "x" * MAX_PACK_BYTES + "\n")
    with pytest.raises(PackError, match="larger than") as refused:
        load_pack(path)
    assert str(path) in str(refused.value)


def test_a_pack_that_is_not_utf8_is_refused(tmp_path):
    path = tmp_path / "latin.yaml"
    path.write_bytes(RESIDENTS.encode("utf-8") + "# Nguy\xean\n".encode("latin-1"))
    with pytest.raises(PackError, match="not UTF-8"):
        load_pack(path)


def test_anchors_without_aliases_and_the_shipped_pack_still_load(tmp_path):
    assert len(load_pack("residents").rules) > 20
    path = _pack(tmp_path, RESIDENTS.replace("\nrules:\n", "\nnote: &unused plain text\nrules:\n"))
    assert load_pack(path).rules == load_pack("residents").rules


@pytest.mark.parametrize(
    "pattern",
    [r"\w{100}z", r"\w{30}\w{30}z", r"(\w{10}){10}", r"(a|b{10}){10}", r".{0,200}", r"\p{L}{52}", "x" * 501],
)
def test_costly_regular_expressions_are_refused_naming_file_and_rule(tmp_path, pattern):
    path = _with_rule(tmp_path, pattern, rule_id="slow_name_pattern")
    with pytest.raises(PackError) as refused:
        load_pack(path)
    message = str(refused.value)
    assert str(path) in message and "slow_name_pattern" in message
    assert "limit" in message


@pytest.mark.parametrize(
    "pattern", [r"^\d{12}$", r"^\+84\d{9}$", r"\w{50}z", r"(\w{7}){7}", r"^[0-9]{4,5}(,[0-9]{4,5})*$", r"\w+z"]
)
def test_ordinary_regular_expressions_are_accepted_and_run(tmp_path, pattern):
    pack = load_pack(_with_rule(tmp_path, pattern))
    assert regex_repeat_copies(pattern) <= MAX_REGEX_REPEAT
    assert any(rule.id == "name_pattern" for rule in pack.rules)


def test_the_repetition_count_follows_rust_syntax():
    assert regex_repeat_copies(r"\d{12}") == 11
    assert regex_repeat_copies(r"(\w{7}){7}") == 48
    assert regex_repeat_copies(r"[{]{3}") == 2  # a brace inside a class is a literal
    assert regex_repeat_copies(r"\p{Greek}{3}") == 2  # the braces of \p{...} are not a count
    assert regex_repeat_copies(r"(?i)(?P<year>\d){4}") == 3
    assert regex_repeat_copies(r"a{3,60}") == 59  # the upper bound is what gets copied
    assert regex_repeat_copies(r"a{3,}") == 2  # the open end is a loop


def test_an_accepted_pattern_checks_rows(tmp_path, std_frame):
    pack = load_pack(_with_rule(tmp_path, r"^\p{Lu}\w*( \p{Lu}\w*)+$"))
    frame = std_frame([{"full_name": "Nguyễn Văn An"}, {"full_name": "nguyễn văn an"}])
    result = check_standardized(frame, "2026-01-15", pack=pack)
    fired = result.findings.filter(pl.col("rule_id") == "name_pattern")
    assert fired.height == 1

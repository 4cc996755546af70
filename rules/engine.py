"""The rule engine: load a rule pack, run every rule over a standardized table in one pass, quarantine.

A pack (``datasets/<name>/rules.yaml``) is data: each rule has an id, a criterion (correct | sufficient | clean |
live), a severity (error | warning), messages in Vietnamese and English, params, and either a ``when:``
expression in the rule language (:mod:`sachsong.rules.expr`) or ``python:`` naming a registered check
(:mod:`sachsong.rules.python_checks`). A rule *fires* — produces a finding — where its condition is true.

Rows with at least one *error* finding are quarantined (with their reasons); all other rows pass. Every input
row ends up in exactly one of the two, and :func:`check_standardized` raises if that ever fails to hold.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any

import polars as pl
import yaml

from sachsong.asof import parse_as_of
from sachsong.rules import python_checks
from sachsong.rules.contract import ContractError, contain_breaches, get_dataset, validate_standardized
from sachsong.rules.expr import RuleExpressionError, compile_expression
from sachsong.safeyaml import MAX_PACK_DEPTH
from sachsong.safeyaml import BoundedSafeLoader as _PackLoader
from sachsong.schema import CRITERIA, CRITERIA_VI, FINDING_SCHEMA, SEVERITIES

_RULE_ID = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_PARAM_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_RULE_FIELDS = frozenset(
    {
        "id",
        "criterion",
        "severity",
        "message_vi",
        "message_en",
        "params",
        "when",
        "python",
        "value",
        "on_null",
        "examples",
        "description",
    }
)
_PLACEHOLDER_AS_OF = date(2000, 1, 1)


class PackError(ValueError):
    """A rule pack is malformed. The message names the pack file and, where there is one, the rule."""


@dataclass(frozen=True)
class Rule:
    id: str
    criterion: str
    severity: str
    message_vi: str
    message_en: str
    params: Mapping[str, Any]
    when: str | None = None
    python: str | None = None
    value: str | None = None
    on_null: str = "pass"
    examples: Mapping[str, Sequence[Any]] = field(default_factory=dict)
    description: str | None = None

    @property
    def scope(self) -> str:
        if self.python is None:
            return "row"
        check = python_checks.get_check(self.python)
        return check.scope if check else "row"

    @property
    def message(self) -> str:
        return f"{self.message_vi} / {self.message_en}"


@dataclass(frozen=True)
class Pack:
    name: str
    dataset: str
    path: Path
    rules: tuple[Rule, ...]
    example_row: Mapping[str, Any]
    example_as_of: date
    description: str = ""

    def rule(self, rule_id: str) -> Rule:
        for rule in self.rules:
            if rule.id == rule_id:
                return rule
        raise KeyError(f"pack '{self.name}' has no rule '{rule_id}'")


# --- loading ------------------------------------------------------------------------------------------------


def _resolve_pack_path(name_or_path: str | Path) -> Path:
    """A pack by path, or by the name of the dataset whose folder holds it (`residents` → its rules.yaml)."""
    text = str(name_or_path)
    if isinstance(name_or_path, Path) or text.endswith((".yaml", ".yml")) or "/" in text or "\\" in text:
        path = Path(name_or_path)
    else:
        if not _RULE_ID.match(text):
            raise PackError(f"'{text}' is not a pack name (lower-case letters, digits, _) nor a .yaml path")
        try:
            path = get_dataset(text).rules or Path(text)
        except KeyError as error:
            raise PackError(f"no such rule pack '{text}': {error.args[0]}") from None
    if not path.is_file():
        raise PackError(f"{path}: no such rule pack")
    return path


# A pack is a few hundred lines of YAML: beyond these it is a mistake or an attack (an alias bomb, a document
# nested 100,000 deep), refused before PyYAML builds it.
MAX_PACK_BYTES = 1_000_000


def load_pack(name_or_path: str | Path = "residents") -> Pack:
    """Load and validate a rule pack by name (`residents`) or path. Every expression is compiled now."""
    path = _resolve_pack_path(name_or_path).resolve()
    return _load_pack_cached(path, path.stat().st_mtime_ns)


def _read_pack_text(path: Path) -> str:
    with open(path, "rb") as handle:
        data = handle.read(MAX_PACK_BYTES + 1)
    if len(data) > MAX_PACK_BYTES:
        raise PackError(f"{path}: larger than {MAX_PACK_BYTES} bytes; a rule pack is a small YAML file")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise PackError(f"{path}: not UTF-8 text (byte {error.start})") from None


@cache
def _load_pack_cached(path: Path, _mtime_ns: int) -> Pack:
    text = _read_pack_text(path)
    loader = _PackLoader(text)
    loader.name = str(path)  # marks in YAML errors name the file, not "<unicode string>"
    try:
        document = loader.get_single_data()
    except yaml.YAMLError as error:
        raise PackError(f"{path}: not valid YAML: {error}") from None
    except RecursionError:  # a structure deeper than Python's stack in a part PyYAML walks recursively
        raise PackError(f"{path}: nested deeper than {MAX_PACK_DEPTH} levels") from None
    finally:
        loader.dispose()
    if not isinstance(document, dict) or not isinstance(document.get("rules"), list):
        raise PackError(f"{path}: a pack is a mapping with a 'rules' list")
    dataset_name = str(document.get("dataset", path.stem))
    try:
        dataset = get_dataset(dataset_name)
    except KeyError as error:
        raise PackError(f"{path}: {error.args[0]}") from None
    example_as_of = parse_as_of(document.get("example_as_of", date(2026, 1, 15)))
    example_row = document.get("example_row") or {}
    if not isinstance(example_row, dict):
        raise PackError(f"{path}: example_row must be a mapping of column → value")
    unknown = set(example_row) - set(dataset.columns)
    if unknown:
        raise PackError(f"{path}: example_row has unknown column(s) {sorted(unknown)}")
    rules: list[Rule] = []
    seen: set[str] = set()
    for position, entry in enumerate(document["rules"], start=1):
        rule = _parse_rule(path, position, entry, dataset.columns)
        if rule.id in seen:
            raise PackError(f"{path}: rule '{rule.id}' is defined twice")
        seen.add(rule.id)
        rules.append(rule)
    return Pack(
        name=str(document.get("pack", path.stem)),
        dataset=dataset_name,
        path=path,
        rules=tuple(rules),
        example_row=example_row,
        example_as_of=example_as_of,
        description=str(document.get("description", "")),
    )


def _parse_rule(path: Path, position: int, entry: object, columns: Mapping[str, pl.DataType]) -> Rule:
    if not isinstance(entry, dict):
        raise PackError(f"{path}: rule #{position} is not a mapping")
    rule_id = entry.get("id")
    if not isinstance(rule_id, str) or not _RULE_ID.match(rule_id):
        raise PackError(f"{path}: rule #{position}: id {rule_id!r} must match {_RULE_ID.pattern}")
    where = f"{path}: rule '{rule_id}'"
    unknown = set(entry) - _RULE_FIELDS
    if unknown:
        raise PackError(
            f"{where}: unknown field(s) {sorted(unknown)} (allowed: {', '.join(sorted(_RULE_FIELDS))})"
        )
    if entry.get("criterion") not in CRITERIA:
        raise PackError(
            f"{where}: criterion must be one of {', '.join(CRITERIA)}, got {entry.get('criterion')!r}"
        )
    if entry.get("severity") not in SEVERITIES:
        raise PackError(
            f"{where}: severity must be one of {', '.join(SEVERITIES)}, got {entry.get('severity')!r}"
        )
    for message in ("message_vi", "message_en"):
        if not isinstance(entry.get(message), str) or not entry[message].strip():
            raise PackError(f"{where}: {message} is required")
    params = entry.get("params") or {}
    if not isinstance(params, dict):
        raise PackError(f"{where}: params must be a mapping")
    for name in params:
        if not isinstance(name, str) or not _PARAM_NAME.match(name) or name in columns or name == "as_of":
            raise PackError(f"{where}: parameter name {name!r} must be a new lower_snake_case name")
    when, python = entry.get("when"), entry.get("python")
    if (when is None) == (python is None):
        raise PackError(
            f"{where}: give exactly one of 'when' (an expression) or 'python' (a registered check)"
        )
    value = entry.get("value")
    if value is not None and (not isinstance(value, str) or value not in columns):
        raise PackError(f"{where}: value {value!r} is not a column of the table")
    on_null = entry.get("on_null", "pass")
    if on_null not in ("pass", "fire"):
        raise PackError(f"{where}: on_null must be 'pass' or 'fire'")
    examples = entry.get("examples") or {}
    if not isinstance(examples, dict) or set(examples) - {"pass", "fail"}:
        raise PackError(f"{where}: examples must be a mapping with 'pass' and 'fail' lists")
    rule = Rule(
        id=rule_id,
        criterion=entry["criterion"],
        severity=entry["severity"],
        message_vi=entry["message_vi"].strip(),
        message_en=entry["message_en"].strip(),
        params=params,
        when=when,
        python=python,
        value=value,
        on_null=on_null,
        examples=examples,
        description=entry.get("description"),
    )
    if when is not None:
        try:
            compile_expression(
                when, rule_id=rule_id, columns=columns, params=params, as_of=_PLACEHOLDER_AS_OF
            )
        except RuleExpressionError as error:
            raise PackError(f"{path}: {error}") from None
    else:
        check = python_checks.get_check(str(python))
        if check is None:
            known = ", ".join(sorted(python_checks.registered_checks()))
            raise PackError(f"{where}: no Python check registered as {python!r} (registered: {known})")
        missing = set(check.columns) - set(columns)
        if missing:
            raise PackError(f"{where}: check '{python}' reads unknown column(s) {sorted(missing)}")
        if check.scope == "dataset" and value is not None:
            raise PackError(f"{where}: dataset checks report their own value; drop 'value'")
    return rule


# --- results ------------------------------------------------------------------------------------------------


@dataclass
class CheckResult:
    findings: pl.DataFrame  # schema.FINDING_SCHEMA, one row per finding
    passed: pl.DataFrame  # input rows with no error finding; only their row_uid when keep_rows=False
    quarantine: pl.DataFrame  # input rows with ≥1 error finding, + reasons (rule ids) and quarantine_reason
    rows_in: int
    as_of: date
    pack: str
    skipped_rules: list[str] = field(default_factory=list)  # rules whose optional input was not given

    def describe(self) -> str:
        counts = {
            (row["criterion"], row["severity"]): row["len"]
            for row in self.findings.group_by("criterion", "severity").len().iter_rows(named=True)
        }
        per_criterion = ", ".join(
            f"{CRITERIA_VI[c]}/{c}: {counts.get((c, 'error'), 0)} errors, {counts.get((c, 'warning'), 0)} warnings"
            for c in CRITERIA
        )
        lines = [
            f"{self.rows_in} rows checked against pack '{self.pack}' as of {self.as_of.isoformat()}: "
            f"{self.passed.height} passed, {self.quarantine.height} quarantined",
            f"{self.findings.height} findings ({self.findings['row_uid'].null_count()} about the table as a whole,"
            f" e.g. communes without records) — {per_criterion}",
        ]
        if self.skipped_rules:
            lines.append(f"skipped (input not given): {', '.join(self.skipped_rules)}")
        return "\n".join(lines)


@dataclass(frozen=True)
class ExampleOutcome:
    rule_id: str
    expect: str  # "pass" (no finding expected) or "fail" (a finding expected)
    index: int
    passed: bool
    findings: int
    detail: str = ""

    def describe(self) -> str:
        status = "ok  " if self.passed else "FAIL"
        text = f"{status} {self.rule_id:<32} {self.expect}#{self.index}: {self.findings} finding(s)"
        return f"{text} — {self.detail}" if self.detail else text


# --- evaluation ---------------------------------------------------------------------------------------------


def _flag_name(index: int) -> str:
    return f"__rule_{index}"


def _as_text(frame_column: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    if isinstance(dtype, pl.List):
        return frame_column.list.join(",")
    return frame_column.cast(pl.String)


ReportedValue = pl.Expr | pl.Series | None


def _evaluate(
    frame: pl.DataFrame,
    rules: Sequence[Rule],
    dataset_columns: Mapping[str, pl.DataType],
    as_of: date,
    clusters: pl.DataFrame | None,
    province_code: str | None,
    param_overrides: Mapping[str, Any] | None = None,
    references: Mapping[str, pl.DataFrame] | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame, list[Rule], list[str], list[ReportedValue]]:
    """Run rules over frame. Returns (flags, dataset findings, row rules that ran, skipped ids, values).

    `flags` has row_uid and one Boolean column per row rule, all from ONE `select` over the frame. The values
    (one per row rule: an expression over the frame, a full-length Series, or None) are not computed here:
    :func:`_row_findings` computes each only for the rows where its rule fired.
    """
    columns = {name: frame.schema[name] for name in frame.columns}
    missing = {c for c in dataset_columns if c not in columns and c not in ("source_file", "source_row")}
    if missing:
        raise ValueError(f"the table lacks column(s) {sorted(missing)} the rules read")
    expressions: list[pl.Expr | pl.Series] = [pl.col("row_uid")]
    row_rules: list[Rule] = []
    values: list[ReportedValue] = []
    dataset_findings: list[pl.DataFrame] = []
    skipped: list[str] = []
    for rule in rules:
        params = {**rule.params, **(param_overrides or {})}
        index = len(row_rules)
        value: ReportedValue = None
        if rule.when is not None:
            compiled = compile_expression(
                rule.when, rule_id=rule.id, columns=columns, params=params, as_of=as_of
            )
            flag: pl.Expr | pl.Series = compiled.expr
        else:
            check = python_checks.get_check(str(rule.python))
            assert check is not None  # load_pack refused unknown checks
            available = {"clusters"} if clusters is not None else set()
            if set(check.needs) - available - set(references or {}):
                skipped.append(rule.id)
                continue
            context = python_checks.CheckContext(as_of, params, clusters, province_code, dict(references or {}))
            output = check.function(frame, context)
            if check.scope == "dataset":
                dataset_findings.append(_dataset_findings(rule, output))
                continue
            flag, value = output if isinstance(output, tuple) else (output, None)
        if value is None and rule.value is not None:
            value = _as_text(pl.col(rule.value), columns[rule.value])
        fires_on_null = rule.on_null == "fire"
        if isinstance(flag, pl.Series):
            expressions.append(flag.cast(pl.Boolean).fill_null(fires_on_null).alias(_flag_name(index)))
        else:
            expressions.append(flag.fill_null(fires_on_null).alias(_flag_name(index)))
        row_rules.append(rule)
        values.append(value)
    flags = frame.select(expressions)
    findings = pl.concat(dataset_findings) if dataset_findings else _empty_findings()
    return flags, findings, row_rules, skipped, values


def _empty_findings() -> pl.DataFrame:
    return pl.DataFrame(schema=FINDING_SCHEMA)


def _dataset_findings(rule: Rule, output: pl.DataFrame) -> pl.DataFrame:
    if not isinstance(output, pl.DataFrame) or "value" not in output.columns:
        raise TypeError(f"dataset check '{rule.python}' must return a DataFrame with a 'value' column")
    source = pl.col("source_id").cast(pl.String) if "source_id" in output.columns else pl.lit(None, pl.String)
    return output.select(
        pl.lit(None, pl.Int64).alias("row_uid"),
        pl.lit(None, pl.String).alias("record_id"),
        source.alias("source_id"),
        *_rule_literals(rule),
        pl.col("value").cast(pl.String),
    )


def _rule_literals(rule: Rule) -> list[pl.Expr]:
    return [
        pl.lit(rule.id, pl.String).alias("rule_id"),
        pl.lit(rule.criterion, pl.String).alias("criterion"),
        pl.lit(rule.severity, pl.String).alias("severity"),
        pl.lit(rule.message, pl.String).alias("message"),
    ]


def _row_findings(
    frame: pl.DataFrame, flags: pl.DataFrame, row_rules: Sequence[Rule], values: Sequence[ReportedValue]
) -> pl.DataFrame:
    """One finding row per fired (row, rule) cell; each rule's value is computed only for its fired rows.

    A value expression is evaluated over the whole frame and then filtered, inside one `select`, so window
    expressions (`pl.len().over(...)`) give the same value as before the filter; a plain column is not
    copied, only its fired rows are. A Series value (from a Python check) is filtered by the flag.
    """
    parts = []
    for index, (rule, value) in enumerate(zip(row_rules, values, strict=True)):
        fired = flags.get_column(_flag_name(index))
        if not fired.any():
            continue
        if isinstance(value, pl.Series):
            reported = pl.lit(value.filter(fired).cast(pl.String))
        elif value is not None:
            reported = value.filter(fired).cast(pl.String)
        else:
            reported = pl.lit(None, pl.String)
        parts.append(
            frame.select(
                pl.col("row_uid", "record_id", "source_id").filter(fired),
                *_rule_literals(rule),
                reported.alias("value"),
            )
        )
    if not parts:
        return _empty_findings()
    return pl.concat(parts)


def _quarantine_reasons(
    quarantined_flags: pl.DataFrame, error_rules: Sequence[tuple[int, Rule]]
) -> pl.DataFrame:
    """`reasons` (error rule ids) and `quarantine_reason` (their messages) for each quarantined row, in order.

    Few distinct combinations of error rules occur: their texts are built once per combination and joined
    back, instead of one text column per error rule over all quarantined rows.
    """
    reason_columns = {"reasons": pl.List(pl.String), "quarantine_reason": pl.String}
    if not error_rules:
        return pl.DataFrame(
            {
                name: pl.repeat(None, quarantined_flags.height, dtype=dtype, eager=True)
                for name, dtype in reason_columns.items()
            }
        )
    keys = [_flag_name(index) for index, _ in error_rules]
    fired = quarantined_flags.select(keys)
    combinations = fired.unique()
    reasons: list[list[str]] = []
    texts: list[str] = []
    for combination in combinations.iter_rows():
        rules = [rule for (_, rule), on in zip(error_rules, combination, strict=True) if on]
        reasons.append([rule.id for rule in rules])
        texts.append("; ".join(f"{rule.id}: {rule.message}" for rule in rules))
    lookup = combinations.with_columns(
        pl.Series("reasons", reasons, dtype=pl.List(pl.String)),
        pl.Series("quarantine_reason", texts, dtype=pl.String),
    )
    return fired.join(lookup, on=keys, how="left", maintain_order="left").select(list(reason_columns))


def check_standardized(
    std: pl.DataFrame,
    as_of: date | str,
    pack: str | Path | Pack = "residents",
    clusters: pl.DataFrame | None = None,
    province_code: str | None = None,
    validate_contract: bool = True,
    keep_rows: bool = True,
    references: Mapping[str, pl.DataFrame] | None = None,
) -> CheckResult:
    """Check a standardized table against a rule pack; split it into passed and quarantined rows.

    All row rules run in one vectorized `select` of Boolean flags; each rule's reported value is then computed
    only for the rows where it fired. Rows with an error finding are quarantined with `reasons` (the rule ids)
    and `quarantine_reason` (readable text). A contract breach raises ContractError.

    `keep_rows=False` makes `passed` hold only the `row_uid` of the passed rows, in input order, instead of a
    copy of every passed row (about the size of the input table): a caller that already holds `std` joins or
    filters on the ids. `quarantine` keeps the full rows either way (stewards fix them at the source).
    """
    as_of = parse_as_of(as_of, default_today=False)
    loaded = pack if isinstance(pack, Pack) else load_pack(pack)
    dataset = get_dataset(loaded.dataset)
    breaches = None
    if validate_contract:
        contained = contain_breaches(std, loaded.dataset)
        std, breaches = contained.frame, contained.breaches
    flags, dataset_findings, row_rules, skipped, values = _evaluate(
        std, loaded.rules, dataset.columns, as_of, clusters, province_code, references=references
    )
    if breaches is not None and breaches.height:
        flags, row_rules, values = _add_breach_rules(flags, row_rules, values, breaches)
    findings = pl.concat([_row_findings(std, flags, row_rules, values), dataset_findings])
    del values  # a Python check's full-length value Series is not needed any more
    if findings.schema != pl.Schema(FINDING_SCHEMA):  # cast copies every column even when nothing changes
        findings = findings.cast(FINDING_SCHEMA)  # type: ignore[arg-type]

    error_rules = [(i, r) for i, r in enumerate(row_rules) if r.severity == "error"]
    if error_rules:
        quarantined_mask = flags.select(
            pl.any_horizontal([pl.col(_flag_name(i)) for i, _ in error_rules]).alias("q")
        ).to_series()
    else:
        quarantined_mask = pl.repeat(False, std.height, dtype=pl.Boolean, eager=True).alias("q")
    passed = std.filter(~quarantined_mask) if keep_rows else flags.select("row_uid").filter(~quarantined_mask)
    quarantine = std.filter(quarantined_mask)
    quarantine = quarantine.hstack(_quarantine_reasons(flags.filter(quarantined_mask), error_rules))
    if passed.height + quarantine.height != std.height:
        raise AssertionError(
            f"conservation broken: {std.height} rows in, {passed.height} passed + {quarantine.height} quarantined"
        )
    return CheckResult(
        findings=findings,
        passed=passed,
        quarantine=quarantine,
        rows_in=std.height,
        as_of=as_of,
        pack=loaded.name,
        skipped_rules=skipped,
    )


def cluster_rules(pack: str | Path | Pack = "residents") -> list[Rule]:
    """The pack's row rules that judge matching clusters (they need `clusters`): matching gives their findings."""
    loaded = pack if isinstance(pack, Pack) else load_pack(pack)
    return [
        rule
        for rule in loaded.rules
        if rule.python is not None
        and (check := python_checks.get_check(str(rule.python))) is not None
        and "clusters" in check.needs
        and check.scope == "row"
    ]


def cluster_findings(
    clusters: pl.DataFrame, as_of: date | str, pack: str | Path | Pack = "residents"
) -> pl.DataFrame:
    """The findings of the pack's rules that judge matching clusters (e.g. `duplicate_record`), from the cluster
    table alone (`row_uid, record_id, source_id, cluster_id, cluster_size`): matching's own findings, without a
    second pass of every rule over the province."""
    rules = cluster_rules(pack)
    if not rules or not clusters.height:
        return _empty_findings()
    ids = clusters.select(
        pl.col("row_uid").cast(pl.Int64), pl.col("record_id").cast(pl.String), pl.col("source_id").cast(pl.String)
    )
    flags, _, row_rules, _, values = _evaluate(ids, rules, {}, parse_as_of(as_of, default_today=False), clusters, None)
    findings = _row_findings(ids, flags, row_rules, values)
    return findings.cast(FINDING_SCHEMA)  # type: ignore[arg-type]


def _breach_rule(column: str, checks: Sequence[str]) -> Rule:
    detail = ", ".join(sorted(set(checks)))
    return Rule(
        id=f"contract_{column}",
        criterion="correct",
        severity="error",
        message_vi=f"giá trị chuẩn hoá của '{column}' không hợp lệ ({detail}); cần sửa tại nguồn",
        message_en=f"the standardized '{column}' is outside the table's contract ({detail}); fix it at the source",
        params={},
    )


def _add_breach_rules(
    flags: pl.DataFrame, row_rules: list[Rule], values: list[ReportedValue], breaches: pl.DataFrame
) -> tuple[pl.DataFrame, list[Rule], list[ReportedValue]]:
    """One error rule per column whose standardized value broke the contract, firing on those rows."""
    row_rules, values = list(row_rules), list(values)
    columns = []
    for column, uids, checks in breaches.group_by("column", maintain_order=True).agg("row_uid", "check").iter_rows():
        index = len(row_rules)
        columns.append(pl.col("row_uid").is_in(pl.Series(uids, dtype=pl.Int64).implode()).alias(_flag_name(index)))
        row_rules.append(_breach_rule(column, checks))
        values.append(None)
    return flags.with_columns(columns), row_rules, values


def check_raw_table(
    raw: pl.DataFrame,
    as_of: date | str,
    pack: str | Path | Pack = "residents",
    clusters: pl.DataFrame | None = None,
    province_code: str | None = None,
    keep_rows: bool = True,
) -> CheckResult:
    """Standardize a canonical raw table with its dataset's standardizer, then check it."""
    loaded = pack if isinstance(pack, Pack) else load_pack(pack)
    std = get_dataset(loaded.dataset).standardize(raw)
    return check_standardized(
        std, as_of, loaded, clusters=clusters, province_code=province_code, keep_rows=keep_rows
    )


# --- the examples each rule carries -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Example:
    rule: Rule
    expect: str
    index: int
    rows: list[dict[str, Any]]
    params: Mapping[str, Any]
    clusters: list[dict[str, Any]] | None
    province_code: str | None
    as_of: date
    references: Mapping[str, list[dict[str, Any]]] = field(default_factory=dict)


def _examples_of(pack: Pack, rule: Rule) -> list[_Example]:
    examples = []
    for expect in ("pass", "fail"):
        for index, item in enumerate(rule.examples.get(expect) or [], start=1):
            if isinstance(item, dict) and "rows" in item:
                rows, options = list(item["rows"]), item
            elif isinstance(item, dict):
                rows, options = [item], {}
            else:
                raise PackError(f"{pack.path}: rule '{rule.id}' {expect} example #{index} is not a mapping")
            examples.append(
                _Example(
                    rule=rule,
                    expect=expect,
                    index=index,
                    rows=[{**pack.example_row, **row} for row in rows],
                    params=options.get("params") or {},
                    clusters=options.get("clusters"),
                    province_code=options.get("province_code"),
                    references=options.get("references") or {},
                    as_of=parse_as_of(options.get("as_of", pack.example_as_of)),
                )
            )
    return examples


def _typed_frame(rows: list[dict[str, Any]], columns: Mapping[str, pl.DataType], where: str) -> pl.DataFrame:
    unknown = {key for row in rows for key in row} - set(columns)
    if unknown:
        raise PackError(f"{where}: unknown column(s) {sorted(unknown)}")
    data: dict[str, pl.Series] = {}
    for name, dtype in columns.items():
        values = [_coerce(row.get(name), dtype, f"{where}: column {name}") for row in rows]
        data[name] = pl.Series(name, values, dtype=dtype, strict=True)
    return pl.DataFrame(data)


def _coerce(value: Any, dtype: pl.DataType, where: str) -> Any:
    # YAML gives dates as dates and timestamps as datetimes, but quoted ones arrive as text.
    try:
        if isinstance(value, str) and dtype == pl.Date:
            return date.fromisoformat(value)
        if isinstance(value, str) and isinstance(dtype, pl.Datetime):
            return datetime.fromisoformat(value)
        if isinstance(value, date) and not isinstance(value, datetime) and isinstance(dtype, pl.Datetime):
            return datetime(value.year, value.month, value.day)
        if isinstance(value, int | float) and dtype == pl.String:
            raise ValueError("quote it: codes and ids are text")
    except ValueError as error:
        raise PackError(f"{where}: {value!r}: {error}") from None
    return value


def run_rule_examples(pack: Pack | str | Path = "residents") -> list[ExampleOutcome]:
    """Run the pass/fail examples every rule carries; a rule lacking either kind gets a failed outcome.

    Example rows are partial: unspecified fields take the pack's `example_row`. All example rows are first
    validated against the dataset's contract (an example the standardizer could never produce is a bad example).
    """
    loaded = pack if isinstance(pack, Pack) else load_pack(pack)
    dataset = get_dataset(loaded.dataset)
    columns = dataset.columns
    outcomes: list[ExampleOutcome] = []
    prepared: list[tuple[_Example, pl.DataFrame]] = []
    for rule in loaded.rules:
        for expect in ("pass", "fail"):
            if not rule.examples.get(expect):
                outcomes.append(
                    ExampleOutcome(rule.id, expect, 0, False, 0, f"the rule has no '{expect}' example")
                )
        for example in _examples_of(loaded, rule):
            where = f"{loaded.path}: rule '{rule.id}' {example.expect} example #{example.index}"
            rows = [{"row_uid": position, **row} for position, row in enumerate(example.rows, start=1)]
            prepared.append((example, _typed_frame(rows, columns, where)))
    _validate_examples(loaded, prepared)
    for example, frame in prepared:
        clusters = None
        if example.clusters is not None:
            clusters = pl.DataFrame(example.clusters).with_columns(pl.col("row_uid").cast(pl.Int64))
        references = {name: pl.DataFrame(rows) for name, rows in example.references.items()}
        flags, dataset_findings, row_rules, skipped, _values = _evaluate(
            frame, [example.rule], columns, example.as_of, clusters, example.province_code, example.params,
            references=references,
        )
        if skipped:
            outcomes.append(
                ExampleOutcome(
                    example.rule.id, example.expect, example.index, False, 0,
                    "skipped: give the input it needs (clusters, or references: {name: rows})",
                )
            )
            continue
        count = dataset_findings.height + (int(flags.get_column(_flag_name(0)).sum()) if row_rules else 0)
        ok = (count == 0) if example.expect == "pass" else (count > 0)
        detail = ""
        if not ok:
            shown = {k: v for k, v in example.rows[0].items() if loaded.example_row.get(k) != v}
            wanted = "no finding" if example.expect == "pass" else "a finding"
            detail = f"expected {wanted}; rows differ from example_row in {shown}"
        outcomes.append(ExampleOutcome(example.rule.id, example.expect, example.index, ok, count, detail))
    return outcomes


def _validate_examples(pack: Pack, prepared: list[tuple[_Example, pl.DataFrame]]) -> None:
    """Validate every example row against the contract in one pandera call; name the example on failure."""
    if not prepared:
        return
    owners: list[str] = []
    frames = []
    for example, frame in prepared:
        owners.extend([f"rule '{example.rule.id}' {example.expect} example #{example.index}"] * frame.height)
        frames.append(frame)
    combined = pl.concat(frames).with_columns(pl.int_range(pl.len(), dtype=pl.Int64).alias("row_uid"))
    try:
        validate_standardized(combined, pack.dataset)
    except ContractError as error:
        cases = error.failure_cases
        lines = []
        if "index" in cases.columns:
            for row in cases.drop_nulls("index").iter_rows(named=True):
                lines.append(
                    f"{owners[int(row['index'])]}: {row['column']} {row['check']} ({row['failure_case']})"
                )
        detail = "\n  ".join(lines) if lines else str(error)
        raise PackError(f"{pack.path}: examples break the {pack.dataset} contract:\n  {detail}") from None

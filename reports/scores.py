"""Quality scores: the share of records meeting each criterion, per province, commune, source and rule.

A record meets a criterion when no error-level finding of that criterion touches it; warnings never count
against a share. Dataset-level findings (row_uid null) touch every record in their scope: the commune named by
their `value` (a ward code), else their source, else the whole run. Scores are long-format rows that the nightly
flow appends to the store's `score_history`; the history functions below turn those rows into changes and trends.
Pure polars: no per-record Python.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import polars as pl
import yaml

from sachsong.schema import CRITERIA, FINDING_SCHEMA, SEVERITIES
from sachsong.store.reader import DEFAULT_DATASET

SCORE_CRITERIA: tuple[str, ...] = (*CRITERIA, "overall")
# `coverage` is one row per province: new communes with data / all new communes of the province ("sufficient").
# `outcome` is four rows per province: how many records were published clean, published after a certain repair
# (fixed), published with a suspicion for a steward (flagged), or quarantined; `passing` counts each.
LEVELS: tuple[str, ...] = ("province", "coverage", "outcome", "commune", "source", "rule")
OUTCOMES: tuple[str, ...] = ("clean", "fixed", "flagged", "quarantined")
# The rules whose warnings say a value was repaired with certainty / left as it was but suspicious.
REPAIRED_RULE = "value_repaired"
FLAGGED_RULE = "value_flagged"
BANDS: tuple[str, ...] = ("green", "amber", "red", "n/a")
UNRESOLVED_WARD = "unresolved"  # commune key of records whose address resolved to no new commune
PUBLISHED = "published"

SCORE_SCHEMA: dict[str, pl.DataType] = {
    "run_id": pl.String(),
    "as_of": pl.Date(),
    "province_code": pl.String(),
    "level": pl.String(),
    "key": pl.String(),
    "criterion": pl.String(),
    "records": pl.Int64(),
    "passing": pl.Int64(),
    "share": pl.Float64(),
    "band": pl.String(),
    # What `records`/`passing` count: records, except on coverage rows (communes) and on the rows of
    # dataset-level rules, which check communes, sources or the whole run rather than records.
    "unit": pl.String(),
}
UNITS: tuple[str, ...] = ("records", "communes", "sources", "runs")
# The rule pack whose catalogue lists every rule, fired or not, when the caller names none: the pack of the
# register a store holds when its manifest names none. Callers that know the register pass its spec's `rules`.
DEFAULT_PACK = DEFAULT_DATASET
RULE_CATALOGUE_SCHEMA: dict[str, pl.DataType] = {
    "rule_id": pl.String(),
    "criterion": pl.String(),
    "severity": pl.String(),
    "scope": pl.String(),  # row | dataset
    "unit": pl.String(),  # records for row rules; communes | sources | runs for dataset rules
    "message_vi": pl.String(),
    "message_en": pl.String(),
}

RECORD_COLUMNS: tuple[str, ...] = ("row_uid", "source_id", "ward_code")


# --------------------------------------------------------------------------------------------------- targets
@dataclass(frozen=True)
class Thresholds:
    """Lower bounds of the green and amber bands, as shares (0..1). Below amber is red."""

    green: float = 0.98
    amber: float = 0.90


@dataclass(frozen=True)
class Targets:
    """Band thresholds: a default, optionally overridden per criterion. The target itself is always 100%."""

    default: Thresholds = field(default_factory=Thresholds)
    per_criterion: Mapping[str, Thresholds] = field(default_factory=dict)

    def for_criterion(self, criterion: str) -> Thresholds:
        return self.per_criterion.get(criterion, self.default)


DEFAULT_TARGETS = Targets()


def _thresholds(raw: Any, where: str, fallback: Thresholds) -> Thresholds:
    if not isinstance(raw, Mapping):
        raise ValueError(f"{where}: expected a mapping with 'green' and 'amber', got {raw!r}")
    unknown = set(raw) - {"green", "amber"}
    if unknown:
        raise ValueError(f"{where}: unknown field(s) {sorted(unknown)}; only 'green' and 'amber' are allowed")
    values = {}
    for name in ("green", "amber"):
        value = raw.get(name, getattr(fallback, name))
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"{where}.{name}: expected a number between 0 and 1, got {value!r}")
        value = float(value)
        if value > 1.0:  # written as a percentage
            value /= 100.0
        if not 0.0 <= value <= 1.0:
            raise ValueError(
                f"{where}.{name}: expected a share between 0 and 1 (or 0-100%), got {raw[name]!r}"
            )
        values[name] = value
    if values["amber"] > values["green"]:
        raise ValueError(f"{where}: amber ({values['amber']}) must not be above green ({values['green']})")
    return Thresholds(**values)


def load_targets(source: Targets | Mapping[str, Any] | str | Path | None = None) -> Targets:
    """Band thresholds from a Targets, a dict, or a YAML file; None gives the defaults (green ≥ 98%, amber ≥ 90%).

    Form: ``{"green": 0.98, "amber": 0.90, "criteria": {"live": {"green": 0.95, "amber": 0.85}}}``;
    percentages (98, 90) are accepted too.
    """
    if source is None:
        return DEFAULT_TARGETS
    if isinstance(source, Targets):
        return source
    where = "targets"
    if isinstance(source, str | Path):
        where = str(source)
        try:
            raw = yaml.safe_load(Path(source).read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as error:
            raise ValueError(f"{where}: not valid YAML ({error})") from error
    else:
        raw = dict(source)
    if not isinstance(raw, Mapping):
        raise ValueError(f"{where}: expected a mapping at the top level, got {type(raw).__name__}")
    criteria_raw = raw.get("criteria") or {}
    default = _thresholds({k: v for k, v in raw.items() if k != "criteria"}, where, Thresholds())
    if not isinstance(criteria_raw, Mapping):
        raise ValueError(f"{where}.criteria: expected a mapping of criterion → thresholds")
    per_criterion = {}
    for criterion, value in criteria_raw.items():
        if criterion not in SCORE_CRITERIA:
            raise ValueError(
                f"{where}.criteria.{criterion}: unknown criterion; expected one of {SCORE_CRITERIA}"
            )
        per_criterion[criterion] = _thresholds(value, f"{where}.criteria.{criterion}", default)
    return Targets(default=default, per_criterion=per_criterion)


def band_expr(share: pl.Expr, criterion: pl.Expr, targets: Targets = DEFAULT_TARGETS) -> pl.Expr:
    """green | amber | red by the criterion's thresholds; "n/a" when the share is null (nothing to score)."""
    green = pl.lit(targets.default.green)
    amber = pl.lit(targets.default.amber)
    for name, thresholds in targets.per_criterion.items():
        green = pl.when(criterion == name).then(pl.lit(thresholds.green)).otherwise(green)
        amber = pl.when(criterion == name).then(pl.lit(thresholds.amber)).otherwise(amber)
    return (
        pl.when(share.is_null())
        .then(pl.lit("n/a"))
        .when(share >= green)
        .then(pl.lit("green"))
        .when(share >= amber)
        .then(pl.lit("amber"))
        .otherwise(pl.lit("red"))
    )


# ----------------------------------------------------------------------------------------- reference wards
@lru_cache(maxsize=64)
def _province_wards_cached(province_code: str) -> pl.DataFrame:
    try:
        from sachsong.standardize.reference import load_reference

        new_wards = load_reference().new_wards
        return (
            new_wards.filter(pl.col("province_code") == province_code)
            .select("ward_code", "ward_name", "province_name")
            .unique("ward_code")
            .sort("ward_code")
        )
    except (ImportError, AttributeError, pl.exceptions.PolarsError):
        # The standardize room's reference module is absent or changed shape: read the package's data directly.
        import vietnamadminunits

        db = Path(vietnamadminunits.__file__).parent / "data" / "dataset.db"
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as connection:
            rows = connection.execute(
                "SELECT wardCode, ward, province FROM admin_units WHERE provinceCode = ? ORDER BY wardCode",
                (province_code,),
            ).fetchall()
        schema = {"ward_code": pl.String, "ward_name": pl.String, "province_name": pl.String}
        return pl.DataFrame(rows, schema=schema, orient="row").unique("ward_code", maintain_order=True)


def province_wards(province_code: str) -> pl.DataFrame:
    """The province's new (post-2025) communes: `ward_code, ward_name, province_name`, from the reference data."""
    return _province_wards_cached(str(province_code))


# ------------------------------------------------------------------------------------------- rule catalogue
def _dataset_unit(columns: Collection[str]) -> str:
    """The unit a dataset-level check judges, from the columns it reads: communes, else sources, else the run."""
    if "ward_code" in columns:
        return "communes"
    if "source_id" in columns:
        return "sources"
    return "runs"


@lru_cache(maxsize=8)
def _pack_catalogue(pack: str) -> pl.DataFrame:
    from sachsong.rules import python_checks
    from sachsong.rules.engine import load_pack

    rows = []
    for rule in load_pack(pack).rules:
        scope = rule.scope
        unit = "records"
        if scope == "dataset":
            check = python_checks.get_check(rule.python) if rule.python else None
            unit = _dataset_unit(check.columns if check else ())
        rows.append((rule.id, rule.criterion, rule.severity, scope, unit, rule.message_vi, rule.message_en))
    return pl.DataFrame(rows, schema=RULE_CATALOGUE_SCHEMA, orient="row")


def rule_catalogue(pack: str | Path = DEFAULT_PACK) -> pl.DataFrame:
    """Every rule of a rule pack (name or path): `rule_id, criterion, severity, scope, unit, message_vi,
    message_en`. Dataset-level rules get the unit they judge (communes, sources or runs), row rules `records`."""
    return _pack_catalogue(str(pack))


def _normalize_catalogue(rules: pl.DataFrame | str | Path | None) -> pl.DataFrame:
    if rules is None:
        return pl.DataFrame(schema=RULE_CATALOGUE_SCHEMA)
    if isinstance(rules, str | Path):
        return rule_catalogue(rules)
    _require(rules, ("rule_id", "criterion"), "rules")
    bad_units = rules.filter(~pl.col("unit").is_in(list(UNITS))) if "unit" in rules.columns else rules.clear()
    bad_units = bad_units.filter(pl.col("unit").is_not_null()) if "unit" in rules.columns else bad_units
    if bad_units.height:
        first = bad_units.row(0, named=True)
        raise ValueError(
            f"rules: rule {first['rule_id']!r} has unit {first['unit']!r}; expected one of {UNITS}"
        )
    return rules.select(
        [
            pl.col(c).cast(t) if c in rules.columns else pl.lit(None, dtype=t).alias(c)
            for c, t in RULE_CATALOGUE_SCHEMA.items()
        ]
    ).unique(["rule_id", "criterion"], keep="first", maintain_order=True)


# ---------------------------------------------------------------------------------------------- validation
def _require(frame: pl.DataFrame, columns: Collection[str], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{what}: missing column(s) {missing}; it has {frame.columns}")


def _check_findings(findings: pl.DataFrame) -> pl.DataFrame:
    _require(findings, ("row_uid", "rule_id", "criterion", "severity"), "findings")
    findings = findings.with_columns(
        [
            pl.col(c).cast(t) if c in findings.columns else pl.lit(None, dtype=t).alias(c)
            for c, t in FINDING_SCHEMA.items()
            if c != "message"
        ]
    )
    for column, allowed in (("criterion", CRITERIA), ("severity", SEVERITIES)):
        bad = findings.with_row_index("row").filter(
            ~pl.col(column).is_in(list(allowed)) | pl.col(column).is_null()
        )
        if bad.height:
            first = bad.row(0, named=True)
            raise ValueError(
                f"findings row {first['row']} (rule {first['rule_id']!r}): field '{column}' is "
                f"{first[column]!r}; expected one of {allowed} ({bad.height} such row(s))"
            )
    return findings


def _as_date(value: date | datetime | str) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


# ------------------------------------------------------------------------------------------------- scoring
def _scoped_findings(records: pl.DataFrame, findings: pl.DataFrame, known_wards: pl.Series) -> pl.DataFrame:
    """Every finding as (row_uid, rule_id, criterion, severity): dataset-level ones spread over their scope."""
    columns = ["row_uid", "rule_id", "criterion", "severity"]
    row_level = findings.filter(pl.col("row_uid").is_not_null()).join(
        records.select("row_uid"), on="row_uid", how="semi"
    )
    dataset = findings.filter(pl.col("row_uid").is_null()).drop("row_uid")
    is_ward = pl.col("value").is_in(known_wards.implode()).fill_null(False)
    ward_scoped = dataset.filter(is_ward).join(
        records.select("row_uid", "ward_code"), left_on="value", right_on="ward_code", how="inner"
    )
    source_scoped = dataset.filter(~is_ward & pl.col("source_id").is_not_null()).join(
        records.select("row_uid", "source_id"), on="source_id", how="inner"
    )
    run_scoped = dataset.filter(~is_ward & pl.col("source_id").is_null()).join(
        records.select("row_uid"), how="cross"
    )
    return pl.concat([frame.select(columns) for frame in (row_level, ward_scoped, source_scoped, run_scoped)])


def _long(wide: pl.DataFrame, level: str, criteria: Collection[str]) -> pl.DataFrame:
    """One row per (key, criterion) from a frame with key, records and pass_<criterion> columns."""
    parts = []
    for criterion in SCORE_CRITERIA:
        ran = criterion == "overall" or criterion in criteria
        parts.append(
            wide.select(
                pl.lit(level).alias("level"),
                pl.col("key"),
                pl.lit(criterion).alias("criterion"),
                (pl.col("records") if ran else pl.lit(0, dtype=pl.Int64)).alias("records"),
                (pl.col(f"pass_{criterion}") if ran else pl.lit(0, dtype=pl.Int64)).alias("passing"),
            )
        )
    return pl.concat(parts)


def compute_scores(
    records: pl.DataFrame,
    findings: pl.DataFrame,
    run_id: str,
    as_of: date | datetime | str,
    province_code: str,
    *,
    wards: pl.DataFrame | None = None,
    targets: Targets | Mapping[str, Any] | str | Path | None = None,
    rules: pl.DataFrame | str | Path | None = DEFAULT_PACK,
    criteria_run: Collection[str] | None = None,
) -> pl.DataFrame:
    """Score one run: long rows `run_id, as_of, province_code, level, key, criterion, records, passing, share, band`.

    records: the run's standardized records (quarantined ones included) with `row_uid, source_id, ward_code`.
    findings: `schema.FINDING_SCHEMA` rows. wards: the province's new communes (`ward_code`, default from the
    reference data) — those without records score 0 on "sufficient". rules: the rule catalogue, so rules with no
    finding are listed at 100% — a pack name or path (default: DEFAULT_PACK), a frame with `rule_id,
    criterion` (+ optional `unit`: see RULE_CATALOGUE_SCHEMA), or None for the rules that fired only.
    Dataset-level rules are scored in their own unit (communes or sources checked vs failing), not in records.
    criteria_run: the criteria whose rules ran (default all four); the others get no applicable records (share
    null, band "n/a").
    """
    _require(records, RECORD_COLUMNS, "records")
    findings = _check_findings(findings)
    targets = load_targets(targets)
    criteria = tuple(c for c in CRITERIA if criteria_run is None or c in set(criteria_run))
    catalogue = _normalize_catalogue(rules)
    province_code = str(province_code)
    if wards is None:
        wards = province_wards(province_code)
    _require(wards, ("ward_code",), "wards")
    ward_list = wards.select(pl.col("ward_code").cast(pl.String)).unique()

    recs = records.select(
        pl.col("row_uid").cast(pl.Int64),
        pl.col("source_id").cast(pl.String),
        pl.col("ward_code").cast(pl.String),
    ).unique("row_uid", keep="first")
    known_wards = pl.concat(
        [ward_list.get_column("ward_code"), recs.get_column("ward_code").drop_nulls()]
    ).unique()
    scoped = _scoped_findings(recs, findings.filter(pl.col("criterion").is_in(list(criteria))), known_wards)

    errors = scoped.filter(pl.col("severity") == "error")
    flags = errors.group_by("row_uid").agg(
        [(pl.col("criterion") == c).any().alias(f"fail_{c}") for c in criteria]
    )
    scored = recs.join(flags, on="row_uid", how="left").with_columns(
        [pl.col(f"fail_{c}").fill_null(False) for c in criteria]
    )
    scored = scored.with_columns(
        pl.any_horizontal([pl.col(f"fail_{c}") for c in criteria]).fill_null(False).alias("fail_overall")
        if criteria
        else pl.lit(False).alias("fail_overall")
    )
    aggregates = [pl.len().cast(pl.Int64).alias("records")] + [
        (~pl.col(f"fail_{c}")).sum().cast(pl.Int64).alias(f"pass_{c}") for c in (*criteria, "overall")
    ]

    def wide(key: pl.Expr) -> pl.DataFrame:
        return scored.group_by(key.alias("key")).agg(aggregates)

    province = wide(pl.lit(province_code))
    if province.is_empty():  # no records at all: still one row per criterion, with nothing to score
        province = pl.DataFrame(
            {"key": [province_code], "records": [0]}, schema_overrides={"records": pl.Int64}
        )
        province = province.with_columns(
            [pl.lit(0, dtype=pl.Int64).alias(f"pass_{c}") for c in SCORE_CRITERIA]
        )

    communes = wide(pl.col("ward_code").fill_null(UNRESOLVED_WARD))
    # New communes of the province (or named by a dataset-level finding) that sent no record at all.
    dataset_wards = findings.filter(
        pl.col("row_uid").is_null() & pl.col("value").is_in(known_wards.implode())
    )
    empty_keys = (
        pl.concat([ward_list, dataset_wards.select(pl.col("value").alias("ward_code")).unique()])
        .unique()
        .join(communes.select(pl.col("key").alias("ward_code")), on="ward_code", how="anti")
        .rename({"ward_code": "key"})
    )
    sources = wide(pl.col("source_id").fill_null("unknown"))

    long = pl.concat(
        [
            _long(province, "province", criteria),
            _long(communes, "commune", criteria),
            _long(sources, "source", criteria),
        ]
    )
    empty_rows = _empty_commune_rows(empty_keys, dataset_wards, criteria)
    coverage = _coverage_row(province_code, ward_list, recs)
    outcomes = _outcome_rows(province_code, recs, findings)
    rule_rows = _rule_rows(
        recs,
        scoped,
        findings.filter(pl.col("criterion").is_in(list(criteria))),
        catalogue.filter(pl.col("criterion").is_in(list(criteria))),
        ward_list,
        known_wards,
    )

    share = pl.when(pl.col("records") > 0).then(pl.col("passing") / pl.col("records")).otherwise(None)
    scores = (
        pl.concat(
            [
                long.with_columns(share.alias("share"), pl.lit("records").alias("unit")),
                empty_rows.with_columns(pl.lit("records").alias("unit")),
                coverage.with_columns(pl.lit("communes").alias("unit")),
                outcomes.with_columns(pl.lit("records").alias("unit")),
                rule_rows,
            ]
        )
        .with_columns(
            pl.lit(str(run_id)).alias("run_id"),
            pl.lit(_as_date(as_of)).alias("as_of"),
            pl.lit(province_code).alias("province_code"),
        )
        .with_columns(
            pl.when(pl.col("level") == "outcome")
            .then(pl.lit("n/a"))  # a share of records in one outcome, not a quality score against a target
            .otherwise(band_expr(pl.col("share"), pl.col("criterion"), targets))
            .alias("band")
        )
    )
    return _ordered(scores.select([pl.col(c).cast(t) for c, t in SCORE_SCHEMA.items()]))


def _empty_commune_rows(
    empty_keys: pl.DataFrame, dataset_wards: pl.DataFrame, criteria: Collection[str]
) -> pl.DataFrame:
    """Communes without records: "sufficient" (and overall) score 0; a criterion that a dataset-level error names
    for the commune scores 0 too; every other criterion has nothing to score."""
    failed = dataset_wards.filter(pl.col("severity") == "error").select(
        pl.col("value").alias("key"), "criterion"
    )
    rows = empty_keys.join(pl.DataFrame({"criterion": list(SCORE_CRITERIA)}), how="cross").join(
        failed.unique().with_columns(pl.lit(True).alias("named")), on=["key", "criterion"], how="left"
    )
    is_zero = (
        pl.col("named").fill_null(False)
        | (pl.col("criterion") == "overall")
        | ((pl.col("criterion") == "sufficient") & pl.lit("sufficient" in criteria))
    )
    return rows.select(
        pl.lit("commune").alias("level"),
        "key",
        "criterion",
        pl.lit(0, dtype=pl.Int64).alias("records"),
        pl.lit(0, dtype=pl.Int64).alias("passing"),
        pl.when(is_zero).then(pl.lit(0.0)).otherwise(None).cast(pl.Float64).alias("share"),
    )


def _outcome_rows(province_code: str, recs: pl.DataFrame, findings: pl.DataFrame) -> pl.DataFrame:
    """What happened to the province's records: quarantined (an error), flagged (a suspicion left for a
    steward), fixed (repaired with certainty, nothing suspicious) or clean; each record counted once."""
    rows = findings.filter(pl.col("row_uid").is_not_null())
    marks = rows.group_by("row_uid").agg(
        (pl.col("severity") == "error").any().alias("error"),
        (pl.col("rule_id") == FLAGGED_RULE).any().alias("flagged"),
        (pl.col("rule_id") == REPAIRED_RULE).any().alias("fixed"),
    )
    outcome = (
        recs.select("row_uid")
        .join(marks, on="row_uid", how="left")
        .select(
            pl.when(pl.col("error").fill_null(False))
            .then(pl.lit("quarantined"))
            .when(pl.col("flagged").fill_null(False))
            .then(pl.lit("flagged"))
            .when(pl.col("fixed").fill_null(False))
            .then(pl.lit("fixed"))
            .otherwise(pl.lit("clean"))
            .alias("key")
        )
    )
    counted = dict(outcome.group_by("key").len().iter_rows())
    total = recs.height
    return pl.DataFrame(
        {
            "level": ["outcome"] * len(OUTCOMES),
            "key": list(OUTCOMES),
            "criterion": ["overall"] * len(OUTCOMES),
            "records": [total] * len(OUTCOMES),
            "passing": [int(counted.get(key, 0)) for key in OUTCOMES],
            "share": [counted.get(key, 0) / total if total else None for key in OUTCOMES],
        },
        schema={
            "level": pl.String,
            "key": pl.String,
            "criterion": pl.String,
            "records": pl.Int64,
            "passing": pl.Int64,
            "share": pl.Float64,
        },
    )


def _coverage_row(province_code: str, ward_list: pl.DataFrame, recs: pl.DataFrame) -> pl.DataFrame:
    covered = ward_list.join(recs.select("ward_code").unique(), on="ward_code", how="semi").height
    total = ward_list.height
    return pl.DataFrame(
        {
            "level": ["coverage"],
            "key": [province_code],
            "criterion": ["sufficient"],
            "records": [total],
            "passing": [covered],
            "share": [covered / total if total else None],
        },
        schema={
            "level": pl.String,
            "key": pl.String,
            "criterion": pl.String,
            "records": pl.Int64,
            "passing": pl.Int64,
            "share": pl.Float64,
        },
    )


def _rule_rows(
    recs: pl.DataFrame,
    scoped: pl.DataFrame,
    findings: pl.DataFrame,
    catalogue: pl.DataFrame,
    ward_list: pl.DataFrame,
    known_wards: pl.Series,
) -> pl.DataFrame:
    """Per rule, its own pass rate in its own unit.

    Row rules: records flagged (errors *and* warnings: a warning rule's rate is worth showing) out of all records.
    Dataset-level rules: communes (or sources, or the run) they named out of those checked — spreading them over
    records would show 100% for a rule that fired only on communes with no records at all.
    """
    dataset = pl.col("row_uid").is_null()
    is_ward = pl.col("value").is_in(known_wards.implode()).fill_null(False)
    fired = findings.group_by("rule_id", "criterion").agg(
        pl.when((~dataset).any())
        .then(pl.lit("records"))
        .when((dataset & is_ward).any())
        .then(pl.lit("communes"))
        .when((dataset & pl.col("source_id").is_not_null()).any())
        .then(pl.lit("sources"))
        .otherwise(pl.lit("runs"))
        .alias("fired_unit"),
        pl.col("value").filter(dataset & is_ward).n_unique().cast(pl.Int64).alias("fail_communes"),
        pl.col("source_id")
        .filter(dataset & ~is_ward & pl.col("source_id").is_not_null())
        .n_unique()
        .cast(pl.Int64)
        .alias("fail_sources"),
        dataset.any().cast(pl.Int64).alias("fail_runs"),
    )
    flagged = scoped.group_by("rule_id", "criterion").agg(
        pl.col("row_uid").n_unique().cast(pl.Int64).alias("fail_records")
    )
    rules = (
        catalogue.select("rule_id", "criterion", "unit")
        .join(fired, on=["rule_id", "criterion"], how="full", coalesce=True)
        .join(flagged, on=["rule_id", "criterion"], how="left")
        .with_columns(pl.coalesce("unit", "fired_unit", pl.lit("records")).alias("unit"))
    )
    named_wards = findings.filter(dataset & is_ward).select(pl.col("value").alias("ward_code"))
    named_sources = findings.filter(dataset & ~is_ward).select(pl.col("source_id")).drop_nulls()
    checked = {
        "records": recs.height,
        "communes": pl.concat([ward_list, named_wards]).n_unique(),
        "sources": pl.concat([recs.select("source_id").drop_nulls(), named_sources]).n_unique(),
        "runs": 1,
    }
    unit = pl.col("unit")
    checked_expr = pl.lit(0, dtype=pl.Int64)
    failing_expr = pl.lit(0, dtype=pl.Int64)
    for name, count in checked.items():
        checked_expr = pl.when(unit == name).then(pl.lit(count, dtype=pl.Int64)).otherwise(checked_expr)
        failing_expr = pl.when(unit == name).then(pl.col(f"fail_{name}")).otherwise(failing_expr)
    failing = pl.min_horizontal(failing_expr.fill_null(0), pl.col("records"))
    return rules.with_columns(checked_expr.alias("records")).select(
        pl.lit("rule").alias("level"),
        pl.col("rule_id").alias("key"),
        "criterion",
        "records",
        (pl.col("records") - failing).alias("passing"),
        pl.when(pl.col("records") > 0)
        .then(1.0 - failing / pl.col("records"))
        .otherwise(None)
        .cast(pl.Float64)
        .alias("share"),
        unit,
    )


def _ordered(scores: pl.DataFrame) -> pl.DataFrame:
    return scores.sort(
        pl.col("level").replace_strict({lv: i for i, lv in enumerate(LEVELS)}, default=len(LEVELS)),
        "key",
        pl.col("criterion").replace_strict({c: i for i, c in enumerate(SCORE_CRITERIA)}, default=99),
    )


# ------------------------------------------------------------------------------------------------- history
def with_units(scores: pl.DataFrame) -> pl.DataFrame:
    """Score rows with a `unit` column: history written before units existed counted communes on coverage rows
    and records everywhere else."""
    default = pl.when(pl.col("level") == "coverage").then(pl.lit("communes")).otherwise(pl.lit("records"))
    if "unit" not in scores.columns:
        return scores.with_columns(default.alias("unit"))
    return scores.with_columns(pl.col("unit").cast(pl.String).fill_null(default))


RUN_ORDER = ("as_of", "started_at", "run_id")


def _run_order(runs: pl.DataFrame) -> pl.DataFrame:
    """Runs sorted oldest first by as_of, then start time (nulls first), then id."""
    keys = [c for c in RUN_ORDER if c in runs.columns]
    return runs.sort(keys, nulls_last=False)


def published_run_ids(runs: pl.DataFrame | None, always: Collection[str] = ()) -> list[str]:
    """Ids of published runs, oldest first, plus `always` (e.g. the live snapshot's run, published by definition)."""
    if runs is None or runs.is_empty():
        return list(always)
    ordered = _run_order(runs)
    keep = ordered.filter((pl.col("status") == PUBLISHED) | pl.col("run_id").is_in(list(always)))
    ids = keep.get_column("run_id").cast(pl.String).to_list()
    # The live run may not be recorded yet (scored before its run row is written): it is the newest.
    return ids + [run_id for run_id in always if run_id not in ids]


def score_trend(
    history: pl.DataFrame,
    runs: pl.DataFrame | None,
    *,
    level: str | None = "province",
    key: str | None = None,
    province_code: str | None = None,
    always: Collection[str] = (),
) -> pl.DataFrame:
    """Score rows of published runs only (failed runs are excluded from trends), oldest first, with `run_order`.

    A run missing from `runs` has unknown status and is left out unless named in `always`.
    """
    frame = history
    if level is not None:
        frame = frame.filter(pl.col("level") == level)
    if key is not None:
        frame = frame.filter(pl.col("key") == key)
    if province_code is not None:
        frame = frame.filter(pl.col("province_code") == province_code)
    if runs is None:
        order = (
            history.select("run_id", "as_of")
            .unique("run_id")
            .sort("as_of", "run_id")
            .get_column("run_id")
            .to_list()
        )
    else:
        order = published_run_ids(runs, always)
    rank = pl.DataFrame(
        {"run_id": order, "run_order": list(range(len(order)))},
        schema={"run_id": pl.String, "run_order": pl.Int64},
    )
    return frame.join(rank, on="run_id", how="inner").sort(
        "run_order",
        pl.col("criterion").replace_strict({c: i for i, c in enumerate(SCORE_CRITERIA)}, default=99),
        "key",
    )


def compare_with_previous(
    current: pl.DataFrame, history: pl.DataFrame, runs: pl.DataFrame | None
) -> pl.DataFrame:
    """`current` scores plus `previous_run_id`, `previous_share` and `change` (share − previous share) against the
    latest published run before it (same province); nulls when there is none, either share is null, or the row
    counted another unit then (a rule scored in records before it was scored in communes is no comparison)."""
    if current.is_empty():
        return with_units(current).with_columns(
            pl.lit(None, dtype=pl.String).alias("previous_run_id"),
            pl.lit(None, dtype=pl.Float64).alias("previous_share"),
            pl.lit(None, dtype=pl.Float64).alias("change"),
        )
    run_id = current.get_column("run_id")[0]
    province_code = current.get_column("province_code")[0]
    as_of = current.get_column("as_of")[0]
    previous_id = _previous_run_id(run_id, as_of, province_code, history, runs)
    keys = ["level", "key", "criterion", "unit"]
    previous = (
        with_units(history.filter(pl.col("run_id") == previous_id))
        .select(*keys, pl.col("share").alias("previous_share"))
        .unique(keys)
        if previous_id is not None
        else pl.DataFrame(schema={**dict.fromkeys(keys, pl.String), "previous_share": pl.Float64})
    )
    return (
        with_units(current)
        .join(previous, on=keys, how="left")
        .with_columns(
            pl.lit(previous_id, dtype=pl.String).alias("previous_run_id"),
            (pl.col("share") - pl.col("previous_share")).alias("change"),
        )
    )


def _previous_run_id(
    run_id: str, as_of: date, province_code: str, history: pl.DataFrame, runs: pl.DataFrame | None
) -> str | None:
    scored = history.filter(pl.col("province_code") == province_code).select("run_id").unique()
    if runs is None:
        candidates = (
            history.filter((pl.col("province_code") == province_code) & (pl.col("run_id") != run_id))
            .filter(pl.col("as_of") <= as_of)
            .select("run_id", "as_of")
            .unique("run_id")
            .sort("as_of", "run_id")
        )
        return candidates.get_column("run_id")[-1] if candidates.height else None
    ordered = _run_order(runs).with_row_index("position")
    mine = ordered.filter(pl.col("run_id") == run_id)
    if mine.height:
        earlier = ordered.filter(pl.col("position") < mine.get_column("position")[0])
    else:  # the run is not recorded yet (scores are computed before the run row is written)
        earlier = ordered.filter(pl.col("as_of") <= as_of) if "as_of" in ordered.columns else ordered
    earlier = earlier.filter(pl.col("status") == PUBLISHED).join(scored, on="run_id", how="semi")
    return earlier.get_column("run_id")[-1] if earlier.height else None

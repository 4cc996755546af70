"""Dataset specs: everything a room needs to know about one register, declared once, in one folder.

A register (residents, household businesses, …) is a folder holding `dataset.yaml` and what it names: the
standardizer, the rule pack, Python checks. The repository's registers live in `datasets/<name>/`; an engineer's
own folder is loaded by path (`--dataset path/to/folder`) or found by name on `SACHSONG_DATASETS` (folders
separated by the OS path separator). Every room takes a :class:`DatasetSpec`; none names a register.

`dataset.yaml` (see docs/adding-a-dataset.md for a worked example)::

    name: shops                          # lower-case letters, digits, _
    title: {vi: "Cửa hàng", en: "Shops"}
    unit: {vi: "cửa hàng", en: "shops", en_one: "shop"}   # what the scorecard counts
    entity_id: shop_id                   # the persistent id column of one real-world entity
    raw:                                 # canonical raw columns (strings as received) and their header synonyms
      record_id: {headers: ["Mã", "ID"]}
      shop_name: {headers: ["Tên cửa hàng"], required: true}   # a file naming none of the required is refused
    standardized:                        # the standardizer's output: the pandera model, declared once
      shop_key: {dtype: String, pattern: "^[a-z0-9 ]+$"}
      status_code: {dtype: String, allowed: [open, closed], nullable: false, fallback: closed}
    standardize: standardize.py:standardize_shops    # file in the folder (or a dotted module) : function
    checks: checks.py                    # optional: Python checks the rule pack names (imported once)
    rules: rules.yaml                    # the rule pack
    matching: {engine: rules, …}         # see matching/generic.py; `engine: persons` is the residents' engine
    gate: {not_null: [shop_key]}         # the publish gate's keys on the golden table

Loading a folder imports its Python files: a dataset folder is code, reviewed like code.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import os
import re
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandera.polars as pa
import polars as pl
import yaml

from sachsong.safeyaml import BoundedSafeLoader
from sachsong.schema import LINEAGE_COLUMNS

DATASETS_PATH_ENV = "SACHSONG_DATASETS"
SPEC_FILE = "dataset.yaml"
MAX_SPEC_BYTES = 1_000_000
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,47}$")

DTYPES: dict[str, pl.DataType] = {
    "String": pl.String(),
    "Int64": pl.Int64(),
    "Int32": pl.Int32(),
    "Float64": pl.Float64(),
    "Boolean": pl.Boolean(),
    "Date": pl.Date(),
    "Datetime": pl.Datetime("us"),
    "List[String]": pl.List(pl.String()),
}


class DatasetError(ValueError):
    """A dataset spec is missing, malformed or names something that does not exist; the message says where."""


@dataclass(frozen=True)
class Unit:
    """What one row of the golden table is, for the scorecard: "người" / "persons"."""

    vi: str = "bản ghi"
    en: str = "records"
    en_one: str = "record"


@dataclass(frozen=True)
class DatasetSpec:
    """One register: its columns and contract, how to standardize, check, match and publish it."""

    name: str
    columns: dict[str, pl.DataType]  # what the rules may read: raw + lineage + standardized
    contract: pa.DataFrameSchema
    standardize: Callable[[pl.DataFrame], pl.DataFrame]
    # Containing a row's breach (rules.contract.contain_breaches): the raw columns (a breach there is a bug), the
    # value a required column takes instead of a breaching one, the columns derived from a column (cleared with
    # it), and the column a table-wide check is about.
    raw_columns: tuple[str, ...] = ()
    fallbacks: Mapping[str, str] = field(default_factory=dict)
    dependent_columns: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    check_columns: Mapping[str, str] = field(default_factory=dict)
    folder: Path | None = None
    title_vi: str = ""
    title_en: str = ""
    unit: Unit = field(default_factory=Unit)
    entity_id: str = "entity_id"
    # Header synonyms per raw column (empty: the residents' vocabulary in sources/headers.py) and the raw columns
    # of which a file must name at least one.
    headers: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    required_any: tuple[str, ...] = ()
    rules: Path | None = None
    matching: Mapping[str, Any] = field(default_factory=dict)
    gate: Mapping[str, Any] = field(default_factory=dict)
    # Raw columns a record's content key is computed from when its source has no id of its own.
    content_columns: tuple[str, ...] = ()
    # `module:function` writing a generated demo province of this register: (out_dir, province, size) → summary.
    demo: str | None = None

    @property
    def records_table(self) -> str:
        return f"{self.name}_records"

    @property
    def golden_table(self) -> str:
        return f"{self.name}_golden"

    @property
    def reference(self) -> str:
        """How another process finds this spec again: the name of a repository register, else its folder."""
        if self.folder is not None and self.folder.parent != builtin_folder().resolve():
            return str(self.folder)
        return self.name

    @property
    def pack(self) -> Path | str:
        """The rule pack: the folder's `rules.yaml`, or the pack named like the register."""
        return self.rules or self.name

    @property
    def matching_settings(self) -> dict[str, Any]:
        """The engine's settings: the `matching:` block without what the pipeline itself reads (`anchors`: the
        columns that carry an entity's id over when none of its records is shared with last night)."""
        return {k: v for k, v in self.matching.items() if k not in ("anchors",)}

    @property
    def matching_engine(self) -> str:
        return str(self.matching.get("engine", "rules"))

    def demo_writer(self) -> Callable[..., Any] | None:
        """The generator of this register's demo province (`demo:` in the spec), or None."""
        if not self.demo:
            return None
        module, _, attr = self.demo.partition(":")
        return getattr(importlib.import_module(module), attr)

    def fingerprint(self) -> str:
        """SHA-256 over the folder's files: a changed spec, standardizer or pack invalidates cached steps."""
        digest = hashlib.sha256(self.name.encode())
        if self.folder is not None:
            for path in sorted(self.folder.rglob("*")):
                if path.is_file() and "__pycache__" not in path.parts:
                    digest.update(path.relative_to(self.folder).as_posix().encode() + b"\0")
                    digest.update(path.read_bytes())
        return digest.hexdigest()


# --------------------------------------------------------------------------------------------- the registry
_DATASETS: dict[str, DatasetSpec] = {}
_LOCK = threading.RLock()


def builtin_folder() -> Path:
    """The repository's dataset folders (`datasets/`, installed as `sachsong.datasets`)."""
    return Path(importlib.import_module("sachsong.datasets").__file__).parent


def _search_path() -> list[Path]:
    extra = [Path(p) for p in os.environ.get(DATASETS_PATH_ENV, "").split(os.pathsep) if p.strip()]
    return [builtin_folder(), *extra]


def dataset_names() -> list[str]:
    """Every register known: the repository's, those on SACHSONG_DATASETS and any registered in this process."""
    names = set(_DATASETS)
    for root in _search_path():
        if root.is_dir():
            names.update(p.parent.name for p in root.glob(f"*/{SPEC_FILE}"))
    return sorted(names)


def register_dataset(spec: DatasetSpec) -> None:
    """Make a register known to every room in this process (a folder loaded by path registers itself)."""
    with _LOCK:
        _DATASETS[spec.name] = spec


def get_dataset(name_or_folder: str | Path | DatasetSpec) -> DatasetSpec:
    """A register by name (the repository's, then SACHSONG_DATASETS) or by folder path; loaded once."""
    if isinstance(name_or_folder, DatasetSpec):
        return name_or_folder
    text = str(name_or_folder)
    with _LOCK:
        if text in _DATASETS:
            return _DATASETS[text]
        if isinstance(name_or_folder, Path) or "/" in text or os.sep in text or text.startswith("."):
            folder = Path(text).resolve()
            loaded = next((s for s in _DATASETS.values() if s.folder == folder), None)
            if loaded is not None:
                return loaded
            spec = load_dataset_folder(folder)
        else:
            folder = next((root / text for root in _search_path() if (root / text / SPEC_FILE).is_file()), None)
            if folder is None or not _NAME.match(text):
                raise KeyError(f"unknown dataset '{text}' (known: {', '.join(dataset_names())})")
            spec = load_dataset_folder(folder)
        existing = _DATASETS.get(spec.name)
        if existing is not None and existing.folder != spec.folder:
            raise DatasetError(f"{spec.folder}: a dataset named '{spec.name}' is already loaded from {existing.folder}")
        _DATASETS[spec.name] = spec
        return spec


# ------------------------------------------------------------------------------------------- loading a folder
def _fail(folder: Path, where: str, problem: str) -> DatasetError:
    return DatasetError(f"{folder / SPEC_FILE}: {where}: {problem}")


def _read_yaml(path: Path) -> Any:
    data = path.read_bytes()
    if len(data) > MAX_SPEC_BYTES:
        raise DatasetError(f"{path}: larger than {MAX_SPEC_BYTES} bytes")
    loader = BoundedSafeLoader(data.decode("utf-8"))
    loader.name = str(path)
    try:
        return loader.get_single_data()
    except (yaml.YAMLError, RecursionError) as error:
        raise DatasetError(f"{path}: not valid YAML: {error}") from None
    finally:
        loader.dispose()


def _import_file(folder: Path, name: str, relative: str) -> Any:
    """Import a Python file of a dataset folder as `sachsong_dataset_<name>.<stem>` (once per process)."""
    path = (folder / relative).resolve()
    if folder.resolve() not in path.parents or path.suffix != ".py" or not path.is_file():
        raise _fail(folder, relative, "not a .py file inside the dataset folder")
    module_name = f"sachsong_dataset_{name}.{path.stem}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    package = f"sachsong_dataset_{name}"
    if package not in sys.modules:  # a namespace for the folder's modules, so they may import each other
        holder = importlib.util.module_from_spec(importlib.machinery.ModuleSpec(package, None, is_package=True))
        holder.__path__ = [str(folder.resolve())]
        sys.modules[package] = holder
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)  # type: ignore[union-attr]
    except BaseException:
        del sys.modules[module_name]
        raise
    return module


def _resolve_callable(folder: Path, name: str, reference: str, where: str) -> Any:
    """`file.py:attr` (in the folder) or `dotted.module:attr`."""
    module_ref, _, attr = reference.partition(":")
    if not attr:
        raise _fail(folder, where, f"'{reference}' must be <file.py or module>:<name>")
    if module_ref.endswith(".py"):
        module = _import_file(folder, name, module_ref)
    else:
        module = importlib.import_module(module_ref)
    try:
        found = getattr(module, attr)
    except AttributeError:
        raise _fail(folder, where, f"'{module_ref}' has no '{attr}'") from None
    if module_ref.endswith(".py") or not inspect.isfunction(found):
        return found

    # A function of an installed module is looked up when called, so it is the module's current one.
    def late(*args: Any, **kwargs: Any) -> Any:
        return getattr(importlib.import_module(module_ref), attr)(*args, **kwargs)

    late.__name__ = late.__qualname__ = attr
    return late


def _column(folder: Path, where: str, entry: Any) -> tuple[pl.DataType, pa.Column, str | None]:
    entry = entry or {}
    if not isinstance(entry, Mapping):
        raise _fail(folder, where, "must be a mapping (dtype, allowed, pattern, min, max, nullable)")
    unknown = set(entry) - {"dtype", "allowed", "pattern", "min", "max", "nullable", "fallback", "description"}
    if unknown:
        raise _fail(folder, where, f"unknown key(s) {sorted(unknown)}")
    dtype_name = str(entry.get("dtype", "String"))
    if dtype_name not in DTYPES:
        raise _fail(folder, f"{where}.dtype", f"'{dtype_name}' is not one of {sorted(DTYPES)}")
    checks: list[pa.Check] = []
    if "allowed" in entry:
        checks.append(pa.Check.isin(list(entry["allowed"])))
    if "pattern" in entry:
        try:
            re.compile(str(entry["pattern"]))
        except re.error as error:
            raise _fail(folder, f"{where}.pattern", f"not a regular expression ({error})") from None
        checks.append(pa.Check.str_matches(str(entry["pattern"])))
    if "min" in entry or "max" in entry:
        checks.append(pa.Check.in_range(entry.get("min"), entry.get("max")))
    nullable = bool(entry.get("nullable", True))
    fallback = entry.get("fallback")
    if not nullable and fallback is None and dtype_name == "String" and "allowed" in entry:
        raise _fail(folder, where, "a required column with allowed values needs a `fallback` among them")
    return DTYPES[dtype_name], pa.Column(DTYPES[dtype_name], checks=checks, nullable=nullable), fallback


def load_dataset_folder(folder: Path) -> DatasetSpec:
    """Read and validate `folder/dataset.yaml`; import the standardizer and checks it names."""
    folder = Path(folder)
    path = folder / SPEC_FILE
    if not path.is_file():
        raise DatasetError(f"{folder}: no {SPEC_FILE} (a dataset folder holds its spec)")
    document = _read_yaml(path)
    if not isinstance(document, Mapping):
        raise DatasetError(f"{path}: a dataset spec is a mapping")
    known = {
        "name", "title", "unit", "entity_id", "raw", "headers", "standardized", "standardize", "contract",
        "checks", "rules", "matching", "gate", "containment", "content_columns", "description", "demo",
    }
    unknown = set(document) - known
    if unknown:
        raise _fail(folder, "top level", f"unknown key(s) {sorted(unknown)}")
    name = str(document.get("name", ""))
    if not _NAME.match(name):
        raise _fail(folder, "name", f"'{name}' is not lower-case letters, digits and _")

    raw = document.get("raw")
    if not isinstance(raw, Mapping) or not raw:
        raise _fail(folder, "raw", "list the canonical raw columns (a mapping of column → {headers, required})")
    raw_columns = tuple(str(c) for c in raw)
    for required in ("record_id", "source_id"):
        if required not in raw_columns:
            raise _fail(folder, "raw", f"needs a '{required}' column (lineage: which record of which source)")
    headers: dict[str, tuple[str, ...]] = {}
    required_any: list[str] = []
    for column, entry in raw.items():
        entry = entry or {}
        headers[str(column)] = tuple(str(h) for h in entry.get("headers", ()) or ())
        if entry.get("required"):
            required_any.append(str(column))
    if document.get("headers") == "residents":
        headers = {}  # the residents' vocabulary in sources/headers.py (split names, dates, sex marks)
    elif not required_any:
        raise _fail(folder, "raw", "mark at least one column `required: true` (a file without it is refused)")

    columns: dict[str, pl.DataType] = {c: pl.String() for c in raw_columns}
    columns |= dict(LINEAGE_COLUMNS)
    fallbacks: dict[str, str] = {}
    if "contract" in document:
        contract = _resolve_callable(folder, name, str(document["contract"]), "contract")
        if not isinstance(contract, pa.DataFrameSchema):
            raise _fail(folder, "contract", "must name a pandera.polars DataFrameSchema")
        for column, schema_column in contract.columns.items():
            columns.setdefault(column, schema_column.dtype.type)
    else:
        schema: dict[str, pa.Column] = {c: pa.Column(pl.String, nullable=True) for c in raw_columns}
        schema["row_uid"] = pa.Column(pl.Int64, nullable=False, unique=True)
        columns["row_uid"] = pl.Int64()
        for column, entry in (document.get("standardized") or {}).items():
            dtype, schema[str(column)], fallback = _column(folder, f"standardized.{column}", entry)
            columns[str(column)] = dtype
            if fallback is not None:
                fallbacks[str(column)] = str(fallback)
        contract = pa.DataFrameSchema(schema, strict=False, name=f"{name}_standardized")
    if "standardize" not in document:
        raise _fail(folder, "standardize", "name the standardizer (<file.py>:<function>)")
    standardize = _resolve_callable(folder, name, str(document["standardize"]), "standardize")
    if document.get("checks"):
        _import_file(folder, name, str(document["checks"]))  # registers the pack's Python checks
    rules = folder / str(document.get("rules", "rules.yaml"))
    if not rules.is_file():
        raise _fail(folder, "rules", f"no rule pack at {rules.name}")
    containment = document.get("containment") or {}
    title = document.get("title") or {}
    unit = document.get("unit") or {}
    matching = document.get("matching") or {}
    if not isinstance(matching, Mapping) or matching.get("engine", "rules") not in ("rules", "persons"):
        raise _fail(folder, "matching.engine", "must be 'rules' (settings-driven) or 'persons' (residents)")
    content = tuple(document.get("content_columns") or [c for c in raw_columns if c not in ("record_id", "source_id")])
    return DatasetSpec(
        name=name,
        columns=columns,
        contract=contract,
        standardize=standardize,
        raw_columns=raw_columns,
        fallbacks={**fallbacks, **(containment.get("fallbacks") or {})},
        dependent_columns={k: tuple(v) for k, v in (containment.get("dependent_columns") or {}).items()},
        check_columns=dict(containment.get("check_columns") or {}),
        folder=folder.resolve(),
        title_vi=str(title.get("vi", name)),
        title_en=str(title.get("en", name)),
        unit=Unit(str(unit.get("vi", "bản ghi")), str(unit.get("en", "records")), str(unit.get("en_one", "record"))),
        entity_id=str(document.get("entity_id", "entity_id")),
        headers=headers,
        required_any=tuple(required_any),
        rules=rules.resolve(),
        matching=dict(matching),
        gate=dict(document.get("gate") or {}),
        content_columns=content,
        demo=str(document["demo"]) if document.get("demo") else None,
    )

"""Ingest every old commune's export under a directory into the canonical raw table.

`ingest_directory(root)` walks the files (sorted, confined to root), detects each one's kind, encoding, delimiter
and header dialect, maps it onto `schema.RAW_COLUMNS` with lineage (`source_file`, `source_row`), and accounts
for every row: each data row seen is either in `.table` or in `.rejects`, per file (`.balanced()`).
A demo directory (`exports/` + `truth/`) is ingested from `exports/` only: the ground truth is never input, and
`source_file` is then relative to `exports/` (as the demo's truth names the files).
`ingest_files(root, names)` ingests a subset of `list_source_files(root)` exactly as the whole folder would
ingest those files, so a nightly flow can ingest in parallel batches.
"""

from __future__ import annotations

import os
import stat
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath

import polars as pl

from sachsong.schema import LINEAGE_COLUMNS
from sachsong.sources.detect import DecodedText, DecodeError, decode_bytes, detect_kind
from sachsong.sources.headers import (
    FAMILY_PART,
    GIVEN_PART,
    MIDDLE_PART,
    RESIDENTS_VOCABULARY,
    HeaderVocabulary,
    active_vocabulary,
    make_vocabulary,
    map_header,
    use_vocabulary,
)
from sachsong.sources.layout import describe as describe_template_rows
from sachsong.sources.layout import join_split_columns, split_template_rows
from sachsong.sources.legacy_fonts import LEGACY_CONVERTERS, detect_legacy_text, restore_tcvn3_capitals
from sachsong.sources.limits import (
    DEFAULT_LIMITS,
    ReadLimits,
    ScannedText,
    check_xls,
    check_xlsx,
    json_too_deep,
    not_regular,
    open_confined,
    read_all,
    scan_text,
)
from sachsong.sources.readers import (
    RAW_LINE_LIMIT,
    FileRejected,
    Grid,
    read_delimited,
    read_html,
    read_json,
    read_json_lines,
    read_spreadsheet,
)
from sachsong.sources.registry import Registry, RegistryError, SourceSpec, load_registry
from sachsong.spec import DatasetSpec, get_dataset

DEFAULT_MAX_FIELD_BYTES = DEFAULT_LIMITS.max_field_bytes
REJECT_SCHEMA: dict[str, pl.DataType] = {
    "source_file": pl.String(),
    "source_row": pl.Int64(),
    "field": pl.String(),
    "reason": pl.String(),
    "raw_line": pl.String(),
}
WARNING_SCHEMA: dict[str, pl.DataType] = {
    "source_file": pl.String(),
    "source_row": pl.Int64(),
    "reason": pl.String(),
}
COUNT_SCHEMA: dict[str, pl.DataType] = {
    "source_file": pl.String(),
    "source_id": pl.String(),
    "kind": pl.String(),
    "encoding": pl.String(),
    "dialect": pl.String(),
    "rows_in": pl.Int64(),
    "rows_out": pl.Int64(),
    "rows_rejected": pl.Int64(),
    "rows_flagged": pl.Int64(),
    "extra_columns": pl.Int64(),
    "freshness_days": pl.Int64(),  # the source's refresh window (registry; default 1 day)
    "status": pl.String(),  # ok | no_rows | empty | failed | skipped
    "error": pl.String(),
    "columns": pl.String(),  # how the header was mapped
    "notes": pl.String(),
}
# Files that are never data: the registry, notes, and the demo generator's ground truth.
_NOT_DATA_SUFFIXES = {".yaml", ".yml", ".md", ".parquet", ".py", ".pdf", ".docx", ".doc", ".zip"}
_SUSPICIOUS_NAME_PARTS = ("%2f", "%5c", "%2e%2e", "\\", "\x00")  # encoded or Windows separators
REGISTRY_FILE_NAMES = ("registry.yaml", "sources.yaml")


@dataclass
class FileCount:
    source_file: str
    source_id: str | None = None
    kind: str | None = None
    encoding: str | None = None
    dialect: str | None = None
    rows_in: int = 0
    rows_out: int = 0
    rows_rejected: int = 0
    rows_flagged: int = 0
    extra_columns: int = 0
    freshness_days: int | None = None
    status: str = "ok"
    error: str | None = None
    columns: str | None = None
    notes: list[str] = field(default_factory=list)
    rows_held: int | None = None  # data rows counted from the file's bytes before parsing (text: lines)

    def as_dict(self) -> dict[str, object]:
        row = {k: getattr(self, k) for k in COUNT_SCHEMA}
        row["notes"] = "; ".join(self.notes) if self.notes else None
        return row


@dataclass
class IngestResult:
    """The canonical raw table, the rejects, and per-file accounting."""

    table: pl.DataFrame
    rejects: pl.DataFrame
    counts: pl.DataFrame
    warnings: pl.DataFrame
    root: Path
    registry: Registry | None = None

    def balanced(self) -> bool:
        """Every file's data rows are all accounted for: rows_in == rows_out + rows_rejected. A file rejected
        whole has one reject row without a source_row and counts every row it holds as rejected."""
        if self.counts.is_empty():
            return True
        ok = self.counts.select(
            (pl.col("rows_in") == pl.col("rows_out") + pl.col("rows_rejected")).all()
        ).item()
        row_rejects = self.rejects.filter(pl.col("source_row").is_not_null()).height
        # Rows of a file rejected whole stand behind its one reject without a row.
        whole = self.rejects.filter(pl.col("source_row").is_null())["source_file"].unique().to_list()
        whole_files = int(self.counts.filter(pl.col("source_file").is_in(whole))["rows_rejected"].sum() or 0)
        rows_out = int(self.counts["rows_out"].sum())
        rows_rejected = int(self.counts["rows_rejected"].sum())
        totals_match = self.table.height == rows_out and row_rejects + whole_files == rows_rejected
        return bool(ok) and totals_match

    def freshness_days(self) -> dict[str, int]:
        """source_id → its refresh window in days (from the registry; 1 when unregistered)."""
        rows = self.counts.filter(pl.col("source_id").is_not_null()).select("source_id", "freshness_days")
        return {source: int(days) for source, days in rows.unique("source_id", keep="first").iter_rows()}

    def file_errors(self) -> Iterator[str]:
        """'file: reason' for every file that could not be ingested."""
        yield from failed_files(self.counts)

    def describe(self) -> str:
        """A one-screen summary."""
        counts = self.counts
        files = counts.height
        rows_in = int(counts["rows_in"].sum() or 0)
        rows_out = int(counts["rows_out"].sum() or 0)
        rejected = int(counts["rows_rejected"].sum() or 0)
        lines = [
            f"{files} files, {rows_in} rows in = {rows_out} out + {rejected} rejected"
            + ("" if self.balanced() else "  ✗ NOT BALANCED"),
        ]
        by_status = Counter(counts["status"].to_list())
        lines.append("files: " + ", ".join(f"{n} {status}" for status, n in sorted(by_status.items())))
        by_encoding = Counter(e for e in counts["encoding"].to_list() if e)
        if by_encoding:
            lines.append("encodings: " + ", ".join(f"{e} ×{n}" for e, n in by_encoding.most_common()))
        by_source = self.table.group_by("source_id").len().sort("len", descending=True)
        if by_source.height:
            shown = ", ".join(f"{s} {n}" for s, n in by_source.head(8).iter_rows())
            more = f" (+{by_source.height - 8} more)" if by_source.height > 8 else ""
            lines.append(f"sources: {by_source.height}: {shown}{more}")
        extras = int(counts["extra_columns"].sum() or 0)
        if extras:
            lines.append(f"extra columns kept out of the canonical table: {extras}")
        flagged = int(counts["rows_flagged"].sum() or 0)
        if flagged:
            lines.append(f"rows published with a warning: {flagged} (see .warnings)")
        if self.rejects.height:
            reasons = self.rejects.with_columns(
                pl.col("reason").str.replace(r"found \d+", "found N").str.slice(0, 60)
            )["reason"]
            top = Counter(reasons.to_list()).most_common(5)
            lines.append("reject reasons: " + "; ".join(f"{r} ×{n}" for r, n in top))
        for row in counts.filter(pl.col("status").is_in(["no_rows", "empty"])).head(5).iter_rows(named=True):
            lines.append(f"no data: {row['source_file']}: {row['error']}")
        failed = list(self.file_errors())
        for line in failed[:5]:
            lines.append(f"failed: {line}")
        if len(failed) > 5:
            lines.append(f"... and {len(failed) - 5} more failed files")
        return "\n".join(lines)


# --- Walking ----------------------------------------------------------------------------------------------------
def _scan_root(root: Path) -> Path:
    exports = root / "exports"
    # A linked exports/ is not followed: the walk of root then refuses it like any linked folder.
    return exports if exports.is_dir() and not exports.is_symlink() else root


def _printable(name: str) -> str:
    """A file name as text: bytes that are not UTF-8 (kept by the OS as surrogates) become U+FFFD."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _visible(name: str) -> str:
    """A file name as it may be shown: without bidi overrides, zero-width and other invisible format
    characters (a right-to-left override shows "x_\u202eslx.csv" as "x_xls.csv")."""
    if name.isascii():
        return name
    return "".join(c for c in name if unicodedata.category(c) != "Cf")


@dataclass(frozen=True)
class _Entry:
    """One file or folder the walk found: where it is, its name as ingest reports it (`relative`), and its
    lstat at walk time (the opened file must be that same file)."""

    path: Path
    relative: str
    refused: tuple[str, str] | None
    real: str = ""  # POSIX path relative to the scan root as the OS spells it (to open it)
    seen: os.stat_result | None = None


MAX_FOLDER_DEPTH = 32


def _folders(root: Path) -> Iterator[tuple[Path, list[str], list[str], int]]:
    """os.walk(root, followlinks=False) top-down with sorted folder names and each folder's depth, without
    recursion (Python 3.11's os.walk recurses once per level: a deep enough tree raises RecursionError).
    The caller may remove names from the folder list to skip them, as with os.walk."""
    stack = [(root, 0)]
    while stack:
        here, depth = stack.pop()
        try:
            with os.scandir(here) as listing:
                entries = list(listing)
        except OSError:
            continue
        dirnames, filenames = [], []
        for item in entries:
            try:
                is_dir = item.is_dir()  # a link to a folder is listed as a folder, as os.walk does
            except OSError:
                is_dir = False
            (dirnames if is_dir else filenames).append(item.name)
        dirnames.sort()
        yield here, dirnames, filenames, depth
        stack.extend(
            (here / name, depth + 1) for name in reversed(dirnames) if not (here / name).is_symlink()
        )


def _walk(root: Path) -> Iterator[_Entry]:
    """Every file and linked folder under root, sorted, never leaving root; refused and skipped ones carry
    (status, reason). Files are looked at with lstat only: nothing is opened, so a FIFO cannot block."""
    resolved_root = root.resolve()
    shown: set[str] = set()

    def unique(name: str) -> str:
        candidate, n = name, 1
        while candidate in shown:  # two names differing only by invisible characters
            n += 1
            candidate = f"{name}~{n}"
        shown.add(candidate)
        return candidate

    for here, dirnames, filenames, depth in _folders(root):
        if here == root and "truth" in dirnames:
            dirnames.remove("truth")  # a demo's ground truth is never input
        for name in list(dirnames):
            if name.startswith("."):
                dirnames.remove(name)
            elif (here / name).is_symlink():
                dirnames.remove(name)
                real = (here / name).relative_to(root).as_posix()
                refusal = ("failed", "symbolic link to a folder: not followed")
                yield _Entry(here / name, unique(_visible(_printable(real))), refusal, real)
            elif depth >= MAX_FOLDER_DEPTH:
                dirnames.remove(name)
                real = (here / name).relative_to(root).as_posix()
                refusal = ("failed", f"folder nested deeper than {MAX_FOLDER_DEPTH} levels: not read")
                yield _Entry(here / name, unique(_visible(_printable(real))), refusal, real)
        for name in sorted(filenames):
            path = here / name
            real = path.relative_to(root).as_posix()
            relative = unique(_visible(_printable(real)))
            lowered = name.lower()
            if _printable(real) != real:
                yield _Entry(path, relative, ("failed", "file name is not valid UTF-8: refused"), real)
                continue
            if any(part in lowered for part in _SUSPICIOUS_NAME_PARTS) or any(
                ord(c) < 32 or unicodedata.category(c) == "Cc" for c in name
            ):
                shown_name = _visible(name).encode("unicode_escape").decode("ascii")
                refusal = ("failed", f"suspicious file name '{shown_name}' (path tricks): refused")
                yield _Entry(path, relative, refusal, real)
                continue
            try:
                seen = os.lstat(path)
            except OSError as exc:
                yield _Entry(path, relative, ("failed", f"cannot be looked at ({exc.strerror})"), real)
                continue
            if stat.S_ISLNK(seen.st_mode):
                try:
                    target = path.resolve(strict=True)
                except (OSError, RuntimeError):
                    yield _Entry(path, relative, ("failed", "broken symbolic link"), real)
                    continue
                if not target.is_relative_to(resolved_root):
                    refusal = ("failed", "symbolic link points outside the sources folder: refused")
                    yield _Entry(path, relative, refusal, real)
                    continue
                # A link to a file inside the folder would ingest that file twice.
                inside = _visible(_printable(target.relative_to(resolved_root).as_posix()))
                refusal = ("skipped", f"symbolic link to {inside}, which is ingested itself")
                yield _Entry(path, relative, refusal, real)
                continue
            kind = not_regular(seen.st_mode)
            if kind is not None:
                yield _Entry(path, relative, ("failed", f"{kind}, not a regular file: refused"), real)
                continue
            yield _Entry(path, relative, None, real, seen)


def _is_not_data(path: Path) -> str | None:
    if path.name.startswith("."):
        return "hidden file"
    if path.name.startswith("~$"):
        return "office lock file"
    if path.suffix.lower() in _NOT_DATA_SUFFIXES:
        return f"not a data file ({path.suffix})"
    return None


def _default_source_ids(relatives: list[str]) -> dict[str, str]:
    """File stem as source_id; stems shared by several files are qualified with their folders."""
    stems = Counter(PurePosixPath(r).stem for r in relatives)
    ids: dict[str, str] = {}
    for relative in relatives:
        pure = PurePosixPath(relative)
        if stems[pure.stem] > 1:
            ids[relative] = "__".join([*pure.parent.parts, pure.stem]) if pure.parent.parts else pure.stem
        else:
            ids[relative] = pure.stem
    return ids


# --- One file ---------------------------------------------------------------------------------------------------
def _read_grid(
    root_fd: int, entry: _Entry, spec: SourceSpec | None, count: FileCount, limits: ReadLimits
) -> Grid | None:
    """Open the file the walk saw (confined, no link followed, never blocking) and read it within limits."""
    fd = open_confined(root_fd, entry.real, entry.seen)
    try:
        return _read_open_file(fd, entry.path, spec, count, limits)
    finally:
        os.close(fd)


def _over(what: str, value: int, limit: int, name: str) -> FileRejected:
    return FileRejected(
        f"{what} {value:,}, over the limit of {limit:,} ({name})", rows_note=f"over a read limit ({name})"
    )


def _read_open_file(
    fd: int, path: Path, spec: SourceSpec | None, count: FileCount, limits: ReadLimits
) -> Grid | None:
    size = os.fstat(fd).st_size
    if size == 0:
        count.status, count.error = "empty", "empty file (no bytes)"
        return None
    if size > limits.max_file_bytes:
        raise _over("file size in bytes", size, limits.max_file_bytes, "max_file_bytes")
    head = os.pread(fd, 65536, 0)
    if size <= len(head) and not head.strip():
        count.status, count.error = "empty", "empty file (only blanks)"
        return None
    kind = detect_kind(path, head)
    count.kind = kind
    if kind == "binary":
        raise FileRejected(
            "binary content, not a text export, spreadsheet or JSON", rows_note="binary content has no rows"
        )
    columns = spec.columns if spec else None
    sheet = spec.sheet if spec else None
    header_row = spec.header_row if spec else None
    if kind in ("xlsx", "xls"):
        count.encoding = kind
        source: Path | str | bytes | None = None
        if kind == "xlsx":
            with os.fdopen(os.dup(fd), "rb") as stream:
                check = check_xlsx(stream, size, limits)
            count.notes.extend(check.notes)
            source = check.replacement
        else:
            with os.fdopen(os.dup(fd), "rb") as stream:
                check_xls(stream, size, limits)
        if source is None:
            # The library opens the descriptor already checked, not the path (which could be swapped).
            source = f"/proc/self/fd/{fd}" if os.path.isdir("/proc/self/fd") else read_all(fd, size)
        return read_spreadsheet(source, sheet=sheet, header_row=header_row, columns=columns)
    if kind == "json":
        if size > limits.max_json_bytes:
            raise _over("JSON file size in bytes", size, limits.max_json_bytes, "max_json_bytes")
        data = read_all(fd, size)
        if json_too_deep(data, limits.max_json_depth):
            raise FileRejected(
                f"JSON nested deeper than {limits.max_json_depth} levels (max_json_depth)",
                rows_note="over a read limit (max_json_depth)",
            )
        return read_json(_decode(data, None, spec, count).text, columns, max_cells=limits.max_cells)
    if kind == "html" and size > limits.max_markup_bytes:
        raise _over("HTML/XML file size in bytes", size, limits.max_markup_bytes, "max_markup_bytes")
    scanned = scan_text(fd, size, head, limits)
    if scanned.nonblank_lines == 0:
        count.status, count.error = "empty", "empty file (only blanks)"
        return None
    # Counted before parsing, for a file rejected whole: its lines below one header line.
    count.rows_held = scanned.nonblank_lines - (0 if kind == "jsonl" else 1) if kind != "html" else None
    if scanned.nonblank_lines > limits.max_rows + 1:
        raise _over("non-blank lines", scanned.nonblank_lines, limits.max_rows, "max_rows")
    decoded = _decode(scanned.data, scanned, spec, count)
    long_reason = f"line longer than {limits.line_limit():,} bytes (max_line_bytes): not read"
    if kind == "jsonl":
        bad = {line: long_reason for line in scanned.long_lines}
        for line in json_too_deep(scanned.data, limits.max_json_depth, per_line=True) - scanned.long_lines:
            bad[line] = f"JSON nested deeper than {limits.max_json_depth} levels (max_json_depth)"
        return read_json_lines(decoded.text, columns, bad, max_cells=limits.max_cells)
    if kind == "html":
        grid = read_html(
            decoded.text,
            header_row,
            columns,
            max_cells=limits.max_cells,
            max_cell_chars=limits.line_limit(),
        )
        if "urn:schemas-microsoft-com:office:spreadsheet" in decoded.text[:65536]:
            grid.dialect = grid.dialect.replace("html table", "Excel 2003 XML spreadsheet")
        else:
            grid.dialect = f"{grid.dialect} in a .{path.suffix.lstrip('.').lower() or 'file'} file"
        return grid
    grid = read_delimited(
        decoded,
        delimiter=spec.delimiter if spec else None,
        header_row=header_row,
        columns=columns,
        long_lines=scanned.long_lines,
        line_limit=limits.line_limit(),
        max_cells=limits.max_cells,
    )
    if scanned.cr_only:
        grid.notes.insert(0, "Mac CR line endings")
    return grid


def _decode(
    data: bytes, scanned: ScannedText | None, spec: SourceSpec | None, count: FileCount
) -> DecodedText:
    hint = spec.encoding if spec and not (scanned and scanned.transcoded_from) else None
    try:
        decoded = decode_bytes(data, hint)
    except DecodeError as exc:
        raise FileRejected(str(exc)) from exc
    encoding = decoded.encoding
    if scanned is not None and scanned.transcoded_from and encoding.startswith("utf-8"):
        # The scan re-encoded a UTF-16/32 file as UTF-8: report what the file is.
        encoding = scanned.transcoded_from + encoding[len("utf-8") :]
    count.encoding = encoding
    count.notes.extend(decoded.notes)
    return decoded


def _fix_legacy_cells(frame: pl.DataFrame, columns: list[str], count: FileCount) -> pl.DataFrame:
    """Spreadsheet/JSON cells typed in a legacy font come as mojibake text: convert them like a text file."""
    # Up to 2,000 values per column spread over the whole file, not only its head.
    step = max(1, frame.height // 2000)
    sample = " ".join(
        " ".join(v for v in frame[c].gather_every(step).head(2000).drop_nulls().to_list())
        for c in columns
        if frame[c].dtype == pl.String
    )
    if sample.isascii():
        return frame
    font, score, as_is = detect_legacy_text(sample)
    if font is None:
        return frame
    convert = LEGACY_CONVERTERS[font]
    count.encoding = f"{count.encoding}+{font}"
    count.notes.append(f"cells read as {font} font mojibake (score {score:.2f} vs {as_is:.2f}): converted")
    return frame.with_columns(_convert_distinct(frame[c], convert) for c in columns)


def _convert_distinct(column: pl.Series, convert: Callable[[str], str]) -> pl.Series:
    """Convert each distinct value once and join back: the domain is far smaller than the row count."""
    uniques = column.drop_nulls().unique()
    converted = pl.Series([convert(v) for v in uniques.to_list()], dtype=pl.String)
    return column.replace_strict(uniques, converted, default=None, return_dtype=pl.String)


def _restore_tcvn3_capitals(frame: pl.DataFrame, columns: list[str]) -> pl.DataFrame:
    """Words typed in capitals in TCVN3 text ("NGUYễN" → "NGUYỄN"), fixed once per distinct affected value."""
    fixed = []
    for column in columns:
        values = frame[column]
        affected = values.filter(values.str.contains("[A-Z]") & values.str.contains(r"[^\x00-\x7F]")).unique()
        if affected.len():
            restored = pl.Series([restore_tcvn3_capitals(v) for v in affected.to_list()], dtype=pl.String)
            fixed.append(values.replace(affected, restored))
    return frame.with_columns(fixed) if fixed else frame


def _restore_tcvn3_capital_columns(frame: pl.DataFrame, columns: list[str], count: FileCount) -> pl.DataFrame:
    """In TCVN3 a toned capital has no byte of its own, so "NỮ" arrives as "Nữ". In a column typed in capitals
    (its values with ASCII letters have no ASCII lower case, like "NAM"), such values are upper-cased too."""
    fixed = []
    for column in columns:
        value = pl.col(column)
        stats = frame.select(
            capitals=((value.str.count_matches("[A-Z]") >= 2) & ~value.str.contains("[a-z]")).sum(),
            lower=value.str.contains("[a-z]").sum(),
        ).row(0)
        if stats[0] and stats[1] <= 0.02 * stats[0]:
            fixed.append(column)
    if not fixed:
        return frame
    count.notes.append(f"TCVN3 capitals restored in column(s) typed in capitals: {', '.join(fixed)}")
    return frame.with_columns(
        pl.when(pl.col(c).str.contains("[a-z]"))
        .then(pl.col(c))
        .otherwise(pl.col(c).str.to_uppercase())
        .alias(c)
        for c in fixed
    )


def _value_rejects(frame: pl.DataFrame, header: list[str], max_field_bytes: int) -> pl.Expr:
    """For each row, 'column<TAB>reason' of its first unusable field, else null."""
    checks = []
    for i, name in enumerate(header):
        column = pl.col(f"c{i}")
        checks.append(
            pl.when(column.str.contains("\x00", literal=True))
            .then(pl.lit(f"{name}\tNUL byte in the field"))
            .when(column.str.len_bytes() > max_field_bytes)
            .then(pl.lit(f"{name}\tfield longer than {max_field_bytes:,} bytes"))
            .when(column.str.contains("\ufffd", literal=True))
            .then(pl.lit(f"{name}\tundecodable bytes in the field"))
        )
    return pl.coalesce(checks) if checks else pl.lit(None, dtype=pl.String)


def _raw_line(frame: pl.DataFrame, delimiter: str) -> pl.Expr:
    columns = [c for c in frame.columns if c not in ("source_row", "_reject", "_unusable")]
    return pl.concat_str(
        [pl.col(c).fill_null("").str.slice(0, RAW_LINE_LIMIT) for c in columns], separator=delimiter
    ).str.slice(0, RAW_LINE_LIMIT)


def _to_canonical(
    grid: Grid,
    spec: SourceSpec | None,
    source_id: str,
    relative: str,
    count: FileCount,
    max_field_bytes: int,
) -> tuple[pl.DataFrame, list[dict[str, object]]]:
    mapping = map_header(grid.header, spec.columns if spec else None)
    count.columns = mapping.describe()
    count.extra_columns = len(mapping.extras)
    if mapping.extras:
        count.notes.append(f"extra columns kept out: {', '.join(repr(e) for e in mapping.extras[:10])}")
    count.notes.extend(mapping.notes)
    if not mapping.has_name:
        raise FileRejected(
            f"no recognisable {active_vocabulary().required_label} column in the header "
            f"[{', '.join(repr(h) for h in grid.header[:8])}]"
        )

    frame = grid.frame
    data_columns = [c for c in frame.columns if c != "source_row"]
    if grid.needs_nfc:
        frame = _fix_legacy_cells(frame, data_columns, count)
        frame = frame.with_columns(pl.col(c).str.normalize("NFC") for c in data_columns)

    # Report-template rows (column numbers, repeated headers, totals, signatures, ...) are rejects, not records.
    frame, template = split_template_rows(frame, grid.header, mapping)
    template_rejects = [
        {
            "source_file": relative,
            "source_row": row,
            "field": None,
            "reason": f"template row: {kind}",
            "raw_line": raw,
        }
        for row, kind, raw in template.select(
            "source_row", "kind", _raw_line(template.drop("kind"), grid.delimiter).alias("raw")
        ).iter_rows()
    ]
    if template_rejects:
        count.notes.append(describe_template_rows(template["kind"]))

    # One cheap pass says whether any field is unusable; the reasons are worked out on those rows only.
    unusable = pl.any_horizontal(
        pl.col(c).str.contains("[\x00\ufffd]") | (pl.col(c).str.len_bytes() > max_field_bytes)
        for c in data_columns
    )
    frame = frame.with_columns(_unusable=unusable.fill_null(False))
    bad = frame.filter(pl.col("_unusable")).with_columns(
        _value_rejects(frame, grid.header, max_field_bytes).alias("_reject")
    )
    rejects = template_rejects + [
        {
            "source_file": relative,
            "source_row": row,
            "field": problem.split("\t", 1)[0],
            "reason": problem.split("\t", 1)[1],
            "raw_line": raw,
        }
        for row, problem, raw in bad.select(
            "source_row", "_reject", _raw_line(bad, grid.delimiter).alias("raw")
        ).iter_rows()
    ]
    frame = frame.filter(~pl.col("_unusable")).drop("_unusable")

    by_target = {target: f"c{position}" for position, target in mapping.columns.items()}
    if count.encoding and "tcvn3" in count.encoding and not grid.needs_nfc:
        frame = _restore_tcvn3_capitals(frame, list(by_target.values()))
    if count.encoding and "tcvn3" in count.encoding:
        frame = _restore_tcvn3_capital_columns(frame, list(by_target.values()), count)
    clean = {target: pl.col(column).str.strip_chars() for target, column in by_target.items()}
    clean = {target: pl.when(expr.str.len_bytes() > 0).then(expr) for target, expr in clean.items()}
    clean, split_notes, split_warnings = join_split_columns(frame, clean)
    count.notes.extend(split_notes)
    for row, reason in split_warnings.iter_rows():
        grid.flagged_rows[row] = f"{grid.flagged_rows[row]}; {reason}" if row in grid.flagged_rows else reason
    raw_columns = active_vocabulary().raw_columns
    if "full_name" not in clean and "full_name" in raw_columns:
        parts = [clean[p] for p in (FAMILY_PART, MIDDLE_PART, GIVEN_PART) if p in clean]
        clean["full_name"] = pl.when(pl.any_horizontal(p.is_not_null() for p in parts)).then(
            pl.concat_str(parts, separator=" ", ignore_nulls=True)
        )
        count.notes.append("full_name assembled from family/middle/given name columns")
        if FAMILY_PART not in clean:
            # The split that lost family names before: say so instead of publishing given names as full names.
            count.notes.append("no family-name column recognised: full_name holds only the given/middle names")
    fallback_id = pl.format("{}-{}", pl.lit(source_id), pl.col("source_row"))
    if "record_id" in clean:
        missing_ids = frame.select(clean["record_id"].is_null().sum()).item()
        if missing_ids:
            count.notes.append(f"{missing_ids} row(s) without an id: record_id set to {source_id}-<row>")
        record_id = clean["record_id"].fill_null(fallback_id)
    else:
        record_id = fallback_id
    exprs = []
    for column in raw_columns:
        if column == "record_id":
            exprs.append(record_id.alias(column))
        elif column == "source_id":
            exprs.append(pl.lit(source_id, dtype=pl.String).alias(column))
        elif column in clean:
            exprs.append(clean[column].cast(pl.String).alias(column))
        else:
            exprs.append(pl.lit(None, dtype=pl.String).alias(column))
    exprs.append(pl.lit(relative, dtype=pl.String).alias("source_file"))
    exprs.append(pl.col("source_row").cast(pl.Int64))
    return frame.select(exprs), rejects


def _ingest_file(
    root_fd: int,
    entry: _Entry,
    spec: SourceSpec | None,
    source_id: str,
    count: FileCount,
    limits: ReadLimits,
) -> tuple[pl.DataFrame | None, list[dict[str, object]], list[dict[str, object]]]:
    relative = entry.relative
    grid = _read_grid(root_fd, entry, spec, count, limits)
    if grid is None:
        return None, [], []
    count.dialect = grid.dialect
    count.notes.extend(grid.notes)
    columns = spec.columns if spec else None
    tables: list[pl.DataFrame] = []
    rejects = [{"source_file": relative, **r.as_dict()} for r in grid.rejects]
    flagged: dict[int, str] = {}
    described: list[str] = []
    extras = 0
    for part in [grid, *grid.more]:
        if not map_header(part.header, columns).has_name:  # readers check this; never quote the header
            raise FileRejected(
                f"no recognisable {active_vocabulary().required_label} column in the header row "
                f"({len(part.header)} column(s))"
            )
        table, value_rejects = _to_canonical(part, spec, source_id, relative, count, limits.max_field_bytes)
        tables.append(table)
        rejects.extend(value_rejects)
        flagged.update(part.flagged_rows)
        described.append(count.columns or "")
        extras += count.extra_columns
    if len(described) > 1:
        count.columns = " | ".join(described)
        count.extra_columns = extras
    table = tables[0] if len(tables) == 1 else pl.concat(tables, how="vertical")
    warnings = [
        {"source_file": relative, "source_row": row, "reason": why} for row, why in sorted(flagged.items())
    ]
    count.rows_in = grid.rows_in
    count.rows_out = table.height
    count.rows_rejected = len(rejects)
    count.rows_flagged = len(warnings)
    if grid.rows_in == 0:
        count.status, count.error = "no_rows", "header only: 0 data rows"
    return table, rejects, warnings


def _file_reject(relative: str, reason: str) -> dict[str, object]:
    return {"source_file": relative, "source_row": None, "field": None, "reason": reason, "raw_line": None}


def ingest_directory(
    root: Path,
    registry: Path | None = None,
    *,
    max_field_bytes: int | None = None,
    limits: ReadLimits | None = None,
    dataset: DatasetSpec | str | None = None,
) -> IngestResult:
    """Ingest every export under `root` (only `root/exports` when it exists; never `truth/`).

    `registry` is a source registry YAML; without one, `root/registry.yaml` or `root/sources.yaml` is used when
    present (a regular file inside root: a link or anything else is refused), and otherwise every file is its
    own source named after its stem. A file that cannot be read, or breaks one of `limits`, is rejected whole
    (one row in `.rejects` with a null `source_row`, status "failed", its rows counted as rejected when they
    can be counted from the file); a row that cannot be parsed is rejected alone. Rows decoded with a
    fallback (mixed-encoding files) are published and listed in `.warnings`. Headers are read with `dataset`'s
    vocabulary (residents by default) and rows come out in its canonical raw columns.
    """
    with use_vocabulary(vocabulary_of(dataset)):
        return _ingest(root, None, registry, _limits(limits, max_field_bytes))


def vocabulary_of(dataset: DatasetSpec | str | None) -> HeaderVocabulary:
    """The header vocabulary of a register (its spec's synonyms; residents' own rich one by default)."""
    if dataset is None:
        return RESIDENTS_VOCABULARY
    spec = get_dataset(dataset)
    if not spec.headers:
        return RESIDENTS_VOCABULARY
    return make_vocabulary(spec.name, spec.headers, spec.raw_columns, spec.required_any)


def _limits(limits: ReadLimits | None, max_field_bytes: int | None) -> ReadLimits:
    limits = limits or DEFAULT_LIMITS
    if max_field_bytes is not None:
        limits = replace(limits, max_field_bytes=max_field_bytes)
    return limits


def source_file_paths(root: Path) -> dict[str, Path]:
    """`list_source_files(root)` with each name's path on disk (names are shown without invisible
    characters, so a name is not always its path): for fingerprinting what ingest will read."""
    root = Path(root)
    if not root.is_dir():
        raise NotADirectoryError(f"{root}: not a directory")
    return {entry.relative: entry.path for entry in _walk(_scan_root(root))}


def failed_files(counts: pl.DataFrame) -> list[str]:
    """'file: reason' for every file of ingest's per-file `counts` that could not be ingested."""
    failed = counts.filter(pl.col("status") == "failed").select("source_file", "error")
    return [f"{name}: {error}" for name, error in failed.rows()]


def _readable_source_ids(entries: list[_Entry]) -> dict[str, str]:
    readable = [e.relative for e in entries if e.refused is None and _is_not_data(e.path) is None]
    return _default_source_ids(readable)


def default_source_ids(root: Path) -> dict[str, str]:
    """The source id each readable file under `root` gets before a registry renames it (its stem, qualified
    with its folders when stems repeat): besides its own bytes and the registry, all a file's rows depend on."""
    root = Path(root)
    if not root.is_dir():
        raise NotADirectoryError(f"{root}: not a directory")
    return _readable_source_ids(list(_walk(_scan_root(root))))


def list_source_files(root: Path) -> list[str]:
    """Every file `ingest_directory(root)` accounts for (one `.counts` row each), as its `source_file` names
    them: relative to `root/exports` when it exists, sorted as ingest walks them. Refused and skipped files are
    listed too, so that ingesting these names in any grouping accounts for the same files."""
    root = Path(root)
    if not root.is_dir():
        raise NotADirectoryError(f"{root}: not a directory")
    return [entry.relative for entry in _walk(_scan_root(root))]


def ingest_files(
    root: Path,
    files: Iterable[str],
    registry: Path | None = None,
    *,
    max_field_bytes: int | None = None,
    limits: ReadLimits | None = None,
    dataset: DatasetSpec | str | None = None,
) -> IngestResult:
    """Ingest only `files` (names as `list_source_files(root)` gives them) of the sources under `root`.

    Each file's rows, rejects and counts are exactly those `ingest_directory(root)` gives it: source ids are
    derived from every file under `root`, so a batch of files ingests the same as the whole folder would.
    A name that ingest would not find under `root` raises FileNotFoundError naming it.
    """
    wanted = list(dict.fromkeys(files))
    with use_vocabulary(vocabulary_of(dataset)):
        return _ingest(root, wanted, registry, _limits(limits, max_field_bytes))


def _find_registry(root: Path) -> Path | None:
    """root/registry.yaml or root/sources.yaml, only as a regular file of root itself."""
    for name in REGISTRY_FILE_NAMES:
        try:
            seen = os.lstat(root / name)
        except FileNotFoundError:
            continue
        kind = not_regular(seen.st_mode)
        if kind is not None:
            raise RegistryError(f"{name}: {kind}, not a regular file inside the sources folder: refused")
        return root / name
    return None


def _ingest(root: Path, files: list[str] | None, registry: Path | None, limits: ReadLimits) -> IngestResult:
    root = Path(root)
    if not root.is_dir():
        raise NotADirectoryError(f"{root}: not a directory")
    if registry is None:
        found = _find_registry(root)
        loaded = load_registry(found, confine_to=root) if found is not None else None
    else:
        loaded = load_registry(registry)
    scan_root = _scan_root(root)

    entries = list(_walk(scan_root))
    default_ids = _readable_source_ids(entries)
    if files is not None:
        known = {e.relative for e in entries}
        missing = [name for name in files if name not in known]
        if missing:
            raise FileNotFoundError(
                f"{scan_root}: no such source file(s) to ingest: {', '.join(repr(m) for m in missing[:5])}"
                + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
            )
        chosen = set(files)
        entries = [e for e in entries if e.relative in chosen]

    tables: list[pl.DataFrame] = []
    rejects: list[dict[str, object]] = []
    warnings: list[dict[str, object]] = []
    counts: list[FileCount] = []
    root_fd = os.open(scan_root, os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_CLOEXEC", 0))
    try:
        for entry in entries:
            path, relative = entry.path, entry.relative
            count = FileCount(source_file=relative)
            counts.append(count)
            if entry.refused is not None:
                count.status, count.error = entry.refused
                if count.status == "failed":
                    rejects.append(_file_reject(relative, count.error))
                continue
            skip = _is_not_data(path)
            if skip is not None:
                count.status, count.error = "skipped", skip
                continue
            if relative != entry.real:
                count.notes.append("file name holds invisible or bidi control characters: shown without them")
            spellings = [relative, entry.real, path.relative_to(root).as_posix()]
            spec = loaded.source_for(spellings) if loaded else None
            source_id = spec.source_id_for(default_ids[relative]) if spec else default_ids[relative]
            count.source_id = source_id
            count.freshness_days = spec.freshness_days if spec else 1
            try:
                table, file_rejects, file_warnings = _ingest_file(
                    root_fd, entry, spec, source_id, count, limits
                )
            except FileRejected as exc:
                listed = [{"source_file": relative, **r.as_dict()} for r in exc.row_rejects]
                _reject_whole(count, rejects, str(exc), exc.rows, exc.rows_note, listed)
                continue
            except OSError as exc:
                reason = f"unreadable: {type(exc).__name__} ({exc.strerror or 'error'})"
                _reject_whole(count, rejects, reason, None, "the file could not be read")
                continue
            except RecursionError:
                _reject_whole(count, rejects, "nested too deeply to read", None, "over a read limit")
                continue
            except MemoryError:
                _reject_whole(count, rejects, "too large to read in memory", None, "over a read limit")
                continue
            except (KeyboardInterrupt, SystemExit):
                raise
            except BaseException as exc:  # a library panic too (pyo3 PanicException is not an Exception)
                # One file never stops the province; the error's text may quote the file: only its kind.
                reason = f"unreadable: {type(exc).__name__}"
                _reject_whole(count, rejects, reason, None, "the file could not be read")
                continue
            if table is not None:
                tables.append(table)
            rejects.extend(file_rejects)
            warnings.extend(file_warnings)
    finally:
        os.close(root_fd)

    raw_columns = active_vocabulary().raw_columns
    table = (
        pl.concat(tables, how="vertical")
        if tables
        else pl.DataFrame(schema={**dict.fromkeys(raw_columns, pl.String()), **LINEAGE_COLUMNS})
    )
    table = table.select([*raw_columns, *LINEAGE_COLUMNS])
    return IngestResult(
        table=table,
        rejects=pl.DataFrame(rejects, schema=REJECT_SCHEMA)
        if rejects
        else pl.DataFrame(schema=REJECT_SCHEMA),
        counts=pl.DataFrame([c.as_dict() for c in counts], schema=COUNT_SCHEMA),
        warnings=pl.DataFrame(warnings, schema=WARNING_SCHEMA)
        if warnings
        else pl.DataFrame(schema=WARNING_SCHEMA),
        root=root,
        registry=loaded,
    )


def _reject_whole(
    count: FileCount,
    rejects: list[dict[str, object]],
    reason: str,
    rows: int | None,
    rows_note: str | None,
    listed: list[dict[str, object]] | None = None,
) -> None:
    """The file is rejected whole: every row it holds, counted from the file itself, is a rejected row.
    Rows that could be read (`listed`) are rejects of their own, each with its row and raw line; otherwise
    one reject without a row stands for the file and its count."""
    count.status, count.error = "failed", reason
    count.rows_out = 0
    if listed:
        count.rows_in = count.rows_rejected = len(listed)
        rejects.extend(listed)
        return
    held = rows if rows is not None else count.rows_held
    if held is None:
        held = 0
        count.notes.append(f"rows not counted: {rows_note or 'the file could not be read'}")
    count.rows_in = count.rows_rejected = max(held, 0)
    rejects.append(_file_reject(count.source_file, reason))

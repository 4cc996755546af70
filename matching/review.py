"""The stewards' review queue: uncertain pairs explained field by field, exported to xlsx/csv, and the stewards'
decisions read back on the next run as must-link ("same") / cannot-link ("different").

A decision row names its pair by `left_record_key, right_record_key` (the records' stable keys: they survive
re-ordering and re-exports; preferred), by `left_record_id, left_source_id, right_record_id, right_source_id`
(what the sources say), or by `left_row_uid, right_row_uid` (positions in this run's input: only good for the run
that wrote the queue).

Decision values: `giống` / `khác` / `chưa rõ` (with or without diacritics, any case) or `same` / `different` /
`unsure`. `chưa rõ` (unsure) decides nothing: the pair stays in the queue.

The steward workbook (`reports.review_workbook.write_review_workbook`) has a sheet `Rà soát` with two header
rows, the Vietnamese labels (row 1) over the English column names (row 2); the readers here find the English row
(or, when it was deleted, map the Vietnamese labels of the decision and key columns) and number data rows as the
spreadsheet shows them. The layout constants live here, not in `reports`, because matching and the store read
the workbook back and rooms never import later rooms.
"""

from __future__ import annotations

import unicodedata
import zipfile
from pathlib import Path

import polars as pl

from sachsong.matching.compare import COMPARISONS, SCORED, level_label
from sachsong.safetext import neutralize_frame, restore_formula_text, safe_workbook

# Displayed side by side: what each source said, after standardization.
SHOWN_FIELDS: tuple[str, ...] = (
    "record_key",
    "record_id",
    "source_id",
    "name_norm",
    "dob",
    "dob_precision",
    "sex_code",
    "cccd",
    "cmnd",
    "phone_e164",
    "ward_code",
    "address",
    "updated_ts",
)
DECISION_VALUES = {"same": "same", "different": "different", "giống": "same", "khác": "different"}
DECISIONS = ("same", "different", "unsure")
DECISION_CHOICES_VI = ("giống", "khác", "chưa rõ")  # the workbook's drop-down, in DECISIONS' order
# What a steward may write, folded (lower case, no diacritics, đ → d, single spaces) → the stored decision.
_DECISION_WORDS: dict[str, str] = {
    "giong": "same",
    "giong nhau": "same",
    "same": "same",
    "khac": "different",
    "khac nhau": "different",
    "different": "different",
    "chua ro": "unsure",
    "khong ro": "unsure",
    "unsure": "unsure",
}

# The steward workbook's layout (written by reports.review_workbook, read here, by dedupe and by the store).
REVIEW_SHEET = "Rà soát"
LEGACY_REVIEW_SHEET = "review"  # the sheet `write_review` writes
GUIDE_SHEET = "Hướng dẫn"
DECISION_COLUMN = "decision"
KEY_COLUMNS = ("left_record_key", "right_record_key")
# Vietnamese labels of the columns the readers need, for a file whose English header row was deleted.
REQUIRED_LABELS_VI: dict[str, str] = {
    "decision": "Quyết định",
    "left_record_key": "Khóa bản ghi 1",
    "right_record_key": "Khóa bản ghi 2",
}
DEFAULT_MAX_DECISION_BYTES = 50 * 1024 * 1024
# An xlsx is a zip: bound what it unpacks to as well, so a small hostile file cannot fill the memory.
_MAX_UNPACKED_RATIO = 20
_HEADER_SEARCH_ROWS = 10


class DecisionFileError(ValueError):
    """A steward decision file cannot be read; the message names the file, the row and the field."""


def fold_text(expr: pl.Expr) -> pl.Expr:
    """Lower case, no diacritics (đ → d), spaces collapsed: how decision words and header labels are compared."""
    return (
        expr.cast(pl.String)
        .str.normalize("NFD")
        .str.replace_all(r"\p{M}", "")
        .str.to_lowercase()
        .str.replace_all("đ", "d", literal=True)
        .str.replace_all(r"\s+", " ")
        .str.strip_chars()
    )


def decision_expr(expr: pl.Expr) -> pl.Expr:
    """A steward's decision cell → `same` / `different` / `unsure`; null when empty or not one of the words."""
    return fold_text(expr).replace_strict(_DECISION_WORDS, default=None, return_dtype=pl.String)


def canonical_decision(value: str | None) -> str | None:
    """`decision_expr` for one value (the `sachsong decide` command)."""
    if value is None:
        return None
    return pl.select(decision_expr(pl.lit(value, dtype=pl.String))).item()


def _fold_one(text: str) -> str:
    return pl.select(fold_text(pl.lit(text, dtype=pl.String))).item() or ""


def build_review(scored: pl.DataFrame, std: pl.DataFrame, extra: pl.DataFrame | None = None) -> pl.DataFrame:
    """Pairs in the review band (plus `extra` pairs, e.g. links cut while splitting a cluster), explained.

    Columns: pair ids, probability, match_weight, reason, then per comparison `<c>` (level label) and
    `<c>_weight`, then `left_<field>` / `right_<field>` side by side, and an empty `decision` for stewards.
    """
    queue = scored.filter(pl.col("band") == "review").with_columns(
        pl.coalesce(pl.col("hard_rule"), pl.lit("uncertain score")).alias("reason")
    )
    if extra is not None and extra.height:
        cut = scored.join(extra.select("left_uid", "right_uid"), on=["left_uid", "right_uid"], how="semi")
        cut = cut.filter(pl.col("band") == "link").with_columns(
            pl.lit("link cut: would join records that cannot be one person").alias("reason")
        )
        queue = pl.concat([queue, cut], how="vertical_relaxed")
    shown = [c for c in SHOWN_FIELDS if c in std.columns]
    side = std.select("row_uid", *shown)
    left = side.rename({c: f"left_{c}" for c in side.columns}).rename({"left_row_uid": "left_uid"})
    right = side.rename({c: f"right_{c}" for c in side.columns}).rename({"right_row_uid": "right_uid"})
    queue = queue.join(left, on="left_uid", how="left").join(right, on="right_uid", how="left")
    explain = []
    for name in COMPARISONS:
        explain.append(level_label(name).alias(name))
    for name in SCORED:
        explain.append(pl.col(f"{name}_weight").round(2))
    columns = [
        pl.col("left_uid").alias("left_row_uid"),
        pl.col("right_uid").alias("right_row_uid"),
        pl.col("probability").round(4),
        pl.col("match_weight").round(2),
        "reason",
        *explain,
        pl.col("tf_given").round(2),
        pl.col("tf_family").round(2),
        pl.col("tf_middle").round(2),
        *(
            pl.col(c).round(2)
            for c in ("name_dependence_weight", "household_dependence_weight", "namesake_weight")
            if c in queue.columns
        ),
    ]
    for field in shown:
        columns += [f"left_{field}", f"right_{field}"]
    return (
        queue.select(columns)
        .with_columns(pl.lit(None, dtype=pl.String).alias("decision"))
        .sort(["probability", "left_row_uid", "right_row_uid"], descending=[True, False, False])
    )


def write_review(review: pl.DataFrame, path: str | Path) -> Path:
    """Write the review queue as .xlsx (one sheet, header frozen) or .csv, by extension.

    Source values reach stewards' spreadsheets here: every text cell that a spreadsheet would evaluate (`=`, `+`,
    `-`, `@`, ...) gets a leading quote and the workbook writes strings as strings (no formula, no hyperlink);
    `read_decision_file` removes the quote again.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".xlsx", ".csv"):
        raise ValueError(f"{path}: the review queue is written as .xlsx or .csv, got '{path.suffix}'")
    path.parent.mkdir(parents=True, exist_ok=True)
    flat = neutralize_frame(review.with_columns(pl.col(pl.Date, pl.Datetime).cast(pl.String)))
    if suffix == ".xlsx":
        workbook = safe_workbook(path, nan_inf_to_errors=True)
        try:
            flat.write_excel(workbook, worksheet="review", freeze_panes=(1, 0), autofit=True)
        finally:
            workbook.close()
    else:
        flat.write_csv(path)
    return path


def read_decision_file(path: str | Path, *, max_bytes: int = DEFAULT_MAX_DECISION_BYTES) -> pl.DataFrame:
    """Read a decisions file (.xlsx, .csv or .parquet) with every column as a string, plus `file_row`.

    An xlsx is read from its `Rà soát` sheet (the steward workbook), else its `review` sheet (`write_review`),
    else its first sheet. The header is the row holding a `decision` column (the English row under the
    Vietnamese labels in the steward workbook); `file_row` is the row number the spreadsheet shows.
    """
    path = Path(path)
    if path.suffix.lower() == ".parquet":
        frame = pl.read_parquet(path).drop("file_row", strict=False)
        frame = frame.with_columns(pl.all().cast(pl.String)).with_row_index("file_row", offset=1)
        return frame.with_columns(pl.col("file_row").cast(pl.Int64))
    return _read_sheet(path, strict=False, max_bytes=max_bytes)


def read_decisions(path: str | Path, *, max_bytes: int = DEFAULT_MAX_DECISION_BYTES) -> pl.DataFrame:
    """A steward's filled review workbook (.xlsx or .csv) → `left_record_key, right_record_key, decision, file_row`.

    `decision` is `same`, `different` or `unsure` (`giống` / `khác` / `chưa rõ` accepted with or without
    diacritics, any case); rows with an empty decision are skipped. The file is taken whole or not at all: a
    missing sheet or key column, a decision that is not one of the choices, or a decided row without both record
    keys raises `DecisionFileError` naming the file, the row and the field (never the cell's value).
    """
    path = Path(path)
    if path.suffix.lower() not in (".xlsx", ".csv"):
        raise DecisionFileError(
            f"{path.name}: decisions are read from the review workbook (.xlsx) or its .csv, got '{path.suffix}'"
        )
    frame = _read_sheet(path, strict=True, max_bytes=max_bytes)
    missing = [c for c in (DECISION_COLUMN, *KEY_COLUMNS) if c not in frame.columns]
    if missing:
        raise DecisionFileError(
            f"{path.name}: no column {', '.join(repr(c) for c in missing)} in the header row (the review "
            "workbook's decision and record-key columns are needed; do not delete or rename them)"
        )
    written = frame.select(
        "file_row",
        *(pl.col(c).str.strip_chars().alias(c) for c in KEY_COLUMNS),
        pl.col(DECISION_COLUMN).str.strip_chars().alias("written"),
        decision_expr(pl.col(DECISION_COLUMN)).alias("decision"),
    ).filter(pl.col("written").is_not_null() & (pl.col("written") != ""))
    left, right = KEY_COLUMNS
    checks = [
        (
            pl.col("decision").is_null(),
            DECISION_COLUMN,
            "not one of giống / khác / chưa rõ (same / different / unsure)",
        ),
        (pl.col(left).is_null() | (pl.col(left) == ""), left, "empty: a decided pair needs both record keys"),
        (
            pl.col(right).is_null() | (pl.col(right) == ""),
            right,
            "empty: a decided pair needs both record keys",
        ),
        (pl.col(left) == pl.col(right), right, "names the same record as left_record_key"),
    ]
    problems = pl.concat(
        [
            written.filter(condition.fill_null(False)).select(
                "file_row", pl.lit(field).alias("field"), pl.lit(kind).alias("kind")
            )
            for condition, field, kind in checks
        ]
    ).sort("file_row", maintain_order=True)
    if problems.height:
        first = problems.row(0, named=True)
        more = f" ({problems.height - 1} more problem(s) in this file)" if problems.height > 1 else ""
        raise DecisionFileError(
            f"{path.name}: row {first['file_row']}, field '{first['field']}': {first['kind']}{more}; "
            "the whole file is refused, none of its decisions is used"
        )
    return written.select(*KEY_COLUMNS, "decision", "file_row")


def _read_sheet(path: Path, *, strict: bool, max_bytes: int) -> pl.DataFrame:
    """The decision sheet of an .xlsx or a .csv: named columns (all strings, formula quotes removed), `file_row`."""
    suffix = path.suffix.lower()
    if suffix not in (".xlsx", ".csv"):
        raise DecisionFileError(
            f"{path.name}: decisions are read from .xlsx, .csv or .parquet, got '{path.suffix}'"
        )
    try:
        size = path.stat().st_size
    except OSError as error:
        raise DecisionFileError(f"{path.name}: cannot be read ({type(error).__name__})") from None
    if size > max_bytes:
        raise DecisionFileError(
            f"{path.name}: {size} bytes, more than the limit of {max_bytes} for a decisions file"
        )
    if suffix == ".xlsx":
        rows, first_row = _xlsx_rows(path, strict=strict, max_bytes=max_bytes)
    else:
        rows, first_row = _csv_rows(path), 1
    return _apply_header(rows, first_row, path.name, strict=strict)


def _pick_sheet(sheets: list[str], name: str, *, strict: bool) -> str:
    folded = {_fold_one(s): s for s in reversed(sheets)}  # the first of equal names wins
    for wanted in (REVIEW_SHEET, LEGACY_REVIEW_SHEET):
        if _fold_one(wanted) in folded:
            return folded[_fold_one(wanted)]
    if not strict and sheets:
        return sheets[0]
    raise DecisionFileError(
        f"{name}: no sheet '{REVIEW_SHEET}' (the review workbook's decision sheet; the workbook has "
        f"{len(sheets)} sheet(s): {', '.join(repr(s[:31]) for s in sheets[:5])})"
    )


def _xlsx_rows(path: Path, *, strict: bool, max_bytes: int) -> tuple[pl.DataFrame, int]:
    import fastexcel
    import openpyxl

    try:
        with zipfile.ZipFile(path) as archive:
            unpacked = sum(member.file_size for member in archive.infolist())
    except (zipfile.BadZipFile, OSError) as error:
        raise DecisionFileError(
            f"{path.name}: not a readable .xlsx workbook ({type(error).__name__})"
        ) from None
    if unpacked > max_bytes * _MAX_UNPACKED_RATIO:
        raise DecisionFileError(
            f"{path.name}: the workbook unpacks to more than the limit for a decisions file"
        )
    try:
        reader = fastexcel.read_excel(str(path))
        sheet = _pick_sheet(list(reader.sheet_names), path.name, strict=strict)
        rows = reader.load_sheet(sheet, header_row=None, dtypes="string").to_polars()
        # fastexcel starts the sheet at its first non-empty row; find that row's number for the messages.
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
        try:
            first_row = 1
            probe = workbook[sheet].iter_rows(min_row=1, max_row=_HEADER_SEARCH_ROWS * 10, values_only=True)
            for number, cells in enumerate(probe, start=1):
                if any(cell is not None and cell != "" for cell in cells):
                    first_row = number
                    break
        finally:
            workbook.close()
    except DecisionFileError:
        raise
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as error:  # a corrupt workbook: the Rust reader may even panic (a BaseException)
        raise DecisionFileError(
            f"{path.name}: not a readable .xlsx workbook ({type(error).__name__})"
        ) from None
    return rows.with_columns(pl.all().cast(pl.String)), first_row


def _csv_rows(path: Path) -> pl.DataFrame:
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        # Excel's plain "CSV" on a Vietnamese Windows is Windows-1258, tones as combining marks: read it so,
        # composed (the keys are ASCII; the decision words are folded anyway).
        try:
            text = unicodedata.normalize("NFC", data.decode("cp1258"))
        except UnicodeDecodeError:
            raise DecisionFileError(
                f"{path.name}: neither UTF-8 nor Windows-1258 text (in Excel, save it as 'CSV UTF-8')"
            ) from None
    first_line = next((line for line in text.splitlines() if line.strip()), "")
    # Excel writes ';' where the list separator is ';' (vi-VN among them); ',' when in doubt.
    separator = max((",", ";", "\t"), key=first_line.count)
    if not first_line:
        return pl.DataFrame()
    try:
        return pl.read_csv(
            text.encode("utf-8"),
            has_header=False,
            infer_schema=False,
            separator=separator,
            truncate_ragged_lines=True,
        )
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as error:  # a malformed file: polars' errors (even a panic) name no value
        raise DecisionFileError(f"{path.name}: not a readable CSV file ({type(error).__name__})") from None


def _apply_header(rows: pl.DataFrame, first_row: int, name: str, *, strict: bool) -> pl.DataFrame:
    """Find the header among the first rows (the English names, else the Vietnamese labels) and name the columns."""
    if rows.width == 0 or rows.height == 0:
        if strict:
            raise DecisionFileError(f"{name}: the decision sheet is empty (no header row)")
        return pl.DataFrame(schema={"file_row": pl.Int64})
    head = rows.head(_HEADER_SEARCH_ROWS)
    folded_rows = head.select(fold_text(pl.col(c)).alias(c) for c in head.columns).rows()
    labels_vi = {_fold_one(label): column for column, label in REQUIRED_LABELS_VI.items()}
    header_at, names = None, None
    for index, cells in enumerate(folded_rows):
        if DECISION_COLUMN in cells:
            header_at, names = index, [str(c).strip() if c is not None else "" for c in head.row(index)]
            names = [n.lower() if _fold_one(n) in (*KEY_COLUMNS, DECISION_COLUMN) else n for n in names]
            break
    if header_at is None:
        for index, cells in enumerate(folded_rows):
            if _fold_one(REQUIRED_LABELS_VI[DECISION_COLUMN]) in cells:
                header_at = index
                names = [
                    labels_vi.get(c or "", str(o or "").strip())
                    for c, o in zip(cells, head.row(index), strict=True)
                ]
                break
    if header_at is None:
        if strict:
            raise DecisionFileError(
                f"{name}: no header row with a '{DECISION_COLUMN}' column in the first {_HEADER_SEARCH_ROWS} rows"
            )
        header_at, names = 0, [str(c).strip() if c is not None else "" for c in head.row(0)]
    unique: list[str] = []
    for position, column in enumerate(names, start=1):
        column = column or f"column_{position}"
        while column in unique or column == "file_row":
            column = f"{column}_{position}"
        unique.append(column)
    data = rows.slice(header_at + 1)
    data.columns = unique
    data = data.with_row_index("file_row", offset=first_row + header_at + 1).with_columns(
        pl.col("file_row").cast(pl.Int64)
    )
    blank = pl.all_horizontal((pl.col(c).is_null() | (pl.col(c).str.strip_chars() == "")) for c in unique)
    # The review queue was written with a quote before formula-like text: read the value as it was.
    return data.filter(~blank).with_columns(restore_formula_text(pl.col(c)).alias(c) for c in unique)


def resolve_decisions(decisions: pl.DataFrame, std: pl.DataFrame, origin: str = "decisions") -> pl.DataFrame:
    """Steward decisions → `left_uid, right_uid, decision` (same|different) in this run's row_uids.

    Each decided row is resolved by the first form it fills: `left_record_key, right_record_key` through the
    `record_key` column of `std`, then `left_record_id, left_source_id, right_record_id, right_source_id`, then
    `left_row_uid, right_row_uid` (`left_uid, right_uid` too). Rows with an empty or `unsure` decision are skipped
    (not decided). Pairs naming records absent from this run are dropped (they may have left the source); an
    unreadable value raises naming the row and field. The last decision on a pair wins.
    """
    frame = decisions.rename({c: c.strip().lower() for c in decisions.columns})
    for side in ("left", "right"):
        if f"{side}_uid" in frame.columns and f"{side}_row_uid" not in frame.columns:
            frame = frame.rename({f"{side}_uid": f"{side}_row_uid"})
    if DECISION_COLUMN not in frame.columns:
        raise DecisionFileError(f"{origin}: no 'decision' column (columns: {', '.join(frame.columns)})")
    by_key = all(c in frame.columns for c in KEY_COLUMNS)
    by_ids = all(
        c in frame.columns for c in ("left_record_id", "left_source_id", "right_record_id", "right_source_id")
    )
    by_uid = all(c in frame.columns for c in ("left_row_uid", "right_row_uid"))
    if not (by_key or by_ids or by_uid):
        raise DecisionFileError(
            f"{origin}: name each pair by left_record_key, right_record_key, by left_record_id, left_source_id, "
            "right_record_id, right_source_id or by left_row_uid, right_row_uid"
        )
    if by_key and "record_key" not in std.columns and not (by_ids or by_uid):
        raise DecisionFileError(
            f"{origin}: the decisions name records by record_key but these records have no record_key column"
        )
    by_key = by_key and "record_key" in std.columns
    if "file_row" in frame.columns:
        frame = frame.with_columns(pl.col("file_row").cast(pl.Int64))
    else:
        # spreadsheet row numbers: the header is row 1
        frame = frame.with_row_index("file_row", offset=2).with_columns(pl.col("file_row").cast(pl.Int64))
    frame = frame.with_columns(pl.col(c).cast(pl.String) for c in frame.columns if c != "file_row")
    written = pl.col(DECISION_COLUMN).str.strip_chars()
    decided = frame.filter(written.is_not_null() & (written != "")).with_columns(
        decision_expr(pl.col(DECISION_COLUMN)).alias("canonical")
    )
    bad = decided.filter(pl.col("canonical").is_null())
    if bad.height:
        row = bad.row(0, named=True)
        raise DecisionFileError(
            f"{origin}: row {row['file_row']}, field 'decision': not one of giống / khác / chưa rõ "
            "(same / different / unsure)"
        )
    decided = decided.with_columns(pl.col("canonical").alias(DECISION_COLUMN)).drop("canonical")
    decided = decided.filter(pl.col(DECISION_COLUMN) != "unsure")  # unsure decides nothing
    resolved = []
    if by_key:
        keys = _unique_keys(std)
        left, right = KEY_COLUMNS
        named = decided.with_columns(pl.col(c).str.strip_chars() for c in KEY_COLUMNS).filter(
            pl.col(left).is_not_null()
            & (pl.col(left) != "")
            & pl.col(right).is_not_null()
            & (pl.col(right) != "")
        )
        joined = named.join(keys.rename({"row_uid": "l", "record_key": left}), on=left).join(
            keys.rename({"row_uid": "r", "record_key": right}), on=right
        )
        resolved.append(joined.select("file_row", "l", "r", DECISION_COLUMN))
        decided = decided.join(named.select("file_row"), on="file_row", how="anti")
    if by_ids:
        ids = std.select("row_uid", pl.col("record_id").cast(pl.String), pl.col("source_id").cast(pl.String))
        named = decided.filter(
            pl.col("left_record_id").is_not_null() & pl.col("right_record_id").is_not_null()
        )
        named = named.join(
            ids.rename({"row_uid": "l", "record_id": "left_record_id", "source_id": "left_source_id"}),
            on=["left_record_id", "left_source_id"],
        ).join(
            ids.rename({"row_uid": "r", "record_id": "right_record_id", "source_id": "right_source_id"}),
            on=["right_record_id", "right_source_id"],
        )
        resolved.append(named.select("file_row", "l", "r", DECISION_COLUMN))
        decided = decided.filter(pl.col("left_record_id").is_null() | pl.col("right_record_id").is_null())
    if by_uid:
        numbered = decided.filter(
            pl.col("left_row_uid").is_not_null() & pl.col("right_row_uid").is_not_null()
        )
        for side in ("left_row_uid", "right_row_uid"):
            broken = numbered.filter(~pl.col(side).str.strip_chars().str.contains(r"^\d+$"))
            if broken.height:
                row = broken.row(0, named=True)
                raise DecisionFileError(f"{origin}: row {row['file_row']}, field '{side}': not a row number")
        numbered = numbered.select(
            "file_row",
            pl.col("left_row_uid").str.strip_chars().cast(pl.Int64).alias("l"),
            pl.col("right_row_uid").str.strip_chars().cast(pl.Int64).alias("r"),
            DECISION_COLUMN,
        ).filter(pl.col("l").is_in(std["row_uid"].implode()) & pl.col("r").is_in(std["row_uid"].implode()))
        resolved.append(numbered)
    empty = pl.DataFrame(
        schema={"file_row": pl.Int64, "l": pl.Int64, "r": pl.Int64, DECISION_COLUMN: pl.String}
    )
    out = pl.concat([empty, *(r.cast({"l": pl.Int64, "r": pl.Int64}) for r in resolved)])
    out = out.filter(pl.col("l") != pl.col("r")).select(
        pl.min_horizontal("l", "r").alias("left_uid"),
        pl.max_horizontal("l", "r").alias("right_uid"),
        DECISION_COLUMN,
        "file_row",
    )
    # The last decision on a pair wins (a steward may correct an earlier line).
    return (
        out.sort("file_row", maintain_order=True)
        .unique(["left_uid", "right_uid"], keep="last", maintain_order=True)
        .drop("file_row")
        .sort(["left_uid", "right_uid"])
    )


def _unique_keys(std: pl.DataFrame) -> pl.DataFrame:
    """`row_uid, record_key` of the records whose key is theirs alone (a colliding key names no one record)."""
    keys = std.select("row_uid", pl.col("record_key").cast(pl.String)).filter(
        pl.col("record_key").is_not_null()
    )
    return keys.filter(pl.len().over("record_key") == 1)

"""Readers: turn one file into a grid of strings (header names + positional columns) plus row-level rejects.

Every reader returns a `Grid`: `frame` has string columns `c0..cN` in header order and `source_row` (1-based data
row, header excluded, blank rows skipped and not counted); `rejects` are rows that could not be parsed at all.
Nothing is typed here: leading zeros survive, xlsx integers are written without ".0" and dates as ISO.
"""

from __future__ import annotations

import csv
import io
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
from sachsong.sources.detect import (
    DecodedText,
    find_header,
    parse_head,
    sniff_delimiter,
)
from sachsong.sources.headers import map_header

RAW_LINE_LIMIT = 500
PREFERRED_JSON_KEYS = ("data", "records", "items", "rows", "results", "danh_sach", "du_lieu")


class FileRejected(ValueError):
    """The whole file cannot be used; the message says why."""


@dataclass
class RowReject:
    source_row: int | None
    field: str | None
    reason: str
    raw_line: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "source_row": self.source_row,
            "field": self.field,
            "reason": self.reason,
            "raw_line": self.raw_line[:RAW_LINE_LIMIT],
        }


@dataclass
class Grid:
    """One file's rows as strings, before mapping onto the canonical table."""

    header: list[str]
    frame: pl.DataFrame  # c0..cN (String) + source_row (Int64)
    rows_in: int
    dialect: str
    rejects: list[RowReject] = field(default_factory=list)
    flagged_rows: dict[int, str] = field(default_factory=dict)  # source_row → warning
    notes: list[str] = field(default_factory=list)
    needs_nfc: bool = False  # text decoded by ingest is NFC already; cells from xlsx/JSON are not
    delimiter: str = ","  # to rebuild a rejected row's raw line


def positional(n: int) -> list[str]:
    return [f"c{i}" for i in range(n)]


def _empty_frame(n: int) -> pl.DataFrame:
    return pl.DataFrame(schema={**{c: pl.String() for c in positional(n)}, "source_row": pl.Int64()})


# --- Delimited text ---------------------------------------------------------------------------------------------
def read_delimited(
    decoded: DecodedText,
    delimiter: str | None = None,
    header_row: int | None = None,
    columns: dict[str, str] | None = None,
) -> Grid:
    """CSV/TSV/TXT. Polars parses well-formed text; Python's csv module takes over only for the files polars
    cannot be trusted with (quoted fields spanning lines) or rejects, to find the bad rows."""
    text = decoded.text
    sniffed = delimiter is None
    delimiter = delimiter or sniff_delimiter(text)
    head = parse_head(text, delimiter)
    if not head:
        raise FileRejected("no text rows (only blank lines)")
    if header_row is not None:
        matching = [i for i, (line, _) in enumerate(head) if line + 1 >= header_row]
        if not matching:
            raise FileRejected(
                f"header_row {header_row} (from the registry) is past the first rows of the file"
            )
        header_index, header = matching[0], [f.strip() for f in head[matching[0]][1]]
    else:
        header_index, header = find_header([fields for _, fields in head])
    header_end_line = head[header_index][0]
    _check_header(header, delimiter, sniffed, columns)
    skipped = header_index  # title lines above the header
    notes = [f"{skipped} line(s) above the header skipped"] if skipped else []
    dialect = f"delimited {_delimiter_name(delimiter)}"

    body_start = _offset_after_line(text, header_end_line)
    body = text[body_start:]
    fallback_body_lines = {n - header_end_line - 1 for n in decoded.fallback_lines if n > header_end_line}
    grid = _read_body_fast(body, delimiter, header, fallback_body_lines)
    if grid is None:
        grid = _read_body_python(body, delimiter, header, fallback_body_lines)
        grid.dialect = f"{dialect} (row-by-row parse)"
    else:
        grid.dialect = dialect
    grid.notes = notes + grid.notes
    grid.delimiter = delimiter
    return grid


def _delimiter_name(delimiter: str) -> str:
    return {"\t": "tab", ",": "comma", ";": "semicolon", "|": "pipe"}.get(delimiter, repr(delimiter))


def _check_header(header: list[str], delimiter: str, sniffed: bool, columns: dict[str, str] | None) -> None:
    if not map_header(header, columns).has_name:
        fields = len(header)
        hint = ""
        if fields == 1 and sniffed:
            hint = " (only one column: the delimiter could not be recognised)"
        elif fields == 1:
            hint = f" (only one column: is the delimiter really {_delimiter_name(delimiter)}?)"
        shown = ", ".join(repr(h) for h in header[:8])
        raise FileRejected(f"no recognisable name column in the header [{shown}]{hint}")


def _offset_after_line(text: str, line_index: int) -> int:
    position = 0
    for _ in range(line_index + 1):
        found = text.find("\n", position)
        if found < 0:
            return len(text)
        position = found + 1
    return position


_QUOTED_FIELD = r'"(?:[^"]|"")*"'


def _read_body_fast(body: str, delimiter: str, header: list[str], fallback_lines: set[int]) -> Grid | None:
    """Vectorised: check every physical line's field count, then let polars parse the good lines.

    Returns None when a quoted field spans lines (line counts prove nothing then) or polars disagrees.
    """
    ncols = len(header)
    line = pl.col("line")
    lines = (
        pl.DataFrame({"line": pl.Series([body]).str.split("\n").explode()})
        .with_row_index("line_no")
        .with_columns(line.str.strip_suffix("\r"))
        .with_columns(
            quotes=line.str.count_matches('"', literal=True),
            blank=line.str.strip_chars().str.len_bytes() == 0,
            fields=line.str.count_matches(delimiter, literal=True) + 1,
        )
    )
    if (lines["quotes"] % 2 == 1).any():
        return None
    quoted = lines.filter(pl.col("quotes") > 0)
    if quoted.height:
        # Delimiters inside quoted fields do not split; count them only on the lines that have quotes.
        recount = quoted.select(
            "line_no",
            fields=line.str.replace_all(_QUOTED_FIELD, "").str.count_matches(delimiter, literal=True) + 1,
        )
        lines = lines.update(recount, on="line_no")
    last_is_blank = lines.height > 0 and bool(lines["blank"][-1])
    blanks = int(lines["blank"].sum())
    lines = lines.filter(~pl.col("blank")).with_columns(
        source_row=pl.int_range(1, pl.len() + 1, dtype=pl.Int64)
    )
    good = lines.filter(pl.col("fields") == ncols)
    bad = lines.filter(pl.col("fields") != ncols)
    if good.height:
        if bad.height == 0 and blanks == int(last_is_blank):
            payload = body.encode("utf-8")  # every line is a good row: parse the text as it is
        else:
            payload = good["line"].str.join("\n").item().encode("utf-8") + b"\n"
        try:
            frame = pl.read_csv(
                payload,
                has_header=False,
                new_columns=positional(ncols),
                separator=delimiter,
                quote_char='"',
                infer_schema=False,
                empty_string_is_null=False,
                truncate_ragged_lines=False,
                raise_if_empty=False,
            )
        except pl.exceptions.PolarsError:
            return None
        if frame.height != good.height or frame.width != ncols:
            return None
        frame = frame.with_columns(good["source_row"])
    else:
        frame = _empty_frame(ncols)
    rejects = [
        RowReject(row, None, f"expected {ncols} fields, found {count}", text)
        for row, count, text in bad.select("source_row", "fields", "line").iter_rows()
    ]
    flagged: dict[int, str] = {}
    if fallback_lines:
        hit = lines.filter(pl.col("line_no").is_in(list(fallback_lines)))
        flagged = {row: "line not UTF-8: decoded with the legacy encoding" for row in hit["source_row"]}
    return Grid(
        header=header, frame=frame, rows_in=lines.height, dialect="", rejects=rejects, flagged_rows=flagged
    )


def _read_body_python(body: str, delimiter: str, header: list[str], fallback_lines: set[int]) -> Grid:
    """Row by row with the csv module, keeping every record's physical lines to report bad ones."""
    ncols = len(header)
    physical = body.split("\n")
    columns: list[list[str]] = [[] for _ in range(ncols)]
    rows: list[int] = []
    rejects: list[RowReject] = []
    flagged: dict[int, str] = {}
    previous_limit = csv.field_size_limit()
    csv.field_size_limit(sys.maxsize)  # the size check is ours, with a clear per-row reason
    try:
        reader = csv.reader(io.StringIO(body), delimiter=delimiter, strict=False)
        start, row = 0, 0
        while True:
            try:
                fields = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                row += 1
                end = reader.line_num
                rejects.append(RowReject(row, None, f"unparsable row: {exc}", "\n".join(physical[start:end])))
                start = end
                continue
            end = reader.line_num
            span = range(start, end)
            raw = "\n".join(physical[start:end]).rstrip("\r")
            start = end
            if not fields or (not any(f.strip() for f in fields) and len(fields) <= 1):
                continue  # blank line
            row += 1
            if any(line in fallback_lines for line in span):
                flagged[row] = "line not UTF-8: decoded with the legacy encoding"
            if len(fields) != ncols:
                rejects.append(RowReject(row, None, f"expected {ncols} fields, found {len(fields)}", raw))
                continue
            rows.append(row)
            for i, value in enumerate(fields):
                columns[i].append(value)
    finally:
        csv.field_size_limit(previous_limit)
    frame = pl.DataFrame(
        {
            **{
                name: pl.Series(name, values, dtype=pl.String)
                for name, values in zip(positional(ncols), columns, strict=True)
            }
        }
    ).with_columns(source_row=pl.Series(rows, dtype=pl.Int64))
    if not rows:
        frame = _empty_frame(ncols)
    return Grid(header=header, frame=frame, rows_in=row, dialect="", rejects=rejects, flagged_rows=flagged)


# --- Spreadsheets -----------------------------------------------------------------------------------------------
_MIDNIGHT = re.compile(r"^(\d{4}-\d{2}-\d{2})[ T]00:00:00$")


def read_spreadsheet(
    path: Path,
    sheet: str | int | None = None,
    header_row: int | None = None,
    columns: dict[str, str] | None = None,
) -> Grid:
    """xlsx/xls through fastexcel (calamine). The first sheet with a recognisable header is read, and every
    other sheet with the same header is appended (an export split across sheets); other sheets are noted."""
    import fastexcel

    try:
        workbook = fastexcel.read_excel(path)
    except Exception as exc:  # fastexcel raises its own error types for broken archives
        raise FileRejected(f"not a readable spreadsheet: {exc}") from exc
    names = list(workbook.sheet_names)
    if sheet is not None:
        if isinstance(sheet, int) and 0 <= sheet < len(names):
            wanted = [names[sheet]]
        elif sheet in names:
            wanted = [str(sheet)]
        else:
            raise FileRejected(f"sheet {sheet!r} (from the registry) not found; sheets: {names}")
    else:
        wanted = names

    chosen_header: list[str] | None = None
    parts: list[pl.DataFrame] = []
    notes: list[str] = []
    row_offset = 0
    for sheet_name in wanted:
        try:
            grid = workbook.load_sheet(sheet_name, header_row=None, dtypes="string").to_polars()
        except Exception as exc:
            notes.append(f"sheet {sheet_name!r} unreadable: {exc}")
            continue
        grid = grid.filter(~pl.all_horizontal(pl.all().is_null() | (pl.all().str.strip_chars() == "")))
        if grid.height == 0:
            continue
        head_rows = [list(r) for r in grid.head(30).iter_rows()]
        if header_row is not None:
            index = min(header_row - 1, len(head_rows) - 1)
            header = [("" if c is None else str(c).strip()) for c in head_rows[index]]
        else:
            index, header = find_header(head_rows)
        header = _trim_header(header, grid.slice(index + 1))
        if chosen_header is None:
            if not map_header(header, columns).has_name:
                notes.append(f"sheet {sheet_name!r} skipped: no recognisable name column")
                continue
            chosen_header = header
        elif [h.lower() for h in header] != [h.lower() for h in chosen_header]:
            notes.append(f"sheet {sheet_name!r} skipped: its header differs from the first data sheet")
            continue
        body = grid.slice(index + 1).select(grid.columns[: len(header)])
        body.columns = positional(len(header))
        body = body.with_columns(pl.col(c).str.replace(_MIDNIGHT.pattern, "${1}") for c in body.columns)
        body = body.with_columns(
            source_row=pl.int_range(row_offset + 1, row_offset + body.height + 1, dtype=pl.Int64)
        )
        row_offset += body.height
        if len(wanted) > 1 or len(names) > 1:
            notes.append(f"sheet {sheet_name!r}: rows {body['source_row'].min()}–{body['source_row'].max()}")
        parts.append(body)
    if chosen_header is None:
        detail = "; ".join(notes) if notes else "all sheets are empty"
        raise FileRejected(f"no sheet with a recognisable name column ({detail})")
    frame = pl.concat(parts) if parts else _empty_frame(len(chosen_header))
    return Grid(
        header=chosen_header,
        frame=frame,
        rows_in=frame.height,
        dialect=f"spreadsheet ({len(parts)} sheet(s))",
        notes=notes,
        needs_nfc=True,
    )


def _trim_header(header: list[str], body: pl.DataFrame) -> list[str]:
    """Drop trailing columns empty in the header and in every row (formatting spilling past the table); a
    column with data but no header keeps a made-up name, so its values are counted as an extra column."""
    filled = body.select(pl.all().is_not_null().any()).row(0) if body.height else ()
    end = len(header)
    while end > 0 and not header[end - 1] and not (end - 1 < len(filled) and filled[end - 1]):
        end -= 1
    return [h or f"column_{i + 1}" for i, h in enumerate(header[:end])]


# --- JSON -------------------------------------------------------------------------------------------------------
def _json_value(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, ensure_ascii=False)


def _records_to_grid(
    items: list[tuple[int, Any]],
    dialect: str,
    rejects: list[RowReject],
    rows_in: int,
    columns: dict[str, str] | None,
) -> Grid:
    keys: dict[str, None] = {}
    for _, item in items:
        keys.update(dict.fromkeys(item))
    header = list(keys)
    columns = {
        name: pl.Series(name, [_json_value(item.get(key)) for _, item in items], dtype=pl.String)
        for name, key in zip(positional(len(header)), header, strict=True)
    }
    frame = pl.DataFrame(columns).with_columns(
        source_row=pl.Series([row for row, _ in items], dtype=pl.Int64)
    )
    if not items:
        frame = _empty_frame(len(header))
    if header and not map_header(header, columns).has_name:
        shown = ", ".join(repr(h) for h in header[:8])
        raise FileRejected(f"no recognisable name field in the JSON records [{shown}]")
    return Grid(header=header, frame=frame, rows_in=rows_in, dialect=dialect, rejects=rejects, needs_nfc=True)


def read_json(text: str, columns: dict[str, str] | None = None) -> Grid:
    """A list of objects, or an object holding one list of objects (under "data", "records", ...)."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise FileRejected(f"invalid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}") from exc
    if isinstance(document, dict):
        lists = {k: v for k, v in document.items() if isinstance(v, list)}
        preferred = [k for k in PREFERRED_JSON_KEYS if k in lists]
        if len(lists) == 1:
            key = next(iter(lists))
        elif preferred:
            key = preferred[0]
        else:
            raise FileRejected(
                f"JSON object without a single list of records (keys: {', '.join(list(document)[:10])})"
            )
        records, dialect = lists[key], f"json object[{key!r}]"
    elif isinstance(document, list):
        records, dialect = document, "json list"
    else:
        raise FileRejected(f"JSON is a {type(document).__name__}, not a list of records")
    items: list[tuple[int, Any]] = []
    rejects: list[RowReject] = []
    for row, item in enumerate(records, start=1):
        if isinstance(item, dict):
            items.append((row, item))
        else:
            rejects.append(
                RowReject(
                    row,
                    None,
                    f"item is a {type(item).__name__}, not an object",
                    json.dumps(item, ensure_ascii=False),
                )
            )
    if not items and rejects:
        raise FileRejected(f"JSON list holds no objects (first item: {rejects[0].raw_line[:60]})")
    return _records_to_grid(items, dialect, rejects, len(records), columns)


def read_json_lines(text: str, columns: dict[str, str] | None = None) -> Grid:
    """One JSON object per line; a line that is not an object is rejected on its own."""
    items: list[tuple[int, Any]] = []
    rejects: list[RowReject] = []
    row = 0
    for line in text.split("\n"):
        if not line.strip():
            continue
        row += 1
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            rejects.append(RowReject(row, None, f"invalid JSON: {exc.msg}", line))
            continue
        if isinstance(item, dict):
            items.append((row, item))
        else:
            rejects.append(RowReject(row, None, f"line is a {type(item).__name__}, not an object", line))
    if not items and rejects:
        raise FileRejected(f"no JSON object on any line (first problem: {rejects[0].reason})")
    return _records_to_grid(items, "json lines", rejects, row, columns)

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
from collections.abc import Iterable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import polars as pl

from sachsong.sources.detect import (
    DecodedText,
    find_header,
    parse_head,
    sniff_delimiter,
)
from sachsong.sources.headers import header_hits, map_header
from sachsong.sources.limits import MAX_COLUMNS, FileRejected

RAW_LINE_LIMIT = 500
DEFAULT_MAX_CELLS = 50_000_000
PREFERRED_JSON_KEYS = ("data", "records", "items", "rows", "results", "danh_sach", "du_lieu")
__all__ = ["FileRejected", "Grid", "RowReject", "read_delimited", "read_html", "read_json", "read_json_lines"]


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
    # Further parts of the same file with a header of their own (another sheet, another JSON list): their
    # rows are numbered after this one's; `rows_in` and `rejects` here account for every part.
    more: list[Grid] = field(default_factory=list)


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
    long_lines: set[int] | None = None,
    line_limit: int | None = None,
    max_cells: int = DEFAULT_MAX_CELLS,
) -> Grid:
    """CSV/TSV/TXT. Polars parses well-formed text; Python's csv module takes over only for the files polars
    cannot be trusted with (quoted fields spanning lines) or rejects, to find the bad rows.

    `long_lines`: 0-based physical lines that were too long to read (over `line_limit` bytes; ingest replaced
    them by a stub): each is a rejected row. Mac CR-only line ends are read as line ends."""
    text = decoded.text
    cr_notes = []
    if "\r" in text and "\n" not in text:
        text = text.replace("\r", "\n")
        cr_notes.append("Mac CR line endings")
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
    try:
        _check_header(header, delimiter, sniffed, columns)
    except FileRejected as exc:
        # Every line is counted and rejected on its own: below the header when it names some field, else
        # all of them (an export without its header line: the first line is a person too).
        named = header_row is not None or header_hits(header) > 0
        exc.row_rejects = _line_rejects(text, header_end_line + 1 if named else 0, str(exc))
        exc.rows = len(exc.row_rejects)
        raise
    _check_width(len(header), text.count("\n") + 1, max_cells, "lines")
    skipped = header_index  # title lines above the header
    notes = cr_notes + ([f"{skipped} line(s) above the header skipped"] if skipped else [])
    dialect = f"delimited {_delimiter_name(delimiter)}"

    body_start = _offset_after_line(text, header_end_line)
    body = text[body_start:]
    fallback_body_lines = {n - header_end_line - 1 for n in decoded.fallback_lines if n > header_end_line}
    long_body = _LongLines(
        {n - header_end_line - 1 for n in (long_lines or ()) if n > header_end_line}, line_limit
    )
    grid = _read_body_fast(body, delimiter, header, fallback_body_lines, long_body)
    if grid is None:
        grid = _read_body_python(body, delimiter, header, fallback_body_lines, long_body)
        grid.dialect = f"{dialect} (row-by-row parse)"
    else:
        grid.dialect = dialect
    grid.notes = notes + grid.notes
    grid.delimiter = delimiter
    return grid


def _delimiter_name(delimiter: str) -> str:
    return {"\t": "tab", ",": "comma", ";": "semicolon", "|": "pipe"}.get(delimiter, repr(delimiter))


@dataclass
class _LongLines:
    """Body lines (0-based) replaced by a stub because they were longer than `limit` bytes."""

    lines: set[int]
    limit: int | None

    def reason(self) -> str:
        limit = f"{self.limit:,} bytes" if self.limit else "the line limit"
        return f"line longer than {limit} (max_line_bytes): not read"


def _check_header(header: list[str], delimiter: str, sniffed: bool, columns: dict[str, str] | None) -> None:
    # The cells are not quoted: in a file without a header they are a person's data.
    if not map_header(header, columns).has_name:
        fields = len(header)
        hint = ""
        if fields == 1 and sniffed:
            hint = " (only one column: the delimiter could not be recognised)"
        elif fields == 1:
            hint = f" (only one column: is the delimiter really {_delimiter_name(delimiter)}?)"
        raise FileRejected(f"no recognisable name column in the header row ({fields} column(s)){hint}")


def _line_rejects(text: str, first_line: int, reason: str) -> list[RowReject]:
    lines = (
        pl.DataFrame({"line": pl.Series([text]).str.split("\n").explode()})
        .slice(first_line)
        .with_columns(pl.col("line").str.strip_suffix("\r"))
        .filter(pl.col("line").str.strip_chars().str.len_bytes() > 0)
    )
    return [
        RowReject(row, None, reason, line[:RAW_LINE_LIMIT])
        for row, line in enumerate(lines["line"].to_list(), start=1)
    ]


def _check_width(columns: int, rows: int, max_cells: int, what: str) -> None:
    """Refuse a table whose width (a header or the keys of records) would make it too large to hold."""
    if columns > MAX_COLUMNS:
        raise FileRejected(f"{columns:,} columns, more than a sheet holds ({MAX_COLUMNS:,})")
    if columns * rows > max_cells:
        raise FileRejected(
            f"{columns:,} columns × {rows:,} {what}: over the limit of {max_cells:,} cells (max_cells)"
        )


def _offset_after_line(text: str, line_index: int) -> int:
    position = 0
    for _ in range(line_index + 1):
        found = text.find("\n", position)
        if found < 0:
            return len(text)
        position = found + 1
    return position


_QUOTED_FIELD = r'"(?:[^"]|"")*"'


def _read_body_fast(
    body: str, delimiter: str, header: list[str], fallback_lines: set[int], long_lines: _LongLines
) -> Grid | None:
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
    if long_lines.lines:
        lines = lines.with_columns(
            fields=pl.when(pl.col("line_no").is_in(sorted(long_lines.lines))).then(-1).otherwise("fields")
        )
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
        if count >= 0
        else RowReject(row, None, long_lines.reason(), "")
        for row, count, text in bad.select("source_row", "fields", "line").iter_rows()
    ]
    flagged: dict[int, str] = {}
    if fallback_lines:
        hit = lines.filter(pl.col("line_no").is_in(list(fallback_lines)))
        flagged = {row: "line not UTF-8: decoded with the legacy encoding" for row in hit["source_row"]}
    return Grid(
        header=header, frame=frame, rows_in=lines.height, dialect="", rejects=rejects, flagged_rows=flagged
    )


def _read_body_python(
    body: str, delimiter: str, header: list[str], fallback_lines: set[int], long_lines: _LongLines
) -> Grid:
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
            if long_lines.lines and any(line in long_lines.lines for line in span):
                rejects.append(RowReject(row, None, long_lines.reason(), ""))
                continue
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


# --- Spreadsheets and HTML tables -------------------------------------------------------------------------------
_MIDNIGHT = re.compile(r"^(\d{4}-\d{2}-\d{2})[ T]00:00:00$")


def read_spreadsheet(
    source: Path | str | bytes,
    sheet: str | int | None = None,
    header_row: int | None = None,
    columns: dict[str, str] | None = None,
) -> Grid:
    """xlsx/xls through fastexcel (calamine): every sheet is read. Sheets whose header maps are data (sheets
    with the same header are appended: an export split across sheets; another header is another part); the
    rows of a sheet whose header does not map are rejected with that reason, so they are counted.

    `source` is a path or the workbook's bytes; ingest has checked an xlsx against its limits before."""
    import fastexcel

    try:
        workbook = fastexcel.read_excel(source)
    except Exception as exc:  # fastexcel raises its own error types for broken archives
        # Its message may quote the workbook's content: only the kind of error is kept.
        raise FileRejected(
            f"not a readable spreadsheet ({type(exc).__name__})", rows_note="the workbook cannot be opened"
        ) from exc
    names = list(workbook.sheet_names)
    if sheet is not None:
        if isinstance(sheet, int) and 0 <= sheet < len(names):
            wanted = [names[sheet]]
        elif sheet in names:
            wanted = [str(sheet)]
        else:
            raise FileRejected(
                f"sheet {sheet!r} (from the registry) not found; sheets: {names}",
                rows_note="the registry's sheet is missing",
            )
    else:
        wanted = names

    def sheets() -> Iterable[tuple[str, pl.DataFrame | Exception]]:
        for name in wanted:
            try:
                yield name, workbook.load_sheet(name, header_row=None, dtypes="string").to_polars()
            except Exception as exc:  # a chart sheet, a broken part: noted, the other sheets still count
                yield name, exc

    return sheets_to_grid(sheets(), header_row, columns, "spreadsheet", many=len(names) > 1)


def sheets_to_grid(
    sheets: Iterable[tuple[str, pl.DataFrame | Exception]],
    header_row: int | None,
    columns: dict[str, str] | None,
    kind: str,
    many: bool = False,
) -> Grid:
    """Tables of cells (any column names, string or null cells) → one Grid accounting for all their rows."""
    groups: dict[tuple[str, ...], tuple[list[str], list[pl.DataFrame]]] = {}
    rejects: list[RowReject] = []
    notes: list[str] = []
    row_offset = 0
    for sheet_name, loaded in sheets:
        if isinstance(loaded, Exception):
            notes.append(
                f"{_part(kind)} {sheet_name!r} unreadable ({type(loaded).__name__}): rows not counted"
            )
            continue
        grid = loaded.select(pl.all().cast(pl.String))
        grid = grid.filter(~pl.all_horizontal(pl.all().is_null() | (pl.all().str.strip_chars() == "")))
        if grid.height == 0 or grid.width == 0:
            continue
        head_rows = [list(r) for r in grid.head(30).iter_rows()]
        if header_row is not None:
            index = min(header_row - 1, len(head_rows) - 1)
            header = [("" if c is None else str(c).strip()) for c in head_rows[index]]
        else:
            index, header = find_header(head_rows)
        first_row = row_offset + 1
        if not map_header(header, columns).has_name:
            # Rows below a header that names some field are data; with no field named at all, the first row
            # may be data too (an export without its header): every row counts.
            named = header_row is not None or header_hits(header) > 0
            unmapped = grid.slice(index + 1) if named else grid
            row_offset += unmapped.height
            if unmapped.height:
                reason = f"{_part(kind)} {sheet_name!r}: no recognisable name column in its header"
                rejects.extend(_row_rejects(unmapped, first_row, reason))
                notes.append(
                    f"{_part(kind)} {sheet_name!r}: {unmapped.height} row(s) rejected (no recognisable name column)"
                )
            else:
                notes.append(f"{_part(kind)} {sheet_name!r} skipped: no recognisable name column")
            continue
        body = grid.slice(index + 1)
        header = _trim_header(header, body)
        body = body.select(grid.columns[: len(header)])
        body.columns = positional(len(header))
        row_offset += body.height
        body = body.with_columns(pl.col(c).str.replace(_MIDNIGHT.pattern, "${1}") for c in body.columns)
        body = body.with_columns(source_row=pl.int_range(first_row, row_offset + 1, dtype=pl.Int64))
        key = tuple(h.lower() for h in header)
        groups.setdefault(key, (header, []))[1].append(body)
        if many and body.height:
            notes.append(f"{_part(kind)} {sheet_name!r}: rows {first_row}–{row_offset}")
    if not groups:
        detail = "; ".join(notes) if notes else f"all {_part(kind)}s are empty"
        raise FileRejected(
            f"no {_part(kind)} with a recognisable name column ({detail})",
            rows=row_offset,
            row_rejects=rejects,
        )
    grids = [
        Grid(
            header=header,
            frame=pl.concat(parts) if parts else _empty_frame(len(header)),
            rows_in=sum(p.height for p in parts),
            dialect="",
            needs_nfc=True,
            delimiter="\t",
        )
        for header, parts in groups.values()
    ]
    main = grids[0]
    main.more = grids[1:]
    main.rows_in = row_offset
    main.rejects = rejects
    main.notes = notes
    main.dialect = f"{kind} ({len(grids)} header(s))" if len(grids) > 1 else kind
    return main


def _row_rejects(cells: pl.DataFrame, first_row: int, reason: str) -> list[RowReject]:
    """Each row of `cells` rejected with `reason`, its cells joined by tabs as its raw line."""
    raw = cells.select(
        pl.concat_str(
            [pl.col(c).cast(pl.String).fill_null("") for c in cells.columns], separator="\t"
        ).str.slice(0, RAW_LINE_LIMIT)
    ).to_series()
    return [RowReject(row, None, reason, text) for row, text in enumerate(raw.to_list(), start=first_row)]


def _part(kind: str) -> str:
    return "sheet" if kind == "spreadsheet" else "table"


def _trim_header(header: list[str], body: pl.DataFrame) -> list[str]:
    """Drop trailing columns empty in the header and in every row (formatting spilling past the table); a
    column with data but no header keeps a made-up name, so its values are counted as an extra column."""
    filled = body.select(pl.all().is_not_null().any()).row(0) if body.height else ()
    end = len(header)
    while end > 0 and not header[end - 1] and not (end - 1 < len(filled) and filled[end - 1]):
        end -= 1
    return [h or f"column_{i + 1}" for i, h in enumerate(header[:end])]


_SPACES = re.compile(r"\s+")


class _TableParser(HTMLParser):
    """Rows of <td>/<th> cells from every table of a page, in document order; colspan and rowspan keep the
    columns aligned. Not recursive, and bounded: cells and one cell's length are counted as they come."""

    def __init__(self, max_cells: int, max_cell_chars: int) -> None:
        super().__init__(convert_charrefs=True)
        self.rows: list[list[str]] = []
        self.cells = 0
        self._max_cells = max_cells
        self._max_cell_chars = max_cell_chars
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        self._cell_chars = 0
        self._spans = (1, 1)
        self._covered: dict[int, int] = {}  # column → rows still covered by a rowspan from above
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        tag = tag.rsplit(":", 1)[-1]  # Excel 2003 XML: <Row>, <Cell>, sometimes <ss:Row>
        if tag in ("script", "style", "comment"):  # Excel 2003 XML keeps cell comments inside the cell
            self._skip += 1
        elif tag in ("tr", "row"):
            self._end_row()
            self._row = []
        elif tag in ("td", "th", "cell"):
            self._end_cell()
            if self._row is None:
                self._row = []
            values = {name.rsplit(":", 1)[-1]: value for name, value in attrs}
            if tag == "cell":
                # ss:Index places the cell (1-based) after skipped empty ones; MergeAcross/Down span it.
                index = min(_span(values.get("index")), MAX_COLUMNS) - 1
                if index > len(self._row):
                    self._row.extend([""] * (index - len(self._row)))
                colspan = _span(values.get("mergeacross"), base=1)
                rowspan = _span(values.get("mergedown"), base=1)
            else:
                colspan, rowspan = _span(values.get("colspan")), _span(values.get("rowspan"))
            self._fill_covered()
            self._spans = (colspan, rowspan)
            self._cell, self._cell_chars = [], 0
        elif tag == "br" and self._cell is not None:
            self._cell.append(" ")

    def handle_endtag(self, tag: str) -> None:
        tag = tag.rsplit(":", 1)[-1]
        if tag == "row":
            tag = "tr"
        elif tag == "cell":
            tag = "td"
        if tag in ("script", "style", "comment"):
            self._skip = max(0, self._skip - 1)
        elif tag in ("td", "th"):
            self._end_cell()
        elif tag in ("tr", "table"):
            self._end_row()

    def handle_data(self, data: str) -> None:
        if self._cell is None or self._skip:
            return
        self._cell_chars += len(data)
        if self._cell_chars > self._max_cell_chars:
            raise FileRejected(
                f"a table cell is longer than {self._max_cell_chars:,} characters (max_line_bytes)",
                rows_note="over a read limit",
            )
        self._cell.append(data)

    def _fill_covered(self) -> None:
        assert self._row is not None
        while len(self._row) in self._covered:
            column = len(self._row)
            self._row.append("")
            self._covered[column] -= 1
            if not self._covered[column]:
                del self._covered[column]

    def _end_cell(self) -> None:
        if self._cell is None or self._row is None:
            self._cell = None
            return
        colspan, rowspan = self._spans
        colspan = max(1, min(colspan, MAX_COLUMNS - len(self._row)))
        start = len(self._row)
        self._row.append(_SPACES.sub(" ", "".join(self._cell)).strip())
        self._row.extend([""] * (colspan - 1))
        if rowspan > 1:
            for column in range(start, start + colspan):
                self._covered[column] = rowspan - 1
        self.cells += colspan
        if self.cells > self._max_cells:
            raise FileRejected(
                f"the tables hold more than {self._max_cells:,} cells (max_cells)",
                rows_note="over a read limit",
            )
        self._cell = None

    def _end_row(self) -> None:
        self._end_cell()
        if self._row is not None:
            self._fill_covered()
            if self._row:
                self.rows.append(self._row)
        self._row = None


def _span(value: str | None, base: int = 0) -> int:
    """A span attribute as a count of cells (`base` is added: Excel's MergeAcross counts the extra cells)."""
    try:
        return max(1, min(int(value or 0) + base if base else int(value or 1), 1000))
    except ValueError:
        return 1


def read_html(
    text: str,
    header_row: int | None = None,
    columns: dict[str, str] | None = None,
    *,
    max_cells: int = DEFAULT_MAX_CELLS,
    max_cell_chars: int = 8 << 20,
) -> Grid:
    """A web page's tables (web-based commune software exports them as .xls): every table's rows in order,
    read as one sheet, the header found as in a CSV (title rows above it skipped)."""
    parser = _TableParser(max_cells, max_cell_chars)
    parser.feed(text)  # at once: fed in pieces, an unclosed construct would be searched again every time
    parser.close()
    parser._end_row()
    rows = parser.rows
    if not rows:
        raise FileRejected("web page (HTML) without any table row", rows=0)
    width = max(len(row) for row in rows)
    frame = pl.DataFrame(
        [row + [""] * (width - len(row)) for row in rows],
        schema={f"column_{i}": pl.String() for i in range(width)},
        orient="row",
    )
    return sheets_to_grid([("1", frame)], header_row, columns, "html table")


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
    max_cells: int = DEFAULT_MAX_CELLS,
) -> Grid:
    keys: dict[str, None] = {}
    for _, item in items:
        keys.update(dict.fromkeys(item))
    header = list(keys)
    _check_width(len(header), len(items), max_cells, "records")
    data = {
        name: pl.Series(name, [_json_value(item.get(key)) for _, item in items], dtype=pl.String)
        for name, key in zip(positional(len(header)), header, strict=True)
    }
    frame = pl.DataFrame(data).with_columns(source_row=pl.Series([row for row, _ in items], dtype=pl.Int64))
    if not items:
        frame = _empty_frame(len(header))
    return Grid(header=header, frame=frame, rows_in=rows_in, dialect=dialect, rejects=rejects, needs_nfc=True)


def _header_of(records: list[Any]) -> list[str]:
    keys: dict[str, None] = {}
    for item in records:
        if isinstance(item, dict):
            keys.update(dict.fromkeys(item))
    return list(keys)


def _raw_json(item: Any) -> str:
    return json.dumps(item, ensure_ascii=False)[:RAW_LINE_LIMIT]


def read_json(text: str, columns: dict[str, str] | None = None, max_cells: int = DEFAULT_MAX_CELLS) -> Grid:
    """A list of objects, an object holding lists of objects (every list is read: "data", "records", ...),
    or one object that is itself a record. Items that are not objects are rejected one by one, and so are
    the records of a list whose fields name no person; rows are numbered across the lists in order.

    The caller checks the nesting depth first (`limits.json_too_deep`): `json` recurses."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise FileRejected(
            f"invalid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}",
            rows_note="invalid JSON cannot be counted",
        ) from exc
    if isinstance(document, dict):
        lists = [(str(k), v) for k, v in document.items() if isinstance(v, list)]
        if not lists and document and map_header([str(k) for k in document], columns).has_name:
            lists = [("", [document])]
        if not lists:
            raise FileRejected(
                f"JSON object without a list of records ({len(document)} key(s), no list)",
                rows_note="no list of records",
            )
    elif isinstance(document, list):
        lists = [("", document)]
    else:
        raise FileRejected(f"JSON is a {type(document).__name__}, not a list of records", rows=0)
    total = sum(len(records) for _, records in lists)
    if total > _JSON_MAX_ITEMS:
        raise FileRejected(f"JSON holds {total:,} items, over the limit of {_JSON_MAX_ITEMS:,} (max_rows)")
    if isinstance(document, list) and document and all(isinstance(item, list) for item in document):
        return _json_table(document, columns)
    mapped = [
        bool(_header_of(records)) and map_header(_header_of(records), columns).has_name
        for _, records in lists
    ]
    several = len(lists) > 1
    grids: list[Grid] = []
    rejects: list[RowReject] = []
    notes: list[str] = []
    row = 0
    for (key, records), maps in zip(lists, mapped, strict=True):
        where = f"list {key!r}: " if several else ""
        first = row + 1
        items: list[tuple[int, Any]] = []
        for item in records:
            row += 1
            if not isinstance(item, dict):
                reason = f"{where}item is a {type(item).__name__}, not an object"
                rejects.append(RowReject(row, None, reason, _raw_json(item)))
            elif not maps:
                reason = f"{where}no recognisable name field in its records"
                rejects.append(RowReject(row, None, reason, _raw_json(item)))
            else:
                items.append((row, item))
        if several:
            notes.append(f"list {key!r}: rows {first}–{row}" + ("" if maps else " rejected (no name field)"))
        if maps:
            grids.append(_records_to_grid(items, "", [], len(items), max_cells))
    if not grids:
        objects = sum(isinstance(item, dict) for _, records in lists for item in records)
        if not objects:
            where = "JSON list holds" if isinstance(document, list) else "JSON object's lists hold"
            reason = f"{where} no objects ({total} item(s) of other kinds)"
        else:
            fields = len(_header_of([i for _, r in lists for i in r]))
            reason = f"no recognisable name field in the JSON records ({fields} field(s))"
        raise FileRejected(reason, rows=row, row_rejects=rejects)
    main = grids[0]
    main.more = grids[1:]
    main.rejects = rejects
    main.rows_in = row
    main.notes = notes
    if isinstance(document, list):
        main.dialect = "json list"
    elif lists[0][0] == "":
        main.dialect = "json object (one record)"
    else:
        main.dialect = (
            "json object[" + ", ".join(repr(k) for k, _ in lists[:5]) + ("…" if len(lists) > 5 else "") + "]"
        )
    return main


_JSON_MAX_ITEMS = 20_000_000


def _json_table(rows: list[list[Any]], columns: dict[str, str] | None) -> Grid:
    """A JSON list of arrays (a sheet dumped by a script): read as a table, the header found as in a CSV."""
    width = max(len(row) for row in rows)
    if width > MAX_COLUMNS:
        raise FileRejected(f"JSON arrays of {width:,} items: more columns than a sheet holds", rows=len(rows))
    cells = [[_json_value(v) for v in row] + [None] * (width - len(row)) for row in rows]
    frame = pl.DataFrame(cells, schema={f"column_{i}": pl.String() for i in range(width)}, orient="row")
    grid = sheets_to_grid([("1", frame)], None, columns, "json table")
    grid.dialect = "json list of arrays"
    return grid


def read_json_lines(
    text: str,
    columns: dict[str, str] | None = None,
    bad_lines: dict[int, str] | None = None,
    max_cells: int = DEFAULT_MAX_CELLS,
) -> Grid:
    """One JSON object per line; a line that is not an object is rejected on its own. `bad_lines` maps
    0-based physical lines that must not be parsed (too long, nested too deep) to their reason."""
    items: list[tuple[int, Any]] = []
    rejects: list[RowReject] = []
    bad_lines = bad_lines or {}
    row = 0
    for number, line in enumerate(text.split("\n")):
        if not line.strip():
            continue
        row += 1
        if number in bad_lines:
            rejects.append(RowReject(row, None, bad_lines[number], ""))
            continue
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
        raise FileRejected(
            f"no JSON object on any line (first problem: {rejects[0].reason})", rows=row, row_rejects=rejects
        )
    header = _header_of([item for _, item in items])
    if header and not map_header(header, columns).has_name:
        reason = f"no recognisable name field in the JSON records ({len(header)} field(s))"
        every = rejects + [RowReject(r, None, reason, _raw_json(item)) for r, item in items]
        raise FileRejected(reason, rows=row, row_rejects=sorted(every, key=lambda r: r.source_row or 0))
    return _records_to_grid(items, "json lines", rejects, row, max_cells)

"""Report-template layouts: rows of a commune's Excel report that are not records.

Offices export registers from report templates, so the rows under the header hold more than people: a
"(1) (2) … (n)" column-number row, the header again at every page break, empty rows, rows that hold only an STT
number, totals ("Tổng cộng", "Cộng"), signature blocks ("Người lập biểu", "TM. UBND" and the signers' names
below), the date line ("…, ngày … tháng … năm …"), notes, section labels that group people ("I. ẤP BÌNH
HÒA"), and a title block pasted again mid-file.
`template_rows` finds them with polars expressions over the grid (`c0..cN` + `source_row`) so ingest can reject
each one with a reason (never a personal value) and count them per file. The title block above the header is
skipped by header detection (`detect.find_header`) and noted there.

Keyword rows count only when the row's name cells are empty or hold the keyword themselves: "Cộng Hòa" is a
commune and "ngày 5 tháng 10 năm 1955" a date of birth in a real record.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter

import polars as pl

from sachsong.sources.headers import (
    ADDRESS_PARTS,
    DOB_PARTS,
    NAME_PARTS,
    ROW_COUNTER,
    SEX_FEMALE,
    SEX_MALE,
    HeaderMapping,
    lookup,
)

# Kind of template row → (singular, plural) for the file's notes.
KINDS: dict[str, tuple[str, str]] = {
    "empty row": ("empty row", "empty rows"),
    "column-number row": ("column-number row", "column-number rows"),
    "repeated header": ("repeated header", "repeated headers"),
    "title line": ("title line", "title lines"),
    "total row": ("total row", "total rows"),
    "signature row": ("signature row", "signature rows"),
    "date line": ("date line", "date lines"),
    "note row": ("note row", "note rows"),
    "STT-only row": ("STT-only row", "STT-only rows"),
    "section row": ("section row", "section rows"),
}

# Matched against the lower-cased, stripped cell (NFC; "uỷ"/"ủy" and "hoà"/"hòa" spellings both listed).
_TOTAL = r"(?i)^(?:tổng\s+(?:cộng|số)|cộng\s+trang|(?:tổng|cộng)\s*(?::|$|\d|\())"
_SIGNATURE = (
    r"(?i)^(?:người\s+(?:lập|ghi|kiểm\s+tra|duyệt|tổng\s+hợp|đại\s+diện)|kế\s+toán|thủ\s+trưởng|(?:phó\s+)?chủ\s+tịch"
    r"|tm\.?\s|t/m\s|kt\.?\s|q\.\s*chủ|trưởng\s+(?:thôn|ấp|bản|xóm|khu|công\s+an|ban)|xác\s+nhận"
    r"|\(?\s*ký\s*(?:tên|,|và|ghi|\))|đã\s+ký|cán\s+bộ\s+(?:tư\s+pháp|hộ\s+tịch|tổng\s+hợp|thống\s+kê|lập))"
)
_DATE_LINE = r"(?i)ngày[\s\d.…_/-]*tháng[\s\d.…_/-]*năm"
_NOTE = r"(?i)^(?:\*+\s*)?(?:ghi\s+chú|lưu\s+ý|chú\s+thích|chú\s+ý|nb\s*:)"
_TITLE = (
    r"(?i)^(?:(?:ủy|uỷ|uy)\s+ban\s+nhân\s+dân|ubnd(?:\s|$)|cộng\s+ho[àa]\s+xã\s+hội"
    r"|độc\s+lập\s*[-–]|danh\s+sách(?:\s|$)|biểu\s+(?:số|mẫu)|mẫu\s+số|bảng\s+(?:kê|tổng\s+hợp))"
)
# A group label alone on its row: "I. ẤP BÌNH HÒA", "II/ Thôn 2", "A) Tổ 5".
_SECTION = r"^(?:[IVXLC]{1,5}|[A-Z]|\d{1,2})\s*[.)/:-]\s*\p{L}"
_TOKEN_OR_EMPTY = r"^\(?\s*[0-9A-Z]{0,3}\s*\)?$"  # a name cell that could be a column number or empty
_KEYWORDS = "|".join(f"(?:{p})" for p in (_TOTAL, _SIGNATURE, _DATE_LINE, _NOTE, _TITLE))
_COLUMN_NUMBER = r"^\(?\s*(\d{1,3})\s*\)?$"
_COLUMN_LETTER = r"^\(?\s*[A-Z]\s*\)?$"
_ROW_NUMBER = r"^\d{1,6}\.?$"
_GROUPED = re.compile(r"^(.*?)\s*\((.*)\)$")


def _norm(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text).lower().split())


def _header_variants(name: str) -> list[str]:
    """The spellings a repeated header shows in one column: the whole name, and for a two-row header its leaf
    and its group ("Ngày (Ngày sinh)" repeats as "Ngày" on the lower line and "Ngày sinh" on the upper)."""
    spellings = {" ".join(name.split())}
    grouped = _GROUPED.match(name)
    if grouped:
        spellings.update((" ".join(grouped.group(1).split()), " ".join(grouped.group(2).split())))
    # Cells are compared as they are (lower-casing every cell of a big file is costly): as typed, lower, upper.
    variants = {form for s in spellings for form in (s, _norm(s), _norm(s).upper(), s.upper())}
    return sorted(v for v in variants if v)


def template_rows(frame: pl.DataFrame, header: list[str], mapping: HeaderMapping) -> pl.DataFrame:
    """(source_row, kind) of every row of `frame` that is part of the report template, not a record.

    Only rows whose name cells could be template (empty, a token like "(2)", a header spelling or a keyword)
    or that have at most three cells are examined; every other row is a record, so a big file costs a pass over
    its name columns and cell counts, not a dozen regexes over every cell."""
    empty = pl.DataFrame(schema={"source_row": pl.Int64(), "kind": pl.String()})
    columns = [c for c in frame.columns if c.startswith("c") and c[1:].isdigit()]
    if not columns or frame.height == 0:
        return empty
    targets = {f"c{position}": target for position, target in mapping.columns.items()}
    name_columns = [c for c, t in targets.items() if (t == "full_name" or t in NAME_PARTS) and c in columns]
    n_filled = pl.sum_horizontal(
        pl.col(c).str.strip_chars().str.len_bytes().fill_null(0) > 0 for c in columns
    )
    if name_columns:
        names = {c: pl.col(c).str.strip_chars() for c in name_columns}
        maybe = (
            pl.all_horizontal(names[c].str.contains(_TOKEN_OR_EMPTY).fill_null(True) for c in name_columns)
            | pl.any_horizontal(names[c].str.contains(_KEYWORDS).fill_null(False) for c in name_columns)
            | pl.any_horizontal(
                names[c].is_in(_header_variants(header[i])).fill_null(False)
                for i, c in enumerate(columns)
                if c in names and i < len(header)
            )
        )
    else:
        maybe = pl.lit(True)
    few = n_filled <= min(3, len(columns) - 1)  # signers' names; a full row of a narrow file is a record
    marked = frame.with_columns(_position=pl.int_range(pl.len()), _maybe=few | maybe)
    candidates = marked.filter(pl.col("_maybe"))
    if candidates.height == 0:
        return empty
    records = marked.filter(~pl.col("_maybe"))
    last_plain = int(records["_position"].max()) if records.height else -1
    return _classify(candidates, columns, header, targets, name_columns, last_plain)


def _classify(
    frame: pl.DataFrame,
    columns: list[str],
    header: list[str],
    targets: dict[str, str],
    name_columns: list[str],
    last_plain: int,
) -> pl.DataFrame:
    """Kinds of the candidate rows (`_position` is each row's place in the file; `last_plain` the place of the
    last row that is a record for certain)."""
    # Stripped cells and every per-cell test are materialised once, then combined per row.
    frame = frame.with_columns(pl.col(c).str.strip_chars() for c in columns)
    cells = {c: pl.col(c) for c in columns}
    filled = {c: cells[c].str.len_bytes().fill_null(0) > 0 for c in columns}

    def any_cell(pattern: str, within: list[str] | None = None) -> pl.Expr:
        return pl.any_horizontal(cells[c].str.contains(pattern).fill_null(False) for c in within or columns)

    frame = frame.with_columns(
        _filled=pl.sum_horizontal(filled.values()),
        _total=any_cell(_TOTAL),
        _signature=any_cell(_SIGNATURE),
        _date=any_cell(_DATE_LINE),
        _note=any_cell(_NOTE),
        _title=any_cell(_TITLE),
        _digit=any_cell(r"\d"),
        _section=any_cell(_SECTION),
    )
    n_filled = pl.col("_filled")

    counters = [
        f"c{i}"
        for i, name in enumerate(header)
        if f"c{i}" in cells and (hit := lookup(name)) is not None and hit[0] == ROW_COUNTER
    ]
    if not counters and "c0" in cells and "c0" not in targets:
        counters = ["c0"]  # an unlabelled first column of row numbers

    # Column-number row: every filled cell is a small number or a letter, numbers rising left to right.
    numbers = [cells[c].str.extract(_COLUMN_NUMBER, 1).cast(pl.Int64, strict=False) for c in columns]
    tokens = pl.sum_horizontal(
        (cells[c].str.contains(_COLUMN_NUMBER) | cells[c].str.contains(_COLUMN_LETTER)).fill_null(False)
        for c in columns
    )
    # Rising left to right: no number at or below the largest one before it (empty cells skipped).
    falls, running = [], numbers[0]
    for number in numbers[1:]:
        falls.append((number <= running).fill_null(False))
        running = pl.max_horizontal(running, number)
    rising = ~pl.any_horizontal(falls) if falls else pl.lit(True)
    column_numbers = (
        (n_filled >= max(2, len(columns) // 2))
        & (tokens == n_filled)
        & (pl.sum_horizontal(n.is_not_null() for n in numbers) >= 2)
        & rising.fill_null(False)
    )

    # Repeated header: at least two filled cells, each one a spelling of its column's header.
    header_cells = [
        cells[c].is_in(_header_variants(header[i])).fill_null(False)
        for i, c in enumerate(columns)
        if i < len(header)
    ]
    repeated = (n_filled >= 2) & (pl.sum_horizontal(header_cells) == n_filled)

    # Keyword rows, only where the name cells are empty or hold the keyword.
    if name_columns:
        no_name = pl.all_horizontal(~filled[c] for c in name_columns) | any_cell(_KEYWORDS, name_columns)
    else:
        no_name = pl.lit(True)
    signature = pl.col("_signature") | pl.col("_date")
    # A section label stands in the STT column or, alone, in the name column.
    section_name_ok = (
        pl.all_horizontal(~filled[c] | cells[c].str.contains(_SECTION).fill_null(False) for c in name_columns)
        if name_columns
        else pl.lit(True)
    )

    only_counter = (
        pl.all_horizontal(cells[c].str.contains(_ROW_NUMBER).fill_null(False) for c in counters)
        & (n_filled == len(counters))
        if counters
        else pl.lit(False)
    )
    kind = (
        pl.when(n_filled == 0)
        .then(pl.lit("empty row"))
        .when(column_numbers)
        .then(pl.lit("column-number row"))
        .when(repeated)
        .then(pl.lit("repeated header"))
        .when(no_name & pl.col("_total"))
        .then(pl.lit("total row"))
        .when(no_name & pl.col("_signature"))
        .then(pl.lit("signature row"))
        .when(no_name & pl.col("_date"))
        .then(pl.lit("date line"))
        .when(no_name & pl.col("_note"))
        .then(pl.lit("note row"))
        .when(no_name & pl.col("_title") & (n_filled <= 2))
        .then(pl.lit("title line"))
        .when(only_counter)
        .then(pl.lit("STT-only row"))
        .when(pl.col("_section") & (n_filled == 1) & section_name_ok)
        .then(pl.lit("section row"))
    )
    # Below a signature or date line and after the last record-like row, a row of at most three cells without a
    # digit (no STT, date, id or phone) is the signers' names and ranks, wherever they fall ("Đại úy …" under
    # the CCCD column); a page signed mid-file is followed by records again, so those stay.
    after_signature = (no_name & signature).fill_null(False).cum_max().shift(1, fill_value=False)
    short = (n_filled <= 3) & ~pl.col("_digit")
    position = pl.col("_position")
    last_record = pl.max_horizontal(
        pl.when(kind.is_null() & ~short).then(position).max().fill_null(-1), pl.lit(last_plain)
    )
    signers = after_signature & short & (position > last_record)
    kind = pl.when(kind.is_null() & signers).then(pl.lit("signature row")).otherwise(kind)
    return frame.select(pl.col("source_row").cast(pl.Int64), kind.alias("kind")).filter(
        pl.col("kind").is_not_null()
    )


def describe(kinds: pl.Series) -> str:
    """ "3 template rows dropped: 1 column-number row, 2 repeated headers" (kinds in a fixed order)."""
    counted = Counter(kinds.to_list())
    total = sum(counted.values())
    parts = [
        f"{counted[kind]} {forms[0] if counted[kind] == 1 else forms[1]}"
        for kind, forms in KINDS.items()
        if counted[kind]
    ]
    return f"{total} template row{'s' if total != 1 else ''} dropped: {', '.join(parts)}"


def split_template_rows(
    frame: pl.DataFrame, header: list[str], mapping: HeaderMapping
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(the records, the template rows with a `kind` column) of a grid frame."""
    found = template_rows(frame, header, mapping)
    if found.height == 0:
        return frame, frame.clear().with_columns(kind=pl.lit(None, dtype=pl.String))
    dropped = frame.join(found, on="source_row", how="inner", maintain_order="left")
    return frame.join(found, on="source_row", how="anti", maintain_order="left"), dropped


# --- Split columns ----------------------------------------------------------------------------------------------
_NOT_A_MARK = ["0", "-", "–", "không", "k"]
_HAS_YEAR = r"(?:^|\D)(?:1[89]|20)\d{2}(?:\D|$)"


def _digits(expr: pl.Expr, width: int) -> pl.Expr:
    """Excel's "5.0" → "5", then one digit padded to `width` ("5" → "05"); anything else is kept as typed."""
    plain = expr.str.replace(r"^(\d+)\.0+$", "${1}")
    return pl.when(plain.str.contains(r"^\d$")).then(plain.str.pad_start(width, "0")).otherwise(plain)


def join_split_columns(
    frame: pl.DataFrame, clean: dict[str, pl.Expr]
) -> tuple[dict[str, pl.Expr], list[str], pl.DataFrame]:
    """Join columns split by the template into canonical ones: day/month/year → "dd/mm/yyyy" (or what is
    filled, "yyyy" alone), Nam / Nữ marks → "Nam" / "Nữ", address parts → "house, village, commune, district,
    province". `clean` maps targets to stripped, empty-as-null expressions over `frame`. Returns the new
    expressions, notes for the file, and (source_row, reason) warnings for rows whose marks say nothing."""
    clean = dict(clean)
    notes: list[str] = []
    warnings = pl.DataFrame(schema={"source_row": pl.Int64(), "reason": pl.String()})
    if any(p in clean for p in DOB_PARTS):
        day, month, year = (clean.pop(p, pl.lit(None, dtype=pl.String)) for p in DOB_PARTS)
        parts = [_digits(day, 2), _digits(month, 2), _digits(year, 4)]
        clean["date_of_birth"] = pl.when(pl.any_horizontal(p.is_not_null() for p in parts)).then(
            pl.concat_str(parts, separator="/", ignore_nulls=True)
        )
        notes.append("date_of_birth joined from day / month / year columns")
    if SEX_MALE in clean or SEX_FEMALE in clean:
        pair = SEX_MALE in clean and SEX_FEMALE in clean  # with one column, an empty cell says nothing
        nothing = pl.lit(None, dtype=pl.String)
        male_value, female_value = clean.pop(SEX_MALE, nothing), clean.pop(SEX_FEMALE, nothing)
        male = male_value.is_not_null() & ~male_value.str.to_lowercase().is_in(_NOT_A_MARK)
        female = female_value.is_not_null() & ~female_value.str.to_lowercase().is_in(_NOT_A_MARK)
        male, female = male.fill_null(False), female.fill_null(False)
        clean["sex"] = pl.when(male & ~female).then(pl.lit("Nam")).when(female & ~male).then(pl.lit("Nữ"))
        notes.append("sex read from marks under separate Nam / Nữ columns")
        if "date_of_birth" not in clean:
            # Registers that write the year of birth under the Nam or Nữ column: the mark is the date.
            marked = pl.when(male & ~female).then(male_value).when(female & ~male).then(female_value)
            if frame.select(marked.str.contains(_HAS_YEAR).any()).item():
                clean["date_of_birth"] = pl.when(marked.str.contains(_HAS_YEAR)).then(marked)
                notes.append("date_of_birth read from the year written under Nam / Nữ")
        reason = (
            pl.when(male & female)
            .then(pl.lit("sex marks: both Nam and Nữ are marked; sex left empty"))
            .when(~male & ~female)
            .then(pl.lit("sex marks: neither Nam nor Nữ is marked; sex left empty"))
        )
        if pair:
            warnings = frame.select(pl.col("source_row").cast(pl.Int64), reason.alias("reason")).filter(
                pl.col("reason").is_not_null()
            )
    address_parts = [p for p in ("address", *ADDRESS_PARTS) if p in clean]
    if any(p in clean for p in ADDRESS_PARTS):
        exprs = [clean.pop(p) for p in address_parts]
        clean["address"] = pl.when(pl.any_horizontal(e.is_not_null() for e in exprs)).then(
            pl.concat_str(exprs, separator=", ", ignore_nulls=True)
        )
        notes.append(f"address joined from {len(exprs)} columns")
    return clean, notes, warnings

"""Read limits and confined opening: no source file can hang, starve or escape the night.

Every source file is opened relative to the sources folder without following links (`O_NOFOLLOW` on every
path component), without blocking (`O_NONBLOCK`: a FIFO never waits for a writer), and the opened descriptor
must be the regular file the walk saw (same device and inode). Before a parser sees a file, its size, line
lengths, JSON nesting depth and, for xlsx, every zip member (real uncompressed size, compression ratio) and
every sheet's cell span are checked against `ReadLimits`. A breach raises `FileRejected` naming the limit.
"""

from __future__ import annotations

import codecs
import errno
import io
import os
import posixpath
import re
import stat
import struct
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO

import numpy as np

_CHUNK = 4 << 20
_STUB = b"\x00"  # stands in for a line too long to read; the reader rejects that row by its line number


class FileRejected(ValueError):
    """The whole file cannot be used; the message says why (file, limit or problem, never a value).

    `rows` is the number of data rows the file holds when it could be counted without reading it (rows
    rejected with it), None when it could not; `rows_note` says why not. `row_rejects` lists those rows one
    by one (the readers' RowReject) when they could be read but not used (no header names a person).
    """

    def __init__(
        self,
        message: str,
        *,
        rows: int | None = None,
        rows_note: str | None = None,
        row_rejects: list[Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.rows = rows
        self.rows_note = rows_note
        self.row_rejects = row_rejects or []


@dataclass(frozen=True)
class ReadLimits:
    """Bounds on what one source file may cost. Each breach is a per-file reject naming the limit."""

    max_file_bytes: int = 2 << 30
    max_field_bytes: int = 1_000_000  # a longer field rejects its row
    max_line_bytes: int = 8 << 20  # a longer line (or xlsx cell) is not read at all: row or file rejected
    max_json_bytes: int = 512 << 20  # JSON is parsed into Python objects, several times its size
    max_markup_bytes: int = 512 << 20  # so are HTML tables and Excel 2003 XML
    max_json_depth: int = 64
    max_rows: int = 20_000_000
    max_cells: int = 50_000_000
    max_zip_members: int = 10_000
    max_zip_member_bytes: int = 1 << 30  # uncompressed, per member
    max_zip_total_bytes: int = 2 << 30  # uncompressed, the whole archive
    max_zip_ratio: float = 200.0  # uncompressed / compressed, for members over `zip_ratio_floor` bytes
    zip_ratio_floor: int = 1 << 20

    def line_limit(self) -> int:
        return max(self.max_line_bytes, self.max_field_bytes)


DEFAULT_LIMITS = ReadLimits()


def _size(n: int) -> str:
    return f"{n:,} bytes"


# --- Confined opening -------------------------------------------------------------------------------------------
_KINDS = (
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISLNK, "a symbolic link"),
)


def not_regular(mode: int) -> str | None:
    """What a non-regular file is ("a named pipe (FIFO)", ...), None for a regular file."""
    if stat.S_ISREG(mode):
        return None
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def open_confined(root_fd: int, relative: str, expected: os.stat_result | None = None) -> int:
    """Open `relative` (POSIX, inside the folder open at `root_fd`) for reading, following no link.

    Every component is opened with O_NOFOLLOW relative to its parent's descriptor, the file itself with
    O_NONBLOCK too, and its descriptor must be a regular file, the same one the walk saw when `expected` is
    given. Raises FileRejected (the file changed, is a link or is not a regular file) or OSError.
    """
    parts = [p for p in relative.split("/") if p]
    if not parts or any(p in (".", "..") for p in parts):
        raise FileRejected("path leaves the sources folder: refused")
    flags = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOFOLLOW", 0)
    directory = root_fd
    opened: list[int] = []
    try:
        for part in parts[:-1]:
            try:
                directory = os.open(part, flags | os.O_DIRECTORY, dir_fd=directory)
            except OSError as exc:
                if exc.errno in (errno.ELOOP, errno.ENOTDIR, errno.EMLINK):
                    raise FileRejected(f"folder {part!r} is no longer a plain folder: refused") from exc
                raise
            opened.append(directory)
        try:
            fd = os.open(parts[-1], flags | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0), dir_fd=directory)
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.ENOTDIR, errno.EMLINK):
                raise FileRejected("replaced by a symbolic link during the run: refused") from exc
            raise
    finally:
        for descriptor in opened:
            os.close(descriptor)
    try:
        info = os.fstat(fd)
        kind = not_regular(info.st_mode)
        if kind is not None:
            raise FileRejected(f"{kind}, not a regular file: refused")
        if expected is not None and (info.st_dev, info.st_ino) != (expected.st_dev, expected.st_ino):
            raise FileRejected("replaced by another file during the run: refused")
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_all(fd: int, size: int) -> bytes:
    """The first `size` bytes of the file (it was checked against the limits before)."""
    chunks: list[bytes] = []
    left = size
    while left > 0:
        chunk = os.read(fd, min(left, _CHUNK))
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


# --- Text: one bounded pass over the bytes ---------------------------------------------------------------------
@dataclass
class ScannedText:
    """A text file's bytes ready to decode: CR-only line ends made LF, lines over the limit replaced by a stub."""

    data: bytes
    nonblank_lines: int
    long_lines: set[int] = field(default_factory=set)  # 0-based physical lines replaced by the stub
    cr_only: bool = False
    transcoded_from: str | None = None  # "utf-16"/"utf-32": the data was re-encoded as UTF-8


_BOMS_WIDE = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_WHITESPACE = np.zeros(256, dtype=bool)
_WHITESPACE[[9, 10, 11, 12, 13, 32]] = True


def _raw_chunks(fd: int, size: int) -> Iterator[bytes]:
    left = size
    while left > 0:
        chunk = os.read(fd, min(left, _CHUNK))
        if not chunk:
            return
        left -= len(chunk)
        yield chunk


def _utf8_chunks(fd: int, size: int, head: bytes) -> tuple[Iterator[bytes], str | None]:
    """The file's bytes, re-encoded as UTF-8 when it starts with a UTF-16/32 byte-order mark (so lines can be
    measured and cut at byte level)."""
    for bom, name in _BOMS_WIDE:
        if head.startswith(bom):
            return _transcode(fd, size, name), name
    return _raw_chunks(fd, size), None


def _transcode(fd: int, size: int, codec: str) -> Iterator[bytes]:
    decoder = codecs.getincrementaldecoder(codec)("strict")  # reads the byte-order mark itself
    try:
        for chunk in _raw_chunks(fd, size):
            yield decoder.decode(chunk).encode("utf-8", "surrogatepass")
        yield decoder.decode(b"", final=True).encode("utf-8", "surrogatepass")
    except UnicodeDecodeError as exc:
        raise FileRejected(f"has a {codec} byte-order mark but is not {codec}") from exc


def scan_text(fd: int, size: int, head: bytes, limits: ReadLimits) -> ScannedText:
    """Read a text file in blocks: count its non-blank lines, turn Mac CR-only line ends into LF, and replace
    every line longer than the line limit by a one-byte stub (its number is kept) so no parser holds it."""
    limit = limits.line_limit()
    chunks, transcoded = _utf8_chunks(fd, size, head)
    out: list[bytes] = []
    long_lines: set[int] = set()
    lines_done = 0  # physical lines completed before `buffer`
    nonblank = 0
    carry = b""  # the open (unfinished) line
    carry_long = False  # the open line is already over the limit (its bytes were dropped)
    cr_only: bool | None = None
    for chunk in _with_end(chunks):
        at_end = chunk is None
        data = b"" if at_end else chunk
        if cr_only is None and data:
            cr_only = b"\n" not in data and b"\r" in data
        if cr_only:
            data = data.replace(b"\r", b"\n")
        buffer = carry + data
        array = np.frombuffer(buffer, dtype=np.uint8)
        newlines = np.flatnonzero(array == 10)
        starts = np.concatenate(([0], newlines + 1))
        ends = np.concatenate((newlines, [len(buffer)]))
        if not at_end:  # the last segment is still open
            starts, ends = starts[:-1], ends[:-1]
        lengths = ends - starts
        has_text = _has_text(buffer, array, starts, lengths)
        over = lengths > limit
        if carry_long and len(lengths):
            over[0] = True
            has_text[0] = True
        nonblank += int(has_text.sum())
        complete_end = int(ends[-1]) + 1 if len(ends) else 0
        if at_end:
            complete_end = len(buffer)
        if over.any():
            pieces: list[bytes] = []
            position = 0
            for k in np.flatnonzero(over):
                pieces.append(buffer[position : int(starts[k])])
                pieces.append(_STUB)
                long_lines.add(lines_done + int(k))
                position = int(ends[k])
            pieces.append(buffer[position:complete_end])
            out.append(b"".join(pieces))
        else:
            out.append(buffer[:complete_end])
        lines_done += len(lengths)
        if len(lengths) and carry_long:
            carry_long = False
        carry = buffer[complete_end:] if not at_end else b""
        if len(carry) > limit:
            carry, carry_long = b"", True
        elif carry_long:
            carry = b""
        if at_end:
            break
    return ScannedText(b"".join(out), nonblank, long_lines, cr_only=bool(cr_only), transcoded_from=transcoded)


def _has_text(buffer: bytes, array: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Which lines hold something other than blanks: a line starting with a non-blank byte does; the few
    others (empty, "\r", indented) are looked at one by one."""
    has_text = np.zeros(len(starts), dtype=bool)
    filled = lengths > 0
    has_text[filled] = ~_WHITESPACE[array[starts[filled]]]
    for k in np.flatnonzero(filled & ~has_text):
        start = int(starts[k])
        has_text[k] = bool(buffer[start : start + int(lengths[k])].strip())
    return has_text


def _with_end(chunks: Iterator[bytes]) -> Iterator[bytes | None]:
    yield from chunks
    yield None


# --- JSON nesting, without a recursive parser ------------------------------------------------------------------
_JSON_STRING = re.compile(rb'"[^"\\\n]*(?:\\.[^"\\\n]*)*"')
_NOT_STRUCTURE = bytes(b for b in range(256) if b not in b"[]{}\n")
_STEP = np.zeros(256, dtype=np.int8)
_STEP[[ord("["), ord("{")]] = 1
_STEP[[ord("]"), ord("}")]] = -1


def json_too_deep(data: bytes, limit: int, per_line: bool = False) -> set[int]:
    """0-based lines where JSON nesting passes `limit` (any line of a document; each line of JSON Lines,
    where depth starts again at every line). Strings are removed first: brackets inside them do not count."""
    structure = _JSON_STRING.sub(b"", data).translate(None, _NOT_STRUCTURE)
    array = np.frombuffer(structure, dtype=np.uint8)
    deep: set[int] = set()
    depth_before = 0
    base_before = 0
    lines_before = 0
    for start in range(0, len(array), _CHUNK):
        part = array[start : start + _CHUNK]
        depth = np.cumsum(_STEP[part], dtype=np.int64) + depth_before
        is_newline = part == 10
        if per_line:
            last = np.maximum.accumulate(np.where(is_newline, np.arange(len(part)), -1))
            base = np.where(last >= 0, depth[np.maximum(last, 0)], base_before)
            relative = depth - base
            base_before = int(base[-1])
        else:
            relative = depth
        line = lines_before + np.cumsum(is_newline)
        hits = np.flatnonzero(relative > limit)
        if len(hits):
            deep.update(int(x) for x in np.unique(line[hits])[:1000])
        depth_before = int(depth[-1])
        lines_before = int(line[-1])
    return deep


# --- xlsx: the archive checked before a spreadsheet library opens it -------------------------------------------
_ROW_REF = re.compile(rb'<(?:\w+:)?row\b[^>]*?\sr="(\d+)"')
_ROW_TAG = re.compile(rb"<(?:\w+:)?row[\s/>]")
_CELL_TAG = re.compile(rb"<(?:\w+:)?c[\s/>]")
_CELL_REF = re.compile(rb'<(?:\w+:)?c\s[^>]*?\br="[A-Z]')
_COLUMN_REFS = {width: re.compile(rb'<(?:\w+:)?c\s[^>]*?\br="([A-Z]{%d})\d' % width) for width in (3, 2, 1)}
_DIMENSION = re.compile(rb'<(?:\w+:)?dimension\s+ref="([A-Z]{1,3})(\d{1,7})(?::([A-Z]{1,3})(\d{1,7}))?"')
_SHEET_TAG = re.compile(rb"<(?:\w+:)?sheet\s[^>]*>")
_REL_TAG = re.compile(rb"<(?:\w+:)?Relationship\s[^>]*>")
_ATTRIBUTE = re.compile(rb'([\w:]+)="([^"]*)"')
MAX_COLUMNS = 16_384  # Excel's XFD


def column_number(letters: bytes | str) -> int:
    """'A' → 1, 'XFD' → 16384."""
    number = 0
    for letter in letters if isinstance(letters, str) else letters.decode("ascii"):
        number = number * 26 + ord(letter) - 64
    return number


def column_letters(number: int) -> str:
    letters = ""
    while number > 0:
        number, rest = divmod(number - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


@dataclass
class SheetSpan:
    """What a sheet part really holds, from its XML."""

    part: str
    rows: int = 0  # highest row number (or number of row elements)
    columns: int = 0  # highest column (an upper bound when cells carry no reference)
    declared_cells: int = 0  # from <dimension ref>
    longest_text: int = 0  # the longest run of bytes without markup (a cell's text)
    strings: int = 0  # <si> items (the shared strings part)

    @property
    def cells(self) -> int:
        return self.rows * self.columns


@dataclass
class XlsxCheck:
    """An xlsx archive that passed the limits; `replacement` holds corrected workbook bytes when a sheet's
    declared dimension was false (the library would have allocated by it), else None."""

    sheets: dict[str, SheetSpan]  # sheet name → span
    replacement: bytes | None = None
    notes: list[str] = field(default_factory=list)


def _attributes(tag: bytes) -> dict[str, str]:
    found = {}
    for name, value in _ATTRIBUTE.findall(tag):
        key = name.decode("ascii", "replace").split(":")[-1]
        found.setdefault(key, value.decode("utf-8", "replace"))
    return found


def _member_entries(stream: BinaryIO, size: int, limits: ReadLimits) -> None:
    """Refuse an archive whose central directory lists more members than allowed, before zipfile reads it."""
    tail_size = min(size, 65_536 + 22)
    stream.seek(size - tail_size)
    tail = stream.read(tail_size)
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or at + 22 > len(tail):
        raise FileRejected("not a readable spreadsheet (no zip directory)", rows_note="not a zip archive")
    entries = struct.unpack("<H", tail[at + 10 : at + 12])[0]
    if entries > limits.max_zip_members:
        raise FileRejected(
            f"zip archive lists {entries:,} members, over the limit of {limits.max_zip_members:,} "
            "(max_zip_members)",
            rows_note="over a read limit",
        )


def _stream_member(stream: BinaryIO, info: zipfile.ZipInfo, limits: ReadLimits) -> Iterator[bytes]:
    """A member's real uncompressed bytes, decompressed here in bounded blocks, whatever its header claims."""
    where = f"zip member {info.filename!r}"
    stream.seek(info.header_offset)
    header = stream.read(30)
    if len(header) != 30 or header[:4] != b"PK\x03\x04":
        raise FileRejected(f"not a readable spreadsheet ({where}: bad local header)", rows_note="broken zip")
    name_length, extra_length = struct.unpack("<HH", header[26:30])
    stream.seek(info.header_offset + 30 + name_length + extra_length)
    left = info.compress_size
    produced = 0
    budget = min(info.file_size, limits.max_zip_member_bytes)
    decompressor = zlib.decompressobj(-15) if info.compress_type == zipfile.ZIP_DEFLATED else None
    while left > 0:
        raw = stream.read(min(left, 1 << 20))
        if not raw:
            break
        left -= len(raw)
        pending = raw
        while pending:
            if decompressor is None:
                out, pending = pending, b""
            else:
                out = decompressor.decompress(pending, 1 << 22)
                pending = decompressor.unconsumed_tail
            produced += len(out)
            if produced > budget:
                raise FileRejected(
                    f"{where} inflates past its declared size or the limit of "
                    f"{_size(limits.max_zip_member_bytes)} (max_zip_member_bytes)",
                    rows_note="over a read limit",
                )
            if out:
                yield out
            if decompressor is not None and not out and pending:
                break
    if produced != info.file_size:
        raise FileRejected(
            f"not a readable spreadsheet ({where}: its size differs from its header)", rows_note="broken zip"
        )


def _scan_sheet(chunks: Iterator[bytes], part: str, limits: ReadLimits) -> SheetSpan:
    span = SheetSpan(part=part)
    carry = b""
    row_tags = 0
    cell_tags = 0
    cells_with_reference = 0
    max_row = 0
    max_column_letters = b""
    first = True
    limit = limits.line_limit()
    for chunk in chunks:
        data = carry + chunk
        cut = data.rfind(b">") + 1
        if cut == 0:
            if len(data) > limit:
                span.longest_text = len(data)
                return span
            carry = data
            continue
        block, carry = data[:cut], data[cut:]
        if first:
            first = False
            found = _DIMENSION.search(block[:65_536])
            if found:
                last_column = found.group(3) or found.group(1)
                last_row = found.group(4) or found.group(2)
                span.declared_cells = column_number(last_column) * int(last_row)
        span.strings += block.count(b"<si>") + block.count(b"<si ")
        array = np.frombuffer(block, dtype=np.uint8)
        opens = np.flatnonzero(array == ord("<"))
        if len(opens):
            gaps = np.diff(opens, prepend=0)
            span.longest_text = max(span.longest_text, int(gaps.max()))
        prefixed = b":row" in block or b":c " in block or b":c>" in block or b":c/>" in block
        plain = None if prefixed else _plain_tags(array, opens)
        if plain is not None:
            # What writers produce: no namespace prefix, the reference first. Read from the tag positions.
            plain_rows, block_max_row, plain_cells, block_max_column = plain
            rows = [str(block_max_row).encode()] if plain_rows else []
            row_tags += plain_rows
            cell_tags += plain_cells
            cells_with_reference += plain_cells
            letters = column_letters(block_max_column).encode() if block_max_column else b""
        else:
            rows = _ROW_REF.findall(block)
            row_tags += len(_ROW_TAG.findall(block))
            cell_tags += len(_CELL_TAG.findall(block))
            cells_with_reference += len(_CELL_REF.findall(block))
            letters = b""
            for width, pattern in _COLUMN_REFS.items():
                if width < len(max_column_letters):
                    break
                found_letters = pattern.findall(block)
                if found_letters:
                    letters = max(found_letters)
                    break
        if rows:
            max_row = max(max_row, int(max(rows, key=lambda r: (len(r), r))))
        if (len(letters), letters) > (len(max_column_letters), max_column_letters):
            max_column_letters = letters
    span.longest_text = max(span.longest_text, len(carry))
    span.rows = max(max_row, row_tags)
    span.columns = column_number(max_column_letters) if max_column_letters else 0
    if cell_tags > cells_with_reference:
        # Cells without a reference sit after the previous one: bound the width by the cell count.
        span.columns = min(MAX_COLUMNS, max(span.columns, cell_tags))
    return span


def _plain_tags(array: np.ndarray, opens: np.ndarray) -> tuple[int, int, int, int] | None:
    """(row tags, highest row, cell tags, highest column) of a block whose <row> and <c> tags all carry their
    reference first (`<row r="12"`, `<c r="AB12"`), computed on the tag positions; None when some do not."""
    padded = np.concatenate((array, np.zeros(16, dtype=np.uint8)))

    def at(offset: int, where: np.ndarray = opens) -> np.ndarray:
        return padded[where + offset]

    is_c = at(1) == ord("c")
    cell = is_c & np.isin(at(2), (32, 47, 62))  # "<c ", "<c/", "<c>"
    cell_ref = is_c & (at(2) == 32) & (at(3) == ord("r")) & (at(4) == ord("=")) & (at(5) == ord('"'))
    is_row = (at(1) == ord("r")) & (at(2) == ord("o")) & (at(3) == ord("w"))
    row = is_row & np.isin(at(4), (32, 47, 62))
    row_ref = is_row & (at(4) == 32) & (at(5) == ord("r")) & (at(6) == ord("=")) & (at(7) == ord('"'))
    cells, rows = int(cell.sum()), int(row.sum())
    if int(cell_ref.sum()) != cells or int(row_ref.sum()) != rows:
        return None
    highest_row = 0
    if rows:
        where = opens[row_ref]
        number = np.zeros(len(where), dtype=np.int64)
        valid = np.ones(len(where), dtype=bool)
        for k in range(8):
            digit = at(8 + k, where).astype(np.int64) - 48
            valid &= (digit >= 0) & (digit <= 9)
            number = np.where(valid, number * 10 + digit, number)
        highest_row = int(number.max())
    highest_column = 0
    if cells:
        where = opens[cell_ref]
        column = np.zeros(len(where), dtype=np.int64)
        valid = np.ones(len(where), dtype=bool)
        for k in range(3):
            letter = at(6 + k, where).astype(np.int64) - 64
            valid &= (letter >= 1) & (letter <= 26)
            column = np.where(valid, column * 26 + letter, column)
        highest_column = int(column.max())
    return rows, highest_row, cells, highest_column


def _workbook_sheets(archive: zipfile.ZipFile, stream: BinaryIO, limits: ReadLimits) -> dict[str, str]:
    """Sheet name → its part (path inside the archive), from the workbook and its relationships."""
    names = set(archive.namelist())
    workbook = "xl/workbook.xml"
    if "_rels/.rels" in names:
        for tag in _REL_TAG.findall(_small_member(archive, stream, "_rels/.rels", limits)):
            attributes = _attributes(tag)
            if attributes.get("Type", "").endswith("/officeDocument"):
                workbook = attributes.get("Target", workbook).lstrip("/")
    if workbook not in names:
        return {}
    folder = posixpath.dirname(workbook)
    rels_name = posixpath.join(folder, "_rels", posixpath.basename(workbook) + ".rels")
    targets: dict[str, str] = {}
    if rels_name in names:
        for tag in _REL_TAG.findall(_small_member(archive, stream, rels_name, limits)):
            attributes = _attributes(tag)
            target = attributes.get("Target", "")
            if target.startswith("/"):
                part = posixpath.normpath(target.lstrip("/"))
            else:
                part = posixpath.normpath(posixpath.join(folder, target))
            targets[attributes.get("Id", "")] = part
    sheets: dict[str, str] = {}
    seen: dict[str, str] = {}
    for tag in _SHEET_TAG.findall(_small_member(archive, stream, workbook, limits)):
        attributes = _attributes(tag)
        name = attributes.get("name", "")
        part = targets.get(attributes.get("id", ""))
        if part is None:
            continue
        if part in seen:
            raise FileRejected(
                f"sheets {seen[part]!r} and {name!r} point at the same part: not a spreadsheet export, refused",
                rows_note="over a read limit",
            )
        seen[part] = name
        sheets[name] = part
    return sheets


def _small_member(archive: zipfile.ZipFile, stream: BinaryIO, name: str, limits: ReadLimits) -> bytes:
    info = archive.getinfo(name)
    if info.file_size > 64 << 20:
        raise FileRejected(
            f"zip member {name!r} is {_size(info.file_size)}: too large for workbook metadata",
            rows_note="over a read limit",
        )
    return b"".join(_stream_member(stream, info, limits))


def check_xlsx(stream: BinaryIO, size: int, limits: ReadLimits) -> XlsxCheck:
    """Check an xlsx archive against the limits before any spreadsheet library opens it (see module doc)."""
    _member_entries(stream, size, limits)
    stream.seek(0)
    try:
        archive = zipfile.ZipFile(stream)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise FileRejected(
            f"not a readable spreadsheet ({type(exc).__name__})", rows_note="not a zip archive"
        ) from exc
    infos = archive.infolist()
    names = [info.filename for info in infos]
    if len(set(names)) != len(names):
        raise FileRejected("zip archive lists a member twice: refused", rows_note="broken zip")
    total = 0
    for info in infos:
        where = f"zip member {info.filename!r}"
        if info.flag_bits & 0x1:
            raise FileRejected(f"{where} is encrypted", rows_note="encrypted")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise FileRejected(f"{where} uses an unsupported compression", rows_note="broken zip")
        if info.file_size > limits.max_zip_member_bytes:
            raise FileRejected(
                f"{where} is {_size(info.file_size)} uncompressed, over the limit of "
                f"{_size(limits.max_zip_member_bytes)} (max_zip_member_bytes)",
                rows_note="over a read limit",
            )
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > limits.zip_ratio_floor and ratio > limits.max_zip_ratio:
            raise FileRejected(
                f"{where} expands {ratio:,.0f}× ({_size(info.file_size)}), over the limit of "
                f"{limits.max_zip_ratio:,.0f}× (max_zip_ratio)",
                rows_note="over a read limit",
            )
        total += info.file_size
    if total > limits.max_zip_total_bytes:
        raise FileRejected(
            f"zip archive holds {_size(total)} uncompressed, over the limit of "
            f"{_size(limits.max_zip_total_bytes)} (max_zip_total_bytes)",
            rows_note="over a read limit",
        )
    if any(name.endswith(".bin") and name.startswith("xl/worksheets/") for name in names):
        # Binary sheets (.xlsb) cannot be measured here before the library allocates for them.
        raise FileRejected(
            "binary Excel workbook (.xlsb) is not read: save it as .xlsx", rows_note="binary workbook"
        )
    sheets = _workbook_sheets(archive, stream, limits)
    check = XlsxCheck(sheets={})
    cells = 0
    rewrite: dict[str, SheetSpan] = {}
    parts = set(sheets.values())
    for info in infos:
        name = info.filename
        if name in parts:
            continue
        if name.endswith((".xml", ".rels")):  # what the library reads: its real size is checked too
            for _ in _stream_member(stream, info, limits):
                pass
    strings = "xl/sharedStrings.xml"
    for sheet_name, part in [*sheets.items(), ("", strings)]:
        if part not in names:
            continue
        span = _scan_sheet(_stream_member(stream, archive.getinfo(part), limits), part, limits)
        shown = f"sheet {sheet_name!r}" if sheet_name else "the shared strings"
        if span.longest_text > limits.line_limit():
            raise FileRejected(
                f"{shown} holds a cell over {_size(limits.line_limit())} (max_line_bytes)",
                rows_note="over a read limit",
            )
        if not sheet_name:
            if span.strings > limits.max_cells:  # every string is held in memory, used or not
                raise FileRejected(
                    f"the shared strings hold {span.strings:,} items, over the limit of {limits.max_cells:,} "
                    "(max_cells)",
                    rows_note="over a read limit",
                )
            continue
        if span.rows > limits.max_rows:
            raise FileRejected(
                f"{shown} has {span.rows:,} rows, over the limit of {limits.max_rows:,} (max_rows)",
                rows_note="over a read limit",
            )
        cells += span.cells
        if cells > limits.max_cells:
            raise FileRejected(
                f"{shown} spans {span.rows:,} rows × {span.columns:,} columns: the workbook passes the limit "
                f"of {limits.max_cells:,} cells (max_cells)",
                rows_note="over a read limit",
            )
        if span.declared_cells > limits.max_cells:
            rewrite[part] = span
            check.notes.append(
                f"sheet {sheet_name!r} declares {span.declared_cells:,} cells but holds "
                f"{span.rows:,} rows × {span.columns:,} columns: read by its real size"
            )
        check.sheets[sheet_name] = span
    if rewrite:
        check.replacement = _rewrite_dimensions(archive, rewrite)
    if not sheets and "content.xml" in names:
        # An OpenDocument spreadsheet: its rows and cells repeat by attribute, so 1 KB can mean 10^10 cells.
        check.sheets.update(_scan_ods(_stream_member(stream, archive.getinfo("content.xml"), limits), limits))
    return check


_TABLE_NS = "urn:oasis:names:tc:opendocument:xmlns:table:1.0"
_OFFICE_NS = "urn:oasis:names:tc:opendocument:xmlns:office:1.0"


def _scan_ods(chunks: Iterator[bytes], limits: ReadLimits) -> dict[str, SheetSpan]:
    """Each table's span once its repeated rows and cells are expanded (the spreadsheet library skips empty
    repeated cells, not those holding a value), stopping at the first table over the cell limit."""
    import xml.parsers.expat

    spans: dict[str, SheetSpan] = {}
    state = {"name": "", "row": 0, "repeat": 1, "column": 0, "last": 0, "cell_end": 0, "cells": 0}
    current = SheetSpan(part="content.xml")

    def repeat(attributes: dict[str, str], name: str) -> int:
        try:
            return max(1, min(int(attributes.get(f"{_TABLE_NS} {name}", "1")), 1 << 31))
        except ValueError:
            return 1

    def start(tag: str, attributes: dict[str, str]) -> None:
        nonlocal current
        local = tag.rsplit(" ", 1)[-1]
        if local == "table" and tag.startswith(_TABLE_NS):
            state.update(name=attributes.get(f"{_TABLE_NS} name", str(len(spans) + 1)), row=0)
            current = SheetSpan(part="content.xml")
        elif local == "table-row":
            state.update(repeat=repeat(attributes, "number-rows-repeated"), column=0, last=0)
        elif local in ("table-cell", "covered-table-cell"):
            state["column"] += repeat(attributes, "number-columns-repeated")
            state["cell_end"] = state["column"]
            if f"{_OFFICE_NS} value-type" in attributes:
                state["last"] = state["column"]
        elif local == "p":
            state["last"] = state["cell_end"]

    def end(tag: str) -> None:
        local = tag.rsplit(" ", 1)[-1]
        if local == "table-row":
            state["row"] += state["repeat"]
            if state["last"]:
                current.rows = state["row"]
                current.columns = max(current.columns, state["last"])
                state["cells"] += state["repeat"] * state["last"]
                spanned = f"table {state['name']!r} spans {current.rows:,} rows × {current.columns:,} columns"
                if current.rows > limits.max_rows:
                    raise FileRejected(
                        f"{spanned} once repeated rows are expanded: over the limit of {limits.max_rows:,} rows "
                        "(max_rows)",
                        rows_note="over a read limit",
                    )
                if current.cells > limits.max_cells:
                    raise FileRejected(
                        f"{spanned} once repeated cells are expanded: over the limit of {limits.max_cells:,} "
                        "cells (max_cells)",
                        rows_note="over a read limit",
                    )
        elif local == "table" and tag.startswith(_TABLE_NS):
            spans[state["name"]] = current

    def no_doctype(*_: object) -> None:
        raise FileRejected("OpenDocument content declares a DOCTYPE: refused", rows_note="broken spreadsheet")

    parser = xml.parsers.expat.ParserCreate(namespace_separator=" ")
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.StartDoctypeDeclHandler = no_doctype
    try:
        for chunk in chunks:
            parser.Parse(chunk, False)
        parser.Parse(b"", True)
    except xml.parsers.expat.ExpatError as exc:
        raise FileRejected(
            f"not a readable spreadsheet (content.xml: {xml.parsers.expat.ErrorString(exc.code)})",
            rows_note="broken spreadsheet",
        ) from exc
    return spans


# --- xls: the declared sheet dimensions, read from the compound file before the library allocates by them ------
_END_OF_CHAIN = 0xFFFFFFFE


def check_xls(stream: BinaryIO, size: int, limits: ReadLimits) -> None:
    """Refuse an xls (BIFF in a compound file) whose DIMENSIONS records declare more cells than allowed.

    BIFF8 holds at most 65,536 × 256 cells, but the record's fields allow 4 billion rows: the declaration
    is checked, not trusted. A file whose structure cannot be followed is refused too."""
    stream.seek(0)
    header = stream.read(512)
    broken = FileRejected("not a readable spreadsheet (broken xls structure)", rows_note="broken spreadsheet")
    if len(header) < 512:
        raise broken
    sector_shift, mini_shift = struct.unpack_from("<HH", header, 0x1E)
    if sector_shift not in (9, 12) or mini_shift != 6:
        raise broken
    sector_size = 1 << sector_shift
    sectors = max(0, (size - sector_size) // sector_size + 1)
    (first_directory,) = struct.unpack_from("<I", header, 0x30)
    cutoff, first_mini_fat, _, first_difat, difat_count = struct.unpack_from("<IIIII", header, 0x38)

    def sector(number: int) -> bytes:
        if number >= sectors:
            raise broken
        stream.seek((number + 1) * sector_size)
        return stream.read(sector_size)

    fat_sectors = [n for n in struct.unpack_from("<109I", header, 0x4C) if n < 0xFFFFFFFA]
    next_difat, seen = first_difat, 0
    while next_difat < 0xFFFFFFFA and seen <= min(difat_count, sectors):
        entries = struct.unpack(f"<{sector_size // 4}I", sector(next_difat))
        fat_sectors.extend(n for n in entries[:-1] if n < 0xFFFFFFFA)
        next_difat, seen = entries[-1], seen + 1
    if len(fat_sectors) > sectors:
        raise broken
    fat = np.frombuffer(b"".join(sector(n) for n in fat_sectors), dtype="<u4")

    def chain(start: int, table: np.ndarray, limit: int) -> list[int]:
        out: list[int] = []
        while start != _END_OF_CHAIN:
            if start >= len(table) or len(out) > limit:
                raise broken
            out.append(start)
            start = int(table[start])
        return out

    directory = b"".join(sector(n) for n in chain(first_directory, fat, sectors))
    entries = [directory[i : i + 128] for i in range(0, len(directory) - 127, 128)]
    if not entries:
        raise broken
    (root_start,) = struct.unpack_from("<I", entries[0], 0x74)
    workbook = None
    for entry in entries:
        length, kind = struct.unpack_from("<HB", entry, 0x40)
        name = entry[: max(0, length - 2)].decode("utf-16-le", "replace")
        if kind == 2 and name in ("Workbook", "Book"):
            start, stream_size = struct.unpack_from("<IQ", entry, 0x74)
            workbook = (start, stream_size & 0xFFFFFFFF)
    if workbook is None:
        raise broken
    start, stream_size = workbook
    if stream_size > size:
        raise broken
    if stream_size >= cutoff:
        data = b"".join(sector(n) for n in chain(start, fat, sectors))[:stream_size]
    else:  # a small workbook lives in the mini stream, in 64-byte sectors
        mini_fat = np.frombuffer(
            b"".join(sector(n) for n in chain(first_mini_fat, fat, sectors)), dtype="<u4"
        )
        mini_stream = b"".join(sector(n) for n in chain(root_start, fat, sectors))
        data = b"".join(mini_stream[n * 64 : n * 64 + 64] for n in chain(start, mini_fat, len(mini_fat)))
        data = data[:stream_size]
    position = 0
    while position + 4 <= len(data):
        record, length = struct.unpack_from("<HH", data, position)
        if record == 0x0200:  # DIMENSIONS
            if length >= 14:
                _, rows, _, columns = struct.unpack_from("<IIHH", data, position + 4)
            elif length >= 10:
                _, rows, _, columns = struct.unpack_from("<HHHH", data, position + 4)
            else:
                raise broken
            if rows * columns > limits.max_cells:
                raise FileRejected(
                    f"a sheet declares {rows:,} rows × {columns:,} columns: over the limit of "
                    f"{limits.max_cells:,} cells (max_cells)",
                    rows_note="over a read limit",
                )
        position += 4 + length


def _rewrite_dimensions(archive: zipfile.ZipFile, spans: dict[str, SheetSpan]) -> bytes:
    """The workbook again, each listed sheet's <dimension> set to the cells it really spans."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as out:
        for info in archive.infolist():
            data = archive.read(info)
            span = spans.get(info.filename)
            if span is not None:
                reference = f"A1:{column_letters(max(span.columns, 1))}{max(span.rows, 1)}"
                data = _DIMENSION.sub(b'<dimension ref="' + reference.encode() + b'"', data, count=1)
            out.writestr(info.filename, data)
    return buffer.getvalue()

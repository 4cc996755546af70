"""Detection: what kind of file, which encoding, which delimiter, which row is the header.

TCVN3 text leaves here without its .VnTimeH capitals restored: ingest restores them per distinct value.

Encoding order: byte-order mark → strict UTF-8 (always preferred when the bytes are valid UTF-8) → the 8-bit
candidates (Windows-1258, Windows-1252, TCVN3 and VNI font hacks) each scored on the whole file, or a sample spread
over a big one, by their share of valid Vietnamese syllables then of common name and place syllables
(`legacy_fonts.choose_encoding`); when the best two are too close the file is refused with both named, never
guessed. The choice and its scores go to the file's notes. A file that is UTF-8 on some lines and 8-bit on others
(two exports pasted together) is decoded line by line and the 8-bit lines are reported. Text that decoded as UTF-8
but still reads as TCVN3/VNI mojibake (an old file saved again as "CSV UTF-8") is converted, except lines that
hold real Unicode Vietnamese letters.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from sachsong.sources.headers import combine_header_rows, header_hits, header_score
from sachsong.sources.legacy_fonts import (
    AmbiguousEncoding,
    Decoding,
    convert_mojibake,
    decode_as,
    decode_legacy_bytes,
    detect_legacy_text,
    spread_text_sample,
    vietnamese_score,
)

DELIMITERS = (",", ";", "\t", "|")
HEADER_SEARCH_ROWS = 30
_SAMPLE_CHARS = 32 * 1024  # thousands of words: plenty to tell encodings apart

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_CONTROL_BYTES = bytes(b for b in range(32) if b not in (9, 10, 12, 13))


class DecodeError(ValueError):
    """The bytes cannot be decoded as text."""


@dataclass
class DecodedText:
    """A file's text (NFC) and how it was obtained."""

    text: str
    encoding: str
    fallback_lines: set[int] = field(default_factory=set)  # 0-based physical lines decoded another way
    notes: list[str] = field(default_factory=list)


# --- File kind --------------------------------------------------------------------------------------------------
def detect_kind(path: Path, head: bytes) -> str:
    """xlsx | xls | html | json | jsonl | delimited | binary — by content first, then by extension.

    "html" is markup holding tables: a web page (what web-based commune software exports as .xls/.xlsx) or
    Excel 2003 XML (<Workbook>, <Row>, <Cell>), read by the same table parser.
    """
    suffix = path.suffix.lower()
    if head.startswith(b"PK\x03\x04"):
        return "xlsx"
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return "xls"
    if looks_binary(head):
        return "binary"
    stripped = _strip_bom(head).lstrip()
    if looks_like_html(head):
        return "html"
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    if suffix == ".json" or stripped[:1] in (b"[", b"{"):
        # A JSON Lines file starts with "{" too; its second non-blank line starts with "{" as well.
        lines = [line.strip() for line in stripped.split(b"\n") if line.strip()]
        if stripped[:1] == b"{" and len(lines) > 1 and lines[0].endswith(b"}") and lines[1].startswith(b"{"):
            return "jsonl"
        return "json"
    return "delimited"


_HTML_MARK = re.compile(rb"<(?:!doctype\s+html|html|table|tbody|tr|(?:ss:)?workbook)[\s>]", re.IGNORECASE)


def looks_like_html(head: bytes) -> bool:
    """Markup first (after a byte-order mark, blanks or an XML declaration) and an <html> or <table> tag
    in the first few KB."""
    sample = head[:8192]
    for bom, name in _BOMS:
        if sample.startswith(bom) and name != "utf-8-sig":
            sample = sample.decode(name, "ignore").encode("utf-8", "ignore")  # the codec reads the BOM
            break
    sample = _strip_bom(sample).lstrip()
    return sample[:1] == b"<" and _HTML_MARK.search(sample) is not None


def _strip_bom(data: bytes) -> bytes:
    for bom, _ in _BOMS:
        if data.startswith(bom):
            return data[len(bom) :]
    return data


def looks_binary(head: bytes) -> bool:
    """Control bytes in more than 5% of the first block (text has tabs and newlines, not NULs and ESCs)."""
    if not head:
        return False
    for bom, _ in _BOMS:
        if head.startswith(bom) and bom not in (codecs.BOM_UTF8,):
            return False  # UTF-16/32 are full of NULs by design
    sample = head[:8192]
    controls = sum(sample.count(bytes([b])) for b in _CONTROL_BYTES)
    return controls > 0.05 * len(sample)


# --- Encoding ---------------------------------------------------------------------------------------------------
def decode_bytes(data: bytes, encoding: str | None = None) -> DecodedText:
    """Decode a text file's bytes (see the module docstring for the order of attempts)."""
    if encoding:
        try:
            return DecodedText(text=decode_as(data, encoding, restore_capitals=False), encoding=encoding)
        except (UnicodeDecodeError, LookupError) as exc:
            raise DecodeError(f"cannot decode as {encoding} (from the registry): {exc}") from exc
    for bom, name in _BOMS:
        if data.startswith(bom):
            if name == "utf-8-sig":
                decoded = _decode_utf8(data[len(bom) :])
                decoded.encoding = "utf-8-sig" if decoded.encoding == "utf-8" else decoded.encoding + " (BOM)"
                return decoded
            try:
                return DecodedText(text=unicodedata.normalize("NFC", data.decode(name)), encoding=name)
            except UnicodeDecodeError as exc:
                raise DecodeError(f"has a {name} byte-order mark but is not {name}: {exc}") from exc
    return _decode_utf8(data)


def _decode_utf8(data: bytes) -> DecodedText:
    try:
        return _maybe_legacy_text(DecodedText(text=_nfc(data.decode("utf-8")), encoding="utf-8"))
    except UnicodeDecodeError as exc:
        error = exc
    if error.end == len(data) and error.reason == "unexpected end of data":
        # Only the last character is cut short: keep the rest, mark the loss so that row is rejected.
        try:
            head = data[: error.start].decode("utf-8")
        except UnicodeDecodeError:
            pass
        else:
            decoded = DecodedText(text=unicodedata.normalize("NFC", head) + "\ufffd", encoding="utf-8")
            decoded.notes.append("truncated UTF-8 character at the end of the file")
            return _maybe_legacy_text(decoded)
    return _decode_mixed_or_legacy(data)


# UTF-8 byte sequences of Vietnamese letters: U+1EA0–U+1EF9 (E1 BA/BB xx) and Ă ă Đ đ Ơ ơ Ư ư. 8-bit exports
# practically never contain them, while any UTF-8 line with Vietnamese text does.
_VIETNAMESE_UTF8 = re.compile(rb"\xe1[\xba\xbb][\x80-\xbf]|\xc4[\x82\x83\x90\x91]|\xc6[\xa0\xa1\xaf\xb0]")


def _nfc(text: str) -> str:
    return text if unicodedata.is_normalized("NFC", text) else unicodedata.normalize("NFC", text)


def _decode_eight_bit(data: bytes) -> Decoding:
    try:
        return decode_legacy_bytes(data, restore_capitals=False)
    except AmbiguousEncoding as exc:
        raise DecodeError(str(exc)) from exc


def _decode_mixed_or_legacy(data: bytes) -> DecodedText:
    if not _VIETNAMESE_UTF8.search(data):
        chosen = _decode_eight_bit(data)
        return DecodedText(text=chosen.text, encoding=chosen.encoding, notes=[chosen.describe()])
    lines = data.split(b"\n")
    utf8_lines: dict[int, str] = {}
    failing: list[int] = []
    non_ascii_utf8 = 0
    for number, line in enumerate(lines):
        if line.isascii():
            continue
        try:
            utf8_lines[number] = line.decode("utf-8")
            non_ascii_utf8 += 1
        except UnicodeDecodeError:
            failing.append(number)
    # A few accidental UTF-8-looking byte pairs in an 8-bit file do not make it UTF-8.
    if non_ascii_utf8 == 0 or non_ascii_utf8 < 0.05 * (non_ascii_utf8 + len(failing)):
        chosen = _decode_eight_bit(data)
        return DecodedText(text=chosen.text, encoding=chosen.encoding, notes=[chosen.describe()])
    failing_set = set(failing)
    try:
        legacy = decode_legacy_bytes(b"\n".join(lines[i] for i in failing), restore_capitals=False)
    except AmbiguousEncoding as exc:
        # The UTF-8 lines are fine; the others are not guessed: undecodable, so their rows are rejected alone.
        texts = [line.decode("utf-8", "replace") for line in lines]
        decoded = DecodedText(text=unicodedata.normalize("NFC", "\n".join(texts)), encoding="utf-8")
        decoded.notes.append(f"{len(failing)} line(s) are not UTF-8 and not decoded: {exc}")
        return decoded
    texts = []
    for number, line in enumerate(lines):
        if number in failing_set:
            texts.append(decode_as(line, legacy.encoding, restore_capitals=False))
        elif number in utf8_lines:
            texts.append(utf8_lines[number])
        else:
            texts.append(line.decode("ascii"))
    decoded = DecodedText(
        text=unicodedata.normalize("NFC", "\n".join(texts)),
        encoding=f"mixed utf-8+{legacy.encoding}",
        fallback_lines=failing_set,
    )
    decoded.notes.append(f"{len(failing)} line(s) are not UTF-8 and were decoded as {legacy.encoding}")
    decoded.notes.append(legacy.describe())
    return decoded


# UTF-8 Vietnamese read as Windows-1252 and saved again as UTF-8 ("Nguyá»…n", "Tráº§n", "Ä‘"): the lead bytes
# of Vietnamese letters (E1 BA/BB, C4, C6, C3) become these pairs.
_DOUBLE_ENCODED = re.compile("á»|áº|Ä[‘\x90]|Æ[°¯¡\xa0]|Ã[\xa0-\xbf]")


def _undo_double_encoding(line: str) -> str | None:
    """The line's characters back to the Windows-1252 bytes they came from, read as UTF-8; None when that is
    not what happened to it (a character 1252 cannot hold, or bytes that are not UTF-8)."""
    raw = bytearray()
    for char in line:
        try:
            raw += char.encode("cp1252")
        except UnicodeEncodeError:
            if ord(char) > 0xFF:  # the five bytes 1252 leaves undefined came through as themselves
                return None
            raw.append(ord(char))
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _maybe_double_encoded(decoded: DecodedText) -> DecodedText:
    """Repair a file whose UTF-8 was once read as Windows-1252 and saved again, line by line, only where the
    repaired line reads as more Vietnamese than the line as it stands."""
    if not _DOUBLE_ENCODED.search(decoded.text):
        return decoded
    lines = decoded.text.split("\n")
    repaired = 0
    for index, line in enumerate(lines):
        if not _DOUBLE_ENCODED.search(line):
            continue
        fixed = _undo_double_encoding(line)
        if fixed is not None and vietnamese_score(fixed) > vietnamese_score(line):
            lines[index] = fixed
            repaired += 1
    if repaired:
        decoded.text = _nfc("\n".join(lines))
        decoded.encoding = f"{decoded.encoding}+double-encoded"
        decoded.notes.append(
            f"{repaired} line(s) were UTF-8 read as Windows-1252 and saved again (double-encoded): repaired"
        )
    return decoded


def _maybe_legacy_text(decoded: DecodedText) -> DecodedText:
    """Convert text that decoded fine but is TCVN3/VNI mojibake (the legacy bytes were saved as UTF-8)."""
    if decoded.text.isascii():
        return decoded
    decoded = _maybe_double_encoded(decoded)
    font, score, as_is = detect_legacy_text(spread_text_sample(decoded.text))
    if font is None:
        return decoded
    # Line by line: lines holding real Unicode Vietnamese letters are never converted.
    decoded.text = convert_mojibake(decoded.text, font, restore_capitals=False)
    decoded.encoding = f"{decoded.encoding}+{font}"
    decoded.notes.append(f"text reads as {font} font mojibake (score {score:.2f} vs {as_is:.2f}): converted")
    return decoded


# --- Delimiter and header ---------------------------------------------------------------------------------------
_QUOTED = re.compile(r'"(?:[^"]|"")*"')


def sniff_delimiter(text: str, max_lines: int = 60) -> str:
    """The candidate delimiter that splits the most records into the same, largest number of fields."""
    # Quoted fields go first, over the whole sample: one may hold line breaks and other delimiters.
    sample = _QUOTED.sub("", text[:_SAMPLE_CHARS])
    unquoted = [line for line in sample.split("\n")[:max_lines] if line.strip()]
    if not unquoted:
        return ","
    best, best_key = ",", (0.0, 0)
    for delimiter in DELIMITERS:
        counts = [line.count(delimiter) for line in unquoted]
        positive = [c for c in counts if c > 0]
        if not positive:
            continue
        mode, _ = Counter(positive).most_common(1)[0]
        consistency = sum(1 for c in counts if c == mode) / len(counts)
        key = (round(consistency, 2), mode)
        if key > best_key:
            best, best_key = delimiter, key
    return best


def parse_head(text: str, delimiter: str, max_rows: int = HEADER_SEARCH_ROWS) -> list[tuple[int, list[str]]]:
    """The first records of a delimited text as (last physical line index, fields), blank lines skipped."""
    reader = csv.reader(io.StringIO(text[:_SAMPLE_CHARS]), delimiter=delimiter)
    rows: list[tuple[int, list[str]]] = []
    try:
        for fields in reader:
            if fields and any(f.strip() for f in fields):
                rows.append((reader.line_num - 1, fields))
            if len(rows) >= max_rows:
                break
    except csv.Error:
        pass
    return rows


def find_header(rows: list[list[str]]) -> tuple[int, list[str]]:
    """(index into rows, header names) of the row naming the most canonical fields.

    A two-row header (a group label merged over leaf labels) is read as the lower row named with its groups
    (`headers.combine_header_rows`: "Ngày (Ngày sinh)") when the upper row names a field itself, else with its
    gaps filled from the row above. Rows are compared by (fields named, columns mapped). With no recognisable
    row at all, the first row is returned.
    """
    best_index, best_names, best_score = 0, [_cell(c) for c in rows[0]] if rows else [], (0, 0)
    for index, row in enumerate(rows):
        names = [_cell(c) for c in row]
        candidates = [names]
        if index > 0:
            above = [_cell(c) for c in rows[index - 1]]
            if header_hits(above):
                # The row above names fields itself: a group row merged over this one ("Ngày sinh" over
                # "Ngày | Tháng | Năm"); the pair maps more columns than the group row alone, so it wins.
                candidates.append(combine_header_rows(above, names))
            else:
                candidates.append([n or (above[i] if i < len(above) else "") for i, n in enumerate(names)])
        for candidate in candidates:
            score = header_score(candidate)
            if score[0] and score > best_score:
                best_index, best_names, best_score = index, candidate, score
    return best_index, best_names


def _cell(value: object) -> str:
    return "" if value is None else str(value).strip()

"""Take personal values out of a message before it reaches a log, stderr or the runs table.

Messages the rooms write name file, row, field and the kind of problem. An exception raised by a library
(polars, DuckDB, openpyxl) may quote the value it choked on; when the flow records such an error it keeps the
error's kind and shape but replaces what could be a value: long digit runs (identity numbers, phones, dates) and
quoted text that is not an identifier.
"""

from __future__ import annotations

import logging
import re
import traceback

# Eight or more digits, single separators allowed between them, standing alone (not inside a run id or a file
# name): CCCD, CMND, phones, dates of birth. ISO dates (run dates) are kept.
_DIGIT_RUN = re.compile(r"(?<![\w-])\+?(?:\d[ .\-/]?){7,}\d(?![\w-])")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_QUOTED = re.compile(r"(['\"‘“])(.{0,400}?)(['\"’”])")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_.:/-]{0,80}")
MAX_LENGTH = 20_000


def redact(text: str) -> str:
    """`text` with possible personal values replaced by `<number>` / `'…'`; identifiers kept."""

    def quoted(match: re.Match[str]) -> str:
        inner = match.group(2)
        if _IDENTIFIER.fullmatch(inner) and not any(ch.isdigit() for ch in inner[:1]):
            return match.group(0)
        return f"{match.group(1)}…{match.group(3)}"

    def number(match: re.Match[str]) -> str:
        return match.group(0) if _ISO_DATE.fullmatch(match.group(0)) else "<number>"

    shortened = text if len(text) <= MAX_LENGTH else text[:MAX_LENGTH] + " …"
    return _QUOTED.sub(quoted, _DIGIT_RUN.sub(number, shortened))


class RedactingFilter(logging.Filter):
    """A logging filter that redacts each record's message and exception text (see :func:`redact`)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a record whose arguments do not format: keep its template only
            message = str(record.msg)
        if record.exc_info and record.exc_info[1] is not None:
            error = record.exc_info[1]
            frames = "".join(traceback.format_tb(error.__traceback__))
            message = f"{message}\n{frames}{type(error).__name__}: {error}"
            record.exc_info, record.exc_text = None, None
        record.msg, record.args = redact(message), None
        return True


def install_log_redaction(*logger_names: str) -> None:
    """Add a RedactingFilter to every handler of the root logger and of the named loggers (once each)."""
    for name in ("", *logger_names):
        for handler in logging.getLogger(name).handlers:
            if not any(isinstance(f, RedactingFilter) for f in handler.filters):
                handler.addFilter(RedactingFilter())

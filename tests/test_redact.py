"""Library errors quoting a personal value are recorded without it."""

from __future__ import annotations

from sachsong.redact import redact


def test_identity_numbers_phones_and_dates_are_masked():
    text = "conversion failed for 079088001234 and +84 912 345 678 born 05/10/1955 in row 12 of 00004"
    out = redact(text)
    assert "079088001234" not in out and "912 345 678" not in out and "05/10/1955" not in out
    assert "row 12" in out and "00004" in out  # row numbers and commune codes stay


def test_quoted_values_are_masked_but_identifiers_kept():
    out = redact("could not parse 'Nguyễn Văn An' in column 'full_name' of \"xa_gio_an.csv\"")
    assert "Nguyễn" not in out
    assert "'full_name'" in out and '"xa_gio_an.csv"' in out


def test_run_ids_file_names_and_iso_dates_are_kept():
    text = "run 44-20261101-20261202T005920123456Z as of 2026-11-01 read xa_079088001234.csv"
    assert redact(text) == text


def test_a_huge_message_is_cut():
    assert len(redact("x" * 100_000)) < 20_100


def test_the_log_filter_redacts_messages_arguments_and_tracebacks():
    import logging

    from sachsong.redact import RedactingFilter

    try:
        raise ValueError("cannot parse '079088001234'")
    except ValueError:
        import sys

        record = logging.LogRecord("t", logging.ERROR, __file__, 1, "row %s: %s", (3, "0912345678"), sys.exc_info())
    assert RedactingFilter().filter(record)
    text = record.getMessage()
    assert "0912345678" not in text and "079088001234" not in text
    assert "row 3" in text and "ValueError" in text and record.exc_info is None

"""iCalendar (RFC 5545) text helpers shared by the feeds (change calendar, personal shifts),
written by hand: no extra dependency."""

from __future__ import annotations

from datetime import UTC, datetime


def escape_text(value: str) -> str:
    """RFC 5545 §3.3.11 TEXT: backslash, semicolon, comma escaped; newlines as ``\\n``."""
    return (
        str(value)
        .replace("\\", "\\\\")
        .replace(";", "\\;")
        .replace(",", "\\,")
        .replace("\r\n", "\\n")
        .replace("\r", "\\n")
        .replace("\n", "\\n")
    )


def fold(line: str) -> str:
    """RFC 5545 §3.1: lines longer than 75 octets are folded (CRLF + space), never inside a
    UTF-8 character."""
    out, current, size = [], "", 0
    for char in line:
        width = len(char.encode())
        limit = 75 if not out else 74  # continuation lines start with a space
        if size + width > limit:
            out.append(current)
            current, size = "", 0
        current += char
        size += width
    out.append(current)
    return "\r\n ".join(out)


def utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")

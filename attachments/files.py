"""What an uploaded file is, decided by the server: its display name, its type and its size.

The client's name is only a label: it is cleaned for display and for Content-Disposition and never
becomes part of a storage path. The type comes from the extension AND the content, which must
agree (a ``.png`` whose bytes are not a PNG is refused); the client's Content-Type is ignored.
SVG and HTML are not types at all: a browser would run their scripts.
"""

from __future__ import annotations

import codecs
import unicodedata
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

NAME_MAX = 150
SNIFF_BYTES = 64 * 1024


def _starts(*prefixes: bytes):
    return lambda head: head.startswith(prefixes)


def _webp(head: bytes) -> bool:
    return head[:4] == b"RIFF" and head[8:12] == b"WEBP"


def _text(head: bytes) -> bool:
    """Logs and exports: no NUL byte, and readable as UTF-8 (or Shift_JIS, common in Japan)."""
    if b"\x00" in head:
        return False
    for encoding in ("utf-8", "cp932"):
        try:
            # Incremental: the sniffed head may end in the middle of a character.
            codecs.getincrementaldecoder(encoding)().decode(head, final=False)
        except UnicodeDecodeError:
            continue
        return True
    return False


@dataclass(frozen=True)
class FileType:
    name: str
    extensions: tuple[str, ...]
    content_type: str
    matches: object  # callable(head: bytes) -> bool
    image: bool = False


TYPES = {
    t.name: t
    for t in (
        FileType("png", (".png",), "image/png", _starts(b"\x89PNG\r\n\x1a\n"), image=True),
        FileType("jpeg", (".jpg", ".jpeg"), "image/jpeg", _starts(b"\xff\xd8\xff"), image=True),
        FileType("gif", (".gif",), "image/gif", _starts(b"GIF87a", b"GIF89a"), image=True),
        FileType("webp", (".webp",), "image/webp", _webp, image=True),
        FileType("pdf", (".pdf",), "application/pdf", _starts(b"%PDF-")),
        FileType("zip", (".zip",), "application/zip", _starts(b"PK\x03\x04", b"PK\x05\x06")),
        FileType("gz", (".gz", ".tgz"), "application/gzip", _starts(b"\x1f\x8b")),
        FileType("txt", (".txt",), "text/plain", _text),
        FileType("log", (".log",), "text/plain", _text),
        FileType("csv", (".csv",), "text/csv", _text),
        FileType("json", (".json",), "application/json", _text),
    )
}
IMAGE_CONTENT_TYPES = frozenset(t.content_type for t in TYPES.values() if t.image)


def clean_name(raw: str) -> str:
    """The name shown and sent back: no directories, no control or bidi characters, no ``..``,
    no leading dots, at most NAME_MAX characters (the extension kept)."""
    name = unicodedata.normalize("NFC", str(raw or ""))
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    # Category C: control (NUL, newlines), format (right-to-left override), unassigned.
    name = "".join(ch for ch in name if not unicodedata.category(ch).startswith("C"))
    while ".." in name:
        name = name.replace("..", ".")
    name = name.strip().lstrip(".").strip()
    if not name:
        return "file"
    if len(name) > NAME_MAX:
        stem, dot, ext = name.rpartition(".")
        ext = ext[:16] if dot and stem else ""
        keep = NAME_MAX - len(ext) - (1 if ext else 0)
        name = name[:keep].rstrip() + (f".{ext}" if ext else "")
    return name


def extension(name: str) -> str:
    stem, dot, ext = name.rpartition(".")
    return f".{ext.lower()}" if dot and stem else ""


def allowed_types() -> list[FileType]:
    return [TYPES[n] for n in settings.ATTACHMENT_ALLOWED_TYPES if n in TYPES]


def allowed_extensions() -> list[str]:
    return [ext for t in allowed_types() for ext in t.extensions]


def human_size(size: int) -> str:
    """``12.3 MB``, ``10 MB``, ``512 KB`` (binary units, as the limit is set)."""
    for unit, factor in (("MB", 1024 * 1024), ("KB", 1024)):
        if size >= factor:
            value = f"{size / factor:.1f}".removesuffix(".0")
            return f"{value} {unit}"
    return _("%(n)s bytes") % {"n": size}


def check_size(size: int) -> None:
    limit = settings.ATTACHMENT_MAX_BYTES
    if size <= 0:
        raise ValidationError({"file": _("The file is empty.")}, code="empty")
    if size > limit:
        raise ValidationError(
            {
                "file": _("The file is %(size)s; the limit is %(limit)s.")
                % {"size": human_size(size), "limit": human_size(limit)}
            },
            code="too_large",
        )


def file_type(name: str, head: bytes) -> FileType:
    """The type of a file named ``name`` starting with ``head``, or a ValidationError that says
    what is allowed."""
    ext = extension(name)
    allowed = ", ".join(allowed_extensions())
    kind = next((t for t in allowed_types() if ext in t.extensions), None)
    if kind is None:
        if not ext:
            message = _("Files without an extension are not allowed (allowed: %(allowed)s).")
        else:
            message = _("Files of type %(ext)s are not allowed (allowed: %(allowed)s).")
        raise ValidationError(
            {"file": message % {"ext": ext, "allowed": allowed}}, code="type_not_allowed"
        )
    if not kind.matches(head):
        raise ValidationError(
            {
                "file": _("The content of %(name)s is not a %(ext)s file.")
                % {"name": name, "ext": ext}
            },
            code="content_mismatch",
        )
    return kind

"""Sending a stored file to a browser that must not run it: streamed from storage, never from a
public URL, with headers that keep the browser from guessing or executing."""

from __future__ import annotations

import logging
from urllib.parse import quote

from django.http import FileResponse, Http404

from .models import Attachment

logger = logging.getLogger(__name__)


def content_disposition(kind: str, name: str) -> str:
    """RFC 6266/5987: an ASCII fallback plus the UTF-8 name, both quoted safely."""
    ascii_name = "".join(c if 32 <= ord(c) < 127 and c not in '"\\;' else "_" for c in name)
    return f"{kind}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}"


def file_response(attachment: Attachment, *, inline: bool) -> FileResponse:
    try:
        handle = attachment.file.storage.open(attachment.file.name, "rb")
    except FileNotFoundError:
        # The row without its file: a database restored without MEDIA_ROOT (docs/attachments.md).
        logger.warning(
            "attachment %s: %s is missing from storage", attachment.public_id, attachment.file.name
        )
        raise Http404 from None
    content_type = attachment.content_type if inline else "application/octet-stream"
    response = FileResponse(handle, content_type=content_type)
    response["Content-Length"] = str(attachment.size)
    response["Content-Disposition"] = content_disposition(
        "inline" if inline else "attachment", attachment.name
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = "private, no-cache"
    response["Cross-Origin-Resource-Policy"] = "same-origin"
    return response

"""Stop storing an upload once it passes ATTACHMENT_MAX_BYTES (first of FILE_UPLOAD_HANDLERS).

Django writes an upload to memory or a temporary file before any view runs. This handler passes
the chunks on to those handlers only up to the limit; the rest is counted and dropped, and the
request's file becomes an empty ``OversizeUpload`` that knows its real size — so the attachment
service refuses it with "The file is 12.3 MB; the limit is 10 MB." without a 1 GB temporary file.
"""

from __future__ import annotations

import io

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import FileUploadHandler


class OversizeUpload(UploadedFile):
    """A file that was too large: its name and real size, none of its bytes."""

    def __init__(self, name: str, size: int, content_type: str = ""):
        super().__init__(io.BytesIO(b""), name=name, content_type=content_type, size=size)

    def chunks(self, chunk_size=None):
        return iter(())


class SizeLimitUploadHandler(FileUploadHandler):
    def new_file(self, *args, **kwargs):
        super().new_file(*args, **kwargs)
        self.received = 0

    def receive_data_chunk(self, raw_data, start):
        self.received += len(raw_data)
        if self.received > settings.ATTACHMENT_MAX_BYTES:
            return None  # the handlers after this one never see the bytes past the limit
        return raw_data

    def file_complete(self, file_size):
        if self.received > settings.ATTACHMENT_MAX_BYTES:
            return OversizeUpload(self.file_name, self.received, self.content_type or "")
        return None  # the next handler (memory or temporary file) holds the file

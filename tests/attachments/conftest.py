import struct
import zlib
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import translation

from incidents import services as incident_services
from itsm.core.roles import Role


def png_bytes(width: int = 4, height: int = 3) -> bytes:
    """A real PNG (red pixels): browsers decode it, the sniffer recognises it."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    raw = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def upload(name: str, content: bytes, content_type: str = "application/octet-stream"):
    return SimpleUploadedFile(name, content, content_type=content_type)


@pytest.fixture
def media(settings):
    """The temporary MEDIA_ROOT of this test (tests/conftest.py); the storage follows it."""
    return Path(settings.MEDIA_ROOT)


def stored_files(media) -> list:
    return sorted(p for p in media.rglob("*") if p.is_file()) if media.exists() else []


@pytest.fixture
def incident(db):
    return incident_services.open_incident(title="Checkout returns 500", source="user_report")


@pytest.fixture(autouse=True)
def _english():
    """Messages are read in English (the catalogs translate them for Japanese readers)."""
    with translation.override("en"):
        yield


@pytest.fixture
def worker(make_user):
    """An operator: works incidents and changes."""
    return make_user(Role.OPERATOR, username="worker", language="en")


@pytest.fixture
def colleague(make_user):
    return make_user(Role.OPERATOR, username="colleague", language="en")


@pytest.fixture
def leader(make_user):
    return make_user(Role.OPS_LEADER, username="lead", language="en")


@pytest.fixture
def outsider(make_user):
    """Signed in, but holds no role: may not see incidents, postmortems or changes."""
    return make_user(None, username="outsider", language="en")


@pytest.fixture
def executive(make_user):
    """Reads everything, works nothing."""
    return make_user(Role.EXECUTIVE, username="exec", language="en")


@pytest.fixture
def client_as(client):
    def sign_in(user):
        client.force_login(user)
        return client

    return sign_in

"""The server decides a file's name and type: the client's name is a label, its type a claim."""

import pytest
from django.core.exceptions import ValidationError

from attachments import files

from .conftest import png_bytes


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("../../etc/passwd.txt", "passwd.txt"),
        ("..\\..\\x.log", "x.log"),
        ("/abs/x.png", "x.png"),
        ("C:\\Users\\me\\screen shot.png", "screen shot.png"),
        ("evil\x00.png.txt", "evil.png.txt"),
        ("two\nlines\r.log", "twolines.log"),
        ("invoice\u202egnp.exe", "invoicegnp.exe"),  # right-to-left override dropped
        ("..", "file"),
        ("", "file"),
        (".hidden.log", "hidden.log"),
        ("a..b...c.txt", "a.b.c.txt"),
        ("障害ログ.txt", "障害ログ.txt"),
    ],
)
def test_a_name_loses_its_directories_controls_and_dot_dots(raw, shown):
    assert files.clean_name(raw) == shown


def test_a_very_long_name_is_cut_keeping_its_extension():
    name = files.clean_name("a" * 5000 + ".log")
    assert len(name) == files.NAME_MAX
    assert name.endswith(".log")


@pytest.mark.parametrize(
    ("name", "head", "content_type"),
    [
        ("shot.png", png_bytes(), "image/png"),
        ("photo.JPG", b"\xff\xd8\xff\xe0rest", "image/jpeg"),
        ("anim.gif", b"GIF89a....", "image/gif"),
        ("pic.webp", b"RIFF\x10\x00\x00\x00WEBPVP8 ", "image/webp"),
        ("report.pdf", b"%PDF-1.7\n", "application/pdf"),
        ("runbook.zip", b"PK\x03\x04rest", "application/zip"),
        ("app.log.gz", b"\x1f\x8b\x08rest", "application/gzip"),
        ("app.log", "2026-12-04 ERROR 接続失敗\n".encode(), "text/plain"),
        ("sjis.log", "接続失敗\n".encode("cp932"), "text/plain"),
        ("data.csv", b"a,b\n1,2\n", "text/csv"),
        ("dump.json", b'{"a": 1}', "application/json"),
    ],
)
def test_extension_and_content_that_agree_are_accepted(name, head, content_type):
    assert files.file_type(name, head).content_type == content_type


@pytest.mark.parametrize(
    ("name", "head", "message"),
    [
        ("setup.exe", b"MZ\x90\x00", "Files of type .exe are not allowed"),
        ("page.html", b"<html><script>alert(1)</script>", "Files of type .html are not allowed"),
        ("logo.svg", b"<svg onload=alert(1)>", "Files of type .svg are not allowed"),
        ("README", b"hello", "Files without an extension are not allowed"),
        ("shot.png", b"<html><script>alert(1)</script>", "The content of shot.png is not a .png"),
        ("app.log", b"\x7fELF\x02\x01\x01\x00\x00", "The content of app.log is not a .log"),
    ],
)
def test_disallowed_or_disguised_files_are_refused_with_a_clear_message(name, head, message):
    with pytest.raises(ValidationError) as refused:
        files.file_type(name, head)
    text = refused.value.message_dict["file"][0]
    assert message in text
    if "not allowed" in text:
        assert "(allowed: .png, .jpg, .jpeg" in text


def test_the_allowed_types_come_from_the_settings(settings):
    settings.ATTACHMENT_ALLOWED_TYPES = ["pdf"]
    with pytest.raises(ValidationError, match=r"allowed: \.pdf\)"):
        files.file_type("shot.png", png_bytes())


def test_the_size_limit_message_says_both_sizes(settings):
    settings.ATTACHMENT_MAX_BYTES = 10 * 1024 * 1024
    with pytest.raises(ValidationError) as refused:
        files.check_size(int(12.3 * 1024 * 1024))
    assert refused.value.message_dict["file"] == ["The file is 12.3 MB; the limit is 10 MB."]


def test_an_unknown_type_name_in_the_settings_fails_the_system_check(settings):
    from attachments.checks import allowed_types_are_known

    settings.ATTACHMENT_ALLOWED_TYPES = ["png", "svg"]
    errors = allowed_types_are_known(None)
    assert [e.id for e in errors] == ["attachments.E001"]
    assert "svg" in errors[0].msg
    settings.ATTACHMENT_ALLOWED_TYPES = ["png", "pdf"]
    assert allowed_types_are_known(None) == []


def test_an_upload_past_the_limit_keeps_none_of_its_extra_bytes(settings, rf):
    """The handlers after the size limit (memory, temporary file) only see the bytes up to it."""
    from attachments.uploads import OversizeUpload, SizeLimitUploadHandler

    settings.ATTACHMENT_MAX_BYTES = 10
    handler = SizeLimitUploadHandler(rf.post("/"))
    handler.new_file("file", "big.log", "text/plain", None)
    assert handler.receive_data_chunk(b"12345678", 0) == b"12345678"
    assert handler.receive_data_chunk(b"90ab", 8) is None
    assert handler.receive_data_chunk(b"cdef", 12) is None
    upload = handler.file_complete(16)
    assert isinstance(upload, OversizeUpload)
    assert (upload.name, upload.size) == ("big.log", 16)
    assert list(upload.chunks()) == []

    handler.new_file("file", "small.log", "text/plain", None)
    assert handler.receive_data_chunk(b"ok", 0) == b"ok"
    assert handler.file_complete(2) is None

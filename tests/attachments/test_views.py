"""Attachments from the record's pages: upload, list, preview, download, delete (issue 19)."""

import re

import pytest
from django.urls import reverse

from attachments.models import Attachment
from changes.models import ChangeRequest
from incidents import services as incident_services
from itsm.core.audit import events_for
from tests.changes.factories import ChangeRequestFactory

from .conftest import png_bytes, stored_files, upload

pytestmark = pytest.mark.django_db

LANG = {"HTTP_ACCEPT_LANGUAGE": "en"}


def upload_url(key, number):
    return reverse("attachments:upload", args=[key, number])


def attach(client, key, number, name, content):
    return client.post(upload_url(key, number), {"file": upload(name, content)}, **LANG)


def raw_multipart(client, url, filename: str, content: bytes):
    """A multipart body with the file name exactly as given (the test client would strip it)."""
    boundary = "xAttachmentsBoundaryx"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + content
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return client.generic(
        "POST", url, body, content_type=f"multipart/form-data; boundary={boundary}", **LANG
    )


def test_an_operator_attaches_a_screenshot_on_the_incident_page(client_as, worker, incident, media):
    client = client_as(worker)
    response = attach(client, "incident", incident.number, "screenshot.png", png_bytes())

    assert response.status_code == 302
    assert response["Location"] == f"{incident.get_absolute_url()}#attachments"
    attachment = Attachment.objects.get()
    assert attachment.record == incident
    assert (attachment.name, attachment.content_type) == ("screenshot.png", "image/png")
    assert attachment.uploaded_by == worker
    assert re.fullmatch(r"attachments/\d{4}/\d{2}/[0-9a-f]{32}", attachment.file.name)
    assert stored_files(media) == [media / attachment.file.name]
    assert (media / attachment.file.name).read_bytes() == png_bytes()

    page = client.get(incident.get_absolute_url(), **LANG).content.decode()
    panel = page.split('data-testid="attachments"')[1].split("</section>")[0]
    assert "screenshot.png" in panel
    assert f'src="{attachment.preview_url()}"' in panel  # the thumbnail
    timeline = page.split('id="timeline"')[1]
    assert 'data-kind="attachment"' in timeline
    assert attachment.get_absolute_url() in timeline
    event = events_for(incident).get(action="attachment_added")
    assert event.actor == worker
    assert event.data["sha256"] == attachment.sha256


def test_an_oversize_file_is_refused_with_both_sizes_and_nothing_is_stored(
    client_as, worker, incident, media, settings
):
    settings.ATTACHMENT_MAX_BYTES = 1024
    client = client_as(worker)
    response = attach(client, "incident", incident.number, "huge.log", b"x" * 3000)

    assert response.status_code == 302
    page = client.get(response["Location"], **LANG).content.decode()
    assert "The file is 2.9 KB; the limit is 1 KB." in page
    assert Attachment.objects.count() == 0
    assert stored_files(media) == []
    assert not events_for(incident).filter(action="attachment_added").exists()


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("tool.exe", b"MZ\x90\x00\x03", "Files of type .exe are not allowed (allowed: .png"),
        ("page.html", b"<script>alert(1)</script>", "Files of type .html are not allowed"),
        ("shot.png", b"<script>alert(1)</script>", "The content of shot.png is not a .png file."),
    ],
)
def test_a_disallowed_type_is_refused_under_the_upload_form(
    client_as, worker, incident, media, name, content, message
):
    client = client_as(worker)
    attach(client, "incident", incident.number, name, content)

    page = client.get(incident.get_absolute_url(), **LANG).content.decode()
    panel = page.split('data-testid="attachments"')[1].split("</section>")[0]
    assert message in panel
    assert "<script>alert" not in page
    assert Attachment.objects.count() == 0
    assert stored_files(media) == []
    # Shown once: the next visit has a clean form.
    again = client.get(incident.get_absolute_url(), **LANG).content.decode()
    assert message not in again


@pytest.mark.parametrize(
    ("sent", "shown"),
    [
        ("../../etc/passwd.txt", "passwd.txt"),
        ("..\\\\..\\\\x.log", "x.log"),
        ("/abs/x.txt", "x.txt"),
        ("bad\tname;.txt", "badname;.txt"),
        ("%2e%2e%2f%2e%2e%2fescape.txt", "%2e%2e%2f%2e%2e%2fescape.txt"),
        ("x" * 400 + ".txt", "x" * 146 + ".txt"),
    ],
)
def test_a_path_in_the_file_name_is_harmless(client_as, worker, incident, media, sent, shown):
    client = client_as(worker)
    response = raw_multipart(client, upload_url("incident", incident.number), sent, b"log line\n")

    assert response.status_code == 302
    attachment = Attachment.objects.get()
    assert attachment.name == shown
    # Stored under the generated name only: nothing written outside attachments/<y>/<m>/.
    assert stored_files(media) == [media / attachment.file.name]
    assert re.fullmatch(r"attachments/\d{4}/\d{2}/[0-9a-f]{32}", attachment.file.name)
    download = client.get(attachment.get_absolute_url(), **LANG)
    disposition = download["Content-Disposition"]
    assert disposition.startswith("attachment; ")
    assert "/" not in disposition.split("filename*=")[1].replace("%2F", "")
    assert "\n" not in disposition and "\r" not in disposition
    assert b"".join(download.streaming_content) == b"log line\n"


def test_preview_shows_images_inline_behind_safe_headers(client_as, worker, incident):
    client = client_as(worker)
    attach(client, "incident", incident.number, "graph.png", png_bytes())
    attach(client, "incident", incident.number, "report.pdf", b"%PDF-1.7\n%%EOF\n")
    png, pdf = Attachment.objects.order_by("id")

    preview = client.get(png.preview_url())
    assert preview.status_code == 200
    assert preview["Content-Type"] == "image/png"
    assert preview["Content-Disposition"].startswith("inline; ")
    assert preview["X-Content-Type-Options"] == "nosniff"
    assert preview["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert preview["Cache-Control"].startswith("private")
    assert b"".join(preview.streaming_content) == png_bytes()

    assert pdf.preview_url() == ""
    assert client.get(reverse("attachments:preview", args=[pdf.public_id])).status_code == 404
    download = client.get(pdf.get_absolute_url())
    assert download["Content-Type"] == "application/octet-stream"
    assert download["Content-Disposition"] == (
        "attachment; filename=\"report.pdf\"; filename*=UTF-8''report.pdf"
    )
    assert download["X-Content-Type-Options"] == "nosniff"


def test_someone_who_may_not_see_the_incident_gets_404_for_its_files(
    client, client_as, worker, outsider, incident
):
    attach(client_as(worker), "incident", incident.number, "graph.png", png_bytes())
    attachment = Attachment.objects.get()
    client.logout()

    client.force_login(outsider)
    assert client.get(attachment.get_absolute_url()).status_code == 404
    assert client.get(attachment.preview_url()).status_code == 404
    assert attach(client, "incident", incident.number, "x.png", png_bytes()).status_code == 404
    assert client.post(reverse("attachments:delete", args=[attachment.public_id])).status_code == (
        404
    )
    assert Attachment.objects.count() == 1

    client.logout()
    anonymous = client.get(attachment.get_absolute_url())
    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith(reverse("login"))


def test_a_reader_sees_and_downloads_but_does_not_upload(client_as, worker, executive, incident):
    attach(client_as(worker), "incident", incident.number, "app.log", b"started\n")
    client = client_as(executive)

    page = client.get(incident.get_absolute_url(), **LANG).content.decode()
    panel = page.split('data-testid="attachments"')[1].split("</section>")[0]
    assert "app.log" in panel
    assert 'type="file"' not in panel
    assert "Delete" not in panel
    assert client.get(Attachment.objects.get().get_absolute_url()).status_code == 200
    assert attach(client, "incident", incident.number, "b.log", b"x\n").status_code == 403


def test_deleting_someone_elses_file_is_refused_and_ones_own_is_removed_and_audited(
    client_as, worker, colleague, incident, media, django_capture_on_commit_callbacks
):
    attach(client_as(worker), "incident", incident.number, "app.log", b"started\n")
    attachment = Attachment.objects.get()
    stored = media / attachment.file.name
    delete_url = reverse("attachments:delete", args=[attachment.public_id])

    refused = client_as(colleague).post(delete_url)
    assert refused.status_code == 403
    assert stored.exists()
    page = client_as(colleague).get(incident.get_absolute_url(), **LANG).content.decode()
    assert delete_url not in page  # no button one may not use

    client = client_as(worker)
    assert delete_url in client.get(incident.get_absolute_url(), **LANG).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(delete_url)
    assert response.status_code == 302
    assert not Attachment.objects.exists()
    assert not stored.exists()
    event = events_for(incident).get(action="attachment_deleted")
    assert event.actor == worker
    assert event.data["name"] == "app.log"
    assert client.get(attachment.get_absolute_url()).status_code == 404
    # The incident page's history says which file went, and who removed it.
    history = client.get(incident.get_absolute_url(), **LANG).content.decode()
    assert "Attachment deleted" in history
    assert "app.log" in history
    # Its timeline entry stays, marked deleted, with no link that would answer 404.
    timeline = history.split('id="timeline"')[1]
    assert 'data-testid="timeline-attachment-deleted"' in timeline
    assert str(attachment.public_id) not in timeline


def test_an_ops_leader_may_delete_anyones_file(client_as, worker, leader, incident, media):
    attach(client_as(worker), "incident", incident.number, "app.log", b"started\n")
    attachment = Attachment.objects.get()
    response = client_as(leader).post(reverse("attachments:delete", args=[attachment.public_id]))
    assert response.status_code == 302
    assert not Attachment.objects.exists()


def test_a_postmortem_takes_runbook_exports_from_its_page(client_as, leader, incident):
    pm = incident_services.request_postmortem(incident, actor=leader)
    client = client_as(leader)

    response = attach(client, "postmortem", pm.number, "runbook-export.pdf", b"%PDF-1.4\n")
    assert response["Location"] == f"{pm.get_absolute_url()}#attachments"
    page = client.get(pm.get_absolute_url(), **LANG).content.decode()
    assert "runbook-export.pdf" in page.split('data-testid="attachments"')[1].split("</section>")[0]
    assert events_for(pm).filter(action="attachment_added").exists()
    # A postmortem's file is not an incident timeline entry.
    assert not incident.timeline.filter(kind="attachment").exists()


def test_a_change_takes_files_from_its_page(client_as, worker, outsider):
    change = ChangeRequestFactory(requester=worker)
    client = client_as(worker)

    attach(client, "change", change.number, "plan.csv", b"step,owner\n1,ops\n")
    page = client.get(change.get_absolute_url(), **LANG).content.decode()
    assert "plan.csv" in page.split('data-testid="attachments"')[1].split("</section>")[0]
    assert events_for(ChangeRequest.objects.get()).filter(action="attachment_added").exists()

    attachment = Attachment.objects.get()
    client.force_login(outsider)
    assert client.get(attachment.get_absolute_url()).status_code == 404


def test_an_unknown_record_kind_or_number_is_404(client_as, worker, incident):
    client = client_as(worker)
    assert attach(client, "backup", "BKP-1", "a.log", b"x\n").status_code == 404
    assert attach(client, "incident", "INC-999999", "a.log", b"x\n").status_code == 404


def test_a_file_missing_from_storage_is_404_not_an_error(client_as, worker, incident, media):
    attach(client_as(worker), "incident", incident.number, "app.log", b"started\n")
    attachment = Attachment.objects.get()
    (media / attachment.file.name).unlink()  # e.g. a database restored without var/media
    assert client_as(worker).get(attachment.get_absolute_url()).status_code == 404


def test_merging_a_duplicate_moves_its_files_to_the_surviving_incident(
    client_as, worker, incident, media
):
    from incidents import merging

    duplicate = incident_services.open_incident(title="Checkout 500 again", source="user_report")
    client = client_as(worker)
    attach(client, "incident", duplicate.number, "trace.log", b"Traceback\n")
    attachment = Attachment.objects.get()

    merging.merge_incidents(duplicate, incident, actor=worker)

    assert Attachment.objects.get().record == incident
    page = client.get(incident.get_absolute_url(), **LANG).content.decode()
    assert "trace.log" in page.split('data-testid="attachments"')[1].split("</section>")[0]
    assert client.get(attachment.get_absolute_url()).status_code == 200
    assert events_for(incident).get(action="merge").data["attachments"] == 1

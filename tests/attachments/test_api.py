"""REST API of attachments: list and upload per record, metadata, download, delete (issue 19)."""

import pytest
from rest_framework.test import APIClient

from attachments.models import Attachment
from incidents import services as incident_services
from itsm.core.audit import events_for
from itsm.core.models import ApiToken
from tests.changes.factories import ChangeRequestFactory

from .conftest import png_bytes, stored_files, upload

pytestmark = pytest.mark.django_db

LANG = {"HTTP_ACCEPT_LANGUAGE": "en"}


def post_file(client, url, name, content):
    return client.post(url, {"file": upload(name, content)}, format="multipart", **LANG)


def test_a_file_is_uploaded_listed_described_and_downloaded(api_as, worker, incident, media):
    client = api_as(worker)
    url = f"/api/v1/incidents/{incident.number}/attachments/"

    created = post_file(client, url, "screenshot.png", png_bytes())
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["name"] == "screenshot.png"
    assert body["content_type"] == "image/png"
    assert body["size"] == len(png_bytes())
    assert body["is_image"] is True
    assert body["uploaded_by"] == worker.username
    assert body["preview_url"].endswith(f"/attachments/{body['id']}/preview/")

    listed = client.get(url)
    assert [row["id"] for row in listed.json()] == [body["id"]]
    assert client.get(f"/api/v1/attachments/{body['id']}/").json()["sha256"] == body["sha256"]
    download = client.get(body["download_url"])
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == png_bytes()
    assert download["X-Content-Type-Options"] == "nosniff"
    assert incident.timeline.filter(kind="attachment", text="screenshot.png").exists()


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("huge.log", b"x" * 2048, "The file is 2 KB; the limit is 1 KB."),
        ("empty.log", b"", "The file is empty."),
        ("tool.exe", b"MZ\x90\x00", "Files of type .exe are not allowed"),
        ("page.html", b"<html></html>", "Files of type .html are not allowed"),
        ("shot.png", b"not a png at all", "The content of shot.png is not a .png file."),
    ],
)
def test_a_refused_file_is_a_400_with_a_field_message(
    api_as, worker, incident, media, settings, name, content, message
):
    settings.ATTACHMENT_MAX_BYTES = 1024
    response = post_file(
        api_as(worker), f"/api/v1/incidents/{incident.number}/attachments/", name, content
    )
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert message in response.json()["errors"]["file"][0]
    assert not Attachment.objects.exists()
    assert stored_files(media) == []


def test_a_missing_file_is_a_400(api_as, worker, incident):
    client = api_as(worker)
    response = client.post(
        f"/api/v1/incidents/{incident.number}/attachments/", {}, format="multipart", **LANG
    )
    assert response.status_code == 400
    assert "file" in response.json()["errors"]
    as_json = client.post(
        f"/api/v1/incidents/{incident.number}/attachments/", {"file": "x"}, format="json"
    )
    assert as_json.status_code == 415


def test_someone_who_may_not_see_the_record_gets_404(api_as, worker, outsider, incident):
    body = post_file(
        api_as(worker), f"/api/v1/incidents/{incident.number}/attachments/", "a.log", b"x\n"
    ).json()
    client = api_as(outsider)
    for url in (
        f"/api/v1/incidents/{incident.number}/attachments/",
        f"/api/v1/attachments/{body['id']}/",
        f"/api/v1/attachments/{body['id']}/download/",
    ):
        assert client.get(url).status_code == 404, url
    assert client.delete(f"/api/v1/attachments/{body['id']}/").status_code == 404
    uploaded = post_file(
        client, f"/api/v1/incidents/{incident.number}/attachments/", "b.log", b"x\n"
    )
    assert uploaded.status_code == 404
    assert APIClient().get(f"/api/v1/attachments/{body['id']}/").status_code in (401, 403)
    assert Attachment.objects.count() == 1


def test_a_read_only_token_reads_but_neither_uploads_nor_deletes(api_as, worker, incident):
    body = post_file(
        api_as(worker), f"/api/v1/incidents/{incident.number}/attachments/", "a.log", b"x\n"
    ).json()
    reader = api_as(worker, scope=ApiToken.Scope.READ)
    assert reader.get(f"/api/v1/attachments/{body['id']}/download/").status_code == 200
    refused = post_file(
        reader, f"/api/v1/incidents/{incident.number}/attachments/", "b.log", b"x\n"
    )
    assert refused.status_code == 403
    assert reader.delete(f"/api/v1/attachments/{body['id']}/").status_code == 403
    assert Attachment.objects.count() == 1


def test_delete_is_refused_to_a_colleague_and_audited_for_the_uploader(
    api_as, worker, colleague, incident, media, django_capture_on_commit_callbacks
):
    body = post_file(
        api_as(worker), f"/api/v1/incidents/{incident.number}/attachments/", "a.log", b"x\n"
    ).json()
    url = f"/api/v1/attachments/{body['id']}/"

    refused = api_as(colleague).delete(url)
    assert refused.status_code == 403
    assert refused.json()["code"] == "permission_denied"
    assert len(stored_files(media)) == 1

    with django_capture_on_commit_callbacks(execute=True):
        assert api_as(worker).delete(url).status_code == 204
    assert stored_files(media) == []
    assert events_for(incident).get(action="attachment_deleted").data["attachment"] == body["id"]


def test_postmortems_and_changes_take_files_through_the_api(api_as, leader, worker, incident):
    pm = incident_services.request_postmortem(incident, actor=leader)
    pm_response = post_file(
        api_as(leader), f"/api/v1/postmortems/{pm.number}/attachments/", "timeline.csv", b"a,b\n"
    )
    assert pm_response.status_code == 201
    assert pm_response.json()["content_type"] == "text/csv"

    change = ChangeRequestFactory(requester=worker)
    client = api_as(worker)
    change_response = post_file(
        client,
        f"/api/v1/changes/{change.number}/attachments/",
        "runbook.zip",
        b"PK\x05\x06" + b"\0" * 18,
    )
    assert change_response.status_code == 201
    listed = client.get(f"/api/v1/changes/{change.number}/attachments/").json()
    assert [row["name"] for row in listed] == ["runbook.zip"]
    assert client.get("/api/v1/changes/CHG-999999/attachments/").status_code == 404


@pytest.mark.parametrize("ask", [{"HTTP_ACCEPT": "application/octet-stream"}, {}])
def test_a_download_error_is_the_json_error_body_whatever_was_asked(api_as, worker, ask):
    response = api_as(worker).get(
        "/api/v1/attachments/40e88b44-ed99-3b59-b1ce-6cd712b4547c/download/?format=bin", **ask
    )
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json()["code"] == "not_found"

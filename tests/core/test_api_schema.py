"""What the schemathesis run (tests/test_api_fuzz.py) found, each pinned by a plain test."""

import pytest
from django.utils import timezone

from itsm.core.roles import Role

pytestmark = pytest.mark.django_db


@pytest.fixture
def schema(api_client):
    response = api_client.get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    return response.json()


@pytest.fixture
def admin_api(make_user, api_as):
    return api_as(make_user(Role.ADMIN, username="fuzz-admin"))


def _response(schema, path, method, status="200"):
    return schema["paths"][path][method]["responses"][status]["content"]["application/json"][
        "schema"
    ]


def test_every_operation_documents_the_shared_error_body(schema):
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            codes = set(operation["responses"])
            assert {"400", "401", "403", "404", "429"} <= codes, (method, path)
            if method in {"post", "put", "patch", "delete"}:
                assert {"409", "415"} <= codes, (method, path)
    error = _response(schema, "/api/v1/incidents/{number}/transitions/", "post", "409")
    assert error == {"$ref": "#/components/schemas/Error"}
    assert schema["components"]["schemas"]["Error"]["required"] == ["code", "detail"]


@pytest.mark.parametrize(
    ("path", "item"),
    [
        ("/api/v1/incidents/{number}/transitions/", "TransitionOption"),
        ("/api/v1/backup-jobs/{number}/transitions/", "TransitionOption"),
        ("/api/v1/incidents/{number}/timeline/", "TimelineEntry"),
        ("/api/v1/postmortems/{number}/action-items/", "ActionItem"),
    ],
)
def test_per_record_lists_are_plain_arrays_as_returned(schema, path, item):
    """They were documented as paginated pages ({count, results}) but return the whole list."""
    body = _response(schema, path, "get")
    assert body == {"type": "array", "items": {"$ref": f"#/components/schemas/{item}"}}
    names = {p["name"] for p in schema["paths"][path]["get"].get("parameters", [])}
    # no list filters or page parameters on one record's list; transitions may add the
    # unavailable ones on request (?include=unavailable)
    assert names == ({"number", "include"} if path.endswith("/transitions/") else {"number"})


def test_unset_fields_are_documented_as_null_or_blank(schema):
    incident = schema["components"]["schemas"]["Incident"]["properties"]
    assert incident["assignee"]["nullable"] is True
    assert incident["postmortem"]["nullable"] is True
    assert {"$ref": "#/components/schemas/BlankEnum"} in incident["urgency"]["oneOf"]
    log_url = schema["components"]["schemas"]["Deployment"]["properties"]["log_url"]
    assert {"type": "string", "enum": [""]} in log_url["anyOf"]


def test_an_untriaged_incident_reads_as_documented(admin_api, schema):
    body = admin_api.post("/api/v1/incidents/", {"title": "Typo"}, format="json").json()
    assert (body["assignee"], body["postmortem"], body["urgency"]) == (None, None, "")


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/deployments/?started_before=3813-02-13T10:42:14.9%2B17:53",
        "/api/v1/incidents/?detected_after=2026-01-01T00:00:00%2B18:10",
        "/api/v1/releases/?planned_after=9861-08-20T04:23:06%2B18:10",
        "/api/v1/changes/?planned_before=1556-11-08T09:26:21%2B21:49",
    ],
)
def test_a_date_time_filter_with_a_far_utc_offset_is_answered(admin_api, url):
    """PostgreSQL takes offsets up to ±15:59 only; the filters compare in UTC (was a 500)."""
    response = admin_api.get(url)
    assert response.status_code == 200, response.content


def test_a_date_time_filter_beyond_the_calendar_is_a_400(admin_api):
    response = admin_api.get("/api/v1/incidents/?detected_after=9999-12-31T23:59:00-12:00")
    assert response.status_code == 400
    assert "detected_after" in response.json()["errors"]


@pytest.mark.parametrize(
    ("url", "body", "field"),
    [
        (
            "/api/v1/freeze-windows/",
            {"name": "old", "starts_at": "0147-02-02T03:15:20+06:05", "ends_at": "2026-01-01T00:00Z"},
            "starts_at",
        ),
        ("/api/v1/incidents/", {"title": "old", "detected_at": "1285-12-21T07:16:00Z"}, "detected_at"),
    ],
)  # fmt: skip
def test_a_date_time_before_1900_is_refused_with_a_field_message(admin_api, url, body, field):
    """Such an instant came back as ``…+09:18:59`` (Tokyo's local mean time), not RFC 3339."""
    response = admin_api.post(url, body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["errors"]


def test_a_recent_date_time_is_still_accepted(admin_api):
    detected = (timezone.now() - timezone.timedelta(minutes=5)).isoformat()
    response = admin_api.post(
        "/api/v1/incidents/", {"title": "Now", "detected_at": detected}, format="json"
    )
    assert response.status_code == 201, response.content

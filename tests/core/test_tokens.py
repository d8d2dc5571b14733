"""API tokens: stored as a SHA-256 digest only, scoped, revocable, expiring (DESIGN.md § REST API)."""

import hashlib
import io
import json
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from itsm.core.models import ApiToken

pytestmark = pytest.mark.django_db

ME = "/api/v1/me/"
TICKETS = "/api/test/tickets/"


def _bearer(raw: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def test_database_holds_only_a_digest_of_the_token(operator):
    token, raw = ApiToken.issue(operator, name="monitoring")
    secret = raw.split("_", 2)[2]  # itsm_<prefix>_<secret>; the secret may contain "_"
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {ApiToken._meta.db_table} WHERE id = %s", [token.pk])  # noqa: S608
        row = [str(value) for value in cursor.fetchone()]
    assert not any(raw in value or secret in value for value in row)
    assert token.digest == hashlib.sha256(raw.encode()).hexdigest()
    # The stored values are not a usable credential.
    for value in row:
        assert _bearer(value).get(ME).status_code == 401
    assert _bearer(f"itsm_{token.prefix}_{token.digest}").get(ME).status_code == 401


def test_issued_token_authenticates_its_user(operator):
    _token, raw = ApiToken.issue(operator, name="cli")
    response = _bearer(raw).get(ME)
    assert response.status_code == 200
    assert response.json()["username"] == operator.username
    assert "operator" in response.json()["roles"]


def test_use_is_recorded_on_the_token(operator):
    token, raw = ApiToken.issue(operator, name="cli")
    _bearer(raw).get(ME)
    token.refresh_from_db()
    assert token.last_used_at is not None


@pytest.mark.parametrize(
    "header",
    [
        "Bearer itsm_deadbeef0000_not-a-real-secret",
        "Bearer garbage",
        "Bearer a b",
        "Bearer",
    ],
)
def test_bad_tokens_are_401_json(operator, header):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    response = client.get(ME)
    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"


def test_right_prefix_with_wrong_secret_is_refused(operator):
    token, raw = ApiToken.issue(operator, name="cli")
    forged = raw[:-4] + ("AAAA" if not raw.endswith("AAAA") else "BBBB")
    assert _bearer(forged).get(ME).status_code == 401


def test_revoked_token_is_refused(operator):
    token, raw = ApiToken.issue(operator, name="cli")
    token.revoked_at = timezone.now()
    token.save()
    response = _bearer(raw).get(ME, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 401
    assert "revoked" in response.json()["detail"]
    japanese = _bearer(raw).get(ME, HTTP_ACCEPT_LANGUAGE="ja")
    assert "失効" in japanese.json()["detail"]


def test_expired_token_is_refused_and_unexpired_one_works(operator):
    _expired, old = ApiToken.issue(
        operator, name="old", expires_at=timezone.now() - timedelta(seconds=1)
    )
    _valid, fresh = ApiToken.issue(
        operator, name="new", expires_at=timezone.now() + timedelta(days=1)
    )
    assert _bearer(old).get(ME).status_code == 401
    assert _bearer(fresh).get(ME).status_code == 200


def test_token_of_a_deactivated_user_is_refused(operator):
    _token, raw = ApiToken.issue(operator, name="cli")
    operator.is_active = False
    operator.save()
    assert _bearer(raw).get(ME).status_code == 401


def test_read_scope_token_may_read_but_not_write(api_as, operator):
    client = api_as(operator, scope=ApiToken.Scope.READ)
    assert client.get(TICKETS).status_code == 200
    response = client.post(TICKETS, {"title": "Patch"})
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    assert api_as(operator).post(TICKETS, {"title": "Patch"}).status_code == 201


def test_admin_revoke_action_stops_the_token(client, admin_user, operator):
    token, raw = ApiToken.issue(operator, name="cli")
    client.force_login(admin_user)
    client.post(
        "/admin/core/apitoken/", {"action": "revoke", "_selected_action": [token.pk]}, follow=True
    )
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert _bearer(raw).get(ME).status_code == 401


def test_admin_never_shows_the_secret(client, admin_user, operator):
    token, raw = ApiToken.issue(operator, name="cli")
    client.force_login(admin_user)
    page = client.get(f"/admin/core/apitoken/{token.pk}/change/").content.decode()
    assert token.prefix in page
    assert raw.split("_", 2)[2] not in page
    assert token.digest not in page


def test_issue_token_prints_a_working_token_once(operator):
    out = io.StringIO()
    call_command("issue_token", operator.username, "--name", "ci", stdout=out)
    lines = out.getvalue().split()
    assert len(lines) == 1
    raw = lines[0]
    token = ApiToken.objects.get(name="ci")
    assert token.user == operator
    assert token.digest == ApiToken.hash(raw)
    assert _bearer(raw).get(ME).status_code == 200
    # A second run issues a new, different token; the first one is never shown again.
    again = io.StringIO()
    call_command("issue_token", operator.username, "--name", "ci-2", stdout=again)
    assert again.getvalue().strip() != raw


def test_issue_token_read_scope(operator):
    out = io.StringIO()
    call_command("issue_token", operator.username, "--scope", "read", stdout=out)
    assert ApiToken.objects.get().scope == ApiToken.Scope.READ


def test_issue_token_for_unknown_user_is_a_clear_error():
    with pytest.raises(CommandError, match="No user named"):
        call_command("issue_token", "nobody", stdout=io.StringIO())


def test_anonymous_api_requests_are_throttled(monkeypatch):
    from rest_framework.throttling import AnonRateThrottle

    monkeypatch.setattr(AnonRateThrottle, "THROTTLE_RATES", {"anon": "2/min", "user": None})
    client = APIClient()
    statuses = [client.get("/api/schema/").status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    refused = client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert json.loads(refused.content)["code"] == "throttled"

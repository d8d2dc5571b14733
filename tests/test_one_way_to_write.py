"""Every API write goes through a service and is audited (issue 15 "one way to write"): the writes
that used to skip their service — action-item edits, freeze windows, restore tests planned over
the API, token revocation in the admin, tokens issued on the command line."""

from __future__ import annotations

from datetime import datetime
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.urls import reverse

from backups.models import RestoreTest
from changes.models import FreezeWindow
from incidents import services as incident_services
from itsm.core.models import ApiToken, AuditEvent

pytestmark = pytest.mark.django_db
TOKYO = ZoneInfo("Asia/Tokyo")


def _actions(obj) -> list[tuple[str, str]]:
    return [
        (event.action, event.actor.username if event.actor_id else event.actor_label)
        for event in AuditEvent.objects.for_object(obj).order_by("id")
    ]


@pytest.fixture
def postmortem(ops_leader):
    incident = incident_services.open_incident(
        title="Disk full",
        source="user_report",
        impact_scope="all_users",
        business_impact="revenue_loss",
        urgency="immediate",
    )
    for name in ("start_response", "start_recovery", "verify"):
        incident_services.transition(incident, name, actor=None, system_label="test")
    incident_services.close_incident(incident, actor=ops_leader, resolution_summary="fixed")
    return incident.postmortem


def test_editing_an_action_item_through_the_api_is_audited(api_as, operator, postmortem):
    client = api_as(operator)
    base = f"/api/v1/postmortems/{postmortem.number}/action-items/"
    item = client.post(base, {"title": "Add disk alerts"}, format="json").json()
    response = client.patch(
        f"{base}{item['id']}/", {"title": "Add disk and inode alerts", "done": True}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["title"] == "Add disk and inode alerts" and response.json()["done"]
    assert _actions(postmortem)[-3:] == [
        ("add_action_item", "op"),
        ("action_item_done", "op"),
        ("update_action_item", "op"),
    ]
    refused = client.patch(f"{base}{item['id']}/", {"title": "  "}, format="json")
    assert refused.status_code == 400 and "title" in refused.json()["errors"]
    assert postmortem.action_items.get().title == "Add disk and inode alerts"


def test_freeze_windows_are_written_through_the_changes_services(api_as, ops_manager):
    client = api_as(ops_manager)
    body = {
        "name": "Year-end freeze",
        "starts_at": datetime(2026, 12, 28, 0, 0, tzinfo=TOKYO).isoformat(),
        "ends_at": datetime(2027, 1, 4, 9, 0, tzinfo=TOKYO).isoformat(),
        "reason": "年末年始",
    }
    created = client.post("/api/v1/freeze-windows/", body, format="json")
    assert created.status_code == 201, created.content
    window = FreezeWindow.objects.get(pk=created.json()["id"])
    changed = client.patch(
        f"/api/v1/freeze-windows/{window.pk}/", {"reason": "年末年始休暇"}, format="json"
    )
    assert changed.status_code == 200 and changed.json()["reason"] == "年末年始休暇"
    backwards = client.patch(
        f"/api/v1/freeze-windows/{window.pk}/",
        {"ends_at": datetime(2026, 12, 1, tzinfo=TOKYO).isoformat()},
        format="json",
    )
    assert backwards.status_code == 400
    window.refresh_from_db()
    assert window.ends_at == datetime(2027, 1, 4, 9, 0, tzinfo=TOKYO)  # nothing half-written
    assert client.delete(f"/api/v1/freeze-windows/{window.pk}/").status_code == 204
    assert not FreezeWindow.objects.exists()
    assert _actions(window) == [
        ("create", "manager"),
        ("update", "manager"),
        ("delete", "manager"),
    ]


def test_a_restore_test_planned_over_the_api_says_who_planned_it(api_as, ops_manager):
    response = api_as(ops_manager).post(
        "/api/v1/restore-tests/",
        {
            "policy": "database",
            "due_on": "2027-03-31",
            "target": "orders DB",
            "success_criteria": "row counts match",
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    test = RestoreTest.objects.get(number=response.json()["number"])
    assert _actions(test) == [("planned", "manager")]


def test_revoking_tokens_in_the_admin_is_audited(client, admin_user, operator):
    token, _raw = ApiToken.issue(operator, name="ci")
    client.force_login(admin_user)
    response = client.post(
        reverse("admin:core_apitoken_changelist"),
        {"action": "revoke", "_selected_action": [token.pk]},
        follow=True,
    )
    assert response.status_code == 200
    token.refresh_from_db()
    assert token.revoked_at is not None and not token.is_usable
    assert _actions(token) == [("revoke", admin_user.username)]
    client.post(  # revoking again changes nothing and records nothing
        reverse("admin:core_apitoken_changelist"),
        {"action": "revoke", "_selected_action": [token.pk]},
    )
    assert len(_actions(token)) == 1


def test_issuing_a_token_on_the_command_line_is_audited(operator):
    out = StringIO()
    call_command("issue_token", operator.username, "--name", "pipeline", stdout=out)
    token = ApiToken.objects.get(name="pipeline")
    assert out.getvalue().strip().startswith(f"itsm_{token.prefix}_")
    assert _actions(token) == [("create", "manage.py issue_token")]

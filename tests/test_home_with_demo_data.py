"""The home page with every app's real demo data: each app's "my work" card renders."""

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "username", ["operator", "leader", "manager", "developer", "cab1", "admin"]
)
def test_home_renders_every_apps_cards_for_each_demo_user(client, username):
    call_command("seed_demo", stdout=io.StringIO())
    client.force_login(get_user_model().objects.get(username=username))
    response = client.get("/")
    assert response.status_code == 200
    cards = {card["app"]: card for card in response.context["cards"]}
    assert set(cards) == {"incidents", "changes", "releases", "backups"}
    assert 'data-testid="my-work-incidents"' in response.content.decode()


def test_manager_sees_the_changes_waiting_for_a_decision(client):
    call_command("seed_demo", stdout=io.StringIO())
    client.force_login(get_user_model().objects.get(username="manager"))
    cards = {card["app"]: card for card in client.get("/").context["cards"]}
    assert any(item.number.startswith("CHG-") for item in cards["changes"]["items"])


def test_seed_demo_is_idempotent():
    call_command("seed_demo", stdout=io.StringIO())
    from backups.models import BackupJob
    from changes.models import ChangeRequest
    from incidents.models import Incident
    from releases.models import Release

    counts = [m.objects.count() for m in (Incident, ChangeRequest, Release, BackupJob)]
    call_command("seed_demo", stdout=io.StringIO())
    assert [m.objects.count() for m in (Incident, ChangeRequest, Release, BackupJob)] == counts
    assert all(counts)


def test_every_dashboard_tile_has_data_after_seeding_twice(client):
    """seed_demo's history (incidents, changes, releases, backups of the last weeks) fills every
    tile family of the 30-day dashboard, and a second run adds nothing."""
    from backups.models import RestoreTest
    from changes.models import Approval
    from incidents.models import EscalationStep, Postmortem
    from releases.models import Deployment, ReleaseSlot

    history = (EscalationStep, Postmortem, Approval, Deployment, ReleaseSlot, RestoreTest)
    call_command("seed_demo", stdout=io.StringIO())
    counts = [m.objects.count() for m in history]
    call_command("seed_demo", stdout=io.StringIO())
    assert [m.objects.count() for m in history] == counts

    client.force_login(get_user_model().objects.get(username="manager"))
    response = client.get("/dashboard/", {"days": "30"})
    assert response.status_code == 200
    m = response.context["metrics"]
    overall = m["incidents"]["overall"]
    assert overall["total"] and overall["compliance"] is not None
    assert overall["mtta_p50"] is not None and overall["mttr_p50"] is not None
    esc = m["escalations"]
    assert esc["escalated"] and esc["by_reason"]["automatic"]
    assert sum(n for reason, n in esc["by_reason"].items() if reason != "automatic")
    pm = m["postmortems"]
    assert pm["completion_within_due"] is not None and pm["on_time"] and pm["late"]
    assert pm["overdue_action_items_now"]
    ch = m["changes"]
    assert ch["success_rate"] is not None and ch["successful"] and ch["failed"]
    assert ch["emergency_ratio"] and ch["cab"]["decided"]
    assert ch["cab"]["decision_hours_p50"] is not None
    rel = m["releases"]
    assert rel["slots"] and rel["used"] and rel["adherence"] is not None
    dora = m["dora"]["metrics"]
    assert all(figure["value"] is not None for figure in dora.values()), dora
    assert m["dora"]["recovered_failures"]
    backups = m["backups"]
    assert backups["rpo_compliance"] is not None and backups["policies_restore_tested"]
    html = response.content.decode()
    assert 'data-tile="postmortem-completion"' in html

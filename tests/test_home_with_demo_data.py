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

"""The home page with every app's real demo data: each app's "my work" card renders.

Seeding at any moment, twice, with every dashboard tile filled: tests/test_demo_any_moment.py."""

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("demo_clock")]


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

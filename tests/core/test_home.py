"""The home page "my work": one card per app that exposes ``selectors.my_open_items(user)``."""

import sys
import types
from datetime import timedelta

import pytest
from django.utils import timezone

from itsm import views

pytestmark = pytest.mark.django_db

APPS = ("incidents", "changes", "releases", "backups")


@pytest.fixture
def selectors(monkeypatch):
    """``selectors(app=fn, …)`` installs fake ``<app>.selectors`` modules; other apps have none."""

    def install(**functions):
        for app in APPS:
            if app in functions:
                module = types.ModuleType(f"{app}.selectors")
                if functions[app] is not None:
                    module.my_open_items = functions[app]
                monkeypatch.setitem(sys.modules, f"{app}.selectors", module)
            else:
                # None in sys.modules makes the import fail as if the module did not exist.
                monkeypatch.setitem(sys.modules, f"{app}.selectors", None)

    return install


def test_home_without_any_selector_shows_only_recent_activity(client, operator, selectors):
    selectors()
    client.force_login(operator)
    response = client.get("/")
    assert response.status_code == 200
    assert response.context["cards"] == []
    assert 'data-testid="my-work-' not in response.content.decode()


def test_each_apps_items_render_in_their_card(client, operator, selectors):
    soon = timezone.now() + timedelta(hours=2)
    late = timezone.now() - timedelta(minutes=5)
    seen_users = []

    def incidents(user):
        seen_users.append(user)
        return [
            {
                "number": "INC-000007",
                "title": "Checkout returns 500",
                "url": "/incidents/INC-000007/",
                "state_label": "原因調査",
                "due": late,
            }
        ]

    change = types.SimpleNamespace(
        number="CHG-000003",
        title="Rotate TLS certificate",
        url="/changes/CHG-000003/",
        state_label="Submitted",
        due=soon,
    )
    selectors(incidents=incidents, changes=lambda user: [change])
    client.force_login(operator)
    response = client.get("/")
    page = response.content.decode()
    assert seen_users == [operator]
    assert [card["app"] for card in response.context["cards"]] == ["incidents", "changes"]
    assert 'href="/incidents/INC-000007/">INC-000007</a>' in page
    assert "Checkout returns 500" in page and "原因調査" in page
    assert 'href="/changes/CHG-000003/">CHG-000003</a>' in page
    incident, chg = (card["items"][0] for card in response.context["cards"])
    assert incident.overdue and not chg.overdue
    assert "countdown-overdue" in page.split("INC-000007")[2].split("</li>")[0]


def test_card_shows_at_most_the_limit_and_says_there_is_more(client, operator, selectors):
    def many(user):
        for n in range(1, 1000):
            yield {
                "number": f"BKP-{n:06d}",
                "title": "job",
                "url": "/",
                "state_label": "x",
                "due": None,
            }

    selectors(backups=many)
    client.force_login(operator)
    response = client.get("/")
    [card] = response.context["cards"]
    assert len(card["items"]) == views.MY_WORK_LIMIT
    assert card["more"] is True
    assert f"BKP-{views.MY_WORK_LIMIT + 1:06d}" not in response.content.decode()


def test_empty_selector_says_nothing_waits(client, operator, selectors):
    selectors(releases=lambda user: [])
    client.force_login(operator)
    response = client.get("/")
    [card] = response.context["cards"]
    assert card["items"] == [] and card["more"] is False
    assert 'data-testid="my-work-releases"' in response.content.decode()


def test_selectors_module_without_the_function_gets_no_card(client, operator, selectors):
    selectors(incidents=None)
    client.force_login(operator)
    assert client.get("/").context["cards"] == []


def test_item_missing_a_contract_field_is_a_loud_error(operator, selectors):
    selectors(changes=lambda user: [{"number": "CHG-1", "title": "t", "url": "/"}])
    with pytest.raises(KeyError):
        views.my_work(operator)


def test_broken_import_inside_a_selectors_module_is_not_hidden(monkeypatch, operator):
    def broken(name):
        raise ModuleNotFoundError("No module named 'missing_dependency'", name="missing_dependency")

    monkeypatch.setattr(views.importlib, "import_module", broken)
    with pytest.raises(ModuleNotFoundError):
        views.my_work(operator)

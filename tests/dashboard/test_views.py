"""The dashboard page, its printable view, CSV export and /api/v1/metrics/: who may see them,
bad input, and the same numbers everywhere."""

from __future__ import annotations

import csv
import io
import re

import pytest
import time_machine
from django.urls import reverse

from itsm.core.roles import Role
from releases.models import Deployment, Environment
from releases.services import link_causing_deployment
from tests.incidents.factories import IncidentFactory
from tests.releases.factories import ReleaseFactory

from .conftest import NOW, jst, make_incident

pytestmark = pytest.mark.django_db
WEEK = {"days": "custom", "since": "2025-06-02", "until": "2025-06-08"}


@pytest.fixture(autouse=True)
def _now():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        (Role.OPERATOR, False),
        (Role.DEVELOPER, False),
        (Role.CAB_MEMBER, False),
        (Role.OPS_LEADER, True),
        (Role.OPS_MANAGER, True),
        (Role.EXECUTIVE, True),
        (Role.ADMIN, True),
    ],
)
def test_who_may_see_the_dashboard(client, api_as, make_user, role, allowed):
    user = make_user(role)
    client.force_login(user)
    expected = 200 if allowed else 403
    for name in ("dashboard", "dashboard_print", "dashboard_csv"):
        assert client.get(reverse(name)).status_code == expected, name
    assert api_as(user).get("/api/v1/metrics/incidents/").status_code == expected
    assert api_as(user).get("/api/v1/metrics/").status_code == expected


def test_anonymous_is_sent_to_login(client):
    response = client.get(reverse("dashboard"))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    assert client.get("/api/v1/metrics/").status_code in (401, 403)


@pytest.mark.parametrize(
    "params",
    [
        {"days": "12"},
        {"days": "custom"},
        {"days": "custom", "since": "2025-06-08", "until": "2025-06-01"},
        {"days": "custom", "since": "2024-01-01", "until": "2025-06-01"},
        {"days": "custom", "since": "June", "until": "2025-06-01"},
        {"service": "no-such-service"},
    ],
)
def test_bad_period_or_service_is_a_400_with_the_reason(client, api_as, ops_manager, params):
    client.force_login(ops_manager)
    page = client.get(reverse("dashboard"), params)
    assert page.status_code == 400
    assert page.context["form"].errors
    assert client.get(reverse("dashboard_csv"), params).status_code == 400
    response = api_as(ops_manager).get("/api/v1/metrics/incidents/", params)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid" and response.json()["errors"]


def test_unknown_family_is_404(api_as, ops_manager):
    assert api_as(ops_manager).get("/api/v1/metrics/nope/").status_code == 404


def _csv(response) -> dict[tuple[str, str], str]:
    text = response.content.decode("utf-8-sig")
    return {(row[0], row[1]): row[2] for row in list(csv.reader(io.StringIO(text)))[1:]}


def test_page_api_and_csv_show_the_same_numbers(client, api_as, ops_manager, week):
    client.force_login(ops_manager)
    page = client.get(reverse("dashboard"), WEEK)
    assert page.status_code == 200
    on_page = page.context["metrics"]
    api = api_as(ops_manager).get("/api/v1/metrics/", WEEK).json()["families"]
    exported = _csv(client.get(reverse("dashboard_csv"), WEEK))
    overall = on_page["incidents"]["overall"]
    assert overall["total"] == 8 and overall["compliance"] == 0.5714
    assert api["incidents"]["overall"] == overall
    for key in ("total", "met", "breached", "compliance", "mtta_p50", "mtta_p90", "mttr_p90"):
        assert exported[("incidents", f"overall.{key}")] == str(overall[key])
    assert exported[("incidents", "by_priority.P4.compliance")] == "0.5"
    assert exported[("incidents", "trend.2025-06-03.mtta_p50")] == "20.0"
    for family in ("changes", "dora", "backups", "postmortems", "escalations", "releases"):
        assert api[family].keys() == on_page[family].keys()
    single = api_as(ops_manager).get("/api/v1/metrics/incidents/", WEEK).json()
    assert single["data"]["overall"] == overall
    assert single["period"]["since"].startswith("2025-06-02T00:00:00+09:00")
    html = page.content.decode()
    assert 'data-tile="incidents-total"' in html
    assert 'data-value="0.5714"' in html  # the compliance tile
    assert "57%" in html


def test_tiles_link_to_the_filtered_lists(client, ops_manager, week):
    client.force_login(ops_manager)
    page = client.get(reverse("dashboard"), {**WEEK, "service": "web-shop"})
    links = page.context["links"]["incidents"]
    assert (
        "priority=P1" in links["priority"]["P1"] and "service=web-shop" in links["priority"]["P1"]
    )
    assert "sla=breached" in links["breached"]
    listed = client.get(links["priority_breached"]["P1"])
    assert listed.status_code == 200
    assert [i.number for i in listed.context["incidents"]] == [week["B"].number]
    html = page.content.decode()
    assert links["priority"]["P1"].replace("&", "&amp;") in html


def test_service_filter_and_print_view(client, ops_manager, week):
    client.force_login(ops_manager)
    page = client.get(reverse("dashboard_print"), {**WEEK, "service": "payments"})
    assert page.status_code == 200
    assert page.context["metrics"]["incidents"]["overall"]["total"] == 2
    assert b"<nav" not in page.content  # printable: no navigation bar
    assert "Payments" in page.content.decode()


def test_default_period_is_the_last_30_days_including_today(client, ops_manager):
    client.force_login(ops_manager)
    page = client.get(reverse("dashboard"))
    period = page.context["period"]
    assert period.days == 30
    assert (period.until - period.since).days == 30
    assert period.last_day.isoformat() == "2025-06-10"
    assert len(page.context["metrics"]["incidents"]["trend"]) == 30


def test_csv_is_a_download_with_the_period_in_its_name(client, ops_manager):
    client.force_login(ops_manager)
    response = client.get(reverse("dashboard_csv"), WEEK)
    assert response["Content-Type"].startswith("text/csv")
    assert 'filename="dashboard-2025-06-02-2025-06-08.csv"' in response["Content-Disposition"]
    assert _csv(response)[("period", "since")] == "2025-06-02T00:00:00+09:00"


def test_page_query_count_is_constant(client, ops_manager, week, django_assert_max_num_queries):
    client.force_login(ops_manager)
    with django_assert_max_num_queries(40):
        client.get(reverse("dashboard"), WEEK)


def _dora_cell(html: str, metric: str) -> str:
    row = re.search(rf'<tr data-metric="{metric}">(.*?)</tr>', html, re.S).group(1)
    return re.search(r'data-value="([^"]*)"', row).group(1)


def test_linking_an_incident_to_a_production_deployment_moves_the_change_fail_rate(
    client, api_as, ops_manager, ops_leader
):
    """The page, the API and the CSV read the incident → deployment links (DORA: a
    deployment that caused an incident is a failed change)."""
    release = ReleaseFactory()
    production = Environment.objects.get(code="production")
    first, _second = (
        Deployment.objects.create(
            release=release,
            environment=production,
            version=release.version,
            result="succeeded",
            started_at=jst(2025, 6, day, 10),
            finished_at=jst(2025, 6, day, 10, 20),
        )
        for day in (3, 5)
    )
    client.force_login(ops_manager)
    api = api_as(ops_manager)

    def figures():
        html = client.get(reverse("dashboard"), WEEK).content.decode()
        family = api.get("/api/v1/metrics/dora/", WEEK).json()["data"]
        exported = _csv(client.get(reverse("dashboard_csv"), WEEK))
        return (
            _dora_cell(html, "change_fail_rate"),
            family["metrics"]["change_fail_rate"]["value"],
            exported[("dora", "metrics.change_fail_rate.value")],
        )

    assert figures() == ("0.0", 0.0, "0.0")
    incident = IncidentFactory(detected_at=jst(2025, 6, 3, 11))
    link_causing_deployment(first, incident=incident, actor=ops_leader)
    assert figures() == ("0.5", 0.5, "0.5")


def test_auto_recovered_incidents_have_their_own_tile_column_and_list(
    client, api_as, ops_manager, week
):
    flap = make_incident(
        "P1", jst(2025, 6, 5, 14), recovered=jst(2025, 6, 5, 14, 5), service=week["A"].service
    )
    client.force_login(ops_manager)
    page = client.get(reverse("dashboard"), WEEK)
    html = page.content.decode()
    tile = re.search(r'data-tile="auto-recovered".*?data-value="([^"]*)"', html, re.S)
    assert tile.group(1) == "1"
    assert 'data-value="0.5714"' in html  # compliance as before: 4 of 7
    assert re.search(
        r'<tr data-priority="P1">.*?data-column="auto-recovered"><a [^>]*>1<', html, re.S
    )
    listed = client.get(page.context["links"]["incidents"]["auto_recovered"])
    assert [i.number for i in listed.context["incidents"]] == [flap.number]
    api = api_as(ops_manager).get("/api/v1/metrics/incidents/", WEEK).json()["data"]
    assert api["overall"]["auto_recovered"] == 1 and api["overall"]["compliance"] == 0.5714
    exported = _csv(client.get(reverse("dashboard_csv"), WEEK))
    assert exported[("incidents", "overall.auto_recovered")] == "1"
    assert exported[("incidents", "by_priority.P1.auto_recovered")] == "1"
    printed = client.get(reverse("dashboard_print"), WEEK).content.decode()
    assert 'data-tile="auto-recovered"' in printed

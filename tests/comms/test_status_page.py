"""The status page (issue 17 §3): service status derived from open incidents (priority, state)
and set by the commander; maintenance from approved change windows; the public page without
login shows no internal field, no name, no internal update; JSON and Atom; cacheable and
rate-limited."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from changes.models import ChangeRequest
from comms import selectors, services
from comms.choices import Audience, ServiceStatus, UpdateStatus
from comms.models import PriorityComms, StatusPageService
from tests.factories import ServiceFactory
from tests.incidents.conftest import advance

pytestmark = pytest.mark.django_db

SECRET = "root cause: payments-db-01 credentials rotated by ops"


def statuses(public=False) -> dict:
    return {s.name: s.status for s in selectors.status_page(public=public).services}


@pytest.mark.parametrize(
    "priority,expected",
    [
        ("P1", ServiceStatus.MAJOR_OUTAGE),
        ("P2", ServiceStatus.PARTIAL_OUTAGE),
        ("P3", ServiceStatus.DEGRADED),
        ("P4", ServiceStatus.DEGRADED),
    ],
)
def test_an_open_incident_sets_its_service_status_by_priority(file_incident, priority, expected):
    file_incident(priority)
    assert statuses()["Web shop"] == expected


def test_the_worst_open_incident_wins_and_recovery_or_close_clears_it(file_incident, shop):
    p3, p1 = file_incident("P3"), file_incident("P1")
    assert statuses()["Web shop"] == ServiceStatus.MAJOR_OUTAGE
    advance(p1, "start_response", "start_recovery", "verify")  # recovered, being verified
    assert statuses()["Web shop"] == ServiceStatus.DEGRADED
    advance(p3, "start_response", "start_recovery", "verify")
    advance(p3, "close", data={"resolution_summary": "index rebuilt"})
    assert statuses()["Web shop"] == ServiceStatus.OPERATIONAL


def test_an_untriaged_report_does_not_change_the_status(shop):
    from incidents import services as incident_services

    incident_services.open_incident(
        title="Someone says it's slow", source="user_report", service=shop
    )
    assert statuses()["Web shop"] == ServiceStatus.OPERATIONAL


def test_the_status_per_priority_is_data(file_incident):
    PriorityComms.objects.filter(priority="P3").update(service_status=ServiceStatus.PARTIAL_OUTAGE)
    file_incident("P3")
    assert statuses()["Web shop"] == ServiceStatus.PARTIAL_OUTAGE


def test_the_commander_sets_the_status_over_the_derived_one(file_incident, commander):
    incident = file_incident("P1")
    services.assign_roles(incident, actor=commander, commander=commander)
    services.set_public_status(incident, actor=commander, service_status=ServiceStatus.DEGRADED)
    assert statuses()["Web shop"] == ServiceStatus.DEGRADED
    assert statuses(public=True)["Online shop"] == ServiceStatus.DEGRADED


def test_a_resolved_update_clears_the_status_before_the_close(file_incident, commander):
    incident = file_incident("P2")
    services.post_update(
        incident, actor=commander, status=UpdateStatus.RESOLVED, message_en="Fixed."
    )
    assert statuses()["Web shop"] == ServiceStatus.OPERATIONAL


def test_the_public_page_counts_published_incidents_only(file_incident, commander):
    incident = file_incident("P2")
    assert statuses()["Web shop"] == ServiceStatus.PARTIAL_OUTAGE
    assert statuses(public=True)["Online shop"] == ServiceStatus.OPERATIONAL  # not told yet
    services.post_update(
        incident,
        actor=commander,
        status=UpdateStatus.INVESTIGATING,
        audience=Audience.PUBLIC,
        message_en="Checkout is failing for some customers.",
    )
    assert statuses(public=True)["Online shop"] == ServiceStatus.PARTIAL_OUTAGE


def _approved_change(service, start, hours=2, state=ChangeRequest.State.APPROVED):
    change = ChangeRequest.objects.create(
        title="Swap the load balancer certificate",
        planned_start=start,
        planned_end=start + timedelta(hours=hours),
    )
    ChangeRequest.objects.filter(pk=change.pk).update(state=state)
    change.services.add(service)
    return change


def test_maintenance_comes_from_approved_change_windows(shop):
    soon = timezone.now() + timedelta(days=2)
    _approved_change(shop, soon)
    _approved_change(shop, soon, state=ChangeRequest.State.DRAFT)  # not approved: not shown
    _approved_change(shop, timezone.now() + timedelta(days=40))  # beyond the 14 days shown
    other = ServiceFactory(name="Internal wiki", slug="wiki")
    _approved_change(other, soon)  # not a public service
    public = selectors.status_page(public=True).maintenance
    assert [(m.service_names, m.starts_at) for m in public] == [(["Online shop"], soon)]
    assert public[0].title == "" and public[0].reference == ""  # nothing internal
    internal = selectors.status_page(public=False).maintenance
    assert {m.title for m in internal} == {"Swap the load balancer certificate"}
    assert len(internal) == 2


@pytest.fixture
def told(file_incident, commander):
    """A P1 with a public and an internal update, on the public shop."""
    incident = file_incident("P1", title="payments-db-01 connection pool exhausted")
    services.assign_roles(incident, actor=commander, commander=commander)
    services.post_update(
        incident,
        actor=commander,
        status=UpdateStatus.IDENTIFIED,
        audience=Audience.PUBLIC,
        message_ja="決済が不安定です。",
        message_en="Payments are unstable; we are on it.",
    )
    services.post_update(
        incident, actor=commander, status=UpdateStatus.IDENTIFIED, message_en=SECRET
    )
    return incident


def _no_internal_detail(text: str, incident, commander) -> None:
    for internal in (
        SECRET,
        incident.number,
        incident.title,
        commander.username,
        str(commander),
        "Web shop",  # the internal service name (the page says "Online shop")
    ):
        assert internal not in text, internal


def test_the_public_page_without_login_shows_public_updates_only(client, told, commander):
    response = client.get("/status/public/?lang=en")
    assert response.status_code == 200
    text = response.content.decode()
    assert "Payments are unstable; we are on it." in text
    assert 'data-status="major_outage"' in text
    _no_internal_detail(text, told, commander)
    assert "csrfmiddlewaretoken" not in text  # cacheable: nothing per visitor
    assert response["Cache-Control"] == "public, max-age=30"
    assert "決済が不安定です。" in client.get("/status/public/?lang=ja").content.decode()


def test_a_service_not_opted_in_is_not_on_the_public_page(client, file_incident, commander):
    hidden = ServiceFactory(name="Back office", slug="back-office")
    incident = file_incident("P1", service=hidden, title="Back office down")
    services.post_update(
        incident,
        actor=commander,
        status=UpdateStatus.INVESTIGATING,
        audience=Audience.PUBLIC,
        message_en="Back office is down.",
    )
    text = client.get("/status/public/").content.decode()
    assert "Back office" not in text
    StatusPageService.objects.create(service=hidden, public=False)
    assert "Back office" not in client.get("/status/public/summary.json").content.decode()


def test_summary_json_lists_every_public_service_with_its_status(client, told, commander, shop):
    quiet = ServiceFactory(name="Member pages", slug="members")
    StatusPageService.objects.create(service=quiet, public=True, order=2)
    data = client.get("/status/public/summary.json?lang=en").json()
    assert data["status"]["indicator"] == ServiceStatus.MAJOR_OUTAGE
    assert data["services"] == [
        {"name": "Online shop", "description": "", "status": "major_outage"},
        {"name": "Member pages", "description": "", "status": "operational"},
    ]
    [incident] = data["incidents"]
    assert [u["body"] for u in incident["updates"]] == ["Payments are unstable; we are on it."]
    assert incident["status"] == "identified"
    _no_internal_detail(str(data), told, commander)


def test_the_atom_feed_carries_public_updates(client, told, commander):
    response = client.get("/status/public/history.atom?lang=en")
    assert response["Content-Type"].startswith("application/atom+xml")
    text = response.content.decode()
    assert "Payments are unstable; we are on it." in text
    _no_internal_detail(text, told, commander)


def test_resolved_incidents_stay_on_the_page_for_seven_days(client, told, commander):
    services.post_update(
        told,
        actor=commander,
        status=UpdateStatus.RESOLVED,
        audience=Audience.PUBLIC,
        message_en="Payments are back to normal.",
    )
    advance(told, "start_response", "start_recovery", "verify")
    advance(told, "close", data={"resolution_summary": "pool enlarged"})
    page = selectors.status_page(public=True)
    assert page.status == ServiceStatus.OPERATIONAL
    assert [i.phase for i in page.resolved] == [UpdateStatus.RESOLVED]
    with time_machine.travel(timezone.now() + timedelta(days=8)):
        assert selectors.status_page(public=True).incidents == []


def test_the_public_page_is_rate_limited(client, settings, shop):
    settings.STATUS_PAGE_RATE_LIMIT = (3, 60)
    codes = [client.get("/status/public/").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    assert client.get("/status/public/summary.json").status_code == 429


def test_the_internal_page_needs_login_and_shows_everything(client, told, operator):
    assert client.get("/status/").status_code == 302
    client.force_login(operator)
    text = client.get("/status/").content.decode()
    assert told.number in text and SECRET in text


def test_the_status_page_costs_constant_queries(
    client, django_assert_max_num_queries, file_incident, commander
):
    for n in range(5):
        incident = file_incident("P2", title=f"Incident {n}")
        services.post_update(
            incident,
            actor=commander,
            status=UpdateStatus.INVESTIGATING,
            audience=Audience.PUBLIC,
            message_en=f"Update {n}",
        )
    with django_assert_max_num_queries(8):
        assert client.get("/status/public/").status_code == 200


def test_the_public_page_is_rendered_at_most_every_ten_seconds(client, told, commander):
    from comms.public import PAGE_CACHE_SECONDS

    assert "Payments are unstable" in client.get("/status/public/?lang=en").content.decode()
    services.post_update(
        told,
        actor=commander,
        status=UpdateStatus.MONITORING,
        audience=Audience.PUBLIC,
        message_en="A fix is in place; we are watching.",
    )
    assert "A fix is in place" not in client.get("/status/public/?lang=en").content.decode()
    with time_machine.travel(timezone.now() + timedelta(seconds=PAGE_CACHE_SECONDS + 1)):
        assert "A fix is in place" in client.get("/status/public/?lang=en").content.decode()

"""Merging a duplicate and resolving a parent's children (issue 18 §1): alerts, subscribers and
timeline move, the survivor keeps the earlier detection, the duplicate is closed with a
reference; two merges of the same pair: one wins, the other 409; a closed survivor is refused."""

import threading
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import connection

from comms import services as comms
from incidents import links, merging, services
from incidents.models import Incident, Link, LinkKind
from intake.models import Alert, AlertGroup
from intake.services import create_integration
from itsm.core import workflow
from itsm.core.roles import Role

pytestmark = pytest.mark.django_db

JST = ZoneInfo("Asia/Tokyo")
T0 = datetime(2025, 6, 2, 10, 0, tzinfo=JST)


def file(title, minutes=0, **kw):
    with time_machine.travel(T0 + timedelta(minutes=minutes), tick=False):
        return services.open_incident(title=title, source="monitoring", priority="P2", **kw)


def alert_on(incident, fingerprint):
    integration, _raw = create_integration(name=f"am-{fingerprint}")
    group = AlertGroup.objects.create(integration=integration, key=fingerprint, incident=incident)
    return Alert.objects.create(group=group, incident=incident, fingerprint=fingerprint)


def test_merge_moves_alerts_subscribers_and_timeline(operator, make_user):
    first = file("Checkout down", minutes=0)
    duplicate = file("Checkout returns 500", minutes=7)
    survivor = file("Shop unavailable", minutes=12)
    alert = alert_on(duplicate, "checkout-5xx")
    cfo, both = make_user(username="cfo"), make_user(username="both")
    comms.subscribe(actor=operator, incident=duplicate, user=cfo)
    comms.subscribe(actor=operator, incident=duplicate, user=both)
    comms.subscribe(actor=operator, incident=survivor, user=both)
    services.add_timeline_entry(duplicate, actor=operator, text="Customers report 500s")
    entries = duplicate.timeline.count()

    merging.merge_incidents(duplicate, survivor, actor=operator)

    duplicate.refresh_from_db()
    survivor.refresh_from_db()
    assert duplicate.state == "closed" and survivor.number in duplicate.resolution_summary
    assert Link.objects.filter(source=duplicate, target=survivor, kind=LinkKind.DUPLICATE_OF)
    alert.refresh_from_db()
    assert alert.incident == survivor and alert.group.incident == survivor
    assert sorted(s.user.username for s in survivor.subscriptions.all()) == ["both", "cfo"]
    moved = survivor.timeline.filter(data__merged_from=duplicate.number)
    assert moved.count() == entries  # nothing lost, each marked
    assert moved.filter(text="Customers report 500s").exists()
    assert survivor.detected_at == duplicate.detected_at  # the earlier detection is kept
    assert first.state != "closed"


def test_merging_into_a_closed_incident_or_itself_is_refused(operator):
    a, b = file("A"), file("B")
    with pytest.raises(ValidationError):
        merging.merge_incidents(a, a, actor=operator)
    Incident.objects.filter(pk=b.pk).update(state="closed")
    with pytest.raises(workflow.TransitionNotAllowed) as refused:
        merging.merge_incidents(a, b, actor=operator)
    assert refused.value.status == 409
    a.refresh_from_db()
    assert a.state != "closed"


def test_the_second_merge_of_a_pair_gets_409(operator):
    a, b = file("A"), file("B")
    merging.merge_incidents(a, b, actor=operator)
    with pytest.raises(workflow.ConcurrentUpdate) as late:
        merging.merge_incidents(Incident.objects.get(pk=a.pk), b, actor=operator)
    assert late.value.status == 409


# serialized_rollback: the content types and groups seeded by migration stay for later tests.
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_merges_of_one_pair_one_wins(make_user):
    operator = make_user(Role.OPERATOR, username="op")
    a, b = file("A"), file("B")
    results, barrier = [], threading.Barrier(2)

    def merge():
        barrier.wait()
        try:
            merging.merge_incidents(Incident.objects.get(pk=a.pk), b, actor=operator)
            results.append("merged")
        except workflow.TransitionError as exc:
            results.append(exc.status)
        finally:
            connection.close()

    threads = [threading.Thread(target=merge) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results, key=str) == [409, "merged"]
    assert Link.objects.filter(source=a, target=b).count() == 1


def test_the_merge_api(api_as, operator):
    a, b = file("A"), file("B")
    api = api_as(operator)
    response = api.post(f"/api/v1/incidents/{a.number}/merge/", {"into": b.number}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["number"] == b.number
    again = api.post(f"/api/v1/incidents/{a.number}/merge/", {"into": b.number}, format="json")
    assert again.status_code == 409
    assert (
        api.post(
            f"/api/v1/incidents/{b.number}/merge/", {"into": "INC-404404"}, format="json"
        ).status_code
        == 400
    )


def test_a_parent_resolves_its_children_with_one_action(api_as, ops_leader, operator):
    parent = file("Region outage")
    kids = [file(f"Child {n}") for n in range(3)]
    for kid in kids:
        links.link_incidents(parent, kid, kind=LinkKind.PARENT_OF, actor=operator)
    Incident.objects.filter(pk=kids[2].pk).update(state="closed")  # resolved before
    response = api_as(ops_leader).post(
        f"/api/v1/incidents/{parent.number}/resolve-children/",
        {"summary": "Region failed over"},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert sorted(response.json()["resolved"]) == sorted(k.number for k in kids[:2])
    for kid in kids[:2]:
        kid.refresh_from_db()
        assert (kid.state, kid.resolution_summary) == ("closed", "Region failed over")
        assert kid.recovered_at is not None
    again = api_as(ops_leader).post(
        f"/api/v1/incidents/{parent.number}/resolve-children/", {}, format="json"
    )
    assert again.status_code == 400


def test_a_child_cannot_be_resolved_on_its_own_through_the_generic_transition(api_as, ops_leader):
    child = file("Child")
    response = api_as(ops_leader).post(
        f"/api/v1/incidents/{child.number}/transitions/resolve_with_parent/", {}, format="json"
    )
    assert response.status_code in (400, 404, 409)
    child.refresh_from_db()
    assert child.state != "closed"

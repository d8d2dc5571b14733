"""The audit trail: every transition is recorded, and nothing can rewrite it (DESIGN.md §3)."""

import pytest
from django.contrib.admin.sites import site
from django.db.models import ProtectedError
from django.test import RequestFactory

from itsm.core import workflow
from itsm.core.audit import events_for, record_event
from itsm.core.models import AuditEvent
from tests.testapp.models import Ticket

pytestmark = pytest.mark.django_db


@pytest.fixture
def ticket():
    return Ticket.objects.create(title="Renew certificate", rollback_plan="restore the old one")


@pytest.fixture
def event(ticket, operator):
    workflow.apply_transition(ticket, "submit", actor=operator, comment="ready for review")
    return AuditEvent.objects.for_object(ticket).get()


def test_transition_by_a_user_writes_one_event_with_who_what_when(ticket, operator):
    workflow.apply_transition(ticket, "submit", actor=operator, comment="ready for review")
    [event] = events_for(ticket)
    assert event.actor == operator
    assert event.action == "submit"
    assert (event.from_state, event.to_state) == ("draft", "submitted")
    assert event.comment == "ready for review"
    assert event.object_repr == ticket.number
    assert event.target == ticket
    assert event.at is not None


def test_transition_by_the_clock_names_the_system_actor(ticket):
    workflow.apply_transition(ticket, "submit", actor=None, system_label="SLA clock")
    [event] = events_for(ticket)
    assert event.actor is None
    assert event.who == "SLA clock"


def test_refused_transition_writes_no_event(ticket, operator):
    with pytest.raises(workflow.TransitionNotAllowed):
        workflow.apply_transition(ticket, "approve", actor=operator)
    assert not events_for(ticket).exists()


def test_record_event_for_an_edit_that_matters(ticket, ops_leader):
    record_event(ticket, action="priority_override", actor=ops_leader, data={"from": 3, "to": 1})
    [event] = events_for(ticket)
    assert event.data == {"from": 3, "to": 1}
    assert event.from_state == event.to_state == ""


def test_saved_event_cannot_be_edited(event):
    event.comment = "nothing happened"
    with pytest.raises(PermissionError):
        event.save()
    event.refresh_from_db()
    assert event.comment == "ready for review"


def test_event_cannot_be_deleted(event):
    with pytest.raises(PermissionError):
        event.delete()
    assert AuditEvent.objects.filter(pk=event.pk).exists()


@pytest.mark.parametrize(
    "operation",
    [
        lambda qs: qs.update(comment="rewritten"),
        lambda qs: qs.delete(),
        lambda qs: qs.filter(action="submit").update(action="approve"),
        lambda qs: qs.filter(action="submit").delete(),
    ],
    ids=["update-all", "delete-all", "update-filtered", "delete-filtered"],
)
def test_queryset_bulk_writes_are_refused(event, operation):
    with pytest.raises(PermissionError):
        operation(AuditEvent.objects.all())
    event.refresh_from_db()
    assert (event.action, event.comment) == ("submit", "ready for review")


def test_deleting_the_actor_is_refused_so_events_keep_their_author(event, operator):
    with pytest.raises(ProtectedError):
        operator.delete()


def test_admin_offers_no_add_change_or_delete(event, admin_user):
    request = RequestFactory().get("/admin/")
    request.user = admin_user
    model_admin = site._registry[AuditEvent]
    assert model_admin.has_view_permission(request, event)
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request, event)
    assert not model_admin.has_delete_permission(request, event)


def test_admin_delete_and_change_posts_are_refused(client, event, admin_user):
    client.force_login(admin_user)
    base = f"/admin/core/auditevent/{event.pk}"
    assert client.post(f"{base}/delete/", {"post": "yes"}).status_code == 403
    response = client.post(f"{base}/change/", {"comment": "rewritten", "action": "approve"})
    assert response.status_code == 403
    bulk = client.post(
        "/admin/core/auditevent/",
        {"action": "delete_selected", "_selected_action": [event.pk], "post": "yes"},
    )
    assert bulk.status_code in (200, 302, 403)
    event.refresh_from_db()
    assert event.comment == "ready for review"
    assert AuditEvent.objects.filter(pk=event.pk).exists()

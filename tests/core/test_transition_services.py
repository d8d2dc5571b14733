"""Every transition is applied through the service its app declares (issue 15): no silent
fallback to the bare transition, and no hidden receivers doing a use case's work."""

from __future__ import annotations

import pytest
from django.core import checks
from django_fsm.signals import post_transition

from incidents import services as incident_services
from incidents.models import Incident
from itsm.core import workflow
from itsm.core.checks import transitions_declared
from tests.testapp.models import Ticket


def test_the_project_declares_every_transition():
    errors = [e for e in checks.run_checks(tags=[checks.Tags.models]) if e.id == "workflow.E001"]
    assert errors == []


def test_an_undeclared_transition_is_an_error_at_startup(monkeypatch):
    monkeypatch.delitem(workflow._SERVICES, (Ticket, "approve"))
    errors = transitions_declared()
    assert [e.id for e in errors] == ["workflow.E001"]
    assert "“approve”" in errors[0].msg and "testapp.Ticket" in errors[0].msg
    assert errors[0].obj is Ticket


@pytest.mark.django_db
def test_performing_an_undeclared_transition_raises_instead_of_skipping_its_use_case(
    monkeypatch, operator
):
    ticket = Ticket.objects.create(title="Upgrade DB", rollback_plan="restore", risk=1)
    monkeypatch.delitem(workflow._SERVICES, (Ticket, "submit"))
    with pytest.raises(workflow.UndeclaredTransition, match="submit"):
        workflow.perform(ticket, "submit", actor=operator)
    ticket.refresh_from_db()
    assert ticket.state == "draft"


@pytest.mark.django_db
def test_a_name_that_is_no_transition_is_refused_as_such(operator):
    ticket = Ticket.objects.create(title="Upgrade DB", rollback_plan="restore", risk=1)
    with pytest.raises(workflow.TransitionNotAllowed):
        workflow.perform(ticket, "explode", actor=operator)


def test_a_table_naming_an_unknown_transition_is_refused():
    with pytest.raises(workflow.UndeclaredTransition, match="explode"):
        workflow.register({Ticket: {"explode": workflow.PLAIN}})


def test_every_incident_transition_goes_through_the_incident_services():
    """The clock and the timeline follow a state change only through incidents.services."""
    for name in workflow.transition_names(Incident):
        service = workflow._SERVICES[(Incident, name)]
        assert callable(service), name
        assert service.__module__ == incident_services.__name__, name


def test_only_the_audit_trail_listens_to_transitions():
    uids = [key[0] for key, *_rest in post_transition.receivers]
    assert uids == ["core.audit_transition"]

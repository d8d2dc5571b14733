"""§8.2 復旧作業 vs 修正作業 from the change side: a change linked to an incident as *fixed by*
records the incident's fix when it closes successfully (issue 18 part 3)."""

import pytest

from changes import services
from changes.choices import IncidentRelation
from changes.models import RollbackCriterion
from incidents import services as incident_services
from incidents.choices import FixStatus
from incidents.models import FixFollowUp, Incident

from .factories import ChangeRequestFactory
from .test_failure_incident import _now, walk  # noqa: F401  (the frozen instant is autouse)

pytestmark = pytest.mark.django_db


def _close_successfully(change, actor):
    checks = {c.code: False for c in RollbackCriterion.objects.filter(is_active=True)}
    services.verify_change(change, actor=actor, checks=checks)
    return services.close_change(change, actor=actor, data={"result_report": "patched"})


@pytest.fixture
def incident(db):
    return incident_services.open_incident(title="Checkout 500", source="monitoring", priority="P3")


def test_a_fixed_by_change_records_the_fix_when_it_closes(incident, operator, ops_manager):
    change = walk(ChangeRequestFactory(requester=operator), ops_manager, "verifying")
    FixFollowUp.objects.create(incident=incident, title="fix it")  # as after a workaround close
    services.link_incident(change, incident, relation=IncidentRelation.FIXED_BY, actor=operator)
    assert Incident.objects.get(pk=incident.pk).fixed_at is None  # not fixed before it lands
    _close_successfully(change, operator)
    incident.refresh_from_db()
    assert incident.fixed_at == change.closed_at
    assert (incident.fix_change, incident.fix_status) == (change.number, FixStatus.FIXED)
    assert FixFollowUp.objects.get().done_at == change.closed_at


def test_linking_a_change_already_closed_records_the_fix_at_once(incident, operator, ops_manager):
    change = _close_successfully(
        walk(ChangeRequestFactory(requester=operator), ops_manager, "verifying"), operator
    )
    services.link_incident(change, incident, relation=IncidentRelation.FIXED_BY, actor=operator)
    incident.refresh_from_db()
    assert incident.fixed_at == change.closed_at and incident.fix_change == change.number


def test_a_caused_by_link_records_no_fix(incident, operator, ops_manager):
    change = walk(ChangeRequestFactory(requester=operator), ops_manager, "verifying")
    services.link_incident(change, incident, relation=IncidentRelation.CAUSED_BY, actor=operator)
    _close_successfully(change, operator)
    assert Incident.objects.get(pk=incident.pk).fixed_at is None

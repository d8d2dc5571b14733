"""Every role × every incident and postmortem transition, through the API and the HTML panel
(STYLE.md §8, DESIGN.md "Reliability and security").

§8.2: operators and the ops ladder triage and work incidents; developers (L4, the escalation
target) join the response but neither triage, close nor reopen; a P1/P2 (urgent track) incident
is closed by an ops leader or above. §8.3.4: responders write and submit the postmortem, ops
leaders and above send it back or publish it. Executives and CAB members only read.
"""

import pytest

from incidents.models import Incident, Postmortem
from incidents.services import close_incident, save_whys, update_postmortem

from ..matrix import CHANNELS, N, Y, assert_outcome, case_id, cases, declared, persona

pytestmark = pytest.mark.django_db

# (transition, from state, priority)          op  lead mgr  dev  exec cab  admin
INCIDENT = {
    ("triage", "detected", ""):                 (Y,  Y,   Y,   N,   N,   N,   Y),
    ("start_response", "triaged", "P3"):        (Y,  Y,   Y,   Y,   N,   N,   Y),
    ("start_recovery", "investigating", "P3"):  (Y,  Y,   Y,   Y,   N,   N,   Y),
    ("verify", "recovering", "P3"):             (Y,  Y,   Y,   Y,   N,   N,   Y),
    ("reject_fix", "verifying", "P3"):          (Y,  Y,   Y,   Y,   N,   N,   Y),
    ("close", "verifying", "P3"):               (Y,  Y,   Y,   N,   N,   N,   Y),
    ("close", "verifying", "P1"):               (N,  Y,   Y,   N,   N,   N,   Y),
    ("reopen", "closed", "P3"):                 (Y,  Y,   Y,   N,   N,   N,   Y),
    # Only the monitoring intake records a recovery nobody responded to (issue 13).
    ("auto_recover", "triaged", "P3"):          (N,  N,   N,   N,   N,   N,   N),
    ("auto_recover", "investigating", "P3"):    (N,  N,   N,   N,   N,   N,   N),
    ("auto_recover", "recovering", "P3"):       (N,  N,   N,   N,   N,   N,   N),
    ("alerts_refire", "verifying", "P3"):       (N,  N,   N,   N,   N,   N,   N),
    # Only a merge or the parent's "resolve children" close these (issue 18, incidents.merging).
    **{
        (name, state, "P3"): (N, N, N, N, N, N, N)
        for name in ("close_as_duplicate", "resolve_with_parent")
        for state in ("detected", "triaged", "investigating", "recovering", "verifying")
    },
}  # fmt: skip

# (transition, from state)                    op  lead mgr  dev  exec cab  admin
POSTMORTEM = {
    ("submit_for_review", "draft"):             (Y,  Y,   Y,   Y,   N,   N,   Y),
    ("send_back", "in_review"):                 (N,  Y,   Y,   N,   N,   N,   Y),
    ("publish", "in_review"):                   (N,  Y,   Y,   N,   N,   N,   Y),
}  # fmt: skip

# What the person types with the transition (the fields its form asks for).
DATA = {
    "triage": {"impact_scope": "some_users", "business_impact": "minor", "urgency": "immediate"},
    "close": {"resolution_summary": "Restarted the connection pool"},
}


def test_the_incident_matrix_covers_every_transition():
    assert {(name, source) for name, source, _priority in INCIDENT} == declared(Incident)


def test_the_postmortem_matrix_covers_every_transition():
    assert set(POSTMORTEM) == declared(Postmortem)


@pytest.mark.parametrize("channel", CHANNELS)
@pytest.mark.parametrize(("row", "role", "allowed"), cases(INCIDENT), ids=case_id)
def test_incident_transition_is_allowed_exactly_where_the_matrix_says(
    channel, row, role, allowed, incident_in, api_as, client
):
    name, source, priority = row
    incident = incident_in(source, **({"priority": priority} if priority else {}))
    assert_outcome(
        channel,
        record=incident,
        name=name,
        allowed=allowed,
        api_as=api_as,
        client=client,
        user=persona(role),
        resource="incidents",
        comment="matrix",
        data=DATA.get(name, {}),
    )


@pytest.fixture
def postmortem_in(incident_in, make_user):
    """A P1's mandatory postmortem, complete enough to submit, in ``state``."""
    from itsm.core import workflow

    def make(state):
        incident = close_incident(
            incident_in("verifying", priority="P1"), actor=None, resolution_summary="Failover"
        )
        pm = incident.postmortem
        author = make_user("operator", username="author")
        update_postmortem(
            pm,
            actor=author,
            summary="Checkout failed for 20 minutes",
            root_cause="Pool sizing is manual",
            prevention_measures="Autosize the pool",
        )
        save_whys(pm, actor=author, rows=[{"why": "Why 500s?", "because": "Pool exhausted"}])
        if state == "in_review":
            workflow.apply_transition(pm, "submit_for_review", actor=None, comment="setup")
        pm.refresh_from_db()
        assert pm.state == state
        return pm

    return make


@pytest.mark.parametrize("channel", CHANNELS)
@pytest.mark.parametrize(("row", "role", "allowed"), cases(POSTMORTEM), ids=case_id)
def test_postmortem_transition_is_allowed_exactly_where_the_matrix_says(
    channel, row, role, allowed, postmortem_in, api_as, client
):
    name, source = row
    assert_outcome(
        channel,
        record=postmortem_in(source),
        name=name,
        allowed=allowed,
        api_as=api_as,
        client=client,
        user=persona(role),
        resource="postmortems",
        comment="matrix",
        data={},
    )


# The light review of a closed P3/P4 incident (§8.2 レビュー), completed from its form on the
# incident page: the assignee (here nobody is assigned, so nobody by that right) or an ops leader
# and above.
# (transition, from state)                    op  lead mgr  dev  exec cab  admin
REVIEW = {
    ("complete", "pending"):                    (N,  Y,   Y,   N,   N,   N,   Y),
}  # fmt: skip


def test_the_review_matrix_covers_every_transition():
    from incidents.models import IncidentReview

    assert set(REVIEW) == declared(IncidentReview)


@pytest.mark.parametrize(("row", "role", "allowed"), cases(REVIEW), ids=case_id)
def test_review_completion_is_allowed_exactly_where_the_matrix_says(
    row, role, allowed, incident_in, client
):
    incident = close_incident(
        incident_in("verifying", priority="P3"), actor=None, resolution_summary="Restarted"
    )
    review = incident.review
    assert review.state == row[1]
    client.force_login(persona(role))
    response = client.post(
        f"/incidents/{incident.number}/review/",
        {
            "action": "complete",
            "checked": [str(pk) for pk in review.items.values_list("pk", flat=True)],
            "comment": "Runbook updated",
        },
    )
    review.refresh_from_db()
    if allowed:
        assert response.status_code == 302 and review.state == "done"
    else:
        assert response.status_code == 403 and review.state == "pending"

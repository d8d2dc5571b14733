"""Issue 20, budget 2: opening an incident through the API or the form costs a fixed number of
queries, whatever the number of team members, escalation levels and triage rules.

The pages and notifications of the reporting flow (``incidents.paging.page_level`` and
``itsm.core.notifications.notify``, one notification row per person paged) are counted apart:
they are the part that still grows with the team. Everything else is asserted constant and
under ``OPENING_QUERIES``.
"""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from incidents import paging
from incidents.models import EscalationLevel, Incident, TriageRule
from itsm.core.models import Team
from tests.factories import ServiceFactory, UserFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/incidents/"
# Without the pages (before issue 20: 48 / 43 / 19). A P1 through the API: the token, the
# permissions (2), the service, the number, the incident, the "open" audit event, the filed
# timeline entry (one INSERT, with the clock note when there is one), the role check of triage,
# the transition's savepoint (2), its audit event, the row lock and the clock lookup of
# escalation.follow_transition, the clock (one INSERT), the report:L2 step (savepoint, INSERT,
# release, timeline entry, notified count), the step keys, the triage UPDATE, the transition
# and priority timeline entries, the report:L1 step (5 again) and the response's postmortem
# lookup. A P3 has no report:L2 step; the form opens an untriaged incident (report:L1 only).
# The pages and their notifications (paging.page_level) cost 52 queries more for a P1 with two
# people on each of the first two rungs, 8 more per person (measured, not asserted here).
OPENING_QUERIES = {"P1": 30, "P3": 25, "form": 16}
TRIAGE = {
    "P1": {"impact_scope": "all_users", "business_impact": "revenue_loss", "urgency": "immediate"},
    "P3": {"impact_scope": "some_users", "business_impact": "minor", "urgency": "immediate"},
}


def _configure(*, members: int = 2, levels: int = 5, rules: int = 9) -> None:
    """Teams on the ladder's first two rungs with ``members`` people each, both policies cut to
    ``levels`` chain levels, the triage matrix cut to ``rules`` cells (the rest: defaults)."""
    for rung in (1, 2):
        team = Team.objects.create(name=f"Rung {rung}", slug=f"rung-{rung}", escalation_level=rung)
        for _ in range(members):
            team.members.add(UserFactory())
    for level in EscalationLevel.objects.filter(level__gt=levels):
        level.delete()
    for cell in TriageRule.objects.order_by("id")[rules:]:
        cell.delete()


class _Rollback(Exception):
    pass


def _cost(open_one, monkeypatch, **sizes) -> dict:
    """The queries of ``open_one()`` in the configuration ``sizes`` (rolled back after)."""
    inside = []
    original = paging.page_level

    def page_level(*args, **kwargs):
        before = len(connection.queries_log)
        try:
            return original(*args, **kwargs)
        finally:
            inside.append(len(connection.queries_log) - before)

    try:
        with transaction.atomic():
            _configure(**sizes)
            open_one()  # warm-up: the configuration is read once per process
            monkeypatch.setattr(paging, "page_level", page_level)
            with CaptureQueriesContext(connection) as queries:
                open_one()
            monkeypatch.setattr(paging, "page_level", original)
            raise _Rollback
    except _Rollback:
        pass
    sql = [q["sql"] for q in queries]
    return {"opening": len(sql) - sum(inside), "paging": sum(inside), "sql": sql}


@pytest.mark.parametrize("priority", ["P1", "P3"])
@pytest.mark.parametrize(
    ("small", "large"),
    [
        ({"members": 2}, {"members": 10}),
        ({"levels": 2}, {"levels": 5}),
        ({"rules": 1}, {"rules": 9}),
    ],
    ids=["members", "levels", "rules"],
)
def test_api_opening_costs_the_same_whatever_the_configuration(
    api_as, operator, monkeypatch, priority, small, large
):
    ServiceFactory(slug="web-shop")
    api = api_as(operator)
    body = {"title": "Checkout down", "source": "user_report", "service": "web-shop"}

    def open_one():
        response = api.post(URL, body | TRIAGE[priority])
        assert response.status_code == 201, response.json()
        assert response.json()["priority"] == priority

    costs = [_cost(open_one, monkeypatch, **sizes) for sizes in (small, large)]
    for cost in costs:
        assert cost["opening"] <= OPENING_QUERIES[priority], cost["sql"]
    assert costs[0]["opening"] == costs[1]["opening"], costs


@pytest.mark.parametrize(("small", "large"), [({"members": 2}, {"members": 10})])
def test_form_opening_costs_the_same_whatever_the_team(client, operator, monkeypatch, small, large):
    client.force_login(operator)
    url = reverse("incidents:create")

    def open_one():
        response = client.post(url, {"title": "Odd banner", "source": "user_report"})
        assert response.status_code == 302
        assert Incident.objects.filter(title="Odd banner").exists()

    costs = [_cost(open_one, monkeypatch, **sizes) for sizes in (small, large)]
    for cost in costs:
        assert cost["opening"] <= OPENING_QUERIES["form"], cost["sql"]
    assert costs[0]["opening"] == costs[1]["opening"], costs

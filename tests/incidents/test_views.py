"""HTML screens: list, triage queue and preview, create form, detail, postmortem editor."""

import pytest
from django.urls import reverse

from incidents import services
from incidents.models import Incident, Runbook
from itsm.core.roles import Role

pytestmark = pytest.mark.django_db


@pytest.fixture
def op_client(client, operator):
    client.force_login(operator)
    return client


def test_list_requires_login(client):
    response = client.get(reverse("incidents:list"))
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_list_without_view_permission_is_403(client, make_user):
    client.force_login(make_user(None, username="nobody"))
    assert client.get(reverse("incidents:list")).status_code == 403


def test_list_shows_open_incidents_by_deadline_with_filters(
    op_client, open_incident, django_assert_max_num_queries
):
    p3 = open_incident(title="Search slow", priority="P3", source="monitoring")
    p1 = open_incident(title="Shop down", priority="P1", source="monitoring")
    untriaged = open_incident(title="Banner typo")
    for n in range(20):
        open_incident(title=f"noise {n}", priority="P4", source="monitoring")
    with django_assert_max_num_queries(12):
        response = op_client.get(reverse("incidents:list"))
    body = response.content.decode()
    # untriaged first, then the nearest response deadline (P1 before P3)
    assert body.index(untriaged.number) < body.index(p1.number) < body.index(p3.number)
    assert 'class="badge text-bg-danger" data-priority="P1"' in body
    assert "countdown" in body
    filtered = op_client.get(reverse("incidents:list"), {"priority": "P1"}).content.decode()
    assert p1.number in filtered and p3.number not in filtered
    searched = op_client.get(reverse("incidents:list"), {"q": "Search slow"}).content.decode()
    assert p3.number in searched and p1.number not in searched


def test_list_bad_filter_value_shows_message_not_500(op_client):
    response = op_client.get(reverse("incidents:list"), {"priority": "P9", "page": "abc"})
    assert response.status_code == 200
    assert "P9" in response.content.decode()


def test_create_form_files_and_goes_to_triage(op_client):
    response = op_client.post(
        reverse("incidents:create"), {"title": "Payments failing", "source": "user_report"}
    )
    incident = Incident.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("incidents:triage", args=[incident.number])


def test_create_form_errors_are_400(op_client):
    response = op_client.post(reverse("incidents:create"), {"title": "", "source": "pager"})
    assert response.status_code == 400
    assert Incident.objects.count() == 0


def test_executive_cannot_open_create_form(client, make_user):
    client.force_login(make_user(Role.EXECUTIVE, username="exe"))
    assert client.get(reverse("incidents:create")).status_code == 403


def test_triage_queue_lists_only_untriaged(op_client, open_incident):
    waiting = open_incident(title="Waiting")
    done = open_incident(title="Done", priority="P2", source="monitoring")
    body = op_client.get(reverse("incidents:triage_queue")).content.decode()
    assert waiting.number in body and done.number not in body


def test_priority_preview_partial(op_client):
    url = reverse("incidents:priority_preview")
    body = op_client.get(
        url,
        {"impact_scope": "all_users", "business_impact": "revenue_loss", "urgency": "immediate"},
    ).content.decode()
    assert 'data-testid="preview-priority">P1<' in body
    planned = op_client.get(
        url, {"impact_scope": "all_users", "business_impact": "revenue_loss", "urgency": "planned"}
    ).content.decode()
    assert ">P2<" in planned
    incomplete = op_client.get(url, {"impact_scope": "bogus"})
    assert incomplete.status_code == 200
    assert "P1" not in incomplete.content.decode()


def test_triage_screen_triages_and_refuses_missing_inputs(op_client, open_incident, operator):
    incident = open_incident()
    url = reverse("incidents:triage", args=[incident.number])
    assert op_client.post(url, {"impact_scope": "all_users"}).status_code == 400
    response = op_client.post(
        url,
        {"impact_scope": "all_users", "business_impact": "minor", "urgency": "immediate"},
    )
    assert response.status_code == 302
    incident.refresh_from_db()
    assert (incident.state, incident.priority) == ("triaged", "P2")
    # already triaged: the screen sends you to the incident
    assert op_client.get(url).status_code == 302


def test_detail_page_shows_timeline_runbook_and_transitions(op_client, open_incident, operator):
    incident = open_incident(priority="P1", source="monitoring")
    services.attach_runbook(incident, actor=operator, runbook=Runbook.objects.get())
    services.add_timeline_entry(incident, actor=operator, text="Looking at <b>db</b>")
    body = op_client.get(incident.get_absolute_url()).content.decode()
    assert 'data-transition="start_response"' in body
    assert "Looking at &lt;b&gt;db&lt;/b&gt;" in body  # user text is escaped
    assert "bi-square" in body  # unticked runbook steps
    # operators cannot override the priority, so the form is not offered
    assert reverse("incidents:override", args=[incident.number]) not in body


def test_timeline_post_via_htmx_returns_partial(op_client, open_incident):
    incident = open_incident()
    url = reverse("incidents:timeline_add", args=[incident.number])
    response = op_client.post(
        url, {"text": "Failover started", "kind": "status_update"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    assert "Failover started" in response.content.decode()
    empty = op_client.post(url, {"text": ""}, HTTP_HX_REQUEST="true")
    assert empty.status_code == 400


def test_checklist_toggle_records_who(op_client, open_incident, operator):
    incident = open_incident()
    attached = services.attach_runbook(incident, actor=operator, runbook=Runbook.objects.get())
    item = attached.items.first()
    url = reverse("incidents:checklist_toggle", args=[incident.number, item.pk])
    response = op_client.post(url, {"done": "1"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    item.refresh_from_db()
    assert item.done_by == operator
    other = open_incident()
    wrong = reverse("incidents:checklist_toggle", args=[other.number, item.pk])
    assert op_client.post(wrong, {"done": "1"}).status_code == 404


def test_override_priority_form_needs_leader(client, operator, ops_leader, open_incident):
    incident = open_incident(priority="P4", source="monitoring")
    url = reverse("incidents:override", args=[incident.number])
    client.force_login(operator)
    client.post(url, {"priority": "P1", "reason": "VIP"})
    incident.refresh_from_db()
    assert incident.priority == "P4"
    client.force_login(ops_leader)
    client.post(url, {"priority": "P1", "reason": ""})
    incident.refresh_from_db()
    assert incident.priority == "P4"
    client.post(url, {"priority": "P1", "reason": "VIP"})
    incident.refresh_from_db()
    assert incident.priority == "P1"


def test_generic_transition_view_closes_and_opens_postmortem(client, ops_leader, incident_in):
    incident = incident_in("verifying", priority="P1")
    client.force_login(ops_leader)
    url = reverse("core:transition", args=["incidents", "incident", incident.pk])
    client.post(url, {"transition": "close", "resolution_summary": "Restarted"})
    incident.refresh_from_db()
    assert incident.state == "closed"
    assert incident.postmortem.mandatory


def test_close_button_is_usable_before_the_summary_exists_and_refuses_an_empty_one(
    client, ops_leader, incident_in
):
    """The close form carries the resolution summary its guard asks for, so its button is not
    disabled by that guard (the hint stays); an empty summary is refused with the guard's text."""
    incident = incident_in("verifying", priority="P1")
    client.force_login(ops_leader)
    body = client.get(incident.get_absolute_url()).content.decode()
    close_form = body[body.index('data-transition="close"') :].split("</form>")[0]
    assert 'name="resolution_summary"' in close_form
    assert "disabled" not in close_form
    assert 'data-guard="has_resolution_summary"' in close_form
    url = reverse("core:transition", args=["incidents", "incident", incident.pk])
    response = client.post(url, {"transition": "close", "resolution_summary": "  "}, follow=True)
    incident.refresh_from_db()
    assert incident.state == "verifying"
    page = response.content.decode()
    alerts = page[page.index('class="messages"') :].split("</div>\n</div>")[0]
    assert "alert-danger" in alerts
    assert "クローズ前に対応結果の要約が必要です。" in alerts  # the guard's message (ja UI)


def test_postmortem_editor_saves_whys_and_action_items(client, ops_leader, incident_in):
    incident = incident_in("verifying", priority="P2")
    services.close_incident(incident, actor=ops_leader, resolution_summary="Restarted")
    pm = incident.postmortem
    client.force_login(ops_leader)
    url = reverse("incidents:postmortem", args=[pm.number])
    assert client.get(url).status_code == 200
    response = client.post(
        url,
        {
            "summary": "Checkout down 20 min",
            "impact": "All users",
            "root_cause": "Pool exhausted",
            "prevention_measures": "Autoscale pool",
            "owner": ops_leader.pk,
            "due_at": "2026-12-01T10:00",
            "why": ["Why down?", "", "Why exhausted?"],
            "because": ["Pool exhausted", "", "No limit alert"],
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert list(pm.whys.values_list("because", flat=True)) == ["Pool exhausted", "No limit alert"]
    bad = client.post(url, {"summary": "x", "due_at": "tomorrow", "why": [], "because": []})
    assert bad.status_code == 400
    add = reverse("incidents:action_item_add", args=[pm.number])
    client.post(add, {"title": "Add alert", "owner": ops_leader.pk, "due_date": "2026-12-10"})
    client.post(add, {"title": "", "due_date": "soon"})
    assert pm.action_items.count() == 1
    item = pm.action_items.get()
    client.post(reverse("incidents:action_item_toggle", args=[pm.number, item.pk]), {"done": "1"})
    item.refresh_from_db()
    assert item.done


def test_postmortem_list_and_overdue(op_client):
    assert op_client.get(reverse("incidents:postmortems")).status_code == 200
    assert op_client.get(reverse("incidents:postmortems"), {"overdue": "1"}).status_code == 200


def test_my_open_items_selector(operator, incident_in, ops_leader):
    from incidents.selectors import my_open_items, my_queue

    mine = incident_in("investigating", priority="P2")
    services.assign_incident(mine, actor=ops_leader, assignee=operator)
    closed = incident_in("verifying", priority="P1")
    services.assign_incident(closed, actor=ops_leader, assignee=operator)
    services.close_incident(closed, actor=ops_leader, resolution_summary="ok")
    services.add_action_item(closed.postmortem, actor=ops_leader, title="Fix", owner=operator)
    items = my_queue(operator)
    assert [i.number for i in items["incidents"]] == [mine.number]
    assert [a.title for a in items["action_items"]] == ["Fix"]
    assert [p.number for p in items["postmortems"]] == [closed.postmortem.number]
    # The home page card lists the incident, the postmortem owed and the action item.
    numbers = [item["number"] for item in my_open_items(operator)]
    assert numbers == [mine.number, closed.postmortem.number, closed.postmortem.number]


def test_list_filters_by_detection_period_like_the_dashboard_links(op_client):
    from datetime import timedelta

    from django.utils import timezone

    from tests.incidents.factories import IncidentFactory

    now = timezone.now()
    old = IncidentFactory(title="old outage", detected_at=now - timedelta(days=40))
    recent = IncidentFactory(title="recent outage", detected_at=now - timedelta(days=2))
    response = op_client.get(
        reverse("incidents:list"),
        {
            "detected_after": (now - timedelta(days=30)).isoformat(),
            "detected_before": now.isoformat(),
        },
    )
    body = response.content.decode()
    assert recent.number in body
    assert old.number not in body


# --------------------------------------------------------------------------- query counts
# Issue 3 §9: the pages cost the same number of queries with 1 or 30 incidents (no N+1), each
# row with its own service, team, assignee, escalation level and a mix of states.

LIST_QUERIES = 9
TRIAGE_QUEUE_QUERIES = 7
# The detail page's own 23, plus 10 for the communication panel (issue 17): its roles and
# responders, subscribers, updates, the cadence rule and restart, templates, the status page
# opt-in, and the people and teams of its forms. Issue 18: the links panel, the changes and
# deployments panel (2), the root-cause fix panel and the resolution clock panel (the priority's
# resolution target, the holds); each panel's render repeats the header's unread-notification
# count (incidents/templatetags/incident_panels.py).
DETAIL_QUERIES = 44


def populate(count: int, actor) -> list[Incident]:
    """``count`` incidents, each with a distinct service, team and assignee; every third one
    untriaged, every fourth one investigating, every fifth one escalated to L2."""
    from datetime import timedelta

    from django.utils import timezone

    from tests.factories import ServiceFactory, TeamFactory, UserFactory

    from .conftest import advance

    made = []
    for i in range(count):
        priority = "" if i % 3 == 2 else ["P1", "P2", "P3", "P4"][i % 4]
        incident = services.open_incident(
            title=f"Load incident {i}",
            source="monitoring",
            priority=priority or None,
            service=ServiceFactory(),
        )
        services.assign_incident(incident, actor=actor, assignee=UserFactory(), team=TeamFactory())
        if priority and i % 4 == 1:
            advance(incident, "start_response")
        if i % 5 == 0:
            Incident.objects.filter(pk=incident.pk).update(
                escalation_level=2, next_deadline_at=timezone.now() + timedelta(minutes=9)
            )
        made.append(incident)
    return made


@pytest.mark.parametrize("count", [1, 30])
def test_list_query_count_does_not_grow_with_rows(
    client, ops_leader, count, django_assert_max_num_queries
):
    populate(count, ops_leader)
    client.force_login(ops_leader)
    for params in ({}, {"priority": ["P1", "P2"], "state": "triaged", "q": "Load"}):
        with django_assert_max_num_queries(LIST_QUERIES):
            response = client.get(reverse("incidents:list"), params)
        assert response.status_code == 200
    assert response.content.decode().count('data-number="INC-') >= 1


@pytest.mark.parametrize("count", [1, 30])
def test_triage_queue_query_count_does_not_grow_with_rows(
    client, ops_leader, count, django_assert_max_num_queries
):
    populate(count, ops_leader)
    services.open_incident(title="Waiting for triage", source="user_report")
    client.force_login(ops_leader)
    with django_assert_max_num_queries(TRIAGE_QUEUE_QUERIES):
        response = client.get(reverse("incidents:triage_queue"))
    assert "Waiting for triage" in response.content.decode()


@pytest.mark.parametrize("count", [1, 30])
def test_detail_query_count_does_not_grow_with_timeline_or_checklist(
    client, ops_leader, count, django_assert_max_num_queries
):
    from tests.factories import UserFactory

    (incident,) = populate(1, ops_leader)
    services.attach_runbook(incident, actor=ops_leader, runbook=Runbook.objects.get())
    for i in range(count):
        services.add_timeline_entry(incident, actor=UserFactory(), text=f"update {i}")
    for item in incident.runbooks.get().items.all()[:count]:
        services.set_checklist_item(item, actor=UserFactory(), done=True)
    client.force_login(ops_leader)
    with django_assert_max_num_queries(DETAIL_QUERIES):
        response = client.get(incident.get_absolute_url())
    assert f"update {count - 1}" in response.content.decode()


def test_list_puts_closed_incidents_last_newest_first(client, ops_leader, incident_in):
    older = incident_in("closed", title="Closed first")
    newer = incident_in("closed", title="Closed second")
    working = incident_in("investigating", title="Still open")
    client.force_login(ops_leader)
    every_state = client.get(reverse("incidents:list"), {"open": ""}).content.decode()
    assert every_state.index(working.number) < every_state.index(newer.number)
    assert every_state.index(newer.number) < every_state.index(older.number)
    closed = client.get(reverse("incidents:list"), {"state": "closed"}).content.decode()
    assert closed.index(newer.number) < closed.index(older.number)
    assert working.number not in closed
    # one state of a bucket narrows to it; a mix of buckets still shows all of them
    mixed = client.get(reverse("incidents:list"), {"state": ["closed", "investigating"]})
    assert working.number in mixed.content.decode() and older.number in mixed.content.decode()
    only_closed = client.get(reverse("incidents:list"), {"open": "false"}).content.decode()
    assert newer.number in only_closed and working.number not in only_closed


@pytest.mark.postgres
def test_list_order_is_an_index_walk_on_postgresql(ops_leader):
    """The sort keys of by_response_urgency match the expression index of migration 0006: with
    the alternatives priced out (sequential and bitmap scans, explicit sorts), the plan reads that
    index in order and sorts nothing. (With only seqscan off, a few-row table may legitimately
    get a bitmap scan and a sort, depending on its statistics.)"""
    from django.db import connection

    from incidents import selectors

    populate(3, ops_leader)
    for states in ([], ["closed"]):
        qs = selectors.by_response_urgency(selectors.incidents().open(), states)[:51]
        with connection.cursor() as cursor:
            for setting in ("enable_seqscan", "enable_bitmapscan", "enable_sort"):
                cursor.execute(f"SET LOCAL {setting} = off")
            sql, params = qs.query.sql_with_params()
            cursor.execute(f"EXPLAIN {sql}", params)
            plan = "\n".join(row[0] for row in cursor.fetchall())
        assert "incident_list_urgency" in plan, plan
        assert "Sort" not in plan, plan


def test_triage_preview_counts_from_the_incidents_detection(client, make_user):
    """Issue 14: previewing the triage of an incident detected 40 minutes ago says so, and the
    due time is the one triage will set (from detection), not from now."""
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    import time_machine

    now = datetime(2026, 12, 3, 10, 0, tzinfo=ZoneInfo("Asia/Tokyo"))
    user = make_user(Role.OPERATOR, username="triager", language="en")
    client.force_login(user)
    with time_machine.travel(now - timedelta(minutes=40), tick=False):
        incident = services.open_incident(title="Login slow", source="user_report")
    inputs = {
        "impact_scope": "all_users",
        "business_impact": "revenue_loss",
        "urgency": "immediate",
    }
    url = reverse("incidents:priority_preview")
    with time_machine.travel(now, tick=False):
        existing = client.get(url, {**inputs, "incident": incident.number}).content.decode()
        new = client.get(url, inputs).content.decode()
        page = client.get(reverse("incidents:triage", args=[incident.number])).content.decode()
        client.post(reverse("incidents:triage", args=[incident.number]), inputs)
    incident.refresh_from_db()
    # P1 responds within 15 minutes (24/7): 09:20 + 15 = 09:35, already past at 10:00
    due = incident.response_due_at.astimezone(ZoneInfo("Asia/Tokyo"))
    assert due.strftime("%H:%M") == "09:35"
    assert "Response due by 2026-12-03 09:35 (detected at 09:20)." in existing
    assert "for an incident detected now" not in existing
    assert "Response would be due by 2026-12-03 10:15 for an incident detected now." in new
    assert f'name="incident" value="{incident.number}"' in page

"""§11.4 DR drills: each plan's next drill is due ``drill_interval_months`` after the last one
(or the plan's creation); an overdue drill is listed and notified to the plan's owner once."""

from datetime import date, datetime

import pytest
import time_machine
from django.utils import timezone, translation

from backups import selectors, services, tasks
from backups.choices import DrillResult
from backups.models import DRDrill, DRPlan, DRScenario, add_months
from itsm.core.models import AuditEvent, Notification
from itsm.views import my_work

pytestmark = pytest.mark.django_db

TOKYO = timezone.get_fixed_timezone(9 * 60)


def _at(day: str, hour: int = 10) -> datetime:
    return datetime.fromisoformat(f"{day}T{hour:02d}:00:00").replace(tzinfo=TOKYO)


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


@pytest.fixture
def owner(make_user):
    return make_user("ops_manager", username="dr-owner", email="dr@example.com", language="en")


def _plan(owner=None, months=3, created="2026-08-01", name="Tokyo DC") -> DRPlan:
    plan = DRPlan.objects.create(
        name=name,
        system_rpo_minutes=60,
        system_rto_minutes=240,
        drill_interval_months=months,
        owner=owner,
        created_at=_at(created),
    )
    DRScenario.objects.create(
        plan=plan,
        name=f"{name} down",
        trigger_condition="DC unreachable",
        decision_criteria="no recovery within 1 h",
        target_minutes=120,
    )
    return services.schedule_dr_drill(plan)


def _record(plan, held_on, actor, result=DrillResult.PASSED):
    return services.record_dr_drill(
        plan.scenarios.get(), held_on=held_on, result=result, actor=actor, measured_minutes=90
    )


def test_add_months_clamps_the_day_of_month():
    assert add_months(date(2026, 11, 30), 3) == date(2027, 2, 28)
    assert add_months(date(2027, 11, 30), 3) == date(2028, 2, 29)
    assert add_months(date(2026, 1, 31), 12) == date(2027, 1, 31)


def test_first_drill_is_due_the_interval_after_the_plan_was_created():
    plan = _plan(months=3, created="2026-08-31")
    assert plan.drill_due_on == date(2026, 11, 30)


def test_a_drill_moves_the_due_date_to_the_interval_after_it(owner):
    plan = _plan(owner, months=3, created="2026-08-31")
    with time_machine.travel(_at("2026-12-01"), tick=False):
        _record(plan, date(2026, 11, 30), owner)
    plan.refresh_from_db()
    assert plan.drill_due_on == date(2027, 2, 28)
    assert AuditEvent.objects.filter(
        action="drill_scheduled", object_id=str(plan.pk), data__due_on="2027-02-28"
    ).exists()


def test_the_latest_drill_counts_even_if_recorded_late_and_whatever_its_result(owner):
    plan = _plan(owner, months=6, created="2026-01-15")
    with time_machine.travel(_at("2026-12-01"), tick=False):
        _record(plan, date(2026, 10, 31), owner, result=DrillResult.FAILED)
        _record(plan, date(2026, 4, 10), owner)  # an older drill entered afterwards
    plan.refresh_from_db()
    assert plan.drill_due_on == date(2027, 4, 30)


def test_overdue_drills_are_listed_from_the_day_after_the_due_date(owner):
    plan = _plan(owner, months=3, created="2026-08-31")  # due 2026-11-30
    with time_machine.travel(_at("2026-11-30"), tick=False):
        assert list(selectors.overdue_dr_drills()) == []
        assert not DRPlan.objects.get(pk=plan.pk).drill_overdue
    with time_machine.travel(_at("2026-12-01"), tick=False):
        assert list(selectors.overdue_dr_drills()) == [plan]
        assert DRPlan.objects.get(pk=plan.pk).drill_overdue


def _in_app(user):
    return Notification.objects.filter(recipient=user, channel=Notification.Channel.IN_APP)


def test_an_overdue_drill_is_notified_to_the_owner_once_per_due_date(owner):
    plan = _plan(owner, months=3, created="2026-08-31")  # due 2026-11-30
    with time_machine.travel(_at("2026-11-30", 23), tick=False):
        assert services.notify_overdue_dr_drills() == []
    with time_machine.travel(_at("2026-12-03"), tick=False):
        assert [p.pk for p in services.notify_overdue_dr_drills()] == [plan.pk]
        assert services.notify_overdue_dr_drills() == []
        assert tasks.notify_overdue_dr_drills() == 0
    (note,) = _in_app(owner)
    assert note.title == "The DR drill of Tokyo DC is overdue"
    assert "2026-11-30 (3 days ago" in note.body
    assert note.key == f"backups:dr-drill-overdue:{plan.pk}:2026-11-30"
    assert note.url == f"/backups/dr/#plan-{plan.pk}"
    plan.refresh_from_db()
    assert plan.drill_overdue_notified_on == date(2026, 11, 30)
    # A drill is held late: the next due date lapses in turn and is told again, once.
    with time_machine.travel(_at("2026-12-05"), tick=False):
        _record(plan, date(2026, 12, 5), owner)
    with time_machine.travel(_at("2027-03-06"), tick=False):
        assert [p.pk for p in services.notify_overdue_dr_drills()] == [plan.pk]
        assert services.notify_overdue_dr_drills() == []
    assert _in_app(owner).count() == 2


def test_a_lost_mark_does_not_notify_twice(owner):
    plan = _plan(owner, months=3, created="2026-08-31")
    with time_machine.travel(_at("2026-12-03"), tick=False):
        services.notify_overdue_dr_drills()
        DRPlan.objects.filter(pk=plan.pk).update(drill_overdue_notified_on=None)
        services.notify_overdue_dr_drills()
    assert _in_app(owner).count() == 1


def test_a_plan_without_an_active_owner_waits_for_one(owner):
    plan = _plan(None, months=3, created="2026-08-31")
    with time_machine.travel(_at("2026-12-03"), tick=False):
        assert services.notify_overdue_dr_drills() == []
        plan.owner = owner
        plan.save()
        assert [p.pk for p in services.notify_overdue_dr_drills()] == [plan.pk]


def test_recording_a_drill_through_the_page_moves_the_due_date(client, ops_leader):
    plan = _plan(None, months=12, created="2026-01-10")
    with time_machine.travel(_at("2026-12-03"), tick=False):
        client.force_login(ops_leader)
        response = client.post(
            "/backups/dr/drills/new/",
            {
                "scenario": plan.scenarios.get().pk,
                "held_on": "2026-12-02",
                "result": "passed",
                "measured_minutes": "100",
                "findings": "",
            },
        )
    assert response.status_code == 302
    assert DRPlan.objects.get(pk=plan.pk).drill_due_on == date(2027, 12, 2)


def test_pages_list_the_overdue_drill(client, operator, owner):
    _plan(owner, months=3, created="2026-08-31", name="Osaka DC")
    operator.language = "en"
    operator.save(update_fields=["language"])
    client.force_login(operator)
    with time_machine.travel(_at("2026-12-03"), tick=False):
        dr = client.get("/backups/dr/").content.decode()
        listing = client.get("/backups/").content.decode()
    assert 'data-testid="drill-overdue"' in dr and "2026-11-30" in dr
    assert 'data-testid="overdue-drills"' in listing and "Osaka DC" in listing
    with time_machine.travel(_at("2026-11-30"), tick=False):
        assert 'data-testid="overdue-drills"' not in client.get("/backups/").content.decode()
        assert 'data-testid="drill-overdue"' not in client.get("/backups/dr/").content.decode()


def test_my_work_shows_the_owner_their_overdue_drill(owner, make_user):
    mine = _plan(owner, months=3, created="2026-08-31", name="Mine")
    _plan(make_user("ops_manager", username="other-owner"), created="2026-08-31", name="Theirs")
    with time_machine.travel(_at("2026-12-03"), tick=False):
        (card,) = [c for c in my_work(owner) if c["app"] == "backups"]
    titles = [i.title for i in card["items"]]
    assert titles == ["Mine"]
    (item,) = card["items"]
    assert item.url == mine.get_absolute_url() and item.overdue
    assert item.due.date() == date(2026, 11, 30)


def test_the_dashboard_counts_overdue_drills(owner):
    _plan(owner, months=3, created="2026-08-31")
    now = _at("2026-12-03")
    since = _at("2026-11-01")
    assert selectors.backup_metrics(since=since, until=now, now=now)["overdue_dr_drills_now"] == 1
    earlier = _at("2026-11-30")
    assert (
        selectors.backup_metrics(since=since, until=earlier, now=earlier)["overdue_dr_drills_now"]
        == 0
    )


def test_drills_recorded_in_the_admin_move_the_due_date(client, admin_user):
    plan = _plan(None, months=3, created="2026-08-31")
    client.force_login(admin_user)
    with time_machine.travel(_at("2026-12-03"), tick=False):
        response = client.post(
            "/admin/backups/drdrill/add/",
            {
                "scenario": plan.scenarios.get().pk,
                "held_on": "2026-12-01",
                "result": "passed",
                "measured_minutes": "80",
                "findings": "",
            },
        )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert DRDrill.objects.filter(scenario__plan=plan).count() == 1
    assert DRPlan.objects.get(pk=plan.pk).drill_due_on == date(2027, 3, 1)

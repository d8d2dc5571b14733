"""``seed_demo`` seeds every demo state the dashboard needs at any moment (issue 13).

Demo data is planned from the business calendar, so the demo must seed — twice, idempotently —
on each weekday morning, mid-afternoon and a second before closing, on a weekend, the day before
a holiday, as the year-end closure starts, in Golden Week and at the last second of a month.
Nothing a rule refuses may be silently left out.
"""

from __future__ import annotations

import io
import logging
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.core.management import call_command

from backups.models import BackupJob, RestoreTest
from changes.models import Approval, ChangeRequest
from incidents.models import EscalationStep, Incident, Postmortem
from releases.models import Deployment, Release, ReleaseSlot

pytestmark = pytest.mark.django_db

JST = ZoneInfo("Asia/Tokyo")


def jst(*args) -> datetime:
    return datetime(*args, tzinfo=JST)


# Monday 2026-12-07 … Friday 2026-12-11 has no holiday.
WEEK = [(2026, 12, day) for day in range(7, 12)]
MOMENTS = [
    *(jst(*day, *hms) for day in WEEK for hms in ((9, 0, 0), (15, 23, 58), (17, 59, 59))),
    jst(2026, 12, 12, 15, 23, 58),  # Saturday
    jst(2026, 12, 13, 15, 23, 58),  # Sunday
    jst(2027, 2, 10, 15, 23, 58),  # Wednesday before National Foundation Day (Thu 2/11)
    jst(2026, 12, 28, 17, 59, 0),  # the year-end closure (12/29–1/3) starts at closing time
    jst(2027, 4, 28, 15, 23, 58),  # the day before Golden Week
    jst(2027, 3, 31, 23, 59, 59),  # the last second of a month (and of the fiscal year)
]


def _seed(caplog) -> None:
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        call_command("seed_demo", stdout=io.StringIO())
    left_out = [r.getMessage() for r in caplog.records if "left out" in r.getMessage()]
    assert not left_out, left_out


@pytest.mark.parametrize("moment", MOMENTS, ids=lambda m: m.strftime("%a-%Y%m%d-%H%M%S"))
def test_seed_demo_seeds_every_state_at_any_moment(moment, client, caplog):
    with time_machine.travel(moment, tick=False):
        _seed(caplog)
        counts = [m.objects.count() for m in (Incident, ChangeRequest, Release, BackupJob)]
        _seed(caplog)
        assert [m.objects.count() for m in (Incident, ChangeRequest, Release, BackupJob)] == counts

        change_states = set(ChangeRequest.objects.values_list("state", flat=True))
        assert change_states >= set(ChangeRequest.State.values) - {"submitted"}
        classes = set(ChangeRequest.objects.values_list("change_class__code", flat=True))
        assert classes == {"standard", "normal", "emergency", "major"}
        incident_states = set(Incident.objects.values_list("state", flat=True))
        assert incident_states >= set(Incident.State.values) - {"detected"} | {"detected"}
        release_states = set(Release.objects.values_list("state", flat=True))
        assert release_states >= {"planned", "development", "canary", "completed", "rolled_back"}

        client.force_login(get_user_model().objects.get(username="manager"))
        assert_dashboard_has_every_tile(client)


def assert_dashboard_has_every_tile(client) -> None:
    """Every tile family of the 30-day dashboard has figures from the demo's history."""
    for model in (EscalationStep, Postmortem, Approval, Deployment, ReleaseSlot, RestoreTest):
        assert model.objects.exists(), model
    response = client.get("/dashboard/", {"days": "30"})
    assert response.status_code == 200
    m = response.context["metrics"]
    overall = m["incidents"]["overall"]
    assert overall["total"] and overall["compliance"] is not None
    assert overall["mtta_p50"] is not None and overall["mttr_p50"] is not None
    assert overall["auto_recovered"]  # the demo's flapping uptime check
    esc = m["escalations"]
    assert esc["escalated"] and esc["by_reason"]["automatic"]
    assert sum(n for reason, n in esc["by_reason"].items() if reason != "automatic")
    pm = m["postmortems"]
    assert pm["completion_within_due"] is not None and pm["on_time"] and pm["late"]
    assert pm["overdue_action_items_now"]
    ch = m["changes"]
    assert ch["success_rate"] is not None and ch["successful"] and ch["failed"]
    assert ch["emergency_ratio"] and ch["cab"]["decided"]
    assert ch["cab"]["decision_hours_p50"] is not None
    rel = m["releases"]
    assert rel["slots"] and rel["used"] and rel["adherence"] is not None
    dora = m["dora"]["metrics"]
    assert all(figure["value"] is not None for figure in dora.values()), dora
    assert m["dora"]["recovered_failures"]
    backups = m["backups"]
    assert backups["rpo_compliance"] is not None and backups["policies_restore_tested"]
    assert 'data-tile="postmortem-completion"' in response.content.decode()

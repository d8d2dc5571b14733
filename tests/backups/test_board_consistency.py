"""Issue 14 §11: the backup pages do not contradict themselves — a policy never backed up is not
"within RPO" (and the dashboard figure agrees), a finished restore test shows when it ran, an
open one when it is due, and job durations use the duration chart's unit (minutes)."""

from __future__ import annotations

import json
import re
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.urls import reverse
from django.utils import translation

from backups import selectors, services
from backups.choices import BoardStatus, RpoStatus
from backups.models import BackupPolicy, RestoreTest
from itsm.core.roles import Role

from .factories import BackupPolicyFactory, RestoreTestFactory

pytestmark = pytest.mark.django_db
JST = ZoneInfo("Asia/Tokyo")
NOW = datetime(2026, 12, 10, 15, 0, tzinfo=JST)


@pytest.fixture(autouse=True)
def _frozen():
    with time_machine.travel(NOW, tick=False), translation.override("en"):
        yield


@pytest.fixture
def manager_client(client, make_user):
    client.force_login(make_user(Role.OPS_MANAGER, username="manager"))
    return client


def _get(client, url, **params) -> str:
    return client.get(url, params, HTTP_ACCEPT_LANGUAGE="en").content.decode()


def _rpo_tile(html: str) -> tuple[str, str]:
    tile = re.search(r'data-tile="rpo">(.*?)</div></div></div>', html, re.S).group(1)
    value = re.search(r'data-value="([^"]*)"', tile).group(1)
    return value, re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", tile)).strip()


def _chart(html: str) -> dict:
    data = re.search(r'id="backup-duration-data" type="application/json">(.*?)</script>', html)
    return json.loads(data.group(1))


def test_a_policy_never_backed_up_is_no_backup_yet_everywhere_and_moves_the_rpo_figure(
    manager_client,
):
    BackupPolicy.objects.update(is_active=False)  # the seeded policies
    backed_up = BackupPolicyFactory(
        name="Orders DB",
        last_success_at=NOW - timedelta(hours=1),
        rpo_due_at=NOW + timedelta(hours=5),
    )
    value, text = _rpo_tile(_get(manager_client, reverse("dashboard"), days=7))
    assert value == "1.0" and "100%" in text and "1 of 1 monitored policies" in text

    # a new policy: its first backup is due within one RPO, none has run yet
    new = BackupPolicyFactory(
        name="Billing DB", rpo_minutes=360, rpo_due_at=NOW + timedelta(hours=5)
    )
    assert new.last_success_at is None
    value, text = _rpo_tile(_get(manager_client, reverse("dashboard"), days=7))
    assert value == "0.5" and "50%" in text and "1 of 2 monitored policies" in text

    board = _get(manager_client, reverse("backups:board"))
    card = re.search(rf'data-policy="{new.slug}".*?</section>', board, re.S).group(0)
    assert f'data-status="{BoardStatus.OFF_TARGET}"' in card
    assert "never" in card and "No backup yet" in card and "Within RPO" not in card
    assert "no good backup yet" in card
    listing = _get(manager_client, reverse("backups:list"))
    assert f'data-rpo-status="{RpoStatus.NO_BACKUP}">No backup yet<' in listing
    detail = _get(manager_client, new.get_absolute_url())
    assert 'data-rpo-status="no_backup"' in detail and "Within RPO" not in detail

    # its first good backup puts it within the RPO and the figure back to 100 %
    services.record_backup_job(
        policy=new,
        state="succeeded",
        started_at=NOW - timedelta(minutes=20),
        finished_at=NOW - timedelta(minutes=5),
    )
    new.refresh_from_db()
    assert new.rpo_status() == RpoStatus.OK
    value, text = _rpo_tile(_get(manager_client, reverse("dashboard"), days=7))
    assert value == "1.0" and "2 of 2 monitored policies" in text
    assert backed_up.rpo_status() == RpoStatus.OK


def test_a_first_backup_overdue_is_a_breach_not_a_gap():
    BackupPolicy.objects.update(is_active=False)
    never = BackupPolicyFactory(rpo_minutes=60, rpo_due_at=NOW - timedelta(minutes=1))
    data = selectors.backup_metrics(since=NOW - timedelta(days=7), until=NOW)
    assert data["rpo"][RpoStatus.BREACHED] == 1
    assert (data["policies_within_rpo"], data["policies_monitored"]) == (0, 1)
    row = next(r for r in selectors.rpo_rto_board() if r.policy.pk == never.pk)
    assert row.status == BoardStatus.OFF_TARGET and row.reasons[0] == "RPO breached"


def test_policy_page_shows_when_a_finished_test_ran_and_when_an_open_one_is_due(manager_client):
    policy = BackupPolicyFactory()
    passed = RestoreTestFactory(
        policy=policy,
        state=RestoreTest.State.PASSED,
        due_on=date(2026, 12, 31),  # done early: the due date is not the run date
        executed_at=datetime(2026, 12, 8, 10, 0, tzinfo=JST),
        restore_minutes=30,
    )
    failed = RestoreTestFactory(
        policy=policy,
        state=RestoreTest.State.FAILED,
        due_on=date(2026, 9, 30),
        executed_at=datetime(2026, 10, 2, 9, 0, tzinfo=JST),
    )
    planned = RestoreTestFactory(policy=policy, due_on=date(2027, 3, 31))
    overdue = RestoreTestFactory(policy=policy, due_on=date(2026, 12, 1))
    html = _get(manager_client, policy.get_absolute_url())

    def line(test) -> str:
        item = re.search(rf'<li data-restore-test="{test.number}">(.*?)</li>', html, re.S).group(1)
        return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", item)).strip()

    assert line(passed).endswith("Passed executed 2026-12-08")
    assert "2026-12-31" not in line(passed)
    assert line(failed).endswith("Failed executed 2026-10-02")
    assert line(planned).endswith("Planned due 2027-03-31")
    assert line(overdue).endswith("Planned due 2026-12-01 overdue")
    listing = _get(manager_client, reverse("backups:restore_tests"))
    row = re.search(rf"{passed.number}</a>.*?</tr>", listing, re.S).group(0)
    assert "2026-12-31" in row and "2026-12-08 10:00" in row


def test_job_durations_use_the_charts_unit_everywhere(manager_client):
    policy = BackupPolicyFactory()
    long_run, _ = services.record_backup_job(
        policy=policy,
        state="succeeded",
        started_at=NOW - timedelta(hours=3),
        finished_at=NOW - timedelta(hours=3) + timedelta(minutes=95, seconds=10),
        size_bytes=3 * 2**20,
    )
    short_run, _ = services.record_backup_job(
        policy=policy,
        state="succeeded",
        started_at=NOW - timedelta(minutes=10),
        finished_at=NOW - timedelta(minutes=10) + timedelta(seconds=12),
    )
    html = _get(manager_client, policy.get_absolute_url())
    chart = _chart(html)
    assert chart["text"]["duration"] == "Duration (min)"
    assert chart["durations"] == [95.17, 0.2]  # minutes, even with a run of seconds
    assert chart["duration_labels"] == ["1 h 35 min", "< 1 min"]
    assert chart["sizes"] == [3.0, None]  # not reported: a gap, not 0 MiB
    jobs = re.search(r'data-testid="job-table".*?</table>', html, re.S).group(0)
    durations = re.findall(r'data-testid="job-duration">([^<]*)<', jobs)
    assert durations == ["&lt; 1 min", "1 h 35 min"]  # newest first
    assert " s</td>" not in jobs
    # the chart's own table: the same numbers, oldest first
    table = re.search(r'data-table="backup-durations".*?</table>', html, re.S).group(0)
    assert re.findall(r'data-value="([\d.]+)">([^<]*)<', table)[:2] == [
        ("95.17", "1 h 35 min"),
        ("3.0", "3.0"),
    ]
    assert short_run.number in table and "not reported" in table
    detail = _get(manager_client, long_run.get_absolute_url())
    assert 'data-testid="job-duration">1 h 35 min<' in detail


def test_durations_are_translated():
    with translation.override("ja"):
        assert selectors.human_duration(timedelta(minutes=95)) == "1時間35分"
        assert selectors.human_duration(timedelta(seconds=5)) == "1分未満"
        assert selectors.human_duration(None) == "—"


def test_large_archives_are_charted_in_gib_like_the_job_table(manager_client):
    policy = BackupPolicyFactory()
    services.record_backup_job(
        policy=policy,
        state="succeeded",
        started_at=NOW - timedelta(hours=2),
        finished_at=NOW - timedelta(hours=1),
        size_bytes=48 * 2**30,
    )
    html = _get(manager_client, policy.get_absolute_url())
    chart = _chart(html)
    assert chart["text"]["size"] == "Size (GiB)" and chart["sizes"] == [48.0]
    assert "48.0 GiB" in html  # the job table

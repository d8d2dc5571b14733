from datetime import timedelta

import pytest
from django.utils import timezone

from backups import selectors, services
from backups.models import BackupPolicy

from .factories import BackupPolicyFactory, RestoreTestFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def signed_in(client, operator):
    client.force_login(operator)
    return client


def test_policy_list_shows_the_seed_table_compliance_and_timeline(signed_in):
    response = signed_in.get("/backups/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "データベース" in html and "ログファイル" in html
    assert 'data-testid="backup-timeline"' in html
    assert "コピー数 2 / 3" in html  # the logs policy's 3-2-1 reason, in Japanese
    rows = dict(selectors.timeline(BackupPolicy.objects.filter(slug="database")))
    bars = next(iter(rows.values()))
    assert [(b.label, b.start) for b in bars] == [
        ("フルバックアップ", "00:00"),
        ("差分バックアップ1", "06:00"),
        ("差分バックアップ2", "12:00"),
        ("差分バックアップ3", "18:00"),
    ]
    assert bars[0].width_pct == pytest.approx(120 * 100 / 1440, abs=0.01)


def test_list_requires_login(client):
    assert client.get("/backups/").status_code == 302


def test_user_without_backup_permissions_is_refused(client, make_user):
    client.force_login(make_user(None, username="guest"))
    assert client.get("/backups/").status_code == 403
    assert client.get("/backups/dr/").status_code == 403


def test_policy_detail_lists_jobs(signed_in):
    policy = BackupPolicy.objects.get(slug="database")
    job, _ = services.record_backup_job(policy=policy, state="failed", error="tape jammed")
    html = signed_in.get(policy.get_absolute_url()).content.decode()
    assert job.number in html and "tape jammed" in html
    assert signed_in.get("/backups/policies/nope/").status_code == 404


def test_job_detail_offers_transitions(signed_in):
    job, _ = services.record_backup_job(policy=BackupPolicyFactory(), state="running")
    html = signed_in.get(job.get_absolute_url()).content.decode()
    assert 'data-transition="succeed"' in html
    assert signed_in.get("/backups/jobs/BKP-999999/").status_code == 404


def test_restore_tests_flag_overdue(signed_in):
    late = RestoreTestFactory(due_on=timezone.localdate() - timedelta(days=3))
    html = signed_in.get("/backups/restore-tests/").content.decode()
    assert late.number in html and 'data-overdue="1"' in html
    detail = signed_in.get(late.get_absolute_url())
    assert detail.status_code == 200 and 'data-transition="pass_test"' in detail.content.decode()


def test_dr_page_shows_seeded_scenarios(signed_in):
    html = signed_in.get("/backups/dr/").content.decode()
    assert "データセンター障害" in html and "リージョン障害" in html


def test_my_open_items_lists_overdue_tests_and_failed_jobs(operator, make_user):
    late = RestoreTestFactory(due_on=timezone.localdate() - timedelta(days=1))
    job, _ = services.record_backup_job(policy=late.policy, state="failed", error="x")
    numbers = {i["number"] for i in selectors.my_open_items(operator)}
    assert {late.number, job.number} <= numbers
    assert selectors.my_open_items(make_user(None, username="guest")) == []


def test_backup_health_counts():
    BackupPolicyFactory(rpo_due_at=timezone.now() - timedelta(minutes=5))
    RestoreTestFactory(due_on=timezone.localdate() - timedelta(days=1))
    health = selectors.backup_health()
    assert health["rpo"]["breached"] >= 1
    assert health["overdue_restore_tests"] == 1
    assert health["policies_not_321"] >= 1


def test_rpo_rto_board_is_a_backups_tab_with_one_card_per_target(signed_in):
    breached = BackupPolicyFactory(
        name="Breached DB", rpo_due_at=timezone.now() - timedelta(hours=1)
    )
    html = signed_in.get("/backups/").content.decode()
    assert 'href="/backups/board/"' in html
    response = signed_in.get("/backups/board/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "RPO/RTOボード" in html
    assert f'data-policy="{breached.slug}" data-status="off_target"' in html
    assert "RPO超過" in html


def test_rpo_rto_board_needs_the_view_permission(client, make_user):
    client.force_login(make_user(None, username="guest"))
    assert client.get("/backups/board/").status_code == 403


def test_policy_detail_charts_durations_from_the_vendored_chart_js(signed_in):
    policy = BackupPolicyFactory()
    html = signed_in.get(policy.get_absolute_url()).content.decode()
    assert "chart.umd.min.js" not in html  # nothing to chart yet
    services.record_backup_job(
        policy=policy, state="succeeded", started_at=timezone.now() - timedelta(minutes=3)
    )
    html = signed_in.get(policy.get_absolute_url()).content.decode()
    assert "/static/vendor/chart.js/chart.umd.min.js" in html and "cdn" not in html.lower()
    assert 'id="backup-duration-data"' in html and "/static/backups/policy_chart.js" in html

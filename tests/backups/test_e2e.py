import pytest

from backups import services
from backups.models import BackupPolicy

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def test_policies_page_shows_321_status_and_the_timeline(page, login, make_user):
    user = make_user("operator", username="e2e-op")
    services.record_backup_job(policy=BackupPolicy.objects.get(slug="database"), state="succeeded")
    login(user)
    page.goto("/backups/")
    row = page.locator('tr[data-policy="database"]')
    assert row.locator(".compliance-321 [data-ok='1']").count() == 1
    assert row.locator("[data-rpo-status='ok']").count() == 1
    logs = page.locator('tr[data-policy="logs"]')
    assert logs.locator(".compliance-321 [data-ok='0']").count() == 1
    timeline = page.get_by_test_id("backup-timeline")
    bars = timeline.locator('.bk-row[data-policy="database"] .bk-bar')
    assert bars.count() == 4
    page.locator('tr[data-policy="database"] a').first.click()
    page.wait_for_url("**/backups/policies/database/")
    assert page.get_by_test_id("job-table").locator("tbody tr").count() == 1


def test_rpo_rto_board_colours_each_target_and_links_to_its_chart(page, login, make_user):
    from datetime import timedelta

    from django.utils import timezone

    from backups.models import RestoreTest

    user = make_user("operator", username="e2e-board")
    database = BackupPolicy.objects.get(slug="database")
    services.record_backup_job(
        policy=database, state="succeeded", started_at=timezone.now() - timedelta(minutes=20)
    )
    test = RestoreTest.objects.filter(policy=database).first() or services.plan_restore_test(
        database, due_on=timezone.localdate()
    )
    services.record_restore_test(
        test, passed=True, actor=user, restore_minutes=(database.rto_minutes or 60) - 10
    )
    BackupPolicy.objects.filter(slug="file-storage").update(
        rpo_due_at=timezone.now() - timedelta(hours=2)
    )
    login(user)
    page.goto("/backups/")
    page.locator("a[href='/backups/board/']").click()
    page.wait_for_url("**/backups/board/")
    board = page.get_by_test_id("rpo-rto-board")
    good = board.locator('[data-policy="database"]')
    assert good.get_attribute("data-status") == "on_target"
    assert "text-bg-success" in good.locator(".card-header").get_attribute("class")
    assert good.locator("[data-rto='within']").count() == 1
    late = board.locator('[data-policy="file-storage"]')
    assert late.get_attribute("data-status") == "off_target"
    assert "text-bg-danger" in late.locator(".card-header").get_attribute("class")
    assert late.locator("[data-rpo-status='breached']").count() == 1
    good.locator("h2 a").click()
    page.wait_for_url("**/backups/policies/database/")
    chart = page.get_by_test_id("duration-chart")
    chart.wait_for()
    assert page.evaluate("() => !!document.getElementById('backup-durations').chart")
    assert (
        page.evaluate("() => Chart.getChart('backup-durations').data.datasets[0].data.length") == 1
    )

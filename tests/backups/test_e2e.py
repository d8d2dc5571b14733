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

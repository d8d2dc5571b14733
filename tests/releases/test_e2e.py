"""A real browser: open a release's pipeline view and promote it one stage."""

import pytest

from .factories import release_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_promote_a_release_through_the_pipeline_view(page, login, make_user):
    leader = make_user("ops_leader", username="e2e-leader")
    release = release_in("testing", name="Browser release")
    login(leader)
    page.goto(f"/releases/{release.number}/")
    pipeline = page.get_by_test_id("pipeline")
    assert pipeline.locator('[data-stage="testing"]').get_attribute("data-status") == "current"
    with page.expect_navigation():
        page.locator('form[data-transition="promote_to_staging"] button[type=submit]').click()
    assert pipeline.locator('[data-stage="staging"]').get_attribute("data-status") == "current"
    assert pipeline.locator('[data-stage="testing"]').get_attribute("data-status") == "done"
    release.refresh_from_db()
    assert release.state == "staging"
    # NG in staging needs a reason; with one the release goes back to development, counted.
    form = page.locator('form[data-transition="fail_staging"]')
    form.locator("input[name=comment]").fill("Load test failed")
    with page.expect_navigation():
        form.locator("button[type=submit]").click()
    assert page.get_by_test_id("failures-staging").is_visible()
    release.refresh_from_db()
    assert release.state == "development" and release.staging_failures == 1

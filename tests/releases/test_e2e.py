"""A real browser: open a release's pipeline view and promote it one stage."""

import pytest

from .factories import approved_change, release_in

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


def test_promote_a_release_step_by_step_up_to_production(page, login, make_user):
    """planned → development → testing → staging → canary → production, each by its button on
    the pipeline view; production opens only because an approved change covers now."""
    leader = make_user("ops_leader", username="e2e-leader2")
    release = release_in("planned", name="Full pipeline release", strategy="canary")
    approved_change(release, title="Deploy the full pipeline release")
    login(leader)
    page.goto(f"/releases/{release.number}/")
    pipeline = page.get_by_test_id("pipeline")
    steps = [
        ("start_development", "development"),
        ("promote_to_testing", "testing"),
        ("promote_to_staging", "staging"),
        ("promote_to_canary", "canary"),
        ("promote_to_production", "production"),
    ]
    done: list[str] = []
    for transition, stage in steps:
        with page.expect_navigation():
            page.locator(f'form[data-transition="{transition}"] button[type=submit]').click()
        assert pipeline.locator(f'[data-stage="{stage}"]').get_attribute("data-status") == "current"
        for earlier in done:
            assert pipeline.locator(f'[data-stage="{earlier}"]').get_attribute("data-status") == (
                "done"
            )
        done.append(stage)
    # A canary release offers no skip; production is reached, then the release completes.
    assert page.locator('form[data-transition="skip_canary"]').count() == 0
    release.refresh_from_db()
    assert release.state == "production" and release.production_at is not None
    assert not release.canary_skipped
    with page.expect_navigation():
        page.locator('form[data-transition="complete"] button[type=submit]').click()
    assert pipeline.locator('[data-stage="production"]').get_attribute("data-status") == "done"
    release.refresh_from_db()
    assert release.state == "completed"


def test_production_stays_closed_in_the_browser_without_an_approved_change(page, login, make_user):
    leader = make_user("ops_leader", username="e2e-leader3")
    release = release_in("canary", name="No change release")
    login(leader)
    page.goto(f"/releases/{release.number}/")
    form = page.locator('form[data-transition="promote_to_production"]')
    assert form.locator("button[type=submit]").is_disabled()
    assert form.locator('[data-guard="has_approved_change_covering_now"]').is_visible()
    release.refresh_from_db()
    assert release.state == "canary"

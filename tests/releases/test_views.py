"""Release screens: list, calendar, detail pipeline, create form, hand-recorded deployments."""

import datetime as dt

import pytest
import time_machine
from django.urls import reverse

from releases import services
from releases.models import Deployment, Environment, Release, ReleaseSlot

from ..factories import ServiceFactory
from .factories import approved_change, release_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def leader_client(client, ops_leader):
    client.force_login(ops_leader)
    return client


def test_pages_need_login(client):
    release = release_in("planned")
    for url in (
        reverse("releases:list"),
        reverse("releases:calendar"),
        reverse("releases:create"),
        release.get_absolute_url(),
    ):
        response = client.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_a_user_without_role_is_refused(client, make_user):
    client.force_login(make_user(None, username="nobody"))
    assert client.get(reverse("releases:list")).status_code == 403


def test_list_shows_and_filters_releases(leader_client):
    a = release_in("canary", name="Alpha")
    b = release_in("planned", name="Beta")
    page = leader_client.get(reverse("releases:list")).content.decode()
    assert a.number in page and b.number in page
    page = leader_client.get(reverse("releases:list") + "?state=canary").content.decode()
    assert a.number in page and b.number not in page
    page = leader_client.get(
        reverse("releases:list") + "?q=Beta&state=bogus&page=x"
    ).content.decode()
    assert b.number in page and a.number not in page


def test_operators_see_releases_but_no_create_button(client, operator):
    client.force_login(operator)
    page = client.get(reverse("releases:list")).content.decode()
    assert reverse("releases:create") not in page
    assert client.get(reverse("releases:create")).status_code == 403


@time_machine.travel(dt.datetime(2025, 11, 20, 3, 0, tzinfo=dt.UTC), tick=False)
def test_calendar_shows_slots_and_releases_of_the_month(leader_client):
    services.fill_release_slots()
    slot = ReleaseSlot.objects.filter(release_type="minor").first()  # 2025-12-09 10:00 JST
    release = release_in("planned", planned_at=slot.starts_at, slot=slot)
    page = leader_client.get(reverse("releases:calendar") + "?month=2025-12").content.decode()
    assert 'data-date="2025-12-09"' in page
    assert f"?slot={slot.pk}" in page and release.number in page
    assert "2025-12" in page


@pytest.mark.parametrize("month", ["", "garbage", "2025-13", "99999-01", "1-1-1"])
def test_calendar_tolerates_bad_month_parameters(leader_client, month):
    assert leader_client.get(reverse("releases:calendar") + f"?month={month}").status_code == 200


def test_detail_shows_the_pipeline_with_current_stage_and_failures(leader_client):
    release = release_in("staging", staging_failures=2)
    page = leader_client.get(release.get_absolute_url()).content.decode()
    assert 'data-stage="staging" data-status="current"' in page
    assert 'data-stage="testing" data-status="done"' in page
    assert 'data-stage="canary" data-status="pending"' in page
    assert 'data-testid="failures-staging"' in page
    assert "Final check" in page or "本番環境と同等構成" in page
    assert 'data-transition="promote_to_canary"' in page


def test_detail_marks_the_rolled_back_canary(leader_client, ops_leader):
    release = services.fail_stage(release_in("canary"), actor=ops_leader, reason="5xx")
    page = leader_client.get(release.get_absolute_url()).content.decode()
    assert 'data-stage="canary" data-status="failed"' in page
    assert 'data-stage="staging" data-status="done"' in page


def test_detail_shows_the_blocked_production_guard(leader_client):
    release = release_in("canary")
    page = leader_client.get(release.get_absolute_url()).content.decode()
    assert 'data-guard="has_approved_change_covering_now"' in page


def test_detail_says_why_production_is_closed_in_the_gate_words(leader_client, ops_manager):
    release = release_in("canary")
    change = approved_change(release, state="scheduled", waived=False)
    body = leader_client.get(release.get_absolute_url(), HTTP_ACCEPT_LANGUAGE="en").content
    assert 'data-testid="production-gate"' in body.decode()
    assert f"Not yet: {change.number}" in body.decode()
    assert 'data-guard="has_approved_change_covering_now"' in body.decode()
    change.backup_waived, change.backup_waiver_reason = True, "stateless"
    change.backup_waived_by = ops_manager
    change.save()
    body = leader_client.get(release.get_absolute_url(), HTTP_ACCEPT_LANGUAGE="en").content
    assert 'data-guard="has_approved_change_covering_now"' not in body.decode()
    assert "Authorises production now" in body.decode()


def test_unknown_release_is_404(leader_client):
    assert leader_client.get(reverse("releases:detail", args=["REL-999999"])).status_code == 404


def test_create_a_release_for_a_slot(leader_client, ops_leader):
    services.fill_release_slots()
    slot = ReleaseSlot.objects.filter(release_type="patch").first()
    service = ServiceFactory()
    change = approved_change()
    form = leader_client.get(reverse("releases:create") + f"?slot={slot.pk}").content.decode()
    assert f'value="{slot.pk}" selected' in form
    response = leader_client.post(
        reverse("releases:create"),
        {
            "name": "Weekly fixes",
            "version": "1.4.2",
            "release_type": "patch",
            "service": service.pk,
            "slot": slot.pk,
            "strategy": "rolling",
            "strategy_rationale": "Stateless",
            "changes": [change.pk],
        },
    )
    release = Release.objects.get()
    assert response.status_code == 302 and response["Location"] == release.get_absolute_url()
    assert release.planned_at == slot.starts_at and release.owner == ops_leader
    assert list(release.changes.all()) == [change]


def test_create_form_reports_errors_instead_of_failing(leader_client):
    services.fill_release_slots()
    slot = ReleaseSlot.objects.filter(release_type="patch").first()
    response = leader_client.post(
        reverse("releases:create"),
        {
            "name": "",
            "version": "1",
            "release_type": "major",
            "service": ServiceFactory().pk,
            "slot": slot.pk,
            "strategy": "canary",
        },
    )
    assert response.status_code == 200
    assert response.context["form"].errors["name"]
    response = leader_client.post(
        reverse("releases:create"),
        {
            "name": "x",
            "version": "1",
            "release_type": "major",
            "service": ServiceFactory().pk,
            "slot": slot.pk,
            "strategy": "canary",
        },
    )
    assert response.status_code == 200 and "slot" in response.context["form"].errors
    assert not Release.objects.exists()


def test_record_a_deployment_by_hand_moves_the_release(leader_client):
    release = release_in("development")
    response = leader_client.post(
        reverse("releases:deployment_create", args=[release.number]),
        {"environment": "testing", "version": "1.0.0", "result": "succeeded", "advance": "on"},
    )
    assert response.status_code == 302
    release.refresh_from_db()
    assert release.state == "testing"
    assert Deployment.objects.get().reported_by is not None


def test_record_a_deployment_with_bad_input_shows_an_error(leader_client):
    release = release_in("development")
    response = leader_client.post(
        reverse("releases:deployment_create", args=[release.number]),
        {"environment": "qa", "version": "", "result": "meh"},
        follow=True,
    )
    assert response.status_code == 200
    assert not Deployment.objects.exists()
    assert any("not recorded" in str(m) or "記録" in str(m) for m in response.context["messages"])


def test_a_refused_production_deployment_shows_the_reason(leader_client):
    release = release_in("canary")
    response = leader_client.post(
        reverse("releases:deployment_create", args=[release.number]),
        {"environment": "production", "version": "1", "result": "succeeded", "advance": "on"},
        follow=True,
    )
    assert response.status_code == 200
    assert not Deployment.objects.exists()
    release.refresh_from_db()
    assert release.state == "canary"


def test_promote_through_the_transitions_panel(leader_client):
    release = release_in("testing")
    response = leader_client.post(
        reverse("core:transition", args=["releases", "release", release.pk]),
        {"transition": "promote_to_staging"},
    )
    assert response.status_code == 302
    release.refresh_from_db()
    assert release.state == "staging"


def test_the_history_links_a_rollback_to_the_deployment_it_rolled_back(leader_client, ops_leader):
    release = release_in("production")
    environment = Environment.objects.get(code="production")
    original = services.record_deployment(
        release=release,
        environment=environment,
        version=release.version,
        result="succeeded",
        actor=ops_leader,
        log_url="https://ci.example.com/logs/1",
        external_id="run-1",
    ).deployment
    services.record_deployment(
        release=release,
        environment=environment,
        version="0.9.0",
        result="succeeded",
        actor=ops_leader,
        external_id="run-2",
        rollback_of=original,
    )
    release.refresh_from_db()
    assert release.state == "rolled_back"
    page = leader_client.get(release.get_absolute_url()).content.decode()
    assert f'href="#deployment-{original.pk}"' in page
    assert 'href="https://ci.example.com/logs/1"' in page


def test_the_hand_entry_form_offers_only_final_results(leader_client):
    release = release_in("development")
    response = leader_client.post(
        reverse("releases:deployment_create", args=[release.number]),
        {"environment": "testing", "version": "1.0.0", "result": "queued"},
    )
    assert response.status_code == 302
    assert not Deployment.objects.exists()

"""Change, release/DORA and backup metrics on hand-computed fixtures (docs/metrics.md)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from backups import selectors as backup_selectors
from backups.models import BackupPolicy
from changes import selectors as change_selectors
from changes.models import Approval
from releases import selectors as release_selectors
from releases import services as release_services
from releases.models import Deployment, Environment, Release, ReleaseCadence, ReleaseSlot
from tests.backups.factories import BackupPolicyFactory, RestoreTestFactory
from tests.changes.factories import ChangeRequestFactory, change_class
from tests.factories import ServiceFactory, UserFactory
from tests.incidents.factories import IncidentFactory
from tests.releases.factories import ReleaseFactory

from .conftest import NOW, SINCE, UNTIL, jst

pytestmark = pytest.mark.django_db
H = timedelta(hours=1)


def change(code, *, submitted, started=None, outcome="", state="closed", services=()):
    c = ChangeRequestFactory(
        change_class=change_class(code),
        state=state,
        submitted_at=submitted,
        implementation_started_at=started,
        outcome=outcome,
    )
    c.services.set(services)
    return c


def test_change_success_rate_emergency_ratio_and_cab_throughput():
    shop = ServiceFactory(slug="web-shop")
    day = jst(2025, 6, 3, 10)
    change("normal", submitted=day, started=day + H, outcome="successful", services=[shop])
    change("emergency", submitted=day, started=day + H, outcome="failed", state="rolled_back")
    change("normal", submitted=day, started=day + H, state="implementing")
    change("normal", submitted=SINCE - H, started=SINCE - H, outcome="successful")  # before
    change("major", submitted=day, state="cab_review")
    decided = change("major", submitted=SINCE - 48 * H, state="approved")
    Approval.objects.create(
        change=decided, kind="cab", decision="approved", approver=UserFactory(), at=SINCE
    )
    data = change_selectors.change_metrics(since=SINCE, until=UNTIL)
    assert (data["successful"], data["failed"], data["in_progress"]) == (1, 1, 1)
    assert data["success_rate"] == 0.5
    assert data["submitted"] == 4 and data["emergency"] == 1
    assert data["emergency_ratio"] == 0.25
    assert data["cab"] == {
        "decided": 1,
        "approved": 1,
        "rejected": 0,
        "pending_now": 1,
        "decision_hours_p50": 48.0,
        "decision_hours_p90": 48.0,
    }
    only_shop = change_selectors.change_metrics(since=SINCE, until=UNTIL, service="web-shop")
    assert (only_shop["successful"], only_shop["failed"], only_shop["success_rate"]) == (1, 0, 1.0)


def test_change_metrics_without_data():
    data = change_selectors.change_metrics(since=SINCE, until=UNTIL)
    assert data["success_rate"] is None and data["emergency_ratio"] is None
    assert data["cab"]["decision_hours_p50"] is None


@pytest.fixture
def deployments():
    """Three production deployments of one service in the period:
    REL-1 (minor, in slot 1) succeeds 06-03 10:00 shipping a commit made 10 h before;
    REL-2 (hotfix) fails 06-04 10:00; REL-3 succeeds 06-04 12:00 → recovered after 2 h."""
    shop = ServiceFactory(slug="web-shop")
    production = Environment.objects.get(code="production")
    cadence = ReleaseCadence.objects.get(release_type="minor")
    slot1 = ReleaseSlot.objects.create(
        release_type="minor",
        starts_at=jst(2025, 6, 3, 10),
        ends_at=jst(2025, 6, 3, 12),
        cadence=cadence,
    )
    ReleaseSlot.objects.create(
        release_type="minor",
        starts_at=jst(2025, 6, 5, 10),
        ends_at=jst(2025, 6, 5, 12),
        cadence=cadence,
    )
    created = SINCE - 24 * H
    r1 = ReleaseFactory(
        service=shop,
        slot=slot1,
        state="completed",
        production_at=jst(2025, 6, 3, 10),
        created_at=created,
    )
    r2 = ReleaseFactory(
        service=shop, release_type="hotfix", state="rolled_back", created_at=created
    )
    r3 = ReleaseFactory(
        service=shop, state="completed", production_at=jst(2025, 6, 4, 12), created_at=created
    )

    def deploy(release, at, result, commits=()):
        return Deployment.objects.create(
            release=release,
            environment=production,
            version=release.version,
            result=result,
            started_at=at,
            finished_at=at,
            commits=list(commits),
        )

    deploy(r1, jst(2025, 6, 3, 10), "succeeded", [{"committed_at": "2025-06-03T00:00:00+09:00"}])
    deploy(r2, jst(2025, 6, 4, 10), "failed")
    deploy(r3, jst(2025, 6, 4, 12), "succeeded")
    return shop


def test_dora_metrics_and_their_tiers(deployments):
    data = release_selectors.dora_metrics(since=SINCE, until=UNTIL)
    m = data["metrics"]
    assert data["report_year"] == 2024
    assert data["production_deployments"] == 3
    assert m["deployment_frequency"] == {"value": 0.286, "unit": "per_day", "tier": "high"}
    assert m["change_fail_rate"]["value"] == 0.333
    assert m["change_fail_rate"]["tier"] == "low"
    assert m["failed_deployment_recovery_time"] == {"value": 2.0, "unit": "hours", "tier": "high"}
    assert m["deployment_rework_rate"]["value"] == 0.3333  # the hotfix
    assert m["deployment_rework_rate"]["tier"] is None  # the report publishes no tiers for it
    # lead time: 10 h for REL-1's commit, 3 days 12 h from REL-3's creation → median 47 h
    assert m["change_lead_time"]["value"] == 47.0
    assert m["change_lead_time"]["tier"] == "high"


def test_deployments_still_in_progress_count_neither_way(deployments):
    """A pipeline's queued / in_progress report is not an outcome: the figures do not move."""
    before = release_selectors.dora_metrics(since=SINCE, until=UNTIL)
    release = Release.objects.filter(state="completed").first()
    Deployment.objects.create(
        release=release,
        environment=Environment.objects.get(code="production"),
        version="9.9.9",
        result="in_progress",
        started_at=jst(2025, 6, 5, 9),
    )
    after = release_selectors.dora_metrics(since=SINCE, until=UNTIL)
    assert after["production_deployments"] == before["production_deployments"] == 3
    assert after["metrics"] == before["metrics"]


def test_a_deployment_linked_to_an_incident_is_a_failed_change(deployments, ops_leader):
    """DORA counts a deployment that caused an incident as a failed change although it
    reported success; its incident's recovery ends its recovery time, and the deployments of
    the same service made while that incident was open are rework."""
    before = release_selectors.dora_metrics(since=SINCE, until=UNTIL)
    assert before["metrics"]["change_fail_rate"]["value"] == 0.333  # the failed hotfix
    assert before["metrics"]["deployment_rework_rate"]["value"] == 0.3333  # the hotfix
    causing = Deployment.objects.get(started_at=jst(2025, 6, 3, 10))
    incident = IncidentFactory(
        detected_at=jst(2025, 6, 3, 10, 30), recovered_at=jst(2025, 6, 4, 13), service=None
    )
    release_services.link_causing_deployment(causing, incident=incident, actor=ops_leader)
    after = release_selectors.dora_metrics(since=SINCE, until=UNTIL)
    m = after["metrics"]
    assert after["incident_causing_deployments"] == 1 and after["failed_changes"] == 2
    assert after["failed_production_deployments"] == 1  # the deployments' own results
    assert m["change_fail_rate"]["value"] == 0.667
    assert m["change_fail_rate"]["tier"] == "low"
    # the hotfix (06-04 10:00) and REL-3 (06-04 12:00) shipped while the incident was open
    assert m["deployment_rework_rate"]["value"] == 0.6667
    assert after["rework_deployments"] == 2
    # recovery samples: the failed hotfix 2 h; the causing deployment 27 h (to 06-04 13:00)
    assert after["recovered_failures"] == 2
    assert m["failed_deployment_recovery_time"]["value"] == 14.5
    # the API's inputs read the same definition
    inputs = release_selectors.dora_inputs(since=SINCE, until=UNTIL)
    assert inputs["change_failure_rate"] == 0.667 and inputs["failed_changes"] == 2


def test_a_link_to_a_deployment_outside_the_period_or_service_changes_nothing(
    deployments, ops_leader
):
    before = release_selectors.dora_metrics(since=SINCE, until=UNTIL, service="web-shop")
    elsewhere = Deployment.objects.create(
        release=ReleaseFactory(),
        environment=Environment.objects.get(code="production"),
        version="2.0.0",
        result="succeeded",
        started_at=jst(2025, 6, 5, 9),
        finished_at=jst(2025, 6, 5, 9),
    )
    staging = Deployment.objects.create(
        release=Release.objects.filter(state="completed").first(),
        environment=Environment.objects.get(code="staging"),
        version="2.0.1",
        result="succeeded",
        started_at=jst(2025, 6, 5, 9),
        finished_at=jst(2025, 6, 5, 9),
    )
    for deployment in (elsewhere, staging):
        release_services.link_causing_deployment(
            deployment, incident=IncidentFactory(), actor=ops_leader
        )
    after = release_selectors.dora_metrics(since=SINCE, until=UNTIL, service="web-shop")
    assert after == before
    unrecovered = release_selectors.dora_metrics(since=SINCE, until=UNTIL)
    assert unrecovered["failed_changes"] == 2  # the hotfix and the other service's deployment
    assert unrecovered["unrecovered_failures"] == 1  # its incident is not recovered


def test_dora_tier_boundaries():
    tier = release_selectors.dora_tier
    assert tier("deployment_frequency", 1.0) == "elite"
    assert tier("deployment_frequency", 1 / 7) == "high"
    assert tier("deployment_frequency", 0.01) == "low"
    assert tier("change_lead_time", 23.9) == "elite"
    assert tier("change_lead_time", 24 * 40) == "low"
    assert tier("change_fail_rate", 0.05) == "elite"
    assert tier("change_fail_rate", 0.15) == "high"
    assert tier("failed_deployment_recovery_time", 0.5) == "elite"
    assert tier("failed_deployment_recovery_time", 100) == "medium"
    assert tier("change_fail_rate", None) is None


def test_unrecovered_failure_has_no_recovery_time(deployments):
    data = release_selectors.dora_metrics(since=SINCE, until=jst(2025, 6, 4, 11))
    assert data["unrecovered_failures"] == 0 and data["recovered_failures"] == 1
    Deployment.objects.filter(result="succeeded", started_at__gte=jst(2025, 6, 4)).delete()
    data = release_selectors.dora_metrics(since=SINCE, until=UNTIL)
    assert data["unrecovered_failures"] == 1
    assert data["metrics"]["failed_deployment_recovery_time"]["value"] is None


def test_release_cadence_adherence_counts_used_past_slots(deployments):
    data = release_selectors.cadence_metrics(since=SINCE, until=UNTIL, now=NOW)
    assert data["by_type"]["minor"] == {"slots": 2, "used": 1, "adherence": 0.5}
    assert data["adherence"] == 0.5
    other = release_selectors.cadence_metrics(
        since=SINCE, until=UNTIL, service="elsewhere", now=NOW
    )
    assert other["used"] == 0
    # slots still in the future are not judged yet
    early = release_selectors.cadence_metrics(since=SINCE, until=UNTIL, now=jst(2025, 6, 4))
    assert early["slots"] == 1


def test_backup_rpo_and_restore_tests_within_the_quarter():
    BackupPolicy.objects.update(is_active=False)  # the seeded policies
    ok = BackupPolicyFactory(rpo_due_at=NOW + 6 * H, last_success_at=NOW)
    late = BackupPolicyFactory(rpo_due_at=NOW - H, last_success_at=NOW - 7 * H)
    RestoreTestFactory(
        policy=ok, state="passed", executed_at=UNTIL - 30 * 24 * H, due_on=SINCE.date()
    )
    RestoreTestFactory(policy=late, state="passed", executed_at=UNTIL - 100 * 24 * H)
    RestoreTestFactory(policy=late, state="failed", executed_at=UNTIL - 24 * H, due_on=SINCE.date())
    data = backup_selectors.backup_metrics(since=SINCE, until=UNTIL, now=NOW)
    assert (data["policies_within_rpo"], data["policies_monitored"]) == (1, 2)
    assert data["rpo_compliance"] == 0.5
    assert (data["policies_restore_tested"], data["policies"]) == (1, 2)
    assert data["restore_test_compliance"] == 0.5
    assert data["restore_tests_due"]["total"] == 2
    assert data["restore_tests_due"]["failed"] == 1

"""The demo's current releases were deployed in the past, never "tomorrow" (issue 14, part 12)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from releases import demo
from releases.models import Deployment, Release
from tests.factories import ServiceFactory, UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("demo_clock")]


def test_demo_deployments_never_start_or_finish_after_now():
    for slug in ("web-shop", "payments", "member-portal"):
        ServiceFactory(slug=slug, name=slug)
    users = {
        name: UserFactory(username=name, role=role)
        for name, role in (
            ("developer", "developer"),
            ("leader", "ops_leader"),
        )
    }
    demo.seed(users)  # the current releases only: no history without the full demo cast

    now = timezone.now()
    deployments = Deployment.objects.select_related("release", "environment")
    assert deployments.count() >= 10
    late = [
        (d.release.name, d.environment.code, d.started_at)
        for d in deployments
        if d.started_at > now or d.finished_at > now
    ]
    assert late == []
    # A release planned in 12 days has reached development already (yesterday, not in 11 days).
    checkout = Release.objects.get(name="Checkout improvements")
    assert checkout.planned_at - now == timedelta(days=12)
    development = checkout.deployments.get()
    assert now - timedelta(days=1) <= development.started_at < now
    # Stages still follow each other a day apart, in pipeline order.
    member_search = Release.objects.get(name="Member search")
    starts = list(
        member_search.deployments.order_by("started_at").values_list("started_at", flat=True)
    )
    assert [b - a for a, b in zip(starts, starts[1:], strict=False)] == [timedelta(days=1)] * 2

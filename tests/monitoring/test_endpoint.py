"""Who may read /metrics, and that what it says parses and moves with the data."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from incidents import services
from incidents.models import Incident
from intake import services as intake_services
from intake.models import Delivery
from itsm.core.models import Notification

from .helpers import scrape, value

pytestmark = pytest.mark.django_db

P3 = {"impact_scope": "some_users", "business_impact": "minor", "urgency": "immediate"}
MAJOR = {"impact_scope": "all_users", "business_impact": "revenue_loss", "urgency": "immediate"}
OUTSIDE = {"REMOTE_ADDR": "192.0.2.10"}


@pytest.fixture(autouse=True)
def _metrics_settings(settings):
    settings.METRICS_TOKEN = "s3cret-token"
    settings.METRICS_ALLOWED_NETWORKS = ["127.0.0.1/32", "10.1.0.0/16"]


class TestAccess:
    def test_the_right_token_is_let_in_from_anywhere(self, client):
        response = client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret-token", **OUTSIDE)
        assert response.status_code == 200
        assert b"itsm_escalation_sweep_lag_seconds" in response.content

    def test_a_wrong_token_from_outside_is_refused_without_content(self, client):
        response = client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret-tokeX", **OUTSIDE)
        assert response.status_code == 403
        assert response.content == b""

    def test_no_token_from_outside_the_allow_list_is_refused(self, client):
        response = client.get("/metrics", **OUTSIDE)
        assert response.status_code == 403
        assert b"itsm_" not in response.content

    def test_an_address_on_the_allow_list_needs_no_token(self, client):
        assert client.get("/metrics", REMOTE_ADDR="10.1.200.3").status_code == 200
        assert client.get("/metrics", REMOTE_ADDR="10.2.0.1").status_code == 403

    def test_a_forwarded_for_header_does_not_put_a_client_on_the_allow_list(self, client):
        response = client.get("/metrics", HTTP_X_FORWARDED_FOR="127.0.0.1", **OUTSIDE)
        assert response.status_code == 403

    def test_a_request_through_a_reverse_proxy_is_not_let_in_by_its_local_address(self, client):
        # Behind a proxy on the same host every visitor arrives from 127.0.0.1.
        proxied = {"REMOTE_ADDR": "127.0.0.1", "HTTP_X_FORWARDED_FOR": "203.0.113.9"}
        assert client.get("/metrics", **proxied).status_code == 403
        assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 200
        response = client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret-token", **proxied)
        assert response.status_code == 200

    def test_no_token_is_configured_so_none_is_accepted(self, client, settings):
        settings.METRICS_TOKEN = ""
        response = client.get("/metrics", HTTP_AUTHORIZATION="Bearer ", **OUTSIDE)
        assert response.status_code == 403

    def test_a_logged_in_user_outside_the_list_gets_nothing_either(self, client, admin_user):
        client.force_login(admin_user)
        assert client.get("/metrics", **OUTSIDE).status_code == 403

    def test_no_login_redirect_and_no_csrf_for_the_scraper(self, client):
        response = client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret-token", **OUTSIDE)
        assert "Set-Cookie" not in response.headers
        assert client.post("/metrics").status_code == 405


def test_a_mistyped_allowed_network_stops_the_startup_checks(settings):
    from itsm.core.checks import metrics_networks_valid

    settings.METRICS_ALLOWED_NETWORKS = ["10.0.0.0/8", "10.0.0.300/32"]
    assert [e.id for e in metrics_networks_valid()] == ["monitoring.E001"]
    settings.METRICS_ALLOWED_NETWORKS = ["10.0.0.0/8", "::1/128"]
    assert metrics_networks_valid() == []


class TestFiguresMove:
    def test_a_request_counts_for_its_view_not_its_path(self, client):
        before = scrape(client)
        client.get("/healthz")
        client.get("/no-such-page-12345/")
        after = scrape(client)
        key = {"view": "healthz", "method": "GET", "status": "200"}
        count = "itsm_http_request_duration_seconds_count"
        assert value(after, count, **key) == before.get((count, tuple(sorted(key.items()))), 0) + 1
        views = {dict(labels).get("view") for name, labels in after if name == count}
        assert "unresolved" in views
        assert not any("no-such-page" in (v or "") for v in views)

    def test_an_overdue_escalation_deadline_shows_as_sweep_lag(self, client):
        assert value(scrape(client), "itsm_escalation_sweep_lag_seconds") == 0
        incident = services.open_incident(title="Checkout down", source="monitoring", **P3)
        Incident.objects.filter(pk=incident.pk).update(
            next_deadline_at=timezone.now() - timedelta(minutes=10)
        )
        lag = value(scrape(client), "itsm_escalation_sweep_lag_seconds")
        assert 600 <= lag < 660

    def test_a_future_deadline_is_no_lag(self, client):
        incident = services.open_incident(title="Checkout down", source="monitoring", **P3)
        Incident.objects.filter(pk=incident.pk).update(
            next_deadline_at=timezone.now() + timedelta(minutes=10)
        )
        assert value(scrape(client), "itsm_escalation_sweep_lag_seconds") == 0

    def test_open_incidents_are_counted_by_priority_and_closed_ones_are_not(self, client):
        services.open_incident(title="Slow search", source="monitoring", **P3)
        services.open_incident(title="Slow login", source="monitoring", **P3)
        major = services.open_incident(title="All down", source="monitoring", **MAJOR)
        samples = scrape(client)
        priority = major.priority
        assert value(samples, "itsm_incidents_open", priority="P3") == 2
        assert value(samples, "itsm_incidents_open", priority=priority) == 1
        Incident.objects.filter(pk=major.pk).update(state="closed")
        assert value(scrape(client), "itsm_incidents_open", priority=priority) == 0

    def test_an_incident_past_its_resolution_target_counts_as_overdue(self, client):
        incident = services.open_incident(title="Slow search", source="monitoring", **P3)
        assert value(scrape(client), "itsm_incidents_resolution_overdue", priority="P3") == 0
        Incident.objects.filter(pk=incident.pk).update(
            resolution_due_at=timezone.now() - timedelta(minutes=1)
        )
        assert value(scrape(client), "itsm_incidents_resolution_overdue", priority="P3") == 1

    def test_pending_deliveries_show_their_count_and_oldest_age(self, client):
        integration, _secret = intake_services.create_integration(name="Prom", kind="generic")
        samples = scrape(client)
        assert value(samples, "itsm_intake_pending_deliveries") == 0
        assert value(samples, "itsm_intake_oldest_pending_delivery_age_seconds") == 0
        for minutes in (5, 1):
            Delivery.objects.create(
                integration=integration,
                format="generic",
                body="{}",
                received_at=timezone.now() - timedelta(minutes=minutes),
            )
        Delivery.objects.create(
            integration=integration,
            format="generic",
            body="{}",
            received_at=timezone.now() - timedelta(hours=5),
            result="accepted",
        )
        samples = scrape(client)
        assert value(samples, "itsm_intake_pending_deliveries") == 2
        assert 300 <= value(samples, "itsm_intake_oldest_pending_delivery_age_seconds") < 360

    def test_failed_notifications_are_counted_by_channel(self, client, operator):
        def failed(key, channel, created_at):
            Notification.objects.create(
                recipient=operator,
                channel=channel,
                key=key,
                title="x",
                status="failed",
                created_at=created_at,
            )

        now = timezone.now()
        failed("a", "email", now - timedelta(minutes=5))
        failed("b", "email", now - timedelta(hours=3))
        failed("c", "chat", now - timedelta(minutes=1))
        Notification.objects.create(recipient=operator, channel="email", key="d", status="sent")
        samples = scrape(client)
        assert value(samples, "itsm_notifications_failed", channel="email") == 2
        assert value(samples, "itsm_notifications_failed_last_hour", channel="email") == 1
        assert value(samples, "itsm_notifications_failed", channel="chat") == 1
        assert value(samples, "itsm_notifications_failed", channel="webhook") == 0

    def test_the_scrape_reports_every_source_up(self, client):
        samples = scrape(client)
        sources = {
            dict(labels)["source"]: v
            for (name, labels), v in samples.items()
            if name == "itsm_monitoring_source_up"
        }
        assert sources == {
            "broker": 1,
            "worker_store": 1,
            "escalation": 1,
            "incidents": 1,
            "intake": 1,
            "notifications": 1,
        }

    def test_a_failing_source_is_reported_down_and_the_rest_still_answers(
        self, client, monkeypatch
    ):
        from itsm.core.monitoring import worker

        def broker_down():
            raise ConnectionError("broker unreachable")

        monkeypatch.setattr(worker, "queue_depths", broker_down)
        samples = scrape(client)
        assert value(samples, "itsm_monitoring_source_up", source="broker") == 0
        assert value(samples, "itsm_escalation_sweep_lag_seconds") == 0
        assert not any(name == "itsm_celery_queue_length" for name, _ in samples)

    def test_a_scrape_is_a_handful_of_queries(self, client, django_assert_max_num_queries):
        with django_assert_max_num_queries(5):
            client.get("/metrics")

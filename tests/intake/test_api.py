"""The intake endpoints over HTTP: authentication by the integration's secret, PagerDuty-shaped
answers, 400 for bad bodies, 429 with Retry-After, and parallel identical deliveries."""

from __future__ import annotations

import json
import threading

import pytest
from django.db import connection
from rest_framework.test import APIClient

from incidents.models import Incident
from intake import services as intake_services
from intake.models import Alert, AlertGroup, Delivery, DeliveryResult

from .helpers import (  # noqa: F401
    am_alert,
    am_body,
    event,
    intake_worker_fixture,
    integration_fixture,
    process,
)

AM_URL = "/api/v1/integrations/alertmanager/"
EV_URL = "/api/v1/integrations/events/"


@pytest.fixture
def client_for():
    def make(secret=None):
        client = APIClient(HTTP_ACCEPT_LANGUAGE="en")
        if secret:
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
        return client

    return make


@pytest.mark.django_db
class TestAlertmanagerEndpoint:
    def test_accepts_a_webhook_and_its_delivery_names_the_incident(self, integration, client_for):
        response = client_for(integration.raw_secret).post(
            AM_URL, am_body(am_alert()), format="json"
        )
        assert response.status_code == 202, response.content
        answer = response.json()
        assert answer["status"] == "success"
        assert answer["message"] == "Delivery queued"
        assert answer["incidents"] == []
        delivery = Delivery.objects.get(pk=answer["delivery"])
        assert delivery.result == DeliveryResult.PENDING  # stored and acknowledged, not applied
        assert Incident.objects.count() == 0
        assert process(integration) == 1
        incident = Incident.objects.get()
        delivery.refresh_from_db()
        assert delivery.result == DeliveryResult.PROCESSED
        assert delivery.incidents == [incident.number]

    def test_missing_or_wrong_secret_is_401_and_stores_nothing(self, integration, client_for):
        assert client_for().post(AM_URL, am_body(am_alert()), format="json").status_code == 401
        wrong = client_for("0" * 32).post(AM_URL, am_body(am_alert()), format="json")
        assert wrong.status_code == 401
        assert wrong.json()["code"] == "not_authenticated"
        assert Delivery.objects.count() == 0

    def test_a_users_api_token_is_not_an_integration_secret(self, integration, api_as, ops_manager):
        response = api_as(ops_manager).post(AM_URL, am_body(am_alert()), format="json")
        assert response.status_code == 401

    def test_events_only_integration_cannot_post_alertmanager(self, db, client_for):
        _found, raw = intake_services.create_integration(name="PD", kind="events_v2")
        assert client_for(raw).post(AM_URL, am_body(am_alert()), format="json").status_code == 401

    def test_revoked_secret_is_refused(self, integration, client_for):
        intake_services.revoke_secret(integration, actor=None)
        response = client_for(integration.raw_secret).post(
            AM_URL, am_body(am_alert()), format="json"
        )
        assert response.status_code == 401

    def test_invalid_json_is_400_and_logged_as_rejected(self, integration, client_for):
        response = client_for(integration.raw_secret).post(
            AM_URL, data=b"{not json", content_type="application/json"
        )
        assert response.status_code == 400
        assert response.json()["code"] == "invalid"
        assert "not valid JSON" in response.json()["errors"][0]
        assert Delivery.objects.get().result == DeliveryResult.REJECTED

    def test_invalid_alert_is_400_with_the_reason(self, integration, client_for):
        body = am_body(am_alert(status="burning"))
        response = client_for(integration.raw_secret).post(AM_URL, body, format="json")
        assert response.status_code == 400
        assert "alerts[0].status" in response.json()["errors"][0]

    def test_body_over_512_kb_is_400(self, integration, client_for):
        big = am_body(am_alert(annotations={"description": "x" * (520 * 1024)}))
        response = client_for(integration.raw_secret).post(AM_URL, big, format="json")
        assert response.status_code == 400
        assert "512 KB" in response.json()["detail"]

    def test_over_the_rate_limit_is_429_with_retry_after(self, integration, client_for):
        integration.rate_limit_per_minute = 1
        integration.save()
        client = client_for(integration.raw_secret)
        assert client.post(AM_URL, am_body(am_alert()), format="json").status_code == 202
        response = client.post(AM_URL, am_body(am_alert()), format="json")
        assert response.status_code == 429
        assert 1 <= int(response["Retry-After"]) <= 60

    def test_get_is_not_allowed(self, integration, client_for):
        assert client_for(integration.raw_secret).get(AM_URL).status_code == 405


@pytest.mark.django_db
class TestEventsEndpoint:
    def test_trigger_answers_like_pagerduty(self, integration, client_for):
        response = client_for().post(EV_URL, event(integration.raw_secret), format="json")
        assert response.status_code == 202
        assert response.json() == {
            "status": "success",
            "message": "Event processed",
            "dedup_key": "disk-db1",
        }
        process(integration)
        assert Incident.objects.count() == 1

    def test_trigger_without_dedup_key_returns_the_generated_one(self, integration, client_for):
        response = client_for().post(
            EV_URL, event(integration.raw_secret, dedup_key=None), format="json"
        )
        key = response.json()["dedup_key"]
        process(integration)
        assert AlertGroup.objects.get().key == key
        resolve = event(integration.raw_secret, action="resolve", dedup_key=key)
        assert client_for().post(EV_URL, resolve, format="json").status_code == 202
        process(integration)
        assert Incident.objects.get().recovered_at is not None

    def test_pagerduty_client_path_is_served_too(self, integration, client_for):
        url = EV_URL + "v2/enqueue"
        assert (
            client_for().post(url, event(integration.raw_secret), format="json").status_code == 202
        )

    def test_unknown_routing_key_is_400(self, db, client_for):
        response = client_for().post(EV_URL, event("f" * 32), format="json")
        assert response.status_code == 400
        assert response.json()["status"] == "invalid event"
        assert "routing_key" in response.json()["errors"][0]

    def test_missing_summary_is_400_with_the_message(self, integration, client_for):
        body = event(integration.raw_secret)
        del body["payload"]["summary"]
        response = client_for().post(EV_URL, body, format="json")
        assert response.status_code == 400
        assert response.json()["errors"] == ["“payload.summary” is required."]
        assert Delivery.objects.get().result == DeliveryResult.REJECTED

    def test_bad_severity_is_400(self, integration, client_for):
        response = client_for().post(
            EV_URL, event(integration.raw_secret, severity="fatal"), format="json"
        )
        assert response.status_code == 400

    @pytest.mark.parametrize("body", [b"[]", b"null", b"\xff\xfe", b'{"routing_key": 5}'])
    def test_garbage_is_400_never_500(self, db, client_for, body):
        response = client_for().post(EV_URL, data=body, content_type="application/json")
        assert response.status_code == 400

    def test_body_over_512_kb_is_400(self, integration, client_for):
        body = event(integration.raw_secret, custom_details={"blob": "x" * (520 * 1024)})
        response = client_for().post(EV_URL, body, format="json")
        assert response.status_code == 400
        assert "512 KB" in response.json()["errors"][0]

    def test_over_the_rate_limit_is_429_with_retry_after(self, integration, client_for):
        integration.rate_limit_per_minute = 1
        integration.save()
        client_for().post(EV_URL, event(integration.raw_secret), format="json")
        response = client_for().post(EV_URL, event(integration.raw_secret), format="json")
        assert response.status_code == 429
        assert response["Retry-After"].isdigit()

    def test_logged_body_hides_the_routing_key(self, integration, client_for):
        client_for().post(EV_URL, event(integration.raw_secret), format="json")
        delivery = Delivery.objects.get()
        assert integration.raw_secret not in delivery.body
        assert json.loads(delivery.body)["dedup_key"] == "disk-db1"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_parallel_identical_deliveries_open_exactly_one_incident(integration, intake_worker):
    """Alertmanager HA sends the same notification from every replica at once."""
    body = json.dumps(am_body(am_alert(), am_alert(instance="web-2")))
    secret = integration.raw_secret
    barrier = threading.Barrier(8)
    statuses = []

    def send():
        try:
            client = APIClient()
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
            barrier.wait()
            statuses.append(
                client.post(AM_URL, data=body, content_type="application/json").status_code
            )
        finally:
            connection.close()

    threads = [threading.Thread(target=send) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses == [202] * 8
    assert intake_worker
    assert Incident.objects.count() == 1
    assert AlertGroup.objects.count() == 1
    assert Alert.objects.count() == 2
    assert set(Delivery.objects.values_list("result", flat=True)) == {DeliveryResult.PROCESSED}
    assert sum(Alert.objects.values_list("repeat_count", flat=True)) == 2 * 7


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_parallel_events_for_one_dedup_key_open_exactly_one_incident(integration, intake_worker):
    body = json.dumps(event(integration.raw_secret, dedup_key="race"))
    barrier = threading.Barrier(8)
    statuses = []

    def send():
        try:
            barrier.wait()
            statuses.append(
                APIClient().post(EV_URL, data=body, content_type="application/json").status_code
            )
        finally:
            connection.close()

    threads = [threading.Thread(target=send) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses == [202] * 8
    assert intake_worker  # the doorbell rang after commit (coalesced while a run was queued)
    assert Incident.objects.count() == 1
    assert Alert.objects.get().repeat_count == 7
    assert set(Delivery.objects.values_list("result", flat=True)) == {DeliveryResult.PROCESSED}


@pytest.mark.django_db
def test_a_routing_key_with_a_nul_character_is_refused_not_a_500(integration, client_for):
    """Found by the API fuzz: PostgreSQL refuses NUL in a query parameter."""
    key = integration.raw_secret[:5] + "\x00" + integration.raw_secret[6:]
    response = client_for().post(EV_URL, event(key), format="json")
    assert response.status_code == 400
    assert "routing_key" in response.json()["errors"][0]
    bearer = client_for(key).post(AM_URL, am_body(am_alert()), format="json")
    assert bearer.status_code == 401
    assert not Delivery.objects.exists()

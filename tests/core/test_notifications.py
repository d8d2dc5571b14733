"""Notifications: once per event, person and channel; email/webhook after commit with retries;
visible in the portal (bell, page, preferences)."""

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from django.core import mail

from itsm.core import notifications
from itsm.core.models import Notification, NotificationPreference, TeamWebhook
from tests.factories import TeamFactory

pytestmark = pytest.mark.django_db

EMAIL = Notification.Channel.EMAIL
IN_APP = Notification.Channel.IN_APP


def _email_row(user, key):
    return Notification.objects.get(recipient=user, key=key, channel=EMAIL)


def test_notify_is_idempotent_per_key_and_channel(operator, ops_leader):
    first = notifications.notify([operator, ops_leader], key="INC-1:breach", title="SLA breached")
    again = notifications.notify([operator], key="INC-1:breach", title="SLA breached")
    assert len(first) == 2
    assert again == []
    rows = Notification.objects.filter(recipient=operator)
    assert sorted(rows.values_list("channel", flat=True)) == [EMAIL, IN_APP]


def test_email_is_sent_once_even_when_delivery_runs_twice(operator):
    notifications.notify([operator], key="k1", title="Escalated to L2", url="/incidents/")
    row = _email_row(operator, "k1")
    assert notifications.deliver_notification(row.pk) is True
    assert notifications.deliver_notification(row.pk) is False
    assert len(mail.outbox) == 1
    assert "Escalated to L2" in mail.outbox[0].subject
    assert mail.outbox[0].to == [operator.email]
    row.refresh_from_db()
    assert (row.status, row.attempts) == ("sent", 1)


def test_pending_sweep_delivers_what_the_broker_lost(operator):
    notifications.notify([operator], key="k2", title="Change approved")
    assert notifications.deliver_pending() == 1
    assert notifications.deliver_pending() == 0
    assert len(mail.outbox) == 1


def test_email_preference_off_means_in_app_only(operator):
    notifications.set_preferences(operator, email=False)
    notifications.notify([operator], key="k4", title="Quiet")
    assert list(Notification.objects.filter(key="k4").values_list("channel", flat=True)) == [IN_APP]


class _Hook(BaseHTTPRequestHandler):
    status = 200
    bodies: list = []

    def do_POST(self):  # noqa: N802 - http.server API
        length = int(self.headers["Content-Length"])
        type(self).bodies.append(json.loads(self.rfile.read(length)))
        self.send_response(type(self).status)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def hook_server():
    _Hook.bodies = []
    _Hook.status = 200
    server = HTTPServer(("127.0.0.1", 0), _Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()


@pytest.mark.parametrize("fmt", ["generic", "slack"])
def test_team_webhook_posts_generic_or_slack_body(hook_server, fmt):
    team = TeamFactory()
    TeamWebhook.objects.create(
        team=team, url=f"http://127.0.0.1:{hook_server.server_port}/hook", format=fmt
    )
    notifications.notify([], key="INC-9:c1:L2", title="INC-9 escalated", url="/x/", teams=[team])
    row = Notification.objects.get(team=team)
    assert notifications.deliver_notification(row.pk) is True
    [body] = _Hook.bodies
    if fmt == "slack":
        assert body["text"].startswith("*INC-9 escalated*")
    else:
        assert body["event"] == "INC-9:c1:L2" and body["team"] == team.slug


def test_failing_webhook_is_retried_then_recorded_failed(hook_server, settings):
    settings.NOTIFICATION_RETRY_DELAYS = (0, 0)
    _Hook.status = 500
    team = TeamFactory()
    TeamWebhook.objects.create(team=team, url=f"http://127.0.0.1:{hook_server.server_port}/")
    notifications.notify([], key="k5", title="x", teams=[team])
    row = Notification.objects.get(team=team)
    for _ in range(5):
        notifications.deliver_notification(row.pk)
    row.refresh_from_db()
    assert (row.status, row.attempts) == ("failed", 3)
    assert "500" in row.error
    assert len(_Hook.bodies) == 3


def test_notification_page_lists_marks_read_and_saves_preferences(client, operator, ops_leader):
    notifications.notify([operator], key="k3", title="Backup failed <script>")
    notifications.notify([ops_leader], key="k3", title="Not yours")
    client.force_login(operator)
    page = client.get("/notifications/")
    body = page.content.decode()
    assert "Backup failed &lt;script&gt;" in body
    assert "Not yours" not in body
    assert 'data-testid="unread-count">1<' in client.get("/notifications/bell/").content.decode()
    client.post("/notifications/")
    assert not notifications.inbox(operator).filter(read_at__isnull=True).exists()
    saved = client.post(
        "/notifications/",
        {"action": "preferences", "time_zone": "Asia/Tokyo", "chat_format": "slack"},
    )
    assert saved.status_code == 302
    assert NotificationPreference.objects.get(user=operator).email is False
    assert client.post("/notifications/", {"action": "read", "id": "x"}).status_code == 400


def test_opening_a_notification_marks_it_read_and_follows_its_link(client, operator, ops_leader):
    [mine] = notifications.notify([operator], key="k6", title="t", url="/incidents/")
    [theirs] = notifications.notify([ops_leader], key="k6", title="t", url="/incidents/")
    client.force_login(operator)
    response = client.get(f"/notifications/{mine.pk}/")
    assert response.status_code == 302 and response["Location"] == "/incidents/"
    mine.refresh_from_db()
    assert mine.read_at is not None
    assert client.get(f"/notifications/{theirs.pk}/").status_code == 404

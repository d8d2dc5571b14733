"""Notifications: once per event and person, email after commit, visible in the portal."""

import pytest
from django.core import mail

from itsm.core import notifications
from itsm.core.models import Notification

pytestmark = pytest.mark.django_db


def test_notify_is_idempotent_per_key(operator, ops_leader):
    first = notifications.notify([operator, ops_leader], key="INC-1:breach", title="SLA breached")
    again = notifications.notify([operator], key="INC-1:breach", title="SLA breached")
    assert len(first) == 2
    assert again == []
    assert Notification.objects.filter(recipient=operator).count() == 1


def test_email_is_sent_once_even_when_delivery_runs_twice(operator):
    [n] = notifications.notify([operator], key="k1", title="Escalated to L2", url="/incidents/")
    assert notifications.deliver_notification(n.pk) is True
    assert notifications.deliver_notification(n.pk) is False
    assert len(mail.outbox) == 1
    assert "Escalated to L2" in mail.outbox[0].subject
    assert mail.outbox[0].to == [operator.email]


def test_pending_sweep_delivers_what_the_broker_lost(operator):
    notifications.notify([operator], key="k2", title="Change approved")
    assert notifications.deliver_pending() == 1
    assert notifications.deliver_pending() == 0
    assert len(mail.outbox) == 1


def test_notification_page_lists_and_marks_read(client, operator, ops_leader):
    notifications.notify([operator], key="k3", title="Backup failed <script>")
    notifications.notify([ops_leader], key="k3", title="Not yours")
    client.force_login(operator)
    page = client.get("/notifications/")
    body = page.content.decode()
    assert "Backup failed &lt;script&gt;" in body
    assert "Not yours" not in body
    client.post("/notifications/")
    assert not Notification.objects.filter(recipient=operator, read_at__isnull=True).exists()

"""The update cadence and the delivery of updates through a real Celery worker on Redis (issue 17
§5): due → the commander reminded once, overdue → the escalation reason; a posted update reaches
its subscribers by the worker's tasks (in-app and email)."""

from datetime import timedelta

import pytest
import time_machine
from django.core import mail

from comms import services, tasks
from comms.choices import Audience, UpdateStatus
from comms.models import StakeholderUpdate
from incidents.models import EscalationReason, EscalationStep
from itsm.core.models import DeliveryStatus, Notification
from tests.conftest import wait_until

from .conftest import T0

# serialized_rollback: the escalation policies seeded by migration stay for the overdue step.
pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def at(minutes: float):
    return T0 + timedelta(minutes=minutes)


def test_cadence_and_delivery_through_a_real_worker(
    celery_worker, file_incident, commander, make_user
):
    subscriber = make_user(username="cfo", email="cfo@example.com")
    incident = file_incident("P1")
    quiet = file_incident("P3", title="Slow search")  # its updates mark the worker's progress
    services.assign_roles(incident, actor=commander, commander=commander)
    services.subscribe(actor=commander, incident=incident, user=subscriber)
    reminders = Notification.objects.filter(
        recipient=commander, channel="in_app", message="comms.update_due"
    )

    def sentinel(minutes):
        """Tasks run in order on the one worker: once this update is delivered, the tasks sent
        before it are done."""
        with time_machine.travel(at(minutes), tick=True):
            update = services.post_update(
                quiet, actor=commander, status=UpdateStatus.INVESTIGATING, message_en="x"
            )
        delivered = StakeholderUpdate.objects.filter(pk=update.pk, delivered_at__isnull=False)
        return delivered.exists

    with time_machine.travel(at(26), tick=True):
        tasks.sweep_updates.delay()
        tasks.sweep_updates.delay()
    wait_until(sentinel(26.5))
    assert reminders.count() == 1

    with time_machine.travel(at(41), tick=True):
        tasks.sweep_updates.delay()
        wait_until(
            lambda: EscalationStep.objects.filter(
                incident=incident, reason=EscalationReason.UPDATE_OVERDUE
            ).exists()
        )

    with time_machine.travel(at(42), tick=True):
        update = services.post_update(
            incident,
            actor=commander,
            status=UpdateStatus.IDENTIFIED,
            audience=Audience.INTERNAL,
            message_en="Pool exhausted; enlarging it.",
        )
        wait_until(
            lambda: Notification.objects.filter(
                recipient=subscriber,
                channel="email",
                key=f"comms.update:{update.pk}",
                status=DeliveryStatus.SENT,
            ).exists()
        )
    assert Notification.objects.filter(
        recipient=subscriber, channel="in_app", key=f"comms.update:{update.pk}"
    ).exists()
    assert any("Pool exhausted" in m.body for m in mail.outbox if "cfo@example.com" in m.to)
    update.refresh_from_db()
    assert update.recipients == 1 and update.delivered_at is not None

"""Upgrading an install from before the intake had its own app (issue 15): the integrations,
rules, alert groups, alerts and deliveries stay where they are, rows and links intact; their
permissions and audit trail follow them to the ``intake`` app."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

BEFORE = ("incidents", "0011_response_clock_from_receipt")


def _migrate(*, before: bool):
    """Migrate every app to its latest migration, or to just before the intake's move; the
    models as they are then."""
    executor = MigrationExecutor(connection)
    nodes = executor.loader.graph.leaf_nodes()
    if before:
        # comms came later and builds on the incidents after the move: not installed yet.
        later = ("incidents", "intake", "comms")
        nodes = [BEFORE] + [node for node in nodes if node[0] not in later]
        executor.migrate([*nodes, ("intake", None), ("comms", None)])
    else:
        executor.migrate(nodes)
    return MigrationExecutor(connection).loader.project_state(nodes).apps


@pytest.mark.django_db(transaction=True, serialized_rollback=True)  # seeded rows come back
def test_upgrade_keeps_the_intake_data_its_permissions_and_its_audit_trail():
    old = _migrate(before=True)
    OldContentType = old.get_model("contenttypes", "ContentType")
    OldPermission = old.get_model("auth", "Permission")
    # The content types and permissions an install had (created by post_migrate back then).
    cts = {
        model: OldContentType.objects.get_or_create(app_label="incidents", model=model)[0]
        for model in ("integration", "mappingrule", "alertgroup", "alert", "delivery")
    }
    view, _ = OldPermission.objects.get_or_create(
        content_type=cts["integration"],
        codename="view_integration",
        defaults={"name": "Can view monitoring integration"},
    )
    group = old.get_model("auth", "Group").objects.create(name="night shift")
    group.permissions.add(view)

    Integration = old.get_model("incidents", "Integration")
    now = timezone.now()
    integration = Integration.objects.create(
        name="Prometheus", kind="alertmanager", secret_prefix="abcd1234", secret_digest="0" * 64
    )
    old.get_model("incidents", "MappingRule").objects.create(
        integration=integration, order=10, label="severity", value="critical", priority="P1"
    )
    incident = old.get_model("incidents", "Incident").objects.create(
        number="INC-000042", title="Disk full", source="monitoring", priority="P1"
    )
    group_row = old.get_model("incidents", "AlertGroup").objects.create(
        integration=integration, key="{}:{alertname=DiskFull}", incident=incident, labels={}
    )
    old.get_model("incidents", "Alert").objects.create(
        group=group_row,
        incident=incident,
        fingerprint="f1",
        status="firing",
        name="DiskFull",
        first_seen_at=now,
        last_seen_at=now,
    )
    old.get_model("incidents", "Delivery").objects.create(
        integration=integration, format="alertmanager", body="{}", incidents=["INC-000042"]
    )
    old.get_model("core", "AuditEvent").objects.create(
        content_type=cts["integration"],
        object_id=str(integration.pk),
        object_repr="Prometheus",
        action="create",
    )

    _migrate(before=False)
    ContentType.objects.clear_cache()

    from incidents.models import Incident
    from intake.models import Alert, AlertGroup, Delivery, Integration, MappingRule
    from itsm.core.audit import events_for

    moved = Integration.objects.get(pk=integration.pk)
    assert moved.name == "Prometheus" and moved.rules.get().priority == "P1"
    group_after = AlertGroup.objects.get(pk=group_row.pk)
    assert group_after.integration == moved and group_after.incident.number == "INC-000042"
    assert Alert.objects.get().group == group_after
    assert Incident.objects.get(number="INC-000042").alerts.get().fingerprint == "f1"
    assert Delivery.objects.get().incidents == ["INC-000042"]
    assert MappingRule.objects.count() == 1
    # The same content type rows, relabelled: permissions and audit events point at them.
    for model, ct in cts.items():
        assert ContentType.objects.get(pk=ct.pk).app_label == "intake", model
    assert ContentType.objects.get_for_model(Integration).pk == cts["integration"].pk
    assert Group.objects.get(name="night shift").permissions.get() == Permission.objects.get(
        content_type__app_label="intake", codename="view_integration"
    )
    assert [event.action for event in events_for(moved)] == ["create"]
    # What the migration left behind is what a fresh install has: nothing more to migrate.
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)

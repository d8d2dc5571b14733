"""The cadence and implied service status per priority (issue 17 §1, §3), as editable data."""

from django.db import migrations

RULES = {
    "P1": (30, 10, "major_outage"),
    "P2": (60, 15, "partial_outage"),
    "P3": (None, 15, "degraded"),
    "P4": (None, 15, "degraded"),
}


def seed(apps, schema_editor):
    PriorityComms = apps.get_model("comms", "PriorityComms")
    for priority, (every, grace, status) in RULES.items():
        PriorityComms.objects.get_or_create(
            priority=priority,
            defaults={
                "update_every_minutes": every,
                "overdue_after_minutes": grace,
                "service_status": status,
            },
        )


class Migration(migrations.Migration):
    dependencies = [("comms", "0001_initial")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]

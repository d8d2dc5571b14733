"""Seed the configuration tables from the seed standard (§8.1 classification, §8.3.2 triage,
§8.3.3 recovery procedure). Rows that exist are left alone, so admins' edits survive a
re-run; afterwards the admin is where these values change."""

from django.db import migrations

TRIAGE_MATRIX = [
    ("all_users", "revenue_loss", "P1"),
    ("all_users", "reputation", "P1"),
    ("all_users", "minor", "P2"),
    ("some_users", "revenue_loss", "P2"),
    ("some_users", "reputation", "P2"),
    ("some_users", "minor", "P3"),
    ("single_feature", "revenue_loss", "P2"),
    ("single_feature", "reputation", "P3"),
    ("single_feature", "minor", "P4"),
]
URGENCY_SHIFT = [("immediate", 0), ("planned", 1)]


def seed(apps, schema_editor):
    from incidents.defaults import DEFAULT_RUNBOOK, RESPONSE_TARGETS

    TriageRule = apps.get_model("incidents", "TriageRule")
    UrgencyRule = apps.get_model("incidents", "UrgencyRule")
    ResponseTarget = apps.get_model("incidents", "ResponseTarget")
    IncidentPolicy = apps.get_model("incidents", "IncidentPolicy")
    Runbook = apps.get_model("incidents", "Runbook")
    RunbookStep = apps.get_model("incidents", "RunbookStep")
    for scope, impact, priority in TRIAGE_MATRIX:
        TriageRule.objects.get_or_create(
            impact_scope=scope, business_impact=impact, defaults={"priority": priority}
        )
    for urgency, shift in URGENCY_SHIFT:
        UrgencyRule.objects.get_or_create(urgency=urgency, defaults={"priority_shift": shift})
    for priority, (minutes, clock, definition, examples) in RESPONSE_TARGETS.items():
        ResponseTarget.objects.get_or_create(
            priority=priority,
            defaults={
                "minutes": minutes,
                "clock": str(clock),
                "definition": definition,
                "examples": examples,
            },
        )
    IncidentPolicy.objects.get_or_create(pk=1)
    runbook, created = Runbook.objects.get_or_create(
        name=DEFAULT_RUNBOOK["name"], defaults={"description": DEFAULT_RUNBOOK["description"]}
    )
    if created:
        for order, (title, instructions) in enumerate(DEFAULT_RUNBOOK["steps"], start=1):
            RunbookStep.objects.create(
                runbook=runbook, order=order, title=title, instructions=instructions
            )


class Migration(migrations.Migration):
    dependencies = [("incidents", "0001_initial")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]

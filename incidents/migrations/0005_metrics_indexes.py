"""Indexes for the dashboard's metric queries (issue 9; docs/metrics.md § Performance).

Plain SQL rather than ``Meta.indexes`` because PostgreSQL gets a covering index (``INCLUDE``), so
the 30-day aggregates read the index alone; other databases get the plain index. The model
state is unchanged, so ``makemigrations --check`` stays clean.
"""

from django.db import migrations

INDEXES = {
    # the cohort of every incident figure: detected in [since, until), optionally one service
    "incident_metrics_detected": (
        "incidents_incident",
        ["detected_at"],
        [
            "priority",
            "state",
            "service_id",
            "response_due_at",
            "response_started_at",
            "recovered_at",
            "escalation_level",
        ],
    ),
    "incident_metrics_service_detected": (
        "incidents_incident",
        ["service_id", "detected_at"],
        ["priority", "state", "response_due_at", "response_started_at", "recovered_at"],
    ),
}


def create(apps, schema_editor):
    postgres = schema_editor.connection.vendor == "postgresql"
    for name, (table, columns, include) in INDEXES.items():
        sql = f"CREATE INDEX IF NOT EXISTS {name} ON {table} ({', '.join(columns)})"
        if postgres and include:
            sql += f" INCLUDE ({', '.join(include)})"
        schema_editor.execute(sql)


def drop(apps, schema_editor):
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("incidents", "0004_intake")]

    operations = [migrations.RunPython(create, drop)]

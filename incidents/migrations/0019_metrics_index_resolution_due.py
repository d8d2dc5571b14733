"""The dashboard's covering indexes also carry ``resolution_due_at`` (issue 20).

Issue 18 judged resolution compliance on the stored deadline, a column the covering indexes of
0005 did not include: the 30-day aggregates went from an index-only scan to reading ~40,000
incident rows at 1M incidents (page p95 218 ms → over 1 s). Recreated with the column; the
model state is unchanged (plain SQL, like 0005).
"""

from django.db import migrations

INCLUDE = [
    "priority",
    "state",
    "service_id",
    "response_due_at",
    "response_started_at",
    "recovered_at",
    "escalation_level",
]
INDEXES = {
    "incident_metrics_detected": ["detected_at"],
    "incident_metrics_service_detected": ["service_id", "detected_at"],
}


def _create(schema_editor, include: list[str]) -> None:
    postgres = schema_editor.connection.vendor == "postgresql"
    for name, columns in INDEXES.items():
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")
        sql = f"CREATE INDEX {name} ON incidents_incident ({', '.join(columns)})"
        if postgres:
            extra = [c for c in include if c not in columns]
            sql += f" INCLUDE ({', '.join(extra)})"
        schema_editor.execute(sql)


def forwards(apps, schema_editor):
    _create(schema_editor, [*INCLUDE, "resolution_due_at"])


def backwards(apps, schema_editor):
    _create(schema_editor, INCLUDE)


class Migration(migrations.Migration):
    dependencies = [("incidents", "0018_timeline_attachment")]

    operations = [migrations.RunPython(forwards, backwards)]

"""Indexes for the dashboard's metric queries (issue 9; docs/metrics.md § Performance).

Plain SQL rather than ``Meta.indexes`` because PostgreSQL gets a covering index (``INCLUDE``), so
the 30-day aggregates read the index alone; other databases get the plain index. The model
state is unchanged, so ``makemigrations --check`` stays clean.
"""

from django.db import migrations

INDEXES = {
    "change_metrics_submitted": (
        "changes_changerequest",
        ["submitted_at"],
        ["change_class_id"],
    ),
    "change_metrics_implemented": (
        "changes_changerequest",
        ["implementation_started_at"],
        ["outcome"],
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
    dependencies = [("changes", "0002_seed_classes_and_criteria")]

    operations = [migrations.RunPython(create, drop)]

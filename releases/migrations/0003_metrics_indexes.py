"""Indexes for the dashboard's metric queries (issue 9; docs/metrics.md § Performance).

Plain SQL rather than ``Meta.indexes`` because PostgreSQL gets a covering index (``INCLUDE``), so
the 30-day aggregates read the index alone; other databases get the plain index. The model
state is unchanged, so ``makemigrations --check`` stays clean.
"""

from django.db import migrations

INDEXES = {
    # DORA: production deployments that started in the period
    "deployment_metrics_env_started": (
        "releases_deployment",
        ["environment_id", "started_at"],
        ["result", "release_id", "finished_at"],
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
    dependencies = [("releases", "0002_default_environments_and_cadences")]

    operations = [migrations.RunPython(create, drop)]

"""Indexes for the incident list, its search and the API list at a million incidents (issue 3 §9).

- ``incident_list_urgency``: the list's sort keys exactly as ``selectors.by_response_urgency``
  writes them (bucket: untriaged 0 / open 1 / closed 2; the response deadline of open incidents;
  newest first), so a page of the list is an index walk instead of a sort of every match.
- ``incident_open_id``: open incidents by id, for the API's keyset pages with ``open=true``.
- ``incident_number_upper``: the search's exact number match (``number__iexact``).
- PostgreSQL only: trigram indexes (pg_trgm) on the searched title and description, so a rare
  word is found through the index rather than by reading every row. Skipped with a warning
  when the extension cannot be created (then a rare word still works, only slower).

Plain SQL rather than ``Meta.indexes`` (like 0005): expression and partial indexes whose text
must match the queries; the model state is unchanged, so ``makemigrations --check`` stays clean.
"""

import logging

from django.db import migrations, transaction

log = logging.getLogger(__name__)

TABLE = "incidents_incident"
# Keep in step with selectors.URGENCY_BUCKET / URGENCY_DUE (a test compares the plans).
BUCKET = "(CASE WHEN state = 'detected' THEN 0 WHEN state = 'closed' THEN 2 ELSE 1 END)"
DUE = "(CASE WHEN state = 'closed' THEN NULL ELSE response_due_at END)"

INDEXES = {
    # SQLite has no NULLS LAST in an index (there the index only narrows, it cannot order)
    "incident_list_urgency": f"{TABLE} ({BUCKET}, {DUE}{{nulls_last}}, id DESC)",
    "incident_open_id": f"{TABLE} (id) WHERE state <> 'closed'",
    "incident_number_upper": f"{TABLE} (UPPER(number))",
}
TRIGRAM_INDEXES = {
    "incident_title_trgm": f"{TABLE} USING gin (UPPER(title) gin_trgm_ops)",
    "incident_description_trgm": f"{TABLE} USING gin (UPPER(description) gin_trgm_ops)",
}


def _has_trigram(schema_editor) -> bool:
    try:
        with transaction.atomic(using=schema_editor.connection.alias):
            schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except Exception:  # noqa: BLE001 - no privilege or not installed: search works without it
        log.warning("pg_trgm unavailable: incident search will not use trigram indexes")
        return False
    return True


def create(apps, schema_editor):
    indexes = dict(INDEXES)
    if schema_editor.connection.vendor == "postgresql" and _has_trigram(schema_editor):
        indexes.update(TRIGRAM_INDEXES)
    nulls_last = " NULLS LAST" if schema_editor.connection.vendor == "postgresql" else ""
    for name, definition in indexes.items():
        definition = definition.replace("{nulls_last}", nulls_last)
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {definition}")


def drop(apps, schema_editor):
    for name in [*INDEXES, *TRIGRAM_INDEXES]:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("incidents", "0006_alert_group_latest_index")]

    operations = [migrations.RunPython(create, drop)]

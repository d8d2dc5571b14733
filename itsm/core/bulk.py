"""Writing many rows of one model at once."""

from __future__ import annotations

import json
from datetime import date, datetime, time

from django.db import connection


def update_each(objs: list, fields: list[str]) -> None:
    """Store ``fields`` of each of ``objs`` (one model) in one statement: ``UPDATE … FROM
    (VALUES …)`` on PostgreSQL (``bulk_update``'s CASE per row costs more to build than to
    run), ``bulk_update`` elsewhere."""
    if not objs:
        return
    model = type(objs[0])
    if connection.vendor != "postgresql":
        model.objects.bulk_update(objs, fields)
        return
    quote = connection.ops.quote_name
    pk = model._meta.pk
    columns = [pk, *(model._meta.get_field(name) for name in fields)]
    row = "(" + ", ".join(f"%s::{c.db_type(connection)}" for c in columns) + ")"
    sql = "UPDATE {table} AS t SET {sets} FROM (VALUES {rows}) AS v({names}) WHERE t.{pk} = v.{pk}"
    sql = sql.format(
        table=quote(model._meta.db_table),
        sets=", ".join(f"{quote(c.column)} = v.{quote(c.column)}" for c in columns[1:]),
        rows=", ".join([row] * len(objs)),
        names=", ".join(quote(c.column) for c in columns),
        pk=quote(pk.column),
    )
    params = [
        c.get_db_prep_save(getattr(obj, c.attname), connection) for obj in objs for c in columns
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def insert_rows(objs: list) -> list:
    """``bulk_create`` of new rows of one model, setting their ids; on PostgreSQL the rows
    travel as one JSON parameter expanded by ``jsonb_populate_recordset`` (the way
    ``intake.alerts`` inserts a storm's alerts): the query compiler's work per value was most
    of an escalation sweep's time. Values are the attributes, ``pre_save`` for the fields that
    set themselves (``auto_now``); no signals, as ``bulk_create``."""
    if not objs:
        return objs
    model = type(objs[0])
    if connection.vendor != "postgresql":
        return model.objects.bulk_create(objs)
    meta = model._meta
    pk = meta.pk
    fields = [f for f in meta.concrete_fields if f is not pk]
    automatic = [
        f for f in fields if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)
    ]
    rows = []
    for obj in objs:
        # A related row saved after it was assigned (a page's step): its id onto this row.
        obj._prepare_related_fields_for_save(operation_name="insert_rows")
        for field in automatic:
            field.pre_save(obj, True)
        rows.append({f.column: getattr(obj, f.attname) for f in fields})
    quote = connection.ops.quote_name
    table, columns = quote(meta.db_table), ", ".join(quote(f.column) for f in fields)
    sql = (
        f"INSERT INTO {table} ({columns}) SELECT {columns} "  # noqa: S608 - names from _meta
        f"FROM jsonb_populate_recordset(NULL::{table}, %s::jsonb) RETURNING {quote(pk.column)}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [json.dumps(rows, default=_json_value, ensure_ascii=False)])
        ids = [row[0] for row in cursor.fetchall()]
    for obj, pk_value in zip(objs, ids, strict=True):
        setattr(obj, pk.attname, pk_value)
        obj._state.adding = False
        obj._state.db = connection.alias
    return objs


def _json_value(value):
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return str(value)  # Decimal, UUID, lazy translations

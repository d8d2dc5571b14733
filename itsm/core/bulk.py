"""Writing many rows of one model at once."""

from __future__ import annotations

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

"""Writing many rows of one model at once."""

from __future__ import annotations

import orjson
from django.db import connection
from django.db.models.base import ModelState


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


def insert_rows(*groups: list) -> None:
    """``bulk_create`` of new rows, setting their ids: each of ``groups`` a list of rows of one
    model. On PostgreSQL one statement for all of them: each list travels as one JSON parameter
    expanded by ``jsonb_populate_recordset`` (the way ``intake.alerts`` inserts a storm's
    alerts; the query compiler's work per value was most of an escalation sweep's time),
    encoded by orjson (the standard library's encoder took a tenth of a sweep step), each
    in its own ``INSERT`` of a ``WITH`` (a round trip per list was most of an opening's
    queries). Rows may name rows of an earlier list only once those have their ids: the lists
    are inserted together. Values are the attributes, ``pre_save`` for the fields that set
    themselves (``auto_now``); no signals, as ``bulk_create``."""
    groups = [objs for objs in groups if objs]
    if not groups:
        return
    if connection.vendor != "postgresql":
        for objs in groups:
            type(objs[0]).objects.bulk_create(objs)
        return
    quote = connection.ops.quote_name
    inserts, params = [], []
    for n, objs in enumerate(groups):
        meta = type(objs[0])._meta
        fields = [f for f in meta.concrete_fields if not f.primary_key or f.is_relation]
        automatic = [
            f for f in fields if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)
        ]
        related = [f for f in fields if f.many_to_one or f.one_to_one]
        rows = []
        for obj in objs:
            _related_ids(obj, related)
            for field in automatic:
                field.pre_save(obj, True)
            rows.append({f.column: getattr(obj, f.attname) for f in fields})
        table, columns = quote(meta.db_table), ", ".join(quote(f.column) for f in fields)
        inserts.append(
            f"i{n} AS (INSERT INTO {table} ({columns}) SELECT {columns} "  # noqa: S608 - _meta
            f"FROM jsonb_populate_recordset(NULL::{table}, %s::jsonb) "
            f"RETURNING {quote(meta.pk.column)})"
        )
        params.append(orjson.dumps(rows, default=str, option=orjson.OPT_NON_STR_KEYS).decode())
    ids = " UNION ALL ".join(f"SELECT {n}, * FROM i{n}" for n in range(len(groups)))  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(f"WITH {', '.join(inserts)} {ids}", params)
        returned = cursor.fetchall()
    for n, objs in enumerate(groups):
        pks = [pk for group, pk in returned if group == n]
        for obj, pk_value in zip(objs, pks, strict=True):
            setattr(obj, obj._meta.pk.attname, pk_value)
            obj._state.adding = False
            obj._state.db = connection.alias


def _related_ids(obj, fields) -> None:
    """A related row saved after it was assigned (a page's step): its id onto ``obj``, as
    ``Model._prepare_related_fields_for_save`` does for a save."""
    cached = obj._state.fields_cache
    for field in fields:
        if field.name in cached and getattr(obj, field.attname) is None:
            target = cached[field.name]
            if target is None:
                continue
            value = getattr(target, field.target_field.attname)
            if value is None:
                raise ValueError(f"insert_rows: {field.name} of {obj!r} is not saved")
            setattr(obj, field.attname, value)


def copy_row(prototype, *, related: dict | None = None, **values):
    """A new, unsaved row like ``prototype`` (an unsaved row of the same model) with
    ``values`` (by attribute name: ``recipient_id``) and the ``related`` objects (by field
    name) set — without ``Model.__init__``, which costs most of building the thousands of
    rows of an escalation burst (issue 20). Nothing is shared with the prototype but its
    values (which are not copied: give mutable ones anew in ``values``)."""
    row = object.__new__(type(prototype))
    row.__dict__.update(prototype.__dict__)
    row._state = ModelState()
    row.__dict__.update(values)
    for name, target in (related or {}).items():
        field = row._meta.get_field(name)
        row.__dict__[field.attname] = None if target is None else target.pk
        row._state.fields_cache[name] = target
    return row

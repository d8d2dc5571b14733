"""Statistics shared by the dashboards of several apps: conditional counts and duration
percentiles per group in one query (``grouped_stats``), PostgreSQL's ``percentile_cont`` and the
same interpolation in Python for the other databases (``percentile_cont``), minutes and shares
as the dashboard shows them. Definitions of the figures: docs/metrics.md."""

from __future__ import annotations

import math
from datetime import timedelta

from django.db import connections
from django.db.models import (
    Aggregate,
    Count,
    DurationField,
    Expression,
    F,
    FloatField,
    Func,
    Q,
    QuerySet,
)

PERCENTILES = {"p50": 0.5, "p90": 0.9}


class PercentileCont(Aggregate):
    """PostgreSQL's ordered-set aggregate ``percentile_cont(f) WITHIN GROUP (ORDER BY x)``.

    NULLs are ignored, so an incident not yet responded to simply does not count."""

    function = "percentile_cont"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    allow_distinct = False

    def __init__(self, expression, fraction: float, **extra):
        fraction = float(fraction)
        if not 0 <= fraction <= 1:
            raise ValueError("fraction must be within [0, 1]")
        super().__init__(expression, fraction=fraction, output_field=DurationField(), **extra)


class EpochSeconds(Func):
    """PostgreSQL: a duration as float seconds (``date_part('epoch', interval)``), narrower and
    cheaper to sort than the interval, and the same arithmetic as the Python interpolation."""

    template = "date_part('epoch', %(expressions)s)"
    output_field = FloatField()


def percentile_cont(values: list[float], fraction: float) -> float | None:
    """The same interpolation as PostgreSQL's percentile_cont, for the other databases."""
    if not values:
        return None
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    lower, upper = math.floor(position), math.ceil(position)
    return ordered[lower] + (ordered[upper] - ordered[lower]) * (position - lower)


def minutes(value) -> float | None:
    if value is None:
        return None
    seconds = value.total_seconds() if isinstance(value, timedelta) else float(value)
    return round(seconds / 60, 1)


def grouped_stats(
    qs: QuerySet,
    *,
    group: dict[str, Expression | str] | None = None,
    counts: dict[str, Q] | None = None,
    durations: dict[str, tuple[str, str]] | None = None,
    counted: str = "pk",
) -> list[dict]:
    """Conditional counts and duration percentiles (minutes) of ``qs`` per ``group``.

    One query on PostgreSQL; two elsewhere (the durations are read and interpolated in Python).
    Without ``group`` the result is a single row for the whole queryset."""
    group, counts, durations = group or {}, counts or {}, durations or {}
    names = list(group)
    base = qs.annotate(**{k: v for k, v in group.items() if not isinstance(v, str)})
    keys = [v if isinstance(v, str) else k for k, v in group.items()]
    in_db = connections[qs.db].vendor == "postgresql"
    aggregates = {name: Count(counted, filter=q or None) for name, q in counts.items()}
    for name, (end, start) in durations.items():
        aggregates[f"{name}_n"] = Count(counted, filter=Q(**{f"{end}__isnull": False}))
        if in_db:
            for label, fraction in PERCENTILES.items():
                aggregates[f"{name}_{label}"] = PercentileCont(F(end) - F(start), fraction)
    if keys:
        rows = list(base.values(*keys).annotate(**aggregates).order_by(*keys))
        for row in rows:
            for name, key in zip(names, keys, strict=True):
                row[name] = row.pop(key) if name != key else row[key]
    else:
        rows = [base.aggregate(**aggregates)]
    if durations and not in_db:
        samples: dict[tuple, dict[str, list[float]]] = {}
        fields = [f for pair in durations.values() for f in pair]
        for values in base.values_list(*keys, *fields):
            key, times = tuple(values[: len(keys)]), values[len(keys) :]
            bucket = samples.setdefault(key, {name: [] for name in durations})
            for i, name in enumerate(durations):
                end, start = times[2 * i], times[2 * i + 1]
                if end is not None and start is not None:
                    bucket[name].append((end - start).total_seconds())
        for row in rows:
            bucket = samples.get(tuple(row[n] for n in names), {})
            for name in durations:
                for label, fraction in PERCENTILES.items():
                    row[f"{name}_{label}"] = percentile_cont(bucket.get(name, []), fraction)
    for row in rows:
        for name in durations:
            for label in PERCENTILES:
                row[f"{name}_{label}"] = minutes(row.get(f"{name}_{label}"))
    return rows


def share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None

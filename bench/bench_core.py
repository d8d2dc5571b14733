"""Platform overhead: server time of the transitions API GET and of /healthz.

Every state machine's record page and API client pays the transitions listing, so its cost
is the floor under the lifecycle endpoints; /healthz is the floor of the stack itself.
"""

from __future__ import annotations

import statistics
import time

from django.db import connection
from django.test import Client

N = 300
WARMUP = 20


def _timed(call, n: int = N) -> list[float]:
    for _ in range(WARMUP):
        call()
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        response = call()
        samples.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            raise RuntimeError(f"unexpected {response.status_code}: {response.content[:200]!r}")
    return samples


def _p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=100)[94]


def _figures(label: str, samples: list[float], note: str) -> list[dict]:
    return [
        {
            "name": f"{label} median",
            "figure": round(statistics.median(samples), 3),
            "unit": "ms",
            "note": note,
        },
        {"name": f"{label} p95", "figure": round(_p95(samples), 3), "unit": "ms", "note": note},
    ]


def run() -> list[dict]:
    from django.contrib.auth.models import Group

    from itsm.core.models import ApiToken, User
    from tests.testapp.models import Ticket

    user, _ = User.objects.get_or_create(username="bench-manager")
    user.groups.add(Group.objects.get_or_create(name="ops_manager")[0])
    _token, raw = ApiToken.issue(user, name="bench")
    ticket = Ticket.objects.create(title="Benchmark ticket", rollback_plan="restore")
    ticket.submit()
    ticket.save()

    api = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")
    url = f"/api/test/tickets/{ticket.number}/transitions/"
    transitions = _timed(lambda: api.get(url))
    queries = []
    # Not CaptureQueriesContext: request_started resets the query log it reads.
    with connection.execute_wrapper(
        lambda execute, sql, *args: queries.append(sql) or execute(sql, *args)
    ):
        api.get(url)

    plain = Client()
    health = _timed(lambda: plain.get("/healthz"))

    note = f"N={N}, Bearer token, 2 options"
    return [
        *_figures("transitions API GET", transitions, note),
        {
            "name": "transitions API GET queries",
            "figure": len(queries),
            "unit": "queries",
            "note": "per request",
        },
        *_figures("/healthz", health, f"N={N}"),
    ]

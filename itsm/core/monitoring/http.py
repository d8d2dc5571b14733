"""Request rate and latency by view: one histogram, labelled by the resolved view's name.

The label is ``request.resolver_match.view_name`` (or ``unresolved``), never the raw path, so
the number of series stays bounded by the URL configuration, not by what clients send.
"""

from __future__ import annotations

import time

from prometheus_client import Histogram, disable_created_metrics

# The *_created series only double the output; Prometheus does not need them.
disable_created_metrics()

# registry=None: the /metrics view builds its registry per scrape (``views.registry``); in
# multiprocess mode the values live in PROMETHEUS_MULTIPROC_DIR whatever the registry.
HTTP_REQUEST_DURATION = Histogram(
    "itsm_http_request_duration_seconds",
    "Time to answer an HTTP request, by view, method and status code.",
    ["view", "method", "status"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
    registry=None,
)

METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}


def view_label(request) -> str:
    match = getattr(request, "resolver_match", None)
    return (match.view_name or "unnamed") if match else "unresolved"


class RequestMetricsMiddleware:
    """Observes every request's duration; first in MIDDLEWARE so it times the whole stack."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        method = request.method if request.method in METHODS else "other"
        HTTP_REQUEST_DURATION.labels(
            view=view_label(request), method=method, status=str(response.status_code)
        ).observe(time.perf_counter() - started)
        return response

"""``GET /metrics``: the Prometheus text exposition, for a scraper holding the token or on the
allow-list. Not behind the login: no session, no CSRF, no redirect; anybody else gets a bare 403.
"""

from __future__ import annotations

import logging
import os

from django.http import HttpResponse, HttpResponseForbidden
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily

from .access import may_scrape
from .http import HTTP_REQUEST_DURATION
from .worker import BrokerCollector, WorkerStoreCollector

logger = logging.getLogger(__name__)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class Sources:
    """Runs each named source's collector; one that fails (database or broker down) is left
    out and reported as ``itsm_monitoring_source_up{source=…} 0`` instead of failing the scrape."""

    def __init__(self, sources: dict):
        self.sources = sources

    def collect(self):
        up = GaugeMetricFamily(
            "itsm_monitoring_source_up",
            "1 if the source of a group of figures answered this scrape, 0 if it failed.",
            labels=["source"],
        )
        for name, collector in self.sources.items():
            try:
                families = list(collector.collect())
            except Exception:
                logger.warning("metrics source %s failed", name, exc_info=True)
                up.add_metric([name], 0)
                continue
            up.add_metric([name], 1)
            yield from families
        yield up


def registry(extra_sources: dict | None = None) -> CollectorRegistry:
    """A registry for one scrape: the request histogram (from every gunicorn worker's files in
    multiprocess mode, from this process otherwise) plus the sources read at scrape time."""
    scrape = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(scrape)
    else:
        scrape.register(HTTP_REQUEST_DURATION)
    sources = {"broker": BrokerCollector(), "worker_store": WorkerStoreCollector()}
    scrape.register(Sources({**sources, **(extra_sources or {})}))
    return scrape


def metrics_view(extra_sources: dict | None = None):
    """The view for the URL configuration; ``extra_sources`` are the composition root's."""

    @never_cache
    @require_GET
    def metrics(request):
        if not may_scrape(request):
            return HttpResponseForbidden("", content_type="text/plain")
        return HttpResponse(generate_latest(registry(extra_sources)), content_type=CONTENT_TYPE)

    return metrics

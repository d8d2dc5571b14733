"""Self-monitoring for Prometheus (docs/monitoring.md).

- ``http``: the middleware timing every request by view (``itsm_http_request_duration_seconds``).
- ``worker``: Celery queue depth, how long tasks wait before a worker starts them, and the
  worker heartbeat, kept where the web process can read them (``store``).
- ``views``: ``GET /metrics``, behind a token or an address allow-list (``access``).

The domain figures (escalation sweep lag, intake backlog, …) are collected by the composition
root (``itsm.monitoring``): ``itsm.core`` imports no domain app.
"""

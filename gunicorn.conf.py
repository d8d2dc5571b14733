"""gunicorn settings read from the working directory (the image runs from /app).

Self-monitoring (docs/monitoring.md): gunicorn's workers are separate processes, so each keeps
its own request histogram. prometheus_client's multiprocess mode makes them write to files in
PROMETHEUS_MULTIPROC_DIR, which /metrics sums whichever worker answers. The directory is set
here when the environment does not set it, emptied when gunicorn starts (values of a previous
run would be added), and a dead worker's live gauges are dropped (``child_exit``).
An explicitly empty PROMETHEUS_MULTIPROC_DIR turns the mode off (each worker answers for itself).
"""

import os
import tempfile
from pathlib import Path

MULTIPROC_DIR = os.environ.setdefault(
    "PROMETHEUS_MULTIPROC_DIR", str(Path(tempfile.gettempdir()) / "itsm-prometheus")
)


def on_starting(server):
    if not MULTIPROC_DIR:
        return
    folder = Path(MULTIPROC_DIR)
    folder.mkdir(parents=True, exist_ok=True)
    # Only prometheus_client's own files: the directory may be one the operator chose.
    for stale in folder.glob("*.db"):
        stale.unlink()


def child_exit(server, worker):
    if MULTIPROC_DIR:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)

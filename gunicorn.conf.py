"""gunicorn settings read from the working directory (the image runs from /app).

Self-monitoring (docs/monitoring.md): gunicorn's workers are separate processes, so each keeps
its own request histogram. prometheus_client's multiprocess mode makes them write to files in
PROMETHEUS_MULTIPROC_DIR, which /metrics sums whichever worker answers. The directory is set
here when the environment does not set it, emptied when gunicorn starts (values of a previous
run would be added), and a dead worker's live gauges are dropped (``child_exit``).
"""

import os
import shutil
import tempfile
from pathlib import Path

MULTIPROC_DIR = Path(
    os.environ.setdefault(
        "PROMETHEUS_MULTIPROC_DIR", str(Path(tempfile.gettempdir()) / "itsm-prometheus")
    )
)


def on_starting(server):
    shutil.rmtree(MULTIPROC_DIR, ignore_errors=True)
    MULTIPROC_DIR.mkdir(parents=True, exist_ok=True)


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)

"""Production settings plus one route: the minimal one-INSERT view that bench_intake compares
the intake against, under the same gunicorn."""

from itsm.settings import *  # noqa: F403

ROOT_URLCONF = "bench.intake_urls"

"""Production settings plus one route: the minimal one-INSERT view that bench_intake compares
the intake against, under the same gunicorn."""

from itsm.settings import *  # noqa: F403

ROOT_URLCONF = "bench.intake_urls"

_broker_dir = env.str("CELERY_BROKER_DIR", default="")  # noqa: F405 - bench without Redis
if _broker_dir and not REDIS_URL:  # noqa: F405
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": f"{_broker_dir}/queue",
        "data_folder_out": f"{_broker_dir}/queue",
        "processed_folder": f"{_broker_dir}/processed",
        "store_processed": False,
    }

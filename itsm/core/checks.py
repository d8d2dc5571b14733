"""Startup checks (``manage.py check``, run by runserver, migrate and the test suite).

``workflow.E001``: every transition of every state machine is declared — with the service that
applies it or as ``workflow.PLAIN`` — in its app's ``TRANSITIONS`` table. Without this, a
transition requested through the generic endpoint would have no known use case behind it.

``monitoring.E001``: every entry of ``METRICS_ALLOWED_NETWORKS`` is a valid address or CIDR (a
typo would otherwise surface as a failing scrape, not at startup).
"""

import ipaddress

from django.apps import apps
from django.conf import settings
from django.core import checks

from . import workflow


@checks.register(checks.Tags.models)
def transitions_declared(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    errors = []
    configs = app_configs or apps.get_app_configs()
    for config in configs:
        for model in config.get_models():
            try:
                workflow.state_field(model)
            except TypeError:
                continue  # not a state machine
            for name in workflow.undeclared(model):
                errors.append(
                    checks.Error(
                        f"Transition “{name}” of {model._meta.label} has no declared service.",
                        hint=(
                            f"Add “{name}” to the TRANSITIONS table of the "
                            f"{config.label} app's services (its service, or workflow.PLAIN) "
                            "and register the table in the AppConfig.ready()."
                        ),
                        obj=model,
                        id="workflow.E001",
                    )
                )
    return errors


@checks.register()
def metrics_networks_valid(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    errors = []
    for item in settings.METRICS_ALLOWED_NETWORKS:
        try:
            ipaddress.ip_network(item.strip(), strict=False)
        except ValueError:
            errors.append(
                checks.Error(
                    f"METRICS_ALLOWED_NETWORKS has an invalid network: {item!r}.",
                    hint="Comma-separated CIDRs, e.g. 127.0.0.1/32,10.0.0.0/8 (empty: none).",
                    id="monitoring.E001",
                )
            )
    return errors

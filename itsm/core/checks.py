"""Startup checks (``manage.py check``, run by runserver, migrate and the test suite).

``workflow.E001``: every transition of every state machine is declared — with the service that
applies it or as ``workflow.PLAIN`` — in its app's ``TRANSITIONS`` table. Without this, a
transition requested through the generic endpoint would have no known use case behind it.
"""

from django.apps import apps
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

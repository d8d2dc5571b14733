from django.apps import AppConfig


class TestappConfig(AppConfig):
    name = "tests.testapp"
    label = "testapp"

    def ready(self) -> None:
        from itsm.core import workflow

        from .models import Ticket

        # The test model's transitions need nothing beyond themselves.
        workflow.register(
            {Ticket: dict.fromkeys(("submit", "approve", "send_back"), workflow.PLAIN)}
        )

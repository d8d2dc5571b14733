from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine

from comms.models import StatusPageService
from incidents import services
from itsm.core.roles import Role
from tests.factories import ServiceFactory

JST = ZoneInfo("Asia/Tokyo")
T0 = datetime(2025, 6, 2, 10, 0, tzinfo=JST)  # a Monday, 10:00 JST


@pytest.fixture
def shop(db):
    service = ServiceFactory(name="Web shop", slug="web-shop")
    StatusPageService.objects.create(service=service, public=True, public_name="Online shop")
    return service


@pytest.fixture
def commander(make_user):
    return make_user(Role.OPS_LEADER, username="ichiro.k", display_name="Ichiro Commander")


@pytest.fixture
def file_incident(shop):
    """``file_incident(priority="P1", at=T0)`` → a triaged incident on the public web shop."""

    def make(priority="P1", at=T0, service=None, title="DB pool exhausted on shop-db-3", **kw):
        with time_machine.travel(at, tick=False):
            return services.open_incident(
                title=title,
                source="monitoring",
                service=service or shop,
                priority=priority,
                **kw,
            )

    return make

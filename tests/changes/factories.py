"""Factories for change management tests."""

from datetime import datetime
from zoneinfo import ZoneInfo

import factory

from changes.choices import Category, RiskLevel
from changes.models import ChangeClass, ChangeRequest, FreezeWindow, StandardChangeTemplate
from tests.factories import UserFactory

JST = ZoneInfo("Asia/Tokyo")


def jst(*args) -> datetime:
    return datetime(*args, tzinfo=JST)


def change_class(code: str) -> ChangeClass:
    return ChangeClass.objects.get(code=code)


class ChangeRequestFactory(factory.django.DjangoModelFactory):
    """A complete draft RFC of class ``normal`` (pass ``change_class=change_class("major")``)."""

    class Meta:
        model = ChangeRequest

    title = factory.Sequence(lambda n: f"Change {n}")
    description = "Upgrade the web tier"
    category = Category.APPLICATION_DEPLOYMENT
    change_class = factory.LazyFunction(lambda: change_class("normal"))
    requester = factory.SubFactory(UserFactory, role="operator")
    affected_users = "All users: 5 minutes of read-only mode"
    risk_level = RiskLevel.MEDIUM
    implementation_plan = "1. drain\n2. deploy\n3. undrain"
    rollback_plan = "Redeploy the previous version"
    planned_start = factory.LazyFunction(lambda: jst(2026, 6, 10, 10))
    planned_end = factory.LazyFunction(lambda: jst(2026, 6, 10, 12))


class FreezeWindowFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = FreezeWindow

    name = "Year-end freeze"
    starts_at = factory.LazyFunction(lambda: jst(2026, 6, 15, 0))
    ends_at = factory.LazyFunction(lambda: jst(2026, 6, 20, 0))


class StandardChangeTemplateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = StandardChangeTemplate

    name = factory.Sequence(lambda n: f"Rotate TLS certificate {n}")
    category = Category.SECURITY_CONFIGURATION
    implementation_plan = "Replace the certificate and reload nginx"
    rollback_plan = "Restore the previous certificate"
    owner = factory.SubFactory(UserFactory, role="ops_leader")

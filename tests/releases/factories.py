"""Factories for release management tests."""

import datetime as dt

import factory
from django.utils import timezone

from changes.models import ChangeRequest
from releases.choices import ReleaseType, Strategy
from releases.models import Release

from ..factories import ServiceFactory, UserFactory


class ReleaseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Release

    name = factory.Sequence(lambda n: f"Release {n}")
    version = factory.Sequence(lambda n: f"1.{n}.0")
    release_type = ReleaseType.MINOR
    service = factory.SubFactory(ServiceFactory)
    planned_at = factory.LazyFunction(lambda: timezone.now() + dt.timedelta(days=7))
    strategy = Strategy.CANARY
    owner = factory.SubFactory(UserFactory)


def approved_change(*, state="approved", start=None, end=None, **kwargs) -> ChangeRequest:
    """A change request whose planned window covers now (unless told otherwise)."""
    now = timezone.now()
    return ChangeRequest.objects.create(
        title=kwargs.pop("title", "Deploy release"),
        state=state,
        planned_start=start or now - dt.timedelta(hours=1),
        planned_end=end or now + dt.timedelta(hours=1),
        **kwargs,
    )


def release_in(state: str, **kwargs) -> Release:
    """A release already in ``state`` (created directly; the FSM field is protected)."""
    return ReleaseFactory(state=state, **kwargs)

"""Factories for release management tests."""

import datetime as dt

import factory
from django.utils import timezone

from changes.models import ChangeRequest
from itsm.core.roles import Role
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


def approved_change(
    release: Release | None = None,
    *,
    state="implementing",
    start=None,
    end=None,
    service=None,
    waived=True,
    **kwargs,
) -> ChangeRequest:
    """A change request for the release's service (linked to it) whose planned window covers now
    (unless told otherwise) and whose pre-change backup was waived by an ops manager (§9.4), so
    the change gate lets it authorise production."""
    now = timezone.now()
    if waived:
        kwargs.setdefault("backup_waived", True)
        kwargs.setdefault("backup_waiver_reason", "stateless tier")
        kwargs.setdefault("backup_waived_by", UserFactory(role=Role.OPS_MANAGER))
        kwargs.setdefault("backup_waived_at", now)
    change = ChangeRequest.objects.create(
        title=kwargs.pop("title", "Deploy release"),
        state=state,
        planned_start=start or now - dt.timedelta(hours=1),
        planned_end=end or now + dt.timedelta(hours=1),
        **kwargs,
    )
    service = service or (release.service if release is not None else None)
    if service is not None:
        change.services.add(service)
    if release is not None:
        release.changes.add(change)
    return change


def release_in(state: str, **kwargs) -> Release:
    """A release already in ``state`` (created directly; the FSM field is protected)."""
    return ReleaseFactory(state=state, **kwargs)

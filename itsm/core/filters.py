"""Filter building blocks shared by every app's ``filters.py`` (HTML lists and the API)."""

from __future__ import annotations

import datetime as dt

import django_filters
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from django_filters.fields import IsoDateTimeField


class UtcIsoDateTimeField(IsoDateTimeField):
    """An ISO 8601 date-time, compared in UTC.

    Python accepts UTC offsets up to ±23:59 but PostgreSQL only up to ±15:59, so a value such as
    ``2026-01-01T00:00+18:00`` used as given made the query fail (a 500); in UTC it is just an
    instant.
    """

    default_error_messages = {"overflow": _("Enter a date and time within the supported range.")}

    def to_python(self, value):
        value = super().to_python(value)
        if value is None or value.tzinfo is None:
            return value
        try:
            return value.astimezone(dt.UTC)
        except OverflowError as exc:
            raise ValidationError(self.error_messages["overflow"], code="overflow") from exc


class IsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = UtcIsoDateTimeField

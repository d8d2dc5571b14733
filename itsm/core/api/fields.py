"""Serializer fields shared by every app's API."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

EARLIEST_YEAR = 1900


class DateTimeField(serializers.DateTimeField):
    """A date-time from 1900 on.

    Earlier instants are no ITSM record's, and in Asia/Tokyo they carry the local mean time
    offset +09:18:59, which the API would send back as ``…+09:18:59`` — not an RFC 3339
    date-time (clients and the schema's ``format: date-time`` reject it).
    """

    default_error_messages = {
        "too_early": _("Enter a date and time in %(year)d or later."),
    }

    def to_internal_value(self, value):
        result = super().to_internal_value(value)
        if result.year < EARLIEST_YEAR or (
            result.utcoffset() and result.utcoffset().total_seconds() % 60
        ):
            self.fail("too_early", year=EARLIEST_YEAR)
        return result


@extend_schema_field(
    {
        "type": "string",
        "pattern": r"^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d+)?)?$",
        "example": "09:30",
    }
)
class TimeOfDayField(serializers.TimeField):
    """A wall-clock time without a date or offset (``09:30``, ``09:30:00``). The schema says so
    with a pattern: OpenAPI's ``format: time`` is RFC 3339's full-time, which needs an offset."""

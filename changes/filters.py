"""List filters shared by the HTML list and the API (django-filter)."""

import django_filters
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from itsm.core.filters import IsoDateTimeFilter
from itsm.core.models import Service

from .choices import Category, RiskLevel
from .models import ChangeClass, ChangeRequest


@extend_schema_field({"type": "array", "items": {"type": "string"}})
class CodeMultipleChoiceFilter(django_filters.ModelMultipleChoiceFilter):
    """Several change class codes (``?change_class=normal&change_class=major``)."""


@extend_schema_field(OpenApiTypes.STR)
class SlugChoiceFilter(django_filters.ModelChoiceFilter):
    """A service by slug."""


class ChangeRequestFilter(django_filters.FilterSet):
    state = django_filters.MultipleChoiceFilter(
        label=_("state"), choices=ChangeRequest.State.choices
    )
    change_class = CodeMultipleChoiceFilter(
        label=_("class"),
        field_name="change_class__code",
        to_field_name="code",
        queryset=ChangeClass.objects.all(),
    )
    category = django_filters.MultipleChoiceFilter(label=_("category"), choices=Category.choices)
    risk_level = django_filters.MultipleChoiceFilter(
        label=_("risk level"), choices=RiskLevel.choices
    )
    service = SlugChoiceFilter(
        label=_("service"),
        field_name="services",
        to_field_name="slug",
        queryset=Service.objects.all(),
    )
    requester = django_filters.CharFilter(label=_("requester"), field_name="requester__username")
    planned_after = IsoDateTimeFilter(
        label=_("planned after"), field_name="planned_end", lookup_expr="gte"
    )
    planned_before = IsoDateTimeFilter(
        label=_("planned before"), field_name="planned_start", lookup_expr="lt"
    )
    q = django_filters.CharFilter(label=_("search"), method="search")

    class Meta:
        model = ChangeRequest
        fields = ["state", "change_class", "category", "risk_level", "service", "requester"]

    def search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(
            Q(number__iexact=value) | Q(title__icontains=value) | Q(description__icontains=value)
        )

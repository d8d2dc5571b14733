"""Filters of the incident list, shared by the HTML page and the API."""

import django_filters
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from itsm.core.filters import IsoDateTimeFilter
from itsm.core.models import Service, Team

from . import selectors
from .choices import IncidentState, PostmortemKind, PostmortemState, Priority, SlaStatus, Source
from .models import Incident, Postmortem


class IncidentFilter(django_filters.FilterSet):
    # distinct=False: plain columns, no joins to duplicate rows, and SELECT DISTINCT would sort
    # whole rows instead of walking the list's index (issue 3 §9).
    state = django_filters.MultipleChoiceFilter(
        label=_("state"), choices=IncidentState.choices, distinct=False
    )
    priority = django_filters.MultipleChoiceFilter(
        label=_("priority"), choices=Priority.choices, distinct=False
    )
    source = django_filters.ChoiceFilter(label=_("source"), choices=Source.choices)
    service = django_filters.ModelChoiceFilter(
        label=_("service"), queryset=Service.objects.all(), to_field_name="slug"
    )
    team = django_filters.ModelChoiceFilter(
        label=_("team"), queryset=Team.objects.all(), to_field_name="slug"
    )
    assignee = django_filters.CharFilter(
        label=_("assignee"), field_name="assignee__username", help_text=_("Username")
    )
    open = django_filters.BooleanFilter(label=_("open only"), method="filter_open")
    sla = django_filters.ChoiceFilter(
        label=_("SLA status"), choices=SlaStatus.choices, method="filter_sla"
    )
    q = django_filters.CharFilter(label=_("search"), method="filter_q")
    # The dashboard's drill-down links count incidents detected in [after, before).
    detected_after = IsoDateTimeFilter(
        label=_("detected from"), field_name="detected_at", lookup_expr="gte"
    )
    detected_before = IsoDateTimeFilter(
        label=_("detected before"), field_name="detected_at", lookup_expr="lt"
    )

    class Meta:
        model = Incident
        fields = ["state", "priority", "source", "service", "team", "assignee"]

    def filter_open(self, qs, name, value):
        if value is None:
            return qs
        return qs.open() if value else qs.filter(state=IncidentState.CLOSED)

    def filter_sla(self, qs, name, value):
        return selectors.filter_sla(qs, value) if value else qs

    def filter_q(self, qs, name, value):
        value = value.strip()
        if not value:
            return qs
        return qs.filter(
            Q(number__iexact=value) | Q(title__icontains=value) | Q(description__icontains=value)
        )


class PostmortemFilter(django_filters.FilterSet):
    state = django_filters.MultipleChoiceFilter(choices=PostmortemState.choices)
    kind = django_filters.ChoiceFilter(choices=PostmortemKind.choices)
    owner = django_filters.CharFilter(field_name="owner__username")
    overdue = django_filters.BooleanFilter(method="filter_overdue")

    class Meta:
        model = Postmortem
        fields = ["state", "kind", "owner", "mandatory"]

    def filter_overdue(self, qs, name, value):
        if value is None:
            return qs
        overdue = Postmortem.objects.overdue()
        return (
            qs.filter(pk__in=overdue.values("pk"))
            if value
            else qs.exclude(pk__in=overdue.values("pk"))
        )

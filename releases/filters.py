import django_filters

from itsm.core.filters import IsoDateTimeFilter

from .choices import (
    STATUS_TO_RESULT,
    DeploymentResult,
    DeploymentStatus,
    ReleaseType,
    Stage,
    Strategy,
)
from .models import Deployment, Release


class ReleaseFilter(django_filters.FilterSet):
    state = django_filters.MultipleChoiceFilter(choices=Release.State.choices)
    release_type = django_filters.MultipleChoiceFilter(choices=ReleaseType.choices)
    strategy = django_filters.ChoiceFilter(choices=Strategy.choices)
    service = django_filters.CharFilter(field_name="service__slug")
    planned_after = IsoDateTimeFilter(field_name="planned_at", lookup_expr="gte")
    planned_before = IsoDateTimeFilter(field_name="planned_at", lookup_expr="lt")

    class Meta:
        model = Release
        fields = ["state", "release_type", "strategy", "service"]


class DeploymentFilter(django_filters.FilterSet):
    release = django_filters.CharFilter(field_name="release__number")
    environment = django_filters.ChoiceFilter(field_name="environment__code", choices=Stage.choices)
    result = django_filters.ChoiceFilter(choices=DeploymentResult.choices)
    status = django_filters.ChoiceFilter(choices=DeploymentStatus.choices, method="filter_status")
    service = django_filters.CharFilter(field_name="release__service__slug")
    started_after = IsoDateTimeFilter(field_name="started_at", lookup_expr="gte")
    started_before = IsoDateTimeFilter(field_name="started_at", lookup_expr="lt")

    class Meta:
        model = Deployment
        fields = ["release", "environment", "result", "status", "service"]

    def filter_status(self, queryset, name, value):
        return queryset.filter(result=STATUS_TO_RESULT[value])

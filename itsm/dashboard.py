"""The SLA and operations dashboard (issue 9): one page across the four processes.

The figures come from the metric selectors of each app (``# --- metrics (dashboard)`` at the end
of ``<app>/selectors.py``); this module only composes them. The same composed data feeds the
page, its printable view, the CSV export and ``/api/v1/metrics/<family>/``, so the numbers can
never disagree. Definitions: docs/metrics.md.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlencode

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import permissions, status
from rest_framework.decorators import api_view, permission_classes
from rest_framework.response import Response

from backups import selectors as backup_selectors
from changes import selectors as change_selectors
from incidents import selectors as incident_selectors
from incidents.choices import IncidentState, Priority
from itsm.core.models import Service
from itsm.core.roles import Role, has_role
from releases import selectors as release_selectors

# Who reads the dashboard (issue 9): ops leaders, ops managers, executives; admins hold every role.
DASHBOARD_ROLES = (Role.OPS_LEADER, Role.OPS_MANAGER, Role.EXECUTIVE)
PERIOD_DAYS = (7, 30, 90)
DEFAULT_DAYS = 30
MAX_DAYS = 366


def may_view_dashboard(user) -> bool:
    return bool(user and user.is_authenticated and has_role(user, *DASHBOARD_ROLES))


# --------------------------------------------------------------------------- period


@dataclass(frozen=True)
class Period:
    """[since, until) in the current time zone, plus how it was chosen (for the picker)."""

    since: dt.datetime
    until: dt.datetime
    days: int | None  # 7/30/90, or None for a custom range
    service: Service | None

    @property
    def service_slug(self) -> str:
        return self.service.slug if self.service else ""

    @property
    def last_day(self) -> dt.date:
        return (timezone.localtime(self.until) - dt.timedelta(microseconds=1)).date()

    def query(self, **extra) -> str:
        """The query string that selects this period again (links to CSV, print, API)."""
        params = (
            {"days": self.days}
            if self.days
            else {
                "days": "custom",
                "since": timezone.localtime(self.since).date().isoformat(),
                "until": self.last_day.isoformat(),
            }
        )
        if self.service:
            params["service"] = self.service.slug
        params.update(extra)
        return urlencode(params)

    def as_dict(self) -> dict:
        return {
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            "days": self.days,
            "service": self.service_slug or None,
        }


class PeriodForm(forms.Form):
    """The period picker: the last 7/30/90 days (today included) or custom dates, and a service."""

    days = forms.ChoiceField(
        label=_("Period"),
        required=False,
        choices=[(str(d), _("Last %(days)s days") % {"days": d}) for d in PERIOD_DAYS]
        + [("custom", _("Custom"))],
    )
    since = forms.DateField(label=_("From"), required=False)
    until = forms.DateField(label=_("To (inclusive)"), required=False)
    service = forms.ModelChoiceField(
        label=_("Service"),
        required=False,
        queryset=Service.objects.filter(is_active=True).order_by("name"),
        to_field_name="slug",
        empty_label=_("All services"),
    )

    def clean(self):
        data = super().clean()
        days = data.get("days") or str(DEFAULT_DAYS)
        data["days"] = days
        if days != "custom":
            return data
        since, until = data.get("since"), data.get("until")
        if since is None:
            self.add_error("since", _("Choose the first day of a custom period."))
        if until is None:
            self.add_error("until", _("Choose the last day of a custom period."))
        if since and until:
            if since > until:
                self.add_error("until", _("The last day must not be before the first day."))
            elif (until - since).days + 1 > MAX_DAYS:
                self.add_error(
                    "until", _("A period may span at most %(days)s days.") % {"days": MAX_DAYS}
                )
        return data

    def period(self, now: dt.datetime | None = None) -> Period:
        """The chosen period; call after ``is_valid()``."""
        data = self.cleaned_data
        tz = timezone.get_current_timezone()
        if data["days"] == "custom":
            since = dt.datetime.combine(data["since"], dt.time(0), tzinfo=tz)
            until = dt.datetime.combine(data["until"] + dt.timedelta(days=1), dt.time(0), tzinfo=tz)
            return Period(since, until, None, data.get("service"))
        days = int(data["days"])
        today = timezone.localtime(now or timezone.now(), tz).date()
        until = dt.datetime.combine(today + dt.timedelta(days=1), dt.time(0), tzinfo=tz)
        since = dt.datetime.combine(today - dt.timedelta(days=days - 1), dt.time(0), tzinfo=tz)
        return Period(since, until, days, data.get("service"))


# --------------------------------------------------------------------------- metric families


def _incidents(p: Period) -> dict:
    """The incident figures, with time to fix beside MTTR (§8.2 復旧作業 vs 修正作業): its own
    cohort (fixed in the period), so its own two queries (docs/metrics.md)."""
    figures = incident_selectors.incident_metrics(
        since=p.since, until=p.until, service=p.service_slug
    )
    figures["fix"] = incident_selectors.fix_metrics(
        since=p.since, until=p.until, service=p.service_slug
    )
    return figures


def _escalations(p: Period) -> dict:
    return incident_selectors.escalation_metrics(
        since=p.since, until=p.until, service=p.service_slug
    )


def _postmortems(p: Period) -> dict:
    return incident_selectors.postmortem_metrics(
        since=p.since, until=p.until, service=p.service_slug
    )


def _changes(p: Period) -> dict:
    return change_selectors.change_metrics(since=p.since, until=p.until, service=p.service_slug)


def _releases(p: Period) -> dict:
    return release_selectors.cadence_metrics(since=p.since, until=p.until, service=p.service_slug)


def _dora(p: Period) -> dict:
    return release_selectors.dora_metrics(since=p.since, until=p.until, service=p.service_slug)


def _backups(p: Period) -> dict:
    return backup_selectors.backup_metrics(since=p.since, until=p.until)


# family name (the API's /api/v1/metrics/<family>/) → selector over a period
FAMILIES: dict[str, Callable[[Period], dict]] = {
    "incidents": _incidents,
    "escalations": _escalations,
    "postmortems": _postmortems,
    "changes": _changes,
    "releases": _releases,
    "dora": _dora,
    "backups": _backups,
}


def collect(period: Period, families=None) -> dict[str, dict]:
    return {name: FAMILIES[name](period) for name in (families or FAMILIES)}


def flatten(data, prefix: str = "") -> list[tuple[str, object]]:
    """Nested metrics as ``(dotted.key, value)`` rows: the CSV's shape."""
    if isinstance(data, dict):
        rows = []
        for key, value in data.items():
            rows += flatten(value, f"{prefix}.{key}" if prefix else str(key))
        return rows
    if isinstance(data, list):
        rows = []
        for i, value in enumerate(data):
            label = value.get("day", i) if isinstance(value, dict) else i
            rows += flatten(value, f"{prefix}.{label}")
        return rows
    if isinstance(data, dt.datetime):
        data = data.isoformat()
    return [(prefix, data)]


# --------------------------------------------------------------------------- drill-down links


def _url(name: str, period: Period, *, service: bool = True, **params) -> str:
    query = {k: v for k, v in params.items() if v not in (None, "")}
    if service and period.service:
        query["service"] = period.service.slug
    encoded = urlencode(query, doseq=True)
    return f"{reverse(name)}?{encoded}" if encoded else reverse(name)


def incident_links(period: Period) -> dict:
    """Links to the incident list filtered like each number: priority, state, SLA status.

    ``detected_after``/``detected_before`` carry the period for the list's date filter."""
    window = {
        "detected_after": period.since.isoformat(),
        "detected_before": period.until.isoformat(),
    }
    every_state = [s.value for s in IncidentState]

    def link(**params) -> str:
        params.setdefault("state", every_state)
        return _url("incidents:list", period, **window, **params)

    return {
        "all": link(),
        "open": link(open="true", state=None),
        "breached": link(sla="breached"),
        "auto_recovered": link(sla="auto_recovered"),
        "untriaged": link(state=IncidentState.DETECTED),
        "priority": {p.value: link(priority=p.value) for p in Priority},
        "priority_breached": {p.value: link(priority=p.value, sla="breached") for p in Priority},
        "priority_met": {p.value: link(priority=p.value, sla="met") for p in Priority},
        "priority_auto_recovered": {
            p.value: link(priority=p.value, sla="auto_recovered") for p in Priority
        },
        "state": {s.value: link(state=s.value) for s in IncidentState},
        "priority_state": {
            p.value: {s.value: link(priority=p.value, state=s.value) for s in IncidentState}
            for p in Priority
        },
    }


def other_links(period: Period) -> dict:
    planned = {
        "planned_after": period.since.isoformat(),
        "planned_before": period.until.isoformat(),
    }
    return {
        "postmortems_overdue": _url("incidents:postmortems", period, service=False, overdue="true"),
        "postmortems": _url("incidents:postmortems", period, service=False, kind="postmortem"),
        "changes_closed": _url("changes:list", period, state="closed", **planned),
        "changes_rolled_back": _url(
            "changes:list", period, state=["rolled_back", "cause_analysis"], **planned
        ),
        "changes_emergency": _url("changes:list", period, change_class="emergency", **planned),
        "changes": _url("changes:list", period, **planned),
        "changes_cab": _url("changes:list", period, state="cab_review"),
        "releases": _url("releases:list", period),
        "releases_hotfix": _url("releases:list", period, type="hotfix"),
        "releases_rolled_back": _url("releases:list", period, state="rolled_back"),
        "release_calendar": reverse("releases:calendar"),
        "backups": reverse("backups:list"),
        "restore_tests": reverse("backups:restore_tests"),
    }


# --------------------------------------------------------------------------- views


def _checked(request) -> tuple[PeriodForm, Period | None]:
    if not may_view_dashboard(request.user):
        raise PermissionDenied
    form = PeriodForm(request.GET or None)
    if not request.GET:
        form = PeriodForm({"days": str(DEFAULT_DAYS)})
    return form, (form.period() if form.is_valid() else None)


def _rounded(value, digits: int = 1, scale: float = 1):
    """A measured value for a chart and its table; ``None`` (no data that day) stays ``None``."""
    return None if value is None else round(value * scale, digits)


def chart_data(trend: list[dict]) -> dict:
    """The dashboard charts' series, one value per day of the period. A day without a
    measurement is ``None`` (a gap in the line, "—" in the table), never 0."""
    keys = [*(p.value for p in Priority), "untriaged"]
    return {
        "days": [point["day"] for point in trend],
        "mtta": [_rounded(point["mtta_p50"]) for point in trend],
        "mttr": [_rounded(point["mttr_p50"]) for point in trend],
        "compliance": [_rounded(point["compliance"], scale=100) for point in trend],
        "priorities": {key: [point["by_priority"][key] for point in trend] for key in keys},
    }


def chart_rows(charts: dict) -> list[dict]:
    """The same series by day, for the tables under the charts."""
    rows = []
    for i, day in enumerate(charts["days"]):
        counts = [charts["priorities"][key][i] for key in charts["priorities"]]
        rows.append(
            {
                "day": day,
                "mtta": charts["mtta"][i],
                "mttr": charts["mttr"][i],
                "compliance": charts["compliance"][i],
                "counts": counts,
                "total": sum(counts),
            }
        )
    return rows


def _context(form: PeriodForm, period: Period) -> dict:
    metrics = collect(period)
    incidents = metrics["incidents"]
    charts = {
        **chart_data(incidents["trend"]),
        "labels": {
            "mtta": str(_("MTTA median (min)")),
            "mttr": str(_("MTTR median (min)")),
            "compliance": str(_("Response SLA compliance (%)")),
            "untriaged": str(_("Not triaged")),
        },
    }
    return {
        "form": form,
        "period": period,
        "metrics": metrics,
        "charts": charts,
        "chart_rows": chart_rows(charts),
        "links": {"incidents": incident_links(period), **other_links(period)},
        "priorities": list(Priority),
        "states": list(IncidentState),
        "tier_labels": TIER_LABELS,
        "tier_colors": TIER_COLORS,
        "dora_names": DORA_NAMES,
        "query": period.query(),
    }


TIER_LABELS = {
    "elite": _("Elite"),
    "high": _("High"),
    "medium": _("Medium"),
    "low": _("Low"),
}
TIER_COLORS = {"elite": "success", "high": "primary", "medium": "warning", "low": "danger"}

DORA_NAMES = {
    "deployment_frequency": _("Deployment frequency"),
    "change_lead_time": _("Change lead time"),
    "change_fail_rate": _("Change fail rate"),
    "failed_deployment_recovery_time": _("Failed deployment recovery time"),
    "deployment_rework_rate": _("Deployment rework rate"),
}


def _render(request, template: str):
    form, period = _checked(request)
    if period is None:
        return render(request, template, {"form": form, "period": None}, status=400)
    return render(request, template, _context(form, period))


@login_required
@require_GET
def dashboard(request):
    """SLA and operations dashboard: tiles, trend charts and drill-down links for a period."""
    return _render(request, "dashboard/dashboard.html")


@login_required
@require_GET
def dashboard_print(request):
    """The same figures on one printable page (no navigation, no charts' interactivity)."""
    return _render(request, "dashboard/dashboard_print.html")


@login_required
@require_GET
def dashboard_csv(request):
    """Every figure of the page as ``family,metric,value`` rows (UTF-8 with BOM for Excel)."""
    form, period = _checked(request)
    if period is None:
        errors = "; ".join(f"{k}: {' '.join(v)}" for k, v in form.errors.items())
        return HttpResponse(errors, status=400, content_type="text/plain; charset=utf-8")
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    local = timezone.localtime(period.since).date()
    response["Content-Disposition"] = (
        f'attachment; filename="dashboard-{local.isoformat()}-{period.last_day.isoformat()}'
        f'{"-" + period.service_slug if period.service else ""}.csv"'
    )
    response.write("\ufeff")
    writer = csv.writer(response)
    writer.writerow(["family", "metric", "value"])
    writer.writerow(["period", "since", period.since.isoformat()])
    writer.writerow(["period", "until", period.until.isoformat()])
    writer.writerow(["period", "service", period.service_slug])
    for family, data in collect(period).items():
        for key, value in flatten(data):
            writer.writerow([family, key, "" if value is None else value])
    return response


# --------------------------------------------------------------------------- API

PERIOD_PARAMETERS = [
    OpenApiParameter(
        "days",
        OpenApiTypes.STR,
        description="7, 30 or 90 (the last N days, today included), or `custom`",
        enum=[*(str(d) for d in PERIOD_DAYS), "custom"],
    ),
    OpenApiParameter("since", OpenApiTypes.DATE, description="first day (days=custom)"),
    OpenApiParameter("until", OpenApiTypes.DATE, description="last day, inclusive (days=custom)"),
    OpenApiParameter("service", OpenApiTypes.STR, description="service slug"),
]


def _api_period(request) -> tuple[Period | None, Response | None]:
    if not may_view_dashboard(request.user):
        return None, Response(
            {"code": "permission_denied", "detail": str(_("The dashboard is for managers."))},
            status=status.HTTP_403_FORBIDDEN,
        )
    form = PeriodForm(request.query_params or {"days": str(DEFAULT_DAYS)})
    if not form.is_valid():
        return None, Response(
            {
                "code": "invalid",
                "detail": str(_("Invalid period or service.")),
                "errors": {k: [str(m) for m in v] for k, v in form.errors.items()},
            },
            status=status.HTTP_400_BAD_REQUEST,
        )
    return form.period(), None


@extend_schema(
    operation_id="metrics_all",
    summary="Dashboard metric families",
    parameters=PERIOD_PARAMETERS,
    responses={200: OpenApiTypes.OBJECT},
)
@api_view(["GET"])
@permission_classes([permissions.IsAuthenticated])
def metrics_index(request):
    """All metric families for the period (the dashboard's numbers)."""
    period, error = _api_period(request)
    if error:
        return error
    return Response({"period": period.as_dict(), "families": collect(period)})


@extend_schema(
    operation_id="metrics_family",
    summary="One dashboard metric family",
    parameters=[
        OpenApiParameter("family", OpenApiTypes.STR, OpenApiParameter.PATH, enum=list(FAMILIES)),
        *PERIOD_PARAMETERS,
    ],
    responses={200: OpenApiTypes.OBJECT},
)
@api_view(["GET"])
@permission_classes([permissions.IsAuthenticated])
def metrics_family(request, family: str):
    """One metric family (incidents, escalations, postmortems, changes, releases, dora, backups)."""
    if family not in FAMILIES:
        return Response(
            {"code": "not_found", "detail": str(_("Unknown metric family."))},
            status=status.HTTP_404_NOT_FOUND,
        )
    period, error = _api_period(request)
    if error:
        return error
    return Response(
        {"period": period.as_dict(), "family": family, "data": FAMILIES[family](period)}
    )

"""Screens of the monitoring intake: the integrations list and one integration's page (its URL,
copy-paste configuration for Alertmanager and Events v2 senders, rules, recent deliveries).

Integrations are configured in the admin (ops manager, admin); the page shows a new secret once,
right after it was issued. On a storm incident's page an operator splits an alert group out into
its own incident (``alert_group_split``).
"""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from itsm.core import workflow

from . import selectors, services
from .models import AlertGroup, Integration

SECRET_SESSION_KEY = "intake_new_secret"  # noqa: S105 - a session key name, not a secret


def _can(perm: str):
    return permission_required(perm, raise_exception=True)


@login_required
@_can("intake.view_integration")
@require_GET
def integration_list(request):
    since = timezone.now() - timedelta(hours=24)
    integrations = Integration.objects.select_related("service", "team").annotate(
        deliveries_24h=Count("deliveries", filter=Q(deliveries__received_at__gte=since)),
        failing=Count(
            "deliveries",
            filter=Q(deliveries__result__in=["pending", "failed", "rejected"])
            & Q(deliveries__received_at__gte=since),
        ),
    )
    return render(request, "intake/integration_list.html", {"integrations": integrations})


@login_required
@_can("intake.view_integration")
@require_GET
def integration_detail(request, pk: int):
    integration = get_object_or_404(Integration.objects.select_related("service", "team"), pk=pk)
    new_secret = None
    shown = request.session.pop(SECRET_SESSION_KEY, None)
    if shown and shown.get("pk") == integration.pk:
        new_secret = shown.get("secret")
    secret = new_secret or "<secret>"
    alertmanager_url = request.build_absolute_uri(reverse("api:intake-alertmanager"))
    events_url = request.build_absolute_uri(reverse("api:intake-events"))
    return render(
        request,
        "intake/integration_detail.html",
        {
            "integration": integration,
            "new_secret": new_secret,
            "alertmanager_url": alertmanager_url,
            "events_url": events_url,
            "alertmanager_snippet": alertmanager_snippet(alertmanager_url, secret),
            "events_snippet": events_snippet(events_url, secret),
            "rules": integration.rules.select_related("service"),
            "deliveries": selectors.recent_deliveries(integration),
            "groups": selectors.open_groups(integration)[:50],
        },
    )


@login_required
@_can("intake.change_integration")
@require_POST
def integration_rotate(request, pk: int):
    """Issue a new secret (the old one stops within ``AUTH_CACHE_SECONDS``); it is shown once on
    the next page."""
    integration = get_object_or_404(Integration, pk=pk)
    raw = services.rotate_secret(integration, actor=request.user)
    request.session[SECRET_SESSION_KEY] = {"pk": integration.pk, "secret": raw}
    messages.warning(request, _("New secret issued. Copy it now: it is shown only once."))
    return redirect(integration.get_absolute_url())


@login_required
@_can("intake.change_integration")
@require_POST
def integration_revoke(request, pk: int):
    integration = get_object_or_404(Integration, pk=pk)
    services.revoke_secret(integration, actor=request.user)
    messages.success(request, _("Secret revoked: deliveries with it are refused within 5 seconds."))
    return redirect(integration.get_absolute_url())


@login_required
@_can("incidents.change_incident")
@require_POST
def alert_group_split(request, pk: int):
    """Split an alert group out of its storm incident (one POST from the incident page)."""
    group = get_object_or_404(AlertGroup.objects.select_related("incident"), pk=pk)
    back = group.incident
    try:
        incident = services.split_group(group.pk, actor=request.user)
    except workflow.TransitionForbidden as exc:
        raise PermissionDenied(exc.message) from exc
    except services.GroupNotSplittable as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            _("Alert group “%(group)s” split out into %(incident)s.")
            % {"group": group.name, "incident": incident.number},
        )
    return redirect(back or "incidents:list")


def alertmanager_snippet(url: str, secret: str) -> str:
    return f"""route:
  receiver: itsm
  group_by: ['alertname', 'service']
receivers:
  - name: itsm
    webhook_configs:
      - url: "{url}"
        send_resolved: true
        max_alerts: 0
        http_config:
          authorization:
            type: Bearer
            credentials: "{secret}"
"""


def events_snippet(url: str, secret: str) -> str:
    return f"""curl -sS -X POST "{url}" \\
  -H "Content-Type: application/json" \\
  -d '{{"routing_key": "{secret}", "event_action": "trigger", "dedup_key": "db1-disk",
       "payload": {{"summary": "Disk 95% full on db1", "source": "db1", "severity": "critical"}}}}'
"""

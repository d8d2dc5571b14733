"""The change gate (§9.1, §9.3): may a pipeline deploy this service to this environment now?

A deployment to production is allowed only inside the planned window of an approved change for
the service (states ``approved``, ``scheduled`` or ``implementing``) whose pre-change backup
requirement is met (§9.4 実施時 1: a fresh backup of the service, or a waiver by the class's
approver — until then the answer is "not yet", ``backup_pending``), and never inside a freeze
window for the service unless the change's class is exempt from freezes (emergency changes).
Pipelines ask ``GET /api/v1/changes/gate/`` before deploying and fail the step when refused —
the pattern of ServiceNow's DevOps change gate. Only production is gated.

The same rule decides whether a release may enter production (``releases.models``): there the
candidates are only the changes linked to the release (``among``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from itsm.core.models import Service

from .choices import GATED_ENVIRONMENTS, GateReason
from .models import ChangeRequest, FreezeWindow, pre_change_backup_problem

# The states in which a change authorises its deployment: approved (window planned at
# submission), scheduled (実施計画), implementing (変更実施). Verifying means the work is done.
GATE_STATES = ("approved", "scheduled", "implementing")


@dataclass(frozen=True)
class GateDecision:
    allowed: bool
    detail: str
    reason: str = ""  # a GateReason when refused
    change: ChangeRequest | None = None
    freeze: FreezeWindow | None = None


def _when(moment: datetime) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M")


def freeze_at(service: Service, at: datetime) -> FreezeWindow | None:
    """The freeze window covering ``at`` for this service (or for every service), if any."""
    return (
        FreezeWindow.objects.filter(starts_at__lte=at, ends_at__gt=at)
        .filter(Q(services__isnull=True) | Q(services=service))
        .order_by("starts_at", "pk")
        .first()
    )


def change_gate(*, service: Service, environment: str, at: datetime, among=None) -> GateDecision:
    """Decide whether ``service`` may be deployed to ``environment`` at ``at``.

    ``among`` (a queryset of change requests) limits the changes that may authorise the
    deployment, e.g. to those linked to a release; by default every change for the service.
    """
    if environment not in GATED_ENVIRONMENTS:
        return GateDecision(
            allowed=True, detail=_("Only production deployments need an approved change.")
        )
    candidates = (ChangeRequest.objects if among is None else among).select_related(
        "change_class", "pre_change_backup__policy", "backup_waived_by"
    )
    candidates = candidates.filter(
        services=service,
        state__in=GATE_STATES,
        planned_start__isnull=False,
        planned_end__isnull=False,
    ).distinct()
    in_window = list(
        candidates.filter(planned_start__lte=at, planned_end__gt=at).order_by("planned_start", "pk")
    )
    freeze = freeze_at(service, at)
    eligible = in_window
    if freeze is not None:
        eligible = [c for c in in_window if c.change_class and c.change_class.exempt_from_freeze]
    problems = {c.pk: pre_change_backup_problem(c, at) for c in eligible}
    ready = [c for c in eligible if problems[c.pk] is None]
    if ready:
        change = ready[0]
        return GateDecision(
            allowed=True,
            change=change,
            detail=_("%(number)s is approved for %(start)s – %(end)s.")
            % {
                "number": change.number,
                "start": _when(change.planned_start),
                "end": _when(change.planned_end),
            },
        )
    if eligible:
        change = eligible[0]
        return GateDecision(
            allowed=False,
            reason=GateReason.BACKUP_PENDING,
            change=change,
            detail=_(
                "Not yet: %(number)s covers this window, but its pre-change backup requirement "
                "is not met. %(problem)s"
            )
            % {"number": change.number, "problem": problems[change.pk]},
        )
    if freeze is not None:
        return GateDecision(
            allowed=False,
            reason=GateReason.FREEZE_WINDOW,
            freeze=freeze,
            change=in_window[0] if in_window else None,
            detail=_(
                "The freeze window “%(name)s” (%(start)s – %(end)s) covers this service; only an "
                "emergency change may deploy during it."
            )
            % {"name": freeze.name, "start": _when(freeze.starts_at), "end": _when(freeze.ends_at)},
        )
    upcoming = candidates.filter(planned_start__gt=at).order_by("planned_start", "pk").first()
    nearest = upcoming or candidates.order_by("-planned_end", "-pk").first()
    if nearest is not None:
        return GateDecision(
            allowed=False,
            reason=GateReason.OUTSIDE_WINDOW,
            change=nearest,
            detail=_(
                "%(number)s is approved for %(start)s – %(end)s; deploy inside that window or "
                "reschedule the change."
            )
            % {
                "number": nearest.number,
                "start": _when(nearest.planned_start),
                "end": _when(nearest.planned_end),
            },
        )
    return GateDecision(
        allowed=False,
        reason=GateReason.NO_APPROVED_CHANGE,
        detail=_(
            "No approved change covers %(service)s. File a change request (an emergency change "
            "if it cannot wait) and deploy once it is approved."
        )
        % {"service": service.name},
    )

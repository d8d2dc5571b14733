"""Alert groups as rows: the mapping rules applied to labels, the group episodes of a key
(locked), and what a batch of deliveries reads once (``Context``)."""

from __future__ import annotations

from django.utils import timezone

from incidents.choices import PRIORITY_ORDER
from incidents.models import Incident, priority_for

from .models import AlertGroup, Integration, MappingRule


class Context:
    """What a batch reads once: the integration's mapping rules, and during an alert storm the
    storm incident (found once, not once per new group: a storm is when groups pour in); before
    one, the opening times of the storm window's groups (``storms.storming``)."""

    def __init__(self, integration: Integration):
        self.rules = list(integration.rules.select_related("service"))
        self.storm: Incident | None = None
        self.recent_groups: list | None = None

    def forget_failed(self) -> None:
        """A delivery's savepoint was rolled back: what it added here may be gone."""
        self.storm = None
        self.recent_groups = None


def mapping(integration: Integration, labels: dict, rules: list[MappingRule]) -> dict:
    """Each field from the first matching rule that sets it (rules in order)."""
    out: dict = {}
    for rule in rules:
        if not rule.matches(labels):
            continue
        for name in ("priority", "impact_scope", "business_impact", "urgency"):
            value = getattr(rule, name)
            if value and name not in out:
                out[name] = value
        if rule.service_id and "service" not in out:
            out["service"] = rule.service
    return out


def highest(priorities) -> str:
    ranked = [p for p in priorities if p in PRIORITY_ORDER]
    return min(ranked, key=PRIORITY_ORDER.index) if ranked else ""


def triage_inputs(integration: Integration, mappings: list[dict]) -> dict:
    """Triage inputs for a new incident from the mappings of its firing alerts."""
    first = mappings[0] if mappings else {}
    inputs = {
        "priority": highest(m.get("priority", "") for m in mappings),
        "service": next((m["service"] for m in mappings if m.get("service")), None)
        or integration.service,
    }
    if not inputs["priority"] and all(
        first.get(k) for k in ("impact_scope", "business_impact", "urgency")
    ):
        inputs.update({k: first[k] for k in ("impact_scope", "business_impact", "urgency")})
    elif not inputs["priority"]:
        inputs["priority"] = integration.default_priority
    return inputs


def mapped_priority(integration: Integration, opener: dict) -> str:
    """The priority a new group's mapping rules give it (via the triage matrix when the rules
    give its inputs instead of a priority)."""
    if opener.get("priority"):
        return opener["priority"]
    inputs = [opener.get(k) for k in ("impact_scope", "business_impact", "urgency")]
    if all(inputs):
        return priority_for(*inputs)
    return integration.default_priority


def locked_latest_group(integration, key: str):
    """The newest (non-storm) episode of the key, locked until the end of the transaction."""
    return (
        AlertGroup.objects.select_for_update(of=("self",))
        .select_related("incident")
        .filter(integration=integration, key=key, is_storm=False)
        .order_by("-id")
        .first()
    )


def locked_open_group(integration, key: str, *, storm: bool = False, wait: bool = False):
    """The open group row for the key, locked until the end of the transaction. ``wait``:
    after losing the INSERT race the winner's row must exist."""
    rows = AlertGroup.objects.select_for_update(of=("self",)).select_related("incident")
    rows = rows.filter(integration=integration, key=key, is_storm=storm, is_open=True)
    return rows.get() if wait else rows.first()


def close_group(group: AlertGroup) -> None:
    group.is_open = False
    group.closed_at = timezone.now()
    AlertGroup.objects.filter(pk=group.pk).update(is_open=False, closed_at=group.closed_at)


def incident_title(name: str, summary: str) -> str:
    return (f"{name}: {summary}" if summary and summary != name else name)[:200]

"""Incident configuration: the triage matrix and urgency rules (§8.3.2), response and resolution
targets per priority (§8.1), escalation policies and their levels (§8.4)."""

from __future__ import annotations

from itsm.core.config import Child, ConfigResource, Ref, register
from itsm.core.roles import Role

OPS = (Role.OPS_MANAGER,)

register(
    ConfigResource(
        name="triage-matrix",
        model="incidents.TriageRule",
        key=("impact_scope", "business_impact"),
        fields=("priority",),
        editors=OPS,
        order=40,
        description="The triage matrix (§8.3.2): impact scope × business impact → priority.",
    )
)

register(
    ConfigResource(
        name="urgency-rules",
        model="incidents.UrgencyRule",
        key=("urgency",),
        fields=("priority_shift",),
        editors=OPS,
        order=40,
        description="How many priority levels each urgency lowers the matrix result.",
    )
)

register(
    ConfigResource(
        name="response-targets",
        model="incidents.ResponseTarget",
        key=("priority",),
        fields=("definition", "examples", "minutes", "clock"),
        editors=OPS,
        order=40,
        description="Each priority's definition and response target (§8.1).",
    )
)

register(
    ConfigResource(
        name="resolution-targets",
        model="incidents.ResolutionTarget",
        key=("priority",),
        fields=("minutes", "clock"),
        editors=OPS,
        order=40,
        description="Each priority's resolution target (holds pause its clock).",
    )
)

register(
    ConfigResource(
        name="escalation-policies",
        model="incidents.EscalationPolicy",
        key=("name",),
        fields=("description", "track", "is_active", "response_warning_percents"),
        refs={"service": Ref("core.Service")},
        children=(
            Child(
                related_name="levels",
                model="incidents.EscalationLevel",
                parent="policy",
                fields=(
                    "level",
                    "name",
                    "after_level",
                    "delay_minutes",
                    "target_role",
                    "repeat_minutes",
                    "condition",
                    "notify_only",
                ),
                refs={
                    "target_team": Ref("core.Team"),
                    "target_schedule": Ref("oncall.Schedule"),
                    "target_user": Ref("core.User", "username"),
                },
                order=("level", "notify_only"),
            ),
        ),
        editors=OPS,
        order=50,
        description="Escalation policies (L1→L5) and their levels, replaced as a whole.",
    )
)

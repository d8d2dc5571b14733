"""Change configuration: the change classes (§9.1 standard / normal / emergency / major and their
approvers, lead times and CAB rules), freeze windows, rollback criteria, the standard catalog."""

from __future__ import annotations

from itsm.core.config import ConfigResource, Ref, register
from itsm.core.roles import Role

OPS = (Role.OPS_MANAGER,)

register(
    ConfigResource(
        name="change-classes",
        model="changes.ChangeClass",
        key=("code",),
        fields=(
            "name",
            "name_en",
            "definition",
            "definition_en",
            "approver_role",
            "review_path",
            "lead_time_unit",
            "lead_time_amount",
            "exempt_from_freeze",
            "requires_template",
            "cab_approval_percent",
            "cab_rejection_blocks",
            "backup_max_age_hours",
            "sort_order",
        ),
        order=70,
        description="Change classes: approver, review path, lead time, CAB decision rule.",
    )
)

register(
    ConfigResource(
        name="freeze-windows",
        model="changes.FreezeWindow",
        key=("name", "starts_at"),
        fields=("ends_at", "reason"),
        many={"services": Ref("core.Service")},
        editors=OPS,
        order=70,
        description="Periods without changes (no services: every service); emergency changes may still run.",
    )
)

register(
    ConfigResource(
        name="rollback-criteria",
        model="changes.RollbackCriterion",
        key=("code",),
        fields=("text", "text_en", "is_active", "sort_order"),
        editors=OPS,
        order=70,
        description="The rollback criteria a change plan chooses from (§9.3).",
    )
)

register(
    ConfigResource(
        name="standard-change-templates",
        model="changes.StandardChangeTemplate",
        key=("name",),
        fields=(
            "category",
            "description",
            "implementation_plan",
            "rollback_plan",
            "risk_level",
            "is_active",
        ),
        refs={"owner": Ref("core.User", "username")},
        many={"services": Ref("core.Service")},
        editors=OPS,
        order=75,
        description="The standard change catalog (pre-approved changes).",
    )
)

"""Communication configuration: each priority's update cadence and implied service status."""

from __future__ import annotations

from itsm.core.config import ConfigResource, register
from itsm.core.roles import Role

register(
    ConfigResource(
        name="communication-rules",
        model="comms.PriorityComms",
        key=("priority",),
        fields=("update_every_minutes", "overdue_after_minutes", "service_status"),
        editors=(Role.OPS_MANAGER,),
        order=45,
        description="Stakeholder update cadence per priority and the status it implies.",
    )
)

"""Release configuration: the environments of the pipeline (§10) and the release cadences that
fill the release calendar."""

from __future__ import annotations

from itsm.core.config import ConfigResource, register
from itsm.core.roles import Role

register(
    ConfigResource(
        name="environments",
        model="releases.Environment",
        key=("code",),
        fields=("name", "role", "order"),
        order=80,
        description="Pipeline environments in promotion order (dev → test → staging → canary → prod).",
    )
)

register(
    ConfigResource(
        name="release-cadences",
        model="releases.ReleaseCadence",
        key=("release_type",),
        fields=(
            "frequency",
            "weekday",
            "week_of_month",
            "month_of_quarter",
            "time_of_day",
            "duration_minutes",
            "horizon_months",
            "target",
            "is_active",
        ),
        editors=(Role.OPS_MANAGER,),
        order=80,
        description="When each type of release may go out (the release calendar's slots).",
    )
)

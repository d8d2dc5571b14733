"""Defaults of the data the issue leaves configurable (seeded by migration, editable in the admin).

Per priority: how often stakeholders hear from the incident (minutes; None: no cadence), how long
past due an update may be before it is an escalation reason, and the service status an open
incident of that priority implies on the status page.
"""

from .choices import ServiceStatus

# priority: (update every N minutes, grace minutes before overdue escalates, implied status)
PRIORITY_COMMS = {
    "P1": (30, 10, ServiceStatus.MAJOR_OUTAGE),
    "P2": (60, 15, ServiceStatus.PARTIAL_OUTAGE),
    "P3": (None, 15, ServiceStatus.DEGRADED),
    "P4": (None, 15, ServiceStatus.DEGRADED),
}

# The commander is reminded this many minutes before an update is due.
REMIND_BEFORE_MINUTES = 5

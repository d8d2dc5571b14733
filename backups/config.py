"""Backup configuration: storage locations and backup policies (§11.2) with their schedules."""

from __future__ import annotations

from itsm.core.config import Child, ConfigResource, Ref, register
from itsm.core.roles import Role

from . import services

register(
    ConfigResource(
        name="storage-locations",
        model="backups.StorageLocation",
        key=("name",),
        fields=("media_type", "offsite", "encrypted", "path", "description"),
        order=85,
        description="Where backups are kept (the 3-2-1 rule counts copies, media and offsite).",
    )
)

register(
    ConfigResource(
        name="backup-policies",
        model="backups.BackupPolicy",
        key=("slug",),
        fields=(
            "name",
            "target_kind",
            "method",
            "trigger",
            "frequency_label",
            "retention_count",
            "retention_unit",
            "rpo_minutes",
            "rto_minutes",
            "encrypt_backups",
            "breach_priority",
            "restore_test_interval_months",
            "is_active",
            "display_order",
        ),
        refs={"owner": Ref("core.User", "username"), "service": Ref("core.Service")},
        many={"locations": Ref("backups.StorageLocation", "name")},
        children=(
            Child(
                related_name="schedules",
                model="backups.BackupSchedule",
                parent="policy",
                fields=("label", "kind", "cron", "expected_duration_minutes"),
                order=("pk",),
            ),
        ),
        after_write=services.schedule_next_run,
        editors=(Role.OPS_MANAGER,),
        order=90,
        description="Backup policies: target, method, retention, RPO/RTO, locations and schedules.",
    )
)

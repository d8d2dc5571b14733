from django.contrib import admin

from .models import (
    BackupJob,
    BackupPolicy,
    BackupSchedule,
    DRDrill,
    DRPlan,
    DRScenario,
    RestoreTest,
    RpoBreach,
    StorageLocation,
)


class BackupScheduleInline(admin.TabularInline):
    model = BackupSchedule
    extra = 0


@admin.register(BackupPolicy)
class BackupPolicyAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "target_kind",
        "method",
        "retention_count",
        "retention_unit",
        "rpo_minutes",
        "rto_minutes",
        "is_active",
    ]
    prepopulated_fields = {"slug": ["name"]}
    filter_horizontal = ["locations"]
    readonly_fields = ["last_success_at", "rpo_due_at", "next_run_at"]
    inlines = [BackupScheduleInline]


@admin.register(StorageLocation)
class StorageLocationAdmin(admin.ModelAdmin):
    list_display = ["name", "media_type", "offsite", "encrypted", "path"]


@admin.register(BackupJob)
class BackupJobAdmin(admin.ModelAdmin):
    list_display = ["number", "policy", "kind", "state", "started_at", "finished_at", "size_bytes"]
    list_filter = ["state", "policy"]
    search_fields = ["number", "external_id"]
    readonly_fields = ["number", "state"]


@admin.register(RestoreTest)
class RestoreTestAdmin(admin.ModelAdmin):
    list_display = ["number", "policy", "state", "due_on", "restore_minutes"]
    readonly_fields = ["number", "state"]


@admin.register(RpoBreach)
class RpoBreachAdmin(admin.ModelAdmin):
    list_display = ["policy", "detected_at", "incident", "recovered_at"]


class DRScenarioInline(admin.StackedInline):
    model = DRScenario
    extra = 0


@admin.register(DRPlan)
class DRPlanAdmin(admin.ModelAdmin):
    list_display = ["name", "has_dr_site", "standby_type"]
    inlines = [DRScenarioInline]


@admin.register(DRDrill)
class DRDrillAdmin(admin.ModelAdmin):
    list_display = ["scenario", "held_on", "result", "measured_minutes"]

from django.contrib import admin

from . import services
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
    # An RTO exception is granted only through the pass transition (services.pass_restore_test).
    readonly_fields = [
        "number",
        "state",
        "overdue_notified_at",
        "rto_exception_reason",
        "rto_exception_by",
        "rto_exception_at",
    ]


@admin.register(RpoBreach)
class RpoBreachAdmin(admin.ModelAdmin):
    list_display = ["policy", "detected_at", "incident", "recovered_at"]


class DRScenarioInline(admin.StackedInline):
    model = DRScenario
    extra = 0


@admin.register(DRPlan)
class DRPlanAdmin(admin.ModelAdmin):
    list_display = ["name", "has_dr_site", "standby_type", "owner", "drill_due_on"]
    readonly_fields = ["created_at", "drill_due_on", "drill_overdue_notified_on"]
    inlines = [DRScenarioInline]

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        # A changed drill interval moves the next drill's due date (§11.4).
        services.schedule_dr_drill(form.instance)


@admin.register(DRDrill)
class DRDrillAdmin(admin.ModelAdmin):
    list_display = ["scenario", "held_on", "result", "measured_minutes"]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        services.schedule_dr_drill(obj.scenario.plan)

    def delete_model(self, request, obj):
        plan = obj.scenario.plan
        super().delete_model(request, obj)
        services.schedule_dr_drill(plan)

    def delete_queryset(self, request, queryset):
        plans = {drill.scenario.plan for drill in queryset.select_related("scenario__plan")}
        super().delete_queryset(request, queryset)
        for plan in plans:
            services.schedule_dr_drill(plan)

from django.contrib import admin

from .models import (
    Deployment,
    DeploymentIncident,
    Environment,
    Release,
    ReleaseCadence,
    ReleaseSlot,
)


@admin.register(Environment)
class EnvironmentAdmin(admin.ModelAdmin):
    list_display = ["order", "code", "name", "role"]
    list_display_links = ["code"]


@admin.register(ReleaseCadence)
class ReleaseCadenceAdmin(admin.ModelAdmin):
    list_display = [
        "release_type",
        "frequency",
        "weekday",
        "week_of_month",
        "month_of_quarter",
        "time_of_day",
        "horizon_months",
        "is_active",
    ]


@admin.register(ReleaseSlot)
class ReleaseSlotAdmin(admin.ModelAdmin):
    list_display = ["starts_at", "release_type", "ends_at"]
    list_filter = ["release_type"]
    date_hierarchy = "starts_at"


class DeploymentInline(admin.TabularInline):
    model = Deployment
    extra = 0
    can_delete = False
    readonly_fields = [f.name for f in Deployment._meta.fields if f.name != "id"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Release)
class ReleaseAdmin(admin.ModelAdmin):
    list_display = ["number", "name", "version", "release_type", "service", "state", "planned_at"]
    list_filter = ["state", "release_type", "strategy", "service"]
    search_fields = ["number", "name", "version"]
    readonly_fields = [
        "number",
        "state",
        "testing_failures",
        "staging_failures",
        "canary_failures",
        "canary_skipped",
        "production_at",
        "completed_at",
        "rolled_back_at",
    ]
    filter_horizontal = ["changes"]
    inlines = [DeploymentInline]


@admin.register(Deployment)
class DeploymentAdmin(admin.ModelAdmin):
    list_display = ["release", "environment", "version", "result", "started_at", "reported_via"]
    list_filter = ["environment", "result"]
    search_fields = ["release__number", "version", "external_id", "commit_sha"]


@admin.register(DeploymentIncident)
class DeploymentIncidentAdmin(admin.ModelAdmin):
    list_display = ["incident", "deployment", "linked_by", "created_at"]
    raw_id_fields = ["incident", "deployment", "linked_by"]

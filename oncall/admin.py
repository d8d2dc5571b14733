"""Admin of on-call schedules: layers (with their people in order) inline, overrides."""

from django.contrib import admin

from .models import FeedKey, Layer, LayerMember, Override, Schedule


class LayerInline(admin.StackedInline):
    model = Layer
    extra = 0
    show_change_link = True


class OverrideInline(admin.TabularInline):
    model = Override
    extra = 0
    fk_name = "schedule"
    autocomplete_fields = ["user", "replaces"]
    exclude = ["created_by"]


@admin.register(Schedule)
class ScheduleAdmin(admin.ModelAdmin):
    list_display = ["name", "team", "level", "time_zone", "is_active"]
    list_filter = ["is_active", "level", "team"]
    search_fields = ["name", "slug", "team__name"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [LayerInline, OverrideInline]


class LayerMemberInline(admin.TabularInline):
    model = LayerMember
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Layer)
class LayerAdmin(admin.ModelAdmin):
    list_display = ["name", "schedule", "rotation", "handoff_time", "start_date", "priority"]
    list_filter = ["rotation", "restriction"]
    inlines = [LayerMemberInline]


@admin.register(Override)
class OverrideAdmin(admin.ModelAdmin):
    list_display = ["schedule", "user", "replaces", "start", "end", "reason"]
    list_filter = ["schedule"]
    autocomplete_fields = ["user", "replaces"]
    exclude = ["created_by"]


@admin.register(FeedKey)
class FeedKeyAdmin(admin.ModelAdmin):
    """Revocation only: keys are made by their owner on "My shifts"."""

    list_display = ["user", "prefix", "created_at", "revoked_at"]
    readonly_fields = ["user", "prefix", "created_at"]

    def has_add_permission(self, request):
        return False

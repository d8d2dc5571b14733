from django.contrib import admin

from .models import (
    IncidentComms,
    PriorityComms,
    StakeholderUpdate,
    StatusPageService,
    Subscription,
    UpdateTemplate,
)


@admin.register(PriorityComms)
class PriorityCommsAdmin(admin.ModelAdmin):
    list_display = ("priority", "update_every_minutes", "overdue_after_minutes", "service_status")


@admin.register(UpdateTemplate)
class UpdateTemplateAdmin(admin.ModelAdmin):
    list_display = ("name", "service", "status")
    list_filter = ("service", "status")
    search_fields = ("name", "message_ja", "message_en")


@admin.register(StatusPageService)
class StatusPageServiceAdmin(admin.ModelAdmin):
    list_display = ("service", "public", "public_name", "order")
    list_editable = ("public", "order")


@admin.register(IncidentComms)
class IncidentCommsAdmin(admin.ModelAdmin):
    """Read-only: roles and the public status change through the incident page (audited)."""

    list_display = ("incident", "commander", "comms_lead", "service_status", "last_update_at")
    search_fields = ("incident__number", "incident__title")
    readonly_fields = [f.name for f in IncidentComms._meta.fields] + ["responders"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(StakeholderUpdate)
class StakeholderUpdateAdmin(admin.ModelAdmin):
    """Read-only: an update posted was sent; it is not edited afterwards."""

    list_display = ("incident", "status", "audience", "posted_by", "posted_at", "recipients")
    list_filter = ("status", "audience")
    search_fields = ("incident__number", "message_ja", "message_en")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Subscription)
class SubscriptionAdmin(admin.ModelAdmin):
    list_display = ("subscriber", "scope", "public", "confirmed_at", "created_at")
    list_filter = ("public",)
    search_fields = ("email", "user__username", "team__name", "incident__number")
    readonly_fields = ("nonce", "scope_key", "subscriber_key")

    def has_add_permission(self, request):
        return False

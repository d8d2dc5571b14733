"""Admin of the monitoring intake: integrations with their mapping rules, the delivery log and
alert groups (read-only: they are written by the intake only)."""

from django.contrib import admin
from django.shortcuts import redirect
from django.utils.translation import gettext_lazy as _

from . import services
from .models import Alert, AlertGroup, Delivery, Integration, MappingRule
from .views import SECRET_SESSION_KEY


class MappingRuleInline(admin.TabularInline):
    model = MappingRule
    extra = 1
    fields = [
        "order",
        "label",
        "value",
        "priority",
        "impact_scope",
        "business_impact",
        "urgency",
        "service",
    ]


@admin.register(Integration)
class IntegrationAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "is_active", "service", "last_delivery_at"]
    list_filter = ["kind", "is_active"]
    search_fields = ["name"]
    inlines = [MappingRuleInline]
    readonly_fields = ["secret_prefix", "secret_issued_at", "created_at", "last_delivery_at"]
    fieldsets = [
        (None, {"fields": ["name", "kind", "description", "is_active"]}),
        (_("Incidents"), {"fields": ["service", "team", "default_priority", "auto_recover"]}),
        (
            _("Limits"),
            {
                "fields": [
                    "rate_limit_per_minute",
                    "storm_threshold",
                    "storm_window_minutes",
                    "delivery_retention_days",
                ]
            },
        ),
        (
            _("Secret"),
            {"fields": ["secret_prefix", "secret_issued_at", "secret_revoked_at", "created_at"]},
        ),
    ]

    def save_model(self, request, obj, form, change):
        # Through the intake's services, as every other client: hashed secret, audit trail.
        if change:
            services.update_integration(obj, actor=request.user, changed=form.changed_data)
            return
        _obj, raw = services.add_integration(obj, actor=request.user, default_rules=False)
        request.session[SECRET_SESSION_KEY] = {"secret": raw, "pk": obj.pk}

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        if not change:
            services.add_default_rules(form.instance)  # only when no rule was given inline

    def response_add(self, request, obj, post_url_continue=None):
        # The new secret is shown once, on the integration page with the ready-made snippets.
        return redirect(obj.get_absolute_url())


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = ["received_at", "integration", "format", "result", "alert_count", "attempts"]
    list_filter = ["result", "format", "integration"]
    date_hierarchy = "received_at"
    readonly_fields = [f.name for f in Delivery._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class AlertInline(admin.TabularInline):
    model = Alert
    extra = 0
    fields = ["fingerprint", "name", "status", "repeat_count", "starts_at", "ends_at"]
    readonly_fields = fields
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(AlertGroup)
class AlertGroupAdmin(admin.ModelAdmin):
    list_display = [
        "integration",
        "key",
        "is_storm",
        "is_open",
        "incident",
        "service",
        "priority",
        "opened_at",
    ]
    list_filter = ["is_open", "is_storm", "integration"]
    search_fields = ["key", "incident__number"]
    raw_id_fields = ["incident", "previous"]
    # service and priority: what the mapping rules gave the group when it opened.
    readonly_fields = [
        "integration",
        "key",
        "is_storm",
        "service",
        "priority",
        "opened_at",
        "closed_at",
        "labels",
    ]
    inlines = [AlertInline]

    def has_add_permission(self, request):
        return False

"""Admin of escalation policies (seed §8.4): where policies are edited. Imported by admin.py."""

from django import forms
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from .models import EscalationLevel, EscalationPolicy, EscalationStep, Page
from .models.escalation import parse_percents


class EscalationLevelInline(admin.TabularInline):
    model = EscalationLevel
    extra = 0
    autocomplete_fields = ["target_user"]
    fields = [
        "level",
        "name",
        "after_level",
        "delay_minutes",
        "target_schedule",
        "target_user",
        "target_team",
        "target_role",
        "repeat_minutes",
        "condition",
        "notify_only",
    ]


class EscalationPolicyForm(forms.ModelForm):
    class Meta:
        model = EscalationPolicy
        fields = [
            "name",
            "description",
            "track",
            "service",
            "is_active",
            "response_warning_percents",
        ]

    def clean_response_warning_percents(self):
        value = self.cleaned_data["response_warning_percents"]
        try:
            parse_percents(value)
        except ValueError as exc:
            raise forms.ValidationError(
                _("Give percentages between 1 and 99, separated by commas (e.g. 50,75).")
            ) from exc
        return value


@admin.register(EscalationPolicy)
class EscalationPolicyAdmin(admin.ModelAdmin):
    form = EscalationPolicyForm
    list_display = ["name", "track", "service", "is_active"]
    list_filter = ["track", "is_active"]
    inlines = [EscalationLevelInline]


@admin.register(EscalationStep)
class EscalationStepAdmin(admin.ModelAdmin):
    """Read-only record of every step taken."""

    list_display = ["incident", "key", "kind", "level", "reason", "applied_at", "actor"]
    list_filter = ["kind", "reason"]
    search_fields = ["incident__number", "comment"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Page)
class PageAdmin(admin.ModelAdmin):
    """Read-only record of every page sent and its acknowledgement."""

    list_display = [
        "incident",
        "level",
        "user",
        "target",
        "created_at",
        "repeats",
        "acknowledged_at",
        "acknowledged_by",
        "acknowledged_via",
        "stopped_at",
    ]
    list_filter = ["target", "acknowledged_via", "level"]
    search_fields = ["incident__number", "user__username"]
    list_select_related = ["incident", "user", "acknowledged_by"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

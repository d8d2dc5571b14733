from django.contrib import admin

from .models import (
    ActionItem,
    ChecklistItem,
    FiveWhy,
    FixFollowUp,
    Incident,
    IncidentPolicy,
    IncidentReview,
    IncidentReviewItem,
    IncidentRunbook,
    Postmortem,
    ResolutionTarget,
    ResponseTarget,
    ReviewCheck,
    Runbook,
    RunbookStep,
    TimelineEntry,
    TriageRule,
    UrgencyRule,
)


@admin.register(TriageRule)
class TriageRuleAdmin(admin.ModelAdmin):
    list_display = ["impact_scope", "business_impact", "priority"]
    list_editable = ["priority"]
    list_filter = ["impact_scope", "business_impact"]

    def has_add_permission(self, request):
        return False  # the 3×3 matrix is complete; edit its cells

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(UrgencyRule)
class UrgencyRuleAdmin(admin.ModelAdmin):
    list_display = ["urgency", "priority_shift"]
    list_editable = ["priority_shift"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ResolutionTarget)
class ResolutionTargetAdmin(admin.ModelAdmin):
    """Issue 18: the resolution target per priority (business days as business minutes,
    docs/sla.md); holds are made through ``incidents.holds``, never here."""

    list_display = ["priority", "minutes", "clock"]
    list_editable = ["minutes", "clock"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ResponseTarget)
class ResponseTargetAdmin(admin.ModelAdmin):
    list_display = ["priority", "definition", "minutes", "clock"]
    list_editable = ["minutes", "clock"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(IncidentPolicy)
class IncidentPolicyAdmin(admin.ModelAdmin):
    list_display = ["__str__", "reopen_window_days", "postmortem_due_business_days"]

    def has_add_permission(self, request):
        return not IncidentPolicy.objects.exists()

    def has_delete_permission(self, request, obj=None):
        return False


class RunbookStepInline(admin.TabularInline):
    model = RunbookStep
    extra = 1


@admin.register(Runbook)
class RunbookAdmin(admin.ModelAdmin):
    list_display = ["name", "service", "is_active"]
    list_filter = ["is_active", "service"]
    search_fields = ["name", "description"]
    inlines = [RunbookStepInline]


class TimelineInline(admin.TabularInline):
    model = TimelineEntry
    extra = 0
    fields = ["at", "actor", "actor_label", "kind", "text"]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


class FixFollowUpInline(admin.TabularInline):
    model = FixFollowUp
    extra = 0
    fields = ["title", "owner", "due_date", "change_number", "done_at", "created_at"]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Incident)
class IncidentAdmin(admin.ModelAdmin):
    """Read-mostly: state and priority change only through the workflow and services."""

    list_display = ["number", "title", "state", "priority", "source", "service", "assignee"]
    list_filter = ["state", "priority", "source", "service", "team"]
    search_fields = ["number", "title", "description"]
    list_select_related = ["service", "assignee"]
    raw_id_fields = ["assignee", "reported_by"]
    readonly_fields = [
        "number",
        "state",
        "priority",
        "priority_overridden",
        "impact_scope",
        "business_impact",
        "urgency",
        "detected_at",
        "triaged_at",
        "response_due_at",
        "response_started_at",
        "recovered_at",
        "closed_at",
        # §8.2: recorded by the close and incidents.fix.record_fix, audited there.
        "fix_status",
        "fixed_at",
        "fix_change",
        "escalation_level",
        "next_deadline_at",
    ]
    inlines = [TimelineInline, FixFollowUpInline]


class FiveWhyInline(admin.TabularInline):
    model = FiveWhy
    extra = 0


class ActionItemInline(admin.TabularInline):
    model = ActionItem
    extra = 0
    raw_id_fields = ["owner"]


@admin.register(Postmortem)
class PostmortemAdmin(admin.ModelAdmin):
    list_display = ["number", "incident", "kind", "state", "owner", "due_at"]
    list_filter = ["state", "kind", "mandatory"]
    readonly_fields = ["number", "state", "incident", "published_at"]
    raw_id_fields = ["owner"]
    inlines = [FiveWhyInline, ActionItemInline]


class ChecklistItemInline(admin.TabularInline):
    model = ChecklistItem
    extra = 0


@admin.register(IncidentRunbook)
class IncidentRunbookAdmin(admin.ModelAdmin):
    list_display = ["incident", "runbook", "attached_at"]
    raw_id_fields = ["incident"]
    inlines = [ChecklistItemInline]


@admin.register(ReviewCheck)
class ReviewCheckAdmin(admin.ModelAdmin):
    """§8.2 レビュー: the checklist copied onto each new P3/P4 review."""

    list_display = ["text", "display_order", "is_active"]
    list_editable = ["display_order", "is_active"]


class IncidentReviewItemInline(admin.TabularInline):
    model = IncidentReviewItem
    extra = 0
    fields = ["order", "text", "checked"]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(IncidentReview)
class IncidentReviewAdmin(admin.ModelAdmin):
    """Read-only: reviews are ticked and completed on the incident page (services)."""

    list_display = ["incident", "state", "owner", "due_at", "completed_at"]
    list_filter = ["state"]
    raw_id_fields = ["owner"]
    readonly_fields = ["incident", "state", "comment", "created_at", "completed_at", "completed_by"]
    inlines = [IncidentReviewItemInline]

    def has_add_permission(self, request):
        return False


# Escalation policies (§8.4) register their own admin pages.
from . import admin_escalation  # noqa: E402, F401

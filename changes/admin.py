from django.contrib import admin

from .models import (
    Approval,
    CabVote,
    ChangeClass,
    ChangeRequest,
    FreezeWindow,
    RollbackCriterion,
    StandardChangeTemplate,
    WorkLogEntry,
)


@admin.register(ChangeClass)
class ChangeClassAdmin(admin.ModelAdmin):
    list_display = (
        "code",
        "name",
        "name_en",
        "approver_role",
        "review_path",
        "lead_time_unit",
        "lead_time_amount",
        "cab_approval_percent",
        "cab_rejection_blocks",
        "backup_max_age_hours",
    )


@admin.register(StandardChangeTemplate)
class StandardChangeTemplateAdmin(admin.ModelAdmin):
    list_display = ("name", "category", "risk_level", "owner", "is_active")
    list_filter = ("category", "is_active")
    search_fields = ("name",)
    filter_horizontal = ("services",)


@admin.register(FreezeWindow)
class FreezeWindowAdmin(admin.ModelAdmin):
    list_display = ("name", "starts_at", "ends_at")
    filter_horizontal = ("services",)


@admin.register(RollbackCriterion)
class RollbackCriterionAdmin(admin.ModelAdmin):
    list_display = ("code", "text", "text_en", "is_active", "sort_order")


class ApprovalInline(admin.TabularInline):
    model = Approval
    extra = 0
    can_delete = False
    readonly_fields = ("kind", "decision", "approver", "comment", "at")

    def has_add_permission(self, request, obj=None):
        return False


class CabVoteInline(admin.TabularInline):
    model = CabVote
    extra = 0
    can_delete = False
    readonly_fields = ("member", "vote", "comment", "cast_at")

    def has_add_permission(self, request, obj=None):
        return False


class WorkLogInline(admin.TabularInline):
    model = WorkLogEntry
    extra = 0
    can_delete = False
    readonly_fields = ("author", "at", "text")

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(ChangeRequest)
class ChangeRequestAdmin(admin.ModelAdmin):
    """Read mostly: the lifecycle moves through the portal's services, not the admin."""

    list_display = ("number", "title", "change_class", "state", "planned_start", "requester")
    list_filter = ("state", "change_class", "category")
    search_fields = ("number", "title")
    # What the guards read after the fact is recorded through the services only (§9.2, §9.4).
    readonly_fields = (
        "number",
        "state",
        "pre_change_backup",
        "backup_waived",
        "backup_waiver_reason",
        "backup_waived_by",
        "backup_waived_at",
        "post_implementation_review",
        "post_implementation_reviewed_at",
        "post_implementation_reviewed_by",
    )
    inlines = [ApprovalInline, CabVoteInline, WorkLogInline]

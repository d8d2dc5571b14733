from django.contrib import admin

from .models import Attachment


@admin.register(Attachment)
class AttachmentAdmin(admin.ModelAdmin):
    """Read-only list: files are added and deleted on the record's page (audited there)."""

    list_display = ("name", "record_type", "record_id", "size", "uploaded_by", "uploaded_at")
    list_filter = ("record_type",)
    search_fields = ("name", "sha256")
    readonly_fields = [f.name for f in Attachment._meta.fields if f.name != "file"]
    exclude = ("file",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

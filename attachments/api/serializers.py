from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from ..models import Attachment


class AttachmentSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    uploaded_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    is_image = serializers.BooleanField(read_only=True)
    download_url = serializers.SerializerMethodField()
    preview_url = serializers.SerializerMethodField()

    class Meta:
        model = Attachment
        fields = [
            "id",
            "name",
            "content_type",
            "size",
            "sha256",
            "is_image",
            "uploaded_by",
            "uploaded_at",
            "download_url",
            "preview_url",
        ]
        read_only_fields = fields

    def get_download_url(self, attachment) -> str:
        """The bytes, through the API (Bearer token or session)."""
        return self._absolute(f"/api/v1/attachments/{attachment.public_id}/download/")

    def get_preview_url(self, attachment) -> str | None:
        """Images only: shown inline in a browser session."""
        return self._absolute(attachment.preview_url()) if attachment.is_image else None

    def _absolute(self, path: str) -> str:
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request is not None else path


class AttachmentUploadSerializer(serializers.Serializer):
    file = serializers.FileField(
        allow_empty_file=True, help_text=_("The file (multipart/form-data).")
    )

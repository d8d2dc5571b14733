"""REST API of attachments (issue 19).

- ``GET/POST /api/v1/<records>/<number>/attachments/``: a record's attachments; upload one as
  ``multipart/form-data`` with the field ``file`` (routed by the owning app, e.g.
  ``RecordAttachmentsView.as_view(model=Incident)``).
- ``GET /api/v1/attachments/<id>/``: one attachment's metadata.
- ``GET /api/v1/attachments/<id>/download/``: its bytes.
- ``DELETE /api/v1/attachments/<id>/``.

A record the caller may not see answers 404; a write the record's app refuses 403; a read-only
token may only read (TokenScopePermission).
"""

from __future__ import annotations

from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from itsm.core.api.permissions import TokenScopePermission

from .. import registry, selectors, services, serving
from .serializers import AttachmentSerializer, AttachmentUploadSerializer


class _Base(APIView):
    permission_classes = [IsAuthenticated, TokenScopePermission]


class RecordAttachmentsView(_Base):
    model = None  # set by as_view(model=…) in the owning app's urls
    parser_classes = [MultiPartParser, FormParser]

    def _record(self, request, number: str):
        kind = registry.for_model(self.model)
        return selectors.visible_record(request.user, kind, number)

    @extend_schema(responses=AttachmentSerializer(many=True), summary="A record's attachments")
    def get(self, request, number: str):
        obj = self._record(request, number)
        rows = selectors.attachments_of(obj)
        return Response(AttachmentSerializer(rows, many=True, context={"request": request}).data)

    @extend_schema(
        request={"multipart/form-data": AttachmentUploadSerializer},
        responses={201: AttachmentSerializer},
        summary="Attach a file (size and type limits: ATTACHMENT_MAX_BYTES, "
        "ATTACHMENT_ALLOWED_TYPES)",
    )
    def post(self, request, number: str):
        obj = self._record(request, number)
        given = AttachmentUploadSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        upload = given.validated_data["file"]
        if not hasattr(upload, "chunks"):
            raise serializers.ValidationError({"file": [_("Upload a file.")]})
        attachment = services.add_attachment(obj, actor=request.user, upload=upload)
        return Response(
            AttachmentSerializer(attachment, context={"request": request}).data,
            status=status.HTTP_201_CREATED,
        )


class AttachmentView(_Base):
    @extend_schema(responses=AttachmentSerializer, summary="One attachment's metadata")
    def get(self, request, public_id):
        attachment = selectors.visible_attachment(request.user, public_id)
        return Response(AttachmentSerializer(attachment, context={"request": request}).data)

    @extend_schema(responses={204: None}, summary="Delete an attachment (audited on its record)")
    def delete(self, request, public_id):
        attachment = selectors.visible_attachment(request.user, public_id)
        services.delete_attachment(attachment, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class BinaryRenderer(BaseRenderer):
    """Lets a client ask for ``application/octet-stream`` (the download answers with a
    FileResponse, never through this renderer)."""

    media_type = "application/octet-stream"
    format = "bin"
    charset = None

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return b""


class AttachmentDownloadView(_Base):
    renderer_classes = [JSONRenderer, BinaryRenderer]

    def handle_exception(self, exc):
        # The bytes are octet-stream; an error is always the API's JSON error body.
        response = super().handle_exception(exc)
        self.request.accepted_renderer = JSONRenderer()
        self.request.accepted_media_type = JSONRenderer.media_type
        return response

    @extend_schema(
        responses={
            (200, "application/octet-stream"): OpenApiResponse(
                OpenApiTypes.BINARY, description="The file's bytes."
            )
        },
        summary="Download an attachment",
    )
    def get(self, request, public_id):
        attachment = selectors.visible_attachment(request.user, public_id)
        return serving.file_response(attachment, inline=False)

"""Pages of attachments: download, image preview, upload from a record's page, delete.

Every request asks the record's app (attachments.registry) whether this user may see the record:
a file of a record one may not see answers 404, a refused delete 403.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from . import registry, selectors, services, serving
from .forms import UploadForm


@login_required
@require_GET
def download(request, public_id):
    attachment = selectors.visible_attachment(request.user, public_id)
    return serving.file_response(attachment, inline=False)


@login_required
@require_GET
def preview(request, public_id):
    """Images only (PNG, JPEG, GIF, WebP): anything else a browser could render is downloaded."""
    attachment = selectors.visible_attachment(request.user, public_id)
    if not attachment.is_image:
        raise Http404
    return serving.file_response(attachment, inline=True)


def _back(obj):
    return redirect(f"{obj.get_absolute_url()}#attachments")


@login_required
@require_POST
def upload(request, key: str, number: str):
    kind = registry.by_key(key)
    if kind is None:
        raise Http404
    obj = selectors.visible_record(request.user, kind, number)
    form = UploadForm(request.POST, request.FILES)
    if not form.is_valid():
        return _refused(request, obj, form.errors.get("file") or [_("Choose a file.")])
    try:
        attachment = services.add_attachment(
            obj, actor=request.user, upload=form.cleaned_data["file"]
        )
    except ValidationError as exc:
        return _refused(request, obj, [m for ms in exc.message_dict.values() for m in ms])
    messages.success(request, _("Attached %(name)s.") % {"name": attachment.name})
    return _back(obj)


def _refused(request, obj, errors: list[str]):
    """The record's page shows the refusal under the upload form (selectors.panel_context)."""
    selectors.keep_errors(request, obj, [str(e) for e in errors])
    return _back(obj)


@login_required
@require_POST
def delete(request, public_id):
    attachment = selectors.visible_attachment(request.user, public_id)
    obj = attachment.record
    services.delete_attachment(attachment, actor=request.user)  # PermissionDenied → 403
    messages.success(request, _("Deleted %(name)s.") % {"name": attachment.name})
    return _back(obj)

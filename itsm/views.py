"""Pages that span the four processes (composition root)."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from itsm.core.api.exceptions import json_not_found, json_server_error
from itsm.core.audit import AuditEvent


@login_required
def home(request):
    """ "My work": what needs the signed-in user now, across the four processes."""
    recent = AuditEvent.objects.select_related("actor").order_by("-at", "-id")[:15]
    return render(request, "home.html", {"recent_events": recent})


def not_found(request, exception=None):
    if request.path.startswith("/api/"):
        return json_not_found(request, exception)
    return render(request, "404.html", status=404)


def server_error(request):
    if request.path.startswith("/api/"):
        return json_server_error(request)
    return render(request, "500.html", status=500)

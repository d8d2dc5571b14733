"""Pages that span the four processes (composition root).

"My work" (the home page) asks each domain app for the signed-in user's open items through one
read function, so the apps stay unaware of the page and the page works before an app lands::

    # <app>/selectors.py
    def my_open_items(user) -> Iterable[MyWorkItem]:
        '''The user's open items in this app, most urgent first.'''

Each item is a dict or an object with these keys/attributes (the contract):

- ``number``: str, the record's number shown to people (``INC-000123``);
- ``title``: str, a one-line summary;
- ``url``: str, the record's page;
- ``state_label``: str, the translated state (or step) the item waits in;
- ``due``: an aware datetime by which the user should act, or None.

The page shows at most :data:`MY_WORK_LIMIT` items per app, in the order given, and links to the
app's list page for the rest. Apps without ``selectors.my_open_items`` simply get no card.
"""

from __future__ import annotations

import functools
import importlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import islice

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.contrib.staticfiles import finders
from django.http import HttpResponse, HttpResponseRedirect, HttpResponseServerError, JsonResponse
from django.shortcuts import render
from django.templatetags.static import static
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.cache import patch_cache_control
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET

from itsm.core.api.exceptions import json_not_found, json_server_error
from itsm.core.audit import AuditEvent
from oncall import selectors as oncall_selectors

logger = logging.getLogger(__name__)

# (app module, card title, list page URL name), in the order the cards appear.
MY_WORK_APPS = (
    ("incidents", _("Incidents"), "incidents:list"),
    ("changes", _("Changes"), "changes:list"),
    ("releases", _("Releases"), "releases:list"),
    ("backups", _("Backups"), "backups:list"),
)
MY_WORK_LIMIT = 10


@dataclass(frozen=True)
class MyWorkItem:
    number: str
    title: str
    url: str
    state_label: str
    due: datetime | None

    @property
    def overdue(self) -> bool:
        return self.due is not None and self.due <= timezone.now()

    @classmethod
    def of(cls, item) -> MyWorkItem:
        def get(name):
            return item[name] if isinstance(item, dict) else getattr(item, name)

        return cls(
            number=str(get("number")),
            title=str(get("title")),
            url=str(get("url")),
            state_label=str(get("state_label")),
            due=get("due"),
        )


def _selector(app: str):
    """``<app>.selectors.my_open_items``, or None while the app does not provide it."""
    try:
        module = importlib.import_module(f"{app}.selectors")
    except ModuleNotFoundError as exc:
        # Only a missing selectors module means "not yet"; a broken import inside it must show.
        if exc.name not in (app, f"{app}.selectors"):
            raise
        return None
    fetch = getattr(module, "my_open_items", None)
    return fetch if callable(fetch) else None


def _list_url(name: str) -> str:
    try:
        return reverse(name)
    except NoReverseMatch:
        return ""


def my_work(user) -> list[dict]:
    """One card per app that exposes ``my_open_items``: its first items and whether there are more."""
    cards = []
    for app, title, list_name in MY_WORK_APPS:
        fetch = _selector(app)
        if fetch is None:
            continue
        items = [MyWorkItem.of(item) for item in islice(fetch(user), MY_WORK_LIMIT + 1)]
        cards.append(
            {
                "app": app,
                "title": title,
                "items": items[:MY_WORK_LIMIT],
                "more": len(items) > MY_WORK_LIMIT,
                "list_url": _list_url(list_name),
            }
        )
    return cards


@login_required
def home(request):
    """ "My work": what needs the signed-in user now, across the four processes."""
    recent = AuditEvent.objects.select_related("actor", "content_type").order_by("-at", "-id")[:15]
    now = timezone.now()
    shifts = oncall_selectors.shifts_for_user(request.user, now, now + timedelta(days=14))
    return render(
        request,
        "home.html",
        {"cards": my_work(request.user), "recent_events": recent, "my_shifts": shifts[:5]},
    )


@require_GET
def favicon(request):
    """``/favicon.ico`` for the pages that do not name their icon (the API docs, the admin)."""
    response = HttpResponseRedirect(static("favicon.ico"))
    patch_cache_control(response, public=True, max_age=86400)
    return response


# Redoc's sidebar shows the Redocly logo from their CDN, with no setting to turn it off. The
# portal runs offline (DESIGN.md): /api/redoc/ loads this copy of the bundle, whose logo is an
# empty inline image instead (the "API docs by Redocly" link stays).
REDOC_BUNDLE = "drf_spectacular_sidecar/redoc/bundles/redoc.standalone.js"
REDOC_CDN_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"
OFFLINE_LOGO = "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg'/%3E"


@functools.cache
def _offline_redoc_bundle() -> bytes:
    with open(finders.find(REDOC_BUNDLE), encoding="utf-8") as bundle:
        return bundle.read().replace(REDOC_CDN_LOGO, OFFLINE_LOGO).encode()


@require_GET
def redoc_bundle(request):
    response = HttpResponse(_offline_redoc_bundle(), content_type="text/javascript; charset=utf-8")
    patch_cache_control(response, public=True, max_age=86400)
    return response


# --------------------------------------------------------------------------- error pages
#
# Every error a person can meet in the browser is a page of the portal: the layout with the menu,
# in the user's language, saying what happened and offering a way back. The API keeps its JSON.


def _is_api(request) -> bool:
    return request.path.startswith("/api/")


def _way_back(request) -> str:
    """The page the user came from when it is one of ours, else ''."""
    referer = request.META.get("HTTP_REFERER", "")
    if referer and url_has_allowed_host_and_scheme(
        referer, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return referer
    return ""


def _error_page(request, template: str, status: int, **context) -> HttpResponse:
    return render(request, template, {"way_back": _way_back(request), **context}, status=status)


def permission_denied(request, exception=None):
    if _is_api(request):
        return JsonResponse(
            {
                "code": "permission_denied",
                "detail": _("You do not have permission to perform this action."),
            },
            status=403,
        )
    return _error_page(request, "403.html", 403)


def not_found(request, exception=None):
    if _is_api(request):
        return json_not_found(request, exception)
    return _error_page(request, "404.html", 404)


def csrf_failure(request, reason=""):
    """``CSRF_FAILURE_VIEW``: a form sent from an expired page (or another site) was refused."""
    return _error_page(request, "403_csrf.html", 403, reason=reason if settings.DEBUG else "")


# The last resort when even the layout cannot be drawn (the database is down, a template broke).
_BARE_500 = (
    '<!doctype html><html><head><meta charset="utf-8"><title>Server error</title></head><body>'
    "<h1>サーバーエラー / Server error</h1>"
    "<p>問題が発生しました。管理者に連絡してください。 / Something went wrong; "
    'the administrators have been told.</p><p><a href="/">マイワークに戻る / Back to my work</a></p>'
    "</body></html>"
)


def server_error(request):
    if _is_api(request):
        return json_server_error(request)
    try:
        return _error_page(request, "500.html", 500)
    except Exception:  # noqa: BLE001 - the error page must never fail itself
        logger.exception("the 500 page could not be rendered; sending the bare one")
        return HttpResponseServerError(_BARE_500)

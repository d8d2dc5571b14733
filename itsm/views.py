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

import importlib
from dataclasses import dataclass
from datetime import datetime
from itertools import islice

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from itsm.core.api.exceptions import json_not_found, json_server_error
from itsm.core.audit import AuditEvent

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
    return render(request, "home.html", {"cards": my_work(request.user), "recent_events": recent})


def not_found(request, exception=None):
    if request.path.startswith("/api/"):
        return json_not_found(request, exception)
    return render(request, "404.html", status=404)


def server_error(request):
    if request.path.startswith("/api/"):
        return json_server_error(request)
    return render(request, "500.html", status=500)

"""The top bar's main menu: one entry per page a signed-in user may open (issue 14).

An entry is shown only when its ``allowed(user)`` check — the same permission its view enforces —
passes, so no menu link leads to a 403. ``tests/core/test_menu.py`` opens every entry as every
role and checks that the pages left out really are closed to that role.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.urls import NoReverseMatch, reverse
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class MenuEntry:
    url_name: str
    label: str | Promise
    icon: str  # a Bootstrap icon name
    active_prefix: str  # the entry is highlighted on pages under this path ("" = never)
    allowed: Callable[[object], bool]


def _perm(codename: str) -> Callable[[object], bool]:
    return lambda user: user.has_perm(codename)


def _signed_in(user) -> bool:
    return user.is_authenticated


def _staff(user) -> bool:
    return user.is_active and user.is_staff


def _dashboard(user) -> bool:
    from itsm.dashboard import may_view_dashboard

    return may_view_dashboard(user)


MAIN_MENU = (
    MenuEntry(
        "incidents:list", _("Incidents"), "fire", "/incidents/", _perm("incidents.view_incident")
    ),
    MenuEntry("oncall:list", _("On-call"), "telephone", "/oncall/", _perm("oncall.view_schedule")),
    MenuEntry(
        "comms:status", _("Status"), "broadcast", "/status/", _perm("comms.view_stakeholderupdate")
    ),
    MenuEntry(
        "changes:list",
        _("Changes"),
        "arrow-repeat",
        "/changes/",
        _perm("changes.view_changerequest"),
    ),
    MenuEntry(
        "releases:list",
        _("Releases"),
        "rocket-takeoff",
        "/releases/",
        _perm("releases.view_release"),
    ),
    MenuEntry(
        "backups:list", _("Backups"), "hdd-stack", "/backups/", _perm("backups.view_backuppolicy")
    ),
    MenuEntry("dashboard", _("Dashboard"), "speedometer2", "/dashboard/", _dashboard),
    MenuEntry(
        "intake:integrations",
        _("Monitoring"),
        "broadcast",
        "/incidents/integrations/",
        _perm("intake.view_integration"),
    ),
    MenuEntry("core:workflows", _("Workflows"), "diagram-3", "/workflows/", _signed_in),
    MenuEntry("swagger-ui", _("API"), "braces", "/api/docs/", _signed_in),
    MenuEntry("admin:index", _("Admin"), "gear", "", _staff),
)


def main_menu(request) -> list[dict]:
    """The entries of :data:`MAIN_MENU` the request's user may open, with URL and active flag."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return []
    items = []
    for entry in MAIN_MENU:
        try:
            url = reverse(entry.url_name)
        except NoReverseMatch:  # an app without that page yet
            continue
        if not entry.allowed(user):
            continue
        active = bool(entry.active_prefix) and request.path.startswith(entry.active_prefix)
        items.append(
            {
                "url": url,
                "label": entry.label,
                "icon": entry.icon,
                "active": active,
                "key": entry.url_name,
            }
        )
    # The most specific match wins ("/incidents/integrations/" is not also "Incidents").
    actives = [i for i in items if i["active"]]
    if len(actives) > 1:
        keep = max(actives, key=lambda i: len(MAIN_MENU_PREFIX[i["key"]]))
        for item in actives:
            item["active"] = item is keep
    return items


MAIN_MENU_PREFIX = {entry.url_name: entry.active_prefix for entry in MAIN_MENU}

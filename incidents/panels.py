"""Panels other apps add to the incident page, without incidents importing them.

An app that knows something about incidents (the monitoring intake: the alerts and alert groups
behind one) registers a panel from its ``AppConfig.ready()``::

    from incidents.panels import Panel, register_panel

    register_panel(Panel("alerts", "intake/partials/_alerts.html", alerts_context))

``context(request, incident)`` returns the template's context, or None when the panel has
nothing to show for this incident (the page then renders nothing for it). Panels render in
their ``order`` (then registration order) where the page says ``{% incident_panels incident %}``.
Registering the same name again replaces the panel (a reloaded module does not show it twice).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

Context = Callable[[object, object], dict | None]


@dataclass(frozen=True)
class Panel:
    name: str
    template: str
    context: Context
    order: int = 100


_panels: dict[str, Panel] = {}


def register_panel(panel: Panel) -> Panel:
    _panels[panel.name] = panel
    return panel


def unregister_panel(name: str) -> None:
    _panels.pop(name, None)


def panels() -> list[Panel]:
    return sorted(_panels.values(), key=lambda panel: panel.order)

"""The incident page's "Changes and deployments" panel (registered by ``ReleasesConfig.ready``
with ``incidents.panels``): the changes that caused or fixed the incident and the deployments
that caused it, each linking to its page — the other side of the links those pages show."""

from __future__ import annotations

from incidents.panels import Panel


def related_context(request, incident) -> dict | None:
    changes = list(incident.change_links.select_related("change"))
    deployments = list(incident.causing_deployment_links.select_related("deployment__release"))
    if not changes and not deployments:
        return None
    return {"change_links": changes, "deployment_links": deployments}


RELATED_PANEL = Panel(
    "changes_and_deployments", "releases/partials/_incident_related.html", related_context, order=9
)

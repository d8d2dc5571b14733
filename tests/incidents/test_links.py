"""Links between incidents (issue 18 §1): typed, read from both sides, loops refused (an
incident cannot be its own ancestor, cause or duplicate), audited and on both timelines; the
API, the incident page's panel and the candidate search."""

import pytest
from django.core.exceptions import PermissionDenied
from django.urls import reverse
from django.utils import translation

from incidents import links, services
from incidents.models import Link, LinkKind
from itsm.core.audit import events_for
from itsm.core.roles import Role
from tests.factories import ServiceFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def make(db):
    def make(title="Checkout down", **kw):
        return services.open_incident(title=title, source="monitoring", **kw)

    return make


@translation.override("en")
def test_a_link_reads_from_both_sides(make, operator):
    parent, child = make("Region outage"), make("Checkout down")
    links.link_incidents(parent, child, kind=LinkKind.PARENT_OF, actor=operator)
    [on_parent] = links.links_of(parent)
    [on_child] = links.links_of(child)
    assert (on_parent["label"], on_parent["other"]) == ("Parent of", child)
    assert (on_child["label"], on_child["other"]) == ("Child of", parent)
    assert parent.timeline.filter(kind="link").exists() and child.timeline.filter(kind="link")
    assert [e.action for e in events_for(parent)][-1] == "link"


@pytest.mark.parametrize("kind", [LinkKind.PARENT_OF, LinkKind.CAUSED_BY, LinkKind.DUPLICATE_OF])
def test_a_chain_that_would_loop_is_refused(make, operator, kind):
    a, b, c = make("A"), make("B"), make("C")
    links.link_incidents(a, b, kind=kind, actor=operator)
    links.link_incidents(b, c, kind=kind, actor=operator)
    with pytest.raises(services.ValidationError) as refused:
        links.link_incidents(c, a, kind=kind, actor=operator)
    assert "loop" in str(refused.value) or "ループ" in str(refused.value)
    with pytest.raises(services.ValidationError):
        links.link_incidents(b, a, kind=kind, actor=operator)
    assert Link.objects.count() == 2


def test_self_links_and_doubles_are_refused(make, operator):
    a, b = make("A"), make("B")
    with pytest.raises(services.ValidationError):
        links.link_incidents(a, a, kind=LinkKind.RELATED, actor=operator)
    links.link_incidents(a, b, kind=LinkKind.RELATED, actor=operator)
    for source, target in ((a, b), (b, a)):  # related is symmetric: once is enough
        with pytest.raises(services.ValidationError):
            links.link_incidents(source, target, kind=LinkKind.RELATED, actor=operator)
    assert Link.objects.count() == 1


def test_readers_may_not_link(make, make_user):
    executive = make_user(Role.EXECUTIVE, username="ceo")
    with pytest.raises(PermissionDenied):
        links.link_incidents(make("A"), make("B"), kind=LinkKind.RELATED, actor=executive)


def test_candidates_by_number_or_title_same_service_first(make):
    shop, other = ServiceFactory(slug="shop"), ServiceFactory(slug="other")
    incident = make("Checkout down", service=shop)
    far = make("Checkout slow", service=other)
    near = make("Checkout errors", service=shop)
    assert list(links.candidates(incident, "checkout")) == [near, far]
    assert list(links.candidates(incident, far.number)) == [far]
    assert incident not in links.candidates(incident)


@translation.override("en")
def test_the_api_links_lists_and_unlinks(make, api_as, operator):
    a, b = make("A"), make("B")
    api = api_as(operator)
    url = f"/api/v1/incidents/{a.number}/links/"
    response = api.post(url, {"kind": "caused_by", "target": b.number}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["kind"] == "caused_by" and response.json()["outgoing"] is True
    [row] = api.get(f"/api/v1/incidents/{b.number}/links/").json()
    assert (row["kind"], row["incident"], row["outgoing"]) == ("caused_by", a.number, False)
    loop = api.post(
        f"/api/v1/incidents/{b.number}/links/",
        {"kind": "caused_by", "target": a.number},
        format="json",
    )
    assert loop.status_code == 400
    bad = api.post(url, {"kind": "sibling_of", "target": "INC-999999"}, format="json")
    assert bad.status_code == 400
    candidates = api.get(f"/api/v1/incidents/{a.number}/links/candidates/?q=B").json()
    assert [c["number"] for c in candidates] == [b.number]
    assert api.delete(f"{url}{row['id']}/").status_code == 204
    assert not Link.objects.exists()


def test_the_panel_links_and_suggests(client, make, operator):
    a, b = make("Checkout down"), make("Payment gateway errors")
    client.force_login(operator)
    page = client.get(a.get_absolute_url()).content.decode()
    assert 'data-testid="links-panel"' in page
    suggestions = client.get(
        reverse("incidents:link_candidates", args=[a.number]), {"target": "gateway"}
    ).content.decode()
    assert b.number in suggestions
    client.post(
        reverse("incidents:link_add", args=[a.number]), {"kind": "related", "target": b.number}
    )
    assert b.number in client.get(a.get_absolute_url()).content.decode()
    response = client.post(
        reverse("incidents:link_add", args=[a.number]),
        {"kind": "related", "target": "INC-404"},
        follow=True,
    )
    assert Link.objects.count() == 1 and response.status_code == 200


def test_the_incident_page_shows_its_changes(client, make, operator, make_user):
    from changes.models import ChangeRequest
    from changes.services import link_incident

    incident = make("Checkout down")
    change = ChangeRequest.objects.create(title="Swap the payment gateway certificate")
    link_incident(
        change, incident, relation="caused_by", actor=make_user(Role.OPS_LEADER, username="lead")
    )
    client.force_login(operator)
    page = client.get(incident.get_absolute_url()).content.decode()
    assert 'data-testid="related-changes"' in page and change.number in page

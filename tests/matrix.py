"""Permission matrices (STYLE.md §8): one persona takes one transition through the API or the
HTML transitions panel, and the test asserts exactly what that person sees.

A matrix is a dict ``{(transition, source, …): (op, lead, mgr, dev, exec, cab, admin)}`` of
``Y``/``N`` per role in :data:`ROLES` order. ``Y``: the transition is offered and succeeds (the
record is set up so its guards pass). ``N``: it is not offered and is refused with 403 (API) or
the "not allowed" message (HTML), and the record does not move.
"""

from __future__ import annotations

from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _

from itsm.core import workflow
from itsm.core.roles import Role

from .factories import UserFactory

# The columns of every matrix, in the order of the escalation ladder (§8.4), then CAB and admin.
ROLES = (
    Role.OPERATOR,
    Role.OPS_LEADER,
    Role.OPS_MANAGER,
    Role.DEVELOPER,
    Role.EXECUTIVE,
    Role.CAB_MEMBER,
    Role.ADMIN,
)
Y, N = True, False

# Named personas (Zulip's example_user): one person per role.
PERSONAS = {
    Role.OPERATOR: "sato",  # L1 運用担当者
    Role.OPS_LEADER: "suzuki",  # L2 運用リーダー
    Role.OPS_MANAGER: "takahashi",  # L3 運用マネージャー
    Role.DEVELOPER: "tanaka",  # L4 開発チーム
    Role.EXECUTIVE: "watanabe",  # L5 経営層
    Role.CAB_MEMBER: "ito",  # CAB member
    Role.ADMIN: "yamamoto",  # administrator
}
CHANNELS = ("api", "html")


def persona(role: Role):
    return UserFactory(username=PERSONAS[role], role=role)


def cases(matrix: dict) -> list[tuple]:
    """``(row key, role, allowed)`` for every cell of ``matrix``."""
    return [(key, role, row[i]) for key, row in matrix.items() for i, role in enumerate(ROLES)]


def case_id(value) -> str:
    if isinstance(value, tuple):
        return "-".join(str(v) for v in value if v)
    if isinstance(value, Role):
        return PERSONAS[value]
    return {True: "allowed", False: "refused"}.get(value, str(value))


def declared(model) -> set[tuple[str, str]]:
    """Every ``(transition, source state)`` the model declares."""
    return {(t.name, str(t.source)) for t in workflow.all_transitions(model)}


def target_of(record, name: str) -> str:
    return str(workflow._current(record, name).target)


def offered(record, user) -> set[str]:
    return {o.name for o in workflow.options_for(record, user)}


def take_via_api(api_as, user, resource: str, record, name: str, *, comment: str, data: dict):
    """POST the transition; returns (names the API offered before, response)."""
    client = api_as(user)
    url = f"/api/v1/{resource}/{record.number}/transitions/"
    listed = client.get(url)
    assert listed.status_code == 200, listed.content
    names = {row["name"] for row in listed.json()}
    payload = {"transition": name, "comment": comment, **data}
    return names, client.post(url, payload, format="json")


def take_via_html(client, user, record, name: str, *, comment: str, data: dict):
    """Press the button on the record page; returns (buttons the page showed, response, messages)."""
    client.force_login(user)
    page = client.get(record.get_absolute_url())
    assert page.status_code == 200
    html = page.content.decode()
    names = {t.name for t in workflow.all_transitions(type(record))}
    shown = {n for n in names if f'data-transition="{n}"' in html}
    meta = record._meta
    url = reverse("core:transition", args=[meta.app_label, meta.model_name, record.pk])
    response = client.post(url, {"transition": name, "comment": comment, **data})
    messages = [(m.level_tag, str(m)) for m in get_messages(response.wsgi_request)]
    return shown, response, messages


def forbidden_message(record, name: str, language: str) -> str:
    label = workflow._current(record, name).custom.get("label", name)
    with translation.override(language):
        return _("You are not allowed to “%(label)s” this record.") % {"label": label}


def done_message(record, name: str, language: str) -> str:
    """The success message: "<number> is now <new state>." (plus the model's own tail)."""
    saved = type(record).objects.get(pk=record.pk)
    with translation.override(language):
        return workflow.result_message(saved, name)


def assert_outcome(
    channel, *, record, name, allowed, api_as, client, user, resource, comment, data
):
    """Take ``name`` on ``record`` as ``user`` through ``channel`` and assert the exact outcome."""
    source, target = str(record.state), target_of(record, name)
    hidden = bool(workflow._current(record, name).custom.get("hidden"))
    if channel == "api":
        names, response = take_via_api(
            api_as, user, resource, record, name, comment=comment, data=data
        )
        assert (name in names) is (allowed and not hidden)
        if allowed:
            assert response.status_code == 200, response.json()
            assert response.json()["state"] == target
        else:
            assert response.status_code == 403, response.json()
            assert response.json()["code"] == "permission_denied"
    else:
        shown, response, messages = take_via_html(
            client, user, record, name, comment=comment, data=data
        )
        assert (name in shown) is (allowed and not hidden)
        assert response.status_code == 302
        language = response.wsgi_request.LANGUAGE_CODE
        if allowed:
            assert messages == [("success", done_message(record, name, language))]
        else:
            assert messages == [("error", forbidden_message(record, name, language))]
    record.refresh_from_db()
    assert record.state == (target if allowed else source)

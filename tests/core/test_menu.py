"""The top bar's menu shows a role exactly the pages it may open (issue 14, part 3)."""

import re

import pytest

from itsm.core.roles import Role
from itsm.menu import MAIN_MENU

pytestmark = pytest.mark.django_db

ROLES = [
    Role.OPERATOR,
    Role.OPS_LEADER,
    Role.OPS_MANAGER,
    Role.DEVELOPER,
    Role.EXECUTIVE,
    Role.CAB_MEMBER,
    Role.ADMIN,
]


def menu_links(client) -> list[str]:
    html = client.get("/").content.decode()
    menu = re.search(r'<ul class="navbar-nav[^"]*" data-testid="main-menu">(.*?)</ul>', html, re.S)
    assert menu, "the top bar has no main menu"
    return re.findall(r'href="([^"]+)"', menu.group(1))


def every_menu_page() -> set[str]:
    from django.urls import reverse

    return {reverse(entry.url_name) for entry in MAIN_MENU}


@pytest.mark.parametrize("role", ROLES, ids=lambda r: r.value)
def test_every_menu_link_opens_and_every_page_left_out_is_closed(client, make_user, role):
    admin = role == Role.ADMIN
    user = make_user(role, username=f"u-{role.value}", is_staff=admin, is_superuser=admin)
    client.force_login(user)
    links = menu_links(client)
    assert links, role
    for url in links:
        response = client.get(url, follow=True)  # "/workflows/" opens its first diagram
        assert response.status_code == 200, (role, url)
        assert all("/login/" not in hop for hop, _ in response.redirect_chain), (role, url)
    for url in every_menu_page() - set(links):
        response = client.get(url)
        # The admin site sends people without staff status to its own login page.
        assert response.status_code == 403 or (url == "/admin/" and response.status_code == 302), (
            role,
            url,
            response.status_code,
        )


def test_dashboard_is_in_the_menu_of_leaders_managers_and_executives_only(client, make_user):
    seen = {}
    for role in (Role.OPERATOR, Role.DEVELOPER, Role.OPS_LEADER, Role.OPS_MANAGER, Role.EXECUTIVE):
        client.force_login(make_user(role, username=f"d-{role.value}"))
        seen[role.value] = "/dashboard/" in menu_links(client)
    assert seen == {
        "operator": False,
        "developer": False,
        "ops_leader": True,
        "ops_manager": True,
        "executive": True,
    }


def test_only_the_most_specific_entry_is_highlighted(client, ops_manager):
    client.force_login(ops_manager)
    html = client.get("/incidents/integrations/").content.decode()
    active = re.findall(r'class="nav-link active" aria-current="page" href="([^"]+)"', html)
    assert active == ["/incidents/integrations/"]

"""Every role × every release transition, from a table that reads like the design (STYLE.md §8).

Developers and the ops ladder from L2 move a release through development, testing, staging and
canary and call NG; production (promote, skip canary, complete) belongs to ops leaders and up.
Operators (L1), executives and CAB members only read releases.
"""

import pytest

from itsm.core import workflow
from itsm.core.roles import Role
from releases.choices import Strategy
from releases.models import Release

from .factories import approved_change, release_in

pytestmark = pytest.mark.django_db

TEAM = {Role.DEVELOPER, Role.OPS_LEADER, Role.OPS_MANAGER, Role.ADMIN}
PROD = {Role.OPS_LEADER, Role.OPS_MANAGER, Role.ADMIN}

# transition: (source state, roles allowed)
MATRIX = {
    "start_development": ("planned", TEAM),
    "promote_to_testing": ("development", TEAM),
    "promote_to_staging": ("testing", TEAM),
    "promote_to_canary": ("staging", TEAM),
    "promote_to_production": ("canary", PROD),
    "skip_canary": ("staging", PROD),
    "complete": ("production", PROD),
    "fail_testing": ("testing", TEAM),
    "fail_staging": ("staging", TEAM),
    "roll_back": ("canary", TEAM),
    "rework": ("rolled_back", TEAM),
}


def test_the_matrix_covers_every_transition():
    assert set(MATRIX) == {row["name"] for row in workflow.describe(Release)}


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("name", list(MATRIX))
def test_role_may_take_transition_exactly_where_the_design_allows(make_user, role, name):
    source, allowed = MATRIX[name]
    user = make_user(role, username=f"u-{role.value}")
    release = release_in(source, strategy=Strategy.ROLLING)
    approved_change(release)
    if role in allowed:
        workflow.apply_transition(release, name, actor=user, comment="reason")
        release.refresh_from_db()
        assert release.state != source
    else:
        with pytest.raises(workflow.TransitionForbidden):
            workflow.apply_transition(release, name, actor=user, comment="reason")
        assert name not in {o.name for o in workflow.options_for(release, user)}

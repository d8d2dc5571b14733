"""The demo data covers every state and every class, and can be loaded twice."""

import pytest

from changes import demo
from changes.models import ChangeRequest
from itsm.core.roles import Role

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("demo_clock")]


def test_demo_seed_covers_every_state_and_class(make_user):
    roles = {"operator": Role.OPERATOR, "leader": Role.OPS_LEADER, "manager": Role.OPS_MANAGER,
             "cab1": Role.CAB_MEMBER, "cab2": Role.CAB_MEMBER, "cab3": Role.CAB_MEMBER}  # fmt: skip
    users = {name: make_user(role, username=name) for name, role in roles.items()}
    demo.seed(users)
    count = ChangeRequest.objects.count()
    demo.seed(users)
    assert ChangeRequest.objects.count() == count
    states = set(ChangeRequest.objects.values_list("state", flat=True))
    assert states >= set(ChangeRequest.State.values) - {"submitted"}
    classes = set(ChangeRequest.objects.values_list("change_class__code", flat=True))
    assert classes == {"standard", "normal", "emergency", "major"}

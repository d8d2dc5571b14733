from datetime import time

import factory

from incidents.models import EscalationPolicy, Incident
from itsm.core.models import Team
from itsm.core.roles import Role
from oncall.models import Layer, LayerMember, Schedule


class IncidentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Incident

    title = factory.Sequence(lambda n: f"Checkout errors #{n}")
    source = "user_report"


def on_call_crew(make_user, *, start):
    """Team "Ops L1" with operators a, b, c on a weekly rotation from ``start`` (a Monday, hand-off
    09:00 JST: a is on call the first week), team "Ops L2" with two leaders; the seeded policies'
    L1 pages the rotation's on-call person (repeat every 5 minutes)."""
    people = {name: make_user(Role.OPERATOR, username=name) for name in ("a", "b", "c")}
    people["lead"] = make_user(Role.OPS_LEADER, username="lead")
    people["lead2"] = make_user(Role.OPS_LEADER, username="lead2")
    l1 = Team.objects.create(name="Ops L1", slug="ops-l1", escalation_level=1)
    l1.members.add(people["a"], people["b"], people["c"])
    l2 = Team.objects.create(name="Ops L2", slug="ops-l2", escalation_level=2)
    l2.members.add(people["lead"], people["lead2"])
    primary = Schedule.objects.create(team=l1, name="Ops primary", slug="ops-primary", level=1)
    layer = Layer.objects.create(
        schedule=primary,
        name="Weekly",
        rotation="weekly",
        handoff_time=time(9, 0),
        start_date=start,
    )
    for position, name in enumerate(("a", "b", "c")):
        LayerMember.objects.create(layer=layer, user=people[name], position=position)
    for policy in EscalationPolicy.objects.filter(service=None):
        policy.levels.filter(level=1).update(
            target_schedule=primary, target_role="", repeat_minutes=5
        )
    people["primary"] = primary
    people["layer"] = layer
    return people

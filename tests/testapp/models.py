"""A tiny state machine used only by the tests of the shared transitions mechanism."""

from django.db import models
from django_fsm import ConcurrentTransitionMixin, FSMField, transition

from itsm.core.models import NumberedModel
from itsm.core.roles import Role, at_least
from itsm.core.workflow import guard


@guard("A rollback plan is required before submission.")
def has_rollback_plan(ticket) -> bool:
    return bool(ticket.rollback_plan.strip())


class Ticket(ConcurrentTransitionMixin, NumberedModel):
    NUMBER_PREFIX = "TKT"
    STATE_COLORS = {"draft": "secondary", "submitted": "info", "approved": "success"}

    state = FSMField(
        default="draft",
        protected=True,
        choices=[("draft", "Draft"), ("submitted", "Submitted"), ("approved", "Approved")],
    )
    title = models.CharField(max_length=100)
    rollback_plan = models.TextField(blank=True)
    risk = models.PositiveSmallIntegerField(null=True, blank=True)

    class Meta:
        app_label = "testapp"

    def get_absolute_url(self):
        return "/"

    @transition(
        field=state,
        source="draft",
        target="submitted",
        conditions=[has_rollback_plan],
        custom={"label": "Submit", "fields": ["rollback_plan", "risk"]},
    )
    def submit(self, **audit):
        pass

    @transition(
        field=state,
        source="submitted",
        target="approved",
        permission=at_least(Role.OPS_MANAGER),
        custom={"label": "Approve"},
    )
    def approve(self, **audit):
        pass

    @transition(
        field=state,
        source="submitted",
        target="draft",
        custom={"label": "Send back", "comment_required": True},
    )
    def send_back(self, **audit):
        pass

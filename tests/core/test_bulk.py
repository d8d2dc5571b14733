"""Writing many rows at once (itsm.core.bulk): what the escalation sweep and the notification
writer insert and update in one statement reads back exactly as written."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.utils.translation import gettext_lazy

from incidents import services
from incidents.choices import Source, TimelineKind
from incidents.models import (
    EscalationPolicy,
    EscalationStep,
    IncidentEscalation,
    Page,
    StepKind,
    TimelineEntry,
)
from itsm.core.bulk import copy_row, insert_rows, update_each
from itsm.core.models import Notification
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 12, 31, 23, 59, 30, tzinfo=ZoneInfo("Asia/Tokyo"))


@time_machine.travel(NOW, tick=False)
def test_inserted_rows_get_their_ids_in_order_and_read_back_as_written():
    incident = services.open_incident(title="Disk full", source=Source.USER_REPORT)
    person = UserFactory()
    entries = [
        TimelineEntry(
            incident=incident,
            actor=person if n == 1 else None,
            actor_label="" if n == 1 else "監視",
            kind=TimelineKind.STATUS_UPDATE,
            text=f'更新 {n}: "quoted" \\ and ✓',
            data={"n": n, "nested": {"list": [1, "二", None]}, "at": NOW.isoformat()},
        )
        for n in range(3)
    ]
    insert_rows(entries)

    assert all(entry.pk for entry in entries)
    for entry in entries:
        stored = TimelineEntry.objects.get(pk=entry.pk)
        assert (stored.text, stored.data, stored.actor_id, stored.actor_label, stored.at) == (
            entry.text,
            entry.data,
            entry.actor_id,
            entry.actor_label,
            NOW,
        )


def test_inserted_rows_read_back_as_a_save_would_have_stored_them():
    """The rows travel as JSON (orjson): a translated text, a time to the microsecond, a data
    dict with number keys and text in any script are stored as ``save()`` stores them."""
    incident = services.open_incident(title="Disk full", source=Source.USER_REPORT)
    at = datetime(2027, 5, 3, 9, 30, 15, 123456, tzinfo=ZoneInfo("Asia/Tokyo"))

    def entry():
        return TimelineEntry(
            incident=incident,
            kind=TimelineKind.COMMENT,
            text=gettext_lazy("Escalated"),
            data={1: "一", "nested": [{"2": None}, 3.5, True], "emoji": "✓ 🚨"},
            at=at,
        )

    saved, inserted = entry(), entry()
    saved.save()
    insert_rows([inserted])

    def stored(row):
        row = TimelineEntry.objects.get(pk=row.pk)
        return row.text, row.data, row.at

    assert (
        stored(inserted)
        == stored(saved)
        == (
            str(gettext_lazy("Escalated")),
            {"1": "一", "nested": [{"2": None}, 3.5, True], "emoji": "✓ 🚨"},
            at,
        )
    )


@time_machine.travel(NOW, tick=False)
def test_a_row_assigned_before_its_related_row_was_saved_points_at_it():
    """A sweep builds a step and its pages, then inserts the steps first: each page takes its
    step's new id; ``auto_now_add`` fields are set."""
    incident = services.open_incident(title="Disk full", source=Source.USER_REPORT)
    person = UserFactory()
    step = EscalationStep(
        incident=incident,
        key="c1:L2",
        kind=StepKind.AUTOMATIC,
        level=2,
        reason="not_recovered",
        due_at=NOW,
        applied_at=NOW,
    )
    page = Page(incident=incident, step=step, level=2, user=person, target="team", created_at=NOW)
    insert_rows([step])
    insert_rows([page])

    assert Page.objects.get(pk=page.pk).step_id == step.pk
    notification = Notification(recipient=person, channel="in_app", key="k", title="t")
    insert_rows([notification])
    assert Notification.objects.get(pk=notification.pk).created_at == NOW


@time_machine.travel(NOW, tick=False)
def test_lists_of_several_models_go_in_one_statement_each_row_getting_its_own_id(
    django_assert_num_queries,
):
    """An opening writes its steps, timeline entries and audit events in one round trip; the
    rows of each list get their ids in order, and a clock (whose key is its incident) too."""
    incident = services.open_incident(title="Disk full", source=Source.USER_REPORT)
    other = services.open_incident(title="Disk full again", source=Source.USER_REPORT)
    IncidentEscalation.objects.filter(incident=other).delete()
    steps = [
        EscalationStep(incident=incident, key=f"k{n}", kind=StepKind.AUTOMATIC, level=n, due_at=NOW)
        for n in (1, 2)
    ]
    entries = [
        TimelineEntry(incident=incident, kind=TimelineKind.COMMENT, text=str(n)) for n in range(3)
    ]
    clock = IncidentEscalation(
        incident=other,
        policy=EscalationPolicy.objects.first(),
        snapshot={},
        started_at=NOW,
        level_reached_at=NOW,
    )
    with django_assert_num_queries(1):
        insert_rows(steps, [], entries, [clock])

    assert [EscalationStep.objects.get(pk=s.pk).key for s in steps] == ["k1", "k2"]
    assert [TimelineEntry.objects.get(pk=e.pk).text for e in entries] == ["0", "1", "2"]
    assert clock.pk == other.pk
    assert IncidentEscalation.objects.get(pk=other.pk).started_at == NOW


def test_update_each_stores_each_rows_own_values():
    incident = services.open_incident(title="Disk full", source=Source.USER_REPORT)
    entries = [
        TimelineEntry(incident=incident, kind=TimelineKind.COMMENT, text=str(n)) for n in range(3)
    ]
    insert_rows(entries)
    for entry in entries:
        entry.text = f"edited {entry.pk}"
        entry.data = {"pk": entry.pk}
    update_each(entries, ["text", "data"])

    for entry in entries:
        stored = TimelineEntry.objects.get(pk=entry.pk)
        assert (stored.text, stored.data) == (f"edited {entry.pk}", {"pk": entry.pk})


@time_machine.travel(NOW, tick=False)
def test_a_copied_row_is_a_row_of_its_own(django_assert_num_queries):
    """``copy_row`` (the rows of an escalation burst): the prototype's values, the given ones
    over them, the related object readable without a query, nothing shared with the prototype
    or the other copies once saved."""
    person, other = UserFactory(), UserFactory()
    prototype = Notification(key="INC-1:c1:L2", title="Escalated", channel="in_app")
    first = copy_row(prototype, related={"recipient": person})
    second = copy_row(prototype, related={"recipient": other}, channel="email")
    with django_assert_num_queries(0):
        assert (first.recipient, first.recipient_id, first.channel) == (person, person.pk, "in_app")
        assert (second.recipient, second.channel) == (other, "email")
    insert_rows([first, second])

    assert first.pk != second.pk and prototype.pk is None and prototype._state.adding
    stored = {n.recipient_id: n for n in Notification.objects.filter(key="INC-1:c1:L2")}
    assert (stored[person.pk].channel, stored[other.pk].channel) == ("in_app", "email")
    assert stored[other.pk].title == "Escalated"

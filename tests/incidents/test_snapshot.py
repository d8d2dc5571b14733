"""The escalation policy snapshot stored on an incident's clock is read through a typed,
validated structure (issue 15), and snapshots stored before it had a version still work."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine

from incidents import escalation, services
from incidents.models import IncidentEscalation
from incidents.snapshot import VERSION, InvalidSnapshot, PolicySnapshot

T0 = datetime(2026, 12, 3, 10, 0, tzinfo=ZoneInfo("Asia/Tokyo"))
MAJOR = {"impact_scope": "all_users", "business_impact": "revenue_loss", "urgency": "immediate"}


def _level(level, name, after, delay, role, condition="always", notify_only=False):
    return {
        "level": level,
        "name": name,
        "after_level": after,
        "delay_minutes": delay,
        "team_id": None,
        "team": "",
        "role": role,
        "condition": condition,
        "notify_only": notify_only,
    }


# Exactly what the portal stored before the snapshot had a version (the seeded urgent track).
STORED_BEFORE_VERSIONS = {
    "policy": "緊急対応 / Urgent track (P1/P2)",
    "warnings": [0.5, 0.75],
    "levels": [
        _level(1, "L1: 運用担当者 / Operators", 0, 0, "operator"),
        _level(2, "L2: 運用リーダー / Ops leaders", 1, 15, "ops_leader"),
        _level(3, "L3: 運用マネージャー / Ops managers", 2, 30, "ops_manager"),
        _level(4, "L4: 開発チーム / Developers", 3, 60, "developer"),
        _level(5, "L5: 経営層 / Executives", 3, 0, "executive", "major_impact", True),
    ],
    "clock": "24x7",
}


def test_a_snapshot_stored_before_versions_loads_typed():
    snapshot = PolicySnapshot.load(STORED_BEFORE_VERSIONS)
    assert [lv.level for lv in snapshot.chain()] == [1, 2, 3, 4]
    assert [(lv.level, lv.major_impact_only) for lv in snapshot.notify_only()] == [(5, True)]
    assert snapshot.chain_level(2).delay_minutes == 15
    assert snapshot.warnings == (0.5, 0.75) and not snapshot.business_clock
    # Written back in the current version: the on-call targets added by version 3 are empty,
    # pages repeat every 5 minutes (the default).
    added = {"schedule_id": None, "schedule": "", "user_id": None, "user": "", "repeat_minutes": 5}
    assert snapshot.dump() == {
        "version": VERSION,
        **STORED_BEFORE_VERSIONS,
        "levels": [{**level, **added} for level in STORED_BEFORE_VERSIONS["levels"]],
    }


@pytest.mark.django_db
def test_a_clock_holding_an_old_snapshot_still_escalates_on_time():
    with time_machine.travel(T0, tick=False):
        incident = services.open_incident(title="Checkout down", source="monitoring", **MAJOR)
    IncidentEscalation.objects.filter(incident=incident).update(snapshot=STORED_BEFORE_VERSIONS)
    with time_machine.travel(T0 + timedelta(minutes=15), tick=False):
        escalation.sweep_deadlines()
    incident.refresh_from_db()
    assert incident.escalation_level == 2  # L2 15 minutes after detection, as the old copy says


@pytest.mark.django_db
def test_new_clocks_store_the_current_version():
    incident = services.open_incident(title="Checkout down", source="monitoring", **MAJOR)
    stored = IncidentEscalation.objects.get(incident=incident).snapshot
    assert stored["version"] == VERSION
    assert PolicySnapshot.load(stored).chain_level(1).role == "operator"


@pytest.mark.parametrize(
    ("broken", "message"),
    [
        ([], "must be an object"),
        ({**STORED_BEFORE_VERSIONS, "version": VERSION + 1}, "version"),
        ({**STORED_BEFORE_VERSIONS, "levels": {"1": {}}}, "“levels”"),
        ({**STORED_BEFORE_VERSIONS, "levels": [{"name": "L1"}]}, "Level 1 of the snapshot"),
        ({**STORED_BEFORE_VERSIONS, "levels": [_level(1, "L1", 0, -5, "")]}, "delay_minutes"),
        ({**STORED_BEFORE_VERSIONS, "levels": [_level(1, "L1", 0, 5, "", "never")]}, "condition"),
        ({**STORED_BEFORE_VERSIONS, "warnings": [75]}, "“warnings”"),
        ({**STORED_BEFORE_VERSIONS, "clock": "sometimes"}, "“clock”"),
        (
            {
                **STORED_BEFORE_VERSIONS,
                "levels": [{**_level(1, "L1", 0, 0, ""), "schedule_id": "x"}],
            },
            "schedule_id",
        ),
    ],
)
def test_a_broken_snapshot_is_refused_naming_what_is_wrong(broken, message):
    with pytest.raises(InvalidSnapshot, match=message):
        PolicySnapshot.load(broken)


@pytest.mark.django_db
def test_clocks_read_with_the_same_snapshot_share_one_parse_and_an_edited_one_is_its_own():
    """A sweep reads a thousand clocks: a stored text is parsed once per process (issue 20),
    and what each clock runs on is still its own copy."""
    first = services.open_incident(title="Checkout down", source="monitoring", **MAJOR)
    second = services.open_incident(title="Login slow", source="monitoring", **MAJOR)
    edited = {**STORED_BEFORE_VERSIONS, "warnings": [0.25]}
    third = services.open_incident(title="Search down", source="monitoring", **MAJOR)
    IncidentEscalation.objects.filter(incident=third).update(snapshot=edited)

    clocks = {c.incident_id: c for c in IncidentEscalation.objects.all()}
    one, two = clocks[first.pk].policy_snapshot, clocks[second.pk].policy_snapshot
    assert one is two  # the same text, parsed once
    assert clocks[third.pk].policy_snapshot.warnings == (0.25,)
    assert one.warnings == (0.5, 0.75)
    # Assigned anew on the instance (a priority change), the clock runs on the new copy.
    clocks[first.pk].snapshot = edited
    assert clocks[first.pk].policy_snapshot.warnings == (0.25,)


@pytest.mark.django_db
def test_a_broken_stored_snapshot_is_refused_each_time_it_is_read():
    incident = services.open_incident(title="Checkout down", source="monitoring", **MAJOR)
    IncidentEscalation.objects.filter(incident=incident).update(
        snapshot={**STORED_BEFORE_VERSIONS, "clock": "sometimes"}
    )
    for _time in range(2):
        with pytest.raises(InvalidSnapshot, match="“clock”"):
            _ = IncidentEscalation.objects.get(incident=incident).policy_snapshot

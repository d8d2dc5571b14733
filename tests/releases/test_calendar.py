"""Releases on the calendars: freeze windows on the release calendar, and the release entries
offered to the change calendar (releases/calendar_source.py)."""

import datetime as dt
import re

import pytest
from django.urls import reverse

from changes.models import FreezeWindow
from releases.calendar_source import release_entries
from releases.models import ReleaseCadence, ReleaseSlot

from ..factories import ServiceFactory
from .factories import release_in

pytestmark = pytest.mark.django_db

JST = dt.timezone(dt.timedelta(hours=9))
MONTH = dt.datetime(2025, 12, 1, tzinfo=JST)


def slot_at(when: dt.datetime, minutes: int = 120) -> ReleaseSlot:
    return ReleaseSlot.objects.create(
        release_type="minor",
        starts_at=when,
        ends_at=when + dt.timedelta(minutes=minutes),
        cadence=ReleaseCadence.objects.get(release_type="minor"),
    )


# --------------------------------------------------------------------------- release calendar


def test_the_release_calendar_shows_freeze_windows_on_the_days_they_cover(client, ops_leader):
    shop = ServiceFactory(name="Shop")
    freeze = FreezeWindow.objects.create(
        name="Year-end freeze",
        starts_at=dt.datetime(2025, 12, 26, 18, 0, tzinfo=JST),
        ends_at=dt.datetime(2025, 12, 28, 9, 0, tzinfo=JST),
        reason="Peak season",
    )
    freeze.services.add(shop)
    client.force_login(ops_leader)
    page = client.get(reverse("releases:calendar") + "?month=2025-12").content.decode()
    frozen_days = re.findall(r'frozen" data-date="([\d-]+)"', page)
    assert frozen_days == ["2025-12-26", "2025-12-27", "2025-12-28"]
    assert "Year-end freeze" in page and "Peak season" in page and "Shop" in page


def test_a_freeze_window_of_another_month_is_not_shown(client, ops_leader):
    FreezeWindow.objects.create(
        name="Golden week",
        starts_at=dt.datetime(2026, 5, 1, tzinfo=JST),
        ends_at=dt.datetime(2026, 5, 6, tzinfo=JST),
    )
    client.force_login(ops_leader)
    page = client.get(reverse("releases:calendar") + "?month=2025-12").content.decode()
    assert "Golden week" not in page and 'frozen" data-date' not in page


# --------------------------------------------------------------------------- change calendar source


def test_release_entries_carry_the_calendar_entry_fields():
    slot = slot_at(dt.datetime(2025, 12, 9, 10, 0, tzinfo=JST))
    release = release_in("staging", planned_at=slot.starts_at, slot=slot, version="2.4.0")
    (entry,) = release_entries(MONTH, MONTH + dt.timedelta(days=31))
    assert set(entry) == {"kind", "number", "title", "start", "end", "url", "service"}
    assert entry["kind"] == "release" and entry["number"] == release.number
    assert "2.4.0" in entry["title"]
    assert (entry["start"], entry["end"]) == (slot.starts_at, slot.ends_at)
    assert entry["url"] == release.get_absolute_url()
    assert entry["service"] == release.service.name


def test_a_release_without_a_slot_is_a_moment():
    at = dt.datetime(2025, 12, 3, 15, 0, tzinfo=JST)
    release_in("planned", planned_at=at, release_type="hotfix")
    (entry,) = release_entries(MONTH, MONTH + dt.timedelta(days=31))
    assert entry["start"] == entry["end"] == at


def test_free_slots_are_entries_and_taken_slots_show_through_their_release():
    free = slot_at(dt.datetime(2025, 12, 2, 10, 0, tzinfo=JST))
    taken = slot_at(dt.datetime(2025, 12, 16, 10, 0, tzinfo=JST))
    release_in("planned", planned_at=taken.starts_at, slot=taken)
    entries = release_entries(MONTH, MONTH + dt.timedelta(days=31))
    assert sorted(e["kind"] for e in entries) == ["release", "release-slot"]
    (slot_entry,) = [e for e in entries if e["kind"] == "release-slot"]
    assert slot_entry["number"] == str(free.pk)
    assert slot_entry["url"].endswith(f"?slot={free.pk}")


def test_entries_overlapping_the_range_edges_are_included_and_others_not():
    # starts before the range, ends inside it: included
    slot = slot_at(dt.datetime(2025, 11, 30, 23, 0, tzinfo=JST), minutes=120)
    release_in("planned", planned_at=slot.starts_at, slot=slot)
    # a moment exactly at the range end: excluded (half-open range)
    release_in("planned", planned_at=MONTH + dt.timedelta(days=31), release_type="hotfix")
    # long before: excluded
    release_in("planned", planned_at=MONTH - dt.timedelta(days=3), release_type="hotfix")
    entries = release_entries(MONTH, MONTH + dt.timedelta(days=31))
    assert [e["start"] for e in entries] == [slot.starts_at]


def test_calendar_entries_convert_to_the_change_calendar_type():
    calendar = pytest.importorskip("changes.calendar")
    from releases.calendar_source import calendar_entries

    release_in("planned", planned_at=MONTH + dt.timedelta(days=2), release_type="hotfix")
    (entry,) = calendar_entries(MONTH, MONTH + dt.timedelta(days=31))
    assert isinstance(entry, calendar.CalendarEntry)


@pytest.fixture
def fake_change_calendar(monkeypatch):
    """A stand-in for changes/calendar.py (written in parallel) with its contract."""
    import dataclasses
    import sys
    import types

    module = types.ModuleType("changes.calendar")

    @dataclasses.dataclass(frozen=True)
    class CalendarEntry:
        kind: str
        number: str
        title: str
        start: dt.datetime
        end: dt.datetime
        url: str = ""
        service: str = ""

    module.CalendarEntry = CalendarEntry
    module.sources = []
    module.register_source = module.sources.append
    monkeypatch.setitem(sys.modules, "changes.calendar", module)
    return module


def test_ready_registers_the_release_source_with_the_change_calendar(fake_change_calendar):
    from django.apps import apps

    from releases.calendar_source import calendar_entries

    apps.get_app_config("releases").ready()
    assert fake_change_calendar.sources == [calendar_entries]
    release_in("planned", planned_at=MONTH + dt.timedelta(days=2), release_type="hotfix")
    (entry,) = fake_change_calendar.sources[0](MONTH, MONTH + dt.timedelta(days=31))
    assert isinstance(entry, fake_change_calendar.CalendarEntry) and entry.kind == "release"

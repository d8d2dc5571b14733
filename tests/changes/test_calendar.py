"""The change calendar: the source registry other apps use (releases), the week view besides the
month view, and registered entries in the iCalendar feed."""

import logging

import pytest
import time_machine
from django.utils import translation

from changes import calendar, services
from changes.calendar import CalendarEntry, register_source
from tests.factories import ServiceFactory

from .factories import ChangeRequestFactory, FreezeWindowFactory, jst

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _now():
    with time_machine.travel(jst(2026, 6, 1, 10), tick=False), translation.override("en"):
        yield


RELEASE = CalendarEntry(
    kind="release",
    number="REL-000012",
    title="Spring release 2.7",
    start=jst(2026, 6, 11, 14),
    end=jst(2026, 6, 11, 16),
    url="/releases/REL-000012/",
    service="Web shop",
)
SLOT = CalendarEntry(
    kind="release",
    number="REL-000013",
    title="Hotfix slot",
    start=jst(2026, 6, 12, 9),
    end=jst(2026, 6, 12, 9),
)


@pytest.fixture
def source():
    """A registered source like the releases app's, removed after the test."""
    calls = []

    def releases(start, end):
        calls.append((start, end))
        return [RELEASE, SLOT]

    register_source(releases)
    yield calls
    calendar.unregister_source(releases)


@pytest.fixture
def scheduled_change(ops_manager):
    change = ChangeRequestFactory(title="Upgrade the web tier")
    change.services.add(ServiceFactory(slug="web", name="Web shop"))
    services.submit_change(change, actor=change.requester)
    services.decide_change(change, actor=ops_manager, decision="approved")
    return change


# --- registry -------------------------------------------------------------------------------


def test_registered_entries_overlapping_the_range_are_returned_by_start(source):
    assert calendar.entries_between(jst(2026, 6, 1), jst(2026, 7, 1)) == [RELEASE, SLOT]
    assert calendar.entries_between(jst(2026, 6, 12), jst(2026, 6, 13)) == [SLOT]
    assert calendar.entries_between(jst(2026, 6, 11, 16), jst(2026, 6, 12)) == []  # end exclusive
    assert source[-1] == (jst(2026, 6, 11, 16), jst(2026, 6, 12))


def test_registering_twice_is_ignored_and_works_as_a_decorator():
    @register_source
    def twice(start, end):
        return [RELEASE]

    register_source(twice)
    try:
        assert calendar.entries_between(jst(2026, 6, 1), jst(2026, 7, 1)) == [RELEASE]
    finally:
        calendar.unregister_source(twice)
    assert calendar.entries_between(jst(2026, 6, 1), jst(2026, 7, 1)) == []


def test_a_broken_source_is_logged_and_skipped(source, caplog):
    def broken(start, end):
        raise RuntimeError("releases table missing")

    def wrong(start, end):
        return [{"number": "REL-1"}]

    register_source(broken)
    register_source(wrong)
    try:
        with caplog.at_level(logging.ERROR, logger="changes.calendar"):
            entries = calendar.entries_between(jst(2026, 6, 1), jst(2026, 7, 1))
    finally:
        calendar.unregister_source(broken)
        calendar.unregister_source(wrong)
    assert entries == [RELEASE, SLOT]
    assert "releases table missing" in caplog.text
    assert "REL-1" in caplog.text


# --- month and week views -------------------------------------------------------------------


def test_month_view_shows_registered_entries_on_their_day(client, operator, source):
    client.force_login(operator)
    body = client.get("/changes/calendar/?year=2026&month=6").content.decode()
    assert 'data-kind="release"' in body
    assert 'href="/releases/REL-000012/"' in body
    assert "REL-000013 Hotfix slot" in body
    cell = body.split('data-day="2026-06-11"')[1].split("</td>")[0]
    assert "REL-000012" in cell


def test_week_view_lists_the_weeks_changes_entries_freezes_and_holidays(
    client, operator, source, scheduled_change
):
    FreezeWindowFactory(
        name="Campaign freeze", starts_at=jst(2026, 6, 13), ends_at=jst(2026, 6, 20)
    )
    client.force_login(operator)
    response = client.get("/changes/calendar/?view=week&date=2026-06-10")
    assert response.status_code == 200
    body = response.content.decode()
    assert 'data-view="week"' in body
    assert "2026-06-08 – 2026-06-14" in body  # Monday to Sunday
    assert body.count("<td ") == 7
    wednesday = body.split('data-day="2026-06-10"')[1].split("</td>")[0]
    assert scheduled_change.number in wednesday
    assert "10:00–12:00" in wednesday
    assert "Web shop" in wednesday
    thursday = body.split('data-day="2026-06-11"')[1].split("</td>")[0]
    assert "14:00–16:00" in thursday and "REL-000012" in thursday
    saturday = body.split('data-day="2026-06-13"')[0].rsplit("<td", 1)[1]
    friday = body.split('data-day="2026-06-12"')[0].rsplit("<td", 1)[1]
    assert "freeze" in saturday and "freeze" not in friday
    assert "Campaign freeze" in body.split('data-day="2026-06-13"')[1].split("</td>")[0]
    assert "?view=week&date=2026-06-01" in body  # previous week
    assert "?view=week&date=2026-06-15" in body  # next week


def test_week_view_marks_a_public_holiday(client, operator):
    client.force_login(operator)
    body = client.get("/changes/calendar/?view=week&date=2026-07-20").content.decode()
    monday = body.split('data-day="2026-07-20"')[0].rsplit("<td", 1)[1]
    assert "closed" in monday  # 海の日 (Marine Day), Monday 20 July 2026


def test_week_view_highlights_conflicts(client, operator, ops_manager):
    web = ServiceFactory(slug="web")
    for title in ("a", "b"):
        change = ChangeRequestFactory(title=title)
        change.services.add(web)
        services.submit_change(change, actor=change.requester)
        services.decide_change(change, actor=ops_manager, decision="approved")
    client.force_login(operator)
    body = client.get("/changes/calendar/?view=week&date=2026-06-10").content.decode()
    assert body.count('data-conflict="1"') == 2


def test_week_view_defaults_to_this_week(client, operator):
    client.force_login(operator)
    body = client.get("/changes/calendar/?view=week").content.decode()
    assert "2026-06-01 – 2026-06-07" in body


@pytest.mark.parametrize("bad", ["2026-02-30", "tomorrow", "1999-12-31", "2026-6-1x"])
def test_week_view_with_a_bad_date_is_404(client, operator, bad):
    client.force_login(operator)
    assert client.get(f"/changes/calendar/?view=week&date={bad}").status_code == 404


def test_month_view_links_to_the_week_view(client, operator):
    client.force_login(operator)
    body = client.get("/changes/calendar/?year=2026&month=6").content.decode()
    assert 'data-testid="view-week"' in body
    assert "?view=week&date=2026-06-01" in body


def test_the_calendar_needs_the_view_permission(client, make_user):
    client.force_login(make_user(None, username="norole"))
    assert client.get("/changes/calendar/?view=week").status_code == 403


# --- iCalendar feed -------------------------------------------------------------------------


def test_the_feed_carries_registered_entries(api_as, operator, source, scheduled_change):
    body = api_as(operator).get("/api/v1/changes/calendar.ics").content.decode()
    assert scheduled_change.number in body
    release = body.split("UID:release-REL-000012@")[1].split("END:VEVENT")[0]
    assert "DTSTART:20260611T050000Z" in release
    assert "DTEND:20260611T070000Z" in release
    assert "SUMMARY:REL-000012 Spring release 2.7" in release
    assert "CATEGORIES:リリース" in release  # the portal's default language
    assert "URL:http://testserver/releases/REL-000012/" in release
    assert "DESCRIPTION:Web shop" in release
    slot = body.split("UID:release-REL-000013@")[1].split("END:VEVENT")[0]
    assert "DTSTART:20260612T000000Z" in slot
    assert "DTEND" not in slot and "URL" not in slot  # a moment, no page

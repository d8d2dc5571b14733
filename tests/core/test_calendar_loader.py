"""``current_calendar()`` is built from the WorkingHours and ClosedDay rows and follows admin edits."""

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from itsm.core.business_calendar import current_calendar
from itsm.core.models import ClosedDay, WorkingHours

pytestmark = pytest.mark.django_db

TOKYO = ZoneInfo("Asia/Tokyo")
MONDAY = date(2026, 6, 8)


def test_default_rows_give_mon_to_fri_nine_to_six_with_year_end_closure():
    cal = current_calendar()
    assert cal.is_business_time(datetime(2026, 6, 8, 9, 0, tzinfo=TOKYO))
    assert not cal.is_business_time(datetime(2026, 6, 8, 18, 0, tzinfo=TOKYO))
    assert not cal.is_business_day(date(2026, 6, 13))  # Saturday
    assert not cal.is_business_day(date(2026, 12, 29))  # 年末年始休業
    assert not cal.is_business_day(date(2026, 5, 5))  # こどもの日


def test_same_calendar_is_reused_until_something_changes(django_assert_num_queries):
    first = current_calendar()
    with django_assert_num_queries(0):
        assert current_calendar() is first


def test_admin_edit_of_working_hours_is_picked_up(client, admin_user):
    assert current_calendar().is_business_time(datetime(2026, 6, 8, 9, 30, tzinfo=TOKYO))
    monday = WorkingHours.objects.get(weekday=0)
    client.force_login(admin_user)
    response = client.post(
        f"/admin/core/workinghours/{monday.pk}/change/",
        {"weekday": "0", "start": "10:00", "end": "15:00"},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    cal = current_calendar()
    assert not cal.is_business_time(datetime(2026, 6, 8, 9, 30, tzinfo=TOKYO))
    assert cal.is_business_time(datetime(2026, 6, 8, 14, 59, tzinfo=TOKYO))
    assert not cal.is_business_time(datetime(2026, 6, 8, 15, 0, tzinfo=TOKYO))


def test_admin_added_closed_day_is_picked_up(client, admin_user):
    assert current_calendar().is_business_day(MONDAY)
    client.force_login(admin_user)
    response = client.post(
        "/admin/core/closedday/add/",
        {"name": "創立記念日", "month": "6", "day": "8", "year": "2026"},
    )
    assert response.status_code == 302
    assert not current_calendar().is_business_day(MONDAY)
    assert current_calendar().is_business_day(date(2027, 6, 8))  # a one-off, not yearly


def test_deleting_a_closed_day_reopens_it():
    assert not current_calendar().is_business_day(date(2026, 12, 30))
    ClosedDay.objects.filter(month=12, day=30).delete()
    assert current_calendar().is_business_day(date(2026, 12, 30))


def test_removing_a_weekday_closes_it():
    WorkingHours.objects.filter(weekday=4).delete()
    assert not current_calendar().is_business_day(date(2026, 6, 12))  # Friday


def test_saturday_shift_added_in_the_admin_opens_saturday():
    WorkingHours.objects.create(weekday=5, start=time(10), end=time(14))
    cal = current_calendar()
    assert cal.is_business_time(datetime(2026, 6, 13, 11, 0, tzinfo=TOKYO))


def test_admin_refuses_closing_before_opening(client, admin_user):
    monday = WorkingHours.objects.get(weekday=0)
    client.force_login(admin_user)
    response = client.post(
        f"/admin/core/workinghours/{monday.pk}/change/",
        {"weekday": "0", "start": "18:00", "end": "09:00"},
    )
    assert response.status_code == 200  # the form comes back with an error, not a 500
    monday.refresh_from_db()
    assert monday.start == time(9)

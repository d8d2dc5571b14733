"""Labels are rendered in the reader's language at display time (issue 14 §5)."""

from datetime import date

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import translation

from changes.models import ChangeClass
from itsm.core import notifications
from itsm.core.audit import events_for, record_event
from itsm.core.models import Notification

pytestmark = pytest.mark.django_db


@pytest.fixture
def incident(db):
    from incidents import services

    return services.open_incident(title="Checkout returns 500", source="user_report")


def _labels(incident, language):
    with translation.override(language):
        return [(e.who, e.action_label, e.from_label, e.to_label) for e in events_for(incident)]


def test_a_transition_shows_its_label_and_state_names_in_the_readers_language(incident):
    record_event(
        incident,
        action="start_response",
        actor_label="escalation clock",
        from_state="triaged",
        to_state="investigating",
    )
    assert ("Escalation clock", "Start response", "Triaged", "Investigating") in _labels(
        incident, "en"
    )
    assert ("エスカレーションクロック", "対応開始", "トリアージ済", "原因調査") in _labels(
        incident, "ja"
    )


def test_actions_that_are_not_transitions_have_labels_too(incident):
    record_event(incident, action="update_whys", actor_label="change routing")
    record_event(incident, action="some_future_code")
    en = _labels(incident, "en")
    assert ("Change routing", "5 whys updated", "", "") in en
    assert any(a == "Some future code" for _w, a, _f, _t in en)  # never a raw snake_case code
    assert ("変更の振り分け", "なぜなぜ分析の更新", "", "") in _labels(incident, "ja")
    assert en[0][1] == "Opened"  # the incident's "open" event
    assert _labels(incident, "ja")[0][1] == "起票"


def test_the_audit_panel_of_an_incident_reads_in_english_for_an_english_reader(
    client, make_user, incident
):
    record_event(incident, action="update_whys", from_state="", to_state="")
    user = make_user("ops_manager", language="en")
    client.force_login(user)
    html = client.get(reverse("incidents:detail", args=[incident.number])).content.decode()
    assert "5 whys updated" in html
    assert "update_whys" not in html


def _overdue(user):
    return notifications.notify(
        [user],
        key="k-overdue",
        message="backups.dr_drill_overdue",
        params={"plan": "Orders DB", "due": date(2026, 11, 1).isoformat(), "days": 3, "months": 6},
        url="/backups/",
    )


def test_a_notification_reads_in_the_readers_language_whatever_it_was_stored_in(make_user, client):
    user = make_user("operator", language="ja", email="")
    [note] = _overdue(user)
    assert note.title == "Orders DB の DR 訓練が期限を過ぎています"  # stored: a fallback only
    with translation.override("en"):
        assert note.display_title == "The DR drill of Orders DB is overdue"
        assert "every 6 months" in note.display_body
    user.language = "en"
    user.save(update_fields=["language"])
    client.force_login(user)
    html = client.get(reverse("core:notifications")).content.decode()
    assert "The DR drill of Orders DB is overdue" in html


def test_a_notification_without_a_message_code_shows_its_stored_text(make_user):
    user = make_user("operator")
    [note] = notifications.notify([user], key="old", title="古い通知", body="本文")
    with translation.override("en"):
        assert (note.display_title, note.display_body) == ("古い通知", "本文")


@pytest.mark.parametrize(
    ("language", "subject"),
    [("en", "[ITSM] The DR drill of Orders DB is overdue"), ("ja", None)],
)
def test_an_email_goes_out_in_the_recipients_language(make_user, language, subject, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    user = make_user("operator", language=language, email="someone@example.com")
    _overdue(user)
    row = Notification.objects.get(recipient=user, channel=Notification.Channel.EMAIL)
    # The row's stored text is rewritten as if an old row in another language: delivery renders anew.
    Notification.objects.filter(pk=row.pk).update(title="stale", body="stale")
    with translation.override("ja" if language == "en" else "en"):
        assert notifications.deliver_notification(row.pk)
    (sent,) = mail.outbox
    if subject:
        assert sent.subject == subject
    else:
        assert sent.subject == "[ITSM] Orders DB の DR 訓練が期限を過ぎています"


def test_change_class_names_follow_the_readers_language():
    normal = ChangeClass.objects.get(code="normal")
    with translation.override("en"):
        assert str(normal) == "Normal change"
    with translation.override("ja"):
        assert str(normal) == "通常変更"
    normal.name_en = ""
    with translation.override("en"):
        assert str(normal) == "通常変更"  # no English name yet: the standard's name


def test_the_dashboard_period_options_follow_the_readers_language(client, make_user):
    user = make_user("ops_manager", language="ja")
    client.force_login(user)
    assert "過去7日" in client.get(reverse("dashboard")).content.decode()
    user.language = "en"
    user.save(update_fields=["language"])
    html = client.get(reverse("dashboard")).content.decode()
    assert "Last 7 days" in html and "Last 90 days" in html
    assert "過去7日" not in html


def test_the_escalation_clock_signs_timeline_entries_in_the_readers_language(incident):
    from incidents.models import TimelineEntry

    entry = TimelineEntry.objects.create(
        incident=incident, actor_label="escalation clock", kind="escalation", text="L2"
    )
    with translation.override("en"):
        assert entry.who == "Escalation clock"
    with translation.override("ja"):
        assert entry.who == "エスカレーションクロック"


def test_a_pipeline_and_a_state_change_on_the_timeline_read_in_the_readers_language(incident):
    """Stored as codes (``pipeline:github-actions``, the states' codes), shown as words."""
    from incidents.models import TimelineEntry
    from itsm.core.audit import actor_label

    with translation.override("en"):
        assert actor_label("pipeline:github-actions") == "pipeline github-actions"
    with translation.override("ja"):
        assert actor_label("pipeline:github-actions") == "パイプライン github-actions"
    entry = TimelineEntry(
        incident=incident, kind="transition", data={"from": "detected", "to": "triaged"}
    )
    with translation.override("en"):
        assert (entry.from_label, entry.to_label) == ("Detected", "Triaged")
    with translation.override("ja"):
        assert (entry.from_label, entry.to_label) == ("検知", "トリアージ済")

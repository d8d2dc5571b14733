"""Per-person notification rules (issue 16 §5): channels and delays per urgency, quiet hours
held for one digest, own-action silence, burst merging, dropping deliveries of an acknowledged
page, chat cards (Slack, Teams, Mattermost) posted to a real HTTP server, settings page and API."""

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext

from itsm.core import notifications
from itsm.core.models import (
    Notification,
    NotificationPreference,
    NotificationRule,
    Team,
    TeamWebhook,
)

from .test_notifications import _Hook, hook_server  # noqa: F401 - the fixture

pytestmark = pytest.mark.django_db

JST = ZoneInfo("Asia/Tokyo")
T0 = datetime(2025, 6, 2, 10, 0, tzinfo=JST)


def rows(user, channel):
    return list(Notification.objects.filter(recipient=user, channel=channel).order_by("id"))


def chat_for(user, port, fmt="slack", **fields):
    NotificationPreference.objects.update_or_create(
        user=user,
        defaults={"chat_webhook_url": f"http://127.0.0.1:{port}/me", "chat_format": fmt, **fields},
    )


def test_rules_decide_channels_and_delays_per_urgency(operator, hook_server):  # noqa: F811
    chat_for(operator, hook_server.server_port)
    with time_machine.travel(T0, tick=False):
        notifications.notify([operator], key="INC-1:a", title="P1 down", urgency="high")
        notifications.notify([operator], key="INC-2:a", title="P4 slow", urgency="low")
    [email_high, email_low] = rows(operator, "email")
    assert email_high.next_attempt_at == T0 and email_low.next_attempt_at == T0
    [chat] = rows(operator, "chat")  # by default chat only for high urgency, after 2 minutes
    assert chat.key == "INC-1:a" and chat.next_attempt_at == T0 + timedelta(minutes=2)
    with time_machine.travel(T0 + timedelta(minutes=1), tick=False):
        assert notifications.deliver_notification(chat.pk) is False  # not yet
    with time_machine.travel(T0 + timedelta(minutes=2), tick=False):
        assert notifications.deliver_pending() == 3  # two emails and the chat
    assert len(_Hook.bodies) == 1 and _Hook.bodies[0]["text"].startswith("*P1 down*")


def test_a_persons_own_rules_replace_the_defaults(operator):
    notifications.save_notification_settings(
        operator,
        rules_list=[{"urgency": "high", "channel": "email", "delay_minutes": 5}],
    )
    with time_machine.travel(T0, tick=False):
        notifications.notify([operator], key="k-high", title="high", urgency="high")
        notifications.notify([operator], key="k-low", title="low", urgency="low")
    assert [(r.key, r.next_attempt_at) for r in rows(operator, "email")] == [
        ("k-high", T0 + timedelta(minutes=5))
    ]  # low urgency: in the portal only (the in-app rule kept it from the defaults)
    assert len(rows(operator, "in_app")) == 2


def test_quiet_hours_hold_low_urgency_for_one_digest_at_their_end(operator):
    NotificationPreference.objects.create(
        user=operator, quiet_start=time(22, 0), quiet_end=time(7, 0)
    )
    night = datetime(2025, 6, 2, 23, 30, tzinfo=JST)
    with time_machine.travel(night, tick=False):
        notifications.notify([operator], key="INC-3:a", title="Batch late", urgency="low")
    with time_machine.travel(night + timedelta(hours=3), tick=False):
        notifications.notify([operator], key="INC-4:a", title="Disk 80 %", urgency="low")
        notifications.notify([operator], key="INC-5:a", title="P1 down", urgency="high")
        assert notifications.deliver_pending() == 1  # the high one goes at once
    assert [m.subject for m in mail.outbox] == ["[ITSM] P1 down"]
    morning = datetime(2025, 6, 3, 7, 0, tzinfo=JST)
    held = [r for r in rows(operator, "email") if r.held_until]
    assert [r.held_until for r in held] == [morning, morning]
    with time_machine.travel(morning - timedelta(minutes=1), tick=False):
        assert notifications.deliver_pending() == 0
    with time_machine.travel(morning, tick=False):
        assert notifications.deliver_pending() == 1  # one digest
    digest = mail.outbox[-1]
    assert "2" in digest.subject and "Batch late" in digest.body and "Disk 80 %" in digest.body
    assert all(r.status == "sent" for r in rows(operator, "email"))


def test_nobody_is_notified_of_their_own_action(operator, ops_leader):
    notifications.notify([operator, ops_leader], key="k", title="t", actor=operator)
    assert not Notification.objects.filter(recipient=operator).exists()
    assert Notification.objects.filter(recipient=ops_leader).count() == 2


def test_a_burst_about_one_incident_becomes_one_message(operator, settings):
    settings.NOTIFICATION_BURST_SECONDS = 60
    for seconds, key in ((0, "INC-7:a"), (10, "INC-7:b"), (20, "INC-7:c")):
        with time_machine.travel(T0 + timedelta(seconds=seconds), tick=False):
            notifications.notify(
                [operator], key=key, title=f"update {key}", urgency="high", thread="INC-7"
            )
            notifications.deliver_pending()
    first, second, third = rows(operator, "email")
    assert first.status == "sent"
    assert second.status == "pending" and second.next_attempt_at == T0 + timedelta(seconds=60)
    assert third.status == "merged" and third.merged_into == second
    with time_machine.travel(T0 + timedelta(seconds=60), tick=False):
        assert notifications.deliver_pending() == 1
    assert len(mail.outbox) == 2
    merged = mail.outbox[1]
    assert "INC-7" in merged.subject and "update INC-7:b" in merged.body
    assert "update INC-7:c" in merged.body
    assert (
        Notification.objects.filter(recipient=operator, channel="email").count() == 3
    )  # none lost


def test_a_batch_merges_bursts_as_one_by_one_and_inserts_the_bursts_openers_together(
    operator, ops_leader, settings
):
    """``notify_many`` (an escalation sweep's batch): a message opening its burst (nothing in
    its person's thread inside the window, nothing before it in the batch) is inserted with
    the others at once; the next one of the same thread rides on it; a thread busy from before
    the batch waits for its window's end — what ``notify`` one by one gives."""
    settings.NOTIFICATION_BURST_SECONDS = 60
    with time_machine.travel(T0, tick=False):
        notifications.notify(
            [operator], key="INC-9:a", title="earlier", urgency="high", thread="INC-9"
        )
        notifications.deliver_pending()
    notices = [
        notifications.Notice.of(
            [operator, ops_leader],
            key=f"{thread}:{step}",
            title=f"{thread} {step}",
            urgency="high",
            thread=thread,
        )
        for thread, step in (("INC-10", "L1"), ("INC-11", "L1"), ("INC-10", "L2"), ("INC-9", "L2"))
    ]
    with (
        time_machine.travel(T0 + timedelta(seconds=10), tick=False),
        CaptureQueriesContext(connection) as queries,
    ):
        notifications.notify_many(notices)
    inserts = [q for q in queries if 'INSERT INTO "core_notification"' in q["sql"]]
    # The openers together, then one by one: INC-10:L2 of both and INC-9:L2 of the operator
    # (the leader had nothing in INC-9: that one opens its burst).
    assert len(inserts) == 1 + 3
    for person in (operator, ops_leader):
        emails = {r.key: r for r in rows(person, "email")}
        assert emails["INC-10:L1"].status == "pending" and emails["INC-10:L1"].merged_into is None
        assert emails["INC-11:L1"].status == "pending"
        assert emails["INC-10:L1"].next_attempt_at == T0 + timedelta(seconds=10)
        assert emails["INC-10:L2"].status == "merged"
        assert emails["INC-10:L2"].merged_into == emails["INC-10:L1"]
    late = {r.key: r for r in rows(operator, "email")}["INC-9:L2"]
    assert late.status == "pending" and late.next_attempt_at == T0 + timedelta(seconds=60)


def test_a_fresh_batch_reads_nothing_back_and_its_bursts_ride_on_their_first(
    operator, ops_leader, settings
):
    """``notify_many(new_events=True, new_threads=True)`` (a new incident's report steps: nobody was notified about
    them, their thread is new): every row is written without looking for earlier ones — the
    openers in one INSERT, the later rows of each burst riding on their opener in a second —
    and a team named twice gets one webhook row."""
    settings.NOTIFICATION_BURST_SECONDS = 60
    team = Team.objects.create(name="Ops", slug="ops")
    TeamWebhook.objects.create(team=team, url="http://127.0.0.1:9/hook")
    notices = [
        notifications.Notice.of(
            [operator, ops_leader],
            key=f"INC-20:report:{level}",
            title=f"INC-20 {level}",
            urgency="high",
            thread="INC-20",
            teams=[team, team],
        )
        for level in ("L2", "L1")
    ]
    with (
        time_machine.travel(T0, tick=False),
        CaptureQueriesContext(connection) as queries,
    ):
        notifications.notify_many(notices, new_events=True, new_threads=True)
    on_notifications = [q["sql"] for q in queries if '"core_notification"' in q["sql"]]
    assert len(on_notifications) == 2 and all("INSERT" in sql for sql in on_notifications)
    assert [len(notice.created) for notice in notices] == [2, 2]
    for person in (operator, ops_leader):
        first, second = rows(person, "email")
        assert (first.key, first.status, first.merged_into) == ("INC-20:report:L2", "pending", None)
        assert (second.key, second.status, second.merged_into) == (
            "INC-20:report:L1",
            "merged",
            first,
        )
        assert len(rows(person, "in_app")) == 2
    assert Notification.objects.filter(team=team, channel="webhook").count() == 2  # one a key


def test_cancel_pending_drops_what_was_not_sent_and_keeps_the_rest(operator, settings):
    settings.NOTIFICATION_BURST_SECONDS = 60
    with time_machine.travel(T0, tick=False):
        notifications.notify([operator], key="INC-8:x", title="x", urgency="high", thread="INC-8")
        notifications.deliver_pending()
    with time_machine.travel(T0 + timedelta(seconds=5), tick=False):
        notifications.notify(
            [operator], key="INC-8:p", title="page", urgency="high", thread="INC-8"
        )
        notifications.notify(
            [operator], key="INC-8:q", title="other", urgency="high", thread="INC-8"
        )
    assert notifications.cancel_pending("INC-8:p") == 1
    page, other = rows(operator, "email")[1:]
    assert page.status == "cancelled"
    other.refresh_from_db()
    assert other.status == "pending" and other.merged_into is None  # it carries itself now
    with time_machine.travel(T0 + timedelta(seconds=60), tick=False):
        assert notifications.deliver_pending() == 1
    assert "other" in mail.outbox[-1].subject


@pytest.mark.parametrize("fmt", ["slack", "teams", "mattermost"])
def test_chat_cards_carry_the_incident_and_acknowledge_links(operator, hook_server, fmt):  # noqa: F811
    chat_for(operator, hook_server.server_port, fmt=fmt)
    NotificationRule.objects.create(user=operator, urgency="high", channel="chat")
    notifications.notify(
        [operator],
        key="INC-9:report:L1",
        title="INC-9 paged",
        url="/incidents/INC-9/",
        params={"ack_url": "/incidents/ack/tok/"},
        urgency="high",
    )
    [chat] = rows(operator, "chat")
    assert notifications.deliver_notification(chat.pk) is True
    [body] = _Hook.bodies
    text = str(body)
    assert "http://" in text and "/incidents/INC-9/" in text and "/incidents/ack/tok/" in text
    if fmt == "slack":
        assert body["blocks"][0]["text"]["text"] == "INC-9 paged"
        assert [e["url"].rsplit("/", 2)[-2] for e in body["blocks"][-1]["elements"]] == [
            "INC-9",
            "tok",
        ]
    elif fmt == "teams":
        card = body["attachments"][0]
        assert card["contentType"] == "application/vnd.microsoft.card.adaptive"
        assert [a["type"] for a in card["content"]["actions"]] == ["Action.OpenUrl"] * 2
    else:
        assert body["attachments"][0]["title_link"].endswith("/incidents/INC-9/")


def test_the_email_of_a_page_has_its_acknowledge_link(operator):
    notifications.notify(
        [operator], key="INC-10:p", title="paged", params={"ack_url": "/incidents/ack/t/"}
    )
    notifications.deliver_pending()
    assert "/incidents/ack/t/" in mail.outbox[0].body


def test_settings_api_round_trip_and_field_errors(operator, api_as):
    client = api_as(operator)
    url = "/api/v1/me/notification-settings/"
    current = client.get(url).json()
    assert {"urgency": "high", "channel": "chat", "delay_minutes": 2} in current["rules"]
    wanted = {
        **current,
        "quiet_start": "22:00:00",
        "quiet_end": "07:00:00",
        "chat_webhook_url": "https://chat.example.com/hook",
        "chat_format": "teams",
        "rules": [{"urgency": "high", "channel": "email", "delay_minutes": 1}],
    }
    saved = client.put(url, wanted, format="json")
    assert saved.status_code == 200, saved.content
    assert saved.json()["chat_format"] == "teams" and saved.json()["quiet_end"] == "07:00:00"
    bad = client.put(
        url,
        {**wanted, "time_zone": "Mars/Olympus", "quiet_end": None, "chat_webhook_url": "nope"},
        format="json",
    )
    assert bad.status_code == 400
    assert {"time_zone", "chat_webhook_url"} <= set(
        bad.json()["errors"] if "errors" in bad.json() else bad.json()
    )
    ftp = client.put(url, {**wanted, "chat_webhook_url": "ftp://chat.example.com/"}, format="json")
    assert ftp.status_code == 400 and "chat_webhook_url" in str(ftp.json())
    assert client.get(url).json()["chat_webhook_url"] == "https://chat.example.com/hook"


def test_settings_page_saves_rules_and_refuses_half_quiet_hours(client, operator):
    client.force_login(operator)
    form = {
        "action": "preferences",
        "email": "1",
        "high_email": "0",
        "high_chat": "",
        "low_email": "10",
        "time_zone": "Asia/Tokyo",
        "chat_format": "slack",
    }
    assert client.post("/notifications/", form).status_code == 302
    assert set(
        NotificationRule.objects.filter(user=operator)
        .exclude(channel="in_app")
        .values_list("urgency", "channel", "delay_minutes")
    ) == {("high", "email", 0), ("low", "email", 10)}
    refused = client.post("/notifications/", {**form, "quiet_start": "22:00"})
    assert refused.status_code == 400

"""Who receives a stakeholder update (issue 17 §1, §3): people, teams and addresses of the
incident and of its service; public subscribers only hear public updates, in the public words,
and only once they confirmed (double opt-in); links confirm once, expire, unsubscribe in one
click."""

from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from comms import services
from comms.choices import Audience, UpdateStatus
from comms.models import Subscription
from itsm.core import notifications
from itsm.core.models import Notification
from tests.factories import TeamFactory

pytestmark = pytest.mark.django_db

SECRET = "root cause: payments-db-01 credentials rotated"


def post(incident, actor, audience, text):
    update = services.post_update(
        incident,
        actor=actor,
        status=UpdateStatus.INVESTIGATING,
        audience=audience,
        message_en=text,
    )
    services.deliver_update(update.pk)
    return update


def emails_to(address: str) -> list:
    rows = Notification.objects.filter(channel="email").filter(address=address)
    for row in rows:
        notifications.deliver_notification(row.pk)
    return [m for m in mail.outbox if address in m.to]


@pytest.fixture
def customer(shop):
    """A confirmed public subscriber of the web shop."""
    return Subscription.objects.create(
        service=shop, email="customer@example.com", public=True, confirmed_at=timezone.now()
    )


def test_people_teams_and_addresses_receive_every_update(file_incident, commander, make_user, shop):
    incident = file_incident("P1")
    cfo, member, owner = (
        make_user(username="cfo"),
        make_user(username="m1"),
        make_user(username="o1"),
    )
    team = TeamFactory(slug="execs")
    team.members.add(member)
    services.subscribe(actor=commander, incident=incident, user=cfo)
    services.subscribe(actor=commander, incident=incident, team=team)
    services.subscribe(actor=commander, incident=incident, email="board@example.com")
    services.subscribe(actor=commander, service=shop, user=owner)  # the service's subscriber
    update = post(incident, commander, Audience.INTERNAL, SECRET)
    for person in (cfo, member, owner):
        note = Notification.objects.get(recipient=person, channel="in_app")
        assert note.key == f"comms.update:{update.pk}"
    assert SECRET in emails_to("board@example.com")[0].body
    update.refresh_from_db()
    assert update.recipients == 5  # three people, the team, one address
    services.deliver_update(update.pk)  # a redelivered task notifies nobody twice
    assert Notification.objects.filter(key=f"comms.update:{update.pk}").count() == (
        Notification.objects.filter(key=f"comms.update:{update.pk}").values("pk").distinct().count()
    )
    assert Notification.objects.filter(recipient=cfo, channel="in_app").count() == 1


def test_public_subscribers_never_receive_internal_text(file_incident, commander, customer):
    incident = file_incident("P1", title="payments-db-01 pool exhausted")
    post(incident, commander, Audience.INTERNAL, SECRET)
    assert emails_to("customer@example.com") == []
    post(incident, commander, Audience.PUBLIC, "Checkout is slow; we are on it.")
    [email] = emails_to("customer@example.com")
    assert "Checkout is slow; we are on it." in email.body
    for internal in (SECRET, incident.number, incident.title, commander.username):
        assert internal not in email.subject + email.body
    assert email.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "/status/public/unsubscribe/" in email.extra_headers["List-Unsubscribe"]


def test_unconfirmed_public_subscribers_receive_nothing(file_incident, commander, shop):
    Subscription.objects.create(service=shop, email="maybe@example.com", public=True)
    post(file_incident("P1"), commander, Audience.PUBLIC, "Checkout is slow.")
    assert emails_to("maybe@example.com") == []


def test_public_subscribers_of_a_service_not_on_the_page_hear_nothing(
    file_incident, commander, customer
):
    from tests.factories import ServiceFactory

    hidden = ServiceFactory(slug="back-office")
    post(file_incident("P1", service=hidden), commander, Audience.PUBLIC, "Back office down.")
    assert emails_to("customer@example.com") == []


def test_an_update_is_delivered_by_the_sweep_when_the_broker_lost_it(
    file_incident, commander, make_user
):
    incident = file_incident("P1")
    cfo = make_user(username="cfo")
    services.subscribe(actor=commander, incident=incident, user=cfo)
    update = services.post_update(
        incident, actor=commander, status=UpdateStatus.INVESTIGATING, message_en="On it."
    )  # its task never runs here
    assert services.deliver_undelivered() == 0  # too recent: its task may still come
    with time_machine.travel(timezone.now() + timedelta(minutes=2)):
        assert services.deliver_undelivered() == 1
    assert Notification.objects.filter(recipient=cfo, key=f"comms.update:{update.pk}").exists()
    assert services.deliver_undelivered() == 0


# ---------------------------------------------------------------------------- double opt-in


def _link(email, prefix: str) -> str:
    line = next(w for w in email.body.split() if prefix in w)
    return line[line.index("/status/") :]


def test_double_opt_in_then_one_click_unsubscribe(client, shop, file_incident, commander):
    response = client.post(
        "/status/public/subscribe/", {"email": "Fan@Example.com", "service": shop.pk}
    )
    assert response.status_code == 200
    sub = Subscription.objects.get(email="fan@example.com")
    assert sub.public and sub.confirmed_at is None
    [email] = emails_to("fan@example.com")
    confirm = _link(email, "/confirm/")
    assert client.get(confirm).status_code == 200  # a mail scanner opening it confirms nothing
    sub.refresh_from_db()
    assert sub.confirmed_at is None
    assert client.post(confirm).status_code == 200
    sub.refresh_from_db()
    assert sub.confirmed_at is not None
    assert client.post(confirm).status_code == 410  # replayed

    post(file_incident("P1"), commander, Audience.PUBLIC, "Checkout is slow.")
    update_mail = emails_to("fan@example.com")[-1]
    unsubscribe = _link(update_mail, "/unsubscribe/")
    assert client.post(unsubscribe, {"List-Unsubscribe": "One-Click"}).status_code == 200
    assert not Subscription.objects.filter(email="fan@example.com").exists()
    assert client.post(unsubscribe).status_code == 410  # replayed


def test_a_confirmation_link_expires(client, shop):
    client.post("/status/public/subscribe/", {"email": "late@example.com"})
    confirm = _link(emails_to("late@example.com")[0], "/confirm/")
    with time_machine.travel(timezone.now() + timedelta(days=3)):
        response = client.post(confirm)
    assert response.status_code == 410
    assert Subscription.objects.get(email="late@example.com").confirmed_at is None


def test_asking_again_invalidates_the_first_link(client, shop):
    client.post("/status/public/subscribe/", {"email": "twice@example.com"})
    first = _link(emails_to("twice@example.com")[0], "/confirm/")
    client.post("/status/public/subscribe/", {"email": "twice@example.com"})
    second = _link(emails_to("twice@example.com")[1], "/confirm/")
    assert client.post(first).status_code == 410
    assert client.post(second).status_code == 200


def test_forged_and_foreign_links_are_refused(client, shop):
    assert client.post("/status/public/confirm/not-a-token/").status_code == 400
    client.post("/status/public/subscribe/", {"email": "x@example.com"})
    confirm = _link(emails_to("x@example.com")[0], "/confirm/")
    token = confirm.rstrip("/").rsplit("/", 1)[1]
    # A confirmation token is not an unsubscribe token.
    assert client.post(reverse("comms:unsubscribe", args=[token])).status_code == 400


def test_bad_subscription_input_is_a_form_error(client, shop):
    from tests.factories import ServiceFactory

    hidden = ServiceFactory(slug="back-office")
    response = client.post("/status/public/subscribe/", {"email": "not-an-address"})
    assert response.status_code == 400
    response = client.post(
        "/status/public/subscribe/", {"email": "a@example.com", "service": hidden.pk}
    )
    assert response.status_code == 400
    assert not Subscription.objects.exists()

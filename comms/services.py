"""Communication use cases (issue 17). Every write checks the actor's permission, validates with
field messages and is audited; deliveries leave after the commit.

- ``assign_roles``: commander, communications lead, responders (hand-over of command audited).
- ``set_public_status``: the commander's service status and public title for the status page.
- ``post_update``: a stakeholder update (status, ja/en message, audience) on the timeline, then
  ``deliver_update`` sends it to every subscriber through their channels.
- ``subscribe`` / ``unsubscribe``: people, teams and addresses of an incident or a service.
- ``request_public_subscription`` / ``confirm_subscription`` / ``unsubscribe_by_token``: the
  public status page's double opt-in and one-click unsubscribe.
- ``prefill``: an update template filled in from the incident.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import current_app
from django.conf import settings
from django.core import signing
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from incidents import services as incident_services
from incidents.choices import TimelineKind
from incidents.models import Incident
from itsm.core.audit import record_event
from itsm.core.notifications import notify, notify_addresses
from itsm.core.roles import ops_rank

from . import cadence
from .choices import Audience, ServiceStatus, UpdateStatus
from .models import (
    IncidentComms,
    StakeholderUpdate,
    StatusPageService,
    Subscription,
    UpdateTemplate,
)

logger = logging.getLogger(__name__)

DELIVER_TASK = "comms.deliver_update"
LINK_SALT = "comms.subscription"
DEFAULT_CONFIRM_MAX_AGE = 2 * 24 * 3600
DEFAULT_UNSUBSCRIBE_MAX_AGE = 365 * 24 * 3600
UNSET = object()
UNDELIVERED_AFTER = timedelta(seconds=60)


def _require(actor, perm: str, message: str) -> None:
    if not getattr(actor, "has_perm", None) or not actor.has_perm(f"comms.{perm}"):
        raise PermissionDenied(message)


def comms_for(incident: Incident, *, lock: bool = False) -> IncidentComms:
    rows = IncidentComms.objects.select_for_update() if lock else IncidentComms.objects
    comms, _created = rows.get_or_create(incident=incident)
    return comms


def _name(user) -> str:
    return str(user) if user else "—"


# ---------------------------------------------------------------------------- roles


def may_command(actor, comms: IncidentComms) -> bool:
    """Nobody in command: anyone who may work incidents takes it. Otherwise the commander hands
    it over, or an ops leader or above takes it."""
    if not actor.has_perm("comms.change_incidentcomms"):
        return False
    return comms.commander_id in (None, actor.pk) or ops_rank(actor) >= 2


@transaction.atomic
def assign_roles(
    incident: Incident, *, actor, commander=UNSET, comms_lead=UNSET, responders=None
) -> IncidentComms:
    """Set the incident's roles; only what is passed changes. A change of commander is a
    hand-over: audited, on the timeline, and the new commander told."""
    _require(actor, "change_incidentcomms", _("You may not assign incident roles."))
    comms = comms_for(incident, lock=True)
    errors = {}
    for field, person in (("commander", commander), ("comms_lead", comms_lead)):
        if person is not UNSET and person is not None and not person.is_active:
            errors[field] = _("Inactive people cannot take a role.")
    if responders is not None and any(not p.is_active for p in responders):
        errors["responders"] = _("Inactive people cannot take a role.")
    if errors:
        raise ValidationError(errors)
    changes: dict[str, list[str]] = {}
    if commander is not UNSET and getattr(commander, "pk", None) != comms.commander_id:
        if not may_command(actor, comms):
            raise PermissionDenied(
                _("Only the incident commander or an ops leader or above may hand over command.")
            )
        changes["commander"] = [_name(comms.commander), _name(commander)]
        comms.commander = commander
    if comms_lead is not UNSET and getattr(comms_lead, "pk", None) != comms.comms_lead_id:
        changes["comms_lead"] = [_name(comms.comms_lead), _name(comms_lead)]
        comms.comms_lead = comms_lead
    if responders is not None:
        before = {p.pk for p in comms.responders.all()}
        if before != {p.pk for p in responders}:
            changes["responders"] = [
                ", ".join(sorted(_name(p) for p in comms.responders.all())),
                ", ".join(sorted(_name(p) for p in responders)),
            ]
            comms.responders.set(responders)
    if not changes:
        return comms
    comms.save(update_fields=["commander", "comms_lead"])
    action = "hand_over_command" if "commander" in changes else "assign_roles"
    record_event(incident, action=action, actor=actor, data=changes)
    lines = []
    if "commander" in changes:
        lines.append(
            _("Incident commander: %(to)s (was %(from)s)")
            % {"to": changes["commander"][1], "from": changes["commander"][0]}
        )
    if "comms_lead" in changes:
        lines.append(_("Communications lead: %(who)s") % {"who": changes["comms_lead"][1]})
    if "responders" in changes:
        lines.append(_("Responders: %(who)s") % {"who": changes["responders"][1] or "—"})
    incident_services.add_timeline_entry(
        incident, actor=actor, kind=TimelineKind.ASSIGNMENT, text="\n".join(lines), data=changes
    )
    if "commander" in changes and comms.commander is not None:
        notify(
            [comms.commander],
            key=f"{incident.number}:commander:{comms.commander.pk}:{timezone.now():%Y%m%dT%H%M%S}",
            message="comms.command_handed_over",
            params={"number": incident.number, "title": incident.title, "by": _name(actor)},
            url=incident.get_absolute_url(),
            actor=actor,
            thread=incident.number,
        )
    return comms


@transaction.atomic
def set_public_status(
    incident: Incident, *, actor, service_status: str = "", public_title: str = ""
) -> IncidentComms:
    """The commander says what the status page shows for this incident (empty status: derived
    from its priority and state)."""
    comms = comms_for(incident, lock=True)
    if not (
        actor.has_perm("comms.change_incidentcomms")
        and (comms.commander_id == actor.pk or ops_rank(actor) >= 2)
    ):
        raise PermissionDenied(
            _("Only the incident commander or an ops leader or above may set the public status.")
        )
    service_status, public_title = (service_status or "").strip(), (public_title or "").strip()
    errors = {}
    if service_status and service_status not in ServiceStatus.values:
        errors["service_status"] = _("Choose one of: %(values)s.") % {
            "values": ", ".join(ServiceStatus.values)
        }
    if len(public_title) > 200:
        errors["public_title"] = _("At most 200 characters.")
    if errors:
        raise ValidationError(errors)
    diff = {
        field: [getattr(comms, field), value]
        for field, value in (("service_status", service_status), ("public_title", public_title))
        if getattr(comms, field) != value
    }
    if not diff:
        return comms
    comms.service_status, comms.public_title = service_status, public_title
    comms.save(update_fields=["service_status", "public_title"])
    record_event(incident, action="set_public_status", actor=actor, data=diff)
    if "service_status" in diff:
        label = ServiceStatus(service_status).label if service_status else _("derived")
        incident_services.add_timeline_entry(
            incident,
            actor=actor,
            kind=TimelineKind.COMMENT,
            text=_("Status page: %(status)s") % {"status": label},
            data={"service_status": service_status},
        )
    return comms


# ---------------------------------------------------------------------------- updates


def _clean_update(status: str, audience: str, message_ja: str, message_en: str) -> None:
    errors = {}
    if status not in UpdateStatus.values:
        errors["status"] = _("Choose one of: %(values)s.") % {
            "values": ", ".join(UpdateStatus.values)
        }
    if audience not in Audience.values:
        errors["audience"] = _("Choose one of: %(values)s.") % {
            "values": ", ".join(Audience.values)
        }
    if not (message_ja or message_en):
        errors["message_ja"] = _("Write the message in Japanese, English or both.")
    for field, text in (("message_ja", message_ja), ("message_en", message_en)):
        if len(text) > 5000:
            errors[field] = _("At most 5,000 characters.")
    if errors:
        raise ValidationError(errors)


def post_update(
    incident: Incident,
    *,
    actor,
    status: str,
    message_ja: str = "",
    message_en: str = "",
    audience: str = Audience.INTERNAL,
) -> StakeholderUpdate:
    """§8.3.3 コミュニケーションを密に: a stakeholder update. On the timeline, the cadence counts
    from it, and every subscriber receives it (after the commit, ``deliver_update``)."""
    _require(actor, "add_stakeholderupdate", _("You may not post stakeholder updates."))
    message_ja, message_en = (message_ja or "").strip(), (message_en or "").strip()
    _clean_update(status, audience, message_ja, message_en)
    now = timezone.now()
    with transaction.atomic():
        comms = comms_for(incident, lock=True)
        update = StakeholderUpdate.objects.create(
            incident=incident,
            status=status,
            audience=audience,
            message_ja=message_ja,
            message_en=message_en,
            posted_by=actor,
            posted_at=now,
        )
        comms.last_update_at, comms.last_update_status = now, status
        comms.save(update_fields=["last_update_at", "last_update_status"])
        record_event(
            incident,
            action="post_update",
            actor=actor,
            data={"update": update.pk, "status": status, "audience": audience},
        )
        incident_services.add_timeline_entry(
            incident,
            actor=actor,
            kind=TimelineKind.STATUS_UPDATE,
            text=update.message(getattr(actor, "language", "")),
            data={"update": update.pk, "status": status, "audience": audience},
        )
        transaction.on_commit(lambda pk=update.pk: _enqueue_delivery(pk))
    return update


def _enqueue_delivery(update_id: int) -> None:
    try:
        current_app.tasks[DELIVER_TASK].apply_async((update_id,), retry=False)
    except Exception as exc:  # noqa: BLE001 - broker down: the sweep delivers it
        logger.warning("update %s: broker unavailable (%s), left for the sweep", update_id, exc)


def _addressees(update: StakeholderUpdate):
    """(people, teams, [(address, language, extra params)]) who receive ``update``: the
    subscribers of the incident and of its service; for a public update also the confirmed
    public subscribers of the service and of every public service."""
    incident = update.incident
    scope = Q(incident=incident)
    if incident.service_id:
        scope |= Q(service_id=incident.service_id)
    subscribers = Q(scope, public=False)
    if update.audience == Audience.PUBLIC and is_public(incident.service):
        # Public subscribers hear of the services on the public page only.
        public_scope = Q(service__isnull=True, incident__isnull=True) | Q(
            service_id=incident.service_id
        )
        subscribers |= Q(public_scope, public=True, confirmed_at__isnull=False)
    people, teams, addresses = {}, {}, []
    for sub in Subscription.objects.filter(subscribers).select_related("user", "team"):
        if sub.user_id:
            people[sub.user_id] = sub.user
        elif sub.team_id:
            teams[sub.team_id] = sub.team
        else:
            extra = {"unsubscribe_url": _site(unsubscribe_url(sub))} if sub.public else {}
            addresses.append((sub.email, sub.language, extra))
    for team in teams.values():
        for member in team.members.filter(is_active=True):
            people.setdefault(member.pk, member)
    return list(people.values()), list(teams.values()), addresses


def is_public(service) -> bool:
    """The service is on the public status page."""
    return bool(service) and StatusPageService.objects.filter(service=service, public=True).exists()


def deliver_update(update_id: int) -> int:
    """Send one update to its addressees (the task's service). Safe to run twice: every row is
    unique per (update, addressee, channel). Returns how many addressees it reached."""
    update = (
        StakeholderUpdate.objects.select_related("incident__service", "posted_by")
        .filter(pk=update_id)
        .first()
    )
    if update is None:
        return 0
    incident = update.incident
    people, teams, addresses = _addressees(update)
    key = f"comms.update:{update.pk}"
    params = {
        "number": incident.number,
        "title": incident.title,
        "status": update.status,
        "audience": update.audience,
        "message_ja": update.message_ja,
        "message_en": update.message_en,
    }
    with transaction.atomic():
        notify(
            people,
            key=key,
            message="comms.update",
            params=params,
            url=incident.get_absolute_url() + "#comms",
            teams=teams,
            actor=update.posted_by,
            thread=incident.number,
        )
        # Addresses are not staff: the public version only (no internal title or number).
        public = {"status": update.status, **_public_text(update)}
        notify_addresses(
            addresses,
            key=key,
            message="comms.public_update" if update.audience == Audience.PUBLIC else "comms.update",
            params=public if update.audience == Audience.PUBLIC else params,
            url=reverse("comms:public") if update.audience == Audience.PUBLIC else "",
        )
        reached = len(people) + len(teams) + len(addresses)
        StakeholderUpdate.objects.filter(pk=update.pk).update(
            recipients=reached, delivered_at=timezone.now()
        )
    return reached


def deliver_undelivered(*, now=None) -> int:
    """The sweep's catch-up: updates whose delivery task never ran (broker down, worker
    killed) a minute after they were posted."""
    now = now or timezone.now()
    late = StakeholderUpdate.objects.filter(
        delivered_at__isnull=True, posted_at__lte=now - UNDELIVERED_AFTER
    ).values_list("pk", flat=True)[:100]
    late = list(late)
    for pk in late:
        deliver_update(pk)
    return len(late)


def _public_text(update: StakeholderUpdate) -> dict:
    comms = IncidentComms.objects.filter(incident_id=update.incident_id).first()
    service = update.incident.service
    page = getattr(service, "status_page", None) if service else None
    return {
        "public_title": (comms.public_title if comms else "") or "",
        "service": page.display_name if page else "",
        "message_ja": update.message_ja,
        "message_en": update.message_en,
    }


# ---------------------------------------------------------------------------- templates


class _Blank(dict):
    def __missing__(self, key):
        return "{" + key + "}"


def prefill(template: UpdateTemplate, incident: Incident, values: dict | None = None) -> dict:
    """The template's texts with ``{service}``, ``{started}``, ``{next_update}`` and
    ``{mitigations}`` (the impact reduction recorded on the timeline) filled in; a brace the
    template got wrong is left as written. ``values``: ``template_values(incident)``, computed
    once for many templates."""
    values = _Blank(values if values is not None else template_values(incident))
    filled = {}
    for field in ("message_ja", "message_en"):
        text = getattr(template, field)
        try:
            filled[field] = text.format_map(values)
        except (ValueError, IndexError, AttributeError):
            filled[field] = text
    return {"status": template.status, **filled}


def template_values(incident: Incident, due=UNSET) -> dict[str, str]:
    if due is UNSET:
        due = cadence.update_due(incident, IncidentComms.objects.filter(incident=incident).first())
    mitigations = incident.timeline.filter(kind=TimelineKind.MITIGATION).order_by("at", "id")
    return {
        "service": str(incident.service or ""),
        "started": date_format(timezone.localtime(incident.detected_at), "Y-m-d H:i"),
        "next_update": date_format(timezone.localtime(due.due_at), "H:i") if due else "",
        "mitigations": "\n".join(f"- {m.text}" for m in mitigations),
    }


def templates_for(incident: Incident):
    return UpdateTemplate.objects.filter(
        Q(service__isnull=True) | Q(service_id=incident.service_id)
    ).select_related("service")


# ---------------------------------------------------------------------------- subscriptions


def _subscribe_perm(actor, user) -> None:
    if user is not None and getattr(user, "pk", None) == actor.pk:
        _require(actor, "view_subscription", _("You may not subscribe."))
    else:
        _require(actor, "add_subscription", _("You may not add subscribers."))


def subscribe(
    *, actor, incident: Incident | None = None, service=None, user=None, team=None, email=""
) -> Subscription:
    """A person, team or address hears every update of ``incident`` (or of ``service``'s
    incidents). Anyone may subscribe themselves; adding others needs ``add_subscription``."""
    _subscribe_perm(actor, user)
    email = (email or "").strip().lower()
    given = [x for x in (user, team, email) if x]
    errors = {}
    if len(given) != 1:
        errors["subscriber"] = _("Choose one person, one team or one email address.")
    if email:
        try:
            validate_email(email)
        except ValidationError:
            errors["email"] = _("Enter a valid email address.")
    if (incident is None) == (service is None):
        errors["scope"] = _("Subscribe to an incident or to a service.")
    if errors:
        raise ValidationError(errors)
    sub = Subscription(
        incident=incident, service=service, user=user, team=team, email=email, created_by=actor
    )
    sub.confirmed_at = timezone.now()  # staff vouch for whom they add
    try:
        with transaction.atomic():
            sub.save()
            record_event(
                incident or service,
                action="subscribe",
                actor=actor,
                data={"subscriber": sub.subscriber},
            )
    except IntegrityError:
        raise ValidationError({"subscriber": _("Already subscribed.")}) from None
    return sub


@transaction.atomic
def unsubscribe(subscription: Subscription, *, actor) -> None:
    _subscribe_perm(actor, subscription.user)
    if subscription.user_id != actor.pk:
        _require(actor, "delete_subscription", _("You may not remove subscribers."))
    record_event(
        subscription.incident or subscription.service or subscription,
        action="unsubscribe",
        actor=actor,
        data={"subscriber": subscription.subscriber},
    )
    subscription.delete()


class LinkRefused(Exception):
    """A subscription link that cannot be used; ``status`` is the HTTP answer."""

    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.message, self.status = message, status


def _token(sub: Subscription, action: str) -> str:
    return signing.dumps({"s": sub.pk, "n": sub.nonce, "a": action}, salt=LINK_SALT)


def confirm_url(sub: Subscription) -> str:
    return reverse("comms:confirm", args=[_token(sub, "confirm")])


def unsubscribe_url(sub: Subscription) -> str:
    return reverse("comms:unsubscribe", args=[_token(sub, "unsubscribe")])


def _site(url: str) -> str:
    """An absolute link for an email."""
    return f"{settings.SITE_URL.rstrip('/')}{url}"


def _max_age(name: str, default: int) -> int:
    return int(getattr(settings, name, default))


def subscription_for(token: str, action: str) -> Subscription:
    """The subscription a link names. Refused: 400 not a link of ours, 410 expired, used or
    the subscription is gone (a replayed confirmation, a second unsubscribe)."""
    max_age = (
        _max_age("STATUS_CONFIRM_MAX_AGE", DEFAULT_CONFIRM_MAX_AGE)
        if action == "confirm"
        else _max_age("STATUS_UNSUBSCRIBE_MAX_AGE", DEFAULT_UNSUBSCRIBE_MAX_AGE)
    )
    try:
        data = signing.loads(token, salt=LINK_SALT, max_age=max_age)
    except signing.SignatureExpired:
        raise LinkRefused(_("This link has expired."), 410) from None
    except signing.BadSignature:
        raise LinkRefused(_("This link is not valid."), 400) from None
    if not isinstance(data, dict) or data.get("a") != action:
        raise LinkRefused(_("This link is not valid."), 400)
    sub = Subscription.objects.filter(pk=data.get("s"), public=True).first()
    if sub is None or sub.nonce != data.get("n"):
        raise LinkRefused(_("This link has been used already."), 410)
    return sub


def request_public_subscription(*, email: str, service=None, language: str = "") -> Subscription:
    """Sign up on the public status page: the address gets a confirmation link (double opt-in)
    and nothing else until it is followed. Asking again sends a new link (the old one stops
    working); an address already confirmed is told nothing new (no address enumeration: the
    page answers the same either way)."""
    email = (email or "").strip().lower()
    try:
        validate_email(email)
    except ValidationError:
        raise ValidationError({"email": _("Enter a valid email address.")}) from None
    if service is not None and not is_public(service):
        raise ValidationError({"service": _("This service is not on the public status page.")})
    language = language if language in dict(settings.LANGUAGES) else ""
    with transaction.atomic():
        sub = (
            Subscription.objects.select_for_update()
            .filter(
                scope_key=Subscription(service=service).keys()[0], subscriber_key=f"email:{email}"
            )
            .first()
        )
        if sub is not None and sub.confirmed_at is not None:
            return sub
        sub = sub or Subscription(service=service, email=email, public=True)
        sub.language, sub.nonce = language, ""  # a new nonce: earlier links stop working
        sub.save()
        notify_addresses(
            [(email, language, {"confirm_url": _site(confirm_url(sub))})],
            key=f"comms.confirm:{sub.pk}:{sub.nonce}",
            message="comms.confirm_subscription",
            params={"service": _service_label(service)},
        )
    return sub


def _service_label(service) -> str:
    if service is None:
        return ""
    page = getattr(service, "status_page", None)
    return page.display_name if page else service.name


@transaction.atomic
def confirm_subscription(token: str) -> Subscription:
    sub = subscription_for(token, "confirm")
    sub = Subscription.objects.select_for_update().get(pk=sub.pk)
    sub.confirmed_at, sub.nonce = timezone.now(), ""
    sub.save()
    record_event(sub, action="confirm", actor=None, actor_label="status page subscriber")
    return sub


@transaction.atomic
def unsubscribe_by_token(token: str) -> None:
    sub = subscription_for(token, "unsubscribe")
    record_event(
        sub.service or sub,
        action="unsubscribe",
        actor=None,
        actor_label="status page subscriber",
        data={"subscriber": sub.email},
    )
    sub.delete()


def move_subscribers(duplicate, survivor) -> int:
    """A merge (``incidents.merging``): the duplicate's subscribers hear from the survivor (once:
    those subscribed to both keep one subscription). How many moved."""
    have = set(
        Subscription.objects.filter(incident=survivor).values_list("subscriber_key", flat=True)
    )
    moved = 0
    for sub in Subscription.objects.filter(incident=duplicate):
        if sub.subscriber_key in have:
            sub.delete()
            continue
        sub.incident = survivor
        sub.save()
        moved += 1
    return moved

"""What communication notifications say, in the reader's language (``itsm.core.notifications``)."""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from .choices import UpdateStatus


def _status(params) -> str:
    code = params.get("status", "")
    return str(UpdateStatus(code).label) if code in UpdateStatus.values else code


def _message(params) -> str:
    ja, en = params.get("message_ja", ""), params.get("message_en", "")
    return (ja or en) if translation.get_language() == "ja" else (en or ja)


def _time(value: str) -> str:
    try:
        moment = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return value or ""
    return date_format(timezone.localtime(moment), "H:i")


def update(params):
    title = _("%(number)s [%(status)s] %(title)s") % {
        "number": params.get("number", ""),
        "status": _status(params),
        "title": params.get("title", ""),
    }
    return title, _message(params)


def public_update(params):
    subject = params.get("public_title") or (
        _("Incident affecting %(service)s") % {"service": params["service"]}
        if params.get("service")
        else _("Service incident")
    )
    body = _message(params)
    if params.get("unsubscribe_url"):
        body += "\n\n" + _("Unsubscribe: %(link)s") % {"link": params["unsubscribe_url"]}
    return f"[{_status(params)}] {subject}", body


def update_due(params):
    return (
        _("%(number)s: stakeholder update due at %(time)s")
        % {"number": params.get("number", ""), "time": _time(params.get("due_at", ""))},
        _("Stakeholders hear from this incident every %(every)s minutes. Post an update: %(title)s")
        % {"every": params.get("every", ""), "title": params.get("title", "")},
    )


def update_overdue(params):
    body = _("The update due at %(time)s was not posted.") % {
        "time": _time(params.get("due_at", ""))
    }
    if params.get("level"):
        body += " " + _("The incident was escalated to L%(level)s.") % {"level": params["level"]}
    return _("%(number)s: stakeholder update overdue") % {"number": params.get("number", "")}, body


def command_handed_over(params):
    return (
        _("You are the incident commander of %(number)s") % {"number": params.get("number", "")},
        _("%(by)s handed you command of %(title)s.")
        % {"by": params.get("by", ""), "title": params.get("title", "")},
    )


def confirm_subscription(params):
    what = params.get("service") or _("every public service")
    return (
        _("Confirm your subscription to status updates"),
        _(
            "Follow this link to receive status updates about %(what)s: %(link)s\n\n"
            "If you did not ask for this, ignore this message; nothing will be sent."
        )
        % {"what": what, "link": params.get("confirm_url", "")},
    )


MESSAGES = {
    "comms.update": update,
    "comms.public_update": public_update,
    "comms.update_due": update_due,
    "comms.update_overdue": update_overdue,
    "comms.command_handed_over": command_handed_over,
    "comms.confirm_subscription": confirm_subscription,
}

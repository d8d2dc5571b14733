"""What incident notifications say, rendered in the reader's language (issue 14 §5).

A notification stores one of these codes and its parameters; ``itsm.core.notifications``
renders it when the bell shows it or the email is sent. Parameters are codes and numbers
(a level, a reason code, an ISO time), never translated words.
"""

from datetime import datetime

from django.utils import timezone
from django.utils.translation import gettext as _

from .models.escalation import EscalationReason, level_label


def _reason(code: str) -> str:
    try:
        return str(EscalationReason(code).label)
    except ValueError:
        return code


def escalated(p: dict) -> tuple[str, str]:
    title = _("%(number)s escalated to %(level)s") % {
        "number": p["number"],
        "level": level_label(p["level"]),
    }
    body = _("%(title)s\nReason: %(reason)s\n%(comment)s") % {
        "title": p.get("title", ""),
        "reason": _reason(p.get("reason", "")),
        "comment": p.get("comment", ""),
    }
    return title, body.strip()


def response_warning(p: dict) -> tuple[str, str]:
    due = timezone.localtime(datetime.fromisoformat(p["due"])).strftime("%H:%M")
    title = _("%(number)s: %(percent)s%% of the response target passed (due %(due)s)") % {
        "number": p["number"],
        "percent": p["percent"],
        "due": due,
    }
    return title, p.get("title", "")


def response_breached(p: dict) -> tuple[str, str]:
    return _("%(number)s: response target breached") % {"number": p["number"]}, p.get("title", "")


def informed(p: dict) -> tuple[str, str]:
    title = _("%(number)s: %(level)s informed (%(reason)s)") % {
        "number": p["number"],
        "level": level_label(p["level"]),
        "reason": _reason(p.get("reason", "")),
    }
    return title, p.get("title", "")


MESSAGES = {
    "incidents.escalated": escalated,
    "incidents.response_warning": response_warning,
    "incidents.response_breached": response_breached,
    "incidents.informed": informed,
}

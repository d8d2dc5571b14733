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


def page_repeat(p: dict) -> tuple[str, str]:
    title = _("%(number)s: still waiting for acknowledgement (L%(level)s, reminder %(repeat)s)") % {
        "number": p["number"],
        "level": p.get("level", ""),
        "repeat": p.get("repeat", ""),
    }
    return title, p.get("title", "")


def _listed(heading: str, count: int, items: list) -> str:
    lines = [f"{heading}: {count}"]
    lines += [f"- {i['number']} {i.get('priority') or ''} {i.get('title', '')}" for i in items]
    if count > len(items):
        lines.append(_("… and %(more)s more") % {"more": count - len(items)})
    return "\n".join(lines)


def handoff(p: dict) -> tuple[str, str]:
    start = timezone.localtime(datetime.fromisoformat(p["start"])).strftime("%m-%d %H:%M")
    title = _(
        "Your on-call shift (%(schedule)s) starts %(start)s: %(open)s open, %(waiting)s waiting for you"
    ) % {
        "schedule": p.get("schedule", ""),
        "start": start,
        "open": p.get("open_count", 0),
        "waiting": p.get("waiting_count", 0),
    }
    body = "\n\n".join(
        [
            _listed(
                _("Open incidents of %(team)s") % {"team": p.get("team", "")},
                p.get("open_count", 0),
                p.get("open", []),
            ),
            _listed(_("Waiting for you"), p.get("waiting_count", 0), p.get("waiting", [])),
            _listed(
                _("Escalated during the last shift"),
                p.get("escalated_count", 0),
                p.get("escalated", []),
            ),
        ]
    )
    return title, body


MESSAGES = {
    "incidents.page_repeat": page_repeat,
    "incidents.handoff": handoff,
    "incidents.escalated": escalated,
    "incidents.response_warning": response_warning,
    "incidents.response_breached": response_breached,
    "incidents.informed": informed,
}

"""What backup notifications say, rendered in the reader's language (issue 14 §5).

Parameters are record numbers, names (user data), ISO dates and counts, never translated words.
"""

from django.utils.translation import gettext as _


def restore_test_overdue(p: dict) -> tuple[str, str]:
    title = _("Restore test %(number)s of %(policy)s is overdue") % {
        "number": p["number"],
        "policy": p["policy"],
    }
    body = _(
        "It was due on %(due)s (%(days)s days ago): %(target)s. Run it and record the "
        "result, or plan a new restore test."
    ) % {"due": p["due"], "days": p["days"], "target": p["target"]}
    return title, body


def dr_drill_overdue(p: dict) -> tuple[str, str]:
    title = _("The DR drill of %(plan)s is overdue") % {"plan": p["plan"]}
    body = _(
        "A drill was due on %(due)s (%(days)s days ago; every %(months)s months). Hold a "
        "switchover drill and record it."
    ) % {"due": p["due"], "days": p["days"], "months": p["months"]}
    return title, body


MESSAGES = {
    "backups.restore_test_overdue": restore_test_overdue,
    "backups.dr_drill_overdue": dr_drill_overdue,
}

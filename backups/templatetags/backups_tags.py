from django import template
from django.utils.translation import gettext as _

from backups.selectors import human_duration

register = template.Library()


@register.filter
def duration(value) -> str:
    """A backup run's timedelta in the duration chart's unit: "1 h 35 min", "< 1 min", "—"."""
    return human_duration(value)


@register.filter
def minutes(value) -> str:
    """360 → "6 h", 90 → "1 h 30 min", None → "—"."""
    if value in (None, ""):
        return "—"
    hours, mins = divmod(int(value), 60)
    if hours and mins:
        return _("%(h)s h %(m)s min") % {"h": hours, "m": mins}
    if hours:
        return _("%(h)s h") % {"h": hours}
    return _("%(m)s min") % {"m": mins}


@register.filter
def filesize(value) -> str:
    if value in (None, ""):
        return "—"
    size = float(value)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return str(value)

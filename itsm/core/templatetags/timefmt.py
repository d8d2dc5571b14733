"""``{% load timefmt %}``: ``|duration``, ``|countdown``, ``|when``, ``|date_time`` and the day
label the countdown script uses (see itsm.core.timefmt)."""

from django import template

from itsm.core import timefmt

register = template.Library()

register.filter("duration", timefmt.duration)
register.filter("when", timefmt.when)
register.filter("date_time", timefmt.date_time)


@register.filter
def countdown(due):
    return timefmt.countdown(due)


@register.simple_tag
def day_label():
    """The days format for scripts: "%(days)s d" → "{n} d"."""
    return timefmt.days_text("{n}")

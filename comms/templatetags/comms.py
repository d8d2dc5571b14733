"""``{% load comms %}``: ``|message_in:language`` picks an update's message in that language."""

from django import template

register = template.Library()


@register.filter
def message_in(update, language: str) -> str:
    return update.message(language or "")

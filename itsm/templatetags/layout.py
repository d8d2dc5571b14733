"""Template tags of the page layout (the top bar)."""

from django import template

from itsm.menu import main_menu as _main_menu

register = template.Library()


@register.simple_tag(takes_context=True)
def main_menu(context) -> list[dict]:
    """``{% main_menu as items %}``: the menu entries the signed-in user may open."""
    request = context.get("request")
    return _main_menu(request) if request is not None else []

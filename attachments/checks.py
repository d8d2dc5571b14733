"""The attachment settings are checked at start-up: an unknown type name is a typo, not a wish."""

from django.conf import settings
from django.core.checks import Error, register

from .files import TYPES


@register()
def allowed_types_are_known(app_configs, **kwargs):
    unknown = [name for name in settings.ATTACHMENT_ALLOWED_TYPES if name not in TYPES]
    if not unknown:
        return []
    return [
        Error(
            f"ATTACHMENT_ALLOWED_TYPES names unknown types: {', '.join(unknown)}",
            hint=f"Known types: {', '.join(TYPES)}",
            id="attachments.E001",
        )
    ]

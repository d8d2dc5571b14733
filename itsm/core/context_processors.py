from django.conf import settings

from .roles import Role, role_names


def portal(request):
    user = getattr(request, "user", None)
    names = role_names(user)
    return {
        "PORTAL_NAME": "ITSM Portal",
        "user_roles": [r for r in Role if r.value in names],
        "DEBUG": settings.DEBUG,
    }

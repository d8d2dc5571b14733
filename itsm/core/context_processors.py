from django.conf import settings

from .roles import Role, role_names


def portal(request):
    user = getattr(request, "user", None)
    names = role_names(user)
    unread = 0
    if user is not None and user.is_authenticated:
        from .notifications import unread_count

        # Once per request: every partial rendered with the request (the incident page's
        # panels) runs the context processors again.
        unread = getattr(request, "_unread_notifications", None)
        if unread is None:
            unread = request._unread_notifications = unread_count(user)
    return {
        "PORTAL_NAME": "ITSM Portal",
        "unread_notifications": unread,
        "user_roles": [r for r in Role if r.value in names],
        "DEBUG": settings.DEBUG,
    }

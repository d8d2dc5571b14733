"""Grant each role the model permissions its apps declare.

Apps declare ``role_permissions = {"operator": ["incidents.add_incident", …], …}`` on their
AppConfig; after every ``migrate`` the grants are applied (additively, so permissions an admin
added by hand stay). Object-level rules (who may take which transition) live on the
transitions themselves.
"""

from django.apps import apps
from django.contrib.auth.models import Group, Permission

from .roles import Role

CORE_ROLE_PERMISSIONS = {role.value: ["core.view_team", "core.view_service"] for role in Role} | {
    Role.ADMIN.value: [
        "core.view_team",
        "core.add_team",
        "core.change_team",
        "core.view_service",
        "core.add_service",
        "core.change_service",
        "core.view_auditevent",
        "core.view_apitoken",
        "core.change_apitoken",
        "core.view_workinghours",
        "core.change_workinghours",
        "core.add_workinghours",
        "core.view_closedday",
        "core.add_closedday",
        "core.change_closedday",
        "core.delete_closedday",
    ],
}


def sync_role_permissions(**kwargs) -> None:
    declared: dict[str, set[str]] = {}
    for config in apps.get_app_configs():
        table = (
            CORE_ROLE_PERMISSIONS
            if config.label == "core"
            else getattr(config, "role_permissions", {})
        )
        for role, perms in table.items():
            declared.setdefault(str(role), set()).update(perms)
    for role, perms in declared.items():
        group, _ = Group.objects.get_or_create(name=role)
        wanted = []
        for perm in perms:
            app_label, codename = perm.split(".", 1)
            wanted.extend(
                Permission.objects.filter(content_type__app_label=app_label, codename=codename)
            )
        group.permissions.add(*wanted)

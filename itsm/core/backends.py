"""Local accounts: Django's ``ModelBackend``, reading a person's permissions in one query.

``ModelBackend`` reads the permissions given to the person and those of their groups in two
queries, and ``roles.role_names`` reads the groups' names in a third; every request that checks
a permission and a role (the API's opening of an incident: issue 20) paid all three. Here one
``UNION ALL`` reads all of it, and the role names are cached on the user as ``role_names``
caches them.
"""

from __future__ import annotations

from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Group, Permission
from django.db.models import Value


class AccountBackend(ModelBackend):
    def get_all_permissions(self, user_obj, obj=None):
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None:
            return set()
        if user_obj.is_superuser or hasattr(user_obj, "_perm_cache"):
            return super().get_all_permissions(user_obj, obj)
        granted = ("content_type__app_label", "codename")
        rows = (
            Permission.objects.filter(user=user_obj)
            .order_by()
            .values_list(*granted)
            .union(
                Permission.objects.filter(group__user=user_obj).order_by().values_list(*granted),
                # A group's name, marked by an empty app label (no app's label is empty).
                Group.objects.filter(user=user_obj)
                .order_by()
                .annotate(app_label=Value(""))
                .values_list("app_label", "name"),
                all=True,
            )
        )
        perms, roles = set(), set()
        for app_label, name in rows:
            if app_label:
                perms.add(f"{app_label}.{name}")
            else:
                roles.add(name)
        user_obj._perm_cache = perms
        if getattr(user_obj, "_role_names", None) is None:
            user_obj._role_names = frozenset(roles)
        return perms

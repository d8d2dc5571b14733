"""Seed the roles (§8.4, §9.2) as groups and the default business calendar."""

import datetime

from django.db import migrations

ROLES = ["operator", "ops_leader", "ops_manager", "developer", "executive", "cab_member", "admin"]

# 年末年始休業 12/29–1/3 (recurring every year).
YEAR_END = [(12, 29), (12, 30), (12, 31), (1, 1), (1, 2), (1, 3)]


def forwards(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    WorkingHours = apps.get_model("core", "WorkingHours")
    ClosedDay = apps.get_model("core", "ClosedDay")
    for name in ROLES:
        Group.objects.get_or_create(name=name)
    for weekday in range(5):
        WorkingHours.objects.get_or_create(
            weekday=weekday,
            defaults={"start": datetime.time(9, 0), "end": datetime.time(18, 0)},
        )
    for month, day in YEAR_END:
        ClosedDay.objects.get_or_create(
            year=None, month=month, day=day, defaults={"name": "年末年始休業"}
        )


class Migration(migrations.Migration):
    dependencies = [("core", "0001_initial"), ("auth", "0012_alter_user_first_name_max_length")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]

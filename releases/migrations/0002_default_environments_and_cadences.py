"""Seed the five environments of §10.3 and the release cadence of §10.2."""

import datetime as dt

from django.db import migrations

from releases.choices import DEFAULT_CADENCES, DEFAULT_ENVIRONMENTS


def seed(apps, schema_editor):
    Environment = apps.get_model("releases", "Environment")
    ReleaseCadence = apps.get_model("releases", "ReleaseCadence")
    for order, (code, name, role) in enumerate(DEFAULT_ENVIRONMENTS, start=1):
        Environment.objects.get_or_create(
            code=code, defaults={"name": name, "role": role, "order": order}
        )
    for release_type, frequency, weekday, week, month, at, target in DEFAULT_CADENCES:
        hour, minute = (int(x) for x in at.split(":"))
        ReleaseCadence.objects.get_or_create(
            release_type=release_type,
            defaults={
                "frequency": frequency,
                "weekday": weekday,
                "week_of_month": week,
                "month_of_quarter": month,
                "time_of_day": dt.time(hour, minute),
                "target": target,
            },
        )


class Migration(migrations.Migration):
    dependencies = [("releases", "0001_initial")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]

"""The monitoring intake's models leave this app for ``intake`` (its 0001): in the migration
state only, the tables and their rows stay."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("incidents", "0011_response_clock_from_receipt"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveField(
                    model_name="alertgroup",
                    name="incident",
                ),
                migrations.RemoveField(
                    model_name="alertgroup",
                    name="integration",
                ),
                migrations.RemoveField(
                    model_name="alertgroup",
                    name="previous",
                ),
                migrations.RemoveField(
                    model_name="alertgroup",
                    name="service",
                ),
                migrations.RemoveField(
                    model_name="delivery",
                    name="integration",
                ),
                migrations.RemoveField(
                    model_name="integration",
                    name="service",
                ),
                migrations.RemoveField(
                    model_name="integration",
                    name="team",
                ),
                migrations.RemoveField(
                    model_name="mappingrule",
                    name="integration",
                ),
                migrations.RemoveField(
                    model_name="mappingrule",
                    name="service",
                ),
                migrations.DeleteModel(
                    name="Alert",
                ),
                migrations.DeleteModel(
                    name="AlertGroup",
                ),
                migrations.DeleteModel(
                    name="Delivery",
                ),
                migrations.DeleteModel(
                    name="Integration",
                ),
                migrations.DeleteModel(
                    name="MappingRule",
                ),
            ],
            database_operations=[],
        ),
    ]

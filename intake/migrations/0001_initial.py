"""The monitoring intake's models, moved here from ``incidents`` (issue 15).

Their tables stay what they were (``incidents_integration`` … via ``db_table``): the models are
created in the migration state only, no table is created or copied. Their content types move to
this app, so the permissions granted to roles and groups and the audit trail of integrations and
storms stay attached to them.
"""

import django.core.validators
import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models

MODELS = ["integration", "mappingrule", "alertgroup", "alert", "delivery"]


def _relabel(apps, source: str, target: str) -> None:
    ContentType = apps.get_model("contenttypes", "ContentType")
    # Within one ``migrate`` run the new labels cannot exist yet: content types are created
    # after the last migration (post_migrate).
    for model in MODELS:
        ContentType.objects.filter(app_label=source, model=model).update(app_label=target)


def move_content_types(apps, schema_editor):
    _relabel(apps, "incidents", "intake")


def move_content_types_back(apps, schema_editor):
    _relabel(apps, "intake", "incidents")



class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('core', '0005_notification_message_code'),
        ('incidents', '0012_move_intake_to_its_app'),
        ('contenttypes', '0002_remove_content_type_name'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='Integration',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('name', models.CharField(max_length=100, unique=True, verbose_name='name')),
                        ('kind', models.CharField(choices=[('alertmanager', 'Prometheus Alertmanager / Grafana webhook'), ('events_v2', 'PagerDuty Events API v2 compatible'), ('generic', 'Generic (both formats)')], default='alertmanager', max_length=20, verbose_name='kind')),
                        ('description', models.TextField(blank=True, verbose_name='description')),
                        ('is_active', models.BooleanField(default=True, verbose_name='active')),
                        ('secret_prefix', models.CharField(editable=False, max_length=12, unique=True, verbose_name='secret prefix')),
                        ('secret_digest', models.CharField(editable=False, max_length=64)),
                        ('secret_issued_at', models.DateTimeField(editable=False, null=True, verbose_name='secret issued at')),
                        ('secret_revoked_at', models.DateTimeField(blank=True, null=True, verbose_name='secret revoked at')),
                        ('default_priority', models.CharField(choices=[('P1', 'P1 (Critical)'), ('P2', 'P2 (High)'), ('P3', 'P3 (Medium)'), ('P4', 'P4 (Low)')], default='P3', help_text='Used when no mapping rule gives a priority.', max_length=2, verbose_name='default priority')),
                        ('auto_recover', models.BooleanField(default=True, help_text='When every alert of an incident is resolved, mark the incident recovered. It is never closed without a person.', verbose_name='recover on resolve')),
                        ('rate_limit_per_minute', models.PositiveIntegerField(default=600, help_text='Further requests get 429 with Retry-After. 0: no limit.', verbose_name='rate limit (requests per minute)')),
                        ('storm_threshold', models.PositiveSmallIntegerField(default=10, help_text='Storm mode starts when more than this many new alert groups arrive within the storm window: further new groups then join one storm incident instead of opening more.', validators=[django.core.validators.MinValueValidator(1)], verbose_name='storm threshold (new alert groups)')),
                        ('storm_window_minutes', models.PositiveSmallIntegerField(default=5, validators=[django.core.validators.MinValueValidator(1)], verbose_name='storm window (minutes)')),
                        ('delivery_retention_days', models.PositiveSmallIntegerField(default=14, validators=[django.core.validators.MinValueValidator(1), django.core.validators.MaxValueValidator(3650)], verbose_name='keep deliveries (days)')),
                        ('created_at', models.DateTimeField(auto_now_add=True, verbose_name='created at')),
                        ('last_delivery_at', models.DateTimeField(blank=True, null=True, verbose_name='last delivery')),
                        ('service', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='core.service', verbose_name='default service')),
                        ('team', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='core.team', verbose_name='default team')),
                    ],
                    options={
                        'verbose_name': 'monitoring integration',
                        'verbose_name_plural': 'monitoring integrations',
                        'db_table': 'incidents_integration',
                        'ordering': ['name'],
                    },
                ),
                migrations.CreateModel(
                    name='AlertGroup',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('key', models.CharField(max_length=255, verbose_name='group key')),
                        ('is_storm', models.BooleanField(default=False, verbose_name='storm group')),
                        ('is_open', models.BooleanField(default=True, verbose_name='open')),
                        ('opened_incident', models.BooleanField(default=False)),
                        ('labels', models.JSONField(blank=True, default=dict, verbose_name='common labels')),
                        ('priority', models.CharField(blank=True, choices=[('P1', 'P1 (Critical)'), ('P2', 'P2 (High)'), ('P3', 'P3 (Medium)'), ('P4', 'P4 (Low)')], max_length=2, verbose_name='priority')),
                        ('opened_at', models.DateTimeField(default=django.utils.timezone.now, verbose_name='opened at')),
                        ('closed_at', models.DateTimeField(blank=True, null=True, verbose_name='closed at')),
                        ('incident', models.ForeignKey(null=True, on_delete=django.db.models.deletion.CASCADE, related_name='alert_groups', to='incidents.incident', verbose_name='incident')),
                        ('previous', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='intake.alertgroup', verbose_name='previous episode')),
                        ('service', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='core.service', verbose_name='service')),
                        ('integration', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='groups', to='intake.integration', verbose_name='integration')),
                    ],
                    options={
                        'verbose_name': 'alert group',
                        'verbose_name_plural': 'alert groups',
                        'db_table': 'incidents_alertgroup',
                        'ordering': ['-opened_at', '-id'],
                    },
                ),
                migrations.CreateModel(
                    name='MappingRule',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('order', models.PositiveSmallIntegerField(default=0, verbose_name='order')),
                        ('label', models.CharField(help_text='Alert label, e.g. severity, team, service.', max_length=100, verbose_name='label')),
                        ('value', models.CharField(help_text='Exact value; * matches any value of the label.', max_length=200, verbose_name='value')),
                        ('priority', models.CharField(blank=True, choices=[('P1', 'P1 (Critical)'), ('P2', 'P2 (High)'), ('P3', 'P3 (Medium)'), ('P4', 'P4 (Low)')], max_length=2, verbose_name='priority')),
                        ('impact_scope', models.CharField(blank=True, choices=[('all_users', 'All users'), ('some_users', 'Some users'), ('single_feature', 'A specific feature')], max_length=20, verbose_name='impact scope')),
                        ('business_impact', models.CharField(blank=True, choices=[('revenue_loss', 'Revenue loss'), ('reputation', 'Loss of trust'), ('minor', 'Minor')], max_length=20, verbose_name='business impact')),
                        ('urgency', models.CharField(blank=True, choices=[('immediate', 'Immediate response needed'), ('planned', 'Can be handled as planned')], max_length=20, verbose_name='urgency')),
                        ('integration', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='rules', to='intake.integration', verbose_name='integration')),
                        ('service', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='core.service', verbose_name='service')),
                    ],
                    options={
                        'verbose_name': 'mapping rule',
                        'verbose_name_plural': 'mapping rules',
                        'db_table': 'incidents_mappingrule',
                        'ordering': ['integration', 'order', 'id'],
                    },
                ),
                migrations.CreateModel(
                    name='Alert',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('fingerprint', models.CharField(max_length=255, verbose_name='fingerprint')),
                        ('status', models.CharField(choices=[('firing', 'Firing'), ('resolved', 'Resolved')], default='firing', max_length=10, verbose_name='status')),
                        ('name', models.CharField(blank=True, max_length=255, verbose_name='alert')),
                        ('summary', models.TextField(blank=True, verbose_name='summary')),
                        ('labels', models.JSONField(blank=True, default=dict, verbose_name='labels')),
                        ('annotations', models.JSONField(blank=True, default=dict, verbose_name='annotations')),
                        ('starts_at', models.DateTimeField(blank=True, null=True, verbose_name='starts at')),
                        ('ends_at', models.DateTimeField(blank=True, null=True, verbose_name='ends at')),
                        ('generator_url', models.URLField(blank=True, max_length=2000, verbose_name='source link')),
                        ('repeat_count', models.PositiveIntegerField(default=0, verbose_name='repeats')),
                        ('first_seen_at', models.DateTimeField(default=django.utils.timezone.now, verbose_name='first seen')),
                        ('last_seen_at', models.DateTimeField(default=django.utils.timezone.now, verbose_name='last seen')),
                        ('resolved_at', models.DateTimeField(blank=True, null=True, verbose_name='resolved at')),
                        ('incident', models.ForeignKey(db_index=False, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='alerts', to='incidents.incident', verbose_name='incident')),
                        ('group', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='alerts', to='intake.alertgroup', verbose_name='group')),
                    ],
                    options={
                        'verbose_name': 'alert',
                        'verbose_name_plural': 'alerts',
                        'db_table': 'incidents_alert',
                        'ordering': ['group', 'first_seen_at', 'id'],
                        'indexes': [models.Index(fields=['incident', 'status'], name='alert_incident_status')],
                        'constraints': [models.UniqueConstraint(fields=('group', 'fingerprint'), name='alert_once_per_group')],
                    },
                ),
                migrations.CreateModel(
                    name='Delivery',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('format', models.CharField(choices=[('alertmanager', 'Prometheus Alertmanager / Grafana webhook'), ('events_v2', 'PagerDuty Events API v2 compatible'), ('generic', 'Generic (both formats)')], max_length=20, verbose_name='format')),
                        ('body', models.TextField(verbose_name='raw body')),
                        ('received_at', models.DateTimeField(db_index=True, default=django.utils.timezone.now, verbose_name='received at')),
                        ('processed_at', models.DateTimeField(blank=True, null=True, verbose_name='processed at')),
                        ('result', models.CharField(choices=[('pending', 'Pending'), ('processed', 'Processed'), ('dropped', 'Accepted, nothing to act on'), ('rejected', 'Rejected (invalid)'), ('failed', 'Failed after retries')], default='pending', max_length=10, verbose_name='result')),
                        ('attempts', models.PositiveSmallIntegerField(default=0, verbose_name='attempts')),
                        ('error', models.TextField(blank=True, verbose_name='error')),
                        ('alert_count', models.PositiveIntegerField(default=0, verbose_name='alerts')),
                        ('incidents', models.JSONField(blank=True, default=list, verbose_name='incidents')),
                        ('integration', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='deliveries', to='intake.integration', verbose_name='integration')),
                    ],
                    options={
                        'verbose_name': 'delivery',
                        'verbose_name_plural': 'deliveries',
                        'db_table': 'incidents_delivery',
                        'ordering': ['-received_at', '-id'],
                        'indexes': [models.Index(condition=models.Q(('result', 'pending')), fields=['integration', 'id'], name='delivery_pending'), models.Index(fields=['integration', '-received_at'], name='delivery_integration')],
                    },
                ),
                migrations.AddIndex(
                    model_name='alertgroup',
                    index=models.Index(condition=models.Q(('is_storm', False)), fields=['integration', 'opened_at'], name='alert_group_storm_window'),
                ),
                migrations.AddIndex(
                    model_name='alertgroup',
                    index=models.Index(fields=['integration', 'key', '-id'], name='alert_group_latest'),
                ),
                migrations.AddConstraint(
                    model_name='alertgroup',
                    constraint=models.UniqueConstraint(condition=models.Q(('is_open', True)), fields=('integration', 'key', 'is_storm'), name='alert_group_one_open_per_key'),
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(move_content_types, move_content_types_back, elidable=False),
    ]

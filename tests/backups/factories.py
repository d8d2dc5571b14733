import factory
from django.utils import timezone

from backups.choices import JobKind, MediaType, Method, RetentionUnit, TargetKind
from backups.models import BackupJob, BackupPolicy, BackupSchedule, RestoreTest, StorageLocation


class StorageLocationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = StorageLocation

    name = factory.Sequence(lambda n: f"Location {n}")
    media_type = MediaType.DISK
    offsite = False
    encrypted = True


class BackupPolicyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = BackupPolicy
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Policy {n}")
    slug = factory.Sequence(lambda n: f"policy-{n}")
    target_kind = TargetKind.DATABASE
    method = Method.FULL
    retention_count = 3
    retention_unit = RetentionUnit.GENERATIONS
    rpo_minutes = 360
    rto_minutes = 240
    rpo_due_at = factory.LazyFunction(lambda: timezone.now() + timezone.timedelta(hours=6))

    @factory.post_generation
    def locations(self, create, extracted, **kwargs):
        if create and extracted:
            self.locations.set(extracted)


class BackupScheduleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = BackupSchedule

    policy = factory.SubFactory(BackupPolicyFactory)
    label = "Full"
    kind = JobKind.FULL
    cron = "0 0 * * *"
    expected_duration_minutes = 60


class BackupJobFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = BackupJob

    policy = factory.SubFactory(BackupPolicyFactory)
    kind = JobKind.FULL


class RestoreTestFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RestoreTest

    policy = factory.SubFactory(BackupPolicyFactory)
    due_on = factory.LazyFunction(lambda: timezone.localdate() + timezone.timedelta(days=30))
    target = "latest full into staging"
    success_criteria = "row counts match"

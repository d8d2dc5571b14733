import pytest

from backups import demo
from backups.models import BackupJob, RestoreTest, RpoBreach

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("demo_clock")]


def test_demo_seed_is_idempotent(make_user):
    users = {
        "leader": make_user("ops_leader", username="leader"),
        "manager": make_user("ops_manager", username="manager"),
    }
    demo.seed(users)
    counts = (BackupJob.objects.count(), RestoreTest.objects.count(), RpoBreach.objects.count())
    demo.seed(users)
    assert (
        BackupJob.objects.count(),
        RestoreTest.objects.count(),
        RpoBreach.objects.count(),
    ) == counts
    assert RpoBreach.objects.filter(policy__slug="file-storage").exists()
    assert BackupJob.objects.filter(state="failed").exists()

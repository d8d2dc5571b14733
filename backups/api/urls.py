from rest_framework.routers import SimpleRouter

from .views import BackupJobViewSet, BackupPolicyViewSet, RestoreTestViewSet

router = SimpleRouter()
router.register("backup-policies", BackupPolicyViewSet, basename="backup-policy")
router.register("backup-jobs", BackupJobViewSet, basename="backup-job")
router.register("restore-tests", RestoreTestViewSet, basename="restore-test")

urlpatterns = router.urls

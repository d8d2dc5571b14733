from rest_framework.routers import SimpleRouter

from .views import DeploymentViewSet, EnvironmentViewSet, ReleaseSlotViewSet, ReleaseViewSet

router = SimpleRouter()
router.register("releases", ReleaseViewSet, basename="release")
router.register("deployments", DeploymentViewSet, basename="deployment")
router.register("environments", EnvironmentViewSet, basename="environment")
router.register("release-slots", ReleaseSlotViewSet, basename="releaseslot")

urlpatterns = router.urls

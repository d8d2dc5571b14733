from rest_framework.routers import SimpleRouter

from .views import IncidentViewSet, PostmortemViewSet

router = SimpleRouter()
router.register("incidents", IncidentViewSet, basename="incident")
router.register("postmortems", PostmortemViewSet, basename="postmortem")

urlpatterns = router.urls

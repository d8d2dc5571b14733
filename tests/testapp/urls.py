from django.urls import include, path
from rest_framework.routers import SimpleRouter

from itsm.urls import handler403, handler404, handler500  # noqa: F401 - the portal's error pages
from itsm.urls import urlpatterns as portal_urlpatterns

from .api import TicketViewSet

router = SimpleRouter()
router.register("tickets", TicketViewSet)

urlpatterns = [path("api/test/", include(router.urls)), *portal_urlpatterns]

"""/api/v1/oncall/ routes (``oncall.api``)."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from . import views as api

router = SimpleRouter()
router.register("oncall/schedules", api.ScheduleViewSet, basename="oncall-schedule")
router.register("oncall/layers", api.LayerViewSet, basename="oncall-layer")
router.register("oncall/overrides", api.OverrideViewSet, basename="oncall-override")

urlpatterns = [path("oncall/", api.OnCallView.as_view(), name="oncall"), *router.urls]

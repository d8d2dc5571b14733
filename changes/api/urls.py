from django.urls import path
from rest_framework.routers import SimpleRouter

from attachments.api.views import RecordAttachmentsView

from ..models import ChangeRequest
from .views import (
    ChangeGateView,
    ChangeRequestViewSet,
    FreezeWindowViewSet,
    StandardChangeTemplateViewSet,
    calendar_feed,
)

router = SimpleRouter()
router.register("changes", ChangeRequestViewSet, basename="change")
router.register("freeze-windows", FreezeWindowViewSet, basename="freeze-window")
router.register("change-templates", StandardChangeTemplateViewSet, basename="change-template")

urlpatterns = [
    path("changes/calendar.ics", calendar_feed, name="changes-calendar-ics"),
    path("changes/gate/", ChangeGateView.as_view(), name="changes-gate"),
    *router.urls,
    path(
        "changes/<str:number>/attachments/",
        RecordAttachmentsView.as_view(model=ChangeRequest),
        name="change-attachments",
    ),
]

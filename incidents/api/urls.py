from django.urls import path
from rest_framework.routers import SimpleRouter

from . import intake
from .escalation import EscalateView, IncidentEscalationView
from .views import IncidentViewSet, PostmortemViewSet

router = SimpleRouter()
router.register("incidents", IncidentViewSet, basename="incident")
router.register("postmortems", PostmortemViewSet, basename="postmortem")

urlpatterns = [
    path(
        "integrations/alertmanager/",
        intake.AlertmanagerWebhookView.as_view(),
        name="intake-alertmanager",
    ),
    path("integrations/events/", intake.EventsV2View.as_view(), name="intake-events"),
    # PagerDuty clients append /v2/enqueue to a configurable base URL.
    path(
        "integrations/events/v2/enqueue",
        intake.EventsV2EnqueueView.as_view(),
        name="intake-events-enqueue",
    ),
    *router.urls,
    path(
        "incidents/<str:number>/escalation/",
        IncidentEscalationView.as_view(),
        name="incident-escalation",
    ),
    path("incidents/<str:number>/escalate/", EscalateView.as_view(), name="incident-escalate"),
    path(
        "incidents/<str:number>/alert-groups/",
        intake.IncidentAlertGroupsView.as_view(),
        name="incident-alert-groups",
    ),
    path(
        "alert-groups/<int:pk>/split/",
        intake.AlertGroupSplitView.as_view(),
        name="alert-group-split",
    ),
]

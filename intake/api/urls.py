"""/api/v1/ routes of the monitoring intake: the delivery endpoints (first in ``itsm.api_urls``,
so deliveries resolve in few steps) and the alert groups of an incident."""

from django.urls import path

from . import views

urlpatterns = [
    path(
        "integrations/alertmanager/",
        views.AlertmanagerWebhookView.as_view(),
        name="intake-alertmanager",
    ),
    path("integrations/events/", views.EventsV2View.as_view(), name="intake-events"),
    # PagerDuty clients append /v2/enqueue to a configurable base URL.
    path(
        "integrations/events/v2/enqueue",
        views.EventsV2EnqueueView.as_view(),
        name="intake-events-enqueue",
    ),
    path(
        "incidents/<str:number>/alert-groups/",
        views.IncidentAlertGroupsView.as_view(),
        name="incident-alert-groups",
    ),
    path(
        "alert-groups/<int:pk>/split/",
        views.AlertGroupSplitView.as_view(),
        name="alert-group-split",
    ),
]

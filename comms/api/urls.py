"""/api/v1/ routes of incident communication (``comms.api``)."""

from django.urls import path

from . import views as api

urlpatterns = [
    path("incidents/<str:number>/comms/", api.CommsView.as_view(), name="incident-comms"),
    path("incidents/<str:number>/updates/", api.UpdatesView.as_view(), name="incident-updates"),
    path(
        "incidents/<str:number>/subscribers/",
        api.SubscribersView.as_view(),
        name="incident-subscribers",
    ),
    path(
        "incidents/<str:number>/subscribers/<int:pk>/",
        api.SubscriberView.as_view(),
        name="incident-subscriber",
    ),
    path("status/", api.StatusView.as_view(), name="status"),
]

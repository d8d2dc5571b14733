from django.urls import path

from . import public, views

app_name = "comms"

urlpatterns = [
    path("status/", views.status_internal, name="status"),
    path("status/public/", public.status_public, name="public"),
    path("status/public/summary.json", public.summary_json, name="summary"),
    path("status/public/history.atom", public.feed_atom, name="feed"),
    path("status/public/subscribe/", public.subscribe, name="subscribe"),
    path("status/public/confirm/<str:token>/", public.confirm, name="confirm"),
    path("status/public/unsubscribe/<str:token>/", public.unsubscribe, name="unsubscribe"),
    path("incidents/<str:number>/updates/", views.post_update, name="post_update"),
    path("incidents/<str:number>/roles/", views.assign_roles, name="roles"),
    path("incidents/<str:number>/take-command/", views.take_command, name="take_command"),
    path("incidents/<str:number>/public-status/", views.set_public_status, name="public_status"),
    path("incidents/<str:number>/subscribers/", views.add_subscriber, name="subscribe_incident"),
    path(
        "incidents/<str:number>/subscribers/<int:pk>/delete/",
        views.remove_subscriber,
        name="unsubscribe_incident",
    ),
]

"""Pages of the monitoring intake, under /incidents/ where they have always been (included
before ``incidents.urls``, whose ``<number>/`` would otherwise take them)."""

from django.urls import path

from . import views

app_name = "intake"

urlpatterns = [
    path("integrations/", views.integration_list, name="integrations"),
    path("integrations/<int:pk>/", views.integration_detail, name="integration"),
    path("integrations/<int:pk>/rotate/", views.integration_rotate, name="integration_rotate"),
    path("integrations/<int:pk>/revoke/", views.integration_revoke, name="integration_revoke"),
    path("alert-groups/<int:pk>/split/", views.alert_group_split, name="alert_group_split"),
]

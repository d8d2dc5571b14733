"""/api/v1/: each domain app contributes its routes (``<app>/api/urls.py``)."""

from django.urls import include, path

from itsm import dashboard
from itsm.core.api import views as core_api
from itsm.core.config import api as config_api

app_name = "api"

urlpatterns = [
    path("", include("intake.api.urls")),  # first: the monitoring intake
    path("", include("incidents.api.urls")),
    path("", include("oncall.api.urls")),
    path("", include("comms.api.urls")),
    path("", core_api.api_root, name="root"),
    path("me/", core_api.me, name="me"),
    path(
        "me/notification-settings/",
        core_api.notification_settings,
        name="notification-settings",
    ),
    path("", include("backups.api.urls")),
    path("", include("changes.api.urls")),
    path("", include("releases.api.urls")),
    path("", include(config_api.urls())),  # /api/v1/config/<resource>/
    path("", include("attachments.api.urls")),
    path("metrics/", dashboard.metrics_index, name="metrics"),
    path("metrics/<str:family>/", dashboard.metrics_family, name="metrics_family"),
]

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from itsm.core import views as core_views

from . import dashboard, monitoring, views

handler403 = "itsm.views.permission_denied"
handler404 = "itsm.views.not_found"
handler500 = "itsm.views.server_error"

urlpatterns = [
    path("", views.home, name="home"),
    path("favicon.ico", views.favicon, name="favicon"),
    path("healthz", core_views.healthz, name="healthz"),
    path("readyz", core_views.readyz, name="readyz"),
    path("metrics", monitoring.metrics, name="metrics"),  # Prometheus (docs/monitoring.md)
    # Before the catch-all "" include: monitoring deliveries resolve in few steps.
    path("api/v1/", include("itsm.api_urls")),
    path("accounts/login/", core_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", core_views.LogoutView.as_view(), name="logout"),
    # OpenID Connect: authenticate/, callback/, logout/ (404 while OIDC is not configured).
    path("oidc/", include("mozilla_django_oidc.urls")),
    path("", include("itsm.core.urls")),
    path("", include("comms.urls")),  # status pages; incidents/<number>/updates/ …
    path("incidents/", include("intake.urls")),  # before incidents: its <number>/ takes all
    path("incidents/", include("incidents.urls")),
    path("oncall/", include("oncall.urls")),
    path("changes/", include("changes.urls")),
    path("releases/", include("releases.urls")),
    path("backups/", include("backups.urls")),
    # Files of records, each request checked (no public MEDIA_URL: nothing serves MEDIA_ROOT).
    path("attachments/", include("attachments.urls")),
    path("dashboard/", dashboard.dashboard, name="dashboard"),
    path("dashboard/export.csv", dashboard.dashboard_csv, name="dashboard_csv"),
    path("dashboard/print/", dashboard.dashboard_print, name="dashboard_print"),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path(
        "api/redoc/",
        # Our template drops the Google web fonts of the stock one (offline intranets).
        SpectacularRedocView.as_view(url_name="schema", template_name="core/redoc.html"),
        name="redoc",
    ),
    path("api/redoc/redoc.standalone.js", views.redoc_bundle, name="redoc-bundle"),
]

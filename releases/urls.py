from django.urls import path

from . import views

app_name = "releases"

urlpatterns = [
    path("", views.release_list, name="list"),
    path("calendar/", views.release_calendar, name="calendar"),
    path("new/", views.release_create, name="create"),
    path("<str:number>/", views.release_detail, name="detail"),
    path("<str:number>/deployments/", views.deployment_create, name="deployment_create"),
    path("<str:number>/incidents/", views.causing_deployment_link, name="incident_link"),
    path(
        "<str:number>/incidents/<int:pk>/delete/",
        views.causing_deployment_unlink,
        name="incident_unlink",
    ),
]

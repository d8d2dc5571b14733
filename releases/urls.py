from django.urls import path

from . import views

app_name = "releases"

urlpatterns = [
    path("", views.release_list, name="list"),
    path("calendar/", views.release_calendar, name="calendar"),
    path("new/", views.release_create, name="create"),
    path("<str:number>/", views.release_detail, name="detail"),
    path("<str:number>/deployments/", views.deployment_create, name="deployment_create"),
]

from django.urls import path

from . import views

app_name = "core"

urlpatterns = [
    path("workflows/", views.workflow_index, name="workflows"),
    path("workflows/<str:app_label>/<str:model_name>/", views.workflow_diagram, name="workflow"),
    path(
        "transition/<str:app_label>/<str:model_name>/<int:pk>/",
        views.transition,
        name="transition",
    ),
    path("language/", views.set_language, name="set_language"),
    path("notifications/", views.notification_list, name="notifications"),
    path("notifications/bell/", views.notification_bell, name="notification_bell"),
    path("notifications/<int:pk>/", views.notification_open, name="notification_open"),
]

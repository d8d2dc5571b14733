from django.urls import path

from . import views

app_name = "oncall"

urlpatterns = [
    path("", views.schedule_list, name="list"),
    path("my-shifts/", views.my_shifts, name="my_shifts"),
    path("my-shifts.ics", views.my_shifts_feed, name="my_shifts_feed"),
    path("<slug:slug>/", views.schedule_detail, name="schedule"),
    path("<slug:slug>/layers/", views.layer_save, name="layer_add"),
    path("<slug:slug>/layers/<int:layer_id>/", views.layer_save, name="layer_save"),
    path("<slug:slug>/layers/<int:layer_id>/delete/", views.layer_delete, name="layer_delete"),
    path("<slug:slug>/overrides/", views.override_add, name="override_add"),
    path(
        "<slug:slug>/overrides/<int:override_id>/delete/",
        views.override_delete,
        name="override_delete",
    ),
]

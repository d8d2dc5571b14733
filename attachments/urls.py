from django.urls import path

from . import views

app_name = "attachments"

urlpatterns = [
    path("<uuid:public_id>/", views.download, name="download"),
    path("<uuid:public_id>/preview/", views.preview, name="preview"),
    path("<uuid:public_id>/delete/", views.delete, name="delete"),
    path("upload/<slug:key>/<str:number>/", views.upload, name="upload"),
]

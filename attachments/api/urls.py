from django.urls import path

from .views import AttachmentDownloadView, AttachmentView

urlpatterns = [
    path("attachments/<uuid:public_id>/", AttachmentView.as_view(), name="attachment"),
    path(
        "attachments/<uuid:public_id>/download/",
        AttachmentDownloadView.as_view(),
        name="attachment-download",
    ),
]

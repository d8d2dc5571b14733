from django.urls import path

from . import views

app_name = "changes"

urlpatterns = [
    path("", views.change_list, name="list"),
    path("new/", views.change_create, name="create"),
    path("new/from-template/", views.change_from_template, name="create_from_template"),
    path("approvals/", views.approvals, name="approvals"),
    path("calendar/", views.calendar, name="calendar"),
    path("<str:number>/", views.change_detail, name="detail"),
    path("<str:number>/edit/", views.change_edit, name="edit"),
    path("<str:number>/decide/", views.decide, name="decide"),
    path("<str:number>/vote/", views.vote, name="vote"),
    path("<str:number>/work-log/", views.work_log, name="work_log"),
    path("<str:number>/verify/", views.verify, name="verify"),
    path("<str:number>/incident/", views.open_incident, name="open_incident"),
    path("<str:number>/review/", views.post_implementation_review, name="review"),
]

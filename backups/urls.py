from django.urls import path

from . import views

app_name = "backups"

urlpatterns = [
    path("", views.policy_list, name="list"),
    path("board/", views.rpo_rto_board, name="board"),
    path("policies/<slug:slug>/", views.policy_detail, name="policy"),
    path("jobs/<str:number>/", views.job_detail, name="job"),
    path("restore-tests/", views.restore_test_list, name="restore_tests"),
    path("restore-tests/new/", views.restore_test_plan, name="restore_test_new"),
    path("restore-tests/<str:number>/", views.restore_test_detail, name="restore_test"),
    path("dr/", views.dr_plans, name="dr"),
    path("dr/drills/new/", views.drill_record, name="drill_new"),
]

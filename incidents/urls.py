from django.urls import path

from . import views, views_escalation

app_name = "incidents"

urlpatterns = [
    path("", views.incident_list, name="list"),
    path("new/", views.incident_create, name="create"),
    path("triage/", views.triage_queue, name="triage_queue"),
    path("triage/preview/", views.priority_preview, name="priority_preview"),
    path("escalation-policies/", views_escalation.policy_list, name="escalation_policies"),
    path("ack/<str:token>/", views_escalation.ack_link, name="ack_link"),
    path("postmortems/", views.postmortem_list, name="postmortems"),
    path("postmortems/<str:number>/", views.postmortem_detail, name="postmortem"),
    path(
        "postmortems/<str:number>/action-items/",
        views.action_item_add,
        name="action_item_add",
    ),
    path(
        "postmortems/<str:number>/action-items/<int:item_id>/",
        views.action_item_toggle,
        name="action_item_toggle",
    ),
    path("<str:number>/", views.incident_detail, name="detail"),
    path("<str:number>/triage/", views.triage, name="triage"),
    path("<str:number>/timeline/", views.timeline_add, name="timeline_add"),
    path("<str:number>/priority/", views.override_priority, name="override"),
    path("<str:number>/assign/", views.assign, name="assign"),
    path("<str:number>/runbooks/", views.runbook_attach, name="runbook_attach"),
    path(
        "<str:number>/checklist/<int:item_id>/",
        views.checklist_toggle,
        name="checklist_toggle",
    ),
    path("<str:number>/postmortem/", views.postmortem_request, name="postmortem_request"),
    path("<str:number>/review/", views.review_save, name="review"),
    path("<str:number>/escalate/", views_escalation.escalate, name="escalate"),
    path("<str:number>/acknowledge/", views_escalation.acknowledge, name="acknowledge"),
    path("<str:number>/fix/", views.record_fix, name="record_fix"),
    path("<str:number>/links/", views.link_add, name="link_add"),
    path("<str:number>/hold/", views.hold_start, name="hold_start"),
    path("<str:number>/resume/", views.hold_end, name="hold_end"),
    path("<str:number>/links/candidates/", views.link_candidates, name="link_candidates"),
    path("<str:number>/links/<int:link_id>/delete/", views.link_remove, name="link_remove"),
    path("<str:number>/merge/", views.merge, name="merge"),
    path("<str:number>/resolve-children/", views.resolve_children, name="resolve_children"),
]

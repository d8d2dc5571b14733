from django.urls import path
from rest_framework.routers import SimpleRouter

from attachments.api.views import RecordAttachmentsView

from ..models import Incident, Postmortem
from .escalation import AcknowledgeView, EscalateView, IncidentEscalationView
from .fix import FixView
from .links import (
    CandidatesView,
    LinksView,
    LinkView,
    MergeView,
    ResolveChildrenView,
)
from .sla import HoldView, ResumeView, SlaView
from .views import IncidentViewSet, PostmortemViewSet

router = SimpleRouter()
router.register("incidents", IncidentViewSet, basename="incident")
router.register("postmortems", PostmortemViewSet, basename="postmortem")

urlpatterns = [
    *router.urls,
    path(
        "incidents/<str:number>/escalation/",
        IncidentEscalationView.as_view(),
        name="incident-escalation",
    ),
    path("incidents/<str:number>/escalate/", EscalateView.as_view(), name="incident-escalate"),
    path(
        "incidents/<str:number>/acknowledge/",
        AcknowledgeView.as_view(),
        name="incident-acknowledge",
    ),
    path("incidents/<str:number>/fix/", FixView.as_view(), name="incident-fix"),
    path("incidents/<str:number>/links/", LinksView.as_view(), name="incident-links"),
    path(
        "incidents/<str:number>/links/candidates/",
        CandidatesView.as_view(),
        name="incident-link-candidates",
    ),
    path("incidents/<str:number>/links/<int:pk>/", LinkView.as_view(), name="incident-link"),
    path("incidents/<str:number>/merge/", MergeView.as_view(), name="incident-merge"),
    path(
        "incidents/<str:number>/resolve-children/",
        ResolveChildrenView.as_view(),
        name="incident-resolve-children",
    ),
    path("incidents/<str:number>/hold/", HoldView.as_view(), name="incident-hold"),
    path("incidents/<str:number>/resume/", ResumeView.as_view(), name="incident-resume"),
    path("incidents/<str:number>/sla/", SlaView.as_view(), name="incident-sla"),
    path(
        "incidents/<str:number>/attachments/",
        RecordAttachmentsView.as_view(model=Incident),
        name="incident-attachments",
    ),
    path(
        "postmortems/<str:number>/attachments/",
        RecordAttachmentsView.as_view(model=Postmortem),
        name="postmortem-attachments",
    ),
]

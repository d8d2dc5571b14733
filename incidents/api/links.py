"""REST API of incident links (issue 18 §1).

- ``GET  /api/v1/incidents/<number>/links/``: the incident's links as its page reads them.
- ``POST /api/v1/incidents/<number>/links/``: ``{"kind", "target"}`` (the other's number).
- ``DELETE /api/v1/incidents/<number>/links/<id>/``.
- ``GET  /api/v1/incidents/<number>/links/candidates/?q=``: incidents to link to.
- ``POST /api/v1/incidents/<number>/merge/``: ``{"into": number}`` — merge this duplicate into
  another incident (409 when one of them is closed, e.g. merged a moment ago by someone else).
- ``POST /api/v1/incidents/<number>/resolve-children/``: ``{"summary"?}`` — close every open
  child of this parent.

Reads: whoever may view incidents; writes: whoever may work them (``incidents.links``).
"""

from __future__ import annotations

from django.db.models import Q
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from itsm.core.api.permissions import TokenScopePermission

from .. import links, merging
from ..models import Incident, Link, LinkKind


class LinkSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="link.pk", read_only=True)
    kind = serializers.ChoiceField(source="link.kind", choices=LinkKind.choices, read_only=True)
    label = serializers.CharField(read_only=True)
    incident = serializers.CharField(source="other.number", read_only=True)
    title = serializers.CharField(source="other.title", read_only=True)
    state = serializers.CharField(source="other.state", read_only=True)
    outgoing = serializers.SerializerMethodField()

    def get_outgoing(self, row) -> bool:
        """True when this incident is the link's subject (``A duplicate_of B`` read on A)."""
        return row["link"].source_id != row["other"].pk


class LinkCreateSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=LinkKind.choices)
    target = serializers.SlugRelatedField(slug_field="number", queryset=Incident.objects.all())


class CandidateSerializer(serializers.Serializer):
    number = serializers.CharField()
    title = serializers.CharField()
    state = serializers.CharField()
    service = serializers.CharField(allow_null=True)
    detected_at = serializers.DateTimeField()


class _LinksBase(APIView):
    permission_classes = [IsAuthenticated, TokenScopePermission]

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if not request.user.has_perm("incidents.view_incident"):
            self.permission_denied(request)


class LinksView(_LinksBase):
    @extend_schema(responses=LinkSerializer(many=True), summary="An incident's links")
    def get(self, request, number: str):
        incident = get_object_or_404(Incident, number=number)
        return Response(LinkSerializer(links.links_of(incident), many=True).data)

    @extend_schema(
        request=LinkCreateSerializer,
        responses={201: LinkSerializer},
        summary="Link the incident to another (duplicate_of, caused_by, parent_of, related)",
    )
    def post(self, request, number: str):
        incident = get_object_or_404(Incident, number=number)
        given = LinkCreateSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        link = links.link_incidents(
            incident,
            given.validated_data["target"],
            kind=given.validated_data["kind"],
            actor=request.user,
        )
        row = {"link": link, "label": link.label_from(incident), "other": link.other(incident)}
        return Response(LinkSerializer(row).data, status=status.HTTP_201_CREATED)


class LinkView(_LinksBase):
    @extend_schema(responses={204: None}, summary="Remove a link")
    def delete(self, request, number: str, pk: int):
        incident = get_object_or_404(Incident, number=number)
        link = get_object_or_404(
            Link.objects.select_related("source", "target").filter(
                Q(source=incident) | Q(target=incident)
            ),
            pk=pk,
        )
        links.unlink(link, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class CandidatesView(_LinksBase):
    @extend_schema(
        parameters=[OpenApiParameter("q", OpenApiTypes.STR, description="number or title")],
        responses=CandidateSerializer(many=True),
        summary="Incidents to link to: by number or title, else detected within three days",
    )
    def get(self, request, number: str):
        incident = get_object_or_404(Incident, number=number)
        rows = links.candidates(incident, request.query_params.get("q", ""))
        return Response(
            CandidateSerializer(
                [
                    {
                        "number": c.number,
                        "title": c.title,
                        "state": c.state,
                        "service": c.service.name if c.service else None,
                        "detected_at": c.detected_at,
                    }
                    for c in rows
                ],
                many=True,
            ).data
        )


class MergeSerializer(serializers.Serializer):
    into = serializers.SlugRelatedField(slug_field="number", queryset=Incident.objects.all())


class MergedSerializer(serializers.Serializer):
    number = serializers.CharField()
    state = serializers.CharField()
    detected_at = serializers.DateTimeField()
    merged = serializers.CharField()


class MergeView(_LinksBase):
    @extend_schema(
        request=MergeSerializer,
        responses=MergedSerializer,
        summary="Merge this duplicate into another incident",
    )
    def post(self, request, number: str):
        duplicate = get_object_or_404(Incident, number=number)
        given = MergeSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        survivor = merging.merge_incidents(
            duplicate, given.validated_data["into"], actor=request.user
        )
        return Response(
            MergedSerializer(
                {
                    "number": survivor.number,
                    "state": survivor.state,
                    "detected_at": survivor.detected_at,
                    "merged": duplicate.number,
                }
            ).data
        )


class ResolveChildrenSerializer(serializers.Serializer):
    summary = serializers.CharField(max_length=2000, required=False, allow_blank=True)


class ResolvedSerializer(serializers.Serializer):
    resolved = serializers.ListField(child=serializers.CharField())


class ResolveChildrenView(_LinksBase):
    @extend_schema(
        request=ResolveChildrenSerializer,
        responses=ResolvedSerializer,
        summary="Close every open child of this parent incident",
    )
    def post(self, request, number: str):
        parent = get_object_or_404(Incident, number=number)
        given = ResolveChildrenSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        done = merging.resolve_children(
            parent, actor=request.user, summary=given.validated_data.get("summary", "")
        )
        return Response(ResolvedSerializer({"resolved": [c.number for c in done]}).data)

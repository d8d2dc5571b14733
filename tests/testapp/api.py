from rest_framework import serializers, viewsets

from itsm.core.api.mixins import IdempotentCreateMixin, StateReadOnlyMixin, TransitionsMixin

from .models import Ticket


class TicketSerializer(StateReadOnlyMixin, serializers.ModelSerializer):
    class Meta:
        model = Ticket
        fields = ["number", "state", "title", "rollback_plan", "risk"]
        read_only_fields = ["number", "state"]


class TicketViewSet(TransitionsMixin, IdempotentCreateMixin, viewsets.ModelViewSet):
    queryset = Ticket.objects.order_by("id")
    serializer_class = TicketSerializer
    lookup_field = "number"

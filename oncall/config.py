"""On-call schedules as configuration: a schedule and its layers, each layer's people in
rotation order (overrides are day-to-day operations, not configuration)."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from rest_framework import serializers

from itsm.core.config import Child, ConfigResource, Ref, register
from itsm.core.config.serializers import ConfigModelSerializer
from itsm.core.config.services import validate_record
from itsm.core.roles import Role

from .models import Layer, LayerMember

LAYER_FIELDS = (
    "name",
    "priority",
    "rotation",
    "length_days",
    "handoff_time",
    "start_date",
    "restriction",
)


class LayerConfigSerializer(ConfigModelSerializer):
    members = serializers.SlugRelatedField(
        slug_field="username",
        queryset=get_user_model().objects.all(),
        many=True,
        help_text="The people in rotation order.",
    )

    class Meta:
        model = Layer
        fields = [*LAYER_FIELDS, "members"]

    def to_representation(self, layer):
        data = super().to_representation(layer)
        data["members"] = [
            member.user.username
            for member in layer.rotation_members.select_related("user").order_by("position")
        ]
        return data


def _write_layers(schedule, rows: list[dict]) -> None:
    schedule.layers.all().delete()
    for index, row in enumerate(rows):
        people = row.pop("members")
        layer = Layer(schedule=schedule, **row)
        try:
            validate_record(layer, set(row) | {"schedule"})
        except ValidationError as exc:
            raise ValidationError({"layers": [f"[{index}] {'; '.join(exc.messages)}"]}) from exc
        if not people or len({p.pk for p in people}) != len(people):
            raise ValidationError({"layers": [f"[{index}] needs distinct people in rotation"]})
        layer.save()
        LayerMember.objects.bulk_create(
            LayerMember(layer=layer, user=user, position=n) for n, user in enumerate(people)
        )


register(
    ConfigResource(
        name="oncall-schedules",
        model="oncall.Schedule",
        key=("slug",),
        fields=("name", "level", "time_zone", "description", "is_active"),
        refs={"team": Ref("core.Team")},
        children=(
            Child(
                related_name="layers",
                model="oncall.Layer",
                parent="schedule",
                fields=LAYER_FIELDS,
                order=("priority", "pk"),
                serializer=LayerConfigSerializer,
                write=_write_layers,
            ),
        ),
        editors=(Role.OPS_MANAGER,),
        order=40,
        description="On-call schedules and their layers (who is on call when).",
    )
)

"""Every incident state change also lands on the incident's timeline (one chronological view)."""

from django.dispatch import receiver
from django_fsm.signals import post_transition

from .choices import TimelineKind
from .models import Incident, TimelineEntry


@receiver(post_transition, sender=Incident, dispatch_uid="incidents.timeline_transition")
def timeline_transition(sender, instance, name, source, target, **kwargs):
    audit = kwargs.get("method_kwargs") or {}
    actor = audit.get("by")
    if actor is not None and not getattr(actor, "is_authenticated", False):
        actor = None
    TimelineEntry.objects.create(
        incident=instance,
        actor=actor,
        actor_label=(audit.get("system_label") or "")[:150],
        kind=TimelineKind.TRANSITION,
        text=audit.get("comment") or "",
        data={"transition": name, "from": source, "to": target},  # labels at display time
    )

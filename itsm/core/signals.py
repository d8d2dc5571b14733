"""Every django-fsm transition writes an audit event (DESIGN.md principle 3)."""

from django.dispatch import receiver
from django_fsm.signals import post_transition

from .audit import record_event


@receiver(post_transition, dispatch_uid="core.audit_transition")
def audit_transition(sender, instance, name, source, target, **kwargs):
    audit = kwargs.get("method_kwargs") or {}
    record_event(
        instance,
        action=name,
        actor=audit.get("by"),
        actor_label=audit.get("system_label", ""),
        from_state=source,
        to_state=target,
        comment=audit.get("comment", ""),
    )


def _connect_calendar_invalidation():
    from django.db.models.signals import post_delete, post_save

    from .business_calendar import invalidate_calendar
    from .models import ClosedDay, WorkingHours

    for model in (WorkingHours, ClosedDay):
        post_save.connect(
            invalidate_calendar, sender=model, dispatch_uid=f"cal-save-{model.__name__}"
        )
        post_delete.connect(
            invalidate_calendar, sender=model, dispatch_uid=f"cal-del-{model.__name__}"
        )


_connect_calendar_invalidation()

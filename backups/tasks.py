"""Celery doorbells: each task calls one service and is safe to run twice."""

from celery import shared_task

from . import services


@shared_task(name="backups.check_rpo", acks_late=True)
def check_rpo() -> int:
    return len(services.check_rpo())


@shared_task(name="backups.expire_old_generations", acks_late=True)
def expire_old_generations() -> int:
    return services.expire_old_generations()


@shared_task(name="backups.plan_restore_tests", acks_late=True)
def plan_restore_tests() -> int:
    return len(services.plan_restore_tests())


@shared_task(name="backups.run_due_portal_backups", acks_late=True)
def run_due_portal_backups() -> list[str]:
    return [job.number for job in services.run_due_portal_backups()]


@shared_task(name="backups.notify_overdue_restore_tests", acks_late=True)
def notify_overdue_restore_tests() -> int:
    return len(services.notify_overdue_restore_tests())


@shared_task(name="backups.notify_overdue_dr_drills", acks_late=True)
def notify_overdue_dr_drills() -> int:
    return len(services.notify_overdue_dr_drills())

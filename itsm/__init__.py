"""ITSM portal: the project package and composition root (DESIGN.md § Layout)."""

from .celery import app as celery_app

__all__ = ("celery_app",)

"""The incident configuration cached per process (incidents.config_cache, issue 20): read once,
read again after an edit, forgotten when the edit is rolled back."""

from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from incidents import config_cache
from incidents.escalation import policy_for
from incidents.models import EscalationLevel, Incident, ResponseTarget, response_due_for

pytestmark = pytest.mark.django_db


def test_read_once_then_from_memory():
    start = timezone.now()
    response_due_for("P1", start)
    with CaptureQueriesContext(connection) as queries:
        assert response_due_for("P1", start) == start + timedelta(minutes=15)
    assert len(queries) == 0


def test_an_edit_is_read_at_once():
    start = timezone.now()
    response_due_for("P1", start)
    target = ResponseTarget.objects.get(priority="P1")
    target.minutes = 5
    target.save()
    assert response_due_for("P1", start) == start + timedelta(minutes=5)


def test_a_rolled_back_edit_is_forgotten():
    start = timezone.now()

    class Undo(Exception):
        pass

    with pytest.raises(Undo), transaction.atomic():
        target = ResponseTarget.objects.get(priority="P1")
        target.minutes = 5
        target.save()
        assert response_due_for("P1", start) == start + timedelta(minutes=5)
        raise Undo
    # A test's own transaction never ends: make the edit's transaction another one, ended.
    assert config_cache._loaded["editing"] is connection.atomic_blocks[0]
    config_cache._loaded["editing"] = object()
    assert response_due_for("P1", start) == start + timedelta(minutes=15)


def test_a_committed_edit_bumps_the_shared_version(django_capture_on_commit_callbacks):
    config_cache.current()
    before = config_cache._loaded["version"]
    with django_capture_on_commit_callbacks(execute=True):
        level = EscalationLevel.objects.filter(policy__track="urgent").order_by("level").first()
        level.name = "First line"
        level.save()
    assert config_cache.current() is not None
    assert config_cache._loaded["version"] != before
    snapshot = policy_for(Incident(priority="P1")).snapshot()
    assert snapshot.chain_level(level.level).name == "First line"

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


def test_a_batch_looks_at_the_version_once_and_sees_other_processes_edits_after(monkeypatch):
    """``pinned`` (``open_incidents``): one look at the shared version for the whole batch; an
    edit another process commits meanwhile is read by the next batch."""
    from itsm.core.cache import bump_version

    looks = []
    real = config_cache.shared_version
    monkeypatch.setattr(config_cache, "shared_version", lambda key: looks.append(key) or real(key))
    start = timezone.now()
    with config_cache.pinned():
        for _ in range(5):
            response_due_for("P1", start)
        ResponseTarget.objects.filter(priority="P1").update(minutes=5)  # another process …
        bump_version(config_cache.VERSION_KEY)  # … which commits and bumps the version
        assert response_due_for("P1", start) == start + timedelta(minutes=15)
    assert len(looks) == 1
    assert response_due_for("P1", start) == start + timedelta(minutes=5)

"""§8.2 クローズ → レビュー: a closed P3/P4 incident goes to a light review (checklist + comment),
completed by its assignee or an ops leader, and waits in "my work" until done."""

from datetime import datetime

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone, translation

from incidents import services
from incidents.models import IncidentPolicy, IncidentReview, Postmortem, ReviewCheck
from itsm.core import workflow
from itsm.core.models import AuditEvent
from itsm.views import my_work

pytestmark = pytest.mark.django_db

TOKYO = timezone.get_fixed_timezone(9 * 60)


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


def _closed(incident_in, actor, priority="P3", assignee=None):
    incident = incident_in("verifying", priority=priority)
    if assignee is not None:
        services.assign_incident(incident, actor=actor, assignee=assignee)
        incident.refresh_from_db()
    services.close_incident(incident, actor=actor, resolution_summary="Restarted the pool")
    return incident


def test_the_seeded_checklist_is_data():
    assert ReviewCheck.objects.filter(is_active=True).count() == 4


@pytest.mark.parametrize(
    ("priority", "reviewed"), [("P1", False), ("P2", False), ("P3", True), ("P4", True)]
)
def test_closing_a_p3_p4_incident_opens_its_review(incident_in, ops_leader, priority, reviewed):
    incident = _closed(incident_in, ops_leader, priority)
    assert IncidentReview.objects.filter(incident=incident).exists() is reviewed
    # P1/P2 get the mandatory postmortem instead (§8.3.4).
    assert Postmortem.objects.filter(incident=incident).exists() is not reviewed


def test_the_review_copies_the_active_checklist_and_belongs_to_the_assignee(
    incident_in, ops_leader, operator
):
    ReviewCheck.objects.create(text="Retired check", display_order=99, is_active=False)
    ReviewCheck.objects.create(text="Customer told", display_order=50)
    incident = _closed(incident_in, ops_leader, "P4", assignee=operator)
    review = incident.review
    assert review.state == "pending" and review.owner == operator
    texts = [i.text for i in review.items.all()]
    assert len(texts) == 5 and texts[-1] == "Customer told" and "Retired check" not in texts
    assert AuditEvent.objects.filter(action="create", object_id=str(review.pk)).exists()
    assert incident.timeline.filter(text="Review opened.").exists()


def test_the_review_is_due_like_a_postmortem_in_business_days(incident_in, ops_leader):
    IncidentPolicy.objects.filter(pk=1).update(postmortem_due_business_days=3)
    incident = incident_in("verifying", priority="P3")
    # Closed Fri 2026-05-01 15:00; 5/4–5/6 are holidays → 5/7, 5/8, 5/11: due Mon 5/11 15:00.
    with time_machine.travel(datetime(2026, 5, 1, 15, 0, tzinfo=TOKYO), tick=False):
        services.close_incident(incident, actor=ops_leader, resolution_summary="fixed")
    assert incident.review.due_at == datetime(2026, 5, 11, 15, 0, tzinfo=TOKYO)


def test_completing_needs_every_check_ticked_and_a_comment(incident_in, ops_leader, operator):
    incident = _closed(incident_in, ops_leader, assignee=operator)
    review = incident.review
    ids = [i.pk for i in review.items.all()]
    with pytest.raises(workflow.GuardFailed) as exc:
        services.complete_review(review, actor=operator, checked=ids[:-1], comment="ok")
    assert exc.value.extra["guard"] == "all_checks_ticked"
    # What was ticked is kept for the next attempt.
    assert review.items.filter(checked=True).count() == len(ids) - 1
    with pytest.raises(workflow.GuardFailed) as exc:
        services.complete_review(review, actor=operator, checked=ids, comment="  ")
    assert exc.value.extra["guard"] == "has_review_comment"
    services.complete_review(
        review, actor=operator, checked=ids, comment="Pool size raised; alert added."
    )
    review.refresh_from_db()
    assert review.state == "done" and review.completed_by == operator
    assert review.completed_at is not None
    event = AuditEvent.objects.get(object_id=str(review.pk), to_state="done")
    assert event.actor == operator and event.comment == "Pool size raised; alert added."
    assert incident.timeline.filter(text__startswith="Review completed").exists()
    with pytest.raises(workflow.TransitionNotAllowed):
        services.complete_review(review, actor=operator, checked=ids, comment="again")


def test_only_the_assignee_or_an_ops_leader_may_review(
    incident_in, ops_leader, operator, make_user
):
    incident = _closed(incident_in, ops_leader, assignee=operator)
    review = incident.review
    ids = [i.pk for i in review.items.all()]
    stranger = make_user("operator", username="other-operator")
    with pytest.raises(workflow.TransitionForbidden):
        services.save_review(review, actor=stranger, checked=ids, comment="x")
    with pytest.raises(workflow.TransitionForbidden):
        services.complete_review(review, actor=make_user("developer"), checked=ids, comment="x")
    assert not review.items.filter(checked=True).exists()
    services.complete_review(review, actor=ops_leader, checked=ids, comment="Leader reviewed.")
    review.refresh_from_db()
    assert review.state == "done"


def test_a_pending_review_waits_in_my_work_until_done(incident_in, ops_leader, operator):
    incident = _closed(incident_in, ops_leader, assignee=operator)
    (card,) = [c for c in my_work(operator) if c["app"] == "incidents"]
    (item,) = [i for i in card["items"] if i.url.endswith("#review")]
    assert item.number == incident.number and item.title == f"Review: {incident.title}"
    assert item.state_label == "Review pending" and item.due == incident.review.due_at
    services.complete_review(
        incident.review,
        actor=operator,
        checked=[i.pk for i in incident.review.items.all()],
        comment="done",
    )
    (card,) = [c for c in my_work(operator) if c["app"] == "incidents"]
    assert not [i for i in card["items"] if i.url.endswith("#review")]


# --- HTML -------------------------------------------------------------------------------------


def _sign_in(client, user):
    user.language = "en"
    user.save(update_fields=["language"])
    client.force_login(user)


def test_incident_page_shows_the_review_form_and_completes_it(
    client, incident_in, ops_leader, operator
):
    incident = _closed(incident_in, ops_leader, assignee=operator)
    ids = [str(i.pk) for i in incident.review.items.all()]
    _sign_in(client, operator)
    html = client.get(incident.get_absolute_url()).content.decode()
    assert 'data-testid="incident-review"' in html and 'data-testid="complete-review"' in html
    assert html.count('name="checked"') == len(ids)
    # §8.3.4: a P3 postmortem can still be requested beside the light review.
    assert reverse("incidents:postmortem_request", args=[incident.number]) in html
    url = reverse("incidents:review", args=[incident.number])
    refused = client.post(
        url, {"checked": ids[:2], "comment": "Half done", "action": "complete"}, follow=True
    )
    assert "Tick every item of the review checklist." in refused.content.decode()
    review = IncidentReview.objects.get(incident=incident)
    assert review.state == "pending" and review.comment == "Half done"
    assert review.items.filter(checked=True).count() == 2
    done = client.post(
        url, {"checked": ids, "comment": "All checked.", "action": "complete"}, follow=True
    )
    html = done.content.decode()
    assert IncidentReview.objects.get(incident=incident).state == "done"
    assert 'data-testid="complete-review"' not in html and "All checked." in html
    assert f"Reviewed by {operator}" in html


def test_someone_else_sees_the_review_but_may_not_post_it(
    client, incident_in, ops_leader, operator, make_user
):
    incident = _closed(incident_in, ops_leader, assignee=operator)
    stranger = make_user("operator", username="other-operator")
    _sign_in(client, stranger)
    html = client.get(incident.get_absolute_url()).content.decode()
    assert 'data-testid="incident-review"' in html and 'data-testid="complete-review"' not in html
    ids = [str(i.pk) for i in incident.review.items.all()]
    r = client.post(
        reverse("incidents:review", args=[incident.number]),
        {"checked": ids, "comment": "mine now", "action": "complete"},
    )
    assert r.status_code == 403
    assert IncidentReview.objects.get(incident=incident).state == "pending"


def test_the_home_page_lists_the_pending_review(client, incident_in, ops_leader, operator):
    incident = _closed(incident_in, ops_leader, assignee=operator)
    _sign_in(client, operator)
    html = client.get("/").content.decode()
    assert f'href="{incident.get_absolute_url()}#review"' in html
    assert f"Review: {incident.title}" in html


def test_a_reopened_incident_keeps_its_one_review_for_the_next_close(
    incident_in, ops_leader, operator
):
    incident = _closed(incident_in, ops_leader, assignee=operator)
    review = incident.review
    workflow.perform(incident, "reopen", actor=ops_leader, comment="came back")
    incident.refresh_from_db()
    (card,) = [c for c in my_work(operator) if c["app"] == "incidents"]
    assert not [i for i in card["items"] if i.url.endswith("#review")]
    workflow.perform(incident, "start_recovery", actor=ops_leader)
    workflow.perform(incident, "verify", actor=ops_leader)
    services.close_incident(incident, actor=ops_leader, resolution_summary="Fixed for good")
    assert IncidentReview.objects.filter(incident=incident).get() == review
    (card,) = [c for c in my_work(operator) if c["app"] == "incidents"]
    assert [i for i in card["items"] if i.url.endswith("#review")]


def test_the_generic_transition_endpoint_goes_through_the_review_service(
    client, incident_in, ops_leader, operator
):
    incident = _closed(incident_in, ops_leader, assignee=operator)
    review = incident.review
    ids = [i.pk for i in review.items.all()]
    services.save_review(review, actor=operator, checked=ids, comment="")
    url = reverse("core:transition", args=["incidents", "incidentreview", review.pk])
    _sign_in(client, operator)
    client.post(url, {"transition": "complete"})
    assert IncidentReview.objects.get(pk=review.pk).state == "pending"  # no comment yet
    client.post(url, {"transition": "complete", "comment": "Checked with the team."})
    review.refresh_from_db()
    assert review.state == "done" and review.comment == "Checked with the team."
    assert incident.timeline.filter(text__startswith="Review completed").exists()

"""One form rendering for the whole portal (issue 14 §6): every widget Bootstrap-styled."""

import pytest
from django.urls import reverse

from incidents.forms import AssignForm, IncidentCreateForm, PostmortemForm, TriageForm
from itsm.core.roles import Role
from tests.html_checks import form_controls, unstyled_controls

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "form_class",
    [IncidentCreateForm, TriageForm, AssignForm, PostmortemForm],
    ids=lambda c: c.__name__,
)
def test_every_control_of_the_incident_forms_has_a_bootstrap_class(form_class):
    html = str(form_class())
    assert form_controls(html), "the form rendered no controls"
    assert unstyled_controls(html) == []


def test_selects_textareas_and_inputs_get_their_own_class():
    html = str(IncidentCreateForm())
    classes = {attrs.get("name"): attrs.get("class", "") for _tag, attrs in form_controls(html)}
    assert "form-control" in classes["title"].split()
    assert "form-control" in classes["description"].split()
    assert "form-select" in classes["source"].split()
    assert "form-select" in classes["service"].split()
    assert '<label class="form-label" for="id_title">' in html


def test_triage_team_assignee_and_comment_are_styled():
    form = TriageForm()
    for name, css in (
        ("team", "form-select"),
        ("assignee", "form-select"),
        ("comment", "form-control"),
    ):
        html = form[name].as_field_group()
        (_tag, attrs), *_ = form_controls(html)
        assert css in attrs["class"].split(), name


def test_an_invalid_field_is_marked_and_its_error_is_invalid_feedback():
    form = IncidentCreateForm(data={"title": "", "source": "user_report"})
    assert not form.is_valid()
    html = str(form)
    title = next(a for _t, a in form_controls(html) if a.get("name") == "title")
    assert {"form-control", "is-invalid"} <= set(title["class"].split())
    assert 'class="invalid-feedback d-block" id="id_title_error"' in html


def test_a_hand_written_size_class_is_kept_beside_the_base_class():
    from django import forms

    class Small(forms.Form):
        pick = forms.ChoiceField(
            choices=[("a", "A")], widget=forms.Select(attrs={"class": "form-select-sm"})
        )
        ok = forms.BooleanField(required=False)
        way = forms.ChoiceField(choices=[("a", "A"), ("b", "B")], widget=forms.RadioSelect)

    html = str(Small())
    by_name = {}
    for _tag, attrs in form_controls(html):
        by_name.setdefault(attrs["name"], []).append(attrs["class"].split())
    assert by_name["pick"] == [["form-select", "form-select-sm"]]
    assert by_name["ok"] == [["form-check-input"]]
    assert all("form-check-input" in c for c in by_name["way"])


def test_the_incident_pages_show_no_unstyled_form_control(client, make_user, incident_factory):
    user = make_user(Role.OPS_MANAGER)
    client.force_login(user)
    incident = incident_factory()
    for url in (
        reverse("incidents:create"),
        reverse("incidents:triage", args=[incident.number]),
        reverse("incidents:detail", args=[incident.number]),
    ):
        response = client.get(url)
        assert response.status_code == 200, url
        html = response.content.decode()
        assert form_controls(html), url
        assert unstyled_controls(html) == [], url


@pytest.fixture
def incident_factory(db):
    from incidents import services

    def make(**kwargs):
        kwargs.setdefault("title", "Checkout returns 500")
        kwargs.setdefault("source", "user_report")
        return services.open_incident(**kwargs)

    return make

"""Real browser (Chromium, Japanese UI): a team lead builds a weekly rotation and adds an
override on the schedule page, and sees both on the two-week timeline (issue 16 §7, §8)."""

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from itsm.core.models import Team
from itsm.core.roles import Role
from oncall.models import Layer, Override, Schedule

pytestmark = [pytest.mark.e2e]


def test_team_lead_builds_a_weekly_rotation_with_an_override(page, login, make_user):
    lead = make_user(Role.OPS_LEADER, username="sato")
    ann = make_user(Role.OPERATOR, username="ann")
    bob = make_user(Role.OPERATOR, username="bob")
    team = Team.objects.create(name="Ops", slug="ops", escalation_level=1)
    team.members.add(ann, bob)
    Schedule.objects.create(team=team, name="Primary", slug="primary")
    login(lead)
    page.goto("/oncall/primary/")
    expect(page.get_by_test_id("timeline-gap").first).to_be_visible()  # nobody yet: all red

    page.get_by_test_id("add-rotation").click()
    form = page.get_by_test_id("new-layer-form")
    form.locator("[name=new-name]").fill("Weekly")
    form.locator("[name=new-rotation]").select_option("weekly")
    form.locator("[name=new-handoff_time]").fill("09:00")
    form.locator("[name=new-start_date]").fill(
        (timezone.localdate() - timezone.timedelta(days=1)).isoformat()
    )
    form.locator("[name=new-member_0]").select_option(label="ann")
    form.locator("[name=new-member_1]").select_option(label="bob")
    form.get_by_role("button").click()
    expect(page.get_by_test_id("layer")).to_contain_text("ann")
    expect(page.get_by_test_id("on-call-now")).to_contain_text("ann")

    start = timezone.localtime() + timezone.timedelta(days=2)
    override = page.get_by_test_id("override-form")
    override.locator("[name=user]").select_option(label="bob")
    override.locator("[name=replaces]").select_option(label="ann")
    override.locator("[name=start]").fill(start.strftime("%Y-%m-%dT18:00"))
    override.locator("[name=end]").fill(
        (start + timezone.timedelta(days=1)).strftime("%Y-%m-%dT09:00")
    )
    override.locator("[name=reason]").fill("通院")
    override.get_by_role("button").click()
    expect(page.get_by_test_id("override")).to_contain_text("bob")
    expect(page.get_by_test_id("timeline-override").first).to_contain_text("bob")
    assert Layer.objects.get(schedule__slug="primary").rotation_members.count() == 2
    assert Override.objects.get().replaces == ann

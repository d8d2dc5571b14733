"""Real browser (Chromium, Japanese UI): an operator uploads a screenshot on the incident page,
sees its thumbnail (the image decoded through the preview URL) and the timeline entry, then
deletes it after confirming."""

import pytest
from playwright.sync_api import expect

from attachments.models import Attachment
from incidents import services
from itsm.core.roles import Role

from .conftest import png_bytes

pytestmark = [pytest.mark.e2e]


def test_a_screenshot_uploaded_on_the_incident_page_shows_as_thumbnail_and_on_the_timeline(
    page, login, make_user, settings
):
    operator = make_user(Role.OPERATOR, username="suzuki")
    incident = services.open_incident(title="Login page is blank", source="user_report")
    login(operator)
    page.goto(incident.get_absolute_url())

    form = page.get_by_test_id("attachment-upload")
    form.locator("input[type=file]").set_input_files(
        {"name": "screenshot.png", "mimeType": "image/png", "buffer": png_bytes(64, 48)}
    )
    form.locator("button[type=submit]").click()
    page.wait_for_load_state()

    panel = page.get_by_test_id("attachments")
    expect(panel).to_contain_text("screenshot.png")
    thumb = panel.get_by_test_id("attachment-thumb")
    expect(thumb).to_be_visible()
    # The browser fetched and decoded the image through the access-checked preview URL.
    page.wait_for_function(
        "img => img.complete && img.naturalWidth === 64", arg=thumb.element_handle()
    )
    entry = page.locator("#timeline li[data-kind=attachment]")
    expect(entry).to_have_count(1)
    expect(entry.get_by_test_id("timeline-attachment")).to_have_text("screenshot.png")

    page.once("dialog", lambda dialog: dialog.accept())
    panel.locator("form[action$='/delete/'] button").click()
    page.wait_for_load_state()
    expect(page.get_by_test_id("attachment-thumb")).to_have_count(0)
    assert not Attachment.objects.exists()

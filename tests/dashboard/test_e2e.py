"""Real browser (Chromium): a manager opens the dashboard, changes the period, reads a tile and
sees the charts drawn; with SAVE_SCREENSHOTS=1 the README's docs/dashboard.png is re-taken on the
way (otherwise the screenshot goes to a temporary folder: a test run leaves the tree clean)."""

from __future__ import annotations

import os
import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from itsm.core.roles import Role
from tests.factories import ServiceFactory

from .conftest import make_incident

pytestmark = [pytest.mark.e2e]
DOCS_SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "dashboard.png"


def test_manager_reads_the_dashboard_and_changes_the_period(page, login, make_user, tmp_path):
    shop = ServiceFactory(slug="web-shop", name="Web shop")
    now = timezone.now()
    for days_ago, priority, answer, recover in [
        (1, "P1", 10, 50),
        (2, "P2", 45, 180),
        (3, "P3", 60, 240),
        (5, "P1", 12, 90),
        (20, "P2", 20, 120),
        (40, "P3", 30, 200),  # only in the 90-day view
    ]:
        detected = now - timedelta(days=days_ago)
        make_incident(
            priority,
            detected,
            detected + timedelta(minutes=answer),
            detected + timedelta(minutes=recover),
            service=shop,
        )
    manager = make_user(Role.OPS_MANAGER, username="suzuki")
    login(manager)

    page.goto("/dashboard/")
    expect(page.locator("h1")).to_have_text("SLA・運用ダッシュボード")
    total = page.locator("[data-tile=incidents-total] [data-value]")
    expect(total).to_have_attribute("data-value", "5")
    page.wait_for_function("document.documentElement.dataset.chartsReady === 'true'")

    page.select_option("[data-testid=period-days]", "90")  # submits the picker
    expect(total).to_have_attribute("data-value", "6")
    expect(page.get_by_test_id("period-label")).to_contain_text(
        (timezone.localdate() - timedelta(days=89)).isoformat()
    )
    page.wait_for_function("document.documentElement.dataset.chartsReady === 'true'")
    # Chart.js drew on the canvas: it has a size and non-blank pixels.
    drawn = page.evaluate(
        """() => {
          const c = document.getElementById('chart-priorities');
          const px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
          return c.width > 0 && px.some(v => v !== 0);
        }"""
    )
    assert drawn
    assert page.evaluate("Chart.getChart('chart-times').data.datasets.length") == 2

    # a tile's number links to the filtered list
    page.locator("[data-tile=incidents-total] a").click()
    expect(page).to_have_url(re.compile(r"/incidents/\?"))
    expect(page.locator("table tbody tr")).to_have_count(6)

    page.goto("/dashboard/?days=30")
    page.set_viewport_size({"width": 1400, "height": 1000})
    page.wait_for_function("document.documentElement.dataset.chartsReady === 'true'")
    shot = DOCS_SCREENSHOT if os.environ.get("SAVE_SCREENSHOTS") else tmp_path / "dashboard.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000


def test_trend_lines_are_straight_and_leave_days_without_data_empty(page, login, make_user):
    """Issue 14 §10: no curve tension on measured series, no line across a day without data;
    the numbers are in a table under each chart."""
    now = timezone.now()
    for days_ago, answer in [(1, 10), (4, 40)]:  # days 2 and 3 ago: no incident
        detected = now - timedelta(days=days_ago)
        make_incident("P1", detected, detected + timedelta(minutes=answer))
    login(make_user(Role.OPS_MANAGER, username="suzuki"))
    page.goto("/dashboard/?days=7")
    page.wait_for_function("document.documentElement.dataset.chartsReady === 'true'")
    config = page.evaluate(
        """() => ['chart-times', 'chart-compliance'].map(id => {
          const chart = Chart.getChart(id);
          return {
            spanGaps: chart.options.spanGaps,
            datasets: chart.data.datasets.map((d, i) => ({
              tension: chart.getDatasetMeta(i).dataset.options.tension,
              spanGaps: chart.getDatasetMeta(i).dataset.options.spanGaps,
              data: d.data,
            })),
          };
        })"""
    )
    for chart in config:
        assert chart["spanGaps"] is False
        for dataset in chart["datasets"]:
            assert dataset["tension"] == 0
            assert dataset["spanGaps"] is False
    compliance = config[1]["datasets"][0]["data"]
    assert compliance[-2] == 100.0 and compliance[-5] == 0.0  # 10 min met, 40 min breached
    assert compliance[-4] is None and compliance[-3] is None  # no incident: a gap, not 0 %
    table = page.locator("[data-chart-table=compliance]")
    expect(table.locator("table")).to_be_hidden()
    table.locator("summary").click()
    expect(table.locator("table")).to_be_visible()
    day = (timezone.localdate() - timedelta(days=1)).isoformat()
    expect(table.locator(f"tr[data-day='{day}'] td")).to_have_text("100.0")
    page.set_viewport_size({"width": 1400, "height": 1000})
    page.screenshot(path="/tmp/charts/dashboard-gaps.png", full_page=True)

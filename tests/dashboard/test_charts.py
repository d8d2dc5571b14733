"""The dashboard charts draw measurements only (issue 14 §10): a day without data is null — a
gap in the line, "—" in the table — never 0 %, and every chart's numbers are on the page as a
table rendered from the same data."""

from __future__ import annotations

import json
import re

import pytest
import time_machine
from django.urls import reverse
from django.utils import translation

from .conftest import NOW

pytestmark = pytest.mark.django_db
WEEK = {"days": "custom", "since": "2025-06-02", "until": "2025-06-08"}
DAYS = [f"2025-06-0{d}" for d in range(2, 9)]


@pytest.fixture(autouse=True)
def _now():
    with time_machine.travel(NOW, tick=False):
        yield


def _table(html: str, name: str) -> dict[str, list[str]]:
    """The rows of a chart's table: day → the cells' text (tags stripped)."""
    table = re.search(rf'<table[^>]*data-table="{name}".*?</table>', html, re.S).group(0)
    rows = {}
    for day, cells in re.findall(r'<tr data-day="([\d-]+)">(.*?)</tr>', table, re.S):
        tds = re.findall(r"<td[^>]*>(.*?)</td>", cells, re.S)
        rows[day] = [re.sub(r"<[^>]+>", "", td).strip() for td in tds]
    return rows


def _chart_json(html: str) -> dict:
    script = re.search(
        r'<script id="dashboard-charts" type="application/json">(.*?)</script>', html
    )
    return json.loads(script.group(1))


def test_days_without_incidents_are_null_in_the_charts_not_zero(client, ops_manager, week):
    client.force_login(ops_manager)
    html = client.get(reverse("dashboard"), WEEK).content.decode()
    charts = _chart_json(html)
    assert charts["days"] == DAYS
    # 06-07: only an untriaged incident (nothing judged); 06-08: no incident at all
    assert charts["compliance"] == [100.0, 0.0, 100.0, 0.0, 50.0, None, None]
    assert charts["mtta"] == [10.0, 20.0, 17.5, None, 4260.0, None, None]
    assert charts["mttr"][-1] is None and charts["mttr"][0] == 60.0
    # counts are counts: a day without incidents really had 0
    assert charts["priorities"]["P1"] == [1, 1, 1, 0, 0, 0, 0]
    assert charts["priorities"]["untriaged"] == [0, 0, 0, 0, 0, 1, 0]


def test_every_chart_has_its_numbers_as_a_table(client, ops_manager, week):
    client.force_login(ops_manager)
    with translation.override("en"):
        html = client.get(reverse("dashboard"), WEEK, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    for name in ("times", "compliance", "priorities"):
        assert f'data-chart-table="{name}"' in html
        assert f'aria-describedby="table-{name}-summary"' in html
    compliance = _table(html, "chart-compliance")
    assert list(compliance) == DAYS
    assert compliance["2025-06-06"] == ["50.0"]
    # no data is said so, not drawn as 0
    assert compliance["2025-06-08"] == ["—no data"]
    assert compliance["2025-06-07"] == ["—no data"]
    times = _table(html, "chart-times")
    assert times["2025-06-04"] == ["17.5", "30.0"]
    assert times["2025-06-05"] == ["—no data", "—no data"]
    priorities = _table(html, "chart-priorities")
    # P1 P2 P3 P4 not triaged, total
    assert priorities["2025-06-04"] == ["1", "0", "1", "0", "0", "2"]
    assert priorities["2025-06-06"] == ["0", "0", "0", "2", "0", "2"]
    assert priorities["2025-06-08"] == ["0", "0", "0", "0", "0", "0"]
    assert '<th scope="col">Response SLA compliance (%)</th>' in html


def test_chart_tables_are_translated(client, ops_manager, week):
    client.force_login(ops_manager)
    html = client.get(reverse("dashboard"), WEEK, HTTP_ACCEPT_LANGUAGE="ja").content.decode()
    assert "<summary" in html
    summary = re.search(r'id="table-compliance-summary">(.*?) <span', html).group(1)
    assert summary == "表"
    assert '<th scope="col" class="text-start">日付</th>' in html
    assert "データなし" in html
    assert '<th scope="col">対応目標時間の達成率（%）</th>' in html

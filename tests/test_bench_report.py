"""``make bench`` states every budget's verdict (issue 20): in the run's rows, and in the
"Budgets" summary of docs/benchmarks.md, rewritten on each run."""

from __future__ import annotations

import pytest

from bench import run


def _ctx():
    return {
        "db_engine": "postgresql 150020",
        "cache": "redis",
        "machine": "Linux x86_64",
        "cpu_cores": 2,
        "python": "3.11",
        "at": "2026-12-04T12:00:00+00:00",
        "commit": "abc1234",
    }


@pytest.fixture
def report(tmp_path, monkeypatch):
    monkeypatch.setattr(run, "REPORT", tmp_path / "benchmarks.md")
    monkeypatch.setattr(run, "RESULTS", tmp_path / "latest.json")
    return tmp_path / "benchmarks.md"


def test_a_structured_verdict_goes_into_the_note():
    missed = run.with_verdict(
        {"name": "sweep per step", "figure": 3.1, "unit": "ms", "budget": "≤ 2 ms", "met": False}
    )
    assert missed["note"] == "budget ≤ 2 ms (NOT met)"
    kept = run.with_verdict({"name": "x", "figure": 1, "unit": "ms", "note": "N=3 (met)"})
    assert kept["note"] == "N=3 (met)"


def test_the_report_summarizes_every_budget_and_keeps_other_modules(report):
    rows = [
        {
            "module": "bench_a",
            "name": "p95",
            "figure": 40.0,
            "unit": "ms",
            "note": "budget 150 ms (met)",
        },
        {"module": "bench_a", "name": "median", "figure": 20.0, "unit": "ms", "note": "N=30"},
        {
            "module": "bench_b",
            "name": "per step",
            "figure": 3.0,
            "unit": "ms",
            "note": "budget ≤ 2 ms (NOT met)",
        },
    ]
    run.write_report(_ctx(), rows, [], ["bench_a", "bench_b"])
    text = report.read_text()
    assert "1 of 2 budgets met; **1 NOT met**." in text
    assert "| **NOT met** | bench_b | per step | 3.00 ms | budget ≤ 2 ms |" in text
    assert "| met | bench_a | p95 | 40.00 ms | budget 150 ms |" in text

    # A later run of bench_b alone: its verdict changes, bench_a's row and verdict stay, and
    # the summary is written once, not appended to the old one.
    fixed = {**rows[2], "figure": 1.5, "note": "budget ≤ 2 ms (met)"}
    run.write_report(_ctx(), [fixed], [], ["bench_b"])
    text = report.read_text()
    assert text.count("## Budgets") == 1
    assert "2 of 2 budgets met." in text
    assert "| met | bench_b | per step | 1.50 ms | budget ≤ 2 ms |" in text

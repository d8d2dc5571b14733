"""``make bench``: run every ``bench/bench_*.py`` and write bench/results/latest.json; merge the
figures into docs/benchmarks.md (``-k`` replaces only the rows of the benchmarks it ran).

Each benchmark module defines ``run() -> list[dict]``; a dict is one figure::

    {"name": "transitions API GET median", "figure": 4.2, "unit": "ms", "note": "N=300"}

The harness sets Django up with the test settings (the portal plus the small test state machine),
creates a throw-away database on the configured engine (``DATABASE_URL``: SQLite by default,
PostgreSQL when set) and drops it afterwards, so benchmarks never touch the real data.
Performance budgets (DESIGN.md) are checked by the benchmarks themselves, never by timed tests.

    .venv/bin/python bench/run.py [-k NAME]   # only modules whose name contains NAME
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import json
import os
import platform
import re
import subprocess
import sys
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "latest.json"
REPORT = ROOT / "docs" / "benchmarks.md"


def setup_django():
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    import django

    django.setup()
    from django.test.utils import setup_databases, setup_test_environment

    setup_test_environment()
    return setup_databases(verbosity=0, interactive=False, keepdb=False)


def teardown_django(old_config) -> None:
    from django.test.utils import teardown_databases, teardown_test_environment

    teardown_databases(old_config, verbosity=0)
    teardown_test_environment()


def context() -> dict:
    from django.conf import settings
    from django.db import connection

    connection.ensure_connection()
    if connection.vendor == "postgresql":
        version = str(connection.pg_version)
    elif connection.vendor == "sqlite":
        version = connection.Database.sqlite_version
    else:
        version = ""
    try:
        commit = subprocess.run(  # noqa: S603
            ["git", "rev-parse", "--short", "HEAD"],  # noqa: S607
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
    except OSError:
        commit = ""
    return {
        "db_engine": f"{connection.vendor} {version}".strip(),
        "cache": "redis" if settings.REDIS_URL else "locmem",
        "cpu_cores": os.cpu_count(),
        "machine": f"{platform.system()} {platform.machine()}",
        "python": platform.python_version(),
        "commit": commit,
        "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }


def discover(only: str) -> list[str]:
    names = sorted(p.stem for p in (ROOT / "bench").glob("bench_*.py"))
    return [n for n in names if only in n]


def _read_report() -> tuple[dict[str, str], list[tuple[str, str]], list[str]]:
    """The existing report: ``(run line per module, (module, table row) pairs, the sections
    after the table)``; a ``## Failed`` section is dropped (it is written afresh)."""
    if not REPORT.exists():
        return {}, [], []
    runs: dict[str, str] = {}
    rows: list[tuple[str, str]] = []
    tail: list[str] = []
    legacy: list[str] = []  # the old single-context header, before runs were kept per module
    state = "head"
    for line in REPORT.read_text(encoding="utf-8").splitlines():
        if state == "head":
            match = re.match(r"- `?(bench_\w+)`?: (.*)", line)
            if line.startswith("| benchmark |"):
                state = "table"
            elif match:
                runs[match[1]] = match[2]
            elif line.startswith("- "):
                legacy.append(line[2:])
        elif state == "table" and line.startswith("|"):
            if not line.startswith("|---"):
                rows.append((line.split("|")[1].strip(), line))
        else:
            state = "tail"
            tail.append(line)
    for module, _row in rows:
        if module not in runs and legacy:
            runs[module] = "; ".join(legacy)
    kept, skipping = [], False
    for line in tail:
        if line.startswith("## "):
            skipping = line.strip() == "## Failed"
        if not skipping:
            kept.append(line)
    while kept and not kept[0].strip():
        kept.pop(0)
    return runs, rows, kept


def write_report(ctx: dict, rows: list[dict], failures: list[dict], ran: list[str]) -> None:
    """Write bench/results/latest.json (this run) and merge this run into docs/benchmarks.md:
    only the rows and run lines of the benchmark modules that ran are replaced; the other
    modules' rows and any section written below the table are kept."""
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {"context": ctx, "results": rows, "failures": failures}, indent=2, ensure_ascii=False
        )
        + "\n",
        encoding="utf-8",
    )
    runs, old_rows, tail = _read_report()
    run_line = (
        f"{ctx['db_engine']}; cache: {ctx['cache']}; {ctx['machine']}, {ctx['cpu_cores']} cores; "
        f"Python {ctx['python']}; {ctx['at']} at commit `{ctx['commit'] or 'unknown'}`"
    )
    for module in ran:
        runs[module] = run_line
    new_rows: dict[str, list[str]] = {}
    for row in rows:
        figure = row["figure"]
        shown = f"{figure:,.2f}" if isinstance(figure, float) else f"{figure:,}"
        new_rows.setdefault(row["module"], []).append(
            f"| {row['module']} | {row['name']} | {shown} | {row['unit']} | {row.get('note', '')} |"
        )
    table: list[str] = []
    placed: set[str] = set()
    for module, line in old_rows:
        if module not in ran:
            table.append(line)
        elif module not in placed:  # this run's rows where the module's old rows were
            table.extend(new_rows.get(module, []))
            placed.add(module)
    for module in ran:
        if module not in placed:
            table.extend(new_rows.get(module, []))
    lines = [
        "# Benchmarks",
        "",
        "Written by `make bench` (`bench/run.py`): a run replaces the rows and the run line of the",
        "benchmarks it ran and keeps the others, and the sections below the table. Budgets:",
        "DESIGN.md § Performance budgets. Unless a row says otherwise, server time is measured",
        "in-process (Django test client, no network).",
        "",
        *[f"- `{module}`: {runs[module]}" for module in sorted(runs)],
        "",
        "| benchmark | name | figure | unit | context |",
        "|---|---|---:|---|---|",
        *table,
    ]
    if failures:
        lines += ["", "## Failed", ""]
        lines += [f"- `{f['module']}`: {f['error']}" for f in failures]
    if tail:
        lines += ["", *tail]
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text("\n".join(lines).rstrip() + "\n", encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description="Run the portal's benchmarks.")
    parser.add_argument("-k", dest="only", default="", help="only modules containing this text")
    args = parser.parse_args()

    old_config = setup_django()
    ran = discover(args.only)
    rows: list[dict] = []
    failures: list[dict] = []
    try:
        ctx = context()
        for name in ran:
            started = time.perf_counter()
            print(f"{name} …", flush=True)
            try:
                module = importlib.import_module(f"bench.{name}")
                results = module.run()
            except Exception as exc:  # noqa: BLE001 - report every failing benchmark, then exit 1
                traceback.print_exc()
                failures.append({"module": name, "error": f"{type(exc).__name__}: {exc}"})
                continue
            for result in results:
                missing = {"name", "figure", "unit"} - set(result)
                if missing:
                    failures.append({"module": name, "error": f"result without {sorted(missing)}"})
                    continue
                rows.append({"module": name, **result})
                print(f"  {result['name']}: {result['figure']} {result['unit']}")
            print(f"  ({time.perf_counter() - started:.1f}s)")
    finally:
        teardown_django(old_config)
    write_report(ctx, rows, failures, ran)
    print(f"wrote {REPORT.relative_to(ROOT)} and {RESULTS.relative_to(ROOT)}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

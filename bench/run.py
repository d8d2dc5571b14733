"""``make bench``: run every ``bench/bench_*.py`` and write bench/results/latest.json; merge the
figures into docs/benchmarks.md (``-k`` replaces only the rows of the benchmarks it ran).

Each benchmark module defines ``run() -> list[dict]``; a dict is one figure::

    {"name": "transitions API GET median", "figure": 4.2, "unit": "ms", "note": "N=300"}

A figure with a budget says whether it is met: ``"met": True/False`` (and ``"budget": "≤ 2 ms"``),
or ``(met)`` / ``(NOT met)`` in its note. The run ends with every budget's verdict, and
docs/benchmarks.md keeps a "Budgets" summary of all the rows it holds.

The harness sets Django up with the test settings (the portal plus the small test state machine),
creates a throw-away database and drops it afterwards, so benchmarks never touch the real data.
When several modules run, each runs in a process of its own on a new database (``run_apart``).
Its engine: ``DATABASE_URL`` when set; else PostgreSQL on 127.0.0.1:5432 (user postgres) when it
answers, else SQLite. Likewise ``REDIS_URL``, else Redis on 127.0.0.1:6379 (db 14) when it answers.
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
import socket
import subprocess
import sys
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "latest.json"
REPORT = ROOT / "docs" / "benchmarks.md"


LOCAL_POSTGRES = (
    "postgres://postgres@127.0.0.1:5432/itsm_bench"  # the test database: test_itsm_bench
)
LOCAL_REDIS = "redis://127.0.0.1:6379/14"


def _answers(host: str, port: int, probe: bytes, expect: tuple[bytes, ...]) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1) as sock:
            sock.sendall(probe)
            return sock.recv(64).startswith(expect)
    except OSError:
        return False


def choose_services() -> None:
    """PostgreSQL and Redis for the run: the environment's, else the local ones when they answer
    (the budgets are PostgreSQL's; SQLite runs only the benchmarks that need no server)."""
    if "DATABASE_URL" not in os.environ and _answers(
        # An SSLRequest: PostgreSQL answers "S" or "N" before any authentication.
        "127.0.0.1",
        5432,
        b"\x00\x00\x00\x08\x04\xd2\x16\x2f",
        (b"S", b"N"),
    ):
        os.environ["DATABASE_URL"] = LOCAL_POSTGRES
    if "REDIS_URL" not in os.environ and _answers("127.0.0.1", 6379, b"PING\r\n", (b"+PONG",)):
        os.environ["REDIS_URL"] = LOCAL_REDIS
    print(
        f"database: {os.environ.get('DATABASE_URL', 'SQLite (no PostgreSQL answered)')}; "
        f"Redis: {os.environ.get('REDIS_URL', 'none (local memory cache)')}",
        flush=True,
    )


def setup_django():
    sys.path.insert(0, str(ROOT))
    choose_services()
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
    commit = _git("rev-parse", "--short", "HEAD")
    if commit and _git(
        "status",
        "--porcelain",
        "--untracked-files=no",
        "--",
        ".",
        ":!docs",
        ":!*.md",
        ":!bench/results",
    ):
        commit += " with uncommitted changes"  # the code measured is not that commit's
    return {
        "db_engine": f"{connection.vendor} {version}".strip(),
        "cache": "redis" if settings.REDIS_URL else "local",
        "cpu_cores": os.cpu_count(),
        "machine": f"{platform.system()} {platform.machine()}",
        "python": platform.python_version(),
        "commit": commit,
        "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }


def _git(*args: str) -> str:
    """What ``git`` prints at the project's root ("" without git)."""
    try:
        return subprocess.run(  # noqa: S603
            ["git", *args],  # noqa: S607
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
    except OSError:
        return ""


def with_verdict(result: dict) -> dict:
    """The result with its verdict in the note, where the table and the summary read it."""
    note = result.get("note", "")
    if "met" in result and "(met)" not in note and "(NOT met)" not in note:
        budget = f"budget {result['budget']} " if result.get("budget") else ""
        verdict = "met" if result["met"] else "NOT met"
        note = f"{note}; {budget}({verdict})" if note else f"{budget}({verdict})"
    return {**result, "note": note}


def verdict(text: str) -> str | None:
    if any(word in text for word in ("(NOT met)", "(OVER)", "(MISSED)")):
        return "NOT met"
    if "(met)" in text:
        return "met"
    return None


def budget_summary(table: list[str]) -> list[str]:
    """One line per budgeted row of the table: the verdict, the figure and the budget."""
    lines = []
    for line in table:
        cells = [c.strip() for c in line.strip("|").split("|")]
        found = verdict(cells[4])
        if found is None:
            continue
        budget = re.search(r"budget[^;(]*", cells[4])
        shown = "**NOT met**" if found == "NOT met" else "met"
        lines.append(
            f"| {shown} | {cells[0]} | {cells[1]} | {cells[2]} {cells[3]} "
            f"| {budget[0].strip() if budget else ''} |"
        )
    return lines


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
            skipping = line.strip() in ("## Failed", "## Budgets")
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
    summary = budget_summary(table)
    if summary:
        missed = sum("NOT met" in line for line in summary)
        lines += [
            "",
            "## Budgets",
            "",
            f"{len(summary) - missed} of {len(summary)} budgets met"
            + (f"; **{missed} NOT met**." if missed else "."),
            "",
            "| verdict | benchmark | name | figure | budget |",
            "|---|---|---|---:|---|",
            *summary,
        ]
    if failures:
        lines += ["", "## Failed", ""]
        lines += [f"- `{f['module']}`: {f['error']}" for f in failures]
    if tail:
        lines += ["", *tail]
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text("\n".join(lines).rstrip() + "\n", encoding="utf-8")


def run_here(names: list[str]) -> dict:
    """Run the benchmark modules ``names`` in this process, on one throw-away database."""
    old_config = setup_django()
    rows: list[dict] = []
    failures: list[dict] = []
    try:
        ctx = context()
        for name in names:
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
                result = with_verdict(result)
                rows.append({"module": name, **result})
                found = verdict(result.get("note", ""))
                print(
                    f"  {result['name']}: {result['figure']} {result['unit']}"
                    + (f"  [{found}]" if found else ""),
                    flush=True,
                )
            print(f"  ({time.perf_counter() - started:.1f}s)", flush=True)
    finally:
        teardown_django(old_config)
    return {"context": ctx, "rows": rows, "failures": failures}


def run_apart(names: list[str]) -> dict:
    """Each module in a process of its own, on a database of its own: one benchmark's million
    rows, its tables' statistics and its processes' caches never weigh on the next."""
    import tempfile

    outcome: dict = {"context": None, "rows": [], "failures": []}
    for name in names:
        with tempfile.NamedTemporaryFile(suffix=".json") as out:
            done = subprocess.run(  # noqa: S603 - this script, a module name of bench/
                [sys.executable, __file__, "--module", name, "--out", out.name],
                cwd=ROOT,
                check=False,
            )
            text = Path(out.name).read_text(encoding="utf-8")
        if not text:
            outcome["failures"].append({"module": name, "error": f"exit status {done.returncode}"})
            continue
        part = json.loads(text)
        outcome["context"] = outcome["context"] or part["context"]
        outcome["rows"] += part["rows"]
        outcome["failures"] += part["failures"]
    return outcome


def main() -> int:
    parser = argparse.ArgumentParser(description="Run the portal's benchmarks.")
    parser.add_argument("-k", dest="only", default="", help="only modules containing this text")
    parser.add_argument("--module", help=argparse.SUPPRESS)  # run_apart's child: this one
    parser.add_argument("--out", help=argparse.SUPPRESS)  # … writing its outcome here
    args = parser.parse_args()

    if args.module:
        outcome = run_here([args.module])
        Path(args.out).write_text(json.dumps(outcome, ensure_ascii=False), encoding="utf-8")
        return 0
    ran = discover(args.only)
    outcome = run_here(ran) if len(ran) == 1 else run_apart(ran)
    rows, failures = outcome["rows"], outcome["failures"]
    if outcome["context"] is None:  # every module failed before it measured anything
        return 1
    write_report(outcome["context"], rows, failures, ran)
    budgeted = [(r, verdict(r.get("note", ""))) for r in rows]
    budgeted = [(r, v) for r, v in budgeted if v]
    if budgeted:
        print("\nbudgets of this run:")
        for r, v in budgeted:
            print(f"  {v:>7}  {r['module']}: {r['name']} = {r['figure']} {r['unit']}")
    print(f"wrote {REPORT.relative_to(ROOT)} and {RESULTS.relative_to(ROOT)}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

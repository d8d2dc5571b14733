"""The rooms and their doors (docs/architecture.md): the import order of the apps is kept by
import-linter's contracts in pyproject.toml, and no module takes part in an import loop — imports
inside function bodies included (grimp sees them): a use case that enqueues its own task does it
by the task's name, so the task module may import the use case."""

from __future__ import annotations

from pathlib import Path

import grimp
import pytest
from importlinter.cli import lint_imports

PACKAGES = (
    "itsm",
    "attachments",
    "oncall",
    "incidents",
    "comms",
    "intake",
    "backups",
    "changes",
    "releases",
)
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def graph():
    return grimp.build_graph(*PACKAGES, cache_dir=None)


# Display helpers of the foundation's models that render through their modules, imported inside
# the property so the model module loads first (AuditEvent labels, notification texts).
TOLERATED = {
    ("itsm.core.models", "itsm.core.audit"),
    ("itsm.core.models", "itsm.core.notifications"),
}


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in edges.get(node, ()):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                other = stack.pop()
                on_stack.discard(other)
                component.append(other)
                if other == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_no_module_is_part_of_an_import_loop(graph):
    edges = {
        module: {
            imported
            for imported in graph.find_modules_directly_imported_by(module)
            if (module, imported) not in TOLERATED
        }
        for module in graph.modules
    }
    assert _cycles(edges) == []


def test_the_loop_finder_finds_loops():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_the_models_do_not_reach_for_use_cases(graph):
    """The incident models used to import the triage matrix from the services (which import the
    escalation clock, which imports the models): the models import no use case at all."""
    for upward in ("incidents.services", "incidents.escalation", "incidents.selectors"):
        assert not graph.chain_exists(
            importer="incidents.models", imported=upward, as_packages=True
        ), upward


def test_incidents_do_not_know_the_intake(graph):
    assert not graph.chain_exists(importer="incidents", imported="intake", as_packages=True)


def test_the_import_contracts_are_kept(capsys):
    """The contracts in pyproject.toml (also run by ``make lint`` as ``lint-imports``)."""
    code = lint_imports(str(ROOT / "pyproject.toml"), no_cache=True, no_logo=True)
    assert code == 0, capsys.readouterr().out[-3000:]


def test_incidents_do_not_know_their_communication(graph):
    assert not graph.chain_exists(importer="incidents", imported="comms", as_packages=True)


def test_the_tasks_enqueued_by_name_are_registered():
    from celery import current_app

    from comms.services import DELIVER_TASK
    from intake.acceptance import PROCESS_TASK
    from itsm.core.notifications import BATCH_TASK, DELIVERY_TASK

    for name in (PROCESS_TASK, DELIVERY_TASK, BATCH_TASK, DELIVER_TASK):
        assert current_app.tasks[name].name == name

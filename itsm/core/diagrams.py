"""Workflow diagrams drawn from the django-fsm definitions themselves, so they cannot drift.

Each state machine is rendered as Mermaid ``stateDiagram-v2`` text; the browser draws it with
mermaid.js served from static/vendor (npm, no CDN).
"""

from __future__ import annotations

import re
from functools import cache

from django.apps import apps

from .workflow import all_transitions, state_field


@cache
def state_machines() -> tuple[type, ...]:
    """Every installed model with a django-fsm state field, in app order."""
    found = []
    for model in apps.get_models():
        try:
            state_field(model)
        except TypeError:
            continue
        found.append(model)
    return tuple(found)


def _node(state: str) -> str:
    return re.sub(r"\W", "_", str(state)) or "none"


def _text(label) -> str:
    # Mermaid labels: keep them on one line and free of the syntax's own characters.
    return re.sub(r"[:;\"<>{}\[\]#]", " ", str(label)).strip()


def mermaid_for(model, *, current: str = "") -> str:
    field = state_field(model)
    names = dict(field.choices or [])
    states = list(names)
    lines = ["stateDiagram-v2", "  direction LR"]
    for state in states:
        lines.append(f'  state "{_text(names[state])}" as {_node(state)}')
    if field.default in names:
        lines.append(f"  [*] --> {_node(field.default)}")
    seen = set()
    for t in all_transitions(model):
        sources = states if t.source in ("*", "+") else [t.source]
        for source in sources:
            if t.source == "+" and source == t.target:
                continue
            if t.target is None:
                continue
            edge = (source, t.target, t.name)
            if edge in seen:
                continue
            seen.add(edge)
            label = _text(t.custom.get("label", t.name))
            lines.append(f"  {_node(source)} --> {_node(t.target)} : {label}")
    if current in names:
        lines.append("  classDef current fill:#ffc107,stroke:#b38600,stroke-width:3px,color:#000")
        lines.append(f"  class {_node(current)} current")
    return "\n".join(lines)

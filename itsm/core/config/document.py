"""Configuration as code: the whole configuration as one YAML document, and applying one.

``export_document()`` writes every registered resource in import order, records sorted by their
natural key, no database ids and no secrets, so the same configuration always gives the same bytes.
``apply_document(text)`` validates and applies a document in one transaction: every problem is
reported with its line, and when there is any, or on a dry run, nothing is changed. Applying the
same document twice changes nothing the second time.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import yaml
from django.core.exceptions import ValidationError
from django.db import transaction

from .registry import ConfigResource, resources
from .serializers import represent, serializer_class
from .services import changes_between, delete_config, save_config

FORMAT_VERSION = 1
HEADER = (
    "# ITSM portal configuration (manage.py export_config). Secrets are never exported:\n"
    "# integrations get new secrets when imported into another portal.\n"
)


# --- export ----------------------------------------------------------------------------------


class _Dumper(yaml.SafeDumper):
    pass


def _represent_str(dumper, value: str):
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _represent_str)


def export_records(resource: ConfigResource) -> list[dict]:
    return [represent(resource, obj) for obj in resource.get_queryset().order_by(*resource.key)]


def export_document() -> str:
    document = {"version": FORMAT_VERSION}
    for resource in resources():
        document[resource.name] = export_records(resource)
    body = yaml.dump(
        document, Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=100, indent=2
    )
    return HEADER + body


# --- import ----------------------------------------------------------------------------------


@dataclass
class Problem:
    line: int
    where: str
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.where}: {self.message}"


@dataclass
class Outcome:
    created: list[str] = field(default_factory=list)
    updated: list[tuple[str, dict]] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    unchanged: int = 0
    unnamed: list[str] = field(default_factory=list)  # in the database, not in the file
    problems: list[Problem] = field(default_factory=list)
    secrets: list[tuple[str, str]] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated or self.deleted)

    def diff_lines(self) -> list[str]:
        lines = [f"+ {label}" for label in self.created]
        for label, changes in self.updated:
            lines.append(f"~ {label}")
            for name, (before, after) in changes.items():
                lines += _field_lines(name, before, after)
        lines += [f"- {label}" for label in self.deleted]
        return lines


def _rows(value) -> bool:
    return isinstance(value, list) and all(isinstance(row, dict) for row in value)


def _field_lines(name: str, before, after) -> list[str]:
    """One line per changed field; rows of a children list (levels, rules) row by row."""
    if not (_rows(before) and _rows(after)):
        return [f"    {name}: {_short(before)} → {_short(after)}"]
    lines = []
    for index in range(max(len(before), len(after))):
        old = before[index] if index < len(before) else None
        new = after[index] if index < len(after) else None
        where = f"{name}[{index}]"
        if old is None:
            lines.append(f"    {where}: + {_short(new)}")
        elif new is None:
            lines.append(f"    {where}: - {_short(old)}")
        else:
            lines += [
                f"    {where}.{key}: {_short(old.get(key))} → {_short(value)}"
                for key, value in new.items()
                if old.get(key) != value
            ]
    return lines


def _short(value) -> str:
    text = yaml.safe_dump(
        value, allow_unicode=True, default_flow_style=True, width=10_000, sort_keys=False
    ).strip()
    text = text.removesuffix("...").strip()
    return text if len(text) <= 120 else text[:117] + "..."


def _mapping_lines(node) -> dict[str, tuple[int, object]]:
    """``{key: (line, value node)}`` of a YAML mapping node."""
    if not isinstance(node, yaml.MappingNode):
        return {}
    return {key.value: (key.start_mark.line + 1, value) for key, value in node.value}


def _error_problems(errors, node, line: int, where: str) -> list[Problem]:
    """Serializer errors (nested dicts and lists) as problems on the lines they are about."""
    if isinstance(errors, dict) and errors and all(isinstance(k, int) for k in errors):
        errors = [errors.get(index, {}) for index in range(max(errors) + 1)]  # rows of a list
    if isinstance(errors, dict):
        fields = _mapping_lines(node)
        found = []
        for name, value in errors.items():
            field_line, field_node = fields.get(name, (line, None))
            inner_where = where if name == "non_field_errors" else f"{where}.{name}"
            found += _error_problems(value, field_node, field_line, inner_where)
        return found
    if isinstance(errors, list) and errors and all(isinstance(e, dict) for e in errors):
        # one entry per row of a list: the rows' own lines
        items = node.value if isinstance(node, yaml.SequenceNode) else []
        found = []
        for index, item_errors in enumerate(errors):
            if item_errors:
                item = items[index] if index < len(items) else None
                item_line = item.start_mark.line + 1 if item is not None else line
                found += _error_problems(item_errors, item, item_line, f"{where}[{index}]")
        return found
    messages = errors if isinstance(errors, list) else [errors]
    return [Problem(line, where, str(message)) for message in messages]


def _validation_messages(exc: ValidationError):
    return exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}


def _parse(text: str, outcome: Outcome):
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        outcome.problems.append(
            Problem(line, "document", f"not valid YAML: {getattr(exc, 'problem', exc)}")
        )
        return None, None
    if not isinstance(data, dict):
        outcome.problems.append(
            Problem(1, "document", "expected a mapping of sections (version, teams, …)")
        )
        return None, None
    sections = _mapping_lines(root)
    known = {resource.name for resource in resources()} | {"version"}
    for name, (line, _node) in sections.items():
        if name not in known:
            outcome.problems.append(
                Problem(line, name, f"unknown section (known: {', '.join(sorted(known))})")
            )
    version = data.get("version", FORMAT_VERSION)
    if version != FORMAT_VERSION:
        line = sections.get("version", (1, None))[0]
        outcome.problems.append(
            Problem(line, "version", f"expected {FORMAT_VERSION}, found {version!r}")
        )
    return data, sections


def _apply_item(
    resource: ConfigResource, item, node, index: int, outcome: Outcome, seen: set, actor_label
):
    """Validate and save one record; returns its primary key (None when refused)."""
    line = node.start_mark.line + 1
    where = f"{resource.name}[{index}]"
    if not isinstance(item, dict):
        outcome.problems.append(Problem(line, where, "expected a mapping of fields"))
        return None
    missing = [name for name in resource.key if item.get(name) in (None, "")]
    if missing:
        outcome.problems.append(Problem(line, where, f"missing key field(s): {', '.join(missing)}"))
        return None
    key = tuple(str(item[name]) for name in resource.key)
    label = f"{resource.name}/{'/'.join(key)}"
    if key in seen:
        outcome.problems.append(Problem(line, label, "named twice in this file"))
        return None
    seen.add(key)
    serializer_type = serializer_class(resource)
    fields = _mapping_lines(node)
    unknown = [name for name in item if name not in serializer_type().fields]
    for name in unknown:
        outcome.problems.append(
            Problem(fields.get(str(name), (line, None))[0], f"{label}.{name}", "unknown field")
        )
    if unknown:
        return None
    try:
        instance = (
            resource.get_queryset().filter(**dict(zip(resource.key, key, strict=True))).first()
        )
    except (ValueError, ValidationError):
        outcome.problems.append(Problem(line, label, "the key is not a valid value"))
        return None
    serializer = serializer_type(instance, data=item)
    if not serializer.is_valid():
        outcome.problems += _error_problems(serializer.errors, node, line, label)
        return None
    before = represent(resource, instance) if instance is not None else None
    try:
        with transaction.atomic():
            saved = save_config(
                resource,
                dict(serializer.validated_data),
                actor=None,
                instance=instance,
                actor_label=actor_label,
            )
    except ValidationError as exc:
        outcome.problems += _error_problems(_validation_messages(exc), node, line, label)
        return None
    if instance is None:
        outcome.created.append(label)
    else:
        changes = changes_between(before, represent(resource, saved))
        if changes:
            outcome.updated.append((label, changes))
        else:
            outcome.unchanged += 1
    secret = getattr(saved, "issued_secret", None)
    if secret:
        outcome.secrets.append((label, secret))
    return saved.pk


def apply_document(
    text: str, *, dry_run: bool = False, prune: bool = False, actor_label: str = "import_config"
) -> Outcome:
    """Validate and apply ``text``; see the module docstring. ``prune`` also deletes the records
    of the sections the file names that the file does not list (sections it omits are kept)."""
    outcome = Outcome()
    data, sections = _parse(text, outcome)
    if data is None:
        return outcome
    with transaction.atomic():
        for resource in resources():
            if resource.name not in data:
                continue
            items = data[resource.name] or []
            line, node = sections[resource.name]
            if not isinstance(items, list):
                outcome.problems.append(Problem(line, resource.name, "expected a list of records"))
                continue
            seen: set[tuple] = set()
            named = set()
            for index, (item, item_node) in enumerate(zip(items, node.value, strict=True)):
                named.add(_apply_item(resource, item, item_node, index, outcome, seen, actor_label))
            if outcome.problems:
                continue  # nothing is applied: do not look for what to prune
            for obj in (
                resource.get_queryset().exclude(pk__in=named - {None}).order_by(*resource.key)
            ):
                label = f"{resource.name}/{resource.label(obj)}"
                if not prune:
                    outcome.unnamed.append(label)
                    continue
                try:
                    with transaction.atomic():
                        delete_config(resource, obj, actor=None, actor_label=actor_label)
                except ValidationError as exc:
                    outcome.problems.append(Problem(line, label, "; ".join(exc.messages)))
                else:
                    outcome.deleted.append(label)
        if outcome.problems or dry_run:
            transaction.set_rollback(True)
    outcome.problems.sort(key=lambda problem: problem.line)
    return outcome

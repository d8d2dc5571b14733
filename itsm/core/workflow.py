"""The transitions mechanism shared by every state machine (DESIGN.md principle 3).

Models declare transitions with django-fsm::

    @transition(field=state, source=State.DRAFT, target=State.SUBMITTED,
                conditions=[has_rollback_plan], permission=at_least(Role.OPERATOR),
                custom={"label": _("Submit"), "fields": ["rollback_plan"]})
    def submit(self, *, by=None, comment=""):
        ...

``custom`` keys understood here:
- ``label``: the button text (translatable); ``style``: bootstrap colour of the button;
- ``fields``: model fields the caller may (and must, if the model requires them) send with the
  transition; validated through a ModelForm so the UI and API report field errors the same way;
- ``comment_required``: a reason must accompany the transition (overrides, rejections);
- ``hidden``: applied only by services/tasks (e.g. the clock), never offered as a button.

A permission callable may carry ``description`` (who may take it, for diagrams and the "needs …"
reason shown on unavailable transitions) and ``refusal(instance)`` (a reason specific to the
record, e.g. "an ops leader or above: P1/P2 incidents").

After a transition, :func:`result_message` says what happened ("INC-000019 is now Recovering.");
an app adds its own tail with ``register_summary(Model, summary)``, ``summary(instance, name) ->
str`` (incidents: the next escalation).

Guards are plain functions decorated with :func:`guard`, so a failed guard is reported by name.
Every applied transition is audited by ``itsm.core.signals``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django import forms
from django.db import transaction
from django.forms import model_to_dict, modelform_factory
from django.utils.translation import gettext as _
from django.utils.translation import pgettext
from django_fsm import ConcurrentTransition, FSMFieldMixin, Transition

from .forms import style_fields


class TransitionError(Exception):
    """Base for the refusals a caller can get; ``code`` is the stable API error code."""

    code = "transition_error"
    status = 400

    def __init__(self, message: str, **extra):
        super().__init__(message)
        self.message = message
        self.extra = extra


class TransitionNotAllowed(TransitionError):
    code = "transition_not_allowed"
    status = 409


class TransitionForbidden(TransitionError):
    code = "permission_denied"
    status = 403


class GuardFailed(TransitionError):
    code = "guard_failed"
    status = 400


class TransitionInvalid(TransitionError):
    code = "invalid"
    status = 400


class ConcurrentUpdate(TransitionError):
    code = "concurrent_update"
    status = 409


def guard(message: str) -> Callable:
    """Mark a condition function as a named guard with a user-facing message.

    ``message`` is translated when shown, so pass a ``gettext_lazy`` string.
    """

    def decorate(func: Callable) -> Callable:
        func.guard_message = message
        return func

    return decorate


def state_field(model_or_instance) -> FSMFieldMixin:
    for field in model_or_instance._meta.fields:
        if isinstance(field, FSMFieldMixin):
            return field
    raise TypeError(f"{model_or_instance!r} has no FSM field")


def all_transitions(model) -> list[Transition]:
    """Every declared (source → target) transition of a model, for diagrams and matrices."""
    return list(state_field(model).get_all_transitions(model))


@dataclass(frozen=True)
class Option:
    """A transition as offered to one user on one record."""

    name: str
    label: str
    target: str
    style: str
    fields: tuple[str, ...]
    comment_required: bool
    blocked_by: tuple[dict, ...]  # failed guards: [{"guard": name, "message": text}]
    permitted: bool = True
    reason: str = ""  # why the user cannot take it now (permission or first failed guard)

    @property
    def available(self) -> bool:
        return self.permitted and not self.blocked_by


def _current(instance, name: str) -> Transition | None:
    field = state_field(instance)
    method = getattr(type(instance), name, None)
    meta = getattr(method, "_django_fsm", None)
    if meta is None:
        return None
    if not meta.has_transition(field.get_state(instance)):
        return None
    return meta.get_transition(field.get_state(instance))


def failed_guards(instance, transition: Transition) -> tuple[dict, ...]:
    failed = []
    for condition in transition.conditions:
        if not condition(instance):
            message = getattr(condition, "guard_message", None) or condition.__name__
            failed.append({"guard": condition.__name__, "message": str(message)})
    return tuple(failed)


def _system_only(t: Transition) -> bool:
    """Transitions no person ever takes: not offered, not even as an unavailable button."""
    return bool(t.custom.get("hidden")) or (
        getattr(t.permission, "__name__", "") in ("system_only", "monitor_only")
    )


def refusal_reason(instance, t: Transition) -> str:
    """Who may take ``t`` on this record, for a user who may not ("an ops leader or above")."""
    refusal = getattr(t.permission, "refusal", None)
    who = refusal(instance) if callable(refusal) else ""
    return str(who or permission_label(t.permission))


def options_for(instance, user, *, include_forbidden: bool = False) -> list[Option]:
    """Transitions leaving the current state that ``user`` may take, with any blocking guards.

    Blocked transitions are listed (with the guard that blocks them) so the UI can say why a
    button is disabled. Transitions the user lacks permission for are left out unless
    ``include_forbidden``: then they come too, with ``permitted=False`` and the reason (who may
    take them). Transitions only the system takes (``hidden``, ``system_only``) never appear.
    """
    field = state_field(instance)
    state = field.get_state(instance)
    options = []
    for method in field.transitions.get(type(instance), {}).values():
        meta = method._django_fsm
        if not meta.has_transition(state):
            continue
        t = meta.get_transition(state)
        if _system_only(t):
            continue
        permitted = t.has_perm(instance, user)
        if not permitted and not include_forbidden:
            continue
        blocked = failed_guards(instance, t)
        label = str(t.custom.get("label", t.name))
        if not permitted:
            reason = _("%(label)s — needs %(who)s") % {
                "label": label,
                "who": refusal_reason(instance, t),
            }
        elif blocked:
            reason = blocked[0]["message"]
        else:
            reason = ""
        options.append(
            Option(
                name=t.name,
                label=label,
                target=str(t.target),
                style=t.custom.get("style", "primary"),
                fields=tuple(t.custom.get("fields", ())),
                comment_required=bool(t.custom.get("comment_required")),
                blocked_by=blocked,
                permitted=permitted,
                reason=str(reason),
            )
        )
    return options


def state_label(instance) -> str:
    field = state_field(instance)
    value = field.get_state(instance)
    return str(dict(field.choices or ()).get(value, value))


_SUMMARIES: dict[type, Callable[[object, str], str]] = {}


def register_summary(model: type, summary: Callable[[object, str], str]) -> None:
    """``summary(instance, name)``: what the app adds to :func:`result_message` after a
    transition of ``model`` ("Next escalation: L2 at 16:36."), empty for nothing."""
    _SUMMARIES[model] = summary


def result_message(instance, name: str = "") -> str:
    """What a transition did, for the person who asked: the record, its new state and the
    app's tail (``register_summary``), e.g. "INC-000019 is now Recovering. Next escalation: L2
    at 16:36." """
    text = pgettext("transition result", "%(record)s is now %(state)s.") % {
        "record": getattr(instance, "number", "") or instance,
        "state": state_label(instance),
    }
    summary = _SUMMARIES.get(type(instance))
    tail = str(summary(instance, name) or "") if summary is not None else ""
    if not tail:
        return text
    return f"{text}{tail}" if text.endswith("。") else f"{text} {tail}"


def transition_form(instance, name: str, data=None) -> forms.ModelForm | None:
    """The ModelForm for the extra fields a transition takes, or None when it takes none."""
    t = _current(instance, name)
    fields = tuple(t.custom.get("fields", ())) if t else ()
    if not fields:
        return None
    form_class = modelform_factory(type(instance), fields=fields)
    if data is not None:
        data = _keep_current_values(form_class, instance, data)
    return style_fields(form_class(data, instance=instance, prefix=None), small=True)


def _keep_current_values(form_class, instance, data):
    """Fill in the fields the caller did not send with the record's current values.

    An API client sends only what it changes (``{"transition": "submit"}`` on a record whose
    rollback plan is already written must not erase the plan). A field that is present but
    empty still clears it, and an unchecked HTML checkbox still means False.
    """
    current = model_to_dict(instance, fields=list(form_class.base_fields))
    merged = data.copy() if hasattr(data, "copy") else dict(data)
    for name, field in form_class.base_fields.items():
        if name in data or not field.widget.value_omitted_from_data(data, {}, name):
            continue
        value = field.prepare_value(current.get(name))
        if isinstance(value, list | tuple) and hasattr(merged, "setlist"):
            merged.setlist(name, [str(v) for v in value])
        else:
            merged[name] = "" if value is None else value
    return merged


def check_permitted(instance, name: str, actor) -> Transition:
    """The transition ``name`` of ``instance`` if it exists from its state (else 409) and
    ``actor`` may take it (else 403; anyone when ``actor`` is None: the clock or a service)."""
    t = _current(instance, name)
    if t is None or name.startswith("_"):
        raise TransitionNotAllowed(
            _("“%(name)s” is not possible from state “%(state)s”.")
            % {"name": name, "state": state_field(instance).get_state(instance)},
            transition=name,
        )
    if actor is not None and not t.has_perm(instance, actor):
        raise TransitionForbidden(
            _("You are not allowed to “%(label)s” this record.")
            % {"label": t.custom.get("label", name)},
            transition=name,
        )
    return t


def apply_transition(
    instance,
    name: str,
    *,
    actor,
    comment: str = "",
    data: dict | None = None,
    system_label: str = "",
    before_save: Callable[[object], None] | None = None,
    after: Callable[[object], None] | None = None,
):
    """Apply transition ``name`` to ``instance`` on behalf of ``actor``, atomically.

    Order of checks (each a distinct API error): the transition exists from this state (409),
    the actor may take it (403; skipped when ``actor`` is None, i.e. the clock or a service
    acting on its own), its fields validate (400 with field errors), a comment is present when
    required (400), its guards pass (400 naming the guard). Then, in one transaction: the method
    runs, ``before_save(instance)`` sets what the use case derives on the record itself (the
    incident's escalation clock fields), the record is saved with optimistic locking (409 if
    someone else moved it first), and ``after(instance)`` writes the records the transition
    implies (timeline, postmortem …).

    This is the mechanism, not the way in: callers go through their app's services, which say
    what a transition causes (``perform`` for the generic endpoint and view).
    """
    t = check_permitted(instance, name, actor)
    form = transition_form(instance, name, data or {})
    if form is not None and not form.is_valid():
        raise TransitionInvalid(
            _("Please correct the errors below."), errors=form.errors.get_json_data()
        )
    if t.custom.get("comment_required") and not (comment or "").strip():
        raise TransitionInvalid(
            _("A reason is required."),
            errors={"comment": [{"message": _("A reason is required."), "code": "required"}]},
        )
    failed = failed_guards(instance, t)
    if failed:
        raise GuardFailed(failed[0]["message"], guard=failed[0]["guard"], guards=list(failed))
    try:
        with transaction.atomic():
            getattr(instance, name)(by=actor, comment=comment, system_label=system_label)
            if before_save is not None:
                before_save(instance)
            instance.save()
            if after is not None:
                after(instance)
    except ConcurrentTransition as exc:
        instance.refresh_from_db()
        raise ConcurrentUpdate(
            _("Someone else changed this record first; reload and try again.")
        ) from exc
    return instance


# How each transition is applied when a person or client asks for it by name (the generic API
# endpoint and HTML view): every app declares, per model, a service for each transition or that
# it is plain (the transition needs nothing beyond itself). Declared explicitly in each app's
# services (``TRANSITIONS``) and registered by its AppConfig.ready(); a transition declared
# nowhere is a startup error (``itsm.core.checks``) and ``perform`` refuses it, so a use case is
# never skipped because a module was not imported.
PLAIN = "plain"

Service = Callable[..., object]
_SERVICES: dict[tuple[type, str], Service | str] = {}


class UndeclaredTransition(LookupError):
    """A transition with neither a service nor a ``PLAIN`` declaration (a programming error)."""


def register(table: dict[type, dict[str, Service | str]]) -> None:
    """Register an app's ``{Model: {transition name: service or PLAIN}}`` table; a service is
    called as ``service(instance, actor=…, comment=…, data=…)``."""
    for model, services in table.items():
        names = transition_names(model)
        for name, service in services.items():
            if name not in names:
                raise UndeclaredTransition(f"{model._meta.label} has no transition “{name}”.")
            if service != PLAIN and not callable(service):
                raise TypeError(f"{model._meta.label}.{name}: a service or PLAIN, not {service!r}")
            _SERVICES[(model, name)] = service


def transition_names(model) -> set[str]:
    return {t.name for t in all_transitions(model)}


def undeclared(model) -> list[str]:
    """The transitions of ``model`` that no app declared (``itsm.core.checks`` reports them)."""
    return sorted(name for name in transition_names(model) if (model, name) not in _SERVICES)


def perform(instance, name: str, *, actor, comment: str = "", data: dict | None = None):
    """Apply a transition requested by a person or client through the service its app declared
    (the bare transition when declared ``PLAIN``). A name that is not a transition of the model
    is refused like any impossible transition (409)."""
    model = type(instance)
    service = _SERVICES.get((model, name))
    if service is None and name in transition_names(model):
        raise UndeclaredTransition(
            f"{model._meta.label}: transition “{name}” has no declared service (see PLAIN)."
        )
    if service is None or service == PLAIN or _current(instance, name) is None:
        return apply_transition(instance, name, actor=actor, comment=comment, data=data)
    return service(instance, actor=actor, comment=comment, data=data or {})


def labels(choices: Iterable[tuple[str, str]]) -> dict[str, str]:
    return {value: str(label) for value, label in choices}


def permission_label(permission) -> str:
    """A readable description of a transition's ``permission=`` for diagrams and docs."""
    if permission is None:
        return _("anyone signed in")
    role = getattr(permission, "role", None)
    if role is not None:
        return _("%(role)s or above") % {"role": role.label}
    roles = getattr(permission, "roles", None)
    if roles:
        return " / ".join(str(r.label) for r in roles)
    return str(getattr(permission, "description", getattr(permission, "__name__", permission)))


def describe(model) -> list[dict]:
    """One row per transition name: sources, target, who may take it and its guards."""
    names = {value: str(label) for value, label in state_field(model).choices or []}
    rows: dict[str, dict] = {}
    for t in all_transitions(model):
        row = rows.setdefault(
            t.name,
            {
                "name": t.name,
                "label": str(t.custom.get("label", t.name)),
                "sources": [],
                "target": names.get(t.target, str(t.target)),
                "permission": permission_label(t.permission),
                "guards": [str(getattr(c, "guard_message", c.__name__)) for c in t.conditions],
                "automatic": bool(t.custom.get("hidden")),
            },
        )
        row["sources"].append(names.get(t.source, str(t.source)))
    return list(rows.values())

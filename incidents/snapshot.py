"""The escalation policy snapshot an incident's clock runs on (``IncidentEscalation.snapshot``).

When the clock starts, the policy of the incident's track is copied onto it, so editing a policy
never changes escalations in flight. The copy is stored as JSON and read only through
``PolicySnapshot.load``, which validates it and gives typed levels; ``dump`` writes it.

Versions: 1 is what the portal stored before the snapshot had a version (the same keys, no
``version``); 2 adds ``version``; 3 adds the on-call targets of a level (``schedule_id``,
``user_id``) and its page repeat interval (``repeat_minutes``; older snapshots repeat every 5). Loading accepts both; a snapshot from a newer portal, or one
that is not a snapshot at all, raises ``InvalidSnapshot`` naming what is wrong.
"""

from __future__ import annotations

import functools
import json
from dataclasses import asdict, dataclass

from .choices import Clock, EscalationCondition

VERSION = 3
DEFAULT_REPEAT_MINUTES = 5


class InvalidSnapshot(ValueError):
    """The stored snapshot cannot be read (a bug or a hand-edited row, never user input)."""


@dataclass(frozen=True)
class LevelSnapshot:
    """One rung as it was when the clock started (``EscalationLevel``)."""

    level: int
    name: str = ""
    after_level: int = 0
    delay_minutes: int = 0
    team_id: int | None = None
    team: str = ""
    role: str = ""
    schedule_id: int | None = None
    schedule: str = ""
    user_id: int | None = None
    user: str = ""
    repeat_minutes: int = DEFAULT_REPEAT_MINUTES
    condition: str = EscalationCondition.ALWAYS
    notify_only: bool = False

    @property
    def major_impact_only(self) -> bool:
        return self.condition == EscalationCondition.MAJOR_IMPACT

    @classmethod
    def load(cls, data, where: str) -> LevelSnapshot:
        if not isinstance(data, dict):
            raise InvalidSnapshot(f"{where} must be an object, not {type(data).__name__}.")
        _require(isinstance(data.get("level"), int) and data["level"] >= 1, where, "level")
        for key, kind in (
            ("after_level", int),
            ("delay_minutes", int | float),
            ("repeat_minutes", int),
        ):
            _require(isinstance(data.get(key, 0), kind) and data.get(key, 0) >= 0, where, key)
        for key in ("team_id", "schedule_id", "user_id"):
            _require(data.get(key) is None or isinstance(data[key], int), where, key)
        for key in ("name", "team", "role", "schedule", "user"):
            _require(isinstance(data.get(key) or "", str), where, key)
        condition = data.get("condition") or EscalationCondition.ALWAYS
        _require(condition in EscalationCondition.values, where, "condition")
        return cls(
            level=data["level"],
            name=data.get("name") or "",
            after_level=data.get("after_level", 0),
            delay_minutes=data.get("delay_minutes", 0),
            team_id=data.get("team_id"),
            team=data.get("team") or "",
            role=data.get("role") or "",
            schedule_id=data.get("schedule_id"),
            schedule=data.get("schedule") or "",
            user_id=data.get("user_id"),
            user=data.get("user") or "",
            repeat_minutes=data.get("repeat_minutes", DEFAULT_REPEAT_MINUTES),
            condition=condition,
            notify_only=bool(data.get("notify_only")),
        )


@dataclass(frozen=True)
class PolicySnapshot:
    policy: str
    levels: tuple[LevelSnapshot, ...] = ()
    warnings: tuple[float, ...] = ()  # shares of the response target: (0.5, 0.75)
    clock: str = Clock.ALWAYS  # the chain's clock: round the clock, or business hours (P4)
    version: int = VERSION

    @classmethod
    def load(cls, data) -> PolicySnapshot:
        if not isinstance(data, dict):
            raise InvalidSnapshot(f"The snapshot must be an object, not {type(data).__name__}.")
        version = data.get("version", 1)
        if version not in range(1, VERSION + 1):
            raise InvalidSnapshot(f"Snapshot version {version!r} is not known (≤ {VERSION}).")
        levels = data.get("levels", [])
        _require(isinstance(levels, list), "The snapshot", "levels")
        warnings = data.get("warnings", [])
        _require(
            isinstance(warnings, list)
            and all(isinstance(w, int | float) and 0 < w < 1 for w in warnings),
            "The snapshot",
            "warnings",
        )
        clock = data.get("clock") or Clock.ALWAYS
        _require(clock in Clock.values, "The snapshot", "clock")
        return cls(
            policy=str(data.get("policy") or ""),
            levels=tuple(
                LevelSnapshot.load(row, f"Level {i + 1} of the snapshot")
                for i, row in enumerate(levels)
            ),
            warnings=tuple(float(w) for w in warnings),
            clock=clock,
        )

    @classmethod
    def read(cls, data) -> PolicySnapshot:
        """``load`` of a snapshot read from the database: a text read before is not parsed
        again (a sweep reads a thousand clocks, mostly of the same few policies)."""
        text = getattr(data, "text", None)
        return _read_text(text) if text is not None else cls.load(data)

    def dump(self) -> dict:
        """The JSON stored on the clock (always the current version)."""
        return {
            "version": VERSION,
            "policy": self.policy,
            "warnings": list(self.warnings),
            "levels": [asdict(level) for level in self.levels],
            "clock": self.clock,
        }

    def chain(self) -> list[LevelSnapshot]:
        """The levels that raise the incident's level, lowest first (not the notify-only ones)."""
        return sorted((lv for lv in self.levels if not lv.notify_only), key=lambda lv: lv.level)

    def chain_level(self, level: int) -> LevelSnapshot | None:
        return next((lv for lv in self.chain() if lv.level == level), None)

    def notify_only(self) -> list[LevelSnapshot]:
        return [lv for lv in self.levels if lv.notify_only]

    @property
    def business_clock(self) -> bool:
        return self.clock == Clock.BUSINESS


def _require(ok: bool, where: str, key: str) -> None:
    if not ok:
        raise InvalidSnapshot(f"{where}: “{key}” is missing or invalid.")


class StoredSnapshot(dict):
    """A snapshot as read from the database, with the ``text`` it was read from."""

    text: str | None = None


@functools.lru_cache(maxsize=256)
def _read_text(text: str) -> PolicySnapshot:
    # Shared between clocks: a PolicySnapshot and its levels are frozen.
    return PolicySnapshot.load(json.loads(text))

"""The data a plan diff is made of: what changed, and what it means for callers.

Kept apart from the comparison (`sandbox/diff/compare.py`), the consequences
(`sandbox/diff/impact.py`) and the renderers (`sandbox/diff/render.py`) so each of those
imports the shapes without importing each other. Every value held here is already masked:
a renderer cannot leak a secret because it never receives one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

SECRET = "[secret]"  # the plan's mask (sandbox.program.runner.SECRET); repeated so this stays pure
# What a hand-made plan holds where a value is not known until deployment (docs/plan-format.md).
UNKNOWN = "<unknown>"
Kind = Literal["create", "update", "replace", "delete"]


class _Absent:
    """Marks a side of a field change where the input does not exist (added or removed)."""

    def __repr__(self) -> str:
        return "(absent)"


ABSENT: Any = _Absent()


@dataclass(frozen=True)
class FieldChange:
    """One changed input (or stack output) path, `old` / `new` may be ABSENT."""

    path: str
    old: Any
    new: Any
    forces_replacement: bool = False


@dataclass(frozen=True)
class Change:
    """One resource that the engine would create, update, replace or delete.

    `urn`/`name` describe the head side (the base side for a deletion); `old_urn`/`old_name`
    are set when a replacement comes from a rename (the URN itself changed).
    """

    kind: Kind
    urn: str
    type: str
    name: str
    custom: bool
    fields: tuple[FieldChange, ...] = ()
    old_urn: str | None = None
    old_name: str | None = None

    @property
    def renamed(self) -> bool:
        return self.old_urn is not None and self.old_urn != self.urn

    @property
    def label(self) -> str:
        if self.renamed and self.old_name != self.name:
            return f"{self.old_name} → {self.name}"
        return self.name


@dataclass(frozen=True)
class Consequence:
    """What a change does to callers, in plain words; `critical` drives exit code 3."""

    urn: str
    message: str
    critical: bool


@dataclass(frozen=True)
class PlanDiff:
    base_stack: str
    head_stack: str
    changes: tuple[Change, ...] = ()
    consequences: tuple[Consequence, ...] = ()
    outputs: tuple[FieldChange, ...] = ()
    unchanged: int = 0
    warnings: tuple[str, ...] = ()  # the two plans are not of one project and stack

    @property
    def counts(self) -> dict[Kind, int]:
        kinds: tuple[Kind, ...] = ("create", "update", "replace", "delete")
        return {kind: sum(1 for c in self.changes if c.kind == kind) for kind in kinds}

    @property
    def critical(self) -> tuple[Consequence, ...]:
        return tuple(c for c in self.consequences if c.critical)

    @property
    def has_changes(self) -> bool:
        return bool(self.changes or self.outputs)


def exit_code(diff: PlanDiff) -> int:
    """0 no change; 1 changes without identity-critical consequences; 3 identity-critical.
    (2 is the command line's usage error, SandboxError.exit_code.)"""
    if not diff.has_changes:
        return 0
    return 3 if diff.critical else 1

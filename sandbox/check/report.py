"""What a policy check found: the report that the runner builds and the renderers print."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Finding:
    rule: str
    number: int
    mirrors: str
    level: str
    severity: str
    urn: str
    resource_name: str
    resource_type: str
    message: str


@dataclass(frozen=True)
class CheckCounts:
    mandatory: int
    advisory: int
    rules_run: int
    rules_disabled: int
    resources: int


@dataclass(frozen=True)
class CheckReport:
    project: str
    stack: str
    findings: tuple[Finding, ...]
    counts: CheckCounts
    disabled_rules: tuple[str, ...]
    mandatory_failed: bool

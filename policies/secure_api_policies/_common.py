"""Shared plumbing: plain-data conversion, unknown values, messages and policy builders.

Every rule is a pure function over plain data. The builders here wrap those functions in
CrossGuard policy objects, so `pulumi preview --policy-pack policies` and the offline
`sandbox check` call exactly the same code.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pulumi_policy import (
    PolicyConfigSchema,
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

# The proxy classes are private, but they are the only way to read a CrossGuard property bag
# without tripping its unknown check: we want to see unknowns and say something useful about
# them instead of the engine's generic "can't run during preview" advisory.
from pulumi_policy.proxy import (
    UNKNOWN_ARCHIVE_VALUE,
    UNKNOWN_ARRAY_VALUE,
    UNKNOWN_ASSET_VALUE,
    UNKNOWN_BOOLEAN_VALUE,
    UNKNOWN_NUMBER_VALUE,
    UNKNOWN_OBJECT_VALUE,
    UNKNOWN_STRING_VALUE,
    _DictProxy,
    _ListProxy,
)

from .catalog import RULES

UNKNOWN = "<unknown>"
"""How a Plan (and, after `to_plain`, the engine) marks a value not known until deploy time."""

SECRET = "[secret]"
"""How a Plan masks a secret value; it cannot be inspected, only linked by dependency."""

Props = Mapping[str, Any]

_ENGINE_UNKNOWNS = frozenset(
    {
        UNKNOWN_ARCHIVE_VALUE,
        UNKNOWN_ARRAY_VALUE,
        UNKNOWN_ASSET_VALUE,
        UNKNOWN_BOOLEAN_VALUE,
        UNKNOWN_NUMBER_VALUE,
        UNKNOWN_OBJECT_VALUE,
        UNKNOWN_STRING_VALUE,
    }
)

GUID_RE = re.compile(
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
)


def to_plain(value: Any) -> Any:
    """Copy a (possibly proxied) property bag into dicts/lists, engine unknowns as UNKNOWN."""
    if isinstance(value, (_DictProxy, _ListProxy)):
        value = value["__target"]
    if isinstance(value, Mapping):
        return {str(k): to_plain(v) for k, v in value.items()}
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        return [to_plain(v) for v in value]
    if isinstance(value, str) and value in _ENGINE_UNKNOWNS:
        return UNKNOWN
    return value


def is_opaque(value: Any) -> bool:
    """True when a value exists but cannot be read: unknown at preview, or masked as a secret."""
    return isinstance(value, str) and value in (UNKNOWN, SECRET)


def get_path(props: Any, *keys: str) -> Any:
    """Read a nested property; None when absent, UNKNOWN when any step is opaque."""
    current = props
    for key in keys:
        if is_opaque(current):
            return UNKNOWN
        if not isinstance(current, Mapping):
            return None
        current = current.get(key)
    return current


def show(value: Any) -> str:
    """Render a property value the way a reader of the program would recognise it."""
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    return str(value)


def short_type(resource_type: str) -> str:
    """`azure-native:web:WebApp` -> `WebApp`; `azuread:index/x:ServicePrincipal` -> that."""
    return resource_type.rsplit(":", 1)[-1]


def label(resource_type: str, name: str) -> str:
    return f"{short_type(resource_type)} '{name}'"


def unverifiable(who: str, prop: str, fix: str) -> str:
    """The message for a mandatory check whose value is unknown at preview or masked."""
    return (
        f"{who} has {prop} unknown until deployment (or masked), so it cannot be verified: "
        f"{fix}, as a literal value in the program"
    )


def is_guid(value: Any) -> bool:
    return isinstance(value, str) and GUID_RE.match(value) is not None


@dataclass(frozen=True)
class StackResource:
    """One resource as a stack rule sees it: outputs as props, dependencies as URNs."""

    type: str
    name: str
    urn: str
    props: Props
    parent: str | None = None
    property_dependencies: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    dependencies: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        return label(self.type, self.name)

    def depends_on(self, prop: str, urn: str) -> bool:
        return urn in self.property_dependencies.get(prop, ())


@dataclass(frozen=True)
class Violation:
    """A stack-rule finding; `urn` None means the stack as a whole."""

    message: str
    urn: str | None = None


ResourceCheck = Callable[[Props, str], list[str]]
ConfiguredResourceCheck = Callable[[Props, str, Props], list[str]]
StackCheck = Callable[[Sequence[StackResource]], list[Violation]]


def _description(name: str) -> str:
    info = RULES[name]
    note = f" {info.note}" if info.note else ""
    if info.group == "deployability":
        return (
            f"Deployability (preflight): {info.title} (rule {info.number}; source: "
            f"{info.mirrors}).{note}"
        )
    return f"{info.title} (rule {info.number}; mirrors {info.mirrors}){note}"


def _common_kwargs(name: str) -> dict[str, Any]:
    info = RULES[name]
    return {
        "name": name,
        "description": _description(name),
        "enforcement_level": info.enforcement_level,
        "severity": info.severity,
        "tags": ["secure-api-calls", info.group, f"rule-{info.number}"],
    }


def _cited(name: str) -> Callable[[str], str]:
    """How a rule's messages read: a preflight finding names where the refusal comes from,
    because the reader has to trust a verdict about a service they cannot run offline."""
    info = RULES[name]
    if info.group != "deployability":
        return lambda message: message
    return lambda message: f"{message} (source: {info.mirrors})"


def resource_policy(
    name: str,
    checks: Mapping[str, ResourceCheck],
) -> ResourceValidationPolicy:
    """Wrap pure per-type checks (engine type token -> check) in a ResourceValidationPolicy."""
    return configured_resource_policy(
        name, {t: _ignore_config(c) for t, c in checks.items()}, config_schema=None
    )


def _ignore_config(check: ResourceCheck) -> ConfiguredResourceCheck:
    return lambda props, who, _config: check(props, who)


def configured_resource_policy(
    name: str,
    checks: Mapping[str, ConfiguredResourceCheck],
    config_schema: PolicyConfigSchema | None,
) -> ResourceValidationPolicy:
    cite = _cited(name)

    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        check = checks.get(args.resource_type)
        if check is None:
            return
        props = to_plain(args.props)
        config = to_plain(args.get_config())
        for message in check(props, label(args.resource_type, args.name), config):
            report_violation(cite(message), None)

    return ResourceValidationPolicy(
        validate=validate, config_schema=config_schema, **_common_kwargs(name)
    )


def stack_resources(resources: Iterable[PolicyResource]) -> list[StackResource]:
    """Turn CrossGuard's PolicyResource graph into plain records."""
    return [
        StackResource(
            type=r.resource_type,
            name=r.name,
            urn=r.urn,
            props=to_plain(r.props),
            parent=r.parent.urn if r.parent is not None else None,
            property_dependencies={
                k: tuple(d.urn for d in deps) for k, deps in r.property_dependencies.items()
            },
            dependencies=tuple(d.urn for d in r.dependencies),
        )
        for r in resources
    ]


def stack_policy(name: str, check: StackCheck) -> StackValidationPolicy:
    cite = _cited(name)

    def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        for violation in check(stack_resources(args.resources)):
            report_violation(cite(violation.message), violation.urn)

    return StackValidationPolicy(validate=validate, **_common_kwargs(name))

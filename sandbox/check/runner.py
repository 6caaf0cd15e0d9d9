"""`sandbox check`: the policy pack's own rule objects over a Plan, with no Pulumi engine.

The point is the same verdict as `pulumi preview --policy-pack policies`, offline. So this
module does not re-implement rules: it builds the argument objects CrossGuard builds
(`ResourceValidationArgs` with the inputs, `StackValidationArgs` with the outputs, both behind
the engine's unknown-checking proxy) and calls each policy's real `validate`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Iterator, Mapping, Sequence
from inspect import isawaitable
from pathlib import Path
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, UnknownValueError, unknown_checking_proxy

from policies.secure_api_policies import RULES, UNKNOWN, all_policies
from sandbox.check.render import (  # the formatters; re-exported as one API
    format_json,
    format_markdown,
    format_text,
    report_to_dict,
)
from sandbox.check.report import CheckCounts, CheckReport, Finding
from sandbox.errors import SandboxError, not_utf8, reason
from sandbox.plan import model as plans

_LEVELS = ("mandatory", "advisory", "remediate", "disabled")
_STACK_TYPE = "pulumi:pulumi:Stack"


# --- inputs -------------------------------------------------------------------------------


def validate_plan(plan: Any, *, source: str = "plan") -> None:
    """The plan module's validation, under the name the check has always used."""
    plans.validate_plan(plan, source)


def load_pack_config(path: Path | None) -> dict[str, Any]:
    """Read a `--policy-pack-config` JSON file ({} when no path is given)."""
    if path is None:
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise SandboxError(f"{path}: cannot read the policy pack config ({reason(err)})") from None
    except UnicodeDecodeError as err:
        raise SandboxError(f"{path}: the policy pack config {not_utf8(err)}") from None
    except json.JSONDecodeError as err:
        raise SandboxError(
            f"{path}: policy pack config is not JSON (line {err.lineno}: {err.msg}); "
            'write {"<policy-name>": {"enforcementLevel": "mandatory"}}'
        ) from err
    validate_pack_config(data, source=str(path))
    return dict(data)


def validate_pack_config(config: Any, *, source: str = "policy pack config") -> None:
    """Same shape `pulumi preview --policy-pack-config` accepts; unknown names are errors."""
    if not isinstance(config, Mapping):
        raise SandboxError(f'{source}: not a JSON object; write {{"<policy-name>": {{...}}}}')
    schemas = {p.name: p.config_schema for p in all_policies()}
    for name, value in config.items():
        if name != "all" and name not in schemas:
            raise SandboxError(
                f"{source}: unknown policy {name!r}; use one of the pack's policy names "
                "(see policies/README.md) or 'all'"
            )
        if isinstance(value, str):
            value = {"enforcementLevel": value}
        if not isinstance(value, Mapping):
            raise SandboxError(f"{source}: {name!r} must be a level string or an object")
        level = value.get("enforcementLevel", "advisory")
        if level not in _LEVELS:
            raise SandboxError(
                f"{source}: {name!r} has enforcementLevel {level!r}; use one of "
                + ", ".join(_LEVELS)
            )
        schema = schemas.get(name)
        allowed = set(schema.properties) if schema is not None else set()
        for key in sorted(set(value) - {"enforcementLevel"} - allowed):
            raise SandboxError(
                f"{source}: {name!r} has no option {key!r}"
                + (f"; options: {', '.join(sorted(allowed))}" if allowed else "")
            )


def _level_of(policy: Policy, config: Mapping[str, Any]) -> str:
    level = (policy.enforcement_level or EnforcementLevel.ADVISORY).value
    for key in ("all", policy.name):  # a named entry overrides "all", as in the engine
        entry = config.get(key)
        if isinstance(entry, str):
            level = entry
        elif isinstance(entry, Mapping) and "enforcementLevel" in entry:
            level = entry["enforcementLevel"]
    # Remediation cannot run offline; the engine likewise reports a remaining violation of a
    # remediate policy as mandatory.
    return "mandatory" if level == "remediate" else level


def _options_of(policy: Policy, config: Mapping[str, Any]) -> dict[str, Any]:
    entry = config.get(policy.name)
    if not isinstance(entry, Mapping):
        return {}
    return {k: v for k, v in entry.items() if k != "enforcementLevel"}


# --- running ------------------------------------------------------------------------------


def _engine_value(value: Any) -> Any:
    """Plan encoding -> engine encoding: "<unknown>" becomes CrossGuard's unknown sentinel."""
    if isinstance(value, Mapping):
        return {k: _engine_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_engine_value(v) for v in value]
    return UNKNOWN_STRING_VALUE if value == UNKNOWN else value


def _props(value: Mapping[str, Any]) -> Mapping[str, Any]:
    return unknown_checking_proxy(_engine_value(dict(value)))


def _options(res: Mapping[str, Any]) -> PolicyResourceOptions:
    return PolicyResourceOptions(
        protect=False,
        ignore_changes=[],
        delete_before_replace=None,
        aliases=[],
        custom_timeouts=PolicyCustomTimeouts(0, 0, 0),
        additional_secret_outputs=[],
        parent=res.get("parent"),
    )


def _outputs(res: Mapping[str, Any]) -> dict[str, Any]:
    outputs = dict(res.get("outputs") or res.get("inputs") or {})
    if "id" in res and "id" not in outputs:
        outputs["id"] = res["id"]  # the engine's outputs of azure resources carry their ID
    return outputs


def _stack_resources(resources: Sequence[Mapping[str, Any]]) -> list[PolicyResource]:
    built = {
        r["urn"]: PolicyResource(
            r["type"], _props(_outputs(r)), r["urn"], r["name"], _options(r), None, None, [], {}
        )
        for r in resources
    }
    for r in resources:
        res = built[r["urn"]]
        res.parent = built.get(r.get("parent") or "")
        res.dependencies = [built[u] for u in r.get("dependencies", []) if u in built]
        res.property_dependencies = {
            prop: [built[u] for u in urns if u in built]
            for prop, urns in (r.get("propertyDependencies") or {}).items()
        }
    return list(built.values())


def _run(validate_result: Any) -> None:
    if isawaitable(validate_result):

        async def wait() -> None:
            await validate_result

        asyncio.run(wait())


Found = list[tuple[str, str | None]]


def _validate(
    policy: Policy, resources: Sequence[Mapping[str, Any]], options: Any, found: Found
) -> None:
    """One policy over the Plan, with the argument objects the engine would build."""
    if isinstance(policy, ResourceValidationPolicy):
        for res in resources:
            args = ResourceValidationArgs(
                res["type"],
                _props(res.get("inputs") or {}),
                res["urn"],
                res["name"],
                _options(res),
                None,
                options,
            )
            with _refusing_crashes(policy, res):
                _run(policy.validate(args, _reporter(found, res["urn"])))
    elif isinstance(policy, StackValidationPolicy):
        stack_args = StackValidationArgs(_stack_resources(resources), options)
        with _refusing_crashes(policy, None):
            _run(policy.validate(stack_args, _reporter(found, None)))


@contextlib.contextmanager
def _refusing_crashes(policy: Policy, res: Mapping[str, Any] | None) -> Iterator[None]:
    """A rule that raises is no verdict. The engine does not catch it either: pulumi_policy's
    analyzer (policy.py, `analyze`) handles only UnknownValueError and _NotApplicableError, so
    anything else fails `pulumi preview --policy-pack`. Offline that is one line naming the rule
    and the resource (exit 2), with the cause chained for a debugger."""
    try:
        yield
    except UnknownValueError:
        raise
    except Exception as error:
        where = f"resource {res['name']} ({res['type']})" if res is not None else "the stack"
        raise SandboxError(
            f"policy '{policy.name}' failed on {where}: {error.__class__.__name__}: {error}; "
            "a value in the plan has a type the rule cannot read: check that resource's inputs"
        ) from error


def _reporter(found: Found, fixed_urn: str | None) -> ReportViolation:
    """A report_violation callback; resource policies always report on their own URN."""

    def report_violation(message: str, urn: str | None = None) -> None:
        found.append((message, fixed_urn if fixed_urn is not None else urn))

    return report_violation


def run_check(
    plan: Mapping[str, Any], pack_config: Mapping[str, Any], *, source: str = "plan"
) -> CheckReport:
    """Run every enabled policy of the pack over the Plan and collect the violations."""
    validate_plan(plan, source=source)
    validate_pack_config(pack_config)
    resources: list[Mapping[str, Any]] = list(plan["resources"])
    by_urn = {r["urn"]: r for r in resources}
    findings: list[Finding] = []
    disabled: list[str] = []

    def finding(policy: Policy, level: str, message: str, urn: str | None) -> Finding:
        info = RULES[policy.name]
        res = by_urn.get(urn or "")
        return Finding(
            rule=policy.name,
            number=info.number,
            mirrors=info.mirrors,
            level=level,
            severity=info.severity.value,
            urn=urn or "",
            resource_name=res["name"] if res else plan["stack"],
            resource_type=res["type"] if res else _STACK_TYPE,
            message=message,
        )

    policies = all_policies()
    for policy in policies:
        level = _level_of(policy, pack_config)
        if level == "disabled":
            disabled.append(policy.name)
            continue
        found: Found = []
        try:
            _validate(policy, resources, _options_of(policy, pack_config), found)
        except UnknownValueError as err:
            # What the engine does when a rule touches an unknown value: an advisory note.
            note = f"can't run policy '{policy.name}' during preview: {err.message}"
            findings.append(finding(policy, "advisory", note, None))
        findings += [finding(policy, level, msg, urn) for msg, urn in found]

    order = {"mandatory": 0, "advisory": 1}
    findings.sort(key=lambda f: (order.get(f.level, 2), f.number, f.rule, f.urn, f.message))
    mandatory = sum(f.level == "mandatory" for f in findings)
    return CheckReport(
        project=plan["project"],
        stack=plan["stack"],
        findings=tuple(findings),
        counts=CheckCounts(
            mandatory=mandatory,
            advisory=len(findings) - mandatory,
            rules_run=len(policies) - len(disabled),
            rules_disabled=len(disabled),
            resources=len(resources),
        ),
        disabled_rules=tuple(disabled),
        mandatory_failed=mandatory > 0,
    )


# --- output -------------------------------------------------------------------------------


__all__ = [
    "CheckCounts",
    "CheckReport",
    "Finding",
    "format_json",
    "format_markdown",
    "format_text",
    "load_pack_config",
    "report_to_dict",
    "run_check",
    "validate_pack_config",
    "validate_plan",
]

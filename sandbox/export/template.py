"""A Plan as an Azure Resource Manager template, for scanners that read ARM (Checkov --framework
arm): one resource per azure-native resource of the plan, its inputs as ARM would receive them.

Pure: plan in, template out; the API version of each type comes from an injected lookup
(sandbox/export/sdk_versions.py reads the installed SDK). Not a deployable template: no
dependsOn, parameters or expressions; values stay as the plan has them (secrets masked,
IDs resolved by the offline mocks). Resources that are not ARM resources (Entra objects,
pulumi-random passwords, components) and the resource group itself (a subscription-level
resource) are listed under `metadata.leftOut`, never silently dropped.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sandbox.export.arm_types import ENVELOPE, ArmType, Nested, arm_type

SCHEMA = "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#"
# Sub-resource keys that stay beside `properties` in ARM (the rest is flattened by the SDK).
_SUB_RESOURCE_TOP = frozenset({"name", "id", "type", "etag"})
ApiVersions = Callable[[str], str]


def _plain(value: Any) -> Any:
    """Numbers as JSON writes them: the engine hands every number over as a float."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _nest(value: Any, nested: Nested) -> Any:
    """Put each sub-resource's flattened inputs back under its own `properties`."""
    if isinstance(value, list):
        return [_nest(item, nested) for item in value]
    if not isinstance(value, dict):
        return value
    top = {k: v for k, v in value.items() if k in _SUB_RESOURCE_TOP}
    body = {k: v for k, v in value.items() if k not in _SUB_RESOURCE_TOP}
    for key, inner in nested.items():
        if key in body:
            body[key] = _nest(body[key], inner)
    return {**top, "properties": body} if body else top


def _rename(resource: dict[str, Any], renames: Mapping[str, str]) -> None:
    for source, target in renames.items():
        *path, leaf = source.split(".")
        holder: Any = resource
        for key in path:
            holder = holder.get(key) if isinstance(holder, dict) else None
        if isinstance(holder, dict) and leaf in holder:
            holder[target.rsplit(".", 1)[1]] = holder.pop(leaf)


def _name(kind: ArmType, inputs: Mapping[str, Any], fallback: str) -> str:
    parts = [
        part[1:] if part.startswith("=") else str(inputs.get(part) or fallback)
        for part in kind.name_parts
    ]
    return "/".join(parts)


def arm_resource(
    token: str, inputs: Mapping[str, Any], kind: ArmType, version: str, name: str
) -> dict[str, Any]:
    """One plan resource's inputs as an ARM template resource."""
    body = _plain(dict(inputs))
    skip = set(kind.name_parts) | kind.dropped | ({kind.scope_input} if kind.scope_input else set())
    resource: dict[str, Any] = {
        "type": kind.arm_type,
        "apiVersion": version,
        "name": _name(kind, body, name),
    }
    if kind.scope_input and body.get(kind.scope_input):
        resource["scope"] = body[kind.scope_input]
    for key in sorted(ENVELOPE & body.keys()):
        resource[key] = body[key]
    rest = {k: v for k, v in body.items() if k not in skip and k not in ENVELOPE}
    if kind.explicit_properties:
        if "properties" in rest:
            resource["properties"] = rest.pop("properties")
    else:
        for key, inner in kind.nested.items():
            if key in rest:
                rest[key] = _nest(rest[key], inner)
        resource["properties"] = rest
    _rename(resource, kind.renames)
    return resource


def to_template(plan: Mapping[str, Any], api_versions: ApiVersions) -> dict[str, Any]:
    """The plan's ARM resources as a template document (deterministic order: the plan's)."""
    resources: list[dict[str, Any]] = []
    left_out: list[str] = []
    for res in plan["resources"]:
        if not res.get("custom", True):
            continue
        kind = arm_type(res["type"])
        if kind is None:
            left_out.append(f"{res['type']} {res['name']}")
            continue
        version = api_versions(res["type"])
        resources.append(
            arm_resource(res["type"], res.get("inputs", {}), kind, version, res["name"])
        )
    return {
        "$schema": SCHEMA,
        "contentVersion": "1.0.0.0",
        "metadata": {
            "generator": "secure-api-calls export-arm",
            "project": plan.get("project"),
            "stack": plan.get("stack"),
            "leftOut": sorted(left_out),
        },
        "resources": resources,
    }

"""Human output for plans: a resource tree like `pulumi preview`'s, and the stack outputs."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import Any

import yaml


def tree_lines(plan: Mapping[str, Any]) -> list[str]:
    """`+ type name` rows under the stack, children indented under their parent."""
    children: dict[str | None, list[Mapping[str, Any]]] = defaultdict(list)
    for resource in plan["resources"]:
        children[resource["parent"]].append(resource)
    for siblings in children.values():
        siblings.sort(key=lambda r: (r["type"], r["name"]))
    rows: list[tuple[str, str]] = [("pulumi:pulumi:Stack", f"{plan['project']}-{plan['stack']}")]

    def walk(parent: str | None, prefix: str) -> None:
        kids = children.get(parent, [])
        for index, resource in enumerate(kids):
            last = index == len(kids) - 1
            rows.append((f"{prefix}{'└─ ' if last else '├─ '}{resource['type']}", resource["name"]))
            walk(resource["urn"], prefix + ("   " if last else "│  "))

    walk(None, "")
    width = max(len(kind) for kind, _ in rows) + 2
    lines = [f"     {'Type':<{width}}Name"]
    lines += [f" +   {kind:<{width}}{name}" for kind, name in rows]
    return lines


def summary_line(plan: Mapping[str, Any]) -> str:
    total = len(plan["resources"]) + 1  # + the stack itself, as pulumi counts it
    custom = sum(1 for r in plan["resources"] if r["custom"])
    masked = len(plan.get("masked", []))
    return (
        f"Resources: + {total} to create ({custom} cloud resources, {total - custom} components); "
        f"{masked} secret values masked. Offline plan: no cloud was contacted."
    )


def outputs_text(plan: Mapping[str, Any]) -> str:
    return yaml.safe_dump(plan["outputs"], sort_keys=True, default_flow_style=False).rstrip()


def masked_lines(plan: Mapping[str, Any]) -> list[str]:
    """Where the masked secrets are (resource name and property path); never their values."""
    names = {r["urn"]: r["name"] for r in plan["resources"]}
    lines = []
    for path in plan.get("masked", []):
        urn, _, where = path.partition("#")
        lines.append(f"    {names.get(urn, 'stack')}: {where}")
    return ["Secrets masked (values never written or shown):", *lines] if lines else []

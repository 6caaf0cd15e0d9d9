"""Small lookups over a Plan dict, shared by the tests."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

Resource = Mapping[str, Any]


def of_type(plan: Mapping[str, Any], suffix: str) -> list[Resource]:
    """Resources whose type token ends with `suffix` (e.g. ':WebApp')."""
    return [r for r in plan["resources"] if r["type"].endswith(suffix)]


def named(plan: Mapping[str, Any], name: str) -> Resource:
    matches = [r for r in plan["resources"] if r["name"] == name]
    assert len(matches) == 1, f"expected one resource named {name}, found {len(matches)}"
    return matches[0]


def by_urn(plan: Mapping[str, Any], urn: str) -> Resource:
    return next(r for r in plan["resources"] if r["urn"] == urn)

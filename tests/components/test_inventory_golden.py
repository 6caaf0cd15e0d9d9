"""A golden inventory of (type, name, parent): any URN-changing rename is a reviewed diff.

Regenerate after an intended change with `UPDATE_GOLDEN=1 make test`, then review the diff.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

GOLDEN = Path(__file__).parent / "golden"


def inventory(plan: dict[str, Any]) -> str:
    names = {r["urn"]: r["name"] for r in plan["resources"]}
    rows = sorted(
        (r["type"], r["name"], names.get(r["parent"], "-") if r["parent"] else "-")
        for r in plan["resources"]
    )
    return "".join(f"{kind}  {name}  {parent}\n" for kind, name, parent in rows)


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_resource_inventory_matches_the_reviewed_golden_file(
    stack: str, request: pytest.FixtureRequest
) -> None:
    plan = request.getfixturevalue(f"{stack}_plan")
    path = GOLDEN / f"inventory-{stack}.txt"
    actual = inventory(plan)
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.write_text(actual)
    assert actual == path.read_text(), f"inventory changed; review and regenerate {path.name}"

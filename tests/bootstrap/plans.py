"""The bootstrap program planned offline, and ways to find things in (and mutate) its plan."""

from __future__ import annotations

import copy
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml

from bootstrap.config import PROJECT
from sandbox.plan.model import build_plan
from sandbox.program.runner import run_program
from tests.fixture_stacks import BOOTSTRAP as FIXTURE_BOOTSTRAP
from tests.fixture_stacks import CI, stack_document

ROOT = Path(__file__).resolve().parents[2]
BOOTSTRAP = ROOT / "bootstrap"
REPO = "contoso/secure-api-calls"
SUB = "7c1e4b2a-9d3f-4a6e-8b5c-2f0d1e3a4b5c"
DEV_GROUP = f"/subscriptions/{SUB}/resourceGroups/rg-contoso-dev"
PROD_GROUP = f"/subscriptions/{SUB}/resourceGroups/rg-contoso-prod"

Plan = dict[str, Any]
Resource = Mapping[str, Any]


def key(name: str) -> str:
    return f"{PROJECT}:{name}"


def ci_config() -> dict[str, Any]:
    document = stack_document("ci", FIXTURE_BOOTSTRAP)
    config: dict[str, Any] = document["config"]
    return config


def raw_ci() -> dict[str, Any]:
    """The sample config as parse_config receives it (keys without the namespace)."""
    prefix = f"{PROJECT}:"
    return {k[len(prefix) :]: v for k, v in copy.deepcopy(ci_config()).items()}


def environment(config: dict[str, Any], name: str) -> dict[str, Any]:
    """One entry of `environments` in a full (namespaced) config, to edit in place."""
    entries: list[dict[str, Any]] = config[key("environments")]
    return next(e for e in entries if e["name"] == name)


def plan_ci() -> Plan:
    return build_plan(run_program("ci", BOOTSTRAP, config_file=CI))


def plan_with(tmp_path: Path, edit: Callable[[dict[str, Any]], None], stack: str) -> Plan:
    """The bootstrap program planned offline with `Pulumi.ci.yaml` changed by `edit`."""
    shutil.copy(BOOTSTRAP / "__main__.py", tmp_path / "__main__.py")
    shutil.copy(BOOTSTRAP / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    config = copy.deepcopy(ci_config())
    edit(config)
    (tmp_path / f"Pulumi.{stack}.yaml").write_text(yaml.safe_dump({"config": config}))
    return build_plan(run_program(stack, tmp_path))


def of_type(plan: Plan, suffix: str) -> list[Resource]:
    return [r for r in plan["resources"] if r["type"].endswith(suffix)]


def named(plan: Plan, name: str) -> dict[str, Any]:
    matches: list[dict[str, Any]] = [r for r in plan["resources"] if r["name"] == name]
    assert len(matches) == 1, name
    return matches[0]


def principal_of(plan: Plan, identity: str) -> str:
    object_id: str = named(plan, f"{identity}-sp")["outputs"]["objectId"]
    return object_id


def assignments_of(plan: Plan, identity: str) -> list[Resource]:
    principal = principal_of(plan, identity)
    return [r for r in of_type(plan, ":RoleAssignment") if r["inputs"]["principalId"] == principal]


def graph_grants_of(plan: Plan, identity: str) -> list[Resource]:
    principal = principal_of(plan, identity)
    return [
        r
        for r in of_type(plan, ":AppRoleAssignment")
        if r["inputs"]["principalObjectId"] == principal
    ]


def role_and_scope(assignment: Resource) -> tuple[str, str]:
    role = assignment["inputs"]["roleDefinitionId"].rsplit("/", 1)[-1]
    return role, assignment["inputs"]["scope"]


def set_prop(resource: dict[str, Any], prop: str, value: Any) -> None:
    """Change a property as the engine would see it: in the inputs and the outputs."""
    for side in ("inputs", "outputs"):
        if side in resource:
            resource[side][prop] = value


def add_resource(plan: Plan, like: str, name: str, **props: Any) -> dict[str, Any]:
    """A copy of resource `like` under a new name and URN, with `props` changed."""
    template = named(plan, like)
    added = copy.deepcopy(template)
    added["name"] = name
    added["urn"] = template["urn"].rsplit("::", 1)[0] + f"::{name}"
    for prop, value in props.items():
        set_prop(added, prop, value)
    # A changed property no longer comes from the template's dependency.
    deps = added.get("propertyDependencies") or {}
    added["propertyDependencies"] = {k: v for k, v in deps.items() if k not in props}
    plan["resources"].append(added)
    return added

"""The Plan: the one currency of the sandbox (format in docs/plan-format.md).

A Plan is what `pulumi preview` would know if every output were known: every resource with
its URN, type, name, parent, inputs, synthesized outputs and dependencies, plus the stack
outputs. Secrets are masked before anything is written or shown, and their paths listed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from sandbox.errors import SandboxError
from sandbox.output import write_text
from sandbox.program.runner import PROJECT_DIR, SECRET, ProgramRun, run_program

FORMAT = "secure-api-calls-plan"
VERSION = 1
MAKE_PLAN = "create one with `secure-api-calls plan --stack dev --out plan.json`"
# Keys a hand-made plan may leave out, and the JSON types they must have when present.
OPTIONAL_KEYS: dict[str, tuple[type, ...]] = {
    "parent": (str, type(None)),
    "custom": (bool,),
    "outputs": (dict,),
    "dependencies": (list,),
    "propertyDependencies": (dict,),
}


def _masked_paths(value: Any, path: str) -> Iterator[str]:
    if value == SECRET:
        yield path
    elif isinstance(value, dict):
        for key in sorted(value):
            yield from _masked_paths(value[key], f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _masked_paths(item, f"{path}[{index}]")


def build_plan(run: ProgramRun) -> dict[str, Any]:
    resources = [
        {
            "urn": r.urn,
            "type": r.type,
            "name": r.name,
            "parent": r.parent,
            "custom": r.custom,
            "inputs": r.inputs,
            "outputs": r.outputs,
            "dependencies": r.dependencies,
            "propertyDependencies": r.property_dependencies,
        }
        for r in sorted(run.resources, key=lambda r: r.urn)
    ]
    masked = [
        path
        for resource in resources
        for part in ("inputs", "outputs")
        for path in _masked_paths(resource[part], f"{resource['urn']}#{part}")
    ]
    masked += list(_masked_paths(run.outputs, "#outputs"))
    return {
        "format": FORMAT,
        "version": VERSION,
        "project": run.project,
        "stack": run.stack,
        "resources": resources,
        "outputs": run.outputs,
        "masked": masked,
    }


def plan_stack(
    stack: str, project_dir: Path = PROJECT_DIR, *, config_file: Path | None = None
) -> dict[str, Any]:
    return build_plan(run_program(stack, project_dir, config_file=config_file))


def plan_stack_with_notes(
    stack: str, project_dir: Path = PROJECT_DIR, *, config_file: Path | None = None
) -> tuple[dict[str, Any], tuple[str, ...]]:
    """The plan, and the warnings about the config it was planned from (for stderr)."""
    run = run_program(stack, project_dir, config_file=config_file)
    return build_plan(run), run.notes


def dumps(plan: Mapping[str, Any]) -> str:
    """Deterministic text: the same config gives a byte-identical file."""
    return json.dumps(plan, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write_plan(plan: Mapping[str, Any], out: str | Path) -> str:
    """Write the plan to a file or `-` (stdout); see sandbox.output for what is never replaced."""
    return write_text(out, dumps(plan))


def load_plan(path: Path) -> dict[str, Any]:
    """Read and validate a plan file; every problem is one line naming the fix."""
    hint = MAKE_PLAN
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SandboxError(f"{path}: no such file; {hint}") from None
    except IsADirectoryError:
        raise SandboxError(f"{path}: is a directory, not a plan file; {hint}") from None
    except (OSError, UnicodeDecodeError) as error:
        raise SandboxError(f"{path}: cannot read ({error.__class__.__name__}); {hint}") from None
    try:
        plan = json.loads(text)
    except json.JSONDecodeError as error:
        raise SandboxError(
            f"{path}: not JSON (line {error.lineno}, column {error.colno}: {error.msg}); {hint}"
        ) from None
    validate_plan(plan, str(path), hint)
    return dict(plan)


def validate_plan(plan: Any, where: str, hint: str = MAKE_PLAN) -> None:
    """Refuse anything that is not a Plan, in one line with the fix. Hand-made plans may leave
    out the optional keys (parent, custom, outputs, dependencies, propertyDependencies)."""

    def bad(problem: str) -> SandboxError:
        return SandboxError(f"{where}: {problem}; {hint}")

    if not isinstance(plan, dict):
        raise bad("not a secure-api-calls plan (the top level is not a JSON object)")
    if plan.get("format") != FORMAT:
        got = "missing 'format'" if "format" not in plan else f"format is {plan['format']!r}"
        raise bad(f"not a secure-api-calls plan ({got})")
    if plan.get("version") != VERSION:
        raise bad(f"plan version {plan.get('version')!r} is not supported (expected {VERSION})")
    for key, kind_name, kind in (("project", "str", str), ("stack", "str", str)):
        if not isinstance(plan.get(key), kind):
            raise bad(f"'{key}' is missing or not a {kind_name}")
    if not isinstance(plan.get("resources"), list):
        raise bad("'resources' is missing or not a list")
    if not isinstance(plan.get("outputs", {}), dict):
        raise bad("'outputs' is not an object")
    masked = plan.get("masked", [])
    if not isinstance(masked, list) or not all(isinstance(path, str) for path in masked):
        raise bad("'masked' is not a list of strings (paths such as '<urn>#inputs.<path>')")
    seen: set[str] = set()
    for index, resource in enumerate(plan["resources"]):
        at = f"resources[{index}]"
        if not isinstance(resource, dict):
            raise bad(f"{at} is not an object")
        for key in ("urn", "type", "name"):
            if not isinstance(resource.get(key), str) or not resource[key]:
                raise bad(f"{at} has no '{key}' string")
        for key, kinds in OPTIONAL_KEYS.items():
            if key in resource and not isinstance(resource[key], kinds):
                raise bad(f"{at} ({resource['name']}): '{key}' is not {kinds[0].__name__}")
        if not isinstance(resource.get("inputs"), dict):
            raise bad(f"{at} ({resource['name']}): 'inputs' is missing or not an object")
        if resource["urn"] in seen:
            raise bad(f"{at} repeats URN {resource['urn']}")
        seen.add(resource["urn"])

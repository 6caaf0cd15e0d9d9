"""The test suite's own stacks (tests/fixtures), never the user's Pulumi.<stack>.yaml.

Every test that plans, rehearses or diagnoses a stack names one of these files as its config
file, as `pulumi --config-file` does, so a user's edits or extra stack files never change what
`make test` sees.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import runpy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pulumi
import yaml

PROJECT = Path(__file__).resolve().parents[1]  # the product: Pulumi.yaml, __main__.py
FIXTURES = Path(__file__).resolve().parent / "fixtures"
STACKS = FIXTURES / "stacks"
BOOTSTRAP = FIXTURES / "bootstrap"
DEV = STACKS / "Pulumi.dev.yaml"
PROD = STACKS / "Pulumi.prod.yaml"
CI = BOOTSTRAP / "Pulumi.ci.yaml"
# The day the fixture plans are made on (components/key_rotation.clock_pinned): the prod
# fixture rotates every 30 days from 2025-01-06, so this is generation 2, 3 days past a boundary.
TODAY = dt.date(2025, 3, 10)


def stack_file(stack: str, folder: Path = STACKS) -> Path:
    path = folder / f"Pulumi.{stack}.yaml"
    assert path.is_file(), f"no fixture stack {path}"
    return path


def stack_document(stack: str = "dev", folder: Path = STACKS) -> dict[str, Any]:
    """A fresh, mutable copy of a fixture stack file's YAML document."""
    document: dict[str, Any] = yaml.safe_load(stack_file(stack, folder).read_text("utf-8"))
    return document


def plan_variant(
    tmp_path: Path, change: Callable[[dict[str, Any]], None], stack: str = "dev"
) -> dict[str, Any]:
    """The fixture stack with one change to its config, planned as `pulumi --config-file`
    would (a copy in tmp_path; the fixture itself is never touched)."""
    from sandbox.plan.model import plan_stack

    document = stack_document(stack)
    change(document["config"])
    path = tmp_path / f"Pulumi.{stack}.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return plan_stack(stack, config_file=path)


def config_file_args(stack: str = "dev", folder: Path = STACKS) -> list[str]:
    """The command-line arguments that plan a fixture stack."""
    return ["--stack", stack, "--config-file", str(stack_file(stack, folder))]


def run_fixture_program(
    mocks: pulumi.runtime.Mocks,
    stack: str = "dev",
    monitor: Any = None,
) -> None:
    """The real __main__.py under a harness's own mocks (preview=False), with the fixture stack's
    config handed over the plain way a harness would (no CLI rules: that is what it tests)."""
    # An earlier asyncio.run() in this worker may have left no current loop; the SDK needs one.
    asyncio.set_event_loop(asyncio.new_event_loop())
    pulumi.runtime.set_mocks(
        mocks, project="secure-api-calls", stack=stack, preview=False, monitor=monitor
    )
    config = stack_document(stack)["config"]
    pulumi.runtime.set_all_config(
        {k: v if isinstance(v, str) else json.dumps(v) for k, v in config.items()}
    )

    @pulumi.runtime.test
    def run() -> None:
        runpy.run_path(str(PROJECT / "__main__.py"), run_name="__main__")

    run()

"""The program runs under any harness's mocks: no crash when outputs are not synthesized."""

from __future__ import annotations

import asyncio
import json
import runpy
from pathlib import Path
from typing import Any

import pulumi
import pytest

from tests.fixture_stacks import stack_document

ROOT = Path(__file__).resolve().parents[1]


class BareMocks(pulumi.runtime.Mocks):
    """Echo inputs (or return nothing at all); answer every function with an empty result."""

    def __init__(self, echo: bool) -> None:
        self.echo = echo
        self.created: list[tuple[str, str]] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        self.created.append((args.typ, args.name))
        return f"{args.name}_id", dict(args.inputs) if self.echo else {}

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:
        return {}


@pytest.mark.parametrize("echo", [True, False], ids=["echoing inputs", "returning nothing"])
def test_the_dev_program_registers_every_resource_under_bare_mocks(echo: bool) -> None:
    mocks = BareMocks(echo)
    # An earlier asyncio.run() in this worker (the managed-identity emulator test) leaves no
    # current loop, and the SDK's mocks need one.
    asyncio.set_event_loop(asyncio.new_event_loop())
    pulumi.runtime.set_mocks(mocks, project="secure-api-calls", stack="dev", preview=False)
    document = stack_document("dev")
    pulumi.runtime.set_all_config(
        {k: v if isinstance(v, str) else json.dumps(v) for k, v in document["config"].items()}
    )

    @pulumi.runtime.test
    def run() -> None:
        runpy.run_path(str(ROOT / "__main__.py"), run_name="__main__")

    run()
    kinds = {kind.rsplit(":", 1)[-1] for kind, _ in mocks.created}
    assert {
        "ApplicationRegistration",
        "ServicePrincipal",
        "WebApp",
        "AppRoleAssignment",
        "ApiPolicy",
        "ApiOperationPolicy",
        "Subscription",
        "Vault",
        "Secret",
        "WebAppAuthSettingsV2",
    } <= kinds
    assert len(mocks.created) == 112

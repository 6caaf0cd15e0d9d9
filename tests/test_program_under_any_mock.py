"""The program runs under any harness's mocks: no crash when outputs are not synthesized."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pulumi
import pytest

from tests.fixture_stacks import run_fixture_program

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
    run_fixture_program(mocks)
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

"""What the program sends, secrets included: the dev program under the sandbox's own mocks,
with every input recorded as the monitor received it and secrets unwrapped (the Plan masks
them, so tests that compare secret values read them here)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pulumi
import pytest
from pulumi.runtime import rpc

from sandbox.program.mocks import StackMocks
from tests.fixture_stacks import run_fixture_program

ROOT = Path(__file__).resolve().parents[2]


def _unwrapped(value: Any) -> Any:
    if rpc.is_rpc_secret(value):
        return _unwrapped(rpc.unwrap_rpc_secret(value))
    if isinstance(value, dict):
        return {key: _unwrapped(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_unwrapped(item) for item in value]
    return value


class RevealingMocks(StackMocks):
    def __init__(self, stack: str) -> None:
        super().__init__(stack)
        self.sent: dict[str, dict[str, Any]] = {}  # resource name -> inputs, secrets revealed
        self.returned: dict[str, dict[str, Any]] = {}  # resource name -> outputs, revealed

    def new_resource(
        self, args: pulumi.runtime.MockResourceArgs
    ) -> tuple[str | None, dict[str, Any]]:
        resource_id, outputs = super().new_resource(args)
        self.sent[args.name] = _unwrapped(dict(args.inputs))
        self.returned[args.name] = _unwrapped(outputs)
        return resource_id, outputs


@pytest.fixture(scope="session")
def revealed_dev() -> RevealingMocks:
    mocks = RevealingMocks("dev")
    run_fixture_program(mocks)
    return mocks

"""Plans of the real stacks, made once per test process under mocks (preview=False)."""

from __future__ import annotations

from typing import Any

import pytest

from sandbox.plan.model import plan_stack


@pytest.fixture(scope="session")
def dev_plan() -> dict[str, Any]:
    return plan_stack("dev")


@pytest.fixture(scope="session")
def prod_plan() -> dict[str, Any]:
    return plan_stack("prod")

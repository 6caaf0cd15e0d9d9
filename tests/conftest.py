"""Plans of the fixture stacks, made once per test process under mocks (preview=False)."""

from __future__ import annotations

from typing import Any

import pytest

from components.key_rotation import clock_pinned
from sandbox.plan.model import plan_stack
from tests.fixture_stacks import DEV, PROD, TODAY


@pytest.fixture(scope="session")
def dev_plan() -> dict[str, Any]:
    with clock_pinned(TODAY):
        return plan_stack("dev", config_file=DEV)


@pytest.fixture(scope="session")
def prod_plan() -> dict[str, Any]:
    with clock_pinned(TODAY):
        return plan_stack("prod", config_file=PROD)

"""One rehearsal served for the verify tests of a module (servers start in about a second)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.sandbox.verify.verify_helpers import Served, served


@pytest.fixture(scope="module")
def rehearsal(dev_plan: dict[str, Any]) -> Iterator[Served]:
    with served(dev_plan) as running:
        yield running

"""`diff` says a scheduled key rotation is a rotation: its own line, not identity-critical;
both slots remade at once is critical."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from components.key_rotation import clock_pinned
from sandbox.diff.compare import diff_plans, exit_code, format_text, replace_keys
from sandbox.plan.model import build_plan, dumps
from sandbox.program.runner import run_program
from tests.fixture_stacks import PROD, TODAY

Plan = dict[str, Any]


def prod_on(day: dt.date) -> Plan:
    with clock_pinned(day):
        plan: Plan = json.loads(dumps(build_plan(run_program("prod", config_file=PROD))))
    return plan


@pytest.fixture(scope="module")
def today() -> Plan:
    return prod_on(TODAY)


def test_a_plan_of_the_same_day_is_no_change(today: Plan) -> None:
    assert exit_code(diff_plans(today, prod_on(TODAY + dt.timedelta(days=5)))) == 0


def test_one_period_later_each_subscription_rotates_one_slot_as_a_note(today: Plan) -> None:
    diff = diff_plans(today, prod_on(TODAY + dt.timedelta(days=30)))
    assert exit_code(diff) == 1
    slots = [c for c in diff.changes if c.type.endswith(":RandomPassword")]
    assert {c.name for c in slots} == {
        "orders-storefront-keys-slot-b",
        "orders-reporting-keys-slot-b",
        "inventory-storefront-keys-slot-b",
        "orders-verification-keys-slot-b",
        "inventory-verification-keys-slot-b",
    }
    assert {c.kind for c in slots} == {"replace"}
    rotation = [
        c.message for c in diff.consequences if "orders-storefront: key rotation" in c.message
    ]
    assert len(rotation) == 1
    assert "generation 3" in rotation[0]
    assert "previous key (slot a) stays valid" in rotation[0]
    assert not diff.critical
    # The secrets update in place (value masked, new expiry); nothing is replaced but the slots.
    secrets = [c for c in diff.changes if c.type.endswith(":Secret")]
    assert {c.kind for c in secrets} == {"update"}
    assert all(f.path == "properties.attributes.expires" for c in secrets for f in c.fields)
    assert "key rotation to generation 3" in format_text(diff)


def test_two_periods_at_once_remake_both_slots_and_that_is_identity_critical(
    today: Plan,
) -> None:
    diff = diff_plans(today, prod_on(TODAY + dt.timedelta(days=60)))
    assert exit_code(diff) == 3
    critical = [c.message for c in diff.critical]
    assert len(critical) == 3  # one per consumer subscription; verify's keys are notes
    assert all("both keys are regenerated in one deploy" in m for m in critical)


def test_every_random_password_input_forces_a_new_password() -> None:
    assert {"keepers", "length", "special"} <= replace_keys(
        "random:index/randomPassword:RandomPassword"
    )

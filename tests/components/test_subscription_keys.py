"""The two key slots of a subscription and how a rotation alternates them."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from components.key_rotation import clock_pinned
from components.subscription_keys import SubscriptionKeysArgs, slot_generations
from sandbox.plan.model import plan_stack
from tests.fixture_stacks import PROD, TODAY
from tests.plan_helpers import named


def test_the_first_generation_makes_both_slots_and_slot_a_is_the_primary() -> None:
    assert slot_generations(0) == (0, 0, "a")


@pytest.mark.parametrize("generation", range(1, 8))
def test_each_rotation_remakes_only_the_older_slot_which_becomes_the_primary(
    generation: int,
) -> None:
    before_a, before_b, before_newest = slot_generations(generation - 1)
    after_a, after_b, newest = slot_generations(generation)
    assert newest != before_newest
    remade = {"a": after_a != before_a, "b": after_b != before_b}
    assert remade == {"a": newest == "a", "b": newest == "b"}
    assert max(after_a, after_b) == generation


def test_a_negative_generation_is_refused() -> None:
    with pytest.raises(ValueError, match="starts at 0"):
        SubscriptionKeysArgs(sid="orders-storefront", generation=-1)


# --- the schedule in the plan (keyRotation on the prod fixture: every 30 days from 2025-01-06)


def _keepers(plan: dict[str, Any], pair: str) -> dict[str, str]:
    return {
        slot: named(plan, f"{pair}-keys-slot-{slot}")["inputs"]["keepers"]["generation"]
        for slot in ("a", "b")
    }


def _expires(plan: dict[str, Any], pair: str) -> dt.datetime:
    secret = named(plan, f"key-vault-apim-key-{pair}")["inputs"]["properties"]
    return dt.datetime.fromtimestamp(secret["attributes"]["expires"], dt.UTC)


def test_the_prod_plan_is_at_the_generation_its_schedule_gives_for_the_pinned_day(
    prod_plan: dict[str, Any],
) -> None:
    # 2025-03-10 is 63 days after the start: generation 2, made in slot a, b still from 1.
    assert _keepers(prod_plan, "orders-storefront") == {"a": "2", "b": "1"}
    assert _expires(prod_plan, "orders-storefront") == dt.datetime(2025, 5, 6, tzinfo=dt.UTC)


def test_a_plan_one_period_later_remakes_only_the_older_slot() -> None:
    later = plan_stack_on(TODAY + dt.timedelta(days=30))
    assert _keepers(later, "orders-storefront") == {"a": "2", "b": "3"}
    assert _expires(later, "orders-storefront") == dt.datetime(2025, 6, 5, tzinfo=dt.UTC)


def test_a_stack_without_a_schedule_stays_at_generation_zero_and_sets_no_expiry(
    dev_plan: dict[str, Any],
) -> None:
    assert _keepers(dev_plan, "orders-storefront") == {"a": "0", "b": "0"}
    secret = named(dev_plan, "key-vault-apim-key-orders-storefront")["inputs"]["properties"]
    assert "attributes" not in secret


def plan_stack_on(day: dt.date) -> dict[str, Any]:
    with clock_pinned(day):
        return plan_stack("prod", config_file=PROD)

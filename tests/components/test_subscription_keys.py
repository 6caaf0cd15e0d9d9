"""The two key slots of a subscription and how a rotation alternates them."""

from __future__ import annotations

import pytest

from components.subscription_keys import SubscriptionKeysArgs, slot_generations


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

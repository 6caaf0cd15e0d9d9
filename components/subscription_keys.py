"""The two keys of one APIM subscription, generated once by the stack as Pulumi secrets.

The stack sets both keys itself instead of reading APIM's back with the subscription's
list-secrets action: neither `preview` nor `up` then needs an action that reads secrets, and
the keys live only in the (encrypted) state, on the Subscription and in the consumer's Key
Vault secret.

Two slots, a and b, so a rotation never cuts a caller off: each rotation raises the
`generation` by one, which regenerates the *older* slot only (its `keepers` change; pulumi-random
replaces a resource whose keepers change). The newest slot becomes the primary key and goes to
Key Vault; the previous key stays valid as the secondary until the next rotation, while the Web
Apps pick the new value up (Key Vault references are re-read within 24 hours or on a restart).
The generation comes from the stack's `keyRotation` schedule and the day the program runs
(components/key_rotation.py); without a schedule it stays 0.

A jump of two or more generations at once (no deploy for a whole period) remakes both slots:
the key a consumer holds then stops working until it re-reads its reference; `diff` reports
that as identity-critical (sandbox/diff/impact_keys.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_random as random

# APIM's own keys are 32 alphanumeric characters; a key in a header must not need escaping.
KEY_LENGTH = 32


def slot_generations(generation: int) -> tuple[int, int, str]:
    """(generation slot a was made in, generation slot b was made in, the newest slot).

    0 -> both made at 0, a newest; 1 -> b remade, b newest; 2 -> a remade, a newest; ...
    """
    if generation < 0:
        raise ValueError("the rotation generation starts at 0")
    if generation == 0:
        return 0, 0, "a"
    if generation % 2:
        return generation - 1, generation, "b"
    return generation, generation - 1, "a"


@dataclass(frozen=True)
class SubscriptionKeysArgs:
    sid: str  # the APIM subscription the keys belong to
    generation: int = 0  # raised by one per rotation

    def __post_init__(self) -> None:
        slot_generations(self.generation)


class SubscriptionKeys(pulumi.ComponentResource):
    """Slot a and slot b (RandomPassword, secret), and which of them is the primary key."""

    primary: pulumi.Output[str]
    secondary: pulumi.Output[str]

    def __init__(
        self, name: str, args: SubscriptionKeysArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("secure-api-calls:gateway:SubscriptionKeys", name, None, opts)
        made_a, made_b, newest = slot_generations(args.generation)
        slots = {
            slot: random.RandomPassword(
                f"{name}-slot-{slot}",
                length=KEY_LENGTH,
                special=False,
                upper=True,
                lower=True,
                numeric=True,
                keepers={"sid": args.sid, "slot": slot, "generation": str(made)},
                opts=pulumi.ResourceOptions(parent=self),
            )
            for slot, made in (("a", made_a), ("b", made_b))
        }
        # `result` is a secret output of RandomPassword; secret() keeps it so under any engine.
        self.primary = pulumi.Output.secret(slots[newest].result)
        self.secondary = pulumi.Output.secret(slots["b" if newest == "a" else "a"].result)
        self.register_outputs({"newestSlot": newest})

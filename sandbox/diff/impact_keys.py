"""Consequences of subscription-key changes: a scheduled rotation reads as a rotation.

Each APIM subscription holds two keys, slots a and b (components/subscription_keys.py). A
rotation (keyRotation) remakes one slot: its new key becomes the primary and goes to Key Vault
(after APIM accepts it), the other slot's key stays valid until the next rotation, so every
consumer keeps working while App Service re-reads its Key Vault reference (within 24 hours;
learn.microsoft.com/azure/app-service/app-service-key-vault-references, "Rotation"). That is
a note, not identity-critical. Both slots remade in one deploy (a deploy missed for a whole
period, or a schedule changed) is critical: the key the consumer holds stops working at once.
"""

from __future__ import annotations

from collections.abc import Callable

from components.naming import VERIFICATION
from sandbox.diff.model import Change
from sandbox.diff.names import Names, Resource, Said, members, owner


def _key_slot(ch: Change, old: Resource | None, new: Resource | None, n: Names) -> Said:
    if ch.kind != "replace" or old is None or new is None:
        return []  # created or deleted with its subscription, whose own rule speaks
    was, now = members(old, "inputs", "keepers"), members(new, "inputs", "keepers")
    if was is None or now is None:
        # "<unknown>" (hand-made plans) or not an object: which slot of which subscription
        # is remade cannot be told, and a new password is a new subscription key.
        return [
            (
                f"subscription key {ch.label} of {owner(new)} is regenerated, and the plan does "
                "not say which slot (its keepers are unknown): review whether the key its "
                "consumer holds stops working.",
                True,
            )
        ]
    if was.get("sid") != now.get("sid"):
        return []  # another subscription: the Subscription's replacement says it
    sid, slot = str(now.get("sid") or owner(new)), str(now.get("slot"))
    other = "b" if slot == "a" else "a"
    remade = n.slots_remade.get(owner(new), set())
    both = {"a", "b"} <= remade
    if both and slot != "a":
        return []  # one sentence per subscription
    if sid.endswith(f"-{VERIFICATION}"):
        # No Web App holds this key: verify reads it from the stack output after `up`.
        what = "both keys are" if both else f"the key in slot {slot} is"
        return [(f"subscription {sid}: {what} regenerated; verify reads the new primary.", False)]
    if both:
        return [
            (
                f"subscription {sid}: both keys are regenerated in one deploy (slot a: generation "
                f"{was.get('generation')} → {now.get('generation')}): the key its consumer holds "
                "stops working: 401 until the app re-reads its Key Vault reference (restart it, "
                "or up to 24 h). A rotation remakes one slot at a time: deploy at least once per "
                "keyRotation period, and do not change keyRotation.start or days.",
                True,
            )
        ]
    if was.get("generation") != now.get("generation"):
        return [
            (
                f"subscription {sid}: key rotation to generation {now.get('generation')}: slot "
                f"{slot} gets a new key, which becomes the primary and is written to Key Vault "
                f"secret apim-key-{sid} once APIM accepts it; the previous key (slot {other}) "
                "stays valid until the next rotation while the consumer re-reads the secret "
                "(within 24 h).",
                False,
            )
        ]
    return [
        (
            f"subscription {sid}: slot {slot} gets a new key (its settings changed); the key in "
            f"slot {other} stays valid.",
            False,
        )
    ]


KEY_RULES: dict[str, Callable[[Change, Resource | None, Resource | None, Names], Said]] = {
    "RandomPassword": _key_slot,
}

"""Resources the program creates further down, usable now as a `depends_on` input.

Pulumi's `depends_on` takes an Input (pulumi/resource.py, ResourceOptions.depends_on:
"Input[Union[Sequence[Input[Resource]], Resource]]"), and the SDK awaits it before it registers
the resource (pulumi/runtime/_depends_on.py). A future resolved later in the program is such an
input: the dependent resource is registered once the future holds the resources, and the engine
then orders it after them. The stack needs this once: each Key Vault key secret must be written
after the APIM subscription that accepts the key, but the secrets exist before the gateway's
APIs do (the Web Apps need the secrets, and the APIs' policies need the Web Apps' identities).

A promise nobody keeps would hang the program: the SDK waits for every outstanding registration
even after the program failed (pulumi/runtime/stack.py, run_pulumi_func -> wait_for_rpcs). So
every promise is recorded when it is made, and `settle_open` empties those still open; the stack
calls it in a `finally` once its body has run (components/stack.py `build`). A promise is never
kept by the event loop on its own: the program's plain (blocking) invokes run the loop nested
(pulumi/runtime/sync_await.py), and a loop-driven fallback could fire in the middle of the body.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence

import pulumi

_OPEN: list[Later] = []


class Later:
    """A promise of resources: `resources` goes into depends_on, `resolve` fulfils it once."""

    def __init__(self) -> None:
        loop = asyncio.get_event_loop()
        self._future: asyncio.Future[Sequence[pulumi.Resource]] = loop.create_future()
        _OPEN.append(self)

    @property
    def resources(self) -> pulumi.Input[Sequence[pulumi.Resource]]:
        return self._future

    def resolve(self, resources: Iterable[pulumi.Resource]) -> None:
        if not self._future.done():
            self._future.set_result(list(resources))
        if self in _OPEN:
            _OPEN.remove(self)

    @property
    def resolved(self) -> bool:
        return self._future.done()


def settle_open() -> None:
    """Keep every promise still open with no resources (a failed or unfinished program body)."""
    for promise in list(_OPEN):
        promise.resolve(())

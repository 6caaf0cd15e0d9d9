"""A promise of resources for depends_on: kept by the program, or emptied once the program
body is done, so a failed program never leaves a registration waiting."""

from __future__ import annotations

import asyncio

from components.later import Later


def test_what_the_program_resolves_is_what_the_dependent_waits_for() -> None:
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        later = Later()
        marker = object()  # stands for a resource: the promise only carries it
        later.resolve([marker])
        later.resolve([])  # a second resolve changes nothing
        assert loop.run_until_complete(asyncio.wait_for(later.resources, timeout=5)) == [marker]
    finally:
        loop.close()


def test_a_promise_the_program_never_kept_is_empty_after_the_first_turn_of_the_loop() -> None:
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        later = Later()
        assert not later.resolved  # the program body runs before the loop turns
        assert loop.run_until_complete(asyncio.wait_for(later.resources, timeout=5)) == []
    finally:
        loop.close()

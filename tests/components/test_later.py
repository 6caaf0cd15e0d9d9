"""A promise of resources for depends_on: kept by the program, or emptied once the program
body has run, so a failed program never leaves a registration waiting."""

from __future__ import annotations

import asyncio

from components.later import Later, settle_open


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


def test_a_promise_the_program_never_kept_is_emptied_when_the_body_is_done() -> None:
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        later = Later()
        loop.run_until_complete(asyncio.sleep(0))  # a nested loop turn (a plain invoke) ...
        assert not later.resolved  # ... does not keep it on the program's behalf
        settle_open()
        assert loop.run_until_complete(asyncio.wait_for(later.resources, timeout=5)) == []
    finally:
        loop.close()


def test_a_failing_program_body_leaves_no_promise_open(monkeypatch) -> None:
    import pytest

    from components import stack

    made: list[Later] = []

    def failing_body(*_: object) -> dict[str, object]:
        made.append(Later())
        raise RuntimeError("the body failed")

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        monkeypatch.setattr(stack, "_declare", failing_body)
        with pytest.raises(RuntimeError):
            stack.build(None, "dev", None)  # type: ignore[arg-type]
        assert made[0].resolved
    finally:
        loop.close()

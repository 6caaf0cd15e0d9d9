"""When subscription keys rotate: a schedule, a clock, and pure functions between them.

A stack with `keyRotation: {days: N, start: YYYY-MM-DD}` is at generation
`floor((today - start) / N)` (0 before the start), computed when the program runs, so every
`pulumi up` on or after a boundary rotates once: subscription_keys.py regenerates the older of
the two key slots, which becomes the primary. The previous key stays valid as the secondary for
one more period, the grace in which every consumer re-reads its Key Vault reference (App
Service re-fetches references every 24 hours; learn.microsoft.com/azure/app-service/
app-service-key-vault-references, "Rotation"). So a period must be longer than the deploy
cadence plus that day: config.py allows 14-365 days, against the deploy workflow's weekly run.

The clock is the one impure input, and it is injectable: `today()` reads it, `clock_pinned`
replaces it (tests and offline plans pin a date, so a plan is reproducible).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager

Clock = Callable[[], dt.date]

# A start date as a stack file may spell it: quoted (`"2025-01-06"`), or unquoted, which the
# Pulumi CLI hands over as RFC 3339 at top level and as Go's time.String() inside an object
# (sandbox/program/go_yaml.py GoTime). Only midnight UTC: a rotation boundary is a UTC day.
_DATE_FORMS = (
    re.compile(r"(\d{4}-\d{2}-\d{2})"),
    re.compile(r"(\d{4}-\d{2}-\d{2})T00:00:00Z"),
    re.compile(r"(\d{4}-\d{2}-\d{2}) 00:00:00 \+0000 UTC"),
)


def utc_today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


_clock: Clock = utc_today


def today() -> dt.date:
    """The date the program rotates by: the UTC day, unless a clock is pinned."""
    return _clock()


@contextmanager
def clock_pinned(day: dt.date) -> Iterator[None]:
    """Run the program as if today were `day` (tests, reproducible offline plans)."""
    global _clock
    previous = _clock
    _clock = lambda: day  # noqa: E731 (a clock is a callable)
    try:
        yield
    finally:
        _clock = previous


def parse_start(text: str) -> dt.date | None:
    """The start date, or None when `text` is not one of the accepted spellings."""
    for form in _DATE_FORMS:
        if match := form.fullmatch(text.strip()):
            try:
                return dt.date.fromisoformat(match.group(1))
            except ValueError:
                return None
    return None


def generation(start: dt.date, days: int, on: dt.date) -> int:
    """How many full periods of `days` have passed since `start` on day `on` (0 before it)."""
    if days < 1:
        raise ValueError("a rotation period is at least one day")
    return max((on - start).days, 0) // days


def boundary(start: dt.date, days: int, generation_: int) -> dt.datetime:
    """The moment generation `generation_` begins: midnight UTC of its first day."""
    day = start + dt.timedelta(days=days * generation_)
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)


def key_expires(start: dt.date, days: int, generation_: int) -> int:
    """When the newest key of `generation_` may stop working, in seconds since 1970 (Key
    Vault's `exp`): its slot is regenerated at generation + 2, after one period as the primary
    and one as the secondary (the grace)."""
    return int(boundary(start, days, generation_ + 2).timestamp())

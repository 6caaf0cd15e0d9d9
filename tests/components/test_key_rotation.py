"""The rotation schedule: a pure function of the start, the period and a pinned day."""

from __future__ import annotations

import copy
import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from components import key_rotation
from components.config import ConfigError, parse_config
from components.subscription_keys import slot_generations
from tests.fixture_stacks import stack_document

ROOT = Path(__file__).resolve().parents[2]
START = dt.date(2025, 1, 6)


def test_the_generation_is_zero_until_a_full_period_has_passed() -> None:
    assert key_rotation.generation(START, 30, dt.date(2024, 12, 1)) == 0  # before the start
    assert key_rotation.generation(START, 30, START) == 0
    assert key_rotation.generation(START, 30, START + dt.timedelta(days=29)) == 0
    assert key_rotation.generation(START, 30, START + dt.timedelta(days=30)) == 1
    assert key_rotation.generation(START, 30, START + dt.timedelta(days=95)) == 3


def test_the_newest_key_expires_when_its_slot_is_remade_two_generations_later() -> None:
    expires = key_rotation.key_expires(START, 30, 2)
    assert dt.datetime.fromtimestamp(expires, dt.UTC) == dt.datetime(2025, 5, 6, tzinfo=dt.UTC)
    # ...which is exactly when slot_generations remakes the slot that generation 2 made.
    made_a, _, newest = slot_generations(2)
    assert (newest, made_a) == ("a", 2)
    assert slot_generations(4)[0] == 4


@given(st.integers(min_value=14, max_value=365), st.integers(min_value=0, max_value=3000))
def test_the_previous_key_outlives_the_day_the_next_one_arrives_by_a_whole_period(
    days: int, offset: int
) -> None:
    today = START + dt.timedelta(days=offset)
    generation = key_rotation.generation(START, days, today)
    # The key that became primary today is written with an expiry at least one full period
    # after the next rotation, when it turns secondary: the grace consumers re-read it in.
    next_rotation = key_rotation.boundary(START, days, generation + 1)
    grace = dt.datetime.fromtimestamp(key_rotation.key_expires(START, days, generation), dt.UTC)
    assert grace - next_rotation == dt.timedelta(days=days)
    assert grace - dt.datetime(today.year, today.month, today.day, tzinfo=dt.UTC) > dt.timedelta(
        days=days
    )


@pytest.mark.parametrize(
    "text", ["2025-01-06", "2025-01-06T00:00:00Z", "2025-01-06 00:00:00 +0000 UTC", " 2025-01-06 "]
)
def test_a_start_date_is_read_in_every_form_the_cli_hands_over(text: str) -> None:
    assert key_rotation.parse_start(text) == START


@pytest.mark.parametrize("text", ["2025-13-01", "06.01.2025", "2025-01-06T10:00:00Z", "soon"])
def test_anything_but_a_utc_day_is_not_a_start_date(text: str) -> None:
    assert key_rotation.parse_start(text) is None


def test_a_pinned_clock_is_what_the_program_reads_and_it_is_restored_after() -> None:
    with key_rotation.clock_pinned(dt.date(2030, 1, 1)):
        assert key_rotation.today() == dt.date(2030, 1, 1)
    assert key_rotation.today() == key_rotation.utc_today()


def _raw_with(rotation: dict[str, Any]) -> dict[str, Any]:
    document = stack_document("prod")
    prefix = "secure-api-calls:"
    raw = {k[len(prefix) :]: v for k, v in document["config"].items() if k.startswith(prefix)}
    raw = copy.deepcopy(raw)
    raw["keyRotation"] = rotation
    return raw


@pytest.mark.parametrize(
    ("rotation", "expected"),
    [
        ({"days": 7, "start": "2025-01-06"}, "keyRotation.days: 7 is too small: at least 14"),
        ({"days": 30}, "keyRotation: set both days and start"),
        ({"start": "2025-01-06"}, "keyRotation: set both days and start"),
        ({"days": 30, "start": "next monday"}, "keyRotation: start 'next monday' is not a date"),
        ({"day": 30}, "keyRotation.day: unknown key"),
    ],
)
def test_a_bad_rotation_schedule_is_one_line_naming_the_key(
    rotation: dict[str, Any], expected: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(_raw_with(rotation), "prod", ROOT)
    assert expected in str(caught.value)
    assert "\n" not in str(caught.value)


def test_no_schedule_means_no_rotation() -> None:
    config = parse_config(_raw_with({}), "prod", ROOT)
    assert not config.key_rotation.enabled

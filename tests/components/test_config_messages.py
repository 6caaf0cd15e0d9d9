"""Config errors speak YAML to the stack's author: whatever key of a real stack is given the
wrong kind of value, the one line names the key and says list, mapping, text, number or
true/false — never Python's None or pydantic's type names."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from components.config import ConfigError, decode_values, parse_config
from components.config_errors import OFFLINE_SECRET
from tests.fixture_stacks import stack_document

ROOT = Path(__file__).resolve().parents[2]
LIBRARY_WORDS = ("None", "Tuple", "tuple", "dictionary", "Input should", "instance of", "Field ")
WRONG_VALUES: list[Any] = [None, "", "text", 42, [], {"a": 1}]


def _raw(stack: str) -> dict[str, Any]:
    config = stack_document(stack)["config"]
    prefix = "secure-api-calls:"
    return {k[len(prefix) :]: v for k, v in config.items() if k.startswith(prefix)}


def _paths(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if path:
        yield path
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _paths(item, (*path, index))


def _with(raw: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    changed = copy.deepcopy(raw)
    holder: Any = changed
    for part in path[:-1]:
        holder = holder[part]
    holder[path[-1]] = value
    return changed


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_key_given_a_wrong_value_gets_one_line_in_yaml_terms(stack: str) -> None:
    raw = _raw(stack)
    seen = 0
    for path in _paths(raw):
        for value in WRONG_VALUES:
            try:
                parse_config(_with(raw, path, value), stack, ROOT)
            except ConfigError as error:
                message = str(error)
                seen += 1
                assert "\n" not in message, message
                assert message.startswith("config secure-api-calls:"), message
                assert not any(word in message for word in LIBRARY_WORDS), message
    assert seen > 100  # the sweep really produced errors


def test_a_misspelled_nested_key_suggests_the_key_it_resembles() -> None:
    raw = _raw("dev")
    raw["gateway"]["publsherEmail"] = raw["gateway"].pop("publisherEmail")
    with pytest.raises(ConfigError) as caught:
        parse_config(raw, "dev", ROOT)
    assert str(caught.value).startswith(
        "config secure-api-calls:gateway.publsherEmail: unknown key 'publsherEmail' "
        "(did you mean 'publisherEmail'?)"
    )


@pytest.mark.parametrize(
    "path",
    [("gateway", "publisherEmail"), ("namePrefix",), ("location",), ("apis", 0, "backendUrl")],
)
def test_a_secure_value_the_offline_tools_cannot_decrypt_is_named_as_such_with_the_way_out(
    path: tuple[Any, ...],
) -> None:
    # The offline stand-in for a `secure:` value (sandbox/program/stack_file.py), in a key whose
    # value is checked: the line says why it cannot pass offline, not that it is malformed.
    raw = _with(_raw("dev"), path, OFFLINE_SECRET)
    with pytest.raises(ConfigError) as refused:
        parse_config(
            decode_values(
                {k: json.dumps(v) if not isinstance(v, str) else v for k, v in raw.items()}
            ),
            "dev",
            ROOT,
        )
    message = str(refused.value)
    assert "secure: value the offline tools cannot decrypt" in message
    assert "--config-file" in message
    assert "JSON" not in message


def test_a_text_key_that_starts_like_json_stays_text() -> None:
    assert decode_values({"namePrefix": "[draft", "apis": "[]"}) == {
        "namePrefix": "[draft",
        "apis": [],
    }

"""A pydantic validation error as one line in the words of the stack file's author.

The author writes YAML, so a problem is said in YAML's terms (a list, a mapping, text, a whole
number), names the key path as written in `Pulumi.<stack>.yaml`, and never shows Python's
`None` or pydantic's type names. A misspelled key is reported as the unknown key it is, with
the closest known key, before the required key its misspelling leaves missing.
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic.alias_generators import to_camel

Loc = tuple[int | str, ...]

# What the offline tools hand the program in place of a `secure:` value they cannot decrypt
# (sandbox/program/stack_file.py); under the real CLI the program gets the plaintext. A value
# refused for being this stand-in is said as such, with the way out.
OFFLINE_SECRET = "[secret]"
_OFFLINE_SECRET_HINT = (
    "it is a secure: value the offline tools cannot decrypt, and this key's value is checked; "
    "keep it in clear text in the stack file, or plan a copy with a clear value (--config-file)"
)

_SHAPES = {
    "tuple_type": "should be a list",
    "list_type": "should be a list",
    "dict_type": "should be a mapping (key: value)",
    "model_type": "should be a mapping (key: value)",
    "model_attributes_type": "should be a mapping (key: value)",
    "string_type": "should be text",
    "int_type": "should be a whole number",
    "int_parsing": "should be a whole number",
    "int_from_float": "should be a whole number",
    "bool_type": "should be true or false",
    "bool_parsing": "should be true or false",
}


def key_path(loc: Loc) -> str:
    """`apis[0].operations[1].roles`, as the key is written in the stack file."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _model_of(annotation: Any) -> type[BaseModel] | None:
    """The model a field holds, through Optional, tuples, dicts and Annotated."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _model_of(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType, tuple, list, dict):
        for arg in typing.get_args(annotation):
            if (found := _model_of(arg)) is not None:
                return found
    return None


def known_keys(root: type[BaseModel], loc: Loc) -> list[str]:
    """The keys the model accepts at the mapping that holds `loc`'s last key."""
    model: type[BaseModel] | None = root
    for part in loc[:-1]:
        if model is None:
            return []
        if isinstance(part, int):
            continue
        field = next(
            (f for name, f in model.model_fields.items() if (f.alias or to_camel(name)) == part),
            None,
        )
        model = _model_of(field.annotation) if field is not None else None
    if model is None:
        return []
    return [f.alias or to_camel(name) for name, f in model.model_fields.items()]


def _shown(value: Any) -> str:
    if value is None or value == "":
        return "no value"
    return repr(value) if isinstance(value, str) else str(value)


def describe(error: Mapping[str, Any], root: type[BaseModel]) -> str:
    if error.get("input") == OFFLINE_SECRET and error["type"] not in ("extra_forbidden", "missing"):
        return _OFFLINE_SECRET_HINT
    kind, ctx, given = error["type"], error.get("ctx") or {}, error.get("input")
    if kind == "extra_forbidden":
        key = str(error["loc"][-1])
        close = difflib.get_close_matches(key, known_keys(root, error["loc"]), n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        return f"unknown key '{key}'{hint}; see the configuration reference in README.md"
    if kind == "missing":
        return "required key is missing"
    if given is None or given == "":
        # The CLI hands an empty YAML value (`key:`) over as an empty string.
        return "has no value; give it one (an empty YAML value is read as an empty string)"
    if kind in _SHAPES:
        return f"{_SHAPES[kind]}, not {_shown(given)}"
    if kind == "too_short":
        return f"should be a list with at least {ctx.get('min_length', 1)} item(s)"
    if kind == "too_long":
        return f"should be a list with at most {ctx.get('max_length')} item(s)"
    if kind == "string_pattern_mismatch":
        return f"{_shown(given)} is not allowed: it must match {ctx['pattern']}"
    if kind == "string_too_short":
        return f"{_shown(given)} is too short: at least {ctx.get('min_length')} characters"
    if kind == "string_too_long":
        return f"is too long: at most {ctx.get('max_length')} characters"
    if kind == "literal_error":
        return f"{_shown(given)} is not allowed; expected {ctx['expected']}"
    if kind in ("greater_than_equal", "greater_than"):
        return f"{_shown(given)} is too small: at least {ctx.get('ge', ctx.get('gt'))}"
    if kind in ("less_than_equal", "less_than"):
        return f"{_shown(given)} is too large: at most {ctx.get('le', ctx.get('lt'))}"
    return str(error["msg"]).removeprefix("Value error, ")


def first_problem(error: ValidationError, root: type[BaseModel]) -> tuple[str, str]:
    """(key path, message) of the error to show: an unknown key before anything else, since
    a misspelled key is why its correctly spelled twin is missing."""
    errors: Sequence[Mapping[str, Any]] = error.errors()
    chosen = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
    return key_path(chosen["loc"]), describe(chosen, root)

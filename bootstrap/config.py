"""The strict configuration model of the bootstrap stack (`Pulumi.<stack>.yaml`).

Like `components/config.py`: unknown keys are errors, and every error is one line that names
the key path and what is allowed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool, ValidationError
from pydantic.alias_generators import to_camel

PROJECT = "secure-api-calls-bootstrap"

_GUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
# A subscription, or one resource group in it: the only scopes a deployment identity gets.
SCOPE_PATTERN = rf"^/subscriptions/{_GUID}(/resourceGroups/[-\w._()]{{1,90}})?$"
_SUBSCRIPTION = re.compile(rf"^/subscriptions/({_GUID})")

Repository = Annotated[
    str, Field(pattern=r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$")
]
# GitHub environment names become part of the OIDC subject; keep them to plain stack names
# (no spaces, no wildcards) so the federated credential subject is exact.
Environment = Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{0,29}$")]
Scope = Annotated[str, Field(pattern=SCOPE_PATTERN)]


class ConfigError(ValueError):
    """A configuration problem, in one line: the key path, what is wrong, what is allowed."""


class BootstrapConfig(BaseModel):
    model_config = ConfigDict(
        extra="forbid", frozen=True, alias_generator=to_camel, populate_by_name=False
    )

    github_repository: Repository
    environments: Annotated[tuple[Environment, ...], Field(min_length=1)]
    scope: Scope | dict[str, Scope]
    grant_graph_permissions: StrictBool = False
    preview_reads_subscription_keys: StrictBool = False

    def scope_of(self, environment: str) -> str:
        return self.scope if isinstance(self.scope, str) else self.scope[environment]

    @property
    def all_scopes(self) -> tuple[str, ...]:
        """Every distinct scope, in environment order (a shared scope appears once)."""
        return tuple(dict.fromkeys(self.scope_of(env) for env in self.environments))


def subscription_of(scope: str) -> str:
    match = _SUBSCRIPTION.match(scope)
    if match is None:
        raise ValueError(f"'{scope}' is not a subscription or resource group ID")
    return match.group(1)


def _cross_check(config: BootstrapConfig) -> tuple[str, str] | None:
    """Facts one field cannot check alone, as (key path, message)."""
    seen: set[str] = set()
    for i, env in enumerate(config.environments):
        if env in seen:
            return f"environments[{i}]", f"'{env}' appears twice"
        seen.add(env)
    if isinstance(config.scope, dict):
        for env in config.environments:
            if env not in config.scope:
                return "scope", f"no scope for environment '{env}'; add 'scope.{env}'"
        for env in config.scope:
            if env not in config.environments:
                return f"scope.{env}", f"'{env}' is not one of environments {list(seen)}"
    return None


_UNION_TAGS = frozenset({"constrained-str", "dict[str,constrained-str]"})
_SCOPE_SHAPE = "must be one scope, or a map of environment to scope"


def _describe(error: Mapping[str, Any]) -> tuple[str, str]:
    """(key path, message) for one pydantic error; union member tags are not part of the path."""
    loc = tuple(part for part in error["loc"] if part not in _UNION_TAGS)
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    kind = error["type"]
    if kind == "extra_forbidden":
        return text, "unknown key (check the spelling; see docs/first-deployment.md)"
    if kind == "missing":
        return text, "required key is missing"
    if kind in ("string_type", "dict_type") and loc == ("scope",):
        return text, _SCOPE_SHAPE
    if kind == "string_pattern_mismatch" and error["ctx"]["pattern"] == SCOPE_PATTERN:
        return text, (
            f"'{error['input']}' is not a scope; use /subscriptions/<id> or "
            "/subscriptions/<id>/resourceGroups/<name>"
        )
    if kind == "string_pattern_mismatch" and loc == ("githubRepository",):
        return text, f"'{error['input']}' is not OWNER/REPO (e.g. contoso/secure-api-calls)"
    if kind == "string_pattern_mismatch":
        return text, f"'{error['input']}' does not match {error['ctx']['pattern']}"
    if kind == "bool_type":
        return text, f"{error['input']!r} is not a boolean; write true or false"
    return text, str(error["msg"])


def _first(errors: list[Any]) -> Any:
    """A wrong scope fails both union members; report the one the value was written for."""
    pointed = [
        e
        for e in errors
        if not (e["loc"][:1] == ("scope",) and e["type"] in ("string_type", "dict_type"))
    ]
    return (pointed or errors)[0]


def parse_config(raw: Mapping[str, Any]) -> BootstrapConfig:
    """Parse `{key: value}` (keys without the project namespace) or raise one ConfigError."""
    try:
        config = BootstrapConfig.model_validate(dict(raw))
    except ValidationError as error:
        path, message = _describe(_first(error.errors()))
        raise ConfigError(f"config {PROJECT}:{path}: {message}") from None
    problem = _cross_check(config)
    if problem is not None:
        raise ConfigError(f"config {PROJECT}:{problem[0]}: {problem[1]}")
    return config


def decode_values(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Pulumi hands structured values over as JSON strings, and booleans as strings."""
    decoded: dict[str, Any] = {}
    for key, value in raw.items():
        if isinstance(value, str) and (value[:1] in ("{", "[") or value in ("true", "false")):
            try:
                value = json.loads(value)
            except json.JSONDecodeError:
                raise ConfigError(f"config {PROJECT}:{key}: not valid JSON") from None
        decoded[key] = value
    return decoded

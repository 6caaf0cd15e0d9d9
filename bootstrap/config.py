"""The strict configuration model of the bootstrap stack (`Pulumi.<stack>.yaml`).

Like `components/config.py`: unknown keys are errors, and every error is one line that names
the key path and what is allowed. The rules that keep the pipeline from escalating live here
too, so a config that asks for them is refused before anything is planned: a permission that
can grant permissions only for a protected environment, and each environment in its own group.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, ValidationError
from pydantic.alias_generators import to_camel

PROJECT = "secure-api-calls-bootstrap"

_GUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
# One resource group: the bootstrap creates it and scopes the environment's deployer to it.
RESOURCE_GROUP_PATTERN = rf"^/subscriptions/{_GUID}/resourceGroups/[-\w._()]{{1,90}}$"
_GROUP = re.compile(rf"^/subscriptions/({_GUID})/resourceGroups/(.+)$")

Repository = Annotated[
    str, Field(pattern=r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$")
]
# GitHub environment names become part of the OIDC subject; keep them to plain stack names
# (no spaces, no wildcards) so the federated credential subject is exact.
EnvironmentName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{0,29}$")]
ResourceGroupId = Annotated[str, Field(pattern=RESOURCE_GROUP_PATTERN)]
Location = Annotated[str, Field(pattern=r"^[a-z0-9]{3,30}$")]

# The Microsoft Graph application permissions the main stack's Entra resources need
# (docs/ci.md, "Microsoft Graph"): owned registrations and service principals, app-role
# assignments, and the read that Microsoft pairs with them.
GRAPH_PERMISSIONS = (
    "Application.ReadWrite.OwnedBy",
    "AppRoleAssignment.ReadWrite.All",
    "Application.Read.All",
)
GraphPermission = Literal[
    "Application.ReadWrite.OwnedBy", "AppRoleAssignment.ReadWrite.All", "Application.Read.All"
]
# What the preview identity may hold: reads only. The program reads each Web App's client ID
# from Graph (components/consumer_app.py, azuread.get_service_principal by object ID), an
# invoke that runs at preview too; the provider's service_principal data source needs
# Application.Read.All (or Directory.Read.All).
READ_ONLY_GRAPH_PERMISSIONS = ("Application.Read.All",)
# Permissions that can grant permissions (the Graph permissions reference: "Permissions that
# allow granting authorization, such as AppRoleAssignment.ReadWrite.All, allow an application
# to grant additional privileges to itself, other applications, or any user").
PERMISSION_GRANTING = frozenset({"AppRoleAssignment.ReadWrite.All"})
# learn.microsoft.com/graph/api/serviceprincipal-post-approleassignedto, "Permissions":
# application, least privileged: "AppRoleAssignment.ReadWrite.All and Application.Read.All".
REQUIRED_PAIRS = {"AppRoleAssignment.ReadWrite.All": "Application.Read.All"}

# Keys of earlier versions, with what replaced them (a typo gets the generic message).
_REMOVED = {
    "scope": "each environment now names its own group: environments[].resourceGroup",
    "grantGraphPermissions": "list them per environment: environments[].graphPermissions",
    "previewReadsSubscriptionKeys": (
        "previews read no secret any more (the stack sets the keys itself; docs/ci.md)"
    ),
}


class ConfigError(ValueError):
    """A configuration problem, in one line: the key path, what is wrong, what is allowed."""


class _Model(BaseModel):
    model_config = ConfigDict(
        extra="forbid", frozen=True, alias_generator=to_camel, populate_by_name=False
    )


class EnvironmentConfig(_Model):
    """One GitHub environment, named like the main project's stack it deploys."""

    name: EnvironmentName
    resource_group: ResourceGroupId
    # The GitHub environment has required reviewers (configured in GitHub, docs/ci.md).
    protected: StrictBool = False
    # Pull-request previews of this stack: the preview identity reads its group, and the
    # preview job can decrypt this stack's state (docs/ci.md, "What a preview can read").
    preview: StrictBool = False
    graph_permissions: tuple[GraphPermission, ...] = ()

    @property
    def subscription_id(self) -> str:
        return subscription_of(self.resource_group)

    @property
    def resource_group_name(self) -> str:
        match = _GROUP.match(self.resource_group)
        assert match is not None  # the field pattern guarantees it
        return match.group(2)


class BootstrapConfig(_Model):
    github_repository: Repository
    location: Location
    environments: Annotated[tuple[EnvironmentConfig, ...], Field(min_length=1)]

    @property
    def previewed(self) -> tuple[EnvironmentConfig, ...]:
        return tuple(env for env in self.environments if env.preview)


def subscription_of(scope: str) -> str:
    match = _GROUP.match(scope) or re.match(rf"^/subscriptions/({_GUID})", scope)
    if match is None:
        raise ValueError(f"'{scope}' is not a subscription or resource group ID")
    return match.group(1)


def _cross_check(config: BootstrapConfig) -> tuple[str, str] | None:
    """Facts one field cannot check alone, as (key path, message)."""
    names: dict[str, int] = {}
    groups: dict[str, str] = {}
    for i, env in enumerate(config.environments):
        at = f"environments[{i}]"
        if env.name in names:
            return f"{at}.name", f"'{env.name}' appears twice"
        names[env.name] = i
        group = env.resource_group.lower()  # ARM IDs compare case-insensitively
        if group in groups:
            return f"{at}.resourceGroup", (
                f"'{env.name}' uses the resource group of '{groups[group]}'; give each "
                "environment its own group, so one environment's deployer cannot touch another"
            )
        groups[group] = env.name
        problem = _graph_problem(env)
        if problem is not None:
            return f"{at}.graphPermissions", problem
    return None


def _graph_problem(env: EnvironmentConfig) -> str | None:
    asked = env.graph_permissions
    for permission in asked:
        if asked.count(permission) > 1:
            return f"'{permission}' is listed twice"
    for permission in asked:
        if permission in PERMISSION_GRANTING and not env.protected:
            return (
                f"{permission} can grant any permission in the tenant, so only the deployer of "
                f"a protected environment may hold it; give the GitHub environment "
                f"'{env.name}' required reviewers and set protected: true, or remove it"
            )
        pair = REQUIRED_PAIRS.get(permission)
        if pair is not None and pair not in asked:
            return f"{permission} needs {pair} beside it (Microsoft documents the pair); add it"
    return None


_ENV_ITEM = re.compile(r"^environments\[\d+\]$")


def _describe(error: Mapping[str, Any]) -> tuple[str, str]:
    """(key path, message) for one pydantic error."""
    loc = tuple(error["loc"])
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    kind = error["type"]
    if kind == "extra_forbidden":
        return text, "unknown key (check the spelling; see docs/first-deployment.md)"
    if kind == "missing":
        return text, "required key is missing"
    if kind == "model_type" and _ENV_ITEM.match(text):
        return text, (
            f"{error['input']!r} is not an environment; write {{name: ..., resourceGroup: "
            "/subscriptions/<id>/resourceGroups/<name>, protected: true|false} (docs/ci.md)"
        )
    if kind == "string_pattern_mismatch" and error["ctx"]["pattern"] == RESOURCE_GROUP_PATTERN:
        return text, (
            f"'{error['input']}' is not a resource group ID; use "
            "/subscriptions/<id>/resourceGroups/<name> (the bootstrap creates the group)"
        )
    if kind == "string_pattern_mismatch" and loc == ("githubRepository",):
        return text, f"'{error['input']}' is not OWNER/REPO (e.g. contoso/secure-api-calls)"
    if kind == "string_pattern_mismatch":
        return text, f"'{error['input']}' does not match {error['ctx']['pattern']}"
    if kind == "literal_error" and "graphPermissions" in loc:
        return text, (
            f"'{error['input']}' is not a permission the stack needs; use one of "
            + ", ".join(GRAPH_PERMISSIONS)
        )
    if kind == "bool_type":
        return text, f"{error['input']!r} is not a boolean; write true or false"
    return text, str(error["msg"])


def parse_config(raw: Mapping[str, Any]) -> BootstrapConfig:
    """Parse `{key: value}` (keys without the project namespace) or raise one ConfigError."""
    for key, replacement in _REMOVED.items():
        if key in raw:
            raise ConfigError(f"config {PROJECT}:{key}: removed; {replacement}")
    try:
        config = BootstrapConfig.model_validate(dict(raw))
    except ValidationError as error:
        path, message = _describe(error.errors()[0])
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

"""The one strict configuration model of a stack.

Every key of the `secure-api-calls:` namespace in `Pulumi.<stack>.yaml` is parsed here, once.
Unknown keys are errors (a typo must not silently fall back to a default), and every error is
one line that names the key path and what is allowed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

from components import azure_names, backend_url, naming
from components.config_errors import first_problem
from components.config_network import KeyRotation, Network, network_problems
from components.naming import PROJECT as PROJECT  # re-exported: the config namespace

# First-party client IDs of the developer tools (reference: azure-facts.md). The Azure
# Developer CLI reuses the Azure CLI's ID, so "azure-cli" covers azd too.
DEVELOPER_TOOLS: dict[str, str] = {
    "azure-cli": "04b07795-8ddb-461a-bbee-02f9e1bf7b46",
    "azure-powershell": "1950a258-227b-4e31-a9cf-717495945fc2",
    "visual-studio": "872cd9fa-d31f-45e0-9eab-6e460a02d1f1",
    "vscode": "aebc6443-996d-45c2-90f0-388ff96faa56",
}

GUID = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
Name = Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{0,28}[a-z0-9]$")]
RoleValue = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,119}$")]
Text = Annotated[str, Field(min_length=1, max_length=400)]


class ConfigError(ValueError):
    """A configuration problem, in one line: the key path, what is wrong, what is allowed."""


class _Model(BaseModel):
    model_config = ConfigDict(
        extra="forbid", frozen=True, alias_generator=to_camel, populate_by_name=False
    )


class AppRole(_Model):
    value: RoleValue
    display_name: Text | None = None
    description: Text | None = None
    allowed_member_types: tuple[Literal["Application", "User"], ...] = ("Application", "User")


class DelegatedScope(_Model):
    value: RoleValue = "API.Access"
    admin_consent_display_name: Text = "Access the API"
    admin_consent_description: Text = "Lets a signed-in developer call the API through the gateway."
    user_consent_display_name: Text = "Access the API"
    user_consent_description: Text = "Lets the app call the API on your behalf."


# A URL template: segments of literal characters and `{name}` parameters, one slash apart
# (APIM's templates follow RFC 6570 level 1: learn.microsoft.com/rest/api/apimanagement/
# api-operation/create-or-update, urlTemplate "Relative URL template").
_TEMPLATE_PART = r"(?:[A-Za-z0-9._~-]|\{[A-Za-z0-9_-]+\})"
_TEMPLATE = re.compile(rf"^/(?:{_TEMPLATE_PART}+(?:/{_TEMPLATE_PART}+)*/?)?$")


class Operation(_Model):
    id: Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{0,79}$")]
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
    url_template: Annotated[str, Field(pattern=r"^/[A-Za-z0-9/{}._~-]*$")]
    display_name: Text | None = None
    roles: Annotated[tuple[RoleValue, ...], Field(min_length=1)]

    @field_validator("url_template")
    @classmethod
    def _well_formed_template(cls, template: str) -> str:
        if "//" in template:
            raise ValueError(
                f"urlTemplate '{template}' has an empty segment (//); write one slash between "
                "segments"
            )
        if not _TEMPLATE.fullmatch(template):
            raise ValueError(
                f"urlTemplate '{template}' has an unbalanced or empty {{...}}; write each "
                "parameter as {name} (letters, digits, - and _)"
            )
        return template


class OpenApiImport(_Model):
    file: Text
    operation_roles: dict[str, Annotated[tuple[RoleValue, ...], Field(min_length=1)]]


class AppServiceBackend(_Model):
    """An existing App Service or Function app (both are Microsoft.Web/sites) the stack knows:
    it derives the URL from the site's default host name and configures the site's App
    Service authentication to accept only the gateway's token (components/backend_hop.py)."""

    name: Annotated[str, Field(pattern=r"^[a-zA-Z0-9][a-zA-Z0-9-]{0,58}[a-zA-Z0-9]$")]
    resource_group: Annotated[str, Field(pattern=r"^[-\w._()]{1,90}$")]
    # Appended to https://<default host name>, as the path of a backendUrl would be.
    path: Annotated[str, Field(pattern=r"^(/[A-Za-z0-9._~-]+)*$")] = ""


class BackendTarget(_Model):
    app_service: AppServiceBackend


class BackendAuth(_Model):
    """How the gateway authenticates to the backend: `managedIdentity` (its own token for the
    API's registration, authentication-managed-identity) or `none` with the reason why not."""

    mode: Literal["managedIdentity", "none"] = "managedIdentity"
    reason: Text | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_word(cls, data: Any) -> Any:
        # `backendAuth: managedIdentity` (or `none`) is the short form of `{mode: ...}`.
        return {"mode": data} if isinstance(data, str) else data

    @model_validator(mode="after")
    def _reason(self) -> BackendAuth:
        if self.mode == "none" and not self.reason:
            raise ValueError(
                "mode 'none' needs a reason (the policy pack reports it): write "
                '{mode: none, reason: "..."}, or authenticate the hop with managedIdentity'
            )
        if self.mode == "managedIdentity" and self.reason:
            raise ValueError("reason applies to mode 'none' only")
        return self


class Api(_Model):
    name: Name
    display_name: Text
    path: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9/-]{0,79}$")]
    backend_url: Annotated[str, Field(min_length=9, max_length=2000)] | None = None
    backend: BackendTarget | None = None
    backend_auth: BackendAuth = BackendAuth()
    token_version: Literal[1, 2] = 2
    accept_v1_tokens: bool = False
    scope: DelegatedScope = DelegatedScope()
    roles: Annotated[tuple[AppRole, ...], Field(min_length=1)]
    operations: tuple[Operation, ...] = ()
    openapi: OpenApiImport | None = None

    @property
    def accepts_v1(self) -> bool:
        return self.token_version == 1 or self.accept_v1_tokens

    @property
    def role_values(self) -> tuple[str, ...]:
        return tuple(role.value for role in self.roles)

    @property
    def hop_authenticated(self) -> bool:
        """The gateway calls the backend with its own token (the default)."""
        return self.backend_auth.mode == "managedIdentity"

    @property
    def app_service(self) -> AppServiceBackend | None:
        return self.backend.app_service if self.backend else None

    @property
    def backend_path(self) -> str:
        """The path the gateway puts before an operation's URL at the backend."""
        if self.app_service is not None:
            return self.app_service.path
        return urlsplit(self.backend_url or "").path.rstrip("/")


class ApiCall(_Model):
    api: Name
    roles: Annotated[tuple[RoleValue, ...], Field(min_length=1)]


class Consumer(_Model):
    name: Name
    calls: Annotated[tuple[ApiCall, ...], Field(min_length=1)]
    runtime: Annotated[str, Field(pattern=r"^[A-Z]+\|[0-9.]+$")] = "PYTHON|3.12"
    health_check_path: Annotated[str, Field(pattern=r"^/[A-Za-z0-9/._-]*$")] = "/healthz"


class GroupGrant(_Model):
    name: Name
    object_id: Annotated[str, Field(pattern=GUID)]
    roles: dict[str, Annotated[tuple[RoleValue, ...], Field(min_length=1)]]


class Developers(_Model):
    tools: tuple[Literal["azure-cli", "azure-powershell", "visual-studio", "vscode"], ...] = (
        "azure-cli",
    )
    groups: tuple[GroupGrant, ...] = ()


class Gateway(_Model):
    mode: Literal["create", "existing"] = "create"
    name: Annotated[str, Field(pattern=r"^[a-zA-Z][a-zA-Z0-9-]{0,48}[a-zA-Z0-9]$")] | None = None
    resource_group: Annotated[str, Field(pattern=r"^[-\w._()]{1,90}$")] | None = None
    sku: Literal[
        "Developer", "Basic", "Standard", "Premium", "BasicV2", "StandardV2", "PremiumV2"
    ] = "Developer"
    capacity: Annotated[int, Field(ge=1, le=12)] = 1
    publisher_name: Text | None = None
    publisher_email: Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")] | None = None
    # A deleted APIM service stays soft-deleted for 48 hours and blocks its name; true
    # undeletes it instead of creating a new one (learn.microsoft.com/azure/api-management/
    # soft-delete). For the one `up` that recovers; remove it afterwards.
    restore: bool = False

    @model_validator(mode="after")
    def _mode_fields(self) -> Gateway:
        if self.mode == "create" and (not self.publisher_name or not self.publisher_email):
            raise ValueError("mode 'create' needs publisherName and publisherEmail")
        if self.mode == "existing" and (not self.name or not self.resource_group):
            raise ValueError("mode 'existing' needs name and resourceGroup of the APIM service")
        if self.mode == "existing" and self.restore:
            raise ValueError("restore applies to mode 'create' only (it undeletes the service)")
        return self


class AppServicePlan(_Model):
    sku: Annotated[str, Field(pattern=r"^(B[1-3]|S[1-3]|P[0-3]v[23]|P[1-5]mv3)$")] = "B1"
    capacity: Annotated[int, Field(ge=1, le=30)] = 1
    zone_redundant: bool = False


class KeyVault(_Model):
    purge_protection: bool = True
    # Soft delete is always on (it cannot be disabled since February 2025): a deleted vault
    # keeps its name for the retention period whatever purge protection says.
    soft_delete_retention_days: Annotated[int, Field(ge=7, le=90)] = 90
    # true: createMode 'recover' reuses the soft-deleted vault of this name (and its secrets)
    # instead of failing with a name conflict (keyvault/_enums.py CreateMode).
    recover: bool = False


class Observability(_Model):
    enabled: bool = True
    retention_days: Annotated[int, Field(ge=30, le=730)] = 30


class ResourceGroup(_Model):
    name: Annotated[str, Field(pattern=r"^[-\w._()]{1,90}$")] | None = None
    existing: bool = False


class Verification(_Model):
    # A subscription per API that only `secure-api-calls verify` uses, its key a secret stack
    # output: the key alone opens nothing (every call still needs a valid token with a role),
    # and it lets verify test token validation behind the key gate.
    enabled: bool = True


class StackConfig(_Model):
    name_prefix: Annotated[str, Field(pattern=r"^[a-z][a-z0-9]{1,9}$")]
    location: Annotated[str, Field(pattern=r"^[a-z0-9]{3,30}$")] = "westeurope"
    resource_group: ResourceGroup = ResourceGroup()
    gateway: Gateway
    app_service_plan: AppServicePlan = AppServicePlan()
    key_vault: KeyVault = KeyVault()
    developers: Developers = Developers()
    observability: Observability = Observability()
    apis: Annotated[tuple[Api, ...], Field(min_length=1)]
    consumers: tuple[Consumer, ...] = ()
    verification: Verification = Verification()
    network: Network = Network()
    key_rotation: KeyRotation = KeyRotation()
    tags: dict[str, Annotated[str, Field(max_length=256)]] = {}

    def api(self, name: str) -> Api:
        return next(api for api in self.apis if api.name == name)


def _unique(items: list[str], what: str) -> str | None:
    seen: set[str] = set()
    for item in items:
        if item.lower() in seen:
            return f"duplicate {what} '{item}'"
        seen.add(item.lower())
    return None


def _cross_check(config: StackConfig, stack: str, base_dir: Path) -> list[tuple[str, str]]:
    """Facts one field cannot check alone; each problem is (key path, message)."""
    problems: list[tuple[str, str]] = []
    add = problems.append
    apis = {api.name: api for api in config.apis}
    if dup := _unique([a.name for a in config.apis], "API name"):
        add(("apis", dup))
    if dup := _unique([a.path for a in config.apis], "API path"):
        add(("apis", dup))
    if dup := _unique([c.name for c in config.consumers], "consumer name"):
        add(("consumers", dup))
    for i, consumer in enumerate(config.consumers):
        if consumer.name == naming.VERIFICATION:
            add((f"consumers[{i}].name", f"'{naming.VERIFICATION}' is reserved for verify's key"))
    for i, api in enumerate(config.apis):
        at = f"apis[{i}]"
        problems.extend(_check_backend(config, i, api))
        if api.backend_url is not None and (problem := backend_url.problem(api.backend_url)):
            add(
                (
                    f"{at}.backendUrl",
                    f"'{api.backend_url}' {problem}; expected {backend_url.SHAPE}",
                )
            )
        if naming.GATEWAY_ROLE in api.role_values:
            add((f"{at}.roles", _RESERVED_ROLE + "; give the API's role another value"))
        if dup := _unique([r.value for r in api.roles], "role value"):
            add((f"{at}.roles", dup))
        if api.scope.value in api.role_values:
            add((f"{at}.scope.value", "must differ from every app role value"))
        if bool(api.operations) == bool(api.openapi):
            add((at, "declare exactly one of 'operations' or 'openapi'"))
        if dup := _unique([op.id for op in api.operations], "operation id"):
            add((f"{at}.operations", dup))
        if clash := _same_route(api.operations):
            add((f"{at}.operations", clash))
        if not api_has_callers(config, api.name):
            add(
                (
                    at,
                    f"API '{api.name}' has no caller: no consumer calls it and "
                    "developers.tools is empty, so its policy could list no allowed client "
                    "(client-application-ids); add a consumer call or a developer tool",
                )
            )
        for j, op in enumerate(api.operations):
            for role in op.roles:
                if role == naming.GATEWAY_ROLE:
                    add((f"{at}.operations[{j}].roles", _RESERVED_ROLE))
                elif role not in api.role_values:
                    add((f"{at}.operations[{j}].roles", _unknown_role(role, api)))
        if api.openapi:
            problems.extend(_check_openapi(api, at, base_dir))
    for i, consumer in enumerate(config.consumers):
        for j, call in enumerate(consumer.calls):
            at = f"consumers[{i}].calls[{j}]"
            if call.api not in apis:
                add((f"{at}.api", f"unknown API '{call.api}'; declared: {', '.join(apis)}"))
                continue
            for role in call.roles:
                if role == naming.GATEWAY_ROLE:
                    add((f"{at}.roles", _RESERVED_ROLE + ": a consumer cannot hold it"))
                elif role not in apis[call.api].role_values:
                    add((f"{at}.roles", _unknown_role(role, apis[call.api])))
                elif "Application" not in _member_types(apis[call.api], role):
                    add(
                        (
                            f"{at}.roles",
                            f"role '{role}' is for users only (allowedMemberTypes); "
                            "a managed identity cannot hold it",
                        )
                    )
        if dup := _unique([c.api for c in consumer.calls], "call to API"):
            add((f"consumers[{i}].calls", dup))
    for i, group in enumerate(config.developers.groups):
        for api_name, roles in group.roles.items():
            at = f"developers.groups[{i}].roles.{api_name}"
            if api_name not in apis:
                add((at, f"unknown API '{api_name}'; declared: {', '.join(apis)}"))
                continue
            for role in roles:
                if role == naming.GATEWAY_ROLE:
                    add((at, _RESERVED_ROLE + ": a group of people cannot hold it"))
                elif role not in apis[api_name].role_values:
                    add((at, _unknown_role(role, apis[api_name])))
                elif "User" not in _member_types(apis[api_name], role):
                    add(
                        (
                            at,
                            f"role '{role}' is for applications only (allowedMemberTypes); "
                            "Entra refuses to assign it to a group of people",
                        )
                    )
    problems.extend(_check_names(config, stack))
    problems.extend(
        network_problems(
            config.network,
            config.gateway,
            config.app_service_plan,
            consumer_count=len(config.consumers),
        )
    )
    return problems


_RESERVED_ROLE = (
    f"role '{naming.GATEWAY_ROLE}' is reserved for the gateway's managed identity "
    "(the backend hop, docs/backend-hop.md)"
)


def _check_backend(config: StackConfig, index: int, api: Api) -> list[tuple[str, str]]:
    """Exactly one backend; a site the stack configures takes the gateway's token only, and
    one site serves one API (its authentication accepts one API's audience)."""
    at = f"apis[{index}]"
    if (api.backend_url is None) == (api.backend is None):
        return [
            (
                at,
                "declare exactly one of 'backendUrl' (an external backend) or "
                "'backend: {appService: {name, resourceGroup}}' (a site the stack configures)",
            )
        ]
    site = api.app_service
    if site is None:
        return []
    if not api.hop_authenticated:
        return [
            (
                f"{at}.backendAuth",
                "an appService backend is configured to accept only the gateway's token: it "
                "needs backendAuth managedIdentity (or use backendUrl for a backend left open)",
            )
        ]
    for other in config.apis[:index]:
        theirs = other.app_service
        if theirs and (theirs.name.lower(), theirs.resource_group.lower()) == (
            site.name.lower(),
            site.resource_group.lower(),
        ):
            return [
                (
                    f"{at}.backend.appService",
                    f"site '{site.name}' already backs API '{other.name}': its authentication "
                    "accepts one API's audience, so give each API its own site",
                )
            ]
    return []


def api_has_callers(config: StackConfig, api: str) -> bool:
    """Someone the API's <client-application-ids> can list: a consumer or a developer tool."""
    calls = any(call.api == api for consumer in config.consumers for call in consumer.calls)
    return calls or bool(config.developers.tools)


def _same_route(operations: tuple[Operation, ...]) -> str | None:
    """APIM refuses a second operation with the same method and URL template ("Operation with
    the same method and URL template already exists"); parameter names do not make it new."""
    seen: dict[tuple[str, str], str] = {}
    for op in operations:
        route = (op.method, re.sub(r"\{[^{}]*\}", "{}", op.url_template))
        if route in seen:
            return (
                f"operations '{seen[route]}' and '{op.id}' share {op.method} "
                f"{op.url_template} (parameter names aside); APIM refuses the second one"
            )
        seen[route] = op.id
    return None


def _member_types(api: Api, value: str) -> tuple[str, ...]:
    return next((r.allowed_member_types for r in api.roles if r.value == value), ())


def _unknown_role(role: str, api: Api) -> str:
    return (
        f"role '{role}' is not defined on API '{api.name}'; defined: {', '.join(api.role_values)}"
    )


def _check_openapi(api: Api, at: str, base_dir: Path) -> list[tuple[str, str]]:
    if api.openapi is None:
        return []
    path = base_dir / api.openapi.file
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError:
        return [
            (f"{at}.openapi.file", f"cannot read '{api.openapi.file}' (relative to the project)")
        ]
    except UnicodeDecodeError:
        return [(f"{at}.openapi.file", f"'{api.openapi.file}' is not UTF-8 text; save it as UTF-8")]
    except json.JSONDecodeError as error:
        return [(f"{at}.openapi.file", f"'{api.openapi.file}' is not JSON: {error.msg}")]
    ids = openapi_operation_ids(document)
    problems = []
    for op_id in ids:
        if op_id not in api.openapi.operation_roles:
            problems.append((f"{at}.openapi.operationRoles", f"operation '{op_id}' has no roles"))
    for op_id, roles in api.openapi.operation_roles.items():
        if op_id not in ids:
            problems.append((f"{at}.openapi.operationRoles.{op_id}", "no such operationId"))
        for role in roles:
            if role not in api.role_values:
                problems.append((f"{at}.openapi.operationRoles.{op_id}", _unknown_role(role, api)))
    return problems


def openapi_operation_ids(document: Any) -> list[str]:
    """The operationIds of an OpenAPI document, in document order."""
    ids: list[str] = []
    paths = document.get("paths", {}) if isinstance(document, dict) else {}
    for item in paths.values() if isinstance(paths, dict) else []:
        for operation in item.values() if isinstance(item, dict) else []:
            if isinstance(operation, dict) and isinstance(operation.get("operationId"), str):
                ids.append(operation["operationId"])
    return ids


def _check_names(config: StackConfig, stack: str) -> list[tuple[str, str]]:
    """Every derived Azure name must fit Azure's rules (azure_names.py) for this stack name;
    a problem names the config key whose value made the name."""
    if not re.fullmatch(r"[a-z0-9]{1,12}", stack):
        return [("stack", f"stack name '{stack}' must be 1-12 lowercase letters/digits")]
    names = naming.Names(config.name_prefix, stack)
    checks: list[tuple[str, str, str]] = [  # (config key, rule, name)
        (
            "resourceGroup.name" if config.resource_group.name else "namePrefix",
            "resource_group",
            config.resource_group.name or names.resource_group,
        ),
        (
            "gateway.name" if config.gateway.name else "namePrefix",
            "api_management",
            config.gateway.name or names.api_management,
        ),
        ("namePrefix", "key_vault", names.key_vault),
        ("namePrefix", "app_service_plan", names.app_service_plan),
        ("namePrefix", "log_workspace", names.log_workspace),
        ("namePrefix", "app_insights", names.app_insights),
    ]
    for i, api in enumerate(config.apis):
        checks += [
            (f"apis[{i}].name", "apim_api", api.name),
            (f"apis[{i}].name", "apim_backend", naming.backend_id(api.name)),
            (f"apis[{i}].name", "apim_named_value", naming.audience_v1_named_value(api.name)),
        ]
        checks += [
            (f"apis[{i}].operations[{j}].id", "apim_operation", op.id)
            for j, op in enumerate(api.operations)
        ]
    for i, consumer in enumerate(config.consumers):
        key = f"consumers[{i}].name"
        checks += [
            (key, "web_app", names.web_app(consumer.name)),
            (key, "apim_named_value", naming.client_named_value(consumer.name)),
        ]
        for call in consumer.calls:
            checks += [
                (key, "apim_subscription", naming.subscription_id(call.api, consumer.name)),
                (key, "key_vault_secret", naming.key_secret_name(call.api, consumer.name)),
            ]
    return [
        (key, problem) for key, rule, name in checks if (problem := azure_names.problem(rule, name))
    ]


def parse_config(raw: Mapping[str, Any], stack: str, base_dir: Path | None = None) -> StackConfig:
    """Parse `{key: value}` (keys without the project namespace) or raise one ConfigError."""
    try:
        config = StackConfig.model_validate(dict(raw))
    except ValidationError as error:
        key, message = first_problem(error, StackConfig)
        raise ConfigError(f"config {PROJECT}:{key}: {message}") from None
    problems = _cross_check(config, stack, base_dir or Path.cwd())
    if problems:
        key, message = problems[0]
        raise ConfigError(f"config {PROJECT}:{key}: {message}")
    return config


def _text_keys() -> frozenset[str]:
    """The top-level keys whose value is text: a value such as `[draft]` there stays text."""
    # pydantic keeps an Annotated field's constraints apart: its annotation is the bare type.
    return frozenset(
        field.alias or to_camel(name)
        for name, field in StackConfig.model_fields.items()
        if field.annotation is str
    )


def decode_values(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Pulumi hands structured config values over as JSON strings; decode those, keep scalars
    (and keep text keys as text, whatever their first character)."""
    text_keys = _text_keys()
    decoded: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in text_keys and isinstance(value, str) and value[:1] in ("{", "["):
            try:
                value = json.loads(value)
            except json.JSONDecodeError:
                raise ConfigError(f"config {PROJECT}:{key}: not valid JSON") from None
        decoded[key] = value
    return decoded

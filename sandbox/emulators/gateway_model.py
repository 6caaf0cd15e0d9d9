"""What the rehearsal gateway knows, read from a Plan alone: APIs, operations, policies,
backends, named values and subscriptions, as frozen data.

Everything the emulator would have to guess at is refused here, at start-up, with the Plan
resource named: a policy the parser does not know, a named value that does not exist or is
masked, an APIM feature (products, versions, policy fragments...) that changes how a request
is handled but is not emulated. A rehearsal that starts is a rehearsal that means something.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from components.gateway_policy import (
    Base,
    Claim,
    PolicyDocument,
    Statement,
    UnsupportedPolicyError,
    ValidateAzureAdToken,
    parse_policy,
)

APIM = "azure-native:apimanagement:"
DEFAULT_KEY_HEADER = "Ocp-Apim-Subscription-Key"
DEFAULT_KEY_QUERY = "subscription-key"
EMPTY_POLICY = PolicyDocument((), (), (), ())
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"})
MASKED = "[secret]"

# Types that shape the request pipeline and are read below.
_HANDLED = {
    "Api",
    "ApiOperation",
    "ApiPolicy",
    "ApiOperationPolicy",
    "Backend",
    "NamedValue",
    "Subscription",
    "Policy",
}
# Types with no effect on how a request is answered.
_INERT = {
    "ApiManagementService",
    "Logger",
    "Diagnostic",
    "ApiDiagnostic",
    "Tag",
    "TagByApi",
    "TagByOperation",
}
_NAMED_VALUE_REF = re.compile(r"\{\{([^{}]*)\}\}")
# Api inputs that change routing or the operation set in ways the emulator does not model.
_UNEMULATED_API_INPUTS = (
    "apiVersion",
    "apiVersionSetId",
    "apiVersionSet",
    "sourceApiId",
    "soapApiType",
    "wsdlSelector",
)
_UNEMULATED_BACKEND_INPUTS = ("credentials", "proxy", "pool", "circuitBreaker", "type")


class GatewayConfigError(ValueError):
    """The Plan asks for something the rehearsal gateway cannot execute faithfully."""


@dataclass(frozen=True)
class Operation:
    operation_id: str
    method: str
    url_template: str
    policy: PolicyDocument | None  # None: no operation-scope policy, i.e. `<base />` only


@dataclass(frozen=True)
class GatewayApi:
    api_id: str
    path: str  # without leading/trailing slashes; "" serves every path no other API claims
    subscription_required: bool
    key_header: str
    key_query: str
    service_url: str | None
    operations: tuple[Operation, ...]
    policy: PolicyDocument | None


@dataclass(frozen=True)
class SubscriptionEntry:
    sid: str
    scope: str  # "/apis" (all APIs) or "/apis/<apiId>"
    state: str

    def opens(self, api_id: str) -> bool:
        return self.state == "active" and self.scope in ("/apis", f"/apis/{api_id}")


@dataclass(frozen=True)
class GatewayModel:
    gateway_url: str  # the deployed gateway's URL (informational; realms use the local URL)
    apis: tuple[GatewayApi, ...]
    backends: Mapping[str, str]  # backendId -> URL
    subscriptions: tuple[SubscriptionEntry, ...]
    global_policy: PolicyDocument = EMPTY_POLICY

    def api(self, api_id: str) -> GatewayApi:
        return next(api for api in self.apis if api.api_id == api_id)


def _values(resource: Mapping[str, Any]) -> dict[str, Any]:
    # Outputs are what Azure would hold; inputs fill anything the mock did not echo.
    return {**resource.get("inputs", {}), **resource.get("outputs", {})}


def _kind(resource: Mapping[str, Any]) -> str:
    return str(resource["type"]).removeprefix(APIM)


def _named_values(resources: list[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    # Policies reference a named value by its display name (Microsoft's docs); fall back to
    # the id when the display name is absent.
    found: dict[str, Mapping[str, Any]] = {}
    for resource in resources:
        values = _values(resource)
        name = values.get("displayName") or values.get("namedValueId")
        if not isinstance(name, str) or not name:
            raise GatewayConfigError(f"{resource['urn']}: NamedValue without a name")
        found[name] = resource
    return found


def _substitute(text: str, named: Mapping[str, Mapping[str, Any]], where: str) -> str:
    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        resource = named.get(name)
        if resource is None:
            known = ", ".join(sorted(named)) or "none"
            raise GatewayConfigError(f"{where}: unknown named value {{{{{name}}}}}; known: {known}")
        values = _values(resource)
        value = values.get("value")
        if values.get("keyVault") or value in (None, MASKED):
            raise GatewayConfigError(
                f"{where}: named value {{{{{name}}}}} is secret or in Key Vault, so the Plan "
                "masks it; the rehearsal cannot know its value"
            )
        value = str(value)
        if value.lstrip().startswith(("@(", "@{")) or "{{" in value:
            raise GatewayConfigError(
                f"{where}: named value {{{{{name}}}}} holds a policy expression or another "
                "named value; the rehearsal gateway does not evaluate those"
            )
        return value

    return _NAMED_VALUE_REF.sub(one, text)


def _substitute_all(item: Any, named: Mapping[str, Mapping[str, Any]], where: str) -> Any:
    """Named values appear in attribute values and element text, i.e. in every string field."""
    if isinstance(item, str):
        return _substitute(item, named, where)
    if isinstance(item, tuple):
        return tuple(_substitute_all(part, named, where) for part in item)
    if dataclasses.is_dataclass(item) and not isinstance(item, type):
        changes = {
            field.name: _substitute_all(getattr(item, field.name), named, where)
            for field in dataclasses.fields(item)
        }
        return dataclasses.replace(item, **changes)
    return item


def _check_statements(document: PolicyDocument, where: str) -> None:
    for section in dataclasses.fields(PolicyDocument):
        statements: tuple[Statement, ...] = getattr(document, section.name)
        if sum(1 for s in statements if isinstance(s, Base)) > 1:
            raise GatewayConfigError(f"{where}: <base /> twice in <{section.name}>")
        for statement in statements:
            if isinstance(statement, ValidateAzureAdToken):
                _check_validate(statement, where)


def _check_validate(statement: ValidateAzureAdToken, where: str) -> None:
    if statement.tenant_id.lower() in ("common", "organizations"):
        raise GatewayConfigError(
            f"{where}: tenant-id {statement.tenant_id!r} (multi-tenant) is not emulated"
        )
    if not statement.audiences:
        # Undocumented what APIM accepts then; refusing beats guessing "any audience".
        raise GatewayConfigError(f"{where}: validate-azure-ad-token without <audiences>")
    if statement.header_name == "":
        raise GatewayConfigError(f"{where}: empty header-name")
    bad: list[Claim] = [c for c in statement.required_claims if c.separator == ""]
    if bad:
        raise GatewayConfigError(f"{where}: claim {bad[0].name!r} has an empty separator")


def _policy(resource: Mapping[str, Any], named: Mapping[str, Mapping[str, Any]]) -> PolicyDocument:
    where = str(resource["urn"])
    values = _values(resource)
    policy_format = values.get("format", "xml")
    if policy_format not in ("xml", "rawxml"):
        raise GatewayConfigError(f"{where}: policy format {policy_format!r} is not emulated")
    text = values.get("value")
    if not isinstance(text, str):
        raise GatewayConfigError(f"{where}: policy has no XML value")
    try:
        document = parse_policy(text)
    except UnsupportedPolicyError as error:
        raise GatewayConfigError(f"{where}: {error}") from None
    substituted: PolicyDocument = _substitute_all(document, named, where)
    _check_statements(substituted, where)
    return substituted


def _template_ok(template: str, where: str) -> str:
    if not template.startswith("/") or "?" in template or "*" in template or "#" in template:
        raise GatewayConfigError(
            f"{where}: URL template {template!r} (query, wildcard or relative) is not emulated"
        )
    return template


def _openapi_operations(api: Mapping[str, Any], where: str) -> list[Operation]:
    """Operations an API imports from an inline OpenAPI JSON document (APIM names them by
    operationId and takes the path as the URL template)."""
    if api.get("format") != "openapi+json" or not isinstance(api.get("value"), str):
        raise GatewayConfigError(f"{where}: API import format {api.get('format')!r} not emulated")
    document = json.loads(api["value"])
    operations = []
    for path, item in (document.get("paths") or {}).items():
        for method, spec in (item or {}).items():
            if method.upper() in METHODS and isinstance(spec, dict) and spec.get("operationId"):
                template = _template_ok(path, where)
                operations.append(Operation(spec["operationId"], method.upper(), template, None))
    return operations


def model_from_plan(plan: Mapping[str, Any]) -> GatewayModel:
    """The gateway configuration a Plan deploys; GatewayConfigError names what cannot run."""
    by_kind: dict[str, list[Mapping[str, Any]]] = {kind: [] for kind in _HANDLED}
    services = set()
    for resource in plan["resources"]:
        if not str(resource["type"]).startswith(APIM):
            continue
        kind = _kind(resource)
        if kind in _INERT:
            continue
        if kind not in _HANDLED:
            raise GatewayConfigError(f"{resource['urn']}: {kind} is not emulated by the gateway")
        by_kind[kind].append(resource)
        if service := _values(resource).get("serviceName"):
            services.add(service)
    if len(services) > 1:
        raise GatewayConfigError(f"the Plan configures several gateways: {sorted(services)}")
    named = _named_values(by_kind["NamedValue"])
    global_policy = EMPTY_POLICY
    if by_kind["Policy"]:
        if len(by_kind["Policy"]) > 1:
            raise GatewayConfigError("the Plan has more than one global (service) policy")
        global_policy = _policy(by_kind["Policy"][0], named)
    operation_policies = {
        (_values(r)["apiId"], _values(r)["operationId"]): _policy(r, named)
        for r in by_kind["ApiOperationPolicy"]
    }
    api_policies = {_values(r)["apiId"]: _policy(r, named) for r in by_kind["ApiPolicy"]}
    apis = [
        _api(resource, by_kind["ApiOperation"], api_policies, operation_policies)
        for resource in by_kind["Api"]
    ]
    known = {(api.api_id, op.operation_id) for api in apis for op in api.operations}
    for key in operation_policies:
        if key not in known:
            raise GatewayConfigError(f"operation policy for unknown operation {key[0]}/{key[1]}")
    for api_id in api_policies:
        if api_id not in {api.api_id for api in apis}:
            raise GatewayConfigError(f"API policy for unknown API {api_id!r}")
    backends = {}
    for resource in by_kind["Backend"]:
        values = _values(resource)
        unemulated = [key for key in _UNEMULATED_BACKEND_INPUTS if values.get(key)]
        if unemulated:
            raise GatewayConfigError(f"{resource['urn']}: Backend {unemulated[0]} is not emulated")
        backends[str(values["backendId"])] = str(values["url"])
    return GatewayModel(
        gateway_url=str(plan.get("outputs", {}).get("gatewayUrl", "")),
        apis=tuple(sorted(apis, key=lambda api: api.api_id)),
        backends=MappingProxyType(backends),
        subscriptions=tuple(_subscription(r) for r in by_kind["Subscription"]),
        global_policy=global_policy,
    )


def _api(
    resource: Mapping[str, Any],
    operation_resources: list[Mapping[str, Any]],
    api_policies: Mapping[str, PolicyDocument],
    operation_policies: Mapping[tuple[str, str], PolicyDocument],
) -> GatewayApi:
    where = str(resource["urn"])
    values = _values(resource)
    api_id = str(values["apiId"])
    unemulated = [key for key in _UNEMULATED_API_INPUTS if values.get(key)]
    if unemulated or str(values.get("apiRevision", "1")) != "1":
        raise GatewayConfigError(f"{where}: {(unemulated or ['apiRevision'])[0]} is not emulated")
    if values.get("apiType", values.get("type", "http")) != "http":
        raise GatewayConfigError(f"{where}: only http APIs are emulated")
    operations = [
        Operation(
            str(v["operationId"]),
            str(v["method"]).upper(),
            _template_ok(str(v["urlTemplate"]), str(r["urn"])),
            None,
        )
        for r in operation_resources
        if (v := _values(r))["apiId"] == api_id
    ]
    if values.get("value") is not None or values.get("format") is not None:
        operations += _openapi_operations(values, where)
    operations = [
        dataclasses.replace(op, policy=operation_policies.get((api_id, op.operation_id)))
        for op in operations
    ]
    names = values.get("subscriptionKeyParameterNames") or {}
    return GatewayApi(
        api_id=api_id,
        path=str(values.get("path", "")).strip("/"),
        subscription_required=values.get("subscriptionRequired", True) is not False,
        key_header=names.get("header") or DEFAULT_KEY_HEADER,
        key_query=names.get("query") or DEFAULT_KEY_QUERY,
        service_url=values.get("serviceUrl"),
        operations=tuple(operations),
        policy=api_policies.get(api_id),
    )


def _subscription(resource: Mapping[str, Any]) -> SubscriptionEntry:
    values = _values(resource)
    scope = str(values.get("scope", ""))
    if not re.fullmatch(r"/apis(/[^/]+)?", scope):
        # Product scopes would need products, product policies and their APIs: not emulated.
        raise GatewayConfigError(f"{resource['urn']}: subscription scope {scope!r} not emulated")
    return SubscriptionEntry(str(values["sid"]), scope, str(values.get("state", "submitted")))

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

from components.gateway_policy import PolicyDocument
from sandbox.rehearsal.emulators.gateway_policies import EMPTY_POLICY, load_policy, named_values
from sandbox.rehearsal.emulators.gateway_policies import GatewayConfigError as GatewayConfigError

APIM = "azure-native:apimanagement:"
DEFAULT_KEY_HEADER = "Ocp-Apim-Subscription-Key"
DEFAULT_KEY_QUERY = "subscription-key"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"})

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
# Api inputs that change routing or the operation set in ways the emulator does not model.
_UNEMULATED_API_INPUTS = (
    "apiVersion",
    "apiVersionSetId",
    "apiVersionSet",
    "sourceApiId",
    "soapApiType",
    "wsdlSelector",
)
_UNEMULATED_BACKEND_INPUTS = ("credentials", "proxy", "pool", "circuitBreaker")


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
    try:
        document = json.loads(api["value"])
    except json.JSONDecodeError as error:
        raise GatewayConfigError(
            f"{where}: the imported OpenAPI document is not JSON: {error}"
        ) from None
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
    named = named_values(by_kind["NamedValue"])
    global_policy = EMPTY_POLICY
    if by_kind["Policy"]:
        if len(by_kind["Policy"]) > 1:
            raise GatewayConfigError("the Plan has more than one global (service) policy")
        global_policy = load_policy(by_kind["Policy"][0], named)
    operation_policies = {
        (_values(r)["apiId"], _values(r)["operationId"]): load_policy(r, named)
        for r in by_kind["ApiOperationPolicy"]
    }
    api_policies = {_values(r)["apiId"]: load_policy(r, named) for r in by_kind["ApiPolicy"]}
    apis = [
        _api(resource, by_kind["ApiOperation"], api_policies, operation_policies)
        for resource in by_kind["Api"]
    ]
    # A policy on an operation or API the Plan does not declare would silently never run.
    known = {(api.api_id, op.operation_id) for api in apis for op in api.operations}
    for resource in by_kind["ApiOperationPolicy"]:
        values = _values(resource)
        if (values["apiId"], values["operationId"]) not in known:
            raise GatewayConfigError(f"{resource['urn']}: no such operation in the Plan")
    for resource in by_kind["ApiPolicy"]:
        if _values(resource)["apiId"] not in {api.api_id for api in apis}:
            raise GatewayConfigError(f"{resource['urn']}: no such API in the Plan")
    backends = {}
    for resource in by_kind["Backend"]:
        values = _values(resource)
        unemulated = [key for key in _UNEMULATED_BACKEND_INPUTS if values.get(key)]
        if values.get("type", "Single") != "Single":
            unemulated.append(f"type {values['type']!r}")
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

"""A small gateway world for the gateway tests: one tenant, one issuer, and a Plan-shaped
list of APIM resources that tests bend one property at a time."""

from __future__ import annotations

import copy
import dataclasses
import json
import uuid
from collections.abc import Callable
from typing import Any

from components.gateway_policy import (
    ApiPolicySpec,
    OperationPolicySpec,
    TokenCheck,
    build_api_policy,
    build_operation_policy,
)
from sandbox.rehearsal.emulators.directory import ApiApp, Assignment, Directory, Principal
from sandbox.rehearsal.emulators.gateway_core import (
    Forward,
    Gateway,
    GatewayRequest,
    GatewayResponse,
)
from sandbox.rehearsal.emulators.gateway_model import GatewayModel, model_from_plan
from sandbox.rehearsal.emulators.gateway_token import StaticKeys
from sandbox.rehearsal.emulators.issuer import EntraIssuer, SigningKey

NOW = 1_800_000_000


def _id(name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"gateway-test/{name}"))


TENANT = _id("tenant")
ORDERS = _id("orders-app")
ORDERS_SP = _id("orders-sp")
READ_ROLE = _id("read")
WRITE_ROLE = _id("write")
READER = _id("reader-mi")
WRITER = _id("writer-mi")
READER_CLIENT = _id("reader-client")
WRITER_CLIENT = _id("writer-client")
# The allowed callers as the stack writes them: a named value per consumer (here the reader),
# a literal client ID for a developer tool (here the writer stands in for one).
CLIENTS = ("{{client-reader}}", WRITER_CLIENT)
KEY = "k" * 32
OTHER_KEY = "o" * 32
GATEWAY_URL = "http://127.0.0.1:9999"
BACKEND = "http://127.0.0.1:7777/api"

DIRECTORY = Directory(
    tenant_id=TENANT,
    apps=(
        ApiApp(
            ORDERS,
            ORDERS_SP,
            "orders",
            roles={"Orders.Read": READ_ROLE, "Orders.Write": WRITE_ROLE},
        ),
    ),
    principals=(
        Principal(READER, READER_CLIENT, "reader", "ManagedIdentity"),
        Principal(WRITER, WRITER_CLIENT, "writer", "ManagedIdentity"),
    ),
    assignments=(
        Assignment(READER, ORDERS_SP, READ_ROLE),
        Assignment(WRITER, ORDERS_SP, READ_ROLE),
        Assignment(WRITER, ORDERS_SP, WRITE_ROLE),
    ),
)
SIGNING_KEY = SigningKey.generate()


GATEWAY_MI, GATEWAY_CLIENT, FORWARD = _id("gateway-mi"), _id("gateway-client"), _id("forward")


def hop_issuer(assigned: bool = True) -> EntraIssuer:
    """The test tenant plus the gateway's identity, holding Gateway.Forward if `assigned`."""
    (orders,) = DIRECTORY.apps
    app = dataclasses.replace(orders, roles={**orders.roles, "Gateway.Forward": FORWARD})
    gateway = Principal(GATEWAY_MI, GATEWAY_CLIENT, "gateway", "ManagedIdentity")
    held = [Assignment(GATEWAY_MI, ORDERS_SP, FORWARD)] if assigned else []
    directory = Directory(
        DIRECTORY.tenant_id,
        (app,),
        (*DIRECTORY.principals, gateway),
        (*DIRECTORY.assignments, *held),
    )
    return EntraIssuer(directory, SIGNING_KEY, clock=lambda: NOW, lifetime_seconds=3600)


def issuer(now: float = NOW) -> EntraIssuer:
    return EntraIssuer(DIRECTORY, SIGNING_KEY, clock=lambda: now, lifetime_seconds=3600)


def token(principal: str = READER, now: float = NOW) -> str:
    return issuer(now).issue_app_token(principal, f"api://{ORDERS}")


def _resource(kind: str, name: str, **inputs: Any) -> dict[str, Any]:
    return {
        "urn": f"urn:pulumi:test::p::azure-native:apimanagement:{kind}::{name}",
        "type": f"azure-native:apimanagement:{kind}",
        "name": name,
        "parent": None,
        "custom": True,
        "inputs": {"serviceName": "apim-test", **inputs},
        "outputs": {},
        "dependencies": [],
        "propertyDependencies": {},
    }


def token_check(**changes: Any) -> TokenCheck:
    check: dict[str, Any] = {
        "tenant": "{{tenant-id}}",
        "client_application_ids": CLIENTS,
        "audiences": ("{{orders-audience}}",),
        "roles": ("Orders.Read", "Orders.Write"),
        "require_v2": True,
    } | changes
    return TokenCheck(**check)


def api_policy(
    hop_resource: str | None = None, backend_id: str = "orders-backend", **changes: Any
) -> str:
    """The API scope as the stack writes it; without `hop_resource` the gateway forwards with
    no token of its own (backendAuth none), so tests need no identity unless they want one."""
    return build_api_policy(ApiPolicySpec(token_check(**changes), backend_id, hop_resource))


def operation_policy(roles: tuple[str, ...]) -> str:
    return build_operation_policy(OperationPolicySpec(token_check(), roles))


def plan(**policies: str) -> dict[str, Any]:
    """A Plan with the orders API: list (Orders.Read), get (Orders.Read), create
    (Orders.Write), two subscriptions (orders, and an all-APIs one) and one for `other`."""
    resources = [
        _resource(
            "NamedValue",
            "tenant",
            namedValueId="tenant-id",
            displayName="tenant-id",
            value=TENANT,
            secret=False,
        ),
        _resource(
            "NamedValue",
            "client-reader",
            namedValueId="client-reader",
            displayName="client-reader",
            value=READER_CLIENT,
            secret=False,
        ),
        _resource(
            "NamedValue",
            "aud",
            namedValueId="orders-audience",
            displayName="orders-audience",
            value=ORDERS,
            secret=False,
        ),
        _resource(
            "Backend",
            "backend",
            backendId="orders-backend",
            url="https://orders.contoso.example/api",
        ),
        _resource(
            "Api",
            "orders",
            apiId="orders",
            path="orders",
            subscriptionRequired=True,
            serviceUrl="https://orders-service.contoso.example/svc",
        ),
        _resource("Api", "other", apiId="other", path="other", subscriptionRequired=True),
        _resource(
            "ApiPolicy",
            "orders-policy",
            apiId="orders",
            format="xml",
            value=policies.get("api", api_policy()),
        ),
        _resource("Subscription", "s1", sid="orders-app1", scope="/apis/orders", state="active"),
        _resource("Subscription", "s2", sid="other-app1", scope="/apis/other", state="active"),
    ]
    for op_id, method, template, roles in (
        ("list-orders", "GET", "/orders", ("Orders.Read",)),
        ("get-order", "GET", "/orders/{orderId}", ("Orders.Read",)),
        ("create-order", "POST", "/orders", ("Orders.Write",)),
    ):
        resources.append(
            _resource(
                "ApiOperation",
                op_id,
                apiId="orders",
                operationId=op_id,
                method=method,
                urlTemplate=template,
            )
        )
        xml = policies.get(op_id, operation_policy(roles))
        if xml:
            resources.append(
                _resource(
                    "ApiOperationPolicy",
                    f"{op_id}-policy",
                    apiId="orders",
                    operationId=op_id,
                    format="xml",
                    value=xml,
                )
            )
    return {"resources": resources, "outputs": {"gatewayUrl": "https://apim-test.azure-api.net"}}


def with_resource(base: dict[str, Any], kind: str, name: str, **inputs: Any) -> dict[str, Any]:
    changed = copy.deepcopy(base)
    changed["resources"].append(_resource(kind, name, **inputs))
    return changed


def edit(base: dict[str, Any], name: str, **inputs: Any) -> dict[str, Any]:
    changed = copy.deepcopy(base)
    for resource in changed["resources"]:
        if resource["name"] == name:
            resource["inputs"].update(inputs)
    return changed


class Backend:
    """A fake `send`: records what the gateway forwarded and answers 200 with it."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.forwarded: list[Forward] = []

    def __call__(self, forward: Forward) -> GatewayResponse:
        self.forwarded.append(forward)
        body = json.dumps({"method": forward.method, "url": forward.url}).encode()
        return GatewayResponse(self.status, (("content-type", "application/json"),), body)


def gateway(
    model: GatewayModel | dict[str, Any] | None = None,
    *,
    now: float = NOW,
    keys: dict[str, str] | None = None,
    **kwargs: Any,
) -> Gateway:
    if not isinstance(model, GatewayModel):
        model = model_from_plan(model or plan())
    return Gateway(
        model,
        {"orders-app1": KEY, "other-app1": OTHER_KEY} if keys is None else keys,
        StaticKeys(issuer().jwks()),
        clock=lambda: now,
        **kwargs,
    )


def request(
    method: str = "GET",
    path: str = "/orders/orders",
    *,
    bearer: str | None = None,
    key: str | None = KEY,
    query: str = "",
    headers: tuple[tuple[str, str], ...] = (),
    body: bytes = b"",
) -> GatewayRequest:
    sent = list(headers)
    if bearer is not None:
        sent.append(("authorization", f"Bearer {bearer}"))
    if key is not None:
        sent.append(("ocp-apim-subscription-key", key))
    return GatewayRequest(method, path, query, tuple(sent), body, GATEWAY_URL)


def message(response: GatewayResponse) -> str:
    text: str = json.loads(response.body)["message"]
    return text


Handle = Callable[[GatewayRequest], GatewayResponse]

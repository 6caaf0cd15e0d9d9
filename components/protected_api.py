"""One API behind the gateway: backend, API, operations, token-validating policies, keys.

The policies come from the pure builder in `gateway_policy`: the API scope answers 401 for any
token problem, each operation scope answers 403 naming the role it needs.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pulumi
from pulumi_azure_native import apimanagement

from components import gateway_policy, naming
from components.config import Api
from components.observability import api_diagnostic
from components.outputs import text
from components.subscription_keys import SubscriptionKeys


@dataclass(frozen=True)
class ProtectedApiArgs:
    api: Api
    service_name: str
    resource_group_name: str
    client_id: pulumi.Input[str]
    # Where the gateway forwards: the config's backendUrl, or https://<default host name>
    # of the App Service the config names (components/backend_hop.py).
    backend_url: pulumi.Input[str]
    # The allowed callers as the policy names them: `{{client-<consumer>}}` named values and
    # developer tools' client IDs; APIM refuses a policy naming a named value that does not
    # exist yet, so the policies depend on client_named_values.
    client_application_ids: tuple[str, ...]
    client_named_values: tuple[pulumi.Resource, ...]
    keys: Mapping[str, SubscriptionKeys]  # consumer -> the keys of its subscription
    base_dir: Path
    verification_keys: SubscriptionKeys | None = None  # the subscription verify calls with
    logger_id: pulumi.Input[str] | None = None  # set: failed requests go to App Insights
    depends_on: tuple[pulumi.Resource, ...] = ()

    def __post_init__(self) -> None:
        if not self.client_application_ids:
            raise ValueError(f"API '{self.api.name}': no caller may call it (no client IDs)")
        if len(set(self.client_application_ids)) != len(self.client_application_ids):
            raise ValueError(f"API '{self.api.name}': a client ID is listed twice")


def audiences(api: Api) -> tuple[str, ...]:
    """The named-value references the policy accepts as `aud`, v2 form first."""
    names = [naming.audience_named_value(api.name)]
    if api.accepts_v1:
        names.append(naming.audience_v1_named_value(api.name))
    return tuple("{{" + name + "}}" for name in names)


def token_check(api: Api, clients: tuple[str, ...]) -> gateway_policy.TokenCheck:
    return gateway_policy.TokenCheck(
        tenant="{{" + naming.TENANT_NAMED_VALUE + "}}",
        client_application_ids=clients,
        audiences=audiences(api),
        roles=api.role_values,
        require_v2=not api.accepts_v1,
    )


def hop_resource(api: Api) -> str | None:
    """What the gateway asks Entra for on the backend hop: the API registration's client ID
    (the v2-form audience named value). A v2 token for it carries `aud` = the client ID, and
    so does a v1 token, which echoes the resource as requested; the backend's allowed
    audience is therefore the client ID whatever the token version."""
    if not api.hop_authenticated:
        return None
    return "{{" + naming.audience_named_value(api.name) + "}}"


def api_policy_xml(api: Api, clients: tuple[str, ...]) -> str:
    return gateway_policy.build_api_policy(
        gateway_policy.ApiPolicySpec(
            token_check(api, clients), naming.backend_id(api.name), hop_resource(api)
        )
    )


def operation_policy_xml(api: Api, clients: tuple[str, ...], roles: tuple[str, ...]) -> str:
    return gateway_policy.build_operation_policy(
        gateway_policy.OperationPolicySpec(token_check(api, clients), roles)
    )


# How a Backend says that the gateway calls it without its own token, and why: the policy
# pack reads this (advisory, with the reason) instead of failing the API for it.
UNAUTHENTICATED_HOP = "Backend hop not authenticated: "


def backend_description(api: Api) -> str | None:
    if api.hop_authenticated or api.backend_auth.reason is None:
        return None
    return UNAUTHENTICATED_HOP + api.backend_auth.reason


def operation_roles(api: Api) -> dict[str, tuple[str, ...]]:
    """operationId -> roles (any-of), for declared or OpenAPI-imported operations."""
    if api.openapi:
        return dict(api.openapi.operation_roles)
    return {op.id: op.roles for op in api.operations}


class ProtectedApi(pulumi.ComponentResource):
    """Backend, Api, operations, named values, policies and one subscription per consumer."""

    subscriptions: dict[str, apimanagement.Subscription]
    path: str

    def __init__(
        self, name: str, args: ProtectedApiArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("secure-api-calls:gateway:ProtectedApi", name, None, opts)
        api = args.api
        self.path = api.path
        rg, service = args.resource_group_name, args.service_name
        after = pulumi.ResourceOptions(parent=self, depends_on=list(args.depends_on))

        named_values = [
            apimanagement.NamedValue(
                f"{name}-audience",
                named_value_id=naming.audience_named_value(api.name),
                display_name=naming.audience_named_value(api.name),
                value=args.client_id,
                secret=False,
                opts=after,
                resource_group_name=rg,
                service_name=service,
            )
        ]
        if api.accepts_v1:
            named_values.append(
                apimanagement.NamedValue(
                    f"{name}-audience-v1",
                    named_value_id=naming.audience_v1_named_value(api.name),
                    display_name=naming.audience_v1_named_value(api.name),
                    value=pulumi.Output.concat("api://", text(args.client_id)),
                    secret=False,
                    opts=after,
                    resource_group_name=rg,
                    service_name=service,
                )
            )
        backend = apimanagement.Backend(
            f"{name}-backend",
            backend_id=naming.backend_id(api.name),
            protocol="http",  # the wire protocol family: APIM calls the https:// URL below
            url=args.backend_url,
            title=api.display_name,
            description=backend_description(api),
            tls=apimanagement.BackendTlsPropertiesArgs(
                validate_certificate_chain=True, validate_certificate_name=True
            ),
            opts=after,
            resource_group_name=rg,
            service_name=service,
        )
        openapi = api.openapi
        gateway_api = apimanagement.Api(
            f"{name}-api",
            api_id=api.name,
            display_name=api.display_name,
            path=api.path,
            protocols=[apimanagement.Protocol.HTTPS],
            subscription_required=True,
            service_url=args.backend_url,
            format="openapi+json" if openapi else None,
            value=(args.base_dir / openapi.file).read_text(encoding="utf-8") if openapi else None,
            opts=after,
            resource_group_name=rg,
            service_name=service,
        )
        on_api = pulumi.ResourceOptions(parent=self, depends_on=[gateway_api])

        operations: dict[str, pulumi.Resource] = {}
        for op in api.operations:
            operations[op.id] = apimanagement.ApiOperation(
                f"{name}-op-{op.id}",
                api_id=api.name,
                operation_id=op.id,
                display_name=op.display_name or op.id,
                method=op.method,
                url_template=op.url_template,
                template_parameters=[
                    apimanagement.ParameterContractArgs(name=param, type="string", required=True)
                    for param in re.findall(r"{([^}]+)}", op.url_template)
                ],
                opts=on_api,
                resource_group_name=rg,
                service_name=service,
            )
        apimanagement.ApiPolicy(
            f"{name}-policy",
            api_id=api.name,
            policy_id="policy",
            format="xml",
            value=api_policy_xml(api, args.client_application_ids),
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=[gateway_api, backend, *named_values, *args.client_named_values],
            ),
            resource_group_name=rg,
            service_name=service,
        )
        for op_id, roles in operation_roles(api).items():
            depends: list[pulumi.Resource] = [gateway_api, *named_values, *args.client_named_values]
            if op_id in operations:
                depends.append(operations[op_id])
            apimanagement.ApiOperationPolicy(
                f"{name}-op-{op_id}-policy",
                api_id=api.name,
                operation_id=op_id,
                policy_id="policy",
                format="xml",
                value=operation_policy_xml(api, args.client_application_ids, roles),
                opts=pulumi.ResourceOptions(parent=self, depends_on=depends),
                resource_group_name=rg,
                service_name=service,
            )

        if args.logger_id is not None:
            api_diagnostic(
                f"{name}-diagnostic",
                api_id=api.name,
                logger_id=args.logger_id,
                resource_group_name=rg,
                service_name=service,
                opts=on_api,
            )

        self.subscriptions = {}
        holders = dict(args.keys)
        if args.verification_keys is not None:
            holders[naming.VERIFICATION] = args.verification_keys
        for consumer, keys in holders.items():
            sid = naming.subscription_id(api.name, consumer)
            self.subscriptions[consumer] = apimanagement.Subscription(
                f"{name}-subscription-{consumer}",
                sid=sid,
                display_name=(
                    f"secure-api-calls verify calling {api.name}"
                    if consumer == naming.VERIFICATION
                    else f"{consumer} calling {api.name}"
                ),
                # Scoped to this one API: a key never opens another API (Azure Policy 3aa03346).
                scope=f"/apis/{api.name}",
                state=apimanagement.SubscriptionState.ACTIVE,
                allow_tracing=False,
                # The stack's own keys (SubscriptionKeys): nothing ever reads APIM's back.
                primary_key=keys.primary,
                secondary_key=keys.secondary,
                opts=on_api,
                resource_group_name=rg,
                service_name=service,
            )
        self.register_outputs({"path": self.path, "apiId": api.name})

"""The gateway's managed identity: who calls the backends (the backend hop).

A created service has a system-assigned identity (components/gateway.py sets it). An existing
service is read once with the plain (synchronous) invoke, so a service without a system
identity stops the program with one line that says how to add it, before anything is sent.
Its client ID is Graph's (`servicePrincipal.appId`): ARM's identity block holds the principal
ID only, as for the consumer Web Apps.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_azuread as azuread
from pulumi_azure_native import apimanagement

from components.config import Gateway as GatewayConfig
from components.outputs import text


@dataclass(frozen=True)
class GatewayIdentity:
    principal_id: pulumi.Output[str]  # the service principal's object ID (`oid` in its tokens)
    client_id: pulumi.Output[str]  # its appId (`azp`/`appid` in its tokens)


def missing_identity(name: str, resource_group: str, identity_type: str | None) -> str:
    """The one-line refusal for an existing service without a system-assigned identity."""
    wanted = (
        "'SystemAssigned, UserAssigned'" if identity_type == "UserAssigned" else "SystemAssigned"
    )
    return (
        f"the existing API Management service '{name}' (resource group '{resource_group}') has "
        f"no system-assigned managed identity (identity type: {identity_type or 'None'}), which "
        "authenticates the gateway to the backends (backendAuth managedIdentity); add one with "
        f"`az apim update --name {name} --resource-group {resource_group} --set "
        f"identity.type={wanted}` and run again, or set backendAuth: {{mode: none, reason: ...}}"
    )


def existing_principal_id(config: GatewayConfig) -> str:
    """The system identity's principal ID of an existing service; RunError (one line, no
    traceback under the CLI) when it has none."""
    name, group = config.name or "", config.resource_group or ""
    service = apimanagement.get_api_management_service(resource_group_name=group, service_name=name)
    identity = service.identity
    kind = identity.type if identity is not None else None
    if identity is None or "SystemAssigned" not in (kind or "") or not identity.principal_id:
        raise pulumi.RunError(missing_identity(name, group, kind))
    return identity.principal_id


def gateway_identity(
    config: GatewayConfig, created_principal_id: pulumi.Output[str] | None
) -> GatewayIdentity:
    principal_id = (
        created_principal_id
        if created_principal_id is not None
        else pulumi.Output.from_input(existing_principal_id(config))
    )
    client_id = text(azuread.get_service_principal_output(object_id=principal_id).client_id)
    return GatewayIdentity(principal_id, client_id)

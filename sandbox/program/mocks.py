"""Realistic, deterministic outputs for every resource and function the stack uses.

What Azure and Entra would generate (client IDs, object IDs, principal IDs, host names, ARM
IDs) is derived with uuid5 from the resource's URN, so the same config always yields the same
plan, and two stacks never share an ID.
"""

from __future__ import annotations

import hashlib
import string
import uuid
from typing import Any

import pulumi
from pulumi.runtime import rpc

from sandbox.errors import SandboxError

NAMESPACE = uuid.UUID("0c4b7f2e-1d3a-4e5f-8a9b-6c7d8e9f0a1b")
RANDOM_PASSWORD = "random:index/randomPassword:RandomPassword"
_ALPHANUMERIC = string.ascii_letters + string.digits
# Microsoft Graph's first-party app and its application-permission IDs, identical in every
# tenant (learn.microsoft.com/graph/permissions-reference); used by the bootstrap program.
MICROSOFT_GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
GRAPH_APP_ROLE_IDS = {
    "Application.Read.All": "9a5d68dd-52b0-4cc2-bd40-abcf44ac3a30",
    "Application.ReadWrite.All": "1bfefb4e-e0b5-418b-a88f-73c46d2cc8e9",
    "Application.ReadWrite.OwnedBy": "18a4783c-866b-4cc7-a460-3d5e5662c884",
    "AppRoleAssignment.ReadWrite.All": "06b708a9-e830-4db3-a914-8e69da51d44f",
}


def derived_id(*parts: str) -> str:
    return str(uuid.uuid5(NAMESPACE, "/".join(parts)))


def tenant_id(stack: str) -> str:
    return derived_id("tenant", stack)


def subscription_id(stack: str) -> str:
    return derived_id("subscription", stack)


_ARM_PATHS: dict[str, str] = {
    "apimanagement:ApiManagementService": "Microsoft.ApiManagement/service/{serviceName}",
    "apimanagement:Api": "Microsoft.ApiManagement/service/{serviceName}/apis/{apiId}",
    "apimanagement:ApiOperation": (
        "Microsoft.ApiManagement/service/{serviceName}/apis/{apiId}/operations/{operationId}"
    ),
    "apimanagement:ApiPolicy": "Microsoft.ApiManagement/service/{serviceName}/apis/{apiId}"
    "/policies/policy",
    "apimanagement:ApiOperationPolicy": "Microsoft.ApiManagement/service/{serviceName}"
    "/apis/{apiId}/operations/{operationId}/policies/policy",
    "apimanagement:Backend": "Microsoft.ApiManagement/service/{serviceName}/backends/{backendId}",
    "apimanagement:NamedValue": (
        "Microsoft.ApiManagement/service/{serviceName}/namedValues/{namedValueId}"
    ),
    "apimanagement:Subscription": "Microsoft.ApiManagement/service/{serviceName}"
    "/subscriptions/{sid}",
    "web:AppServicePlan": "Microsoft.Web/serverfarms/{name}",
    "web:WebApp": "Microsoft.Web/sites/{name}",
    "web:WebAppFtpAllowed": "Microsoft.Web/sites/{name}/basicPublishingCredentialsPolicies/ftp",
    "web:WebAppScmAllowed": "Microsoft.Web/sites/{name}/basicPublishingCredentialsPolicies/scm",
    "keyvault:Vault": "Microsoft.KeyVault/vaults/{vaultName}",
    "operationalinsights:Workspace": "Microsoft.OperationalInsights/workspaces/{workspaceName}",
    "applicationinsights:Component": "Microsoft.Insights/components/{resourceName}",
    "apimanagement:Logger": "Microsoft.ApiManagement/service/{serviceName}/loggers/{loggerId}",
    "apimanagement:ApiDiagnostic": "Microsoft.ApiManagement/service/{serviceName}/apis/{apiId}"
    "/diagnostics/{diagnosticId}",
    "keyvault:Secret": "Microsoft.KeyVault/vaults/{vaultName}/secrets/{secretName}",
    # The private network (components/network.py, private_link.py): ARM IDs as the REST specs
    # name their path parameters (azure-native keeps those names as the inputs).
    "network:VirtualNetwork": "Microsoft.Network/virtualNetworks/{virtualNetworkName}",
    "network:NetworkSecurityGroup": (
        "Microsoft.Network/networkSecurityGroups/{networkSecurityGroupName}"
    ),
    "network:PublicIPAddress": "Microsoft.Network/publicIPAddresses/{publicIpAddressName}",
    "network:PrivateEndpoint": "Microsoft.Network/privateEndpoints/{privateEndpointName}",
    "network:PrivateDnsZoneGroup": "Microsoft.Network/privateEndpoints/{privateEndpointName}"
    "/privateDnsZoneGroups/{privateDnsZoneGroupName}",
    "privatedns:PrivateZone": "Microsoft.Network/privateDnsZones/{privateZoneName}",
    "privatedns:VirtualNetworkLink": "Microsoft.Network/privateDnsZones/{privateZoneName}"
    "/virtualNetworkLinks/{virtualNetworkLinkName}",
    "web:WebAppAuthSettingsV2": "Microsoft.Web/sites/{name}/config/authsettingsV2",
}


class StackMocks(pulumi.runtime.Mocks):
    """Answers the engine's resource registrations and function calls like Azure would."""

    def __init__(self, stack: str) -> None:
        self.stack = stack
        self.subscription = subscription_id(stack)
        self.tenant = tenant_id(stack)

    def new_resource(
        self, args: pulumi.runtime.MockResourceArgs
    ) -> tuple[str | None, dict[str, Any]]:
        inputs: dict[str, Any] = dict(args.inputs)
        token = args.typ
        key = f"{self.stack}/{token}/{args.name}"
        if token.startswith("azuread:"):
            return self._entra(token, key, inputs)
        if token.startswith("azure-native:"):
            return self._arm(token.removeprefix("azure-native:"), key, inputs)
        if token == RANDOM_PASSWORD:
            return self._random_password(key, inputs)
        return f"{args.name}-id", inputs

    @staticmethod
    def _random_password(key: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        """A deterministic stand-in for pulumi-random's password, as the real one is a secret.

        The real SDK marks `result` and `bcryptHash` secret with additional_secret_outputs,
        which only the engine honours (the mock monitor ignores it), so the mock returns them
        wrapped as RPC secrets: every value computed from them stays secret, as under the CLI.
        Only letters and digits (the stack asks for special=False), of the requested length.
        """
        length = int(inputs.get("length") or 16)
        digest = hashlib.sha256(f"{key}/result".encode()).digest()
        while len(digest) < length:
            digest += hashlib.sha256(digest).digest()
        result = "".join(_ALPHANUMERIC[byte % len(_ALPHANUMERIC)] for byte in digest[:length])
        outputs = dict(inputs)
        outputs["result"] = rpc.wrap_rpc_secret(result)
        outputs["bcryptHash"] = rpc.wrap_rpc_secret(
            "$2a$10$" + hashlib.sha256(result.encode()).hexdigest()[:53]
        )
        return derived_id(key, "id"), outputs

    def _entra(self, token: str, key: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        object_id = derived_id(key, "objectId")
        kind = token.rsplit(":", 1)[-1]
        outputs = dict(inputs)
        if kind == "ApplicationRegistration":
            outputs |= {"clientId": derived_id(key, "clientId"), "objectId": object_id}
            return f"/applications/{object_id}", outputs
        if kind == "ServicePrincipal":
            outputs |= {"objectId": object_id, "type": "Application"}
            return f"/servicePrincipals/{object_id}", outputs
        if kind == "AppRoleAssignment":
            return (
                f"/servicePrincipals/{inputs.get('resourceObjectId')}/appRoleAssignedTo/{object_id}",
                outputs,
            )
        return f"/{kind}/{object_id}", outputs

    def _arm(self, kind: str, key: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        rg = inputs.get("resourceGroupName", "")
        base = f"/subscriptions/{self.subscription}/resourceGroups/{rg}"
        outputs = dict(inputs)
        if kind == "resources:ResourceGroup":
            outputs["name"] = rg
            return base, outputs
        if kind == "authorization:RoleAssignment":
            name = inputs.get("roleAssignmentName") or derived_id(key, "name")
            outputs["name"] = name
            return (
                f"{inputs.get('scope')}/providers/Microsoft.Authorization/roleAssignments/{name}",
                outputs,
            )
        template = _ARM_PATHS.get(kind, kind.replace(":", "/") + "/{name}")
        resource_id = f"{base}/providers/" + template.format_map(_Defaulting(inputs, key))
        name = resource_id.rsplit("/", 1)[-1]  # ARM's `name` is the last segment of the ID
        outputs["name"] = name
        if kind == "web:WebApp":
            outputs["defaultHostName"] = f"{name}.azurewebsites.net"
            outputs["identity"] = {
                **dict(inputs.get("identity") or {}),
                "principalId": derived_id(key, "principalId"),
                "tenantId": self.tenant,
            }
        elif kind == "apimanagement:ApiManagementService":
            outputs["gatewayUrl"] = f"https://{name}.azure-api.net"
            outputs["identity"] = {
                **dict(inputs.get("identity") or {}),
                "principalId": derived_id(key, "principalId"),
                "tenantId": self.tenant,
            }
        elif kind == "applicationinsights:Component":
            key_id = derived_id(key, "instrumentationKey")
            outputs["instrumentationKey"] = key_id
            region = inputs.get("location", "westeurope")
            outputs["connectionString"] = (
                f"InstrumentationKey={key_id};IngestionEndpoint="
                f"https://{region}-0.in.applicationinsights.azure.com/"
            )
        elif kind == "keyvault:Vault":
            outputs["properties"] = {
                **dict(inputs.get("properties") or {}),
                "vaultUri": f"https://{name}.vault.azure.net/",
            }
        elif kind == "network:VirtualNetwork":
            # Each subnet gets its ID, as ARM answers (the stack composes the same ID itself).
            outputs["subnets"] = [
                {**dict(subnet), "id": f"{resource_id}/subnets/{subnet.get('name')}"}
                for subnet in inputs.get("subnets") or []
                if isinstance(subnet, dict)
            ]
        elif kind == "network:PublicIPAddress":
            label = (inputs.get("dnsSettings") or {}).get("domainNameLabel")
            region = inputs.get("location", "westeurope")
            outputs["ipAddress"] = "203.0.113." + str(1 + int(derived_id(key, "ip")[:2], 16) % 250)
            if label:
                outputs["dnsSettings"] = {
                    **dict(inputs.get("dnsSettings") or {}),
                    "fqdn": f"{label}.{region}.cloudapp.azure.com",
                }
        elif kind == "keyvault:Secret":
            vault = inputs.get("vaultName")
            outputs["properties"] = {
                **dict(inputs.get("properties") or {}),
                "secretUri": f"https://{vault}.vault.azure.net/secrets/{name}",
            }
        return resource_id, outputs

    def call(  # type: ignore[override]  # the SDK also accepts a bare dict
        self, args: pulumi.runtime.MockCallArgs
    ) -> dict[str, Any]:
        token, inputs = args.token, dict(args.args)
        if token == "azuread:index/getClientConfig:getClientConfig":
            return {
                "tenantId": self.tenant,
                "clientId": derived_id(self.stack, "deployer"),
                "objectId": derived_id(self.stack, "deployer-object"),
            }
        if token == "azure-native:authorization:getClientConfig":
            return {
                "tenantId": self.tenant,
                "subscriptionId": self.subscription,
                "clientId": derived_id(self.stack, "deployer"),
                "objectId": derived_id(self.stack, "deployer-object"),
            }
        if (
            token == "azuread:index/getServicePrincipal:getServicePrincipal"
            and inputs.get("clientId") == MICROSOFT_GRAPH_APP_ID
        ):
            return {
                "clientId": MICROSOFT_GRAPH_APP_ID,
                "objectId": derived_id(self.stack, "microsoft-graph", "objectId"),
                "displayName": "Microsoft Graph",
                "appRoleIds": dict(GRAPH_APP_ROLE_IDS),
            }
        if token == "azuread:index/getServicePrincipal:getServicePrincipal" and inputs.get(
            "objectId"
        ):
            # A managed identity's service principal, looked up by its object (principal) ID:
            # Graph holds the client ID (appId) that ARM's identity block does not.
            object_id = str(inputs["objectId"])
            return {
                "objectId": object_id,
                "clientId": derived_id(self.stack, "service-principal", object_id, "clientId"),
                "type": "ManagedIdentity",
            }
        if token == "azure-native:apimanagement:getApiManagementService":
            name = inputs.get("serviceName")
            group = inputs.get("resourceGroupName")
            return {
                "name": name,
                "gatewayUrl": f"https://{name}.azure-api.net",
                "id": f"/subscriptions/{self.subscription}/resourceGroups/"
                f"{group}/providers/Microsoft.ApiManagement/service/{name}",
                # An existing service is assumed to have a system-assigned identity (the
                # portal's default since 2021); a test that needs one without overrides this.
                "identity": {
                    "type": "SystemAssigned",
                    "principalId": derived_id(self.stack, "apim", str(group), str(name), "mi"),
                    "tenantId": self.tenant,
                },
            }
        if token == "azure-native:web:getWebApp":
            # An existing site the config names as a backend: its default host name is what
            # ARM returns for a site without a unique-default-hostname suffix.
            name, group = str(inputs.get("name")), str(inputs.get("resourceGroupName"))
            return {
                "name": name,
                "id": f"/subscriptions/{self.subscription}/resourceGroups/{group}"
                f"/providers/Microsoft.Web/sites/{name}",
                "defaultHostName": f"{name}.azurewebsites.net",
                "kind": "app,linux",
                "httpsOnly": True,
                "location": "westeurope",
            }
        # Loud, never a silent empty answer: a guessed result would make the plan lie.
        raise SandboxError(
            f"the offline plan cannot answer the function '{token}' the program calls; "
            "teach sandbox/program/mocks.py (StackMocks.call) what Azure would return"
        )


class _Defaulting(dict[str, Any]):
    """format_map helper: a missing key becomes a derived placeholder instead of a KeyError."""

    def __init__(self, values: dict[str, Any], key: str) -> None:
        super().__init__({k: v for k, v in values.items() if isinstance(v, str)})
        self.key = key

    def __missing__(self, name: str) -> str:
        return derived_id(self.key, name)

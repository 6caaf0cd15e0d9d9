"""Which ARM resource each azure-native type is, and how its inputs sit in an ARM template.

Pure data. azure-native keeps ARM's property names but flattens each resource's `properties`
object into the resource's own inputs (x-ms-client-flatten in the REST specs), also inside
network sub-resources (a subnet's `addressPrefix` is ARM's `properties.addressPrefix`), and
turns the URL path parameters into inputs (`vaultName`, `secretName`). An ARM template wants
the opposite: the envelope (`name`, `location`, `tags`, `sku`, `kind`, `identity`, `zones`)
at the top, everything else under `properties`, the name of a child as `parent/child`. A few
types keep an explicit `properties` input (Key Vault, secrets, app settings); a few names
differ from ARM's (Key Vault's `exp`/`nbf`, which the SDK calls expires/notBefore).

The API version of each type is not here: it is read from the installed SDK
(sandbox/export/sdk_versions.py), so the template asks for the version the provider sends.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

# ARM resource envelope properties (learn.microsoft.com/azure/azure-resource-manager/templates/
# syntax, "Resources"): kept at the top; every other input goes under `properties`.
ENVELOPE = frozenset(
    {"location", "tags", "sku", "kind", "identity", "zones", "plan", "extendedLocation"}
)

# A nested list whose items are ARM sub-resources: {name, id, properties: {...}}, flattened by
# the SDK like the resource itself. Keys: the list (under properties), values: lists inside
# each item's properties that are flattened the same way.
Nested = Mapping[str, "Nested"]


@dataclass(frozen=True)
class ArmType:
    arm_type: str
    # The parts of the ARM name, parent first: an input name, or "=literal" for a fixed child
    # name (an App Service config section, a publishing-credentials policy).
    name_parts: tuple[str, ...]
    explicit_properties: bool = False  # the SDK has a `properties` input: keep it as is
    scope_input: str | None = None  # an extension resource: this input is its `scope`
    nested: Nested = field(default_factory=dict)
    renames: Mapping[str, str] = field(default_factory=dict)  # dotted SDK path -> ARM path
    # Inputs that are path parameters or SDK-only and never part of the body.
    dropped: frozenset[str] = frozenset({"resourceGroupName"})


_APIM = "Microsoft.ApiManagement/service"
_SUB_RESOURCE: Nested = {}

TYPES: Mapping[str, ArmType] = {
    "apimanagement:ApiManagementService": ArmType(_APIM, ("serviceName",)),
    "apimanagement:Api": ArmType(f"{_APIM}/apis", ("serviceName", "apiId")),
    "apimanagement:ApiOperation": ArmType(
        f"{_APIM}/apis/operations", ("serviceName", "apiId", "operationId")
    ),
    "apimanagement:ApiPolicy": ArmType(
        f"{_APIM}/apis/policies", ("serviceName", "apiId", "=policy")
    ),
    "apimanagement:ApiOperationPolicy": ArmType(
        f"{_APIM}/apis/operations/policies", ("serviceName", "apiId", "operationId", "=policy")
    ),
    "apimanagement:Backend": ArmType(f"{_APIM}/backends", ("serviceName", "backendId")),
    "apimanagement:NamedValue": ArmType(f"{_APIM}/namedValues", ("serviceName", "namedValueId")),
    "apimanagement:Subscription": ArmType(f"{_APIM}/subscriptions", ("serviceName", "sid")),
    "apimanagement:Logger": ArmType(f"{_APIM}/loggers", ("serviceName", "loggerId")),
    "apimanagement:ApiDiagnostic": ArmType(
        f"{_APIM}/apis/diagnostics", ("serviceName", "apiId", "diagnosticId")
    ),
    "web:AppServicePlan": ArmType("Microsoft.Web/serverfarms", ("name",)),
    "web:WebApp": ArmType("Microsoft.Web/sites", ("name",)),
    "web:WebAppFtpAllowed": ArmType(
        "Microsoft.Web/sites/basicPublishingCredentialsPolicies", ("name", "=ftp")
    ),
    "web:WebAppScmAllowed": ArmType(
        "Microsoft.Web/sites/basicPublishingCredentialsPolicies", ("name", "=scm")
    ),
    "web:WebAppApplicationSettings": ArmType(
        "Microsoft.Web/sites/config", ("name", "=appsettings"), explicit_properties=True
    ),
    "web:WebAppAuthSettingsV2": ArmType("Microsoft.Web/sites/config", ("name", "=authsettingsV2")),
    "keyvault:Vault": ArmType(
        "Microsoft.KeyVault/vaults", ("vaultName",), explicit_properties=True
    ),
    # Key Vault's attributes are exp/nbf in ARM (azure-rest-api-specs keyvault common.json
    # SecretAttributes, x-ms-client-name Expires/NotBefore); Checkov's CKV_AZURE_41 reads exp.
    "keyvault:Secret": ArmType(
        "Microsoft.KeyVault/vaults/secrets",
        ("vaultName", "secretName"),
        explicit_properties=True,
        renames={
            "properties.attributes.expires": "properties.attributes.exp",
            "properties.attributes.notBefore": "properties.attributes.nbf",
        },
    ),
    "authorization:RoleAssignment": ArmType(
        "Microsoft.Authorization/roleAssignments", ("roleAssignmentName",), scope_input="scope"
    ),
    "monitor:DiagnosticSetting": ArmType(
        "Microsoft.Insights/diagnosticSettings", ("name",), scope_input="resourceUri"
    ),
    "operationalinsights:Workspace": ArmType(
        "Microsoft.OperationalInsights/workspaces", ("workspaceName",)
    ),
    "applicationinsights:Component": ArmType("Microsoft.Insights/components", ("resourceName",)),
    "network:VirtualNetwork": ArmType(
        "Microsoft.Network/virtualNetworks",
        ("virtualNetworkName",),
        nested={"subnets": {"delegations": _SUB_RESOURCE}},
    ),
    "network:NetworkSecurityGroup": ArmType(
        "Microsoft.Network/networkSecurityGroups",
        ("networkSecurityGroupName",),
        nested={"securityRules": _SUB_RESOURCE},
    ),
    "network:PublicIPAddress": ArmType(
        "Microsoft.Network/publicIPAddresses", ("publicIpAddressName",)
    ),
    "network:PrivateEndpoint": ArmType(
        "Microsoft.Network/privateEndpoints",
        ("privateEndpointName",),
        nested={"privateLinkServiceConnections": _SUB_RESOURCE, "subnet": _SUB_RESOURCE},
    ),
    "network:PrivateDnsZoneGroup": ArmType(
        "Microsoft.Network/privateEndpoints/privateDnsZoneGroups",
        ("privateEndpointName", "privateDnsZoneGroupName"),
        nested={"privateDnsZoneConfigs": _SUB_RESOURCE},
    ),
    "privatedns:PrivateZone": ArmType("Microsoft.Network/privateDnsZones", ("privateZoneName",)),
    "privatedns:VirtualNetworkLink": ArmType(
        "Microsoft.Network/privateDnsZones/virtualNetworkLinks",
        ("privateZoneName", "virtualNetworkLinkName"),
    ),
}


def arm_type(token: str) -> ArmType | None:
    """The ARM type of an engine type token (`azure-native:keyvault:Secret`), if known."""
    return (
        TYPES.get(token.removeprefix("azure-native:"))
        if token.startswith("azure-native:")
        else None
    )


def sdk_class(token: str) -> tuple[str, str]:
    """(SDK module, class) of an azure-native token: `keyvault`, `Secret`."""
    module, cls = token.removeprefix("azure-native:").split(":")
    return module, cls

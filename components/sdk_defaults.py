"""The values azure-native fills in on its own, and which of them the program refuses to send.

pulumi-azure-native's Python SDK writes schema defaults into a resource's inputs before the
request leaves the program (`if x is None: x = <default>` in each resource's `_internal_init`),
and the provider passes them on to ARM unchanged (pulumi/pulumi-azure-native#1865: "the bool
defaults to false rather than 'not present'"). Some of those values are ones ARM refuses, or
ones that ask for a feature the program never chose. The table below lists, per resource
type, every default the installed SDK fills in, and decides each one:

- refuse: a legacy `transformations=[...]` option removes it before registration, so the
  request carries no such property and ARM applies its own default (what an ARM template or
  Bicep file that omits the property sends). Legacy transformations run inside the Python SDK
  (pulumi/resource.py, `Resource.__init__`), also under test mocks; properties that serialize
  to None are dropped from the request (pulumi/runtime/rpc.py: "We treat properties that
  serialize to None as if they don't exist"). The newer `transforms=[...]` would not run under
  the offline plan's mocks (pulumi/runtime/mocks.py), so the plan could not show the effect.
- accept: the value equals what ARM does without it; sending it is harmless and visible.

A property the program sets to a value other than the default is never removed.
tests/components/test_sdk_defaults.py reads the installed SDK's source and fails when a default
appears that this table does not decide, so an SDK upgrade cannot silently add one ARM refuses.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi

V2_SKUS = frozenset({"BasicV2", "StandardV2", "PremiumV2"})
EVERY_SKU = frozenset(
    {"Developer", "Basic", "Standard", "Premium", "Consumption", "Isolated", *V2_SKUS}
)


@dataclass(frozen=True)
class SdkDefault:
    """One `if <prop> is None: <prop> = <value>` of an SDK resource class, and the decision."""

    prop: str  # the SDK's snake_case input name
    value: Any  # what the SDK fills in
    refuse_on: frozenset[str]  # SKUs on which it is removed; empty: always sent (accepted)
    why: str


APIM_SERVICE = "azure-native:apimanagement:ApiManagementService"

DEFAULTS: Mapping[str, tuple[SdkDefault, ...]] = {
    APIM_SERVICE: (
        SdkDefault(
            "enable_client_certificate",
            False,
            EVERY_SKU,
            # ARM: `NotSupported: Setting EnableClientCertificate flag to false is not supported
            # for Developer SKU` (pulumi/pulumi-azure-native#1741, #1865), and on update
            # `EnableClientCertificateCannotBeChangedForSku` (pulumi/pulumi-azure#3315). The flag
            # only means something on Consumption; true would turn on client-certificate
            # negotiation on v2 (Azure/azure-resource-manager-schemas#3793), so omit it.
            "ARM refuses false on every tier but Consumption",
        ),
        SdkDefault(
            "legacy_portal_status",
            "Enabled",
            EVERY_SKU,
            # The legacy developer portal was retired on 31 October 2023; 'Enabled' asks for a
            # retired feature, and the property is undocumented on the v2 tiers.
            "asks for the legacy portal, retired in October 2023",
        ),
        SdkDefault(
            "developer_portal_status",
            "Enabled",
            V2_SKUS,
            # Classic tiers: 'Enabled' is the service's own default. v2 tiers: nothing documents
            # the property there (research: azure-facts.md), so send nothing and let ARM decide.
            "undocumented on the v2 tiers",
        ),
        SdkDefault(
            "nat_gateway_state",
            "Disabled",
            V2_SKUS,
            # NAT gateway belongs to VNet-injected classic (stv2) services; undocumented on v2.
            "undocumented on the v2 tiers",
        ),
        SdkDefault("disable_gateway", False, frozenset(), "ARM's default (multi-region only)"),
        SdkDefault("restore", False, frozenset(), "ARM's default; gateway.restore sets true"),
        SdkDefault("virtual_network_type", "None", frozenset(), "ARM's default: no VNet"),
    ),
    # Nothing filled in (its input types are in NESTED_DEFAULTS below, checked the same way):
    # the backend's authentication carries exactly what components/backend_hop.py sets.
    "azure-native:web:WebAppAuthSettingsV2": (),
    "azure-native:web:WebApp": (
        SdkDefault("client_affinity_enabled", False, frozenset(), "stateless API callers"),
        SdkDefault("hyper_v", False, frozenset(), "ARM's default (Windows containers only)"),
        SdkDefault("is_xenon", False, frozenset(), "ARM's default (obsolete Hyper-V flag)"),
        SdkDefault("scm_site_also_stopped", False, frozenset(), "ARM's default"),
    ),
    # The private network (components/network.py, private_link.py), network.mode 'private'.
    "azure-native:network:VirtualNetwork": (
        SdkDefault("enable_ddos_protection", False, frozenset(), "ARM's default: no DDoS plan"),
        SdkDefault("enable_vm_protection", False, frozenset(), "ARM's default (deprecated flag)"),
    ),
    # What the rest of the stack sends (tests/components/test_sdk_defaults.py finds every
    # azure-native type in the fixture plans and fails on one missing here).
    "azure-native:apimanagement:Api": (),
    "azure-native:apimanagement:ApiDiagnostic": (),
    "azure-native:apimanagement:ApiOperation": (),
    "azure-native:apimanagement:ApiOperationPolicy": (
        SdkDefault("format", "xml", frozenset(), "the program sets format xml itself"),
    ),
    "azure-native:apimanagement:ApiPolicy": (
        SdkDefault("format", "xml", frozenset(), "the program sets format xml itself"),
    ),
    "azure-native:apimanagement:Backend": (),
    "azure-native:apimanagement:Logger": (),
    "azure-native:apimanagement:NamedValue": (),
    "azure-native:apimanagement:Subscription": (),
    "azure-native:applicationinsights:Component": (
        # learn.microsoft.com/azure/azure-monitor/app/create-workspace-resource: a
        # workspace-based component; these are the REST API's own defaults.
        SdkDefault("application_type", "web", frozenset(), "ARM's default; the program sets it"),
        SdkDefault("flow_type", "Bluefield", frozenset(), "ARM's default (created by REST)"),
        SdkDefault("ingestion_mode", "LogAnalytics", frozenset(), "workspace-based, as chosen"),
        SdkDefault("request_source", "rest", frozenset(), "ARM's default (created by REST)"),
        # Telemetry ingestion and query stay public even with network: private (App Insights
        # private link is out of scope: docs/private-network.md, "Left out").
        SdkDefault("public_network_access_for_ingestion", "Enabled", frozenset(), "ARM's default"),
        SdkDefault("public_network_access_for_query", "Enabled", frozenset(), "ARM's default"),
    ),
    "azure-native:authorization:RoleAssignment": (
        # Never sent: the program sets principalType on every assignment, since ARM refuses
        # "User" for a service principal (UnmatchedPrincipalType, Azure/modern-web-app-pattern-
        # dotnet#129); preflight rule 43 fails a plan that lets this default through.
        SdkDefault("principal_type", "User", frozenset(), "always overridden by the program"),
    ),
    "azure-native:keyvault:Secret": (),
    "azure-native:keyvault:Vault": (),
    "azure-native:monitor:DiagnosticSetting": (),
    "azure-native:operationalinsights:Workspace": (),
    "azure-native:resources:ResourceGroup": (),
    "azure-native:web:AppServicePlan": (),
    "azure-native:web:WebAppApplicationSettings": (),
    "azure-native:web:WebAppFtpAllowed": (),
    "azure-native:web:WebAppScmAllowed": (),
    "azure-native:network:NetworkSecurityGroup": (),
    "azure-native:network:PublicIPAddress": (),
    "azure-native:network:PrivateEndpoint": (),
    "azure-native:network:PrivateDnsZoneGroup": (),
    "azure-native:privatedns:PrivateZone": (),
    "azure-native:privatedns:VirtualNetworkLink": (),
}

# Defaults the SDK fills into the nested argument classes the program builds, keyed by the class
# (module.Class). They travel inside a resource's inputs, so they are decided here too;
# tests/components/test_sdk_defaults.py finds every such class the components name and reads
# each one's __init__ the same way.
NESTED_DEFAULTS: Mapping[str, tuple[SdkDefault, ...]] = {
    "network.SubnetArgs": (
        # ARM's own defaults (Microsoft.Network subnets): endpoint network policies off,
        # Private Link service policies on. Also filled into a private endpoint's subnet
        # reference, where only the ID selects the subnet.
        SdkDefault("private_endpoint_network_policies", "Disabled", frozenset(), "ARM's default"),
        SdkDefault(
            "private_link_service_network_policies", "Enabled", frozenset(), "ARM's default"
        ),
    ),
    "web.SiteConfigArgs": (
        SdkDefault("http20_enabled", True, frozenset(), "the program sets HTTP/2 on itself"),
        SdkDefault("local_my_sql_enabled", False, frozenset(), "ARM's default: no MySQL in app"),
        # A Windows .NET Framework setting; a Linux site ignores it (ARM's own default).
        SdkDefault("net_framework_version", "v4.6", frozenset(), "ARM's default; Linux ignores"),
    ),
    "web.ManagedServiceIdentityArgs": (),
    "web.SkuDescriptionArgs": (),
    "keyvault.VaultPropertiesArgs": (
        # Each is ARM's own default for a new vault; the program sets RBAC on, and public access
        # and soft delete as the stack's keyVault config says (preflight rule 40 refuses an
        # explicit enableSoftDelete false).
        SdkDefault("enable_rbac_authorization", False, frozenset(), "the program sets true"),
        SdkDefault("enable_soft_delete", True, frozenset(), "ARM's default"),
        SdkDefault("enabled_for_deployment", False, frozenset(), "ARM's default"),
        SdkDefault("enabled_for_disk_encryption", False, frozenset(), "ARM's default"),
        SdkDefault("enabled_for_template_deployment", False, frozenset(), "ARM's default"),
        SdkDefault("public_network_access", "enabled", frozenset(), "ARM's default"),
        SdkDefault("soft_delete_retention_in_days", 90, frozenset(), "ARM's default"),
    ),
    "keyvault.SecretPropertiesArgs": (),
    "keyvault.SkuArgs": (),
    "apimanagement.ApiManagementServiceIdentityArgs": (),
    "apimanagement.ApiManagementServiceSkuPropertiesArgs": (),
    "apimanagement.BackendTlsPropertiesArgs": (
        SdkDefault("validate_certificate_chain", True, frozenset(), "rule 20 requires it"),
        SdkDefault("validate_certificate_name", True, frozenset(), "rule 20 requires it"),
    ),
    "apimanagement.ParameterContractArgs": (),
    "apimanagement.SamplingSettingsArgs": (),
    "operationalinsights.WorkspaceSkuArgs": (),
    "monitor.DiagnosticsLogSettingsArgs": (),
    "network.AddressSpaceArgs": (),
    "network.DelegationArgs": (),
    "network.NetworkSecurityGroupArgs": (),
    "network.SecurityRuleArgs": (),
    "network.PublicIPAddressSkuArgs": (),
    "network.PublicIPAddressDnsSettingsArgs": (),
    "network.PrivateLinkServiceConnectionArgs": (),
    "network.PrivateDnsZoneConfigArgs": (),
    "privatedns.SubResourceArgs": (),
    "keyvault.NetworkRuleSetArgs": (),
    "keyvault.SecretAttributesArgs": (),
    "web.IpSecurityRestrictionArgs": (),
    "apimanagement.VirtualNetworkConfigurationArgs": (),
    # The backend site's authentication (components/backend_hop.py): nothing filled in.
    "web.AuthPlatformArgs": (),
    "web.GlobalValidationArgs": (),
    "web.HttpSettingsArgs": (),
    "web.IdentityProvidersArgs": (),
    "web.AzureActiveDirectoryArgs": (),
    "web.AzureActiveDirectoryRegistrationArgs": (),
    "web.AzureActiveDirectoryValidationArgs": (),
    "web.DefaultAuthorizationPolicyArgs": (),
    "web.AllowedPrincipalsArgs": (),
}


def refused(resource_type: str, sku: str | None) -> tuple[SdkDefault, ...]:
    """The defaults removed from a resource of this type (and SKU, where the type has one)."""
    return tuple(
        default
        for default in DEFAULTS.get(resource_type, ())
        if default.refuse_on and (sku is None or sku in default.refuse_on)
    )


def without_refused_defaults(resource_type: str, sku: str | None) -> pulumi.ResourceTransformation:
    """A legacy resource transformation removing the refused defaults the SDK filled in."""
    drop = refused(resource_type, sku)

    def transformation(
        args: pulumi.ResourceTransformationArgs,
    ) -> pulumi.ResourceTransformationResult | None:
        if args.type_ != resource_type:
            return None
        props = dict(args.props)
        for default in drop:
            # Only the SDK's value: a value the program chose on purpose is sent as chosen.
            if default.prop in props and props[default.prop] == default.value:
                del props[default.prop]
        return pulumi.ResourceTransformationResult(props, args.opts)

    return transformation

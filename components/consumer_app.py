"""A consumer Web App: a hardened Linux site whose system identity calls the APIs.

It owns what needs the site's identity: the site, FTP/SCM basic-auth publishing switched off,
*Key Vault Secrets User* on each of its own key secrets, and its app settings. The settings
are one `WebAppApplicationSettings` resource, not `siteConfig.appSettings`: App Service
resolves a Key Vault reference when the settings are written (and again every 24 hours or on
any configuration change; learn.microsoft.com/azure/app-service/app-service-key-vault-references),
so they must be written after the vault, the secret and the reader grant exist, and only a
separate resource can depend on a grant that itself needs the site's identity.

In a private network (`AppNetwork`) the site uses regional VNet integration with all outbound
traffic routed into the VNet (`virtualNetworkSubnetId`, `siteConfig.vnetRouteAllEnabled`), so
its Key Vault references resolve through the vault's private endpoint: "Linux applications
attempting to use private endpoints additionally require that the app be explicitly configured
to have all traffic route through the virtual network" (app-service-key-vault-references,
"Access network-restricted vaults"). Inbound it is either reachable only through its own
private endpoint (publicNetworkAccess Disabled; learn.microsoft.com/azure/app-service/networking/
private-endpoint) or behind access restrictions that deny by default, the SCM site included
(learn.microsoft.com/azure/app-service/app-service-ip-restrictions).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

import pulumi
import pulumi_azuread as azuread
from pulumi_azure_native import authorization, keyvault, web

from components import naming
from components.outputs import text
from components.private_link import EndpointArgs, private_endpoint
from consumer.app_settings import setting_names


@dataclass(frozen=True)
class ApiCallSettings:
    """What the consumer needs to call one API."""

    api: str
    base_url: pulumi.Input[str]
    scope: pulumi.Input[str]
    key_vault_name: str
    secret_name: str


@dataclass(frozen=True)
class KeyAccess:
    """The vault and the consumer's own key secrets, and the role that reads a secret."""

    vault: keyvault.Vault
    secrets: Mapping[str, keyvault.Secret]  # by secret name
    reader_role_id: pulumi.Input[str]
    # The component that owned the reader grants before they moved here: their aliases keep
    # the deployed role assignments (same ARM name) instead of replacing them.
    previous_owner: pulumi.Resource | None = None


@dataclass(frozen=True)
class AppNetwork:
    """The site's place in the stack's private network."""

    integration_subnet_id: pulumi.Input[str]
    inbound: Literal["privateEndpoint", "accessRestrictions"]
    allow: tuple[str, ...] = ()  # accessRestrictions: CIDRs or service tags
    endpoint_subnet_id: pulumi.Input[str] | None = None  # privateEndpoint
    zone_name: str = ""
    zone_id: pulumi.Input[str] | None = None
    depends_on: tuple[pulumi.Resource, ...] = ()  # the VNet and the zone

    def __post_init__(self) -> None:
        if self.inbound == "privateEndpoint" and (
            self.endpoint_subnet_id is None or self.zone_id is None
        ):
            raise ValueError("a private endpoint needs its subnet and DNS zone")
        if self.inbound == "accessRestrictions" and not self.allow:
            raise ValueError("access restrictions need at least one allowed source")


def access_restrictions(allow: tuple[str, ...]) -> list[web.IpSecurityRestrictionArgs]:
    """One Allow rule per source, a CIDR or a service tag (ip_address plus tag=ServiceTag)."""
    rules = []
    for index, source in enumerate(allow):
        try:
            ipaddress.ip_network(source)
            tag = "Default"
        except ValueError:
            tag = "ServiceTag"
        rules.append(
            web.IpSecurityRestrictionArgs(
                name=f"allow-{index + 1}",
                action="Allow",
                priority=100 + 10 * index,
                ip_address=source,
                tag=tag,
            )
        )
    return rules


@dataclass(frozen=True)
class ConsumerAppArgs:
    site_name: str
    stack: str
    plan_id: pulumi.Input[str]
    resource_group_name: str
    location: str
    runtime: str
    health_check_path: str
    calls: tuple[ApiCallSettings, ...]
    keys: KeyAccess
    insights_connection_string: pulumi.Input[str] | None = None  # a Pulumi secret
    network: AppNetwork | None = None  # set: join the stack's private network
    tags: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.calls:
            raise ValueError(f"consumer '{self.site_name}' calls no API")
        missing = [c.secret_name for c in self.calls if c.secret_name not in self.keys.secrets]
        if missing:
            raise ValueError(f"consumer '{self.site_name}': no key secret {missing[0]}")


def key_vault_reference(vault_name: str, secret_name: str) -> str:
    # No secret version: App Service follows the latest version (re-read within 24 hours).
    return f"@Microsoft.KeyVault(VaultName={vault_name};SecretName={secret_name})"


def api_settings(calls: tuple[ApiCallSettings, ...]) -> dict[str, pulumi.Input[str]]:
    """The API_* settings the consumer library reads (consumer/app_settings.py names them)."""
    settings: dict[str, pulumi.Input[str]] = {}
    for call in calls:
        names = setting_names(call.api)
        settings[names.base_url] = call.base_url
        settings[names.scope] = call.scope
        settings[names.subscription_key] = key_vault_reference(
            call.key_vault_name, call.secret_name
        )
    return settings


def app_settings(
    calls: tuple[ApiCallSettings, ...], insights: pulumi.Input[str] | None = None
) -> dict[str, pulumi.Input[str]]:
    """Every setting of the site: WebAppApplicationSettings replaces the whole set."""
    settings: dict[str, pulumi.Input[str]] = {}
    if insights is not None:
        # App Service's Python auto-instrumentation (Linux) reads these two settings.
        settings["APPLICATIONINSIGHTS_CONNECTION_STRING"] = insights
        settings["ApplicationInsightsAgent_EXTENSION_VERSION"] = "~3"
    return settings | api_settings(calls)


class ConsumerApp(pulumi.ComponentResource):
    """WebApp (SystemAssigned identity), publishing switches, secret readers, app settings."""

    principal_id: pulumi.Output[str]
    client_id: pulumi.Output[str]
    host_name: pulumi.Output[str]

    def __init__(
        self, name: str, args: ConsumerAppArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("secure-api-calls:consumer:ConsumerApp", name, None, opts)
        joined = args.network
        restricted = joined is not None and joined.inbound == "accessRestrictions"
        site = web.WebApp(
            f"{name}-site",
            name=args.site_name,
            resource_group_name=args.resource_group_name,
            location=args.location,
            server_farm_id=args.plan_id,
            kind="app,linux",
            https_only=True,
            identity=web.ManagedServiceIdentityArgs(
                type=web.ManagedServiceIdentityType.SYSTEM_ASSIGNED
            ),
            key_vault_reference_identity="SystemAssigned",
            virtual_network_subnet_id=joined.integration_subnet_id if joined else None,
            public_network_access="Disabled"
            if joined is not None and joined.inbound == "privateEndpoint"
            else None,
            site_config=web.SiteConfigArgs(
                linux_fx_version=args.runtime,
                min_tls_version="1.2",
                scm_min_tls_version="1.2",
                ftps_state="Disabled",
                remote_debugging_enabled=False,
                http20_enabled=True,
                health_check_path=args.health_check_path,
                # All outbound traffic into the VNet: Key Vault references over the private
                # endpoint (Linux needs it explicitly), NSGs and routes on every call.
                vnet_route_all_enabled=True if joined else None,
                ip_security_restrictions=access_restrictions(joined.allow)
                if joined is not None and restricted
                else None,
                ip_security_restrictions_default_action="Deny" if restricted else None,
                scm_ip_security_restrictions_use_main=True if restricted else None,
                scm_ip_security_restrictions_default_action="Deny" if restricted else None,
                # No app_settings here: the WebAppApplicationSettings below owns all of them,
                # and the two mechanisms would wipe each other (pulumi-azure-native#1876).
            ),
            tags=args.tags,
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=list(joined.depends_on) if joined else None
            ),
        )
        if joined is not None and joined.inbound == "privateEndpoint":
            assert joined.endpoint_subnet_id is not None and joined.zone_id is not None
            private_endpoint(
                f"{name}-endpoint",
                EndpointArgs(
                    endpoint_name=f"pe-{args.site_name}",
                    target_id=site.id,
                    group_id="sites",
                    subnet_id=joined.endpoint_subnet_id,
                    zone_name=joined.zone_name,
                    zone_id=joined.zone_id,
                    resource_group_name=args.resource_group_name,
                    location=args.location,
                    tags=args.tags,
                    depends_on=(site, *joined.depends_on),
                ),
                parent=self,
            )
        for kind, resource in (("ftp", web.WebAppFtpAllowed), ("scm", web.WebAppScmAllowed)):
            resource(
                f"{name}-{kind}-basic-auth",
                name=args.site_name,  # literal, so the policy pack can match it at preview
                resource_group_name=args.resource_group_name,
                allow=False,
                opts=pulumi.ResourceOptions(parent=self, depends_on=[site]),
            )
        self.principal_id = site.identity.apply(
            lambda identity: (identity.principal_id if identity else None) or ""
        )
        readers = [self._reader(name, args, secret_name) for secret_name in _secrets(args)]
        web.WebAppApplicationSettings(
            f"{name}-app-settings",
            name=args.site_name,
            resource_group_name=args.resource_group_name,
            properties=app_settings(args.calls, args.insights_connection_string),
            # Written after the grants: a reference App Service cannot resolve at write time
            # stays the literal `@Microsoft.KeyVault(...)` text until the next refresh. Azure
            # RBAC assignments can take up to 10 minutes to apply (Key Vault RBAC guide), so
            # the very first resolution may still fail; docs/first-deployment.md gives the
            # command that shows each reference's status, and a restart re-reads them.
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=[site, args.keys.vault, *args.keys.secrets.values(), *readers],
            ),
        )
        # A system-assigned identity's client ID is not in ARM's answer; Graph has it.
        self.client_id = text(
            azuread.get_service_principal_output(
                object_id=self.principal_id, opts=pulumi.InvokeOutputOptions(parent=self)
            ).client_id
        )
        self.host_name = text(site.default_host_name)
        self.register_outputs(
            {
                "principalId": self.principal_id,
                "clientId": self.client_id,
                "hostName": self.host_name,
            }
        )

    def _reader(
        self, name: str, args: ConsumerAppArgs, secret_name: str
    ) -> authorization.RoleAssignment:
        """Key Vault Secrets User for this site's identity on one of its own secrets."""
        previous = args.keys.previous_owner
        return authorization.RoleAssignment(
            f"{name}-{secret_name}-reader",
            role_assignment_name=naming.stable_id(args.stack, "kv-reader", secret_name),
            principal_id=self.principal_id,
            principal_type="ServicePrincipal",
            role_definition_id=args.keys.reader_role_id,
            scope=args.keys.secrets[secret_name].id,
            opts=pulumi.ResourceOptions(
                parent=self,
                aliases=(
                    [
                        pulumi.Alias(
                            name=f"{previous.pulumi_resource_name}-{secret_name}-reader",
                            parent=previous,
                        )
                    ]
                    if previous is not None
                    else None
                ),
            ),
        )


def _secrets(args: ConsumerAppArgs) -> list[str]:
    return list(dict.fromkeys(call.secret_name for call in args.calls))

"""A consumer Web App: a hardened Linux site whose system identity calls the APIs.

Its app settings tell the consumer library where each API is, which scope to request and
where the subscription key is (a Key Vault reference App Service resolves at start-up, so no
secret is stored in the site configuration).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
from pulumi_azure_native import web

from components.outputs import text
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
class ConsumerAppArgs:
    site_name: str
    plan_id: pulumi.Input[str]
    resource_group_name: str
    location: str
    runtime: str
    health_check_path: str
    calls: tuple[ApiCallSettings, ...]
    insights_connection_string: pulumi.Input[str] | None = None
    tags: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.calls:
            raise ValueError(f"consumer '{self.site_name}' calls no API")


def app_settings(
    calls: tuple[ApiCallSettings, ...], insights: pulumi.Input[str] | None = None
) -> list[web.NameValuePairArgs]:
    settings: list[web.NameValuePairArgs] = []
    if insights is not None:
        # App Service's Python auto-instrumentation (Linux) reads these two settings.
        settings += [
            web.NameValuePairArgs(name="APPLICATIONINSIGHTS_CONNECTION_STRING", value=insights),
            web.NameValuePairArgs(name="ApplicationInsightsAgent_EXTENSION_VERSION", value="~3"),
        ]
    for call in calls:
        names = setting_names(call.api)
        reference = (
            f"@Microsoft.KeyVault(VaultName={call.key_vault_name};SecretName={call.secret_name})"
        )
        settings += [
            web.NameValuePairArgs(name=names.base_url, value=call.base_url),
            web.NameValuePairArgs(name=names.scope, value=call.scope),
            web.NameValuePairArgs(name=names.subscription_key, value=reference),
        ]
    return settings


class ConsumerApp(pulumi.ComponentResource):
    """WebApp with a SystemAssigned identity, plus FTP/SCM basic-auth publishing switched off."""

    principal_id: pulumi.Output[str]
    host_name: pulumi.Output[str]

    def __init__(
        self, name: str, args: ConsumerAppArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("secure-api-calls:consumer:ConsumerApp", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
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
            site_config=web.SiteConfigArgs(
                linux_fx_version=args.runtime,
                min_tls_version="1.2",
                scm_min_tls_version="1.2",
                ftps_state="Disabled",
                remote_debugging_enabled=False,
                http20_enabled=True,
                health_check_path=args.health_check_path,
                app_settings=app_settings(args.calls, args.insights_connection_string),
            ),
            tags=args.tags,
            opts=child,
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
        self.host_name = text(site.default_host_name)
        self.register_outputs({"principalId": self.principal_id, "hostName": self.host_name})

"""The backend hop: the gateway calls each backend with its own token, and the backends the
stack knows accept nothing else.

Per API whose backendAuth is managedIdentity (the default):
- the gateway's managed identity is assigned the API registration's gateway role
  (`Gateway.Forward`): the registration requires assignment, so without it Entra refuses the
  gateway a token (AADSTS501051) and every call fails;
- for an App Service (or Function app) backend, App Service authentication v2 on that site:
  authentication required, 401 for an unauthenticated call, the Entra provider with the API's
  registration as client ID, the issuer of the API's token version, the registration's client
  ID as the only audience, and the gateway's identity as the only allowed application and
  principal (learn.microsoft.com/azure/app-service/configure-authentication-provider-aad,
  "Use a built-in authorization policy": allowedApplications is matched against the token's
  appid/azp, allowedPrincipals.identities against its oid).

On `pulumi destroy` the authentication settings are deliberately left on the site
(retain_on_delete): the provider would otherwise "delete" them by writing
`platform.enabled: false` (pulumi/pulumi-azure-native#4373), which opens the backend to anyone.
Left in place they keep demanding a token for a registration that no longer exists, so the
site refuses every call until its owner changes them (docs/backend-hop.md says how).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_azuread as azuread
from pulumi_azure_native import web

from components.config import Api, AppServiceBackend
from components.gateway_identity import GatewayIdentity
from components.outputs import text


def app_service_url(site: AppServiceBackend) -> pulumi.Output[str]:
    """https://<the site's default host name><path>: read from the site, never guessed (a
    site created with a unique default host name has a suffix that its name does not tell)."""
    found = web.get_web_app_output(name=site.name, resource_group_name=site.resource_group)
    return pulumi.Output.concat("https://", text(found.default_host_name), site.path)


def issuer(tenant_id: pulumi.Input[str], token_version: int) -> pulumi.Output[str]:
    """Entra's issuer for the tokens the API's registration issues (its token version)."""
    if token_version == 2:
        return pulumi.Output.concat("https://login.microsoftonline.com/", text(tenant_id), "/v2.0")
    return pulumi.Output.concat("https://sts.windows.net/", text(tenant_id), "/")


@dataclass(frozen=True)
class BackendHopArgs:
    api: Api
    tenant_id: pulumi.Input[str]
    api_client_id: pulumi.Input[str]
    api_service_principal_id: pulumi.Input[str]
    gateway_role: azuread.ApplicationAppRole
    gateway_role_id: str
    gateway: GatewayIdentity

    def __post_init__(self) -> None:
        if not self.api.hop_authenticated:
            raise ValueError(f"API '{self.api.name}': backendAuth none has no backend hop")


class BackendHop(pulumi.ComponentResource):
    """The gateway's role assignment on one API and, for a site the stack knows, its auth."""

    def __init__(
        self, name: str, args: BackendHopArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("secure-api-calls:gateway:BackendHop", name, None, opts)
        api = args.api
        assignment = azuread.AppRoleAssignment(
            f"{name}-gateway-role",
            app_role_id=args.gateway_role_id,
            principal_object_id=args.gateway.principal_id,
            resource_object_id=args.api_service_principal_id,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[args.gateway_role]),
        )
        site = api.app_service
        if site is not None:
            self._authentication(name, args, site, assignment)
        self.register_outputs({"api": api.name, "site": site.name if site else None})

    def _authentication(
        self,
        name: str,
        args: BackendHopArgs,
        site: AppServiceBackend,
        assignment: azuread.AppRoleAssignment,
    ) -> web.WebAppAuthSettingsV2:
        return web.WebAppAuthSettingsV2(
            f"{name}-authentication",
            name=site.name,  # literal, so the policy pack can match it at preview
            resource_group_name=site.resource_group,
            platform=web.AuthPlatformArgs(enabled=True),
            global_validation=web.GlobalValidationArgs(
                require_authentication=True,
                unauthenticated_client_action=web.UnauthenticatedClientActionV2.RETURN401,
            ),
            http_settings=web.HttpSettingsArgs(require_https=True),
            identity_providers=web.IdentityProvidersArgs(
                azure_active_directory=web.AzureActiveDirectoryArgs(
                    enabled=True,
                    # No client secret: validating bearer tokens needs none (a secret is only
                    # for signing people in, which this backend never does).
                    registration=web.AzureActiveDirectoryRegistrationArgs(
                        client_id=args.api_client_id,
                        open_id_issuer=issuer(args.tenant_id, args.api.token_version),
                    ),
                    validation=web.AzureActiveDirectoryValidationArgs(
                        allowed_audiences=[args.api_client_id],
                        default_authorization_policy=web.DefaultAuthorizationPolicyArgs(
                            allowed_applications=[args.gateway.client_id],
                            allowed_principals=web.AllowedPrincipalsArgs(
                                identities=[args.gateway.principal_id]
                            ),
                        ),
                    ),
                )
            ),
            opts=pulumi.ResourceOptions(
                parent=self,
                # Demand the gateway's token only once the gateway can get one.
                depends_on=[assignment],
                retain_on_delete=True,
            ),
        )

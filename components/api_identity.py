"""The Entra side of one protected API: registration, identifier URI, scope, roles, principal.

This replaces the article's portal steps 1-6. The registration uses `ApplicationRegistration`
plus its sub-resources, never the monolithic `Application` (mixing them makes the parent wipe
the children on update).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_azuread as azuread

from components import naming
from components.config import DEVELOPER_TOOLS, Api
from components.outputs import text


@dataclass(frozen=True)
class GroupGrant:
    """An Entra group of developers that gets some of this API's roles."""

    name: str
    object_id: str
    roles: tuple[str, ...]


@dataclass(frozen=True)
class ApiIdentityArgs:
    api: Api
    stack: str
    display_name: str
    # The deploying identity (azuread.get_client_config_output().object_id): it must own what it
    # manages when it holds Application.ReadWrite.OwnedBy.
    deployer_object_id: pulumi.Input[str]
    developer_tools: tuple[str, ...] = ()
    groups: tuple[GroupGrant, ...] = ()

    def __post_init__(self) -> None:
        for tool in self.developer_tools:
            if tool not in DEVELOPER_TOOLS:
                raise ValueError(f"unknown developer tool '{tool}'; known: {list(DEVELOPER_TOOLS)}")
        for group in self.groups:
            for role in group.roles:
                if role not in self.api.role_values:
                    raise ValueError(f"group '{group.name}' names unknown role '{role}'")


class ApiIdentity(pulumi.ComponentResource):
    """App registration (`api://<clientId>`), delegated scope, app roles and service principal."""

    client_id: pulumi.Output[str]
    identifier_uri: pulumi.Output[str]
    service_principal_object_id: pulumi.Output[str]
    role_ids: dict[str, str]  # the API's own roles, by value (the gateway role is apart)
    gateway_role: azuread.ApplicationAppRole | None  # None: backendAuth none

    def __init__(
        self, name: str, args: ApiIdentityArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("secure-api-calls:identity:ApiIdentity", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        api = args.api

        # Owners of the registration: none set here, on purpose. Graph makes an app-only caller
        # the owner of an application it creates (microsoftgraph/msgraph-sdk-powershell#829:
        # "the owner is automatically set to the ServicePrincipal of the main application"),
        # and the provider's ApplicationRegistration never touches owners, so the deployer
        # stays one. An azuread.ApplicationOwner for the deployer would fail on create: the
        # provider's Create looks the owner up and answers "already exists ... needs to be
        # imported" (terraform-provider-azuread application_owner_resource.go,
        # ResourceRequiresImport); and OwnedBy may not add other owners at all (Graph
        # application-post-owners: "Application.ReadWrite.OwnedBy isn't sufficient").
        registration = azuread.ApplicationRegistration(
            f"{name}-registration",
            display_name=args.display_name,
            description=f"Represents {api.display_name} behind API Management.",
            sign_in_audience="AzureADMyOrg",
            requested_access_token_version=api.token_version,
            implicit_access_token_issuance_enabled=False,
            implicit_id_token_issuance_enabled=False,
            opts=child,
        )
        self.client_id = text(registration.client_id)
        self.identifier_uri = pulumi.Output.concat("api://", self.client_id)

        identifier = azuread.ApplicationIdentifierUri(
            f"{name}-identifier-uri",
            application_id=registration.id,
            identifier_uri=self.identifier_uri,
            opts=child,
        )
        scope_id = naming.scope_id(args.stack, api.name, api.scope.value)
        scope = azuread.ApplicationPermissionScope(
            f"{name}-scope",
            application_id=registration.id,
            scope_id=scope_id,
            value=api.scope.value,
            type="User",
            admin_consent_display_name=api.scope.admin_consent_display_name,
            admin_consent_description=api.scope.admin_consent_description,
            user_consent_display_name=api.scope.user_consent_display_name,
            user_consent_description=api.scope.user_consent_description,
            # A scope needs the identifier URI first: Graph rejects scopes on an app without one.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[identifier]),
        )

        self.role_ids = {}
        roles = []
        for role in api.roles:
            role_id = naming.app_role_id(args.stack, api.name, role.value)
            self.role_ids[role.value] = role_id
            roles.append(
                azuread.ApplicationAppRole(
                    f"{name}-role-{naming.slug(role.value)}",
                    application_id=registration.id,
                    role_id=role_id,
                    value=role.value,
                    display_name=role.display_name or role.value,
                    description=role.description or f"Lets a caller use {role.value}.",
                    allowed_member_types=list(role.allowed_member_types),
                    opts=child,
                )
            )

        # The gateway's role for the backend hop: applications only, so no person or group
        # can be assigned it; only the gateway's identity is (components/backend_hop.py).
        self.gateway_role = None
        if api.hop_authenticated:
            self.gateway_role = azuread.ApplicationAppRole(
                f"{name}-role-{naming.slug(naming.GATEWAY_ROLE)}",
                application_id=registration.id,
                role_id=naming.gateway_role_id(args.stack, api.name),
                value=naming.GATEWAY_ROLE,
                display_name="API Management gateway",
                description=(
                    "Lets the API Management gateway's managed identity call the backend of "
                    f"{api.display_name}; held by the gateway alone."
                ),
                allowed_member_types=["Application"],
                opts=child,
            )

        principal = azuread.ServicePrincipal(
            f"{name}-service-principal",
            client_id=registration.client_id,
            # Without this, any identity in the tenant gets a token (with no roles) for the API.
            app_role_assignment_required=True,
            # The provider adds the caller as the first owner on create and removes it again
            # unless `owners` lists it, and reconciles owners on every update
            # (terraform-provider-azuread service_principal_resource.go, removeCallerOwner):
            # without this, an OwnedBy deployer could not update or delete the principal later.
            owners=[args.deployer_object_id],
            opts=child,
        )
        self.service_principal_object_id = text(principal.object_id)

        for tool in args.developer_tools:
            azuread.ApplicationPreAuthorized(
                f"{name}-preauthorized-{tool}",
                application_id=registration.id,
                authorized_client_id=DEVELOPER_TOOLS[tool],
                permission_ids=[scope_id],
                opts=pulumi.ResourceOptions(parent=self, depends_on=[scope]),
            )

        for group in args.groups:
            for role_value in group.roles:
                azuread.AppRoleAssignment(
                    f"{name}-group-{group.name}-{naming.slug(role_value)}",
                    app_role_id=self.role_ids[role_value],
                    principal_object_id=group.object_id,
                    resource_object_id=principal.object_id,
                    opts=pulumi.ResourceOptions(parent=self, depends_on=roles),
                )

        self.roles = roles
        self.register_outputs(
            {
                "clientId": self.client_id,
                "identifierUri": self.identifier_uri,
                "servicePrincipalObjectId": self.service_principal_object_id,
                "roleIds": self.role_ids,
            }
        )

"""Small resource graphs for the preflight stack-rule tests: plain StackResources with the
engine's type tokens, property dependencies and explicit depends_on URNs."""

from __future__ import annotations

from typing import Any

from policies.secure_api_policies import StackResource

SUB = "/subscriptions/6a31ca11-69c3-5e68-b8b6-bea7c70d4007"
VAULT_ID = f"{SUB}/resourceGroups/rg-dev/providers/Microsoft.KeyVault/vaults/kv-dev"
SECRETS_USER = (
    f"{SUB}/providers/Microsoft.Authorization/roleDefinitions/4633458b-17de-408a-b874-0445c86b69e6"
)
READER = (
    f"{SUB}/providers/Microsoft.Authorization/roleDefinitions/acdd72a7-3385-48ef-bd42-f606fba81ae7"
)
SITE_PRINCIPAL = "5d3a9e52-a6a8-5f73-aba6-a44305954c19"
OTHER_PRINCIPAL = "7e3a1d25-4e0a-522c-94e3-dbc31f55f00a"
REFERENCE = "@Microsoft.KeyVault(VaultName=kv-dev;SecretName=apim-key-orders)"

T = {
    "web": "azure-native:web:WebApp",
    "settings": "azure-native:web:WebAppApplicationSettings",
    "conn": "azure-native:web:WebAppConnectionStrings",
    "grant": "azure-native:authorization:RoleAssignment",
    "secret": "azure-native:keyvault:Secret",
    "vault": "azure-native:keyvault:Vault",
    "uai": "azure-native:managedidentity:UserAssignedIdentity",
    "op": "azure-native:apimanagement:ApiOperation",
    "api": "azure-native:apimanagement:Api",
    "app_role": "azuread:index/appRoleAssignment:AppRoleAssignment",
    "sp": "azuread:index/servicePrincipal:ServicePrincipal",
    "group": "azuread:index/group:Group",
}


def urn(kind: str, name: str) -> str:
    return f"urn:pulumi:dev::secure-api-calls::{T[kind]}::{name}"


def res(
    kind: str,
    name: str,
    props: dict[str, Any],
    deps: dict[str, list[str]] | None = None,
    after: tuple[str, ...] = (),
) -> StackResource:
    """A resource; `deps` maps a property to the URNs it was computed from, `after` adds
    explicit depends_on URNs."""
    deps = deps or {}
    return StackResource(
        type=T[kind],
        name=name,
        urn=urn(kind, name),
        props=props,
        property_dependencies={k: tuple(v) for k, v in deps.items()},
        dependencies=tuple(sorted({u for us in deps.values() for u in us} | set(after))),
    )


def messages(violations: list[Any]) -> list[str]:
    return [v.message for v in violations]


SITE = StackResource(
    type=T["web"],
    name="site",
    urn=urn("web", "site"),
    props={
        "name": "app-dev",
        "resourceGroupName": "rg-dev",
        "identity": {"type": "SystemAssigned", "principalId": SITE_PRINCIPAL},
    },
)

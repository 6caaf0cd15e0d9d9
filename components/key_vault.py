"""The one secret the pattern keeps, the APIM subscription key, lives in Key Vault.

RBAC mode: each consumer identity gets *Key Vault Secrets User* on its own secret only, and its
Web App reads the key through a Key Vault reference.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
from pulumi_azure_native import authorization, keyvault

from components import naming
from components.config import KeyVault as KeyVaultConfig
from components.outputs import text

SECRETS_USER_ROLE = "4633458b-17de-408a-b874-0445c86b69e6"  # Key Vault Secrets User (built-in)


@dataclass(frozen=True)
class StoredKey:
    """A subscription key to store, and the identity that may read it."""

    secret_name: str
    value: pulumi.Input[str]
    reader_principal_id: pulumi.Input[str]


@dataclass(frozen=True)
class KeyVaultArgs:
    config: KeyVaultConfig
    vault_name: str
    resource_group_name: str
    location: str
    tenant_id: pulumi.Input[str]
    subscription_id: pulumi.Input[str]
    stack: str
    keys: tuple[StoredKey, ...] = ()
    tags: dict[str, str] = field(default_factory=dict)
    depends_on: tuple[pulumi.Resource, ...] = ()

    def __post_init__(self) -> None:
        names = [key.secret_name for key in self.keys]
        if len(names) != len(set(names)):
            raise ValueError("two subscription keys share a secret name")


class SubscriptionKeyVault(pulumi.ComponentResource):
    vault_uri: pulumi.Output[str]

    def __init__(
        self, name: str, args: KeyVaultArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("secure-api-calls:secrets:SubscriptionKeyVault", name, None, opts)
        vault = keyvault.Vault(
            f"{name}-vault",
            vault_name=args.vault_name,
            resource_group_name=args.resource_group_name,
            location=args.location,
            properties=keyvault.VaultPropertiesArgs(
                tenant_id=args.tenant_id,
                sku=keyvault.SkuArgs(family="A", name=keyvault.SkuName.STANDARD),
                enable_rbac_authorization=True,
                # Azure refuses an explicit `false`: leave it unset to keep purge protection off.
                enable_purge_protection=True if args.config.purge_protection else None,
                soft_delete_retention_in_days=args.config.soft_delete_retention_days,
            ),
            tags=args.tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(args.depends_on)),
        )
        role_definition = pulumi.Output.concat(
            "/subscriptions/",
            text(args.subscription_id),
            "/providers/Microsoft.Authorization/roleDefinitions/",
            SECRETS_USER_ROLE,
        )
        for key in args.keys:
            secret = keyvault.Secret(
                f"{name}-{key.secret_name}",
                secret_name=key.secret_name,
                vault_name=args.vault_name,
                resource_group_name=args.resource_group_name,
                properties=keyvault.SecretPropertiesArgs(
                    value=pulumi.Output.secret(key.value), content_type="apim-subscription-key"
                ),
                opts=pulumi.ResourceOptions(parent=self, depends_on=[vault]),
            )
            authorization.RoleAssignment(
                f"{name}-{key.secret_name}-reader",
                role_assignment_name=naming.stable_id(args.stack, "kv-reader", key.secret_name),
                principal_id=key.reader_principal_id,
                principal_type="ServicePrincipal",
                role_definition_id=role_definition,
                scope=secret.id,
                opts=pulumi.ResourceOptions(parent=self),
            )
        self.vault_uri = vault.properties.apply(lambda p: (p.vault_uri if p else None) or "")
        self.register_outputs({"vaultUri": self.vault_uri})

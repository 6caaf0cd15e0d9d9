"""The one secret the pattern keeps, the APIM subscription key, lives in Key Vault.

RBAC mode. This component owns the vault and the key secrets; who may read a secret is
decided next to the reader: each ConsumerApp grants its own identity *Key Vault Secrets User*
on its own secrets only, because that grant needs the site's identity.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
from pulumi_azure_native import keyvault

from components.config import KeyVault as KeyVaultConfig
from components.outputs import text

SECRETS_USER_ROLE = "4633458b-17de-408a-b874-0445c86b69e6"  # Key Vault Secrets User (built-in)
KEY_CONTENT_TYPE = "apim-subscription-key"


@dataclass(frozen=True)
class StoredKey:
    """A subscription key to store under a secret name."""

    secret_name: str
    value: pulumi.Input[str]  # a Pulumi secret (SubscriptionKeys.primary)


@dataclass(frozen=True)
class KeyVaultArgs:
    config: KeyVaultConfig
    vault_name: str
    resource_group_name: str
    location: str
    tenant_id: pulumi.Input[str]
    subscription_id: pulumi.Input[str]
    keys: tuple[StoredKey, ...] = ()
    tags: dict[str, str] = field(default_factory=dict)
    depends_on: tuple[pulumi.Resource, ...] = ()

    def __post_init__(self) -> None:
        names = [key.secret_name for key in self.keys]
        if len(names) != len(set(names)):
            raise ValueError("two subscription keys share a secret name")


class SubscriptionKeyVault(pulumi.ComponentResource):
    vault: keyvault.Vault
    vault_uri: pulumi.Output[str]
    secrets: dict[str, keyvault.Secret]  # by secret name
    secrets_user_role_id: pulumi.Output[str]  # the role definition readers are granted

    def __init__(
        self, name: str, args: KeyVaultArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("secure-api-calls:secrets:SubscriptionKeyVault", name, None, opts)
        self.vault = keyvault.Vault(
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
                # A deleted vault keeps its name for the retention period (soft delete cannot
                # be turned off); 'recover' takes the deleted vault back instead of failing.
                create_mode=keyvault.CreateMode.RECOVER if args.config.recover else None,
            ),
            tags=args.tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(args.depends_on)),
        )
        self.secrets = {
            key.secret_name: keyvault.Secret(
                f"{name}-{key.secret_name}",
                secret_name=key.secret_name,
                vault_name=args.vault_name,
                resource_group_name=args.resource_group_name,
                properties=keyvault.SecretPropertiesArgs(
                    value=pulumi.Output.secret(key.value), content_type=KEY_CONTENT_TYPE
                ),
                opts=pulumi.ResourceOptions(parent=self, depends_on=[self.vault]),
            )
            for key in args.keys
        }
        self.secrets_user_role_id = pulumi.Output.concat(
            "/subscriptions/",
            text(args.subscription_id),
            "/providers/Microsoft.Authorization/roleDefinitions/",
            SECRETS_USER_ROLE,
        )
        self.vault_uri = self.vault.properties.apply(lambda p: (p.vault_uri if p else None) or "")
        self.register_outputs({"vaultUri": self.vault_uri})

"""The one secret the pattern keeps, the APIM subscription key, lives in Key Vault.

RBAC mode. This component owns the vault and the key secrets; who may read a secret is
decided next to the reader: each ConsumerApp grants its own identity *Key Vault Secrets User*
on its own secrets only, because that grant needs the site's identity.

In a private network (`private`), the vault takes no public traffic: publicNetworkAccess
Disabled, the firewall's default action Deny with no bypass, and a private endpoint in the
stack's VNet registered in privatelink.vaultcore.azure.net
(learn.microsoft.com/azure/key-vault/general/private-link-service). The Web Apps resolve their
Key Vault references through that endpoint (their outbound traffic is routed into the VNet).
Secrets carry contentType and, when keys rotate, an expiry (`attributes.expires`, Key Vault's
`exp`) after the key's grace period (components/key_rotation.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi
from pulumi_azure_native import keyvault

from components.config import KeyVault as KeyVaultConfig
from components.outputs import text
from components.private_link import EndpointArgs, private_endpoint

SECRETS_USER_ROLE = "4633458b-17de-408a-b874-0445c86b69e6"  # Key Vault Secrets User (built-in)
KEY_CONTENT_TYPE = "apim-subscription-key"


@dataclass(frozen=True)
class StoredKey:
    """A subscription key to store under a secret name."""

    secret_name: str
    value: pulumi.Input[str]  # a Pulumi secret (SubscriptionKeys.primary)
    # Seconds since 1970 after which the key may stop working (None: it never rotates).
    expires: int | None = None
    # Written only after these exist (or changed): the APIM subscription that accepts the key,
    # so a consumer never reads a key the gateway does not know yet. Resources created later
    # in the program, hence an Input (stack.py resolves it; see components/later.py).
    after: pulumi.Input[Sequence[pulumi.Resource]] | None = None


@dataclass(frozen=True)
class VaultEndpoint:
    """Where the vault's private endpoint goes, for a private network."""

    subnet_id: pulumi.Input[str]
    zone_name: str
    zone_id: pulumi.Input[str]
    depends_on: tuple[pulumi.Resource, ...] = ()


@dataclass(frozen=True)
class KeyVaultArgs:
    config: KeyVaultConfig
    vault_name: str
    resource_group_name: str
    location: str
    tenant_id: pulumi.Input[str]
    subscription_id: pulumi.Input[str]
    keys: tuple[StoredKey, ...] = ()
    endpoint: VaultEndpoint | None = None  # set: private network (no public access)
    tags: dict[str, str] = field(default_factory=dict)
    depends_on: tuple[pulumi.Resource, ...] = ()

    def __post_init__(self) -> None:
        names = [key.secret_name for key in self.keys]
        if len(names) != len(set(names)):
            raise ValueError("two subscription keys share a secret name")

    @property
    def private(self) -> bool:
        return self.endpoint is not None


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
                # Private: no public endpoint at all (CKV_AZURE_189), and the firewall denies
                # what no rule allows, trusted Azure services included (CKV_AZURE_109); the
                # stack's writes go through Resource Manager (vaults/secrets), not the data
                # plane. Public: the SDK's default 'enabled' is sent, as before.
                public_network_access="Disabled" if args.private else None,
                network_acls=keyvault.NetworkRuleSetArgs(default_action="Deny", bypass="None")
                if args.private
                else None,
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
                    value=pulumi.Output.secret(key.value),
                    content_type=KEY_CONTENT_TYPE,
                    attributes=keyvault.SecretAttributesArgs(expires=key.expires)
                    if key.expires is not None
                    else None,
                ),
                opts=pulumi.ResourceOptions(parent=self, depends_on=self._after(key)),
            )
            for key in args.keys
        }
        if args.endpoint is not None:
            private_endpoint(
                f"{name}-endpoint",
                EndpointArgs(
                    endpoint_name=f"pe-{args.vault_name}",
                    target_id=self.vault.id,
                    group_id="vault",
                    subnet_id=args.endpoint.subnet_id,
                    zone_name=args.endpoint.zone_name,
                    zone_id=args.endpoint.zone_id,
                    resource_group_name=args.resource_group_name,
                    location=args.location,
                    tags=args.tags,
                    depends_on=(self.vault, *args.endpoint.depends_on),
                ),
                parent=self,
            )
        self.secrets_user_role_id = pulumi.Output.concat(
            "/subscriptions/",
            text(args.subscription_id),
            "/providers/Microsoft.Authorization/roleDefinitions/",
            SECRETS_USER_ROLE,
        )
        self.vault_uri = self.vault.properties.apply(lambda p: (p.vault_uri if p else None) or "")
        self.register_outputs({"vaultUri": self.vault_uri})

    def _after(self, key: StoredKey) -> pulumi.Input[Sequence[pulumi.Resource]]:
        """The vault, and whatever the key must wait for (its APIM subscription)."""
        vault = self.vault
        if key.after is None:
            return [vault]

        def with_vault(later: Sequence[pulumi.Resource]) -> list[pulumi.Resource]:
            return [vault, *later]

        return pulumi.Output.from_input(key.after).apply(with_vault)

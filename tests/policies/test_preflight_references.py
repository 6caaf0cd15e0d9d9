"""Deployability rule 37: Key Vault references resolve only when they are written after a
grant that lets the site's identity read the secret. Small hand-built graphs, each test
changing one place."""

from __future__ import annotations

from typing import Any

import pytest

from policies.secure_api_policies import UNKNOWN, StackResource
from policies.secure_api_policies.preflight import references
from tests.preflight_graph import (
    OTHER_PRINCIPAL,
    READER,
    REFERENCE,
    SECRETS_USER,
    SITE_PRINCIPAL,
    SUB,
    VAULT_ID,
    messages,
    res,
    urn,
)

# --- rule 37: Key Vault references ---------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "vault", "secret"),
    [
        (REFERENCE, "kv-dev", "apim-key-orders"),
        ("@Microsoft.KeyVault(VaultName=kv-dev;SecretName=s1;SecretVersion=abc)", "kv-dev", "s1"),
        (
            "@Microsoft.KeyVault(SecretUri=https://kv-dev.vault.azure.net/secrets/s1/)",
            "kv-dev",
            "s1",
        ),
        (
            "@Microsoft.KeyVault(SecretUri=https://kv-dev.vault.azure.net/secrets/s1/v2)",
            "kv-dev",
            "s1",
        ),
        ("@Microsoft.KeyVault(SecretUri=https://kv-cn.vault.azure.cn/secrets/s1)", "kv-cn", "s1"),
        ("@microsoft.keyvault( vaultname = kv-dev ; secretname = s1 )", "kv-dev", "s1"),
        ("@Microsoft.KeyVault(garbage)", None, None),
    ],
)
def test_both_reference_syntaxes_name_their_vault_and_secret(
    value: str, vault: str | None, secret: str | None
) -> None:
    assert references.parse_reference("S", value) == references.Reference("S", vault, secret)


@pytest.mark.parametrize(
    "value", ["plain", UNKNOWN, "[secret]", None, 3, "x@Microsoft.KeyVault(y)"]
)
def test_values_that_are_not_references_or_cannot_be_read_are_none(value: Any) -> None:
    assert references.parse_reference("S", value) is None


def site(**props: Any) -> StackResource:
    base = {
        "name": "app-dev",
        "resourceGroupName": "rg-dev",
        "identity": {"type": "SystemAssigned", "principalId": SITE_PRINCIPAL},
    }
    return res("web", "site", {**base, **props})


SITE = site()
SECRET = res("secret", "key", {"secretName": "apim-key-orders", "vaultName": "kv-dev"})
VAULT = res("vault", "kv", {"vaultName": "kv-dev", "resourceGroupName": "rg-dev"})


def grant(name: str = "reader", scope: str | None = None, **props: Any) -> StackResource:
    inputs = {
        "principalId": SITE_PRINCIPAL,
        "principalType": "ServicePrincipal",
        "roleDefinitionId": SECRETS_USER,
        "scope": scope or f"{VAULT_ID}/secrets/apim-key-orders",
        **props,
    }
    return res("grant", name, inputs, {"principalId": [SITE.urn], "scope": [SECRET.urn]})


def settings(after: tuple[str, ...] = ("reader",), **values: str) -> StackResource:
    props = {
        "name": "app-dev",
        "resourceGroupName": "rg-dev",
        "properties": values or {"KEY": REFERENCE},
    }
    return res(
        "settings", "settings", props, {"name": [SITE.urn]}, tuple(urn("grant", a) for a in after)
    )


def check(*extra: StackResource) -> list[str]:
    return messages(references.key_vault_references_resolve([SITE, SECRET, VAULT, *extra]))


def test_settings_after_the_secret_read_grant_resolve() -> None:
    assert check(grant(), settings()) == []


def test_a_reference_in_the_web_apps_own_site_config_can_never_resolve_first_time() -> None:
    app = site(siteConfig={"appSettings": [{"name": "KEY", "value": REFERENCE}]})
    [message] = messages(references.key_vault_references_resolve([app, grant()]))
    assert "KEY -> kv-dev/apim-key-orders" in message
    assert "created with the site" in message
    assert "WebAppApplicationSettings" in message


def test_a_system_identity_site_fails_even_when_it_waits_for_some_grant() -> None:
    # A grant made before the site cannot be for the site's own system identity, whatever
    # principal ID it names: that identity is created with the site.
    literal = res("grant", "early", {**grant().props})
    props = {**SITE.props, "siteConfig": {"appSettings": [{"name": "KEY", "value": REFERENCE}]}}
    app = res("web", "site", props, after=(literal.urn,))
    assert references.key_vault_references_resolve([app, literal])


def test_a_reference_in_site_config_connection_strings_counts_too() -> None:
    app = site(siteConfig={"connectionStrings": [{"name": "DB", "connectionString": REFERENCE}]})
    assert references.key_vault_references_resolve([app])


def test_plain_site_config_settings_pass() -> None:
    app = site(siteConfig={"appSettings": [{"name": "URL", "value": "https://x"}]})
    assert references.key_vault_references_resolve([app]) == []


def test_settings_without_any_grant_upstream_are_reported() -> None:
    [message] = check(grant(), settings(after=()))
    assert "KEY -> kv-dev/apim-key-orders" in message
    assert "depends_on" in message


def test_a_grant_reached_through_another_resource_counts() -> None:
    middle = res("secret", "middle", {"secretName": "other"}, after=(urn("grant", "reader"),))
    through = res("settings", "settings", settings().props, {"name": [SITE.urn]}, (middle.urn,))
    assert check(grant(), middle, through) == []


@pytest.mark.parametrize(
    "role",
    [
        f"{SUB}/providers/Microsoft.Authorization/roleDefinitions/b86a8fe4-44ce-4948-aee5-eccb2c155cd7",
        f"{SUB}/providers/Microsoft.Authorization/roleDefinitions/00482A5A-887F-4FB3-B363-3B7FE8E74483",
        UNKNOWN,
    ],
    ids=["secrets-officer", "administrator-upper-case", "unknown-at-preview"],
)
def test_other_secret_read_roles_and_unknown_roles_count(role: str) -> None:
    assert check(grant(roleDefinitionId=role), settings()) == []


def test_a_grant_of_a_role_that_cannot_read_secrets_does_not_count() -> None:
    assert check(grant(roleDefinitionId=READER), settings())


@pytest.mark.parametrize(
    ("scope", "resolves"),
    [
        (VAULT_ID, True),
        (f"{VAULT_ID}/secrets/APIM-KEY-ORDERS", True),
        (f"{SUB}/resourceGroups/rg-dev", True),
        (SUB, True),
        (UNKNOWN, True),
        (f"{VAULT_ID}/secrets/apim-key-inventory", False),
        (VAULT_ID.replace("kv-dev", "kv-prod"), False),
        (f"{SUB}/resourceGroups/rg-prod", False),
    ],
    ids=[
        "vault",
        "secret-any-case",
        "resource-group",
        "subscription",
        "unknown",
        "other-secret",
        "other-vault",
        "other-group",
    ],
)
def test_the_grant_scope_must_cover_the_referenced_secret(scope: str, resolves: bool) -> None:
    assert (check(grant(scope=scope), settings()) == []) is resolves


def test_secret_uri_references_are_matched_to_the_grant_scope_too() -> None:
    uri = "@Microsoft.KeyVault(SecretUri=https://kv-dev.vault.azure.net/secrets/apim-key-orders/)"
    assert check(grant(), settings(KEY=uri)) == []
    other = uri.replace("apim-key-orders", "apim-key-billing")
    [message] = check(grant(), settings(KEY=other))
    assert "KEY -> kv-dev/apim-key-billing" in message


def test_every_reference_needs_its_own_grant() -> None:
    second = "@Microsoft.KeyVault(VaultName=kv-dev;SecretName=apim-key-inventory)"
    [message] = check(grant(), settings(A=REFERENCE, B=second))
    assert "B -> kv-dev/apim-key-inventory" in message and "A ->" not in message


def test_a_grant_to_another_sites_identity_does_not_count() -> None:
    other = res("web", "other", {"name": "app-other", "identity": {"type": "SystemAssigned"}})
    foreign = res(
        "grant",
        "reader",
        {**grant().props, "principalId": OTHER_PRINCIPAL},
        {"principalId": [other.urn]},
    )
    assert check(other, foreign, settings())
    # Known values tell it too when no dependency is recorded.
    literal = res("grant", "reader", {**grant().props, "principalId": OTHER_PRINCIPAL})
    assert check(literal, settings())


def test_settings_find_their_site_by_name_when_no_dependency_is_recorded() -> None:
    by_value = res("settings", "settings", settings().props, after=(urn("grant", "reader"),))
    assert check(grant(), by_value) == []


def test_masked_or_unknown_settings_are_not_judged() -> None:
    masked = res("settings", "settings", {"name": "app-dev", "properties": "[secret]"})
    unknown_value = settings(after=(), KEY=UNKNOWN)
    assert check(masked) == []
    assert check(unknown_value) == []


def test_connection_strings_resources_are_checked_like_settings() -> None:
    props = {"name": "app-dev", "properties": {"DB": {"value": REFERENCE, "type": "Custom"}}}
    unguarded = res("conn", "conn", props, {"name": [SITE.urn]})
    assert check(unguarded)
    guarded = res("conn", "conn", props, {"name": [SITE.urn]}, (urn("grant", "reader"),))
    assert check(grant(), guarded) == []


def test_a_user_assigned_reader_identity_granted_before_the_site_passes() -> None:
    uai_id = (
        f"{SUB}/resourceGroups/rg-dev/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id"
    )
    uai = res("uai", "id", {"id": uai_id, "principalId": OTHER_PRINCIPAL})
    uai_grant = res(
        "grant",
        "reader",
        {**grant().props, "principalId": OTHER_PRINCIPAL},
        {"principalId": [uai.urn]},
    )
    app_props = {
        **SITE.props,
        "keyVaultReferenceIdentity": uai_id,
        "siteConfig": {"appSettings": [{"name": "KEY", "value": REFERENCE}]},
    }
    app = res("web", "site", app_props, {"keyVaultReferenceIdentity": [uai.urn]}, (uai_grant.urn,))
    assert references.key_vault_references_resolve([app, uai, uai_grant]) == []
    ungranted = res("web", "site", app_props, {"keyVaultReferenceIdentity": [uai.urn]})
    assert references.key_vault_references_resolve([ungranted, uai, uai_grant])

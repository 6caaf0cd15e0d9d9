"""Deployability rules 36, 39, 40 and 42 (per resource) and the preflight group as the pack
exposes it. Stack rules 37, 38, 41 and 43 are in `test_preflight_stack.py`."""

from __future__ import annotations

from typing import Any

import pytest
from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyCustomTimeouts,
    PolicyResourceOptions,
    ResourceValidationArgs,
)
from pulumi_policy.proxy import UNKNOWN_BOOLEAN_VALUE, unknown_checking_proxy

from policies.secure_api_policies import RULES, UNKNOWN, all_policies
from policies.secure_api_policies import api_management as security
from policies.secure_api_policies.preflight import apim, key_vault, names

SVC = "ApiManagementService 'gateway'"
VAULT = "Vault 'vault'"
SECURITY = "Microsoft.WindowsAzure.ApiManagement.Gateway.Security"
PREFLIGHT = {n for n, info in RULES.items() if info.group == "deployability"}
OPTS = PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), [], None)


def by_name(name: str) -> Policy:
    return next(p for p in all_policies() if p.name == name)


def run_resource(name: str, type_: str, props: dict[str, Any]) -> list[str]:
    """One policy object over one resource, behind the engine's unknown-checking proxy."""
    reported: list[str] = []
    args = ResourceValidationArgs(type_, unknown_checking_proxy(props), "urn:x", "r", OPTS, None)
    by_name(name).validate(args, lambda msg, urn=None: reported.append(msg))
    return reported


def gateway(sku: str, **props: Any) -> dict[str, Any]:
    return {"sku": {"name": sku, "capacity": 1}, **props}


# --- rule 36: enableClientCertificate ------------------------------------------------------


@pytest.mark.parametrize("sku", ["Developer", "Basic", "Standard", "Premium", "StandardV2"])
def test_client_certificate_false_outside_consumption_is_refused(sku: str) -> None:
    [message] = apim.client_certificate_flag(gateway(sku, enableClientCertificate=False), SVC)
    assert "enableClientCertificate=false" in message
    assert f"not supported for {sku} SKU" in message
    assert "transformations" in message


@pytest.mark.parametrize(
    "props",
    [
        gateway("Consumption", enableClientCertificate=False),
        gateway("Developer"),
        gateway("Developer", enableClientCertificate=True),
        gateway("Developer", enableClientCertificate=UNKNOWN),
        gateway(UNKNOWN, enableClientCertificate=False),
        {"sku": UNKNOWN, "enableClientCertificate": False},
    ],
    ids=["consumption", "absent", "true", "flag-unknown", "sku-unknown", "sku-object-unknown"],
)
def test_client_certificate_passes_when_absent_true_consumption_or_unknown(
    props: dict[str, Any],
) -> None:
    assert apim.client_certificate_flag(props, SVC) == []


# --- rule 39: customProperties on tiers with a fixed cipher configuration ------------------

HARDENING = {f"{SECURITY}.Protocols.Tls10": "false", f"{SECURITY}.Ciphers.TripleDes168": "false"}


@pytest.mark.parametrize("sku", ["Consumption", "BasicV2", "StandardV2", "PremiumV2"])
def test_cipher_settings_on_fixed_tiers_are_refused(sku: str) -> None:
    [message] = apim.v2_cipher_settings(gateway(sku, customProperties=HARDENING), SVC)
    assert f"on the {sku} tier" in message
    assert "Protocols.Tls10" in message and "Ciphers.TripleDes168" in message


@pytest.mark.parametrize(
    "props",
    [
        gateway("Developer", customProperties=HARDENING),
        gateway("Premium", customProperties=HARDENING),
        gateway("StandardV2"),
        gateway("StandardV2", customProperties={}),
        gateway("StandardV2", customProperties=UNKNOWN),
        gateway(
            "StandardV2",
            customProperties={
                "Microsoft.WindowsAzure.ApiManagement.Gateway.Protocols.Server.Http2": "true"
            },
        ),
    ],
    ids=["developer", "premium", "absent", "empty", "unknown", "not-a-cipher-key"],
)
def test_cipher_settings_pass_on_classic_tiers_or_when_absent(props: dict[str, Any]) -> None:
    assert apim.v2_cipher_settings(props, SVC) == []


@pytest.mark.parametrize("sku", ["BasicV2", "StandardV2", "PremiumV2", "Consumption"])
def test_security_rules_13_and_14_do_not_demand_switches_a_fixed_tier_refuses(sku: str) -> None:
    # Without this, a v2 stack could pass neither rule 13 (switches missing) nor rule 39.
    assert security.no_legacy_protocols(gateway(sku), SVC) == []
    assert security.no_weak_ciphers(gateway(sku), SVC) == []
    assert security.no_legacy_protocols(gateway("Developer"), SVC)


# --- rule 40: Key Vault deletion protection ------------------------------------------------


def vault(**properties: Any) -> dict[str, Any]:
    return {"vaultName": "kv-contoso-dev", "properties": {"enableSoftDelete": True, **properties}}


def test_soft_delete_false_is_refused() -> None:
    [message] = key_vault.deletion_protection(vault(enableSoftDelete=False), VAULT)
    assert "enableSoftDelete=false" in message
    assert "February 2025" in message


def test_purge_protection_false_is_refused_with_arms_answer() -> None:
    [message] = key_vault.deletion_protection(vault(enablePurgeProtection=False), VAULT)
    assert "enablePurgeProtection=false" in message
    assert "cannot be set to false" in message


def test_both_switches_false_give_two_findings() -> None:
    props = vault(enableSoftDelete=False, enablePurgeProtection=False)
    assert len(key_vault.deletion_protection(props, VAULT)) == 2


@pytest.mark.parametrize(
    "props",
    [
        vault(),
        vault(enablePurgeProtection=True),
        {"vaultName": "kv", "properties": {}},
        vault(enableSoftDelete=UNKNOWN, enablePurgeProtection=UNKNOWN),
        {"vaultName": "kv", "properties": UNKNOWN},
    ],
    ids=["sdk-default", "purge-on", "nothing-sent", "unknown", "properties-unknown"],
)
def test_deletion_protection_passes_when_on_unset_or_unknown(props: dict[str, Any]) -> None:
    assert key_vault.deletion_protection(props, VAULT) == []


# --- rule 42: names ------------------------------------------------------------------------

_APIM = "azure-native:apimanagement:"
NAME_CASES = [
    # type, property, longest valid, one too long / invalid
    ("azure-native:resources:ResourceGroup", "resourceGroupName", "r" * 90, "r" * 91),
    ("azure-native:resources:ResourceGroup", "resourceGroupName", "rg-(dev)_1.a", "rg-dev."),
    (_APIM + "ApiManagementService", "serviceName", "a" * 50, "a" * 51),
    (_APIM + "ApiManagementService", "serviceName", "apim-dev1", "1apim"),
    (_APIM + "ApiManagementService", "serviceName", "apim-dev1", "apim-dev-"),
    (_APIM + "Api", "apiId", "a" * 80, "a" * 81),
    (_APIM + "Api", "apiId", "orders-v2", "orders_v2"),
    (_APIM + "ApiOperation", "operationId", "get-order", "get order"),
    (_APIM + "Backend", "backendId", "orders-backend", "orders-backend-"),
    (_APIM + "NamedValue", "namedValueId", "tenant-id", "9tenant"),
    (_APIM + "Subscription", "sid", "orders-storefront", "s" * 81),
    (_APIM + "Logger", "loggerId", "app-insights", "app.insights"),
    ("azure-native:keyvault:Vault", "vaultName", "k" * 24, "k" * 25),
    ("azure-native:keyvault:Vault", "vaultName", "kv-contoso-dev", "kv--contoso"),
    ("azure-native:keyvault:Vault", "vaultName", "kv1", "1kv-contoso"),
    ("azure-native:keyvault:Vault", "vaultName", "kv1", "kv"),
    ("azure-native:keyvault:Vault", "vaultName", "kv1", "kv-contoso-"),
    ("azure-native:keyvault:Secret", "secretName", "s" * 127, "s" * 128),
    ("azure-native:keyvault:Secret", "secretName", "apim-key-1", "apim_key"),
    ("azure-native:web:WebApp", "name", "a" * 60, "a" * 61),
    ("azure-native:web:WebApp", "name", "ab", "a"),
    ("azure-native:web:WebApp", "name", "app-contoso", "-app-contoso"),
    ("azure-native:web:WebApp", "name", "app-contoso", "app.contoso"),
    ("azure-native:web:AppServicePlan", "name", "p" * 60, "p" * 61),
    ("azure-native:operationalinsights:Workspace", "workspaceName", "logs", "log"),
    ("azure-native:operationalinsights:Workspace", "workspaceName", "w" * 63, "w" * 64),
    ("azure-native:operationalinsights:Workspace", "workspaceName", "log-dev", "log-dev-"),
    ("azure-native:applicationinsights:Component", "resourceName", "appi dev", "appi/dev"),
    ("azure-native:applicationinsights:Component", "resourceName", "a" * 260, "appi."),
]


@pytest.mark.parametrize(("type_", "prop", "good", "bad"), NAME_CASES)
def test_each_name_limit_passes_at_the_edge_and_refuses_past_it(
    type_: str, prop: str, good: str, bad: str
) -> None:
    check = names.checks()[type_]
    assert check({prop: good}, "R 'r'") == []
    [message] = check({prop: bad}, "R 'r'")
    assert f'{prop}="{bad}" ({len(bad)} characters)' in message
    assert "refuses" in message


def test_every_name_rule_reads_a_property_the_sdk_sends() -> None:
    # The engine's camelCase property for each resource's own name.
    assert {t.rsplit(":", 1)[-1]: r.prop for t, r in names.RULES_BY_TYPE.items()} == {
        "ResourceGroup": "resourceGroupName",
        "ApiManagementService": "serviceName",
        "Api": "apiId",
        "ApiOperation": "operationId",
        "Backend": "backendId",
        "NamedValue": "namedValueId",
        "Subscription": "sid",
        "Logger": "loggerId",
        "Vault": "vaultName",
        "Secret": "secretName",
        "WebApp": "name",
        "AppServicePlan": "name",
        "Workspace": "workspaceName",
        "Component": "resourceName",
    }


@pytest.mark.parametrize("value", [UNKNOWN, "[secret]", None])
def test_names_unknown_masked_or_left_to_auto_naming_are_skipped(value: Any) -> None:
    props = {} if value is None else {"vaultName": value}
    assert names.checks()["azure-native:keyvault:Vault"](props, VAULT) == []


# --- the group as the pack exposes it ------------------------------------------------------


def test_the_preflight_group_is_rules_36_to_43_and_all_but_the_licence_rule_are_mandatory() -> None:
    # ...and 61, the VNet-injected gateway's subnet (private_network.py).
    assert sorted(RULES[n].number for n in PREFLIGHT) == [*range(36, 44), 61]
    assert all(n.startswith("preflight-") for n in PREFLIGHT)
    advisory = {n for n in PREFLIGHT if RULES[n].level == "advisory"}
    assert advisory == {"preflight-app-role-group-licence"}
    assert {n for n, i in RULES.items() if i.group == "security"} == set(RULES) - PREFLIGHT


def test_each_preflight_policy_says_deployability_and_names_its_source() -> None:
    for policy in (p for p in all_policies() if p.name in PREFLIGHT):
        info = RULES[policy.name]
        assert policy.description is not None
        assert policy.description.startswith("Deployability (preflight): ")
        assert f"source: {info.mirrors}" in policy.description
        assert policy.enforcement_level is EnforcementLevel(info.level)
        assert "deployability" in (policy.tags or [])
        # A source is an issue thread or a documentation page, never "project".
        assert "#" in info.mirrors or "learn.microsoft.com/" in info.mirrors, policy.name


def test_the_licence_rule_explains_its_heuristic_in_its_description() -> None:
    description = by_name("preflight-app-role-group-licence").description
    assert "Heuristic" in description and "literal object ID" in description


def test_a_preflight_message_from_the_policy_object_ends_with_its_source() -> None:
    props = gateway("Premium", enableClientCertificate=False)
    [message] = run_resource(
        "preflight-apim-client-certificate", _APIM + "ApiManagementService", props
    )
    assert message.endswith(f"(source: {RULES['preflight-apim-client-certificate'].mirrors})")


def test_an_engine_unknown_flag_is_skipped_not_an_exception() -> None:
    props = gateway("Premium", enableClientCertificate=UNKNOWN_BOOLEAN_VALUE)
    type_ = _APIM + "ApiManagementService"
    assert run_resource("preflight-apim-client-certificate", type_, props) == []


def test_security_messages_carry_no_source_suffix() -> None:
    [message] = run_resource("webapp-https-only", "azure-native:web:WebApp", {"httpsOnly": False})
    assert "(source:" not in message

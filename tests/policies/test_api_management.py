"""Rules 13-21 and 25: API Management service, APIs, backends, named values, subscriptions."""

from __future__ import annotations

from typing import Any

import pytest

from policies.secure_api_policies import UNKNOWN
from policies.secure_api_policies import api_management as rules

SVC = "ApiManagementService 'gateway'"
API = "Api 'orders'"

HARDENED_SERVICE: dict[str, Any] = {
    "sku": {"name": "Developer", "capacity": 1},
    "identity": {"type": "SystemAssigned"},
    "virtualNetworkType": "External",
    "customProperties": {
        **dict.fromkeys(rules.LEGACY_PROTOCOL_KEYS, "false"),
        rules.TRIPLE_DES_KEY: "False",
    },
}

HTTPS_API: dict[str, Any] = {
    "apiId": "orders",
    "protocols": ["https"],
    "subscriptionRequired": True,
    "serviceUrl": "https://orders.internal.contoso.com",
}


def service(**changes: Any) -> dict[str, Any]:
    return {**HARDENED_SERVICE, **changes}


def custom(**overrides: str) -> dict[str, Any]:
    props = dict(HARDENED_SERVICE["customProperties"])
    props.update(overrides)
    return service(customProperties=props)


@pytest.mark.parametrize(
    "check",
    [
        rules.no_legacy_protocols,
        rules.no_weak_ciphers,
        rules.apim_managed_identity,
        rules.private_network,
    ],
    ids=lambda c: c.__name__,
)
def test_a_hardened_service_passes(check: Any) -> None:
    assert check(HARDENED_SERVICE, SVC) == []


@pytest.mark.parametrize("key", rules.LEGACY_PROTOCOL_KEYS)
def test_each_legacy_protocol_turned_on_is_a_violation(key: str) -> None:
    [message] = rules.no_legacy_protocols(custom(**{key: "True"}), SVC)
    assert key.rsplit("Security.", 1)[1] + '="True"' in message
    assert 'explicitly to "false"' in message


def test_legacy_protocol_keys_left_out_are_one_violation_naming_all_six() -> None:
    [message] = rules.no_legacy_protocols(service(customProperties={}), SVC)
    assert message.count("=unset") == 6
    assert "Backend.Protocols.Tls11=unset" in message


def test_unknown_custom_properties_cannot_be_verified() -> None:
    [message] = rules.no_legacy_protocols(service(customProperties=UNKNOWN), SVC)
    assert "cannot be verified" in message


def test_consumption_tier_has_no_custom_properties_and_passes() -> None:
    consumption = {"sku": {"name": "Consumption", "capacity": 0}}
    assert rules.no_legacy_protocols(consumption, SVC) == []
    assert rules.no_weak_ciphers(consumption, SVC) == []


def test_triple_des_on_or_unset_is_reported() -> None:
    assert rules.no_weak_ciphers(custom(**{rules.TRIPLE_DES_KEY: "true"}), SVC)
    props = dict(HARDENED_SERVICE["customProperties"])
    del props[rules.TRIPLE_DES_KEY]
    assert rules.no_weak_ciphers(service(customProperties=props), SVC)


def test_service_without_identity_is_reported() -> None:
    assert rules.apim_managed_identity(service(identity={"type": "None"}), SVC)
    assert rules.apim_managed_identity(service(identity=None), SVC)


def test_public_service_outside_a_vnet_is_reported_and_private_access_passes() -> None:
    public = service(virtualNetworkType="None")
    assert rules.private_network(public, SVC)
    assert rules.private_network({**public, "publicNetworkAccess": "Disabled"}, SVC) == []


def test_https_api_passes_every_api_rule() -> None:
    assert rules.api_https_only(HTTPS_API, API) == []
    assert rules.api_backend_https(HTTPS_API, API) == []
    assert rules.api_subscription_required(HTTPS_API, API) == []


@pytest.mark.parametrize(
    "protocols", [["http", "https"], ["http"], [], None, [{"a": None}], [["https"]], "https"]
)
def test_api_that_accepts_plain_http_or_declares_nothing_is_reported(protocols: Any) -> None:
    [message] = rules.api_https_only({**HTTPS_API, "protocols": protocols}, API)
    assert 'protocols=["https"]' in message


def test_api_protocols_unknown_cannot_be_verified() -> None:
    assert "cannot be verified" in rules.api_https_only({**HTTPS_API, "protocols": UNKNOWN}, API)[0]


def test_api_with_plain_http_service_url_is_reported_and_none_passes() -> None:
    assert rules.api_backend_https({**HTTPS_API, "serviceUrl": "http://orders"}, API)
    assert rules.api_backend_https({"apiId": "orders"}, API) == []


def test_backend_over_http_is_reported() -> None:
    assert rules.backend_https({"url": "https://orders.contoso.com"}, "Backend 'b'") == []
    [message] = rules.backend_https({"url": "http://orders.contoso.com"}, "Backend 'b'")
    assert "https://" in message
    assert "cannot be verified" in rules.backend_https({"url": UNKNOWN}, "Backend 'b'")[0]


def test_pool_backend_without_url_passes() -> None:
    assert rules.backend_https({"type": "Pool"}, "Backend 'pool'") == []


def test_backend_certificate_validation_turned_off_is_reported() -> None:
    assert rules.backend_certificate_validation({"tls": {}}, "Backend 'b'") == []
    off = {"tls": {"validateCertificateChain": False, "validateCertificateName": False}}
    assert len(rules.backend_certificate_validation(off, "Backend 'b'")) == 2
    unknown = {"tls": {"validateCertificateChain": UNKNOWN}}
    assert "cannot be verified" in rules.backend_certificate_validation(unknown, "Backend 'b'")[0]


def test_secret_named_value_must_come_from_key_vault() -> None:
    who = "NamedValue 'key'"
    assert rules.secret_named_value_in_key_vault({"secret": True, "value": "x"}, who)
    vault = {"secret": True, "keyVault": {"secretIdentifier": "https://kv/secrets/key"}}
    assert rules.secret_named_value_in_key_vault(vault, who) == []
    assert rules.secret_named_value_in_key_vault({"secret": False, "value": "tenant"}, who) == []


def test_secret_identifier_unknown_at_preview_still_proves_the_reference() -> None:
    props = {"secret": True, "keyVault": {"secretIdentifier": UNKNOWN}}
    assert rules.secret_named_value_in_key_vault(props, "NamedValue 'key'") == []


@pytest.mark.parametrize("scope", ["/apis", "/apis/", "/subscriptions/s/resourceGroups/rg/apis"])
def test_subscription_scoped_to_all_apis_is_reported(scope: str) -> None:
    [message] = rules.subscription_not_all_apis({"scope": scope}, "Subscription 's'")
    assert "/apis/<apiId>" in message


@pytest.mark.parametrize("scope", ["/apis/orders", "/products/starter"])
def test_subscription_scoped_to_one_api_or_a_product_passes(scope: str) -> None:
    assert rules.subscription_not_all_apis({"scope": scope}, "Subscription 's'") == []


def test_subscription_scope_unknown_cannot_be_verified() -> None:
    assert rules.subscription_not_all_apis({"scope": UNKNOWN}, "Subscription 's'")


def test_api_without_subscription_is_reported() -> None:
    [message] = rules.api_subscription_required({**HTTPS_API, "subscriptionRequired": False}, API)
    assert "subscription_required=True" in message
    assert rules.api_subscription_required({"apiId": "orders"}, API) == []
    unknown = {**HTTPS_API, "subscriptionRequired": UNKNOWN}
    assert "cannot be verified" in rules.api_subscription_required(unknown, API)[0]

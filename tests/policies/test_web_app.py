"""Rules 1-3 and 6-12: each check is a pure function over the WebApp / plan inputs."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from policies.secure_api_policies import UNKNOWN
from policies.secure_api_policies import web_app as rules

WHO = "WebApp 'orders-client'"

HARDENED: dict[str, Any] = {
    "name": "orders-client",
    "resourceGroupName": "rg-dev",
    "httpsOnly": True,
    "publicNetworkAccess": "Disabled",
    "identity": {"type": "SystemAssigned"},
    "siteConfig": {
        "minTlsVersion": "1.2",
        "ftpsState": "Disabled",
        "remoteDebuggingEnabled": False,
        "http20Enabled": True,
        "healthCheckPath": "/healthz",
        "cors": {"allowedOrigins": ["https://portal.contoso.com"]},
    },
}

ALL_WEB_APP_CHECKS = [
    rules.https_only,
    rules.min_tls_1_2,
    rules.no_plain_ftp,
    rules.managed_identity,
    rules.remote_debugging_off,
    rules.no_wildcard_cors,
    rules.http2_enabled,
    rules.health_check,
    rules.no_public_network_access,
]


def with_site(**site: Any) -> dict[str, Any]:
    props = copy.deepcopy(HARDENED)
    props["siteConfig"].update(site)
    return props


def with_props(**top: Any) -> dict[str, Any]:
    props = copy.deepcopy(HARDENED)
    props.update(top)
    return props


@pytest.mark.parametrize("check", ALL_WEB_APP_CHECKS, ids=lambda c: c.__name__)
def test_a_hardened_web_app_passes_every_web_app_rule(check: Any) -> None:
    assert check(HARDENED, WHO) == []


def test_https_only_false_is_reported_with_the_fix() -> None:
    [message] = rules.https_only(with_props(httpsOnly=False), WHO)
    assert message.startswith("WebApp 'orders-client' has httpsOnly=false")
    assert "https_only=True" in message


def test_https_only_unset_is_a_violation_because_the_default_allows_http() -> None:
    props = with_props()
    del props["httpsOnly"]
    assert rules.https_only(props, WHO)


def test_https_only_unknown_at_preview_cannot_be_verified() -> None:
    [message] = rules.https_only(with_props(httpsOnly=UNKNOWN), WHO)
    assert "cannot be verified" in message


@pytest.mark.parametrize("version", ["1.0", "1.1", None])
def test_tls_below_1_2_or_unset_is_a_violation(version: str | None) -> None:
    [message] = rules.min_tls_1_2(with_site(minTlsVersion=version), WHO)
    assert 'min_tls_version="1.2"' in message


def test_tls_1_3_passes() -> None:
    assert rules.min_tls_1_2(with_site(minTlsVersion="1.3"), WHO) == []


def test_tls_unknown_and_whole_site_config_unknown_cannot_be_verified() -> None:
    assert "cannot be verified" in rules.min_tls_1_2(with_site(minTlsVersion=UNKNOWN), WHO)[0]
    assert "cannot be verified" in rules.min_tls_1_2(with_props(siteConfig=UNKNOWN), WHO)[0]


def test_ftps_only_passes_and_all_allowed_is_a_violation() -> None:
    assert rules.no_plain_ftp(with_site(ftpsState="FtpsOnly"), WHO) == []
    assert "AllAllowed" in rules.no_plain_ftp(with_site(ftpsState="AllAllowed"), WHO)[0]
    assert "cannot be verified" in rules.no_plain_ftp(with_site(ftpsState=UNKNOWN), WHO)[0]


def test_identity_must_include_system_assigned() -> None:
    both = with_props(identity={"type": "SystemAssigned, UserAssigned"})
    assert rules.managed_identity(both, WHO) == []
    assert rules.managed_identity(with_props(identity={"type": "UserAssigned"}), WHO)
    assert rules.managed_identity(with_props(identity=None), WHO)
    assert "cannot be verified" in rules.managed_identity(with_props(identity=UNKNOWN), WHO)[0]


def test_remote_debugging_on_is_a_violation_and_unset_passes() -> None:
    assert rules.remote_debugging_off(with_site(remoteDebuggingEnabled=True), WHO)
    assert rules.remote_debugging_off(with_site(remoteDebuggingEnabled=None), WHO) == []
    unknown = rules.remote_debugging_off(with_site(remoteDebuggingEnabled=UNKNOWN), WHO)
    assert "cannot be verified" in unknown[0]


def test_wildcard_cors_origin_is_a_violation() -> None:
    [message] = rules.no_wildcard_cors(with_site(cors={"allowedOrigins": ["*"]}), WHO)
    assert 'origin "*"' in message
    assert rules.no_wildcard_cors(with_site(cors=None), WHO) == []
    unknown = with_site(cors={"allowedOrigins": [UNKNOWN]})
    assert "cannot be verified" in rules.no_wildcard_cors(unknown, WHO)[0]


def test_http2_off_is_an_advisory_finding() -> None:
    assert "http20_enabled=True" in rules.http2_enabled(with_site(http20Enabled=False), WHO)[0]


def test_missing_health_check_path_is_reported() -> None:
    assert rules.health_check(with_site(healthCheckPath=None), WHO)
    assert rules.health_check(with_site(healthCheckPath=""), WHO)


def test_public_access_without_restrictions_is_reported() -> None:
    [message] = rules.no_public_network_access(with_props(publicNetworkAccess="Enabled"), WHO)
    assert 'public_network_access="Disabled"' in message


def test_public_access_limited_to_the_apim_service_tag_passes() -> None:
    apim_only = [
        {"ipAddress": "ApiManagement", "tag": "ServiceTag", "action": "Allow", "priority": 100}
    ]
    props = with_props(publicNetworkAccess="Enabled")
    props["siteConfig"]["ipSecurityRestrictions"] = apim_only
    assert rules.no_public_network_access(props, WHO) == []
    props["siteConfig"]["ipSecurityRestrictionsDefaultAction"] = "Allow"
    assert rules.no_public_network_access(props, WHO)


def test_an_allow_any_rule_next_to_the_apim_tag_is_still_public() -> None:
    props = with_props(publicNetworkAccess="Enabled")
    props["siteConfig"]["ipSecurityRestrictions"] = [
        {"ipAddress": "ApiManagement", "tag": "ServiceTag", "action": "Allow"},
        {"ipAddress": "Any", "action": "Allow"},
    ]
    assert rules.no_public_network_access(props, WHO)


def test_a_production_plan_passes_sizing() -> None:
    plan = {"sku": {"name": "P1v3", "tier": "PremiumV3", "capacity": 3}, "zoneRedundant": True}
    assert rules.plan_production_sizing(plan, "AppServicePlan 'plan'") == []


def test_engine_floats_count_as_capacity() -> None:
    plan = {"sku": {"name": "P1v3", "capacity": 2.0}, "zoneRedundant": True}
    assert rules.plan_production_sizing(plan, "AppServicePlan 'plan'") == []


def test_a_basic_single_instance_plan_gets_three_findings() -> None:
    plan = {"sku": {"name": "B1", "tier": "Basic", "capacity": 1}}
    messages = rules.plan_production_sizing(plan, "AppServicePlan 'plan'")
    assert len(messages) == 3
    assert any("B1" in m for m in messages)
    assert any("zone_redundant=True" in m for m in messages)

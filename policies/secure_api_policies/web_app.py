"""Rules 1-3 and 6-12: how each consumer Web App and its App Service plan are hardened.

Rules 4 and 5 (basic-auth publishing) span two resources, so they live in `stack_rules`.
"""

from __future__ import annotations

from typing import Any

from pulumi_policy import ResourceValidationPolicy

from ._common import Props, get_path, is_opaque, resource_policy, show, unverifiable

WEB_APP = "azure-native:web:WebApp"
APP_SERVICE_PLAN = "azure-native:web:AppServicePlan"

_MODERN_TLS = ("1.2", "1.3")
_SAFE_FTPS = ("Disabled", "FtpsOnly")
# Free, Shared and Basic plans have no zone redundancy, no SLA worth the name and no scale-out
# beyond a handful of instances (CKV_AZURE_211/212/225).
_NON_PRODUCTION_TIERS = ("free", "shared", "basic")
_NON_PRODUCTION_SKUS = ("F1", "D1", "B1", "B2", "B3")


def https_only(props: Props, who: str) -> list[str]:
    value = props.get("httpsOnly")
    if is_opaque(value):
        return [unverifiable(who, "httpsOnly", "set https_only=True")]
    if value is not True:
        return [f"{who} has httpsOnly={show(value)}: set https_only=True so plain HTTP is refused"]
    return []


def min_tls_1_2(props: Props, who: str) -> list[str]:
    value = get_path(props, "siteConfig", "minTlsVersion")
    if is_opaque(value):
        return [unverifiable(who, "siteConfig.minTlsVersion", 'set min_tls_version="1.2"')]
    if value not in _MODERN_TLS:
        return [
            (
                f"{who} has siteConfig.minTlsVersion={show(value)}: set "
                'site_config.min_tls_version="1.2" (or "1.3") so TLS 1.0/1.1 clients are refused'
            )
        ]
    return []


def no_plain_ftp(props: Props, who: str) -> list[str]:
    value = get_path(props, "siteConfig", "ftpsState")
    if is_opaque(value):
        return [unverifiable(who, "siteConfig.ftpsState", 'set ftps_state="Disabled"')]
    if value not in _SAFE_FTPS:
        return [
            (
                f"{who} has siteConfig.ftpsState={show(value)} (the platform default allows plain "
                'FTP): set site_config.ftps_state="Disabled" (or "FtpsOnly")'
            )
        ]
    return []


def managed_identity(props: Props, who: str) -> list[str]:
    value = get_path(props, "identity", "type")
    if is_opaque(value):
        return [unverifiable(who, "identity.type", 'set identity.type="SystemAssigned"')]
    if not isinstance(value, str) or "systemassigned" not in value.replace(" ", "").lower():
        return [
            (
                f"{who} has identity.type={show(value)}: set identity="
                '{"type": "SystemAssigned"} so it calls APIs with a managed identity, not a secret'
            )
        ]
    return []


def remote_debugging_off(props: Props, who: str) -> list[str]:
    value = get_path(props, "siteConfig", "remoteDebuggingEnabled")
    if is_opaque(value):
        return [unverifiable(who, "siteConfig.remoteDebuggingEnabled", "set it to False")]
    if value is True:
        return [
            (
                f"{who} has siteConfig.remoteDebuggingEnabled=true: set "
                "site_config.remote_debugging_enabled=False (it opens a debugger port to the "
                "internet)"
            )
        ]
    return []


def no_wildcard_cors(props: Props, who: str) -> list[str]:
    origins = get_path(props, "siteConfig", "cors", "allowedOrigins")
    if is_opaque(origins) or (isinstance(origins, list) and any(map(is_opaque, origins))):
        return [unverifiable(who, "siteConfig.cors.allowedOrigins", "list exact origins")]
    if isinstance(origins, list) and "*" in origins:
        return [
            (
                f'{who} allows CORS origin "*": list the exact origins in '
                "site_config.cors.allowed_origins (callers here are services, which need no CORS)"
            )
        ]
    return []


def http2_enabled(props: Props, who: str) -> list[str]:
    value = get_path(props, "siteConfig", "http20Enabled")
    if value is not True:
        return [f"{who} has siteConfig.http20Enabled={show(value)}: set http20_enabled=True"]
    return []


def health_check(props: Props, who: str) -> list[str]:
    value = get_path(props, "siteConfig", "healthCheckPath")
    if not isinstance(value, str) or not value.startswith("/"):
        return [
            (
                f"{who} has siteConfig.healthCheckPath={show(value)}: set health_check_path "
                '(e.g. "/healthz") so unhealthy instances leave the load balancer'
            )
        ]
    return []


def _apim_only_restrictions(site_config: Any) -> bool:
    """True when the app answers only the API Management service tag (default deny)."""
    if not isinstance(site_config, dict):
        return False
    if site_config.get("ipSecurityRestrictionsDefaultAction", "Deny") != "Deny":
        return False
    rules = site_config.get("ipSecurityRestrictions")
    if not isinstance(rules, list) or not rules:
        return False
    allows = [r for r in rules if isinstance(r, dict) and r.get("action", "Allow") == "Allow"]
    apim = [
        r for r in allows if r.get("ipAddress") == "ApiManagement" and r.get("tag") == "ServiceTag"
    ]
    open_to_all = [r for r in allows if r.get("ipAddress") in ("Any", "0.0.0.0/0", "::/0")]
    return bool(apim) and not open_to_all


def no_public_network_access(props: Props, who: str) -> list[str]:
    if props.get("publicNetworkAccess") == "Disabled":
        return []
    if _apim_only_restrictions(props.get("siteConfig")):
        return []
    return [
        (
            f"{who} has publicNetworkAccess={show(props.get('publicNetworkAccess'))} and no "
            'APIM-only access restrictions: set public_network_access="Disabled" (private '
            "endpoint) or add site_config.ip_security_restrictions allowing only "
            'ip_address="ApiManagement", tag="ServiceTag"'
        )
    ]


def plan_production_sizing(props: Props, who: str) -> list[str]:
    problems: list[str] = []
    raw_sku = props.get("sku")
    sku: dict[str, Any] = raw_sku if isinstance(raw_sku, dict) else {}
    tier = str(sku.get("tier") or "").lower()
    name = str(sku.get("name") or "")
    if tier in _NON_PRODUCTION_TIERS or name.upper() in _NON_PRODUCTION_SKUS:
        problems.append(
            f"{who} uses SKU {show(name or tier)}: use a Premium v3 (P1v3 or larger) plan in "
            "production"
        )
    if props.get("zoneRedundant") is not True:
        problems.append(f"{who} is not zone redundant: set zone_redundant=True")
    capacity = sku.get("capacity")
    # The engine hands numbers over as floats (protobuf Struct), a Plan as ints.
    if isinstance(capacity, bool) or not isinstance(capacity, (int, float)) or capacity < 2:
        problems.append(
            f"{who} has sku.capacity={show(capacity)}: run at least 2 instances (3 with zones)"
        )
    return problems


def policies() -> list[ResourceValidationPolicy]:
    return [
        resource_policy("webapp-https-only", {WEB_APP: https_only}),
        resource_policy("webapp-min-tls-1-2", {WEB_APP: min_tls_1_2}),
        resource_policy("webapp-no-plain-ftp", {WEB_APP: no_plain_ftp}),
        resource_policy("webapp-managed-identity", {WEB_APP: managed_identity}),
        resource_policy("webapp-remote-debugging-off", {WEB_APP: remote_debugging_off}),
        resource_policy("webapp-no-wildcard-cors", {WEB_APP: no_wildcard_cors}),
        resource_policy("webapp-http2-enabled", {WEB_APP: http2_enabled}),
        resource_policy("webapp-health-check", {WEB_APP: health_check}),
        resource_policy("webapp-no-public-network-access", {WEB_APP: no_public_network_access}),
        resource_policy(
            "app-service-plan-production-sizing", {APP_SERVICE_PLAN: plan_production_sizing}
        ),
    ]

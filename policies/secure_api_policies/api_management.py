"""Rules 13-21 and 25: the API Management service, its APIs, backends, named values and
subscriptions. The gateway policy documents (rules 22 and 24) live in `gateway_policy_xml`.
"""

from __future__ import annotations

from typing import Any

from pulumi_policy import ResourceValidationPolicy

from ._common import Props, get_path, is_opaque, resource_policy, show, unverifiable

SERVICE = "azure-native:apimanagement:ApiManagementService"
API = "azure-native:apimanagement:Api"
BACKEND = "azure-native:apimanagement:Backend"
NAMED_VALUE = "azure-native:apimanagement:NamedValue"
SUBSCRIPTION = "azure-native:apimanagement:Subscription"

_SECURITY = "Microsoft.WindowsAzure.ApiManagement.Gateway.Security"
LEGACY_PROTOCOL_KEYS = tuple(
    f"{_SECURITY}.{side}Protocols.{proto}"
    for side in ("", "Backend.")
    for proto in ("Ssl30", "Tls10", "Tls11")
)
TRIPLE_DES_KEY = f"{_SECURITY}.Ciphers.TripleDes168"


# "The following tiers don't support changes to the default cipher configuration:
# Consumption, Basic v2, Standard v2, Premium v2" (learn.microsoft.com/azure/api-management/
# api-management-howto-manage-protocols-ciphers): the platform's defaults apply there, and
# demanding the switches would contradict preflight rule 39, which refuses them.
FIXED_CIPHER_TIERS = ("Consumption", "BasicV2", "StandardV2", "PremiumV2")


def _consumption(props: Props) -> bool:
    return get_path(props, "sku", "name") in FIXED_CIPHER_TIERS


def _custom_properties_off(props: Props, who: str, keys: tuple[str, ...], why: str) -> list[str]:
    if _consumption(props):
        return []
    custom = props.get("customProperties")
    if is_opaque(custom) or (
        isinstance(custom, dict) and any(is_opaque(custom.get(k)) for k in keys)
    ):
        return [unverifiable(who, "customProperties", 'set each security switch to "false"')]
    custom = custom if isinstance(custom, dict) else {}
    # Only an explicit "false" counts: services created before 2018 default these to on.
    on = [k for k in keys if str(custom.get(k, "")).strip().lower() != "false"]
    if not on:
        return []
    shown = ", ".join(f"{k.removeprefix(_SECURITY + '.')}={show(custom.get(k))}" for k in on)
    return [
        f"{who} does not turn off {shown} (customProperties keys under {_SECURITY}): set each "
        f'explicitly to "false"; {why}'
    ]


def no_legacy_protocols(props: Props, who: str) -> list[str]:
    return _custom_properties_off(
        props, who, LEGACY_PROTOCOL_KEYS, "SSL 3.0, TLS 1.0 and TLS 1.1 are broken"
    )


def no_weak_ciphers(props: Props, who: str) -> list[str]:
    return _custom_properties_off(props, who, (TRIPLE_DES_KEY,), "3DES is a weak cipher")


def _has_identity(identity_type: Any) -> bool:
    return isinstance(identity_type, str) and "assigned" in identity_type.lower()


def apim_managed_identity(props: Props, who: str) -> list[str]:
    value = get_path(props, "identity", "type")
    if not _has_identity(value):
        return [
            (
                f"{who} has identity.type={show(value)}: set identity="
                '{"type": "SystemAssigned"} so it reads Key Vault named values without secrets'
            )
        ]
    return []


def private_network(props: Props, who: str) -> list[str]:
    if props.get("virtualNetworkType") in ("External", "Internal"):
        return []
    if props.get("publicNetworkAccess") == "Disabled":
        return []
    return [
        (
            f"{who} has virtualNetworkType={show(props.get('virtualNetworkType'))} and "
            f"publicNetworkAccess={show(props.get('publicNetworkAccess'))}: inject it into a "
            'virtual network (virtual_network_type="External"/"Internal") or set '
            'public_network_access="Disabled" behind a private endpoint'
        )
    ]


def api_https_only(props: Props, who: str) -> list[str]:
    protocols = props.get("protocols")
    if is_opaque(protocols) or (isinstance(protocols, list) and any(map(is_opaque, protocols))):
        return [unverifiable(who, "protocols", 'set protocols=["https"]')]
    # wss is TLS as well; plain http and ws are what the rule exists to stop.
    # `p in tuple` compares by equality: an item that is an object or a list (not hashable)
    # is simply not https.
    if (
        not isinstance(protocols, list)
        or not protocols
        or any(p not in ("https", "wss") for p in protocols)
    ):
        return [
            (
                f'{who} has protocols={show(protocols)}: set protocols=["https"] so the gateway '
                "refuses plain HTTP (tokens and subscription keys would travel in clear text)"
            )
        ]
    return []


def _https_url(props: Props, who: str, prop: str, required: bool) -> list[str]:
    url = props.get(prop)
    if url is None and not required:
        return []
    if is_opaque(url):
        return [unverifiable(who, prop, "use an https:// URL")]
    if not isinstance(url, str) or not url.lower().startswith("https://"):
        return [
            (
                f"{who} has {prop}={show(url)}: call the backend over https:// so the token the "
                "gateway forwards cannot be read on the way"
            )
        ]
    return []


def api_backend_https(props: Props, who: str) -> list[str]:
    # An API without serviceUrl routes through `set-backend-service` to a Backend entity,
    # which this rule checks on its own.
    return _https_url(props, who, "serviceUrl", required=False)


def backend_https(props: Props, who: str) -> list[str]:
    # Pool backends have no URL of their own; their members are Backends checked separately.
    required = props.get("type") != "Pool"
    return _https_url(props, who, "url", required=required)


def backend_certificate_validation(props: Props, who: str) -> list[str]:
    problems = []
    for prop in ("validateCertificateChain", "validateCertificateName"):
        value = get_path(props, "tls", prop)
        if is_opaque(value):
            problems.append(unverifiable(who, f"tls.{prop}", "leave it unset or True"))
        elif value is False:
            problems.append(
                f"{who} has tls.{prop}=false: remove it (default true) so the gateway "
                "cannot be pointed at an impostor backend"
            )
    return problems


def secret_named_value_in_key_vault(props: Props, who: str) -> list[str]:
    secret = props.get("secret")
    if is_opaque(secret):
        return [unverifiable(who, "secret", "set secret=True with a key_vault reference")]
    if secret is not True:
        return []
    # An unknown secretIdentifier (the Key Vault secret's URI, an output) still proves the
    # reference is there: presence is what this rule is about.
    identifier = get_path(props, "keyVault", "secretIdentifier")
    if not identifier:
        return [
            (
                f"{who} is a secret named value stored in API Management: set key_vault="
                '{"secret_identifier": <Key Vault secret URI>} and drop value'
            )
        ]
    return []


def subscription_not_all_apis(props: Props, who: str) -> list[str]:
    scope = props.get("scope")
    if is_opaque(scope):
        return [unverifiable(who, "scope", 'scope it to "/apis/<apiId>" or a product')]
    if not isinstance(scope, str) or scope.rstrip("/").lower().endswith("/apis"):
        return [
            (
                f"{who} has scope={show(scope)}, which grants every API: scope it to "
                '"/apis/<apiId>" (or a product) so one leaked key opens one API'
            )
        ]
    return []


def api_subscription_required(props: Props, who: str) -> list[str]:
    value = props.get("subscriptionRequired")
    if is_opaque(value):
        return [unverifiable(who, "subscriptionRequired", "set subscription_required=True")]
    if value is False:
        return [
            (
                f"{who} has subscriptionRequired=false: set subscription_required=True so callers "
                "need a key as well as a token"
            )
        ]
    return []


def policies() -> list[ResourceValidationPolicy]:
    return [
        resource_policy("apim-no-legacy-protocols", {SERVICE: no_legacy_protocols}),
        resource_policy("apim-no-weak-ciphers", {SERVICE: no_weak_ciphers}),
        resource_policy("apim-managed-identity", {SERVICE: apim_managed_identity}),
        resource_policy("apim-private-network", {SERVICE: private_network}),
        resource_policy("apim-api-https-only", {API: api_https_only}),
        resource_policy(
            "apim-subscription-not-all-apis", {SUBSCRIPTION: subscription_not_all_apis}
        ),
        resource_policy("apim-backend-https", {BACKEND: backend_https, API: api_backend_https}),
        resource_policy(
            "apim-backend-certificate-validation", {BACKEND: backend_certificate_validation}
        ),
        resource_policy(
            "apim-secret-named-values-in-key-vault", {NAMED_VALUE: secret_named_value_in_key_vault}
        ),
        resource_policy("apim-api-subscription-required", {API: api_subscription_required}),
    ]

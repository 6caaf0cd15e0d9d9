"""The app-setting names the stack writes into each consumer Web App, and their reader.

This module is the single definition of those names: the stack's `components/` package
imports it to *write* the settings, the client imports it to *read* them, so the two can
never drift apart. It must stay standard-library only (the Pulumi virtualenv has no
azure-core), which is why `consumer/__init__.py` imports the client lazily.

A consumer may call several APIs, so every setting is per API:

    API_<KEY>_BASE_URL                  gateway URL + API path, https://apim-x.azure-api.net/orders
    API_<KEY>_SCOPE                     api://<clientId>/.default
    API_<KEY>_SUBSCRIPTION_KEY          the APIM subscription key (a Key Vault reference in Azure)
    API_<KEY>_SUBSCRIPTION_KEY_HEADER   optional, default Ocp-Apim-Subscription-Key

where <KEY> is the API name upper-cased with `-` turned into `_` (`customer-profile` ->
`CUSTOMER_PROFILE`). Names use lowercase letters, digits and single inner hyphens only, so the
mapping is reversible and no two APIs can share a variable.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from .errors import ConsumerConfigError

DEFAULT_SUBSCRIPTION_KEY_HEADER = "Ocp-Apim-Subscription-Key"

# Not written by the stack, and deliberately so: the Web Apps use a *system-assigned* identity.
# If AZURE_CLIENT_ID is present, DefaultAzureCredential would ask App Service for a
# user-assigned identity with that client ID instead; `ApiClient.from_environment` therefore
# pins the system-assigned one, and `probe` warns when the variable is set.
AZURE_CLIENT_ID = "AZURE_CLIENT_ID"

# App Service sets these when a managed identity is enabled; azure-identity reads them.
IDENTITY_ENDPOINT = "IDENTITY_ENDPOINT"
IDENTITY_HEADER = "IDENTITY_HEADER"

_API_NAME = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
_BASE_URL_SETTING = re.compile(r"API_([A-Z0-9_]+)_BASE_URL")
_HEADER_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # RFC 9110 token
_SCOPE_NAME = re.compile(r"[A-Za-z0-9._-]+")
_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
_KEY_VAULT_REFERENCE = "@Microsoft.KeyVault("
_FIX = "the stack writes it as an app setting; run `pulumi stack output` to see the value"


@dataclass(frozen=True)
class ApiSettingNames:
    """The environment-variable names for one API."""

    base_url: str
    scope: str
    subscription_key: str
    subscription_key_header: str

    def all(self) -> tuple[str, str, str, str]:
        return (self.base_url, self.scope, self.subscription_key, self.subscription_key_header)


@dataclass(frozen=True)
class ApiSettings:
    """The values for one API, validated. The key is kept out of `repr` so it never gets logged."""

    api_name: str
    base_url: str
    scope: str
    subscription_key: str = field(repr=False)
    subscription_key_header: str = DEFAULT_SUBSCRIPTION_KEY_HEADER

    @property
    def masked_key(self) -> str:
        return mask_secret(self.subscription_key)

    @property
    def is_loopback(self) -> bool:
        """True for the local rehearsal's plain-http gateway on 127.0.0.1/localhost."""
        parts = urlsplit(self.base_url)
        return parts.scheme == "http" and (parts.hostname or "") in _LOOPBACK_HOSTS


def is_valid_api_name(api_name: str) -> bool:
    return _API_NAME.fullmatch(api_name) is not None


def setting_key(api_name: str) -> str:
    """`customer-profile` -> `CUSTOMER_PROFILE`; ValueError for a name the stack cannot have."""
    if not is_valid_api_name(api_name):
        raise ValueError(
            f"invalid API name {api_name!r}: use lowercase letters, digits and single hyphens, "
            "e.g. 'orders' or 'customer-profile'"
        )
    return api_name.upper().replace("-", "_")


def setting_names(api_name: str) -> ApiSettingNames:
    prefix = f"API_{setting_key(api_name)}_"
    return ApiSettingNames(
        base_url=f"{prefix}BASE_URL",
        scope=f"{prefix}SCOPE",
        subscription_key=f"{prefix}SUBSCRIPTION_KEY",
        subscription_key_header=f"{prefix}SUBSCRIPTION_KEY_HEADER",
    )


def configured_api_names(environ: Mapping[str, str]) -> list[str]:
    """The APIs this process has a base URL for, sorted (what `probe` lists for a wrong name)."""
    names = []
    for variable in environ:
        match = _BASE_URL_SETTING.fullmatch(variable)
        if match:
            name = match.group(1).lower().replace("_", "-")
            if is_valid_api_name(name):
                names.append(name)
    return sorted(names)


def mask_secret(secret: str) -> str:
    """First 4 characters and an ellipsis: enough to tell keys apart, too little to use one."""
    return f"{secret[:4]}…" if len(secret) > 8 else "…"


def read_settings(api_name: str, environ: Mapping[str, str]) -> ApiSettings:
    """Read and validate one API's settings; ConsumerConfigError names the variable to fix."""
    try:
        names = setting_names(api_name)
    except ValueError as error:
        raise ConsumerConfigError(str(error)) from None

    def required(variable: str) -> str:
        value = environ.get(variable, "").strip()
        if not value:
            raise ConsumerConfigError(f"set {variable} ({_FIX}, or export it for a local run)")
        return value

    base_url = _check_base_url(names.base_url, required(names.base_url))
    scope = _check_scope(names.scope, required(names.scope))
    key = _check_key(names.subscription_key, required(names.subscription_key))
    header = environ.get(names.subscription_key_header, "").strip()
    header = header or DEFAULT_SUBSCRIPTION_KEY_HEADER
    if not _HEADER_TOKEN.fullmatch(header):
        raise ConsumerConfigError(
            f"{names.subscription_key_header} must be an HTTP header name such as "
            f"{DEFAULT_SUBSCRIPTION_KEY_HEADER} (got {header!r})"
        )
    return ApiSettings(api_name, base_url, scope, key, header)


def _check_base_url(variable: str, value: str) -> str:
    parts = urlsplit(value)
    example = "e.g. https://apim-x.azure-api.net/orders"
    loopback_http = parts.scheme == "http" and (parts.hostname or "") in _LOOPBACK_HOSTS
    if not (parts.scheme == "https" or loopback_http) or not parts.hostname:
        # The bearer token and the subscription key must never travel in clear text; only the
        # local rehearsal, which never leaves the machine, may use plain http.
        raise ConsumerConfigError(
            f"{variable} must be an https URL, {example} (got {value!r}; plain http is "
            "allowed only for 127.0.0.1/localhost)"
        )
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ConsumerConfigError(
            f"{variable} must be the gateway URL plus the API path, without query, fragment "
            f"or credentials, {example} (got {value!r})"
        )
    return value.rstrip("/")


def _check_scope(variable: str, value: str) -> str:
    # Exactly one scope: azure-identity turns `<resource>/.default` into the resource it asks
    # a managed identity for, and refuses more than one.
    resource, _, name = value.rpartition("/")
    if " " not in value and resource and not resource.endswith(("/", ":")):
        if name == ".default":
            return value
        is_uri = resource.startswith(("api://", "https://"))
        if is_uri and _SCOPE_NAME.fullmatch(name):
            return value  # a delegated scope such as api://<id>/API.Access (user sign-in only)
    raise ConsumerConfigError(
        f"{variable} must be one scope such as api://<clientId>/.default "
        f"(or a delegated scope such as api://<clientId>/API.Access), got {value!r}"
    )


def _check_key(variable: str, value: str) -> str:
    if value.startswith(_KEY_VAULT_REFERENCE):
        # App Service leaves the literal reference in place when it cannot resolve it.
        raise ConsumerConfigError(
            f"{variable} is an unresolved Key Vault reference: give the Web App's identity "
            "'Key Vault Secrets User' on the secret and check the reference status under "
            "the Web App's environment variables"
        )
    return value

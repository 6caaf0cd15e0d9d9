"""The library a consumer Web App runs: Entra token + subscription key, one call through APIM.

    from consumer import ApiClient

    with ApiClient.from_environment("orders") as orders:
        print(orders.get("/orders").json())

The client names are imported lazily (PEP 562): the stack's `components/` package imports
`consumer.app_settings` from a virtualenv that has no azure-core, and importing a submodule
runs this file first.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from .app_settings import (
    DEFAULT_SUBSCRIPTION_KEY_HEADER,
    ApiSettingNames,
    ApiSettings,
    configured_api_names,
    read_settings,
    setting_names,
)
from .errors import (
    ConsumerConfigError,
    ConsumerError,
    GatewayError,
    GatewayUnreachableError,
    TokenAcquisitionError,
)

if TYPE_CHECKING:
    from .client import ApiClient, ApiResponse, default_credential

__all__ = [
    "DEFAULT_SUBSCRIPTION_KEY_HEADER",
    "ApiClient",
    "ApiResponse",
    "ApiSettingNames",
    "ApiSettings",
    "ConsumerConfigError",
    "ConsumerError",
    "GatewayError",
    "GatewayUnreachableError",
    "TokenAcquisitionError",
    "configured_api_names",
    "default_credential",
    "read_settings",
    "setting_names",
]

_LAZY = {"ApiClient", "ApiResponse", "default_credential"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(".client", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

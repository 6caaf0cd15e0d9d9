"""Consumer Web Apps: hardened, with a system identity and the settings the client reads."""

from __future__ import annotations

from typing import Any

from consumer.app_settings import setting_names
from tests.plan_helpers import named, of_type


def test_web_apps_are_hardened_linux_sites_with_a_system_identity(
    dev_plan: dict[str, Any],
) -> None:
    sites = of_type(dev_plan, ":WebApp")
    assert {s["inputs"]["name"] for s in sites} == {
        "app-contoso-storefront-dev",
        "app-contoso-reporting-dev",
    }
    for site in sites:
        inputs = site["inputs"]
        assert inputs["httpsOnly"] is True
        assert inputs["identity"]["type"] == "SystemAssigned"
        config = inputs["siteConfig"]
        assert config["minTlsVersion"] == "1.2"
        assert config["ftpsState"] == "Disabled"
        assert config["remoteDebuggingEnabled"] is False
        assert config["http20Enabled"] is True
        assert config["healthCheckPath"] == "/healthz"
        assert config["linuxFxVersion"].startswith("PYTHON|")


def test_basic_auth_publishing_is_off_for_ftp_and_scm(dev_plan: dict[str, Any]) -> None:
    for suffix in (":WebAppFtpAllowed", ":WebAppScmAllowed"):
        switches = {r["inputs"]["name"]: r["inputs"]["allow"] for r in of_type(dev_plan, suffix)}
        assert switches == {"app-contoso-storefront-dev": False, "app-contoso-reporting-dev": False}


def test_app_settings_name_the_url_scope_and_key_vault_reference(
    dev_plan: dict[str, Any],
) -> None:
    site = named(dev_plan, "storefront-site")["inputs"]
    settings = {s["name"]: s["value"] for s in site["siteConfig"]["appSettings"]}
    orders = setting_names("orders")
    client_id = named(dev_plan, "orders-registration")["outputs"]["clientId"]
    assert settings[orders.base_url] == "https://apim-contoso-dev.azure-api.net/orders"
    assert settings[orders.scope] == f"api://{client_id}/.default"
    assert settings[orders.subscription_key] == (
        "@Microsoft.KeyVault(VaultName=kv-contoso-dev;SecretName=apim-key-orders-storefront)"
    )
    assert setting_names("inventory").base_url in settings
    assert not any(len(v) == 32 and v.isalnum() for v in settings.values()), "a raw key leaked"

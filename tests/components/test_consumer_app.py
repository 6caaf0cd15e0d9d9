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


def test_app_settings_name_the_url_scope_and_key_vault_reference(revealed_dev: Any) -> None:
    settings = revealed_dev.sent["storefront-app-settings"]["properties"]
    orders = setting_names("orders")
    client_id = revealed_dev.returned["orders-registration"]["clientId"]
    assert settings[orders.base_url] == "https://apim-contoso-dev.azure-api.net/orders"
    assert settings[orders.scope] == f"api://{client_id}/.default"
    assert settings[orders.subscription_key] == (
        "@Microsoft.KeyVault(VaultName=kv-contoso-dev;SecretName=apim-key-orders-storefront)"
    )
    assert setting_names("inventory").base_url in settings
    assert not any(len(v) == 32 and v.isalnum() for v in settings.values()), "a raw key leaked"


def test_every_setting_lives_in_one_settings_resource_and_none_in_the_site(
    dev_plan: dict[str, Any], revealed_dev: Any
) -> None:
    for consumer in ("storefront", "reporting"):
        site = named(dev_plan, f"{consumer}-site")
        assert "appSettings" not in site["inputs"]["siteConfig"]
        (mine,) = [
            r
            for r in of_type(dev_plan, ":WebAppApplicationSettings")
            if r["inputs"]["name"] == site["inputs"]["name"]
        ]
        assert mine["parent"] == named(dev_plan, consumer)["urn"]
        settings = revealed_dev.sent[mine["name"]]["properties"]
        # The whole set, App Insights included: the resource replaces every setting.
        assert "APPLICATIONINSIGHTS_CONNECTION_STRING" in settings
        assert {k for k in settings if k.startswith("API_")} == {
            f"API_{api.upper()}_{suffix}"
            for api in dev_plan["outputs"]["consumers"][consumer]["grantedRoles"]
            for suffix in ("BASE_URL", "SCOPE", "SUBSCRIPTION_KEY")
        }


def test_the_settings_are_written_after_the_vault_the_secrets_and_the_reader_grants(
    dev_plan: dict[str, Any],
) -> None:
    settings = named(dev_plan, "storefront-app-settings")
    site = named(dev_plan, "storefront-site")
    readers = [
        r
        for r in of_type(dev_plan, ":RoleAssignment")
        if r["inputs"]["principalId"] == site["outputs"]["identity"]["principalId"]
    ]
    secrets = [
        named(dev_plan, f"key-vault-apim-key-{api}-storefront") for api in ("orders", "inventory")
    ]
    assert len(readers) == 2
    needed = {named(dev_plan, "key-vault-vault")["urn"], site["urn"]}
    needed |= {r["urn"] for r in readers} | {s["urn"] for s in secrets}
    assert needed <= set(settings["dependencies"])
    for reader in readers:
        assert reader["parent"] == named(dev_plan, "storefront")["urn"]
        secret = reader["inputs"]["scope"].rsplit("/", 1)[-1]
        assert secret in {s["inputs"]["secretName"] for s in secrets}
        assert reader["propertyDependencies"]["scope"][0] in {s["urn"] for s in secrets}


def test_each_consumer_exports_its_identitys_client_id_from_graph(
    dev_plan: dict[str, Any],
) -> None:
    from sandbox.program.mocks import derived_id

    for name, facts in dev_plan["outputs"]["consumers"].items():
        principal = named(dev_plan, f"{name}-site")["outputs"]["identity"]["principalId"]
        assert facts["clientId"] == derived_id("dev", "service-principal", principal, "clientId")
        assert facts["clientId"] != principal

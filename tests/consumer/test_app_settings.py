from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consumer.app_settings import (
    DEFAULT_SUBSCRIPTION_KEY_HEADER,
    ApiSettingNames,
    configured_api_names,
    mask_secret,
    read_settings,
    setting_names,
)
from consumer.errors import ConsumerConfigError

REPO = Path(__file__).resolve().parents[2]
api_names = st.from_regex(r"[a-z0-9]{1,8}(-[a-z0-9]{1,8}){0,3}", fullmatch=True)
GOOD = {
    "API_ORDERS_BASE_URL": "https://apim-x.azure-api.net/orders",
    "API_ORDERS_SCOPE": "api://22222222-2222-4222-8222-222222222222/.default",
    "API_ORDERS_SUBSCRIPTION_KEY": "0123456789abcdef",
}


def test_the_setting_names_are_the_api_name_upper_cased_with_underscores() -> None:
    assert setting_names("customer-profile") == ApiSettingNames(
        base_url="API_CUSTOMER_PROFILE_BASE_URL",
        scope="API_CUSTOMER_PROFILE_SCOPE",
        subscription_key="API_CUSTOMER_PROFILE_SUBSCRIPTION_KEY",
        subscription_key_header="API_CUSTOMER_PROFILE_SUBSCRIPTION_KEY_HEADER",
    )


@pytest.mark.parametrize("name", ["", "Orders", "orders_v2", "-orders", "orders-", "a--b", "ö"])
def test_a_name_outside_lowercase_letters_digits_and_single_hyphens_is_refused(name: str) -> None:
    with pytest.raises(ValueError, match="invalid API name"):
        setting_names(name)


@given(api_names, api_names)
def test_two_different_apis_never_share_a_variable(first: str, second: str) -> None:
    if first != second:
        assert not set(setting_names(first).all()) & set(setting_names(second).all())


@given(st.lists(api_names, max_size=4, unique=True))
def test_the_configured_apis_are_found_back_from_their_base_url_settings(names: list[str]) -> None:
    environ = {setting_names(name).base_url: "https://x" for name in names}
    environ["API_ORDERS_SCOPE"] = "api://x/.default"  # other settings are not APIs
    assert configured_api_names(environ) == sorted(names)


def test_complete_settings_are_read_with_the_default_key_header() -> None:
    settings = read_settings("orders", GOOD)
    assert settings.base_url == "https://apim-x.azure-api.net/orders"
    assert settings.subscription_key_header == DEFAULT_SUBSCRIPTION_KEY_HEADER
    assert settings.subscription_key == "0123456789abcdef"
    assert not settings.is_loopback


def test_the_key_never_shows_in_the_settings_repr() -> None:
    settings = read_settings("orders", GOOD)
    assert "0123456789abcdef" not in repr(settings)
    assert settings.masked_key == "0123…"


@pytest.mark.parametrize("missing", sorted(GOOD))
def test_a_missing_setting_is_named_with_how_to_fix_it(missing: str) -> None:
    environ = {k: v for k, v in GOOD.items() if k != missing}
    with pytest.raises(ConsumerConfigError) as caught:
        read_settings("orders", environ)
    message = str(caught.value)
    assert message.startswith(f"set {missing} (the stack writes it as an app setting")
    assert "pulumi stack output" in message and "\n" not in message


def test_a_blank_setting_counts_as_missing() -> None:
    with pytest.raises(ConsumerConfigError, match="set API_ORDERS_SCOPE"):
        read_settings("orders", {**GOOD, "API_ORDERS_SCOPE": "  "})


@pytest.mark.parametrize(
    "url",
    [
        "http://apim-x.azure-api.net/orders",
        "ftp://apim-x/orders",
        "apim-x.azure-api.net/orders",
        "https://",
        "https://apim-x.azure-api.net/orders?x=1",
        "https://user:pw@apim-x.azure-api.net/orders",
    ],
)
def test_a_base_url_that_could_leak_the_token_or_is_not_a_gateway_url_is_refused(url: str) -> None:
    with pytest.raises(ConsumerConfigError, match="API_ORDERS_BASE_URL must be"):
        read_settings("orders", {**GOOD, "API_ORDERS_BASE_URL": url})


@pytest.mark.parametrize("host", ["127.0.0.1:8080", "localhost", "[::1]:9000"])
def test_plain_http_is_allowed_for_the_local_rehearsal_only(host: str) -> None:
    settings = read_settings("orders", {**GOOD, "API_ORDERS_BASE_URL": f"http://{host}/orders/"})
    assert settings.base_url == f"http://{host}/orders"
    assert settings.is_loopback


@pytest.mark.parametrize(
    "scope",
    [
        "api://22222222-2222-4222-8222-222222222222/.default",
        "22222222-2222-4222-8222-222222222222/.default",
        "api://22222222-2222-4222-8222-222222222222/API.Access",
        "https://contoso.onmicrosoft.com/orders/API.Access",
    ],
)
def test_a_default_or_a_delegated_scope_is_accepted(scope: str) -> None:
    assert read_settings("orders", {**GOOD, "API_ORDERS_SCOPE": scope}).scope == scope


@pytest.mark.parametrize(
    "scope",
    [
        "api://x",
        "api://x/.default api://y/.default",
        "/.default",
        "api:///.default",
        "API.Access",
        "orders/API.Access",
        "api://x/API Access",
    ],
)
def test_anything_but_one_scope_is_refused(scope: str) -> None:
    with pytest.raises(ConsumerConfigError, match="API_ORDERS_SCOPE must be one scope"):
        read_settings("orders", {**GOOD, "API_ORDERS_SCOPE": scope})


def test_an_unresolved_key_vault_reference_says_what_to_grant() -> None:
    reference = "@Microsoft.KeyVault(SecretUri=https://kv.vault.azure.net/secrets/orders-key/)"
    with pytest.raises(ConsumerConfigError, match="Key Vault Secrets User"):
        read_settings("orders", {**GOOD, "API_ORDERS_SUBSCRIPTION_KEY": reference})


def test_a_custom_key_header_is_used_and_a_bad_one_is_refused() -> None:
    custom = read_settings("orders", {**GOOD, "API_ORDERS_SUBSCRIPTION_KEY_HEADER": "X-Api-Key"})
    assert custom.subscription_key_header == "X-Api-Key"
    with pytest.raises(ConsumerConfigError, match="API_ORDERS_SUBSCRIPTION_KEY_HEADER"):
        read_settings("orders", {**GOOD, "API_ORDERS_SUBSCRIPTION_KEY_HEADER": "X Api: Key"})


def test_an_invalid_api_name_is_a_config_error_when_reading() -> None:
    with pytest.raises(ConsumerConfigError, match="invalid API name"):
        read_settings("Orders", GOOD)


def test_a_short_secret_is_masked_entirely() -> None:
    assert mask_secret("abc") == "…"
    assert mask_secret("abcdefghij") == "abcd…"


def test_the_settings_module_imports_without_any_azure_package() -> None:
    # The stack's components/ import it from a virtualenv that has no azure-core.
    code = (
        "import sys\n"
        "sys.modules['azure'] = None\n"  # any azure import now fails loudly
        "import consumer.app_settings, consumer\n"
        "print(consumer.app_settings.setting_names('orders').scope)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "API_ORDERS_SCOPE"

"""Azure's naming rules, as the config applies them to every derived name."""

from __future__ import annotations

import pytest

from components import azure_names, backend_url


@pytest.mark.parametrize(
    ("kind", "name", "words"),
    [
        ("key_vault", "kv-a--b", "single hyphens"),
        ("key_vault", "kv", "3-24"),
        ("key_vault", "1kv-contoso", "starting with a letter"),
        ("web_app", "app-", "not starting or ending with a hyphen"),
        ("api_management", "a" * 51, "1-50"),
        ("resource_group", "rg.", "not ending with a period"),
        ("log_workspace", "log", "4-63"),
        ("apim_subscription", "s" * 81, "1-80"),
        ("apim_named_value", "1-audience", "starting with a letter"),
        ("app_insights", "appi?", "free of"),
    ],
)
def test_a_name_azure_refuses_is_explained(kind: str, name: str, words: str) -> None:
    problem = azure_names.problem(kind, name)
    assert problem is not None and words in problem


@pytest.mark.parametrize(
    ("kind", "name"),
    [
        ("key_vault", "kv-contoso-dev"),
        ("web_app", "app-contoso-storefront-dev"),
        ("api_management", "apim-contoso-prod"),
        ("resource_group", "rg-contoso-dev"),
        ("apim_named_value", "client-storefront"),
        ("key_vault_secret", "apim-key-orders-storefront"),
    ],
)
def test_the_names_the_stack_derives_are_accepted(kind: str, name: str) -> None:
    assert azure_names.problem(kind, name) is None


@pytest.mark.parametrize(
    "url",
    [
        "https://orders-backend.contoso.example/api",
        "https://orders.example:8443/a/b",
        "https://10.0.0.4",
        "https://[2001:db8::1]:443/x",
        "https://orders.example/v1/%7Bx%7D",
    ],
)
def test_backend_urls_of_the_accepted_shape_pass(url: str) -> None:
    assert backend_url.problem(url) is None


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("https://orders .example", "whitespace"),
        ("ftp://orders.example", "https://"),
        ("https://user@orders.example", "user name"),
        ("https://orders.example:0", "port"),
        ("https://-orders.example", "not a DNS name"),
        ("https://10.0.0.300", "not a DNS name"),
        ("https://[nope]", "not an IPv6 address"),
        ("https://orders.example/api?x=1", "query"),
        ("https://orders.example/api#top", "fragment"),
        ("https://orders.example/a\\b", "path"),
        ("https://", "not a DNS name"),
    ],
)
def test_backend_urls_the_gateway_cannot_call_are_refused(url: str, words: str) -> None:
    problem = backend_url.problem(url)
    assert problem is not None and words in problem

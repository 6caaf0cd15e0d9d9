from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consumer.errors import GatewayError, explain_token_failure, gateway_message, one_line

DAC_HEADER = "DefaultAzureCredential failed to retrieve a token from the included credentials."
UNAVAILABLE_TAIL = (
    "\tSharedTokenCacheCredential: SharedTokenCacheCredential authentication unavailable. "
    "No accounts were found in the cache.\n"
    "\tAzureCliCredential: Azure CLI not found on path\n"
    "\tAzureDeveloperCliCredential: Azure Developer CLI could not be found. Please visit "
    "https://aka.ms/azure-dev and then authenticate using 'azd auth login'.\n"
)


def chain(*attempts: str) -> str:
    body = "".join(f"\t{line}\n" for line in attempts)
    return f"{DAC_HEADER}\nAttempted credentials:\n{body}{UNAVAILABLE_TAIL}To mitigate ..."


def test_the_apim_error_body_yields_its_message() -> None:
    body = '{ "statusCode": 401, "message": "Access denied due to invalid subscription key." }'
    assert gateway_message(body) == "Access denied due to invalid subscription key."


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('{"error": {"code": "NotFound", "message": "No order 7."}}', "No order 7."),
        ('{"title": "Bad Request", "detail": "id must be > 0"}', "id must be > 0"),
        ('{"title": "Conflict"}', "Conflict"),
        (
            "<html>\n <body>502 Bad Gateway</body>\n</html>",
            "<html> <body>502 Bad Gateway</body> </html>",
        ),
        ("", ""),
        ("[1, 2]", "[1, 2]"),
    ],
)
def test_other_error_bodies_fall_back_sensibly_and_stay_on_one_line(
    body: str, message: str
) -> None:
    assert gateway_message(body) == message


def test_a_gateway_error_without_a_message_still_reads_as_a_sentence() -> None:
    assert str(GatewayError(502, "", "")) == "502 from gateway: Bad Gateway."
    assert str(GatewayError(599, "odd", "odd")) == "599 from gateway: HTTP error. odd"


@given(st.text(max_size=2000))
def test_one_line_never_returns_a_line_break_or_more_than_the_limit(text: str) -> None:
    flat = one_line(text, 300)
    assert "\n" not in flat and "\r" not in flat and len(flat) <= 300


def test_an_app_service_refusal_is_reported_instead_of_the_last_credential_tried() -> None:
    detail = chain(
        "ManagedIdentityCredential: App Service managed identity configuration not found in "
        "environment. Token request error: (invalid_scope) 400, AADSTS501051: Application 'x' "
        "is not assigned to a role for the application 'api://y'.",
    )
    error = explain_token_failure("api://y/.default", detail)
    assert error.reason == (
        "the managed identity endpoint answered 400: AADSTS501051: Application 'x' is not "
        "assigned to a role for the application 'api://y'."
    )
    assert "roles through groups do not reach managed identities" in error.hint
    assert "\n" not in str(error)


def test_a_signed_out_developer_is_told_to_sign_in() -> None:
    detail = chain(
        "ManagedIdentityCredential: ManagedIdentityCredential authentication unavailable, no "
        "response from the IMDS endpoint.",
        "AzureCliCredential: Please run 'az login' to set up an account",
    )
    error = explain_token_failure("api://y/.default", detail)
    assert error.reason == "AzureCliCredential: Please run 'az login' to set up an account"
    assert "az login" in error.hint


def test_a_missing_consent_for_a_developer_tool_points_at_pre_authorization() -> None:
    detail = chain(
        "AzureCliCredential: AADSTS65001: The user or administrator has not consented to use "
        "the application with ID '04b07795-8ddb-461a-bbee-02f9e1bf7b46'."
    )
    error = explain_token_failure("api://y/.default", detail)
    assert error.reason.startswith("AzureCliCredential: AADSTS65001")
    assert "pre-authorized" in error.hint


def test_nothing_available_at_all_says_so_with_the_general_hint() -> None:
    error = explain_token_failure("api://y/.default", chain())
    assert error.reason.startswith("no credential was available")
    assert "system-assigned identity" in error.hint

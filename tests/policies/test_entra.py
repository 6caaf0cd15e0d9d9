"""Rules 26-32 (per resource) and 35: app registrations, principals, roles, credentials."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from policies.secure_api_policies import UNKNOWN
from policies.secure_api_policies import entra as rules

CLIENT_ID = "3f2504e0-4f89-41d3-9a0c-0305e82c3301"
ROLE_ID = str(uuid.uuid5(uuid.NAMESPACE_URL, "secure-api-calls/orders/Orders.Read"))

REGISTRATION: dict[str, Any] = {
    "displayName": "orders-api",
    "signInAudience": "AzureADMyOrg",
    "requestedAccessTokenVersion": 2,
    "implicitAccessTokenIssuanceEnabled": False,
    "implicitIdTokenIssuanceEnabled": False,
}
APP_ROLE: dict[str, Any] = {
    "applicationId": "/applications/obj",
    "roleId": ROLE_ID,
    "value": "Orders.Read",
    "displayName": "Read orders",
    "allowedMemberTypes": ["Application"],
}
FEDERATED: dict[str, Any] = {
    "applicationId": "/applications/obj",
    "issuer": "https://token.actions.githubusercontent.com",
    "subject": "repo:contoso/secure-api-calls:environment:prod",
    "audiences": ["api://AzureADTokenExchange"],
}
REG = "ApplicationRegistration 'orders-api'"


def test_any_password_resource_is_a_violation() -> None:
    [message] = rules.no_password_resource({}, "ApplicationPassword 'ci'")
    assert "managed identity" in message
    assert "federated identity credential" in message


def test_a_monolithic_application_with_a_password_block_is_a_violation() -> None:
    assert rules.no_application_password_block({"password": {"displayName": "x"}}, "App 'a'")
    assert rules.no_application_password_block({"displayName": "a"}, "App 'a'") == []


@pytest.mark.parametrize("uri", [f"api://{CLIENT_ID}", "https://api.contoso.com/orders"])
def test_api_client_id_or_https_identifier_uri_passes(uri: str) -> None:
    assert rules.identifier_uri_format({"identifierUri": uri}, "ApplicationIdentifierUri 'u'") == []


@pytest.mark.parametrize("uri", ["api://orders", "http://contoso.com", f"api://{CLIENT_ID}/x", ""])
def test_other_identifier_uris_are_reported(uri: str) -> None:
    [message] = rules.identifier_uri_format({"identifierUri": uri}, "ApplicationIdentifierUri 'u'")
    assert "api://<clientId>" in message


def test_identifier_uri_built_from_the_unknown_client_id_is_left_to_pulumi_up() -> None:
    assert (
        rules.identifier_uri_format({"identifierUri": UNKNOWN}, "ApplicationIdentifierUri 'u'")
        == []
    )


def test_assignment_required_must_be_true() -> None:
    who = "ServicePrincipal 'orders-api'"
    assert rules.assignment_required({"appRoleAssignmentRequired": True}, who) == []
    [message] = rules.assignment_required({"appRoleAssignmentRequired": False}, who)
    assert "app_role_assignment_required=True" in message
    assert rules.assignment_required({}, who)
    unknown = rules.assignment_required({"appRoleAssignmentRequired": UNKNOWN}, who)
    assert "cannot be verified" in unknown[0]


def test_v2_tokens_pass_and_v1_or_unset_is_reported() -> None:
    assert rules.v2_access_tokens(REGISTRATION, REG) == []
    assert rules.v2_access_tokens({**REGISTRATION, "requestedAccessTokenVersion": 2.0}, REG) == []
    assert rules.v2_access_tokens({**REGISTRATION, "requestedAccessTokenVersion": 1}, REG)
    assert rules.v2_access_tokens({"displayName": "x"}, REG)


def test_single_tenant_passes_and_multi_tenant_is_reported() -> None:
    assert rules.single_tenant(REGISTRATION, REG) == []
    assert rules.single_tenant({"displayName": "default is single tenant"}, REG) == []
    [message] = rules.single_tenant({**REGISTRATION, "signInAudience": "AzureADMultipleOrgs"}, REG)
    assert 'sign_in_audience="AzureADMyOrg"' in message
    assert "cannot be verified" in rules.single_tenant({"signInAudience": UNKNOWN}, REG)[0]


def test_implicit_grant_flags_are_reported_one_by_one() -> None:
    assert rules.no_implicit_grant(REGISTRATION, REG) == []
    both = {"implicitAccessTokenIssuanceEnabled": True, "implicitIdTokenIssuanceEnabled": True}
    assert len(rules.no_implicit_grant(both, REG)) == 2
    unknown = rules.no_implicit_grant({"implicitIdTokenIssuanceEnabled": UNKNOWN}, REG)
    assert "cannot be verified" in unknown[0]


def test_a_well_formed_app_role_passes() -> None:
    assert rules.app_role_well_formed(APP_ROLE, "ApplicationAppRole 'read'") == []


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"value": "Orders Read"}, "without spaces"),
        ({"value": ""}, "without spaces"),
        ({"roleId": str(uuid.uuid4())}, "not a uuid5"),
        ({"roleId": "not-a-guid"}, "not a uuid5"),
        ({"allowedMemberTypes": ["Application", "Group"]}, "subset"),
        ({"allowedMemberTypes": []}, "subset"),
        ({"allowedMemberTypes": [{"a": None}]}, "subset"),
        ({"allowedMemberTypes": [["Application"]]}, "subset"),
        ({"roleId": UNKNOWN}, "cannot be verified"),
    ],
)
def test_malformed_app_roles_are_reported(change: dict[str, Any], expected: str) -> None:
    [message] = rules.app_role_well_formed({**APP_ROLE, **change}, "ApplicationAppRole 'read'")
    assert expected in message


def test_a_github_credential_for_one_environment_passes() -> None:
    assert rules.federated_credential_scoped(FEDERATED, "Cred 'ci'", {}) == []


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"subject": "repo:contoso/*:environment:prod"}, "no wildcards"),
        ({"issuer": "https://evil.example.com"}, "allowedIssuers"),
        ({"audiences": ["api://AzureADTokenExchange", "other"]}, "audiences="),
        ({"subject": UNKNOWN}, "cannot be verified"),
    ],
)
def test_loose_federated_credentials_are_reported(change: dict[str, Any], expected: str) -> None:
    [message] = rules.federated_credential_scoped({**FEDERATED, **change}, "Cred 'ci'", {})
    assert expected in message


def test_an_issuer_listed_in_pack_config_is_accepted() -> None:
    gitlab = {**FEDERATED, "issuer": "https://gitlab.com"}
    assert (
        rules.federated_credential_scoped(
            gitlab, "Cred", {"allowedIssuers": ["https://gitlab.com"]}
        )
        == []
    )
    assert rules.federated_credential_scoped(
        gitlab, "Cred", {"allowedIssuers": ["http://gitlab.com"]}
    )

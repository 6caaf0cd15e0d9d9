from __future__ import annotations

import base64
import hashlib
import random

import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from sandbox.rehearsal.emulators.directory import Directory
from sandbox.rehearsal.emulators.forge import claims_of
from sandbox.rehearsal.emulators.issuer import EntraIssuer, SigningKey, TokenRefusedError


def test_a_v2_app_token_has_exactly_the_v2_claims_and_header(fixed_issuer: EntraIssuer, ids):
    token = fixed_issuer.issue_app_token(ids.reader_mi, f"api://{ids.orders}")
    assert claims_of(token) == {
        "aud": ids.orders,
        "iss": f"https://login.microsoftonline.com/{ids.tenant}/v2.0",
        "iat": ids.now,
        "nbf": ids.now,
        "exp": ids.now + 3600,
        "ver": "2.0",
        "tid": ids.tenant,
        "oid": ids.reader_mi,
        "sub": ids.reader_mi,
        "azp": ids.reader_mi_client,
        "azpacr": "2",
        "idtyp": "app",
        "roles": ["Orders.Read"],
    }
    key = fixed_issuer.key
    assert jwt.get_unverified_header(token) == {"alg": "RS256", "typ": "JWT", "kid": key.kid}


def test_a_v1_app_token_has_exactly_the_v1_claims_and_an_x5t_header(fixed_issuer: EntraIssuer, ids):
    token = fixed_issuer.issue_app_token(ids.reader_mi, f"api://{ids.legacy}")
    assert claims_of(token) == {
        "aud": f"api://{ids.legacy}",
        "iss": f"https://sts.windows.net/{ids.tenant}/",
        "iat": ids.now,
        "nbf": ids.now,
        "exp": ids.now + 3600,
        "ver": "1.0",
        "tid": ids.tenant,
        "oid": ids.reader_mi,
        "sub": ids.reader_mi,
        "appid": ids.reader_mi_client,
        "appidacr": "2",
        "idtyp": "app",
        "roles": ["Orders.Read"],
    }
    key = fixed_issuer.key
    header = jwt.get_unverified_header(token)
    assert header == {"alg": "RS256", "typ": "JWT", "kid": key.kid, "x5t": key.x5t}


@pytest.mark.parametrize("form", ["api://{id}", "api://{id}/", "{id}"])
def test_a_v1_audience_echoes_the_resource_as_requested(fixed_issuer: EntraIssuer, ids, form):
    resource = form.format(id=ids.legacy)
    assert claims_of(fixed_issuer.issue_app_token(ids.reader_mi, resource))["aud"] == resource


@pytest.mark.parametrize("form", ["api://{id}", "api://{id}/", "{id}"])
def test_a_v2_audience_is_the_client_id_whatever_form_was_requested(
    fixed_issuer: EntraIssuer, ids, form
):
    token = fixed_issuer.issue_app_token(ids.reader_mi, form.format(id=ids.orders))
    assert claims_of(token)["aud"] == ids.orders


def test_a_managed_identity_holding_a_role_only_through_a_group_gets_a_token_without_roles(
    fixed_issuer: EntraIssuer, ids
):
    claims = claims_of(fixed_issuer.issue_app_token(ids.group_mi, f"api://{ids.orders}"))
    assert "roles" not in claims
    assert claims["azp"] == ids.group_mi_client


def test_an_unassigned_caller_gets_no_token_when_assignment_is_required(
    fixed_issuer: EntraIssuer, ids
):
    with pytest.raises(TokenRefusedError) as refused:
        fixed_issuer.issue_app_token(ids.lonely_mi, f"api://{ids.orders}")
    assert refused.value.code == "AADSTS501051"
    assert refused.value.error == "invalid_grant"
    assert "not assigned to a role" in str(refused.value)


def test_an_unassigned_caller_gets_a_token_without_roles_when_assignment_is_not_required(
    fixed_issuer: EntraIssuer, ids
):
    claims = claims_of(fixed_issuer.issue_app_token(ids.lonely_mi, f"api://{ids.open_api}"))
    assert "roles" not in claims
    assert claims["aud"] == ids.open_api


@pytest.mark.parametrize("resource", ["api://unknown", "api://{id}/.default", "https://graph"])
def test_an_unknown_resource_is_refused_with_aadsts500011(fixed_issuer: EntraIssuer, ids, resource):
    with pytest.raises(TokenRefusedError) as refused:
        fixed_issuer.issue_app_token(ids.reader_mi, resource.format(id=ids.orders))
    assert refused.value.code == "AADSTS500011"
    assert refused.value.error == "invalid_resource"


def test_only_applications_get_app_tokens(fixed_issuer: EntraIssuer, ids):
    for caller in (ids.alice, ids.developers, "not-in-the-directory"):
        with pytest.raises(TokenRefusedError) as refused:
            fixed_issuer.issue_app_token(caller, ids.orders)
        assert refused.value.code == "AADSTS700016"


def test_tokens_of_both_versions_verify_with_pyjwt_against_the_jwks(
    issuer: EntraIssuer, verify, ids
):
    v2 = verify(issuer.issue_app_token(ids.reader_mi, ids.orders), audience=ids.orders)
    v1_audience = f"api://{ids.legacy}"
    v1 = verify(issuer.issue_app_token(ids.reader_mi, v1_audience), audience=v1_audience)
    assert (v2["ver"], v1["ver"]) == ("2.0", "1.0")


def test_the_injected_clock_sets_iat_nbf_and_exp(directory: Directory, signing_key, ids):
    now = [1_000_000.9]
    issuer = EntraIssuer(directory, signing_key, clock=lambda: now[0], lifetime_seconds=600)
    first = claims_of(issuer.issue_app_token(ids.reader_mi, ids.orders))
    now[0] += 42
    second = claims_of(issuer.issue_app_token(ids.reader_mi, ids.orders))
    assert (first["iat"], first["nbf"], first["exp"]) == (1_000_000, 1_000_000, 1_000_600)
    assert (second["iat"], second["nbf"], second["exp"]) == (1_000_042, 1_000_042, 1_000_642)


def test_default_lifetimes_are_random_between_60_and_90_minutes_and_reproducible(
    directory: Directory, signing_key, ids
):
    def lifetimes(seed: int) -> list[int]:
        issuer = EntraIssuer(directory, signing_key, clock=lambda: 0, rng=random.Random(seed))
        return [
            claims_of(issuer.issue_app_token(ids.reader_mi, ids.orders))["exp"] for _ in range(50)
        ]

    values = lifetimes(7)
    assert all(3600 <= v <= 5400 for v in values)
    assert len(set(values)) > 10
    assert values == lifetimes(7)


def test_a_user_token_through_a_pre_authorized_tool_carries_scp_and_group_held_roles(
    fixed_issuer: EntraIssuer, ids
):
    token = fixed_issuer.issue_user_token(ids.alice, ids.azure_cli, f"api://{ids.orders}")
    claims = claims_of(token)
    assert claims["scp"] == "API.Access"
    assert claims["roles"] == ["Orders.Read", "Orders.Write"]
    assert claims["azp"] == ids.azure_cli
    assert claims["azpacr"] == "0"
    assert claims["oid"] == ids.alice
    assert claims["sub"] != ids.alice
    assert claims["preferred_username"] == "alice@contoso.example"
    assert "idtyp" not in claims
    assert claims["aud"] == ids.orders


@pytest.mark.parametrize("scope", [None, ".default", "API.Access", "api://{id}/API.Access"])
def test_a_user_may_ask_for_the_scope_by_name_full_uri_or_default(fixed_issuer, ids, scope):
    requested = scope.format(id=ids.orders) if scope else None
    token = fixed_issuer.issue_user_token(ids.alice, ids.azure_cli, ids.orders, requested)
    assert claims_of(token)["scp"] == "API.Access"


def test_a_user_asking_for_an_unknown_scope_is_refused(fixed_issuer: EntraIssuer, ids):
    with pytest.raises(TokenRefusedError) as refused:
        fixed_issuer.issue_user_token(ids.alice, ids.azure_cli, ids.orders, "Orders.Admin")
    assert refused.value.code == "AADSTS65005"


def test_a_tool_that_is_not_pre_authorized_is_refused_with_aadsts65001(
    fixed_issuer: EntraIssuer, ids
):
    powershell = "1950a258-227b-4e31-a9cf-717495945fc2"
    with pytest.raises(TokenRefusedError) as refused:
        fixed_issuer.issue_user_token(ids.alice, powershell, ids.orders)
    assert refused.value.code == "AADSTS65001"


def test_an_unassigned_user_is_refused_with_aadsts50105(fixed_issuer: EntraIssuer, ids):
    with pytest.raises(TokenRefusedError) as refused:
        fixed_issuer.issue_user_token(ids.bob, ids.azure_cli, ids.orders)
    assert refused.value.code == "AADSTS50105"


def test_only_users_get_user_tokens(fixed_issuer: EntraIssuer, ids):
    with pytest.raises(TokenRefusedError) as refused:
        fixed_issuer.issue_user_token(ids.reader_mi, ids.azure_cli, ids.orders)
    assert refused.value.code == "AADSTS50034"


def test_sign_uses_the_real_key_and_refuses_other_algorithms(issuer: EntraIssuer, verify):
    token = issuer.sign({"exp": 4_000_000_000, "iat": 0, "nbf": 0, "custom": True})
    assert verify(token)["custom"] is True
    with pytest.raises(ValueError, match="RS256"):
        issuer.sign({}, {"alg": "HS256"})


def test_openid_metadata_names_the_issuer_and_keys_of_each_version(issuer: EntraIssuer, ids):
    v1 = issuer.openid_configuration(1, "http://127.0.0.1:9/")
    v2 = issuer.openid_configuration(2, "http://127.0.0.1:9")
    assert v1["issuer"] == f"https://sts.windows.net/{ids.tenant}/"
    assert v1["jwks_uri"] == f"http://127.0.0.1:9/{ids.tenant}/discovery/keys"
    assert v2["issuer"] == f"https://login.microsoftonline.com/{ids.tenant}/v2.0"
    assert v2["jwks_uri"] == f"http://127.0.0.1:9/{ids.tenant}/discovery/v2.0/keys"
    assert v1["id_token_signing_alg_values_supported"] == ["RS256"]


def test_the_jwks_publishes_the_public_key_with_its_certificate_thumbprint(issuer: EntraIssuer):
    (jwk,) = issuer.jwks()["keys"]
    assert {k: jwk[k] for k in ("kty", "use", "kid", "x5t")} == {
        "kty": "RSA",
        "use": "sig",
        "kid": issuer.key.kid,
        "x5t": issuer.key.x5t,
    }
    assert "d" not in jwk and "p" not in jwk  # never the private parts
    der = base64.b64decode(jwk["x5c"][0])
    thumbprint = base64.urlsafe_b64encode(hashlib.sha1(der).digest()).rstrip(b"=").decode()
    assert thumbprint == jwk["x5t"]
    cert_key = x509.load_der_x509_certificate(der).public_key()
    pem = serialization.PublicFormat.SubjectPublicKeyInfo
    assert cert_key.public_bytes(serialization.Encoding.PEM, pem) == issuer.key.public_pem
    assert (
        jwt.PyJWK(jwk).key.public_numbers() == issuer.key.private_key.public_key().public_numbers()
    )


def test_a_chosen_kid_is_published_and_used(directory: Directory, ids):
    issuer = EntraIssuer(directory, SigningKey.generate(kid="rehearsal-key-1"))
    token = issuer.issue_app_token(ids.reader_mi, ids.orders)
    assert jwt.get_unverified_header(token)["kid"] == "rehearsal-key-1"
    assert issuer.jwks()["keys"][0]["kid"] == "rehearsal-key-1"

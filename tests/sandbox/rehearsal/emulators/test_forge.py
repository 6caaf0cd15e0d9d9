from __future__ import annotations

import base64
import hashlib
import hmac
import time

import jwt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sandbox.rehearsal.emulators import forge
from sandbox.rehearsal.emulators.issuer import EntraIssuer


@pytest.fixture
def token(issuer: EntraIssuer, ids) -> str:
    return issuer.issue_app_token(ids.reader_mi, ids.orders)


def _b64decode(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def test_the_genuine_token_verifies(token: str, verify, ids):
    assert verify(token, audience=ids.orders)["roles"] == ["Orders.Read"]


def test_a_flipped_signature_byte_fails_signature_verification(token: str, verify, ids):
    forged = forge.flip_signature_byte(token)
    assert forged.split(".")[:2] == token.split(".")[:2]
    with pytest.raises(jwt.InvalidSignatureError):
        verify(forged, audience=ids.orders)


def test_alg_none_is_refused_as_a_disallowed_algorithm(token: str, verify, ids):
    forged = forge.alg_none(token)
    assert forged.endswith(".")
    assert jwt.get_unverified_header(forged)["alg"] == "none"
    with pytest.raises(jwt.InvalidAlgorithmError):
        verify(forged, audience=ids.orders)


def test_hs256_keyed_with_the_public_key_is_a_real_key_confusion_token_and_is_refused(
    issuer: EntraIssuer, token: str, verify, ids
):
    forged = forge.hs256_with_public_key(token, issuer.key.public_pem)
    header, payload, signature = forged.split(".")
    # The HMAC is genuine: a verifier that trusted the header's alg would accept it.
    expected = hmac.new(issuer.key.public_pem, f"{header}.{payload}".encode(), hashlib.sha256)
    assert _b64decode(signature) == expected.digest()
    assert jwt.get_unverified_header(forged)["alg"] == "HS256"
    with pytest.raises(jwt.InvalidAlgorithmError):
        verify(forged, audience=ids.orders)


def test_a_token_naming_an_unknown_kid_finds_no_key_in_the_jwks(
    issuer: EntraIssuer, token: str, verify
):
    forged = forge.with_unknown_kid(issuer, forge.claims_of(token))
    with pytest.raises(KeyError, match="no key for kid"):
        verify(forged)


def test_a_token_signed_by_a_foreign_key_under_the_real_kid_fails_signature_verification(
    issuer: EntraIssuer, token: str, verify, ids
):
    forged = forge.signed_by_foreign_key(issuer, forge.claims_of(token))
    assert jwt.get_unverified_header(forged)["kid"] == issuer.key.kid
    assert forge.claims_of(forged) == forge.claims_of(token)
    with pytest.raises(jwt.InvalidSignatureError):
        verify(forged, audience=ids.orders)


def test_a_resigned_token_passes_and_carries_the_overrides(issuer: EntraIssuer, token: str, verify):
    claims = verify(
        forge.resign(issuer, token, aud="api://other", extra="x"), audience="api://other"
    )
    assert (claims["aud"], claims["extra"], claims["roles"]) == (
        "api://other",
        "x",
        ["Orders.Read"],
    )


def test_a_resigned_v1_token_keeps_its_x5t_header(issuer: EntraIssuer, ids):
    v1 = issuer.issue_app_token(ids.reader_mi, ids.legacy)
    assert jwt.get_unverified_header(forge.resign(issuer, v1))["x5t"] == issuer.key.x5t


def test_a_resigned_token_fails_for_the_overridden_reason(issuer: EntraIssuer, token, verify, ids):
    expired = forge.resign(issuer, token, exp=int(time.time()) - 10)
    with pytest.raises(jwt.ExpiredSignatureError):
        verify(expired, audience=ids.orders)
    with pytest.raises(jwt.InvalidAudienceError):
        verify(forge.resign(issuer, token, aud=f"api://{ids.orders}/"), audience=ids.orders)
    with pytest.raises(jwt.MissingRequiredClaimError):
        verify(forge.resign(issuer, token, exp=None), audience=ids.orders)
    not_yet = forge.resign(issuer, token, nbf=int(time.time()) + 600)
    with pytest.raises(jwt.ImmatureSignatureError):
        verify(not_yet, audience=ids.orders)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(segment=st.integers(0, 2), position=st.integers(0, 10_000), mask=st.integers(1, 255))
def test_no_single_byte_change_in_any_segment_ever_verifies(
    token: str, verify, ids, segment: int, position: int, mask: int
):
    # Bytes are flipped after base64 decoding: flipping characters could hit padding bits
    # and leave the token unchanged, which would make the property false for a good reason.
    parts = token.split(".")
    raw = bytearray(_b64decode(parts[segment]))
    raw[position % len(raw)] ^= mask
    parts[segment] = base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()
    mutated = ".".join(parts)
    assert mutated != token
    with pytest.raises((jwt.PyJWTError, KeyError, ValueError)):
        verify(mutated, audience=ids.orders)

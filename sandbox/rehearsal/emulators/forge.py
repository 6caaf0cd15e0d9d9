"""Attack tokens for the rehearsal: each one must be refused by a correct gateway.

The helpers build the classic JWT attacks from a genuine token so that everything except
the property under attack looks right (same claims, same kid, plausible header).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from sandbox.rehearsal.emulators.issuer import EntraIssuer

UNKNOWN_KID = "sandbox-unknown-kid"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _segments(token: str) -> tuple[str, str, str]:
    header, payload, signature = token.split(".")
    return header, payload, signature


def _encode_json(value: dict[str, Any]) -> str:
    return _b64url(json.dumps(value, separators=(",", ":")).encode())


def header_of(token: str) -> dict[str, Any]:
    header: dict[str, Any] = jwt.get_unverified_header(token)
    return header


def claims_of(token: str) -> dict[str, Any]:
    """The payload without any verification: forging needs to read, never to trust."""
    claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return claims


def flip_signature_byte(token: str, index: int | None = None) -> str:
    # Flip a decoded byte, not a base64 character: the last character's low bits can be
    # padding that decoders ignore, which would leave the signature unchanged.
    header, payload, signature = _segments(token)
    raw = bytearray(_b64url_decode(signature))
    position = len(raw) // 2 if index is None else index % len(raw)
    raw[position] ^= 0x01
    return f"{header}.{payload}.{_b64url(bytes(raw))}"


def alg_none(token: str) -> str:
    _, payload, _ = _segments(token)
    new_header = header_of(token) | {"alg": "none"}
    return f"{_encode_json(new_header)}.{payload}."


def hs256_with_public_key(token: str, public_pem: bytes) -> str:
    """Key-confusion attack: HMAC keyed with the public PEM. Built with hmac directly because
    PyJWT (rightly) refuses a PEM as an HMAC secret."""
    _, payload, _ = _segments(token)
    header = _encode_json(header_of(token) | {"alg": "HS256"})
    signing_input = f"{header}.{payload}".encode("ascii")
    mac = hmac.new(public_pem, signing_input, hashlib.sha256).digest()
    return f"{header}.{payload}.{_b64url(mac)}"


def with_unknown_kid(issuer: EntraIssuer, claims: dict[str, Any]) -> str:
    """Signed by the real key but naming a key the JWKS does not publish."""
    return issuer.sign(claims, {"kid": UNKNOWN_KID, "x5t": UNKNOWN_KID})


@functools.cache
def _foreign_key() -> rsa.RSAPrivateKey:
    # One per process keeps Hypothesis-driven tests fast; it is never the issuer's key.
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def signed_by_foreign_key(issuer: EntraIssuer, claims: dict[str, Any]) -> str:
    """A perfectly shaped token whose header names the real kid but whose signature comes
    from another key: what an attacker with their own tenant or key pair can produce."""
    headers = {"typ": "JWT", "kid": issuer.key.kid, "x5t": issuer.key.x5t}
    return jwt.encode(claims, _foreign_key(), algorithm="RS256", headers=headers)


def resign(issuer: EntraIssuer, token: str, **claim_overrides: Any) -> str:
    """The token's claims with overrides, signed again with the issuer's real key.

    An override of None removes the claim (e.g. `exp=None` for a token without expiry).
    """
    claims = claims_of(token)
    for name, value in claim_overrides.items():
        if value is None:
            claims.pop(name, None)
        else:
            claims[name] = value
    headers = {k: v for k, v in header_of(token).items() if k != "alg"}
    return issuer.sign(claims, headers)

"""Tokens a deployed gateway must refuse, made without any key Entra holds.

verify has no genuine signing key (that is the point), so every forged token is either
unsigned or signed by a fresh RSA key generated for the run: well-shaped claims (the tenant's
issuer, the API's audience, its roles) that only the signature betrays. With the caller's own
genuine token, two more: a flipped signature byte, and roles written into the payload under
the original signature. Signing is PyJWT's and cryptography's; nothing cryptographic is
hand-made. (The rehearsal has its own forger that works from its emulated issuer's key;
the two stay apart so each tool can change on its own.)
"""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

GARBAGE = "secure-api-calls-verify-this-is-not-a-jwt"
UNKNOWN_KID = "secure-api-calls-verify-unknown-kid"
LIFETIME = 3600
_NAMESPACE = uuid.UUID("8c1f2f55-0d7e-4d7b-9a43-6a4f3b1d2e90")  # verify's made-up principals


def fresh_key() -> rsa.RSAPrivateKey:
    """A key Entra never had: new for every run, never written anywhere."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def made_up_id(*parts: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, "/".join(parts)))


def v2_claims(
    tenant_id: str, issuer: str, audience: str, roles: tuple[str, ...], now: int
) -> dict[str, Any]:
    """An app-only v2 access token's claims, shaped as Entra issues them (access-token claims
    reference: `aud` the API's client ID, `azp` the caller, `idtyp` app, `ver` 2.0)."""
    caller = made_up_id("caller", tenant_id)
    claims: dict[str, Any] = {
        "aud": audience,
        "iss": issuer,
        "iat": now,
        "nbf": now,
        "exp": now + LIFETIME,
        "azp": made_up_id("client", tenant_id),
        "azpacr": "2",
        "idtyp": "app",
        "oid": caller,
        "sub": caller,
        "tid": tenant_id,
        "ver": "2.0",
    }
    if roles:
        claims["roles"] = list(roles)
    return claims


def as_v1(claims: dict[str, Any], tenant_id: str, identifier_uri: str) -> dict[str, Any]:
    """The same caller as a v1 token: sts.windows.net issuer, `appid`, `aud` api://<id>."""
    v1 = {k: v for k, v in claims.items() if k not in ("azp", "azpacr")}
    v1 |= {
        "iss": f"https://sts.windows.net/{tenant_id}/",
        "ver": "1.0",
        "aud": identifier_uri,
        "appid": claims.get("azp"),
        "appidacr": "2",
    }
    return v1


def sign(claims: dict[str, Any], key: rsa.RSAPrivateKey, kid: str) -> str:
    return jwt.encode(claims, key, algorithm="RS256", headers={"typ": "JWT", "kid": kid})


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _json_segment(value: dict[str, Any]) -> str:
    return _b64url(json.dumps(value, separators=(",", ":")).encode())


def unsigned(claims: dict[str, Any], kid: str) -> str:
    """`alg: none` and an empty signature (RFC 7519 §6, the "unsecured JWT")."""
    header = {"typ": "JWT", "alg": "none", "kid": kid}
    return f"{_json_segment(header)}.{_json_segment(claims)}."


def claims_of(token: str) -> dict[str, Any]:
    """The payload, unverified: forging reads claims, it never trusts them."""
    claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return claims


def flip_signature_byte(token: str) -> str:
    # Flip a decoded byte, not a base64 character: the last character's low bits can be
    # padding that decoders ignore, which would leave the signature unchanged.
    header, payload, signature = token.split(".")
    raw = bytearray(_b64url_decode(signature))
    raw[len(raw) // 2] ^= 0x01
    return f"{header}.{payload}.{_b64url(bytes(raw))}"


def with_claims(token: str, **changes: Any) -> str:
    """The token's header and signature around an edited payload (never the same payload:
    an edit that changes nothing would be a genuine token, accepted, and prove nothing)."""
    header, _, signature = token.split(".")
    claims = claims_of(token)
    if claims | changes == claims:
        raise ValueError("the edit leaves the payload as it was")
    return f"{header}.{_json_segment(claims | changes)}.{signature}"

"""`validate-azure-ad-token`, executed: real RS256 verification with PyJWT, then the claims.

Pure apart from the key source, which is injected: `StaticKeys` here (a JWKS given
directly), `OpenIdKeys` in `gateway.py` (fetched from the emulated Entra's OpenID metadata).
The time is a number handed in by the caller, so an injected clock reaches every check.

Where Microsoft does not document a behaviour the emulator takes the strict reading; each
such place says `[choice]` and is listed in the rehearsal docs.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import jwt
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

from components.gateway_policy import Claim, ValidateAzureAdToken

JWT_NOT_PRESENT = "JWT not present."  # [doc] the documented default for a missing token
# [choice] APIM's other default messages are not documented byte for byte; one stands for all.
INVALID_JWT = "Invalid JWT."

_BEARER = re.compile(r"(?i:bearer) +([^ ]+)")
_SEGMENT = re.compile(r"[A-Za-z0-9_-]*")


class KeySource(Protocol):
    def keys(self, tenant_id: str) -> Mapping[str, RSAPublicKey]:
        """Signing keys by `kid` for the tenant (Entra publishes the same keys for all)."""
        ...


def rsa_keys_from_jwks(jwks: Mapping[str, Any]) -> dict[str, RSAPublicKey]:
    """RSA signature keys of a JWKS by kid; anything else in the set is ignored."""
    found: dict[str, RSAPublicKey] = {}
    for entry in jwks.get("keys", []):
        if entry.get("kty") != "RSA" or entry.get("use", "sig") != "sig" or not entry.get("kid"):
            continue
        key = jwt.PyJWK.from_dict(dict(entry), algorithm="RS256").key
        if isinstance(key, RSAPublicKey):
            found[str(entry["kid"])] = key
    return found


class StaticKeys:
    """A JWKS handed over directly (tests, or an issuer living in the same process)."""

    def __init__(self, jwks: Mapping[str, Any]) -> None:
        self._keys = rsa_keys_from_jwks(jwks)

    def keys(self, tenant_id: str) -> Mapping[str, RSAPublicKey]:
        return self._keys


@dataclass(frozen=True)
class TokenVerdict:
    ok: bool
    reason: str  # for logs and tests; never sent to the caller
    claims: Mapping[str, Any] | None = None


def _fail(reason: str) -> TokenVerdict:
    return TokenVerdict(False, reason)


def _canonical_b64url(segment: str) -> bytes | None:
    """Decode a JWS segment, refusing any text that is not the one canonical encoding.

    [choice] Python's decoder ignores the unused low bits of the last character, so a
    token with a flipped final character would otherwise verify; a strict gateway must not
    accept two spellings of one signature.
    """
    if not _SEGMENT.fullmatch(segment) or len(segment) % 4 == 1:
        return None
    try:
        raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except (binascii.Error, ValueError):
        return None
    if base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii") != segment:
        return None
    return raw


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def issuers(tenant_id: str) -> tuple[str, str]:
    # [choice] Both Entra issuer forms for the configured tenant; GUIDs compared lower-case.
    tenant = tenant_id.lower()
    return (
        f"https://sts.windows.net/{tenant}/",
        f"https://login.microsoftonline.com/{tenant}/v2.0",
    )


def _claim_values(value: Any, separator: str | None) -> list[str] | None:
    """A claim's values: each element of a JSON array (`roles`), or a string split by the
    separator (or whole). [choice] Numbers, booleans and objects match nothing."""
    if isinstance(value, list):
        return [item for item in value if isinstance(item, str)]
    if isinstance(value, str):
        return value.split(separator) if separator else [value]
    return None


def _claims_satisfied(required: Sequence[Claim], claims: Mapping[str, Any]) -> str | None:
    for claim in required:
        values = _claim_values(claims.get(claim.name), claim.separator)
        if values is None:
            return f"claim {claim.name!r} missing"
        present = [wanted in values for wanted in claim.values]
        if not (all(present) if claim.match == "all" else any(present)):
            return f"claim {claim.name!r} lacks {claim.match} of {list(claim.values)}"
    return None


def _header_and_key(
    token: str, statement: ValidateAzureAdToken, keys: KeySource
) -> tuple[RSAPublicKey | None, str]:
    segments = token.split(".")
    if len(segments) != 3:
        return None, "not a JWS compact serialization"
    try:
        header = json.loads(_canonical_b64url(segments[0]) or b"")
    except (ValueError, RecursionError):
        return None, "header is not base64url JSON"
    if not isinstance(header, dict):
        return None, "header is not an object"
    if header.get("alg") != "RS256":
        return None, f"alg {header.get('alg')!r} refused (RS256 only)"
    if not segments[2] or any(_canonical_b64url(part) is None for part in segments[1:]):
        return None, "payload or signature is not canonical base64url"
    if "crit" in header:
        return None, "critical header extensions are not supported"
    kid = header.get("kid")
    if not isinstance(kid, str):
        return None, "no kid"  # [choice] Entra always sends kid; x5t alone is not looked up
    key = keys.keys(statement.tenant_id).get(kid)
    if key is None:
        return None, f"unknown kid {kid!r}"
    return key, ""


def validate_token(
    statement: ValidateAzureAdToken, header_values: Sequence[str], keys: KeySource, now: float
) -> TokenVerdict:
    """Run one validate-azure-ad-token against the values of its header."""
    if not header_values:
        return _fail(JWT_NOT_PRESENT)
    if len(header_values) > 1:
        return _fail(f"{statement.header_name} sent {len(header_values)} times")
    match = _BEARER.fullmatch(header_values[0])
    if match is None:
        return _fail("not a Bearer credential")
    token = match.group(1)
    key, problem = _header_and_key(token, statement, keys)
    if key is None:
        return _fail(problem)
    try:
        # Signature only; every claim check below uses the injected time and exact rules.
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=["RS256"],
            options={
                "verify_signature": True,
                "verify_exp": False,
                "verify_nbf": False,
                "verify_iat": False,
                "verify_aud": False,
                "verify_iss": False,
            },
        )
    except (jwt.PyJWTError, ValueError, RecursionError) as error:
        return _fail(f"signature or payload rejected: {error}")
    return _check_claims(statement, claims, now)


def _check_claims(
    statement: ValidateAzureAdToken, claims: Mapping[str, Any], now: float
) -> TokenVerdict:
    expires = _number(claims.get("exp"))
    if expires is None:
        return _fail("no numeric exp")  # [choice] expiry required, as validate-jwt's default
    if now >= expires:  # [choice] 0 s clock skew
        return _fail("expired")
    if "nbf" in claims:
        not_before = _number(claims["nbf"])
        if not_before is None or now < not_before:
            return _fail("not yet valid")
    if claims.get("iss") not in issuers(statement.tenant_id):
        return _fail(f"issuer {claims.get('iss')!r} is not the tenant's")
    audience = claims.get("aud")
    # [choice] RFC 7519: aud may be an array; exact string equality, no normalisation.
    audiences = audience if isinstance(audience, list) else [audience]
    if not any(isinstance(a, str) and a in statement.audiences for a in audiences):
        return _fail(f"audience {audience!r} not accepted")
    if statement.client_application_ids:
        # [choice] azp (v2) if present, else appid (v1).
        client = claims.get("azp", claims.get("appid"))
        wanted = {c.lower() for c in statement.client_application_ids}
        if not isinstance(client, str) or client.lower() not in wanted:
            return _fail(f"client application {client!r} not accepted")
    problem = _claims_satisfied(statement.required_claims, claims)
    if problem:
        return _fail(problem)
    return TokenVerdict(True, "valid", claims)

"""Entra's token service as a pure function of (directory, key, clock): no HTTP here.

Token shapes follow Microsoft's access-token claims reference: the *API's* registration picks
v1 or v2, `roles` appears only when non-empty, app-only tokens carry `idtyp: "app"`.
Signing and key encoding are PyJWT's and cryptography's; nothing cryptographic is hand-made.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import random
import time
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from sandbox.rehearsal.emulators.directory import ApiApp, Directory, Principal

TokenVersion = Literal[1, 2]
_APP_KINDS = ("ManagedIdentity", "ServicePrincipal")


class Clock(Protocol):
    def __call__(self) -> float: ...


class TokenRefusedError(Exception):
    """Entra said no. `code` is the AADSTS number, `error` the OAuth error code."""

    def __init__(self, code: str, message: str, error: str = "invalid_request") -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.error = error


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


@dataclass(frozen=True)
class SigningKey:
    """An RSA key with a self-signed certificate, published the way Entra publishes keys:
    `x5t` is the certificate's SHA-1 thumbprint and `kid` defaults to the same value."""

    private_key: rsa.RSAPrivateKey
    certificate: x509.Certificate
    kid: str
    x5t: str

    @classmethod
    def generate(cls, kid: str | None = None) -> SigningKey:
        private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sandbox-entra-signing")])
        # Fixed validity so injected clocks anywhere in 2000-2099 never meet an expired cert.
        certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(private_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC))
            .not_valid_after(datetime.datetime(2099, 12, 31, tzinfo=datetime.UTC))
            .sign(private_key, hashes.SHA256())
        )
        der = certificate.public_bytes(serialization.Encoding.DER)
        # JOSE defines x5t as a SHA-1 thumbprint: an identifier, not a security check.
        x5t = _b64url(hashlib.sha1(der, usedforsecurity=False).digest())
        return cls(private_key, certificate, kid or x5t, x5t)

    @property
    def public_pem(self) -> bytes:
        return self.private_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def public_jwk(self) -> dict[str, Any]:
        jwk: dict[str, Any] = jwt.algorithms.RSAAlgorithm.to_jwk(
            self.private_key.public_key(), as_dict=True
        )
        der = self.certificate.public_bytes(serialization.Encoding.DER)
        # x5c is standard base64 (not base64url), as in Entra's JWKS.
        x5c = base64.b64encode(der).decode("ascii")
        return {
            "kty": "RSA",
            "use": "sig",
            "kid": self.kid,
            "x5t": self.x5t,
            "n": jwk["n"],
            "e": jwk["e"],
            "x5c": [x5c],
        }


def _pairwise_sub(user_object_id: str, app_client_id: str) -> str:
    # User tokens carry a per-(user, app) subject, not the object ID; deterministic here.
    return _b64url(hashlib.sha256(f"{user_object_id}|{app_client_id}".encode()).digest())


class EntraIssuer:
    def __init__(
        self,
        directory: Directory,
        key: SigningKey,
        clock: Clock = time.time,
        lifetime_seconds: int | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.directory = directory
        self.key = key
        self.clock = clock
        self.lifetime_seconds = lifetime_seconds
        # Seeded so a rehearsal is reproducible; Entra picks 60-90 minutes at random.
        self._rng = rng or random.Random(0)  # nosec B311: lifetime jitter, not a secret

    @property
    def tenant_id(self) -> str:
        return self.directory.tenant_id

    def issuer_url(self, version: TokenVersion) -> str:
        if version == 1:
            return f"https://sts.windows.net/{self.tenant_id}/"
        return f"https://login.microsoftonline.com/{self.tenant_id}/v2.0"

    def openid_configuration(self, version: TokenVersion, base_url: str) -> dict[str, Any]:
        base = f"{base_url.rstrip('/')}/{self.tenant_id}"
        oauth = f"{base}/oauth2" if version == 1 else f"{base}/oauth2/v2.0"
        keys = f"{base}/discovery/keys" if version == 1 else f"{base}/discovery/v2.0/keys"
        return {
            "issuer": self.issuer_url(version),
            "authorization_endpoint": f"{oauth}/authorize",
            "token_endpoint": f"{oauth}/token",
            "jwks_uri": keys,
            "response_types_supported": ["code", "id_token", "code id_token", "token id_token"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt"],
            "tenant_region_scope": "EU",
            "cloud_instance_name": "microsoftonline.com",
        }

    def jwks(self) -> dict[str, Any]:
        return {"keys": [self.key.public_jwk()]}

    def sign(self, claims: dict[str, Any], headers: dict[str, Any] | None = None) -> str:
        """RS256 with the issuer's real key. Scenario code uses this to craft tokens that are
        well signed but wrong in content (audience, expiry, tenant...)."""
        merged: dict[str, Any] = {"typ": "JWT", "kid": self.key.kid, **(headers or {})}
        if merged.pop("alg", "RS256") != "RS256":
            raise ValueError(
                "sign() only makes RS256 tokens; see sandbox.rehearsal.emulators.forge"
            )
        return jwt.encode(claims, self.key.private_key, algorithm="RS256", headers=merged)

    def _times(self) -> dict[str, int]:
        now = int(self.clock())
        lifetime = self.lifetime_seconds
        if lifetime is None:
            lifetime = self._rng.randint(60 * 60, 90 * 60)
        return {"iat": now, "nbf": now, "exp": now + lifetime}

    def _headers(self, version: TokenVersion) -> dict[str, Any]:
        return {"x5t": self.key.x5t} if version == 1 else {}

    def _app_for(self, resource: str) -> ApiApp:
        app = self.directory.app_for_resource(resource)
        if app is None:
            raise TokenRefusedError(
                "AADSTS500011",
                f"The resource principal named {resource} was not found in the tenant named "
                f"{self.tenant_id}. This can happen if the application has not been installed "
                "by the administrator of the tenant or consented to by any user in the tenant. "
                "You might have sent your authentication request to the wrong tenant.",
                "invalid_resource",
            )
        return app

    def _base_claims(self, app: ApiApp, resource: str) -> dict[str, Any]:
        version = app.token_version
        # v2 always names the API by client ID; v1 echoes whatever form the caller asked for.
        audience = app.client_id if version == 2 else resource
        return {
            "aud": audience,
            "iss": self.issuer_url(version),
            **self._times(),
            "ver": "1.0" if version == 1 else "2.0",
            "tid": self.tenant_id,
        }

    def issue_app_token(self, principal_object_id: str, resource: str) -> str:
        """Client-credentials / managed-identity token for `resource`."""
        caller = self.directory.principal(principal_object_id)
        if caller is None or caller.kind not in _APP_KINDS or not caller.client_id:
            raise TokenRefusedError(
                "AADSTS700016",
                f"Application with identifier '{principal_object_id}' was not found in the "
                f"directory '{self.tenant_id}'.",
                "unauthorized_client",
            )
        app = self._app_for(resource)
        if app.assignment_required and not self.directory.is_assigned(caller.object_id, app):
            raise TokenRefusedError(
                "AADSTS501051",
                f"Application '{caller.client_id}'({caller.name}) is not assigned to a role "
                f"for the application '{resource}'({app.name}).",
                "invalid_grant",
            )
        claims = self._base_claims(app, resource)
        client_claim = "appid" if app.token_version == 1 else "azp"
        claims |= {
            "oid": caller.object_id,
            "sub": caller.object_id,  # app-only tokens: sub is the caller's object ID
            client_claim: caller.client_id,
            f"{client_claim}acr": "2",  # certificate / managed identity credential
            "idtyp": "app",
        }
        roles = self.directory.direct_roles(caller.object_id, app)
        if roles:
            claims["roles"] = list(roles)
        return self.sign(claims, self._headers(app.token_version))

    def issue_user_token(
        self, user_object_id: str, client_id: str, resource: str, scope: str | None = None
    ) -> str:
        """Delegated token for a signed-in user through a developer tool (`client_id`).

        `scope` is space separated; each entry is the API's scope name, optionally prefixed
        by the resource, or `.default`. None means `.default`: every pre-authorized scope.
        """
        user = self.directory.principal(user_object_id)
        if user is None or user.kind != "User":
            raise TokenRefusedError(
                "AADSTS50034",
                f"The user account {user_object_id} does not exist in the {self.tenant_id} "
                "directory.",
                "invalid_grant",
            )
        app = self._app_for(resource)
        self._check_scope(app, resource, scope)
        if client_id.lower() not in (c.lower() for c in app.pre_authorized):
            raise TokenRefusedError(
                "AADSTS65001",
                f"The user or administrator has not consented to use the application with ID "
                f"'{client_id}'. Send an interactive authorization request for this user and "
                "resource.",
                "invalid_grant",
            )
        if app.assignment_required and not self.directory.is_assigned(user.object_id, app):
            raise TokenRefusedError(
                "AADSTS50105",
                f"Your administrator has configured the application {app.name} "
                f"('{app.client_id}') to block users unless they are specifically granted "
                f"('assigned') access to the application. The signed in user "
                f"'{user.upn or user.name}' is blocked because they are not a direct member of "
                "a group with access, nor had access directly assigned by an administrator.",
                "invalid_grant",
            )
        return self.sign(
            self._user_claims(user, app, client_id, resource), self._headers(app.token_version)
        )

    def _check_scope(self, app: ApiApp, resource: str, scope: str | None) -> None:
        prefixes = (f"{resource.rstrip('/')}/", f"{app.identifier_uri.rstrip('/')}/")
        for entry in (scope or ".default").split():
            name = next((entry[len(p) :] for p in prefixes if entry.startswith(p)), entry)
            if name not in (".default", app.scope):
                raise TokenRefusedError(
                    "AADSTS65005",
                    f"The application asked for scope '{entry}' that doesn't exist on the "
                    f"resource '{app.client_id}'.",
                    "invalid_scope",
                )

    def _user_claims(
        self, user: Principal, app: ApiApp, client_id: str, resource: str
    ) -> dict[str, Any]:
        claims = self._base_claims(app, resource)
        v1 = app.token_version == 1
        client_claim = "appid" if v1 else "azp"
        claims |= {
            "oid": user.object_id,
            "sub": _pairwise_sub(user.object_id, app.client_id),
            client_claim: client_id,
            f"{client_claim}acr": "0",  # public client: the developer tools have no secret
            "scp": app.scope,
            "name": user.name,
        }
        if user.upn:
            claims["upn" if v1 else "preferred_username"] = user.upn
        roles = self.directory.direct_roles(user.object_id, app)
        if roles:
            claims["roles"] = list(roles)
        return claims

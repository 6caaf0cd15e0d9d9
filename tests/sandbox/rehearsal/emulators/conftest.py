"""A small tenant shared by the emulator tests: two APIs (v2 and v1), an open API, managed
identities with direct, group-only and no assignments, users, and a developer group."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import jwt
import pytest

from sandbox.rehearsal.emulators.directory import (
    DEFAULT_ACCESS_ROLE_ID,
    ApiApp,
    Assignment,
    Directory,
    Principal,
)
from sandbox.rehearsal.emulators.issuer import EntraIssuer, SigningKey

AZURE_CLI = "04b07795-8ddb-461a-bbee-02f9e1bf7b46"
NOW = 1_750_000_000


def _id(name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"sandbox-test/{name}"))


class Ids:
    now = NOW
    azure_cli = AZURE_CLI
    tenant = _id("tenant")
    orders = _id("orders-app")  # v2 API, assignment required
    orders_sp = _id("orders-sp")
    legacy = _id("legacy-app")  # v1 API, assignment required
    legacy_sp = _id("legacy-sp")
    open_api = _id("open-app")  # v2 API, assignment not required
    open_sp = _id("open-sp")
    read_role = _id("role-read")
    write_role = _id("role-write")
    reader_mi = _id("reader-mi")  # Orders.Read directly on both APIs
    reader_mi_client = _id("reader-mi-client")
    group_mi = _id("group-mi")  # Orders.Write only through the group
    group_mi_client = _id("group-mi-client")
    lonely_mi = _id("lonely-mi")  # no assignments
    lonely_mi_client = _id("lonely-mi-client")
    alice = _id("alice")  # user: Orders.Read directly, Orders.Write through the group
    bob = _id("bob")  # user: nothing
    developers = _id("developers")


@pytest.fixture(scope="session")
def ids() -> type[Ids]:
    return Ids


@pytest.fixture(scope="session")
def directory() -> Directory:
    roles = {"Orders.Read": Ids.read_role, "Orders.Write": Ids.write_role}
    return Directory(
        tenant_id=Ids.tenant,
        apps=(
            ApiApp(
                Ids.orders, Ids.orders_sp, "orders-api", roles=roles, pre_authorized=(AZURE_CLI,)
            ),
            ApiApp(Ids.legacy, Ids.legacy_sp, "legacy-api", token_version=1, roles=roles),
            ApiApp(Ids.open_api, Ids.open_sp, "open-api", roles=roles, assignment_required=False),
        ),
        principals=(
            Principal(Ids.reader_mi, Ids.reader_mi_client, "reader-app", "ManagedIdentity"),
            Principal(Ids.group_mi, Ids.group_mi_client, "group-app", "ManagedIdentity"),
            Principal(Ids.lonely_mi, Ids.lonely_mi_client, "lonely-app", "ManagedIdentity"),
            Principal(Ids.alice, None, "Alice", "User", upn="alice@contoso.example"),
            Principal(Ids.bob, None, "Bob", "User", upn="bob@contoso.example"),
            Principal(Ids.developers, None, "developers", "Group"),
        ),
        assignments=(
            Assignment(Ids.reader_mi, Ids.orders_sp, Ids.read_role),
            Assignment(Ids.reader_mi, Ids.legacy_sp, Ids.read_role),
            Assignment(Ids.developers, Ids.orders_sp, Ids.write_role),
            Assignment(Ids.alice, Ids.orders_sp, Ids.read_role),
            Assignment(Ids.alice, Ids.legacy_sp, DEFAULT_ACCESS_ROLE_ID),
        ),
        group_members={Ids.developers: (Ids.group_mi, Ids.alice)},
    )


@pytest.fixture(scope="session")
def signing_key() -> SigningKey:
    # RSA generation costs ~0.1 s; one key serves the whole session.
    return SigningKey.generate()


@pytest.fixture
def fixed_issuer(directory: Directory, signing_key: SigningKey) -> EntraIssuer:
    """Frozen in the past with a known lifetime: claims can be compared exactly."""
    return EntraIssuer(directory, signing_key, clock=lambda: NOW + 0.75, lifetime_seconds=3600)


@pytest.fixture
def issuer(directory: Directory, signing_key: SigningKey) -> EntraIssuer:
    """Real time: its tokens pass PyJWT's expiry checks."""
    return EntraIssuer(directory, signing_key)


Verify = Callable[..., dict[str, Any]]


@pytest.fixture
def verify(issuer: EntraIssuer) -> Verify:
    """Verify the way a gateway does: pick the JWKS key by the header's kid, RS256 only."""
    keys = jwt.PyJWKSet.from_dict(issuer.jwks())

    def _verify(token: str, audience: str | None = None) -> dict[str, Any]:
        key = keys[jwt.get_unverified_header(token)["kid"]].key
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=["RS256"],
            audience=audience,
            options={"require": ["exp", "iat", "nbf"], "verify_aud": audience is not None},
        )
        return claims

    return _verify

"""validate-azure-ad-token as the rehearsal gateway executes it (gateway_token.py): real RS256
verification, then issuer, lifetime, audience, client and claims, with an injected time."""

from __future__ import annotations

import base64
import json

import jwt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from components.gateway_policy import Claim, ValidateAzureAdToken
from sandbox.rehearsal.emulators import forge
from sandbox.rehearsal.emulators.gateway_token import (
    INVALID_JWT,
    JWT_NOT_PRESENT,
    StaticKeys,
    TokenVerdict,
    validate_token,
)
from sandbox.rehearsal.emulators.issuer import SigningKey
from tests.sandbox.rehearsal.emulators.gateway_helpers import (
    NOW,
    ORDERS,
    READER,
    READER_CLIENT,
    TENANT,
    WRITER,
    WRITER_CLIENT,
    Backend,
    api_policy,
    gateway,
    issuer,
    message,
    plan,
    request,
    token,
)

KEYS = StaticKeys(issuer().jwks())


def policy(**changes) -> ValidateAzureAdToken:
    base = {
        "tenant_id": TENANT,
        "header_name": "Authorization",
        "failed_validation_httpcode": 401,
        "failed_validation_error_message": "no",
        "audiences": (ORDERS,),
        "client_application_ids": (),
        "required_claims": (),
    }
    return ValidateAzureAdToken(**(base | changes))


def check(
    bearer: str | None, statement: ValidateAzureAdToken | None = None, now: float = NOW + 10
) -> TokenVerdict:
    values = [] if bearer is None else [f"Bearer {bearer}"]
    return validate_token(statement or policy(), values, KEYS, now)


def reason(bearer: str | None, **changes) -> str:
    verdict = check(bearer, policy(**changes) if changes else None)
    assert not verdict.ok
    return verdict.reason


def test_a_genuine_v2_token_is_valid():
    assert check(token()).ok


def test_both_entra_issuers_of_the_configured_tenant_are_accepted_case_insensitively():
    v1 = forge.resign(issuer(), token(), iss=f"https://sts.windows.net/{TENANT}/")
    assert check(v1).ok
    assert check(token(), policy(tenant_id=TENANT.upper())).ok


@pytest.mark.parametrize(
    "iss",
    [
        "https://login.microsoftonline.com/00000000-0000-0000-0000-000000000001/v2.0",
        f"https://login.microsoftonline.com/{TENANT}/v2.0/",
        f"https://sts.windows.net/{TENANT}",
        f"https://login.microsoftonline.com/{TENANT}",
    ],
)
def test_any_other_issuer_is_refused(iss):
    assert "issuer" in reason(forge.resign(issuer(), token(), iss=iss))


def test_the_header_must_carry_exactly_one_bearer_credential():
    assert reason(None) == JWT_NOT_PRESENT
    assert "not a Bearer" in validate_token(policy(), [token()], KEYS, NOW).reason
    assert "not a Bearer" in validate_token(policy(), [f"Basic {token()}"], KEYS, NOW).reason
    assert validate_token(policy(), [f"bearer {token()}"], KEYS, NOW + 1).ok  # RFC 9110
    twice = validate_token(policy(), [f"Bearer {token()}"] * 2, KEYS, NOW + 1)
    assert "2 times" in twice.reason


@pytest.mark.parametrize(
    ("attack", "expected"),
    [
        (forge.alg_none, "alg 'none' refused"),
        (lambda t: forge.hs256_with_public_key(t, issuer().key.public_pem), "alg 'HS256'"),
        (lambda t: forge.with_unknown_kid(issuer(), forge.claims_of(t)), "unknown kid"),
        (lambda t: forge.signed_by_foreign_key(issuer(), forge.claims_of(t)), "signature"),
        (forge.flip_signature_byte, "signature"),
        (lambda t: t.rsplit(".", 1)[0] + ".", "canonical"),
        (lambda t: ".".join(t.split(".")[:2]), "compact"),
    ],
)
def test_signature_attacks_are_refused(attack, expected):
    assert expected in reason(attack(token()))


def test_a_token_without_kid_or_with_crit_is_refused():
    claims = forge.claims_of(token())
    key = issuer().key.private_key
    no_kid = jwt.encode(claims, key, algorithm="RS256", headers={"typ": "JWT"})
    assert reason(no_kid) == "no kid"
    crit = issuer().sign(claims, {"crit": ["exp"]})
    assert "critical" in reason(crit)


def test_a_key_the_jwks_does_not_publish_is_unknown_even_with_the_same_kid_shape():
    other = SigningKey.generate(kid=issuer().key.kid)
    assert not validate_token(
        policy(), [f"Bearer {token()}"], StaticKeys({"keys": [other.public_jwk()]}), NOW
    ).ok


def test_a_non_canonical_signature_encoding_is_refused():
    header, payload, signature = token().split(".")
    # 256 bytes encode to 342 characters; the last one carries 4 unused bits.
    last = signature[-1]
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    sibling = alphabet[alphabet.index(last) ^ 1]
    twin = f"{header}.{payload}.{signature[:-1]}{sibling}"
    assert base64.urlsafe_b64decode(twin.split(".")[2] + "==") == base64.urlsafe_b64decode(
        signature + "=="
    )
    assert "canonical" in reason(twin)


def test_lifetime_has_no_skew():
    genuine = token()
    exp = forge.claims_of(genuine)["exp"]
    assert check(genuine, now=exp - 1).ok
    assert check(genuine, now=exp).reason == "expired"
    assert check(genuine, now=NOW - 1).reason == "not yet valid"
    assert check(genuine, now=NOW).ok
    assert reason(forge.resign(issuer(), genuine, exp=None)) == "no numeric exp"
    assert reason(forge.resign(issuer(), genuine, exp=str(exp))) == "no numeric exp"
    assert reason(forge.resign(issuer(), genuine, nbf="soon")) == "not yet valid"


@pytest.mark.parametrize("aud", [f"api://{ORDERS}", f"{ORDERS}/", ORDERS.upper(), " " + ORDERS])
def test_the_audience_is_an_exact_string(aud):
    assert "audience" in reason(forge.resign(issuer(), token(), aud=aud))


def test_an_audience_array_passes_when_one_element_matches():
    assert check(forge.resign(issuer(), token(), aud=["x", ORDERS])).ok
    assert not check(forge.resign(issuer(), token(), aud=["x", "y"])).ok


def test_client_application_ids_check_azp_then_appid():
    client = forge.claims_of(token())["azp"]
    assert check(token(), policy(client_application_ids=(client,))).ok
    assert "client application" in reason(token(), client_application_ids=("someone",))
    v1 = forge.resign(issuer(), token(), azp=None, appid=client)
    assert check(v1, policy(client_application_ids=(client.upper(),))).ok


@pytest.mark.parametrize(
    ("claim", "principal", "ok"),
    [
        (Claim("roles", "any", None, ("Orders.Write", "Orders.Read")), READER, True),
        (Claim("roles", "all", None, ("Orders.Write", "Orders.Read")), READER, False),
        (Claim("roles", "all", None, ("Orders.Write", "Orders.Read")), WRITER, True),
        (Claim("roles", "any", None, ("Orders.Write",)), READER, False),
        (Claim("ver", "all", None, ("2.0",)), READER, True),
        (Claim("ver", "all", None, ("1.0",)), READER, False),
        (Claim("idtyp", "all", " ", ("app",)), READER, True),
        (Claim("scp", "any", None, ("API.Access",)), READER, False),  # absent claim
    ],
)
def test_required_claims_all_and_any(claim, principal, ok):
    assert check(token(principal), policy(required_claims=(claim,))).ok is ok


def test_a_separator_splits_string_claims_and_non_strings_match_nothing():
    scp = forge.resign(issuer(), token(), scp="API.Access Other.Scope")
    wanted = Claim("scp", "all", " ", ("Other.Scope", "API.Access"))
    assert check(scp, policy(required_claims=(wanted,))).ok
    whole = Claim("scp", "any", None, ("API.Access",))
    assert not check(scp, policy(required_claims=(whole,))).ok
    numeric = forge.resign(issuer(), token(), ver=2.0)
    assert not check(numeric, policy(required_claims=(Claim("ver", "all", None, ("2.0",)),))).ok
    as_string = forge.resign(issuer(), token(), roles="Orders.Read")
    roles = Claim("roles", "any", None, ("Orders.Read",))
    assert check(as_string, policy(required_claims=(roles,))).ok


def test_failures_answer_the_configured_code_and_message_or_apims_defaults():
    custom = api_policy().replace(
        'failed-validation-httpcode="401"', 'failed-validation-httpcode="418"'
    )
    # list-orders without a policy of its own: the API scope's validation answers.
    answer = gateway(plan(api=custom, **{"list-orders": ""})).handle(request(), Backend())
    assert answer.status == 418
    assert message(answer) == "Unauthorized. Access token is missing or invalid."
    bare = custom.replace(
        ' failed-validation-error-message="Unauthorized. Access token is missing or invalid."', ""
    )
    world = plan(api=bare, **{"list-orders": ""})
    assert message(gateway(world).handle(request(), Backend())) == JWT_NOT_PRESENT
    bad = gateway(world).handle(request(bearer="x.y.z"), Backend())
    assert message(bad) == INVALID_JWT


# --- Hypothesis: no mutation of a genuine token gets through ----------------------------------

GENUINE = token(WRITER)
ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_."
GATEWAY = gateway()


def _answer(bearer: str) -> int:
    return GATEWAY.handle(request("POST", bearer=bearer), Backend()).status


def test_the_genuine_token_itself_passes():
    assert _answer(GENUINE) == 200


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(position=st.integers(0, len(GENUINE) - 1), replacement=st.sampled_from(ALPHABET))
def test_changing_any_character_of_the_token_never_gets_a_200(position, replacement):
    if GENUINE[position] == replacement:
        replacement = "A" if replacement != "A" else "B"
    mutated = GENUINE[:position] + replacement + GENUINE[position + 1 :]
    assert _answer(mutated) != 200


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@settings(max_examples=300, deadline=None)
@given(segment=st.integers(0, 2), index=st.integers(0, 10_000), bit=st.integers(0, 7))
def test_flipping_any_bit_of_header_payload_or_signature_never_gets_a_200(segment, index, bit):
    parts = GENUINE.split(".")
    raw = bytearray(base64.urlsafe_b64decode(parts[segment] + "=" * (-len(parts[segment]) % 4)))
    raw[index % len(raw)] ^= 1 << bit
    parts[segment] = _b64(bytes(raw))
    assert _answer(".".join(parts)) != 200


def _opens_create_order(claims: dict) -> bool:
    """The oracle: what the policies promise for POST /orders (API scope, then operation)."""

    def number(value) -> bool:
        return isinstance(value, int | float) and not isinstance(value, bool)

    aud, roles = claims.get("aud"), claims.get("roles")
    audiences = aud if isinstance(aud, list) else [aud]
    role_values = roles if isinstance(roles, list) else [roles]
    return (
        ORDERS in audiences
        and claims.get("iss")
        in (
            f"https://sts.windows.net/{TENANT}/",
            f"https://login.microsoftonline.com/{TENANT}/v2.0",
        )
        and number(claims.get("exp"))
        and claims["exp"] > NOW
        and ("nbf" not in claims or (number(claims["nbf"]) and claims["nbf"] <= NOW))
        and "Orders.Write" in role_values
        and claims.get("ver") == "2.0"
        # <client-application-ids>: azp when present, else appid ([choice] in gateway_token).
        and claims.get("azp", claims.get("appid")) in (READER_CLIENT, WRITER_CLIENT)
    )


@settings(max_examples=200, deadline=None)
@given(
    changes=st.dictionaries(
        st.sampled_from(["aud", "iss", "exp", "nbf", "roles", "ver", "azp", "appid", "tid"]),
        st.one_of(
            st.none(),
            st.text(max_size=12),
            st.integers(NOW - 10, NOW + 10),
            st.lists(st.sampled_from(["Orders.Write", "Orders.Read", ORDERS, "x"]), max_size=3),
            st.sampled_from(
                [ORDERS, "2.0", "Orders.Write", f"api://{ORDERS}", True, READER_CLIENT]
            ),
        ),
        min_size=1,
    )
)
def test_a_resigned_token_opens_the_operation_exactly_when_the_policy_promises(changes):
    claims = forge.claims_of(GENUINE)
    for name, value in changes.items():
        if value is None:
            claims.pop(name, None)
        else:
            claims[name] = value
    # Signed as raw JWS: PyJWT's encoder would refuse the odd claim types we want to send.
    key = issuer().key
    signed = jwt.PyJWS().encode(
        json.dumps(claims).encode(),
        key.private_key,
        algorithm="RS256",
        headers={"typ": "JWT", "kid": key.kid},
    )
    assert (_answer(signed) == 200) is _opens_create_order(claims)

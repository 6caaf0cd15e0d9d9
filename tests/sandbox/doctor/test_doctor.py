"""The token doctor against the dev stack's plan: tokens are made with PyJWT (RS256, a throwaway
key; the doctor never verifies signatures), the clock is fixed."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from components.config import StackConfig
from sandbox.doctor import diagnose as doctor
from sandbox.doctor.render import format_json, format_text
from sandbox.errors import SandboxError
from sandbox.plan.model import plan_stack
from tests.fixture_stacks import DEV

NOW = 1_750_000_000  # 2025-06-15 15:06:40 UTC
AZURE_CLI = "04b07795-8ddb-461a-bbee-02f9e1bf7b46"
UNKNOWN_CLIENT = "5f8a4a53-3d1e-4b46-9a55-0c1f6c2b7e01"  # no caller of this stack
USER = "0c2d7f1e-8a3b-4c5d-9e6f-7a8b9c0d1e2f"
FOREIGN_TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"


@pytest.fixture(scope="module")
def plan() -> dict[str, Any]:
    return plan_stack("dev", config_file=DEV)


@pytest.fixture(scope="module")
def config() -> StackConfig:
    return doctor.load_config("dev", config_file=DEV)


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def stack(plan: dict[str, Any]) -> dict[str, str]:
    outputs = plan["outputs"]
    return {
        "tenant": outputs["tenantId"],
        "orders": outputs["apis"]["orders"]["clientId"],
        "inventory": outputs["apis"]["inventory"]["clientId"],
        "storefront": outputs["consumers"]["storefront"]["principalId"],
        "storefront-client": outputs["consumers"]["storefront"]["clientId"],
        "reporting": outputs["consumers"]["reporting"]["principalId"],
    }


def app_claims(stack: dict[str, str], version: int = 2, **overrides: Any) -> dict[str, Any]:
    """An app-only token shaped like Entra's: storefront's managed identity calling orders."""
    tenant = stack["tenant"]
    v1 = version == 1
    claims: dict[str, Any] = {
        "aud": f"api://{stack['orders']}" if v1 else stack["orders"],
        "iss": f"https://sts.windows.net/{tenant}/"
        if v1
        else f"https://login.microsoftonline.com/{tenant}/v2.0",
        "iat": NOW - 60,
        "nbf": NOW - 60,
        "exp": NOW + 3600,
        "ver": "1.0" if v1 else "2.0",
        "tid": tenant,
        "oid": stack["storefront"],
        "sub": stack["storefront"],
        "appid" if v1 else "azp": stack["storefront-client"],
        "idtyp": "app",
        "roles": ["Orders.Read", "Orders.Write"],
    }
    claims.update(overrides)
    return {name: value for name, value in claims.items() if value is not None}


def run(
    key: rsa.RSAPrivateKey, plan: dict[str, Any], config: StackConfig, claims: dict[str, Any]
) -> doctor.Diagnosis:
    token = jwt.encode(claims, key, algorithm="RS256", headers={"kid": "throwaway"})
    return doctor.diagnose(doctor.decode_unverified(token), plan, config, NOW)


def verdict(diagnosis: doctor.Diagnosis, api: str) -> doctor.ApiVerdict:
    return next(v for v in diagnosis.apis if v.api == api)


def statuses(diagnosis: doctor.Diagnosis, api: str) -> dict[str, int]:
    return {op.operation: op.status for op in verdict(diagnosis, api).operations}


def checks(diagnosis: doctor.Diagnosis, api: str) -> list[str]:
    return [problem.check for problem in verdict(diagnosis, api).problems]


def test_a_good_v2_token_of_storefront_is_accepted_by_every_orders_operation(
    key, plan, config, stack
):
    diagnosis = run(key, plan, config, app_claims(stack))
    assert statuses(diagnosis, "orders") == {
        "list-orders": 200,
        "get-order": 200,
        "create-order": 200,
    }
    assert diagnosis.target_api == "orders"
    assert doctor.exit_code(diagnosis) == 0
    assert (diagnosis.caller.kind, diagnosis.caller.name) == ("consumer", "storefront")


def test_the_same_token_is_refused_by_inventory_which_it_is_not_for(key, plan, config, stack):
    inventory = verdict(run(key, plan, config, app_claims(stack)), "inventory")
    assert inventory.status == 401
    assert [p.check for p in inventory.problems] == ["audience"]
    assert "is API 'orders', not 'inventory'" in inventory.problems[0].reason
    assert f"api://{stack['inventory']}/.default" in inventory.problems[0].fix


def test_a_v1_token_on_the_v2_only_inventory_api_gets_a_fix_about_the_token_version(
    key, plan, config, stack
):
    claims = app_claims(stack, 1, aud=f"api://{stack['inventory']}", roles=["Inventory.Read"])
    diagnosis = run(key, plan, config, claims)
    assert diagnosis.target_api == "inventory"
    assert checks(diagnosis, "inventory") == ["version", "audience"]
    fix = verdict(diagnosis, "inventory").problems[0].fix
    assert "acceptV1Tokens: true" in fix and "requestedAccessTokenVersion 2" in fix
    assert "secure-api-calls:apis[1]" in fix
    assert set(statuses(diagnosis, "inventory").values()) == {401}
    assert doctor.exit_code(diagnosis) == 1


def test_a_v1_token_for_the_api_uri_is_accepted_on_orders_because_dev_accepts_v1(
    key, plan, config, stack
):
    diagnosis = run(key, plan, config, app_claims(stack, 1))
    assert checks(diagnosis, "orders") == []
    assert set(statuses(diagnosis, "orders").values()) == {200}
    assert any("requests v2 tokens" in note for note in diagnosis.notes)


@pytest.mark.parametrize("form", ["api://{id}/", "https://{id}", "{id}/"])
def test_a_wrong_audience_form_is_a_401_whose_fix_names_the_exact_audience(
    key, plan, config, stack, form
):
    diagnosis = run(key, plan, config, app_claims(stack, 1, aud=form.format(id=stack["orders"])))
    orders = verdict(diagnosis, "orders")
    assert diagnosis.target_api == "orders"
    assert [p.check for p in orders.problems] == ["audience"]
    assert f"`api://{stack['orders']}`" in orders.problems[0].fix
    assert f"`{stack['orders']}`" in orders.problems[0].reason
    assert set(statuses(diagnosis, "orders").values()) == {401}
    assert doctor.exit_code(diagnosis) == 1


def test_the_audience_is_compared_exactly_so_an_upper_case_client_id_is_refused(
    key, plan, config, stack
):
    diagnosis = run(key, plan, config, app_claims(stack, aud=stack["orders"].upper()))
    assert diagnosis.target_api == "orders"
    assert checks(diagnosis, "orders") == ["audience"]


def test_an_expired_token_is_a_401_with_the_time_in_utc_and_a_fix_to_get_a_new_one(
    key, plan, config, stack
):
    diagnosis = run(key, plan, config, app_claims(stack, exp=NOW - 600))
    problem = verdict(diagnosis, "orders").problems[0]
    assert problem.check == "lifetime"
    assert "expired at 2025-06-15 14:56:40 UTC (10 min ago)" in problem.reason
    assert "60-90 minutes" in problem.fix and "new token" in problem.fix
    assert doctor.exit_code(diagnosis) == 1


def test_a_token_that_is_not_yet_valid_names_the_clock(key, plan, config, stack):
    diagnosis = run(key, plan, config, app_claims(stack, nbf=NOW + 300))
    problem = verdict(diagnosis, "orders").problems[0]
    assert "not valid before 2025-06-15 15:11:40 UTC (in 5 min)" in problem.reason
    assert "clock" in problem.fix


@pytest.mark.parametrize("exp", [-(10**400), "soon", True])
def test_an_expiry_that_is_no_time_or_long_past_is_refused(key, plan, config, stack, exp):
    diagnosis = run(key, plan, config, app_claims(stack, exp=exp))
    assert checks(diagnosis, "orders") == ["lifetime"]
    assert "exp" in format_text(diagnosis)


@pytest.mark.parametrize("exp", [float("nan"), float("inf"), 1e30, 10**400])
def test_an_expiry_that_is_no_date_a_validator_can_read_is_refused(key, plan, config, stack, exp):
    diagnosis = run(key, plan, config, app_claims(stack, exp=exp))
    problem = verdict(diagnosis, "orders").problems[0]
    assert (problem.check, "is not a date the gateway can read" in problem.reason) == (
        "lifetime",
        True,
    )
    assert doctor.exit_code(diagnosis) == 1


@pytest.mark.parametrize("nbf", ["x", float("nan"), [1]])
def test_a_not_before_that_is_no_date_is_refused(key, plan, config, stack, nbf):
    diagnosis = run(key, plan, config, app_claims(stack, nbf=nbf))
    assert checks(diagnosis, "orders") == ["lifetime"]
    reason = verdict(diagnosis, "orders").problems[0].reason
    assert reason.startswith("nbf ") and "is not a date the gateway can read" in reason
    assert doctor.exit_code(diagnosis) == 1


def test_an_audience_array_is_read_as_the_gateway_does_any_member_matching(
    key, plan, config, stack
):
    claims = app_claims(stack)
    claims["aud"] = ["someone-else", claims["aud"]]
    diagnosis = run(key, plan, config, claims)
    assert set(statuses(diagnosis, "orders").values()) == {200}
    assert doctor.exit_code(diagnosis) == 0
    assert "someone-else" in format_text(diagnosis)


@pytest.mark.parametrize("exp", [10**400, 1e300])
def test_an_absurdly_distant_expiry_is_reported_without_crashing(key, plan, config, stack, exp):
    text = format_text(run(key, plan, config, app_claims(stack, exp=exp)))
    assert "not a representable time" in text


def test_a_token_from_a_foreign_tenant_is_a_401_naming_the_stack_tenant(key, plan, config, stack):
    claims = app_claims(
        stack, tid=FOREIGN_TENANT, iss=f"https://login.microsoftonline.com/{FOREIGN_TENANT}/v2.0"
    )
    diagnosis = run(key, plan, config, claims)
    problem = verdict(diagnosis, "orders").problems[0]
    assert problem.check == "tenant"
    assert FOREIGN_TENANT in problem.reason and stack["tenant"] in problem.reason
    assert f"az login --tenant {stack['tenant']}" in problem.fix
    assert doctor.exit_code(diagnosis) == 1


def test_a_token_without_tid_is_refused_at_the_tenant_check(key, plan, config, stack):
    problem = verdict(run(key, plan, config, app_claims(stack, tid=None)), "orders").problems[0]
    assert problem.check == "tenant" and "no tid claim" in problem.reason


def test_an_issuer_that_is_not_entras_is_refused(key, plan, config, stack):
    claims = app_claims(stack, iss=f"https://login.microsoftonline.com/{stack['tenant']}/")
    assert checks(run(key, plan, config, claims), "orders") == ["tenant"]


def test_reporting_calling_create_order_gets_403_naming_orders_write_and_the_config_path(
    key, plan, config, stack
):
    claims = app_claims(stack, oid=stack["reporting"], roles=["Orders.Read"])
    diagnosis = run(key, plan, config, claims)
    assert diagnosis.caller.name == "reporting"
    assert statuses(diagnosis, "orders") == {
        "list-orders": 200,
        "get-order": 200,
        "create-order": 403,
    }
    create = next(op for op in verdict(diagnosis, "orders").operations if op.status == 403)
    assert "Orders.Write" in create.reason
    assert "add Orders.Write to `secure-api-calls:consumers[1].calls[0].roles`" in create.fix
    assert "24 h" in create.fix and "group" in create.fix
    assert doctor.exit_code(diagnosis) == 0  # two operations still answer 200


def test_a_consumer_token_without_the_roles_its_config_grants_points_at_the_token_cache(
    key, plan, config, stack
):
    diagnosis = run(key, plan, config, app_claims(stack, roles=None))
    problem = verdict(diagnosis, "orders").problems[0]
    assert problem.check == "roles" and "no roles claim" in problem.reason
    assert (
        "already grants storefront" in problem.fix
        and "a restart does not refresh it" in problem.fix
    )
    assert "through a group never reach a managed identity" in problem.fix


def test_a_delegated_token_without_roles_is_a_401_whose_fix_is_to_assign_an_app_role(
    key, plan, config, stack
):
    claims = app_claims(
        stack, azp=AZURE_CLI, oid=USER, sub="pairwise", idtyp=None, roles=None, scp="API.Access"
    )
    diagnosis = run(key, plan, config, claims)
    assert (diagnosis.caller.kind, diagnosis.caller.name) == ("developer-tool", "azure-cli")
    problem = verdict(diagnosis, "orders").problems[0]
    assert problem.check == "roles" and "delegated token" in problem.reason
    assert f"assign the user {USER} (or a group they belong to) the app role" in problem.fix
    assert "orders-developers (`secure-api-calls:developers.groups[0].roles.orders`)" in problem.fix
    assert "call as the app" in problem.fix
    assert f"api://{stack['orders']}/API.Access" in problem.fix
    assert doctor.exit_code(diagnosis) == 1


def test_a_developer_token_with_roles_is_accepted(key, plan, config, stack):
    claims = app_claims(stack, azp=AZURE_CLI, oid=USER, idtyp=None, scp="API.Access")
    assert set(statuses(run(key, plan, config, claims), "orders").values()) == {200}


def test_an_unknown_caller_is_refused_as_no_listed_client_even_with_the_right_role(
    key, plan, config, stack
):
    claims = app_claims(stack, oid=USER, azp=UNKNOWN_CLIENT, roles=["Orders.Read"])
    diagnosis = run(key, plan, config, claims)
    assert diagnosis.caller.kind == "unknown"
    assert set(statuses(diagnosis, "orders").values()) == {401}
    (problem,) = verdict(diagnosis, "orders").problems
    assert problem.check == "client"
    assert UNKNOWN_CLIENT in problem.reason and stack["storefront-client"] in problem.reason
    assert "consumers" in problem.fix
    assert any("neither a consumer" in note for note in diagnosis.notes)


def test_a_consumer_that_does_not_call_the_api_is_told_where_to_declare_the_call(
    key, plan, config, stack
):
    reporting_client = plan["outputs"]["consumers"]["reporting"]["clientId"]
    claims = app_claims(
        stack,
        aud=stack["inventory"],
        oid=stack["reporting"],
        azp=reporting_client,
        roles=["Inventory.Read"],
    )
    diagnosis = run(key, plan, config, claims)
    (problem,) = verdict(diagnosis, "inventory").problems
    assert problem.check == "client"
    assert "secure-api-calls:consumers[1].calls" in problem.fix


def test_the_allowed_clients_are_read_from_the_deployed_policy_with_named_values_resolved(plan):
    allowed = doctor.allowed_clients(plan)
    consumers = plan["outputs"]["consumers"]
    assert consumers["storefront"]["clientId"] in allowed["orders"]
    assert consumers["reporting"]["clientId"] in allowed["orders"]
    assert consumers["reporting"]["clientId"] not in allowed["inventory"]
    assert AZURE_CLI in allowed["inventory"]
    assert not any("{{" in client for ids in allowed.values() for client in ids)


def test_a_graph_token_is_recognised_as_such(key, plan, config, stack):
    diagnosis = run(key, plan, config, app_claims(stack, aud="https://graph.microsoft.com"))
    assert diagnosis.target_api is None
    assert "Microsoft Graph token" in verdict(diagnosis, "orders").problems[0].reason


def test_the_text_report_shows_facts_verdicts_and_that_the_signature_is_not_verified(
    key, plan, config, stack
):
    reporting_client = plan["outputs"]["consumers"]["reporting"]["clientId"]
    claims = app_claims(stack, oid=stack["reporting"], azp=reporting_client, roles=["Orders.Read"])
    text = format_text(run(key, plan, config, claims))
    assert "signature NOT verified" in text
    assert f"{reporting_client} → consumer reporting" in text
    assert "exp    2025-06-15 16:06:40 UTC (60 min from now)" in text
    assert "✔ list-orders   200" in text and "✘ create-order  403" in text
    assert "Forbidden. This operation requires the app role Orders.Write." in text
    assert "Verdict: accepted by at least one operation of orders (exit 0)" in text


def test_a_consumers_valid_token_sent_to_a_backend_directly_is_refused_with_the_way_through(
    key, plan, config, stack
):
    diagnosis = run(key, plan, config, app_claims(stack))
    assert doctor.exit_code(diagnosis) == 0  # the gateway takes it
    backends = {b.api: b for b in diagnosis.backends}
    orders = backends["orders"]
    assert (orders.status, orders.checked_by) == (
        403,
        "the external-backend checklist (docs/backend-hop.md)",
    )
    assert stack["storefront-client"] in orders.reason and "is not the gateway" in orders.reason
    assert "call orders through the gateway (https://apim-contoso-dev.azure-api.net/orders)" in (
        orders.fix
    )
    inventory = backends["inventory"]
    assert inventory.checked_by == "App Service authentication on app-contoso-inventory-dev"
    assert inventory.status == 401 and "takes tokens for" in inventory.reason  # aud is orders'
    text = format_text(diagnosis)
    assert "Sent straight to a backend (past the gateway):" in text
    assert "✘ orders: 403 from the external-backend checklist" in text


def test_the_gateways_own_token_is_recognised_and_only_its_backend_takes_it(
    key, plan, config, stack
):
    gateway = plan["outputs"]["gatewayIdentity"]
    claims = app_claims(
        stack,
        aud=stack["inventory"],
        oid=gateway["principalId"],
        sub=gateway["principalId"],
        azp=gateway["clientId"],
        roles=["Gateway.Forward"],
    )
    diagnosis = run(key, plan, config, claims)
    assert diagnosis.caller.kind == "gateway"
    assert doctor.exit_code(diagnosis) == 1  # the gateway lists no such caller
    backends = {b.api: b.status for b in diagnosis.backends}
    assert backends == {"inventory": 200, "orders": 401}
    assert any("the gateway's own token for the backend hop" in n for n in diagnosis.notes)
    problem = next(p for p in verdict(diagnosis, "inventory").problems if p.check == "client")
    assert "nothing to grant: this is the gateway's own token" in problem.fix
    impostor = run(key, plan, config, {**claims, "oid": stack["storefront"]})
    (site,) = [b for b in impostor.backends if b.api == "inventory"]
    assert site.status == 403 and "is not the gateway's identity" in site.reason


def test_the_json_report_has_stable_keys(key, plan, config, stack):
    document = json.loads(format_json(run(key, plan, config, app_claims(stack))))
    assert sorted(document) == [
        "apis",
        "backends",
        "caller",
        "claims",
        "exit_code",
        "header",
        "notes",
        "now",
        "signature_verified",
        "stack",
        "target_api",
    ]
    assert document["signature_verified"] is False and document["exit_code"] == 0
    assert sorted(document["apis"][0]) == [
        "api",
        "client_id",
        "named_by_audience",
        "operations",
        "problems",
        "status",
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("hello", "not a JWT: expected three base64url parts separated by '.'"),
        ("a.b", "not a JWT: expected three base64url parts separated by '.'"),
        ("eyJ!.e30.x", "not a JWT: expected three base64url parts separated by '.'"),
        ("bm90IGpzb24.e30.", "not a JWT: the header is not base64url-encoded JSON"),
        ("e30.WzFd.", "not a JWT: the payload is not a JSON object"),
        ("a.b.c.d.e", "an encrypted token (JWE, five parts)"),
    ],
)
def test_garbage_input_is_a_one_line_sandbox_error(text, message):
    with pytest.raises(SandboxError) as error:
        doctor.decode_unverified(text)
    assert message in str(error.value) and "\n" not in str(error.value)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
PARTS = st.one_of(
    st.text(max_size=60),
    st.binary(max_size=40).map(_b64url),
    JSON.map(lambda value: _b64url(json.dumps(value).encode())),
)


@given(st.lists(PARTS, min_size=1, max_size=5).map(".".join))
def test_any_text_either_decodes_or_is_a_one_line_sandbox_error(text):
    try:
        decoded = doctor.decode_unverified(text)
    except SandboxError as error:
        assert "\n" not in str(error)
    else:
        assert isinstance(decoded.header, dict) and isinstance(decoded.claims, dict)


CLAIM_NAMES = ["aud", "iss", "ver", "tid", "exp", "nbf", "roles", "scp", "azp", "appid", "oid"]


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.dictionaries(st.sampled_from(CLAIM_NAMES), JSON), st.dictionaries(st.just("alg"), JSON))
def test_any_claim_values_give_a_diagnosis_and_both_reports(plan, config, claims, header):
    diagnosis = doctor.diagnose(doctor.DecodedToken(header, claims), plan, config, NOW)
    assert doctor.exit_code(diagnosis) in (0, 1)
    text = format_text(diagnosis)
    assert text and json.loads(format_json(diagnosis))
    if "None" not in json.dumps([claims, header]):
        # Absent or null claims show as a dash, other values as JSON: never Python's None.
        assert "None" not in text


def test_a_token_without_client_or_object_claims_is_explained_without_none(plan, config):
    orders = plan["outputs"]["apis"]["orders"]["clientId"]
    claims = {"aud": orders, "roles": ["Orders.Read"], "ver": "2.0"}
    diagnosis = doctor.diagnose(doctor.DecodedToken({"alg": "RS256"}, claims), plan, config, NOW)
    text = format_text(diagnosis)
    assert "None" not in text
    assert "(no azp or appid claim)" in text


def test_a_token_is_read_from_a_file_given_with_an_at_sign(tmp_path: Path):
    (tmp_path / "token.txt").write_text("Bearer aaa.bbb.ccc\n", encoding="utf-8")
    assert doctor.read_token_argument(f"@{tmp_path / 'token.txt'}", io.StringIO()) == "aaa.bbb.ccc"


def test_a_missing_at_file_is_a_sandbox_error(tmp_path: Path):
    with pytest.raises(SandboxError, match="no such file"):
        doctor.read_token_argument(f"@{tmp_path / 'missing.txt'}", io.StringIO())


def test_a_dash_reads_stdin_and_drops_the_bearer_prefix():
    stdin = io.StringIO("  Authorization: Bearer aaa.bbb.ccc  \n")
    assert doctor.read_token_argument("-", stdin) == "aaa.bbb.ccc"


def test_the_json_of_az_account_get_access_token_is_understood():
    stdin = io.StringIO(json.dumps({"accessToken": "aaa.bbb.ccc", "tokenType": "Bearer"}))
    assert doctor.read_token_argument("-", stdin) == "aaa.bbb.ccc"


def test_an_empty_token_is_a_sandbox_error():
    with pytest.raises(SandboxError, match="no token given"):
        doctor.read_token_argument("-", io.StringIO("Bearer  \n"))

"""`python -m consumer probe`, run as the Web App's SSH console would: a subprocess whose
environment holds the app settings and App Service's identity variables, nothing else."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consumer.probe import decode_claims, describe_expiry, key_facts

if TYPE_CHECKING:
    from conftest import FakeAzure  # annotations only: importlib mode cannot import conftest

REPO = Path(__file__).resolve().parents[2]
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=10,
)


def probe(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    clean = {"PATH": os.environ.get("PATH", ""), "PYTHONIOENCODING": "utf-8", **env}
    return subprocess.run(
        [sys.executable, "-m", "consumer", "probe", *args],
        cwd=REPO,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@given(st.dictionaries(st.text(), json_values, max_size=6))
def test_the_claims_of_any_signed_token_decode_back_unchanged(claims: dict[str, Any]) -> None:
    # Built by hand: PyJWT would refuse registered claims of the wrong type (an `iss` of 0),
    # while the probe must show whatever a token carries.
    def part(value: Any) -> str:
        raw = json.dumps(value, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    token = f"{part({'alg': 'HS256', 'kid': 'k1'})}.{part(claims)}.c2ln"
    header, decoded = decode_claims(token)
    assert decoded == claims
    assert header["kid"] == "k1"


@pytest.mark.parametrize(
    "token", ["", "abc", "a.b", "a.b.c.d.e", "e30.!!!.sig", "e30.WzFd.sig", "e30.bm90IGpzb24.sig"]
)
def test_anything_but_a_three_part_json_token_is_refused(token: str) -> None:
    with pytest.raises(ValueError, match="not a"):
        decode_claims(token)


def test_key_facts_show_the_client_the_roles_and_the_minutes_left() -> None:
    claims = {"aud": "a", "iss": "https://sts.windows.net/t/", "appid": "c", "roles": ["R1", "R2"]}
    facts = dict(key_facts({**claims, "exp": 1_700_003_600}, now=1_700_000_000))
    assert facts["appid"] == "c"
    assert facts["roles"] == "R1, R2"
    assert facts["scp"] == "(none)"
    assert facts["iss"].endswith("(v1 issuer)")
    assert facts["exp"] == "2023-11-14 23:13:20 UTC (60 min left)"


def test_an_expired_token_says_so() -> None:
    assert describe_expiry(1_000, now=1_000 + 600).endswith("(EXPIRED 10 min ago)")


def test_probe_prints_the_claims_and_the_answer_and_masks_the_key(
    fake_azure: FakeAzure, app_service_env: dict[str, str]
) -> None:
    result = probe(app_service_env, "--api", "orders", "--path", "/orders")

    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "signature is NOT checked" in out
    assert f"aud    {fake_azure.api_client_id}" in out
    assert f"azp    {fake_azure.consumer_client_id}" in out
    assert "roles  Orders.Read" in out
    assert "min left)" in out and "UTC" in out
    assert "token from ManagedIdentityCredential" in out
    assert "status  200 OK" in out
    assert f"{fake_azure.subscription_key[:4]}…" in out
    assert fake_azure.subscription_key not in out + result.stderr
    token = fake_azure.gateway_requests[0].headers["authorization"].split()[1]
    assert token not in out + result.stderr
    assert len(fake_azure.token_requests) == 1


def test_probe_exits_1_on_a_403_with_the_gateways_message_and_a_hint(
    fake_azure: FakeAzure, app_service_env: dict[str, str]
) -> None:
    result = probe(app_service_env, "--api", "orders", "--method", "post", "--body", '{"id": 1}')

    assert result.returncode == 1
    assert "status  403 Forbidden" in result.stdout
    assert "hint: the token lacks the app role" in result.stdout
    assert result.stderr == (
        "error: 403 from gateway: Forbidden. This operation requires the app role Orders.Write.\n"
    )


def test_probe_warns_when_the_token_carries_no_roles(
    fake_azure: FakeAzure, app_service_env: dict[str, str]
) -> None:
    fake_azure.roles = []
    result = probe(app_service_env, "--api", "orders")
    assert result.returncode == 1
    assert "note: no roles claim" in result.stdout


def test_probe_exits_2_with_one_line_naming_a_missing_setting(
    fake_azure: FakeAzure, app_service_env: dict[str, str]
) -> None:
    env = {k: v for k, v in app_service_env.items() if k != "API_ORDERS_SCOPE"}
    result = probe(env, "--api", "orders")

    assert result.returncode == 2
    assert result.stderr.startswith("error: set API_ORDERS_SCOPE (the stack writes it")
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert fake_azure.token_requests == []


def test_probe_of_an_unknown_api_lists_the_ones_configured(
    fake_azure: FakeAzure, app_service_env: dict[str, str]
) -> None:
    result = probe(app_service_env, "--api", "payments")
    assert result.returncode == 2
    assert "set API_PAYMENTS_BASE_URL" in result.stderr
    assert "(APIs configured here: orders)" in result.stderr


@pytest.mark.parametrize(
    "args",
    [[], ["--api"], ["--api", "orders", "--method", "FETCH"], ["--api", "o", "--body", "{"]],
)
def test_probe_usage_errors_exit_2_with_one_line(
    app_service_env: dict[str, str], args: list[str]
) -> None:
    result = probe(app_service_env, *args)
    assert result.returncode == 2
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
    assert result.stdout == ""


def test_probe_exits_1_with_one_line_when_no_token_can_be_had(
    fake_azure: FakeAzure, app_service_env: dict[str, str]
) -> None:
    fake_azure.identity_error = (400, "AADSTS501051: Application 'x' is not assigned to a role.")
    result = probe(app_service_env, "--api", "orders")
    assert result.returncode == 1
    assert result.stderr.startswith("error: could not get a token for api://")
    assert "AADSTS501051" in result.stderr and result.stderr.count("\n") == 1
    assert fake_azure.gateway_requests == []


@pytest.mark.parametrize("flag", [("--format", "json"), ("-f", "json"), ("--json",)])
def test_probe_json_report_is_machine_readable_and_still_masks_the_key(
    fake_azure: FakeAzure, app_service_env: dict[str, str], flag: tuple[str, ...]
) -> None:
    result = probe(app_service_env, "--api", "orders", "--path", "orders/1", *flag)

    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["signature_checked"] is False
    assert report["claims"]["roles"] == ["Orders.Read"]
    assert report["facts"]["aud"] == fake_azure.api_client_id
    assert report["request"] == {
        "method": "GET",
        "url": f"{fake_azure.base_url}/orders/orders/1",
    }
    assert report["response"]["status"] == 200
    assert json.loads(report["response"]["body"])["path"] == "/orders/orders/1"
    assert report["settings"]["API_ORDERS_SUBSCRIPTION_KEY"] == "sk01…"
    assert fake_azure.subscription_key not in result.stdout

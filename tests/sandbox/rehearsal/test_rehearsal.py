"""The local rehearsal (sandbox/rehearsal/session.py): the dev stack end to end, a
deliberately broken policy caught by exactly the scenarios it breaks, and serve mode driven by
the real azure-identity ManagedIdentityCredential."""

from __future__ import annotations

import copy
import json
import queue
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest
from azure.identity import ManagedIdentityCredential

from consumer import ApiClient
from sandbox.errors import SandboxError
from sandbox.rehearsal.run import loopback_no_proxy, process_environment
from sandbox.rehearsal.scenarios import ATTACKS
from sandbox.rehearsal.session import format_json, format_table, run_rehearsal, serve
from tests.fixture_stacks import DEV, PROD
from tests.sandbox.rehearsal.rehearsal_helpers import LineStream

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def dev_report(dev_plan):
    return run_rehearsal("dev", copy.deepcopy(dev_plan), config_file=DEV)


def _failing(report) -> set[str]:
    return {result.scenario.name for result in report.mismatches}


def _with_operation_policy(plan: dict[str, Any], name: str, old: str, new: str) -> dict:
    """The plan with `old` replaced by `new` in one policy, at its last occurrence (in an
    operation policy, the role check comes after the repeated API check)."""
    broken = copy.deepcopy(plan)
    (resource,) = [r for r in broken["resources"] if r["name"] == name]
    for part in ("inputs", "outputs"):
        value = resource[part]["value"]
        assert old in value
        head, _, tail = value.rpartition(old)
        resource[part]["value"] = head + new + tail
    return broken


def test_the_dev_rehearsal_meets_every_expectation_well_within_budget(dev_report):
    assert dev_report.ok, format_table(dev_report)
    assert dev_report.seconds < 15
    assert format_table(dev_report).endswith(
        f"{len(dev_report.results)} scenarios ({dev_report.attacks} attacks) — all as expected\n"
    )


def test_the_matrix_comes_from_the_configs_intent(dev_report):
    by_name = {r.scenario.name: r.scenario for r in dev_report.results}
    assert by_name["reporting calls orders/create-order"].expected_status == 403
    assert by_name["storefront calls orders/create-order"].expected_status == 200
    assert by_name["storefront calls inventory/adjust-stock"].expected_status == 403
    assert by_name["orders-developers via vscode calls inventory/list-items"].expected_status == 200
    assert not any(name.startswith("reporting calls inventory") for name in by_name)
    # orders accepts v1 tokens (acceptV1Tokens: true); inventory accepts only v2.
    assert "orders: a v1 token (aud api://<id>), accepted by intent" in by_name
    assert "inventory: a v1 token where only v2 is accepted" in by_name
    assert "orders: a v1 token where only v2 is accepted" not in by_name
    for api in ("orders", "inventory"):
        recipes = {s.attack for s in by_name.values() if s.api == api and s.kind == "attack"}
        v1_only = {"aud-identifier-uri", "v1-token"}
        assert recipes == set(ATTACKS) - (v1_only if api == "orders" else set())


def test_consumers_reach_the_backend_through_the_real_client(dev_report):
    result = next(
        r for r in dev_report.results if r.scenario.name == "storefront calls orders/get-order"
    )
    assert (result.actual, result.message) == (200, "GET /api/orders/sample-orderId")
    refused = next(
        r for r in dev_report.results if r.scenario.name == "reporting calls orders/create-order"
    )
    assert refused.message == "Forbidden. This operation requires the app role Orders.Write."


def test_the_json_report_is_stable(dev_plan, dev_report):
    again = run_rehearsal("dev", copy.deepcopy(dev_plan), config_file=DEV)
    assert format_json(again) == format_json(dev_report)
    document = json.loads(format_json(dev_report))
    assert document["ok"] is True
    assert document["summary"]["mismatches"] == 0
    assert document["summary"]["attacks"] == dev_report.attacks


def test_letting_readers_create_orders_fails_exactly_that_scenario(dev_plan):
    broken = _with_operation_policy(
        dev_plan,
        "orders-gateway-op-create-order-policy",
        "<value>Orders.Write</value>",
        "<value>Orders.Read</value>",
    )
    report = run_rehearsal("dev", broken, config_file=DEV)
    assert not report.ok
    assert _failing(report) == {"reporting calls orders/create-order"}
    assert "MISMATCH reporting calls orders/create-order: expected 403, got 200" in (
        format_table(report)
    )
    assert format_table(report).endswith("— 1 mismatch\n")


def test_letting_readers_adjust_stock_fails_the_consumer_and_every_developer_tool(dev_plan):
    broken = _with_operation_policy(
        dev_plan,
        "inventory-gateway-op-adjust-stock-policy",
        "<value>Inventory.Admin</value>",
        "<value>Inventory.Read</value>",
    )
    tools = ("azure-cli", "vscode", "visual-studio", "azure-powershell")
    assert _failing(run_rehearsal("dev", broken, config_file=DEV)) == {
        "storefront calls inventory/adjust-stock",
        *(f"orders-developers via {tool} calls inventory/adjust-stock" for tool in tools),
    }


def test_an_operation_policy_without_base_skips_the_hop_and_the_backend_refuses_the_caller(
    dev_plan,
):
    broken = _with_operation_policy(
        dev_plan,
        "orders-gateway-op-list-orders-policy",
        "        <base />\n    </inbound>",
        "    </inbound>",
    )
    report = run_rehearsal("dev", broken, config_file=DEV)
    # The operation's own checks still answer every token attack; but the API scope never
    # runs, so the caller's token goes to the backend, which takes the gateway's only.
    expected = {
        r.scenario.name
        for r in report.results
        if r.scenario.api == "orders"
        and r.scenario.operation == "list-orders"
        and r.scenario.expected_status == 200
    }
    assert expected and _failing(report) == expected
    # 403: a valid token, but not the gateway's; 401: the v1 control's token has the v1 issuer.
    assert {r.actual for r in report.mismatches} == {401, 403}
    assert all(r.reason.startswith(("application", "unauthenticated")) for r in report.mismatches)


def test_a_policy_that_forwards_the_callers_token_fails_every_allowed_call_of_that_api(dev_plan):
    broken = _with_operation_policy(
        dev_plan,
        "inventory-gateway-policy",
        '<authentication-managed-identity resource="{{inventory-audience}}" />',
        "",
    )
    report = run_rehearsal("dev", broken, config_file=DEV)
    expected = {
        r.scenario.name
        for r in report.results
        if r.scenario.api == "inventory" and r.scenario.expected_status == 200
    }
    assert expected and _failing(report) == expected
    # App Service authentication: the caller's token is valid, but not the gateway's.
    assert {r.actual for r in report.mismatches} == {403}


def test_a_policy_that_stops_setting_the_caller_headers_fails_every_allowed_call(dev_plan):
    broken = copy.deepcopy(dev_plan)
    (resource,) = [r for r in broken["resources"] if r["name"] == "orders-gateway-policy"]
    for part in ("inputs", "outputs"):
        xml = resource[part]["value"]
        start = xml.index('<set-header name="X-Caller-Roles" exists-action="override">')
        end = xml.index("</set-header>", start) + len("</set-header>")
        resource[part]["value"] = xml[:start] + xml[end:]
    report = run_rehearsal("dev", broken, config_file=DEV)
    expected = {
        r.scenario.name
        for r in report.results
        if r.scenario.api == "orders" and r.scenario.expected_status == 200
    }
    assert expected and _failing(report) == expected
    assert all("X-Caller-Roles: None" in "; ".join(r.problems) for r in report.mismatches)


def test_breaking_the_backends_own_check_fails_exactly_the_bypass_scenarios(dev_plan, monkeypatch):
    from sandbox.rehearsal.emulators import backend_auth, forge

    def lets_everyone_in(guard, authorization, keys, now):
        # Believes whatever token it is shown, without checking it (or whether there is one).
        tokens = [value.split(" ", 1)[-1] for value in authorization]
        claims = forge.claims_of(tokens[0]) if tokens else {}
        return backend_auth.BackendVerdict(200, "broken on purpose", claims)

    monkeypatch.setattr(backend_auth, "judge", lets_everyone_in)
    report = run_rehearsal("dev", copy.deepcopy(dev_plan), config_file=DEV)
    bypasses = {r.scenario.name for r in report.results if r.scenario.kind == "bypass"}
    assert len(bypasses) == 6  # no token, a consumer's token, another API's: for each API
    assert _failing(report) == bypasses
    assert {r.actual for r in report.mismatches} == {200}


def test_user_errors_are_one_line_sandbox_errors(dev_plan):
    with pytest.raises(SandboxError, match="no stack 'nope'"):
        run_rehearsal("nope")
    with pytest.raises(SandboxError, match="not a secure-api-calls"):
        run_rehearsal("dev", {"format": "other"}, config_file=DEV)
    with pytest.raises(SandboxError, match="plan is of stack 'dev', not 'prod'"):
        run_rehearsal("prod", copy.deepcopy(dev_plan), config_file=PROD)
    broken = _with_operation_policy(
        dev_plan,
        "orders-gateway-op-list-orders-policy",
        "<base />",
        '<base /><set-header name="x" exists-action="override" />',
    )
    with pytest.raises(SandboxError) as error:
        run_rehearsal("dev", broken, config_file=DEV)
    assert "ApiOperationPolicy::orders-gateway-op-list-orders-policy" in str(error.value)
    assert "\n" not in str(error.value)


def _environment(lines: list[str], consumer: str) -> dict[str, str]:
    start = lines.index(f"# consumer {consumer}") + 1
    block = []
    for line in lines[start:]:
        if not line or line.startswith("#") or line == "READY":
            break
        block.append(line)
    return dict(line.split("=", 1) for line in block)


def _call_as(environ: dict[str, str]) -> tuple[int, str]:
    identity = {k: environ[k] for k in ("IDENTITY_ENDPOINT", "IDENTITY_HEADER")}
    with (
        process_environment(identity | loopback_no_proxy(), ("IDENTITY_SERVER_THUMBPRINT",)),
        ManagedIdentityCredential() as credential,
    ):
        access = credential.get_token(environ["API_ORDERS_SCOPE"])
        with ApiClient.from_environment("orders", credential=credential, environ=environ) as api:
            return api.get("/orders").status, access.token


def test_serve_prints_the_environment_and_a_real_managed_identity_gets_a_200(dev_plan):
    stream, stop = LineStream(), threading.Event()
    worker = threading.Thread(
        target=serve,
        args=("dev", copy.deepcopy(dev_plan)),
        kwargs={"out": stream, "stop": stop, "config_file": DEV},
    )
    worker.start()
    try:
        lines = stream.until("READY")
        assert lines[0].startswith("GATEWAY_URL=http://127.0.0.1:")
        assert any(line.startswith("OPENID_CONFIGURATION_V2=") for line in lines)
        environ = _environment(lines, "reporting")
        assert set(environ) >= {
            "IDENTITY_ENDPOINT",
            "IDENTITY_HEADER",
            "API_ORDERS_BASE_URL",
            "API_ORDERS_SCOPE",
            "API_ORDERS_SUBSCRIPTION_KEY",
        }
        status, _ = _call_as(environ)
        assert status == 200
    finally:
        stop.set()
        worker.join(15)
    assert not worker.is_alive()


def test_serve_prints_each_backend_url_and_a_direct_call_to_it_is_refused(dev_plan):
    stream, stop = LineStream(), threading.Event()
    worker = threading.Thread(
        target=serve,
        args=("dev", copy.deepcopy(dev_plan)),
        kwargs={"out": stream, "stop": stop, "config_file": DEV},
    )
    worker.start()
    try:
        lines = stream.until("READY")
        values = dict(line.split("=", 1) for line in lines if "=" in line)
        backends = {k: v for k, v in values.items() if k.startswith("BACKEND_URL_")}
        assert set(backends) == {"BACKEND_URL_ORDERS", "BACKEND_URL_INVENTORY"}
        assert backends["BACKEND_URL_ORDERS"].endswith("/api")  # the backendUrl's own path
        with httpx.Client(trust_env=False) as http:
            for url in backends.values():
                refused = http.get(url + "/orders")
                assert refused.status_code == 401, refused.text
        outputs = json.loads(Path(values["OUTPUTS_FILE"]).read_text())
        assert outputs["apis"]["orders"]["backendUrl"] == backends["BACKEND_URL_ORDERS"]
        assert outputs["apis"]["inventory"]["backendUrl"] == backends["BACKEND_URL_INVENTORY"]
    finally:
        stop.set()
        worker.join(15)
    assert not worker.is_alive()


def test_the_serve_command_line_runs_until_sigterm_and_exits_cleanly():
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from pathlib import Path; from sandbox.rehearsal.session import serve; "
            f"serve('dev', config_file=Path({str(DEV)!r}))",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(
        target=lambda: [lines.put(x.rstrip("\n")) for x in process.stdout], daemon=True
    ).start()
    seen: list[str] = []
    try:
        while "READY" not in seen:
            seen.append(lines.get(timeout=60))
        status, _ = _call_as(_environment(seen, "storefront"))
        assert status == 200
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0, process.stderr.read() if process.stderr else ""
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

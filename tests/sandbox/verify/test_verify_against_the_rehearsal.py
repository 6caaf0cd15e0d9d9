"""verify against its test double, `rehearse --serve`: every refusal and every allowed call as
expected, and a gateway broken on purpose caught by exactly the scenarios it breaks."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from sandbox.errors import SandboxError
from sandbox.rehearsal.emulators import gateway_statements
from sandbox.rehearsal.emulators.gateway_token import TokenVerdict
from sandbox.rehearsal.emulators.server import RunningServer
from sandbox.verify.outputs import load_outputs_file
from sandbox.verify.report import format_text
from sandbox.verify.run import Options, run_verify
from tests.sandbox.verify.verify_helpers import DeveloperSignIn, Served, served, write_json

ROOT = Path(__file__).resolve().parents[3]


def verify_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sandbox", "verify", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def by_name(report: Any) -> dict[str, Any]:
    return {r.scenario.name: r for r in report.results}


def test_serve_prints_the_outputs_file_before_ready_and_removes_it_when_it_stops(dev_plan):
    with served(dev_plan) as running:
        names = [line.split("=", 1)[0] for line in running.lines if "=" in line]
        assert "OUTPUTS_FILE" in names
        assert running.lines.index(f"OUTPUTS_FILE={running.outputs_file}") < running.lines.index(
            "READY"
        )
        assert running.outputs_file.stat().st_mode & 0o077 == 0  # it holds subscription keys
        outputs = running.outputs()
        gateway = running.rehearsal.gateway.url
        assert outputs["gatewayUrl"] == gateway
        assert outputs["apis"]["orders"]["url"] == f"{gateway}/orders"
        assert outputs["apis"]["orders"]["acceptsV1Tokens"] is True
        assert outputs["apis"]["inventory"]["acceptsV1Tokens"] is False
        assert [op["id"] for op in outputs["apis"]["orders"]["operations"]] == [
            "list-orders",
            "get-order",
            "create-order",
        ]
        assert outputs["openidConfigurationUrl"] == running.rehearsal.openid_configuration(2)
        keys = {running.rehearsal.keys_by_sid[sid] for sid in running.rehearsal.keys_by_sid}
        assert outputs["apis"]["orders"]["verification"]["subscriptionKey"] in keys
        # Nothing in the file points off the machine.
        assert "azure-api.net" not in running.outputs_file.read_text()
    assert not running.outputs_file.exists()


def test_every_refusal_and_every_allowed_call_is_as_expected(rehearsal: Served):
    signed_in = DeveloperSignIn(rehearsal.rehearsal)
    report = run_verify(load_outputs_file(rehearsal.outputs_file), signed_in)
    assert report.ok, format_text(report)
    results = by_name(report)
    # orders-developers hold Orders.Read, Orders.Write and Inventory.Read (the dev fixture stack).
    for name in (
        "orders/list-orders with your token",
        "orders/get-order with your token",
        "orders/create-order with your token",
        "inventory/list-items with your token",
    ):
        assert results[name].scenario.kind == "allowed"
        assert results[name].outcome.status == 200
    adjust = results["inventory/adjust-stock with your token"]
    assert (adjust.scenario.kind, adjust.outcome.status) == ("forbidden", 403)
    assert "Inventory.Admin" in adjust.outcome.message
    for api in ("orders", "inventory"):
        for label in (
            "no subscription key",
            "a wrong subscription key",
            "another API's verification key",
            "no token",
            "a garbage token",
            "alg none (unsigned)",
            "signed by a key Entra never had (unknown kid)",
            "signed by a key Entra never had (Entra's kid)",
            "an expired token",
            "a wrong audience",
            "%2E%2E segments in the path, no token",
            "your token, one signature byte flipped",
        ):
            assert results[f"{api}: {label}"].outcome.status in (401, 404)
    assert "inventory: a v1 token where only v2 is accepted" in results
    assert "orders: a v1 token where only v2 is accepted" not in results  # it accepts v1
    assert results["inventory: your token for orders"].outcome.status == 401
    # A payload edited under the genuine signature: roles it lacks, or (holding every role
    # of orders already) another caller's object ID.
    assert results["inventory: your token with roles it lacks written in"].outcome.status == 401
    assert results["orders: your token with another caller's oid written in"].outcome.status == 401
    assert signed_in.scopes == [
        "api://a3745002-c661-5120-b169-d490c0ada998/.default",
        "api://9a61e652-4ba4-5002-af8c-ac1202bcdb54/.default",
    ]
    assert len(report.results) <= 50  # a verification, not a load test
    assert report.summary().endswith("all as expected")


def test_a_gateway_that_accepts_an_unsigned_token_fails_exactly_those_scenarios(
    rehearsal: Served, monkeypatch: pytest.MonkeyPatch
):
    genuine = gateway_statements.validate_token

    def broken(statement, header_values, keys, now):  # type: ignore[no-untyped-def]
        token = header_values[0].split(" ", 1)[1] if header_values else ""
        if token.count(".") == 2 and token.endswith("."):  # alg none: empty signature
            return TokenVerdict(True, "broken on purpose", {})
        return genuine(statement, header_values, keys, now)

    monkeypatch.setattr(gateway_statements, "validate_token", broken)
    outputs = load_outputs_file(rehearsal.outputs_file)
    report = run_verify(outputs, DeveloperSignIn(rehearsal.rehearsal))
    assert {r.scenario.name for r in report.unexpected} == {
        "orders: alg none (unsigned)",
        "inventory: alg none (unsigned)",
    }
    assert "UNEXPECTED orders: alg none (unsigned): expected 401, got 200: the gateway let it " in (
        format_text(report)
    )


def test_the_command_exits_1_naming_what_a_broken_gateway_let_through(dev_plan, tmp_path):
    broken = json.loads(json.dumps(dev_plan))
    orders = [
        r
        for r in broken["resources"]
        if r["type"].endswith(("ApiPolicy", "ApiOperationPolicy"))
        and r["inputs"]["apiId"] == "orders"
    ]
    for policy in orders:
        for part in ("inputs", "outputs"):
            # Every orders token check answers 403: a token problem looks like a missing role.
            text = policy[part]["value"]
            policy[part]["value"] = text.replace(
                'failed-validation-httpcode="401"', 'failed-validation-httpcode="403"'
            )
    with served(broken) as running:
        done = verify_cli("--outputs", str(running.outputs_file), "--skip-allowed")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "UNEXPECTED orders: no token: expected 401, got 403" in done.stdout
    assert "inventory: no token" not in {
        line.split(": expected")[0].removeprefix("UNEXPECTED ")
        for line in done.stdout.splitlines()
        if line.startswith("UNEXPECTED")
    }


def test_the_command_passes_against_the_rehearsal_in_every_format(rehearsal: Served):
    text = verify_cli("--outputs", str(rehearsal.outputs_file), "--skip-allowed")
    assert text.returncode == 0, text.stdout + text.stderr
    assert text.stderr == ""
    assert text.stdout.splitlines()[1].split() == ["scenario", "expected", "actual", "verdict"]
    assert "note: allowed calls skipped (--skip-allowed)" in text.stdout
    assert text.stdout.rstrip().endswith("— all as expected")
    markdown = verify_cli(
        "--outputs", str(rehearsal.outputs_file), "--skip-allowed", "-f", "markdown"
    )
    assert markdown.returncode == 0
    assert "| scenario | expected | actual | verdict |" in markdown.stdout
    assert "| orders: alg none (unsigned) | 401 | 401 | as expected |" in markdown.stdout
    document = json.loads(
        verify_cli("--outputs", str(rehearsal.outputs_file), "--skip-allowed", "-f", "json").stdout
    )
    assert document["ok"] is True
    assert document["summary"]["unexpected"] == 0
    key = rehearsal.outputs()["apis"]["orders"]["verification"]["subscriptionKey"]
    assert key not in json.dumps(document)


def test_todays_stack_outputs_run_the_key_gate_and_say_what_was_skipped(
    rehearsal: Served, tmp_path: Path
):
    outputs = rehearsal.outputs()
    for api in outputs["apis"].values():
        for key in ("operations", "acceptsV1Tokens", "verification"):
            del api[key]
    path = write_json(tmp_path / "today.json", outputs)
    done = verify_cli("--outputs", str(path), "--skip-allowed")
    assert done.returncode == 0, done.stdout
    assert "orders: no subscription key" in done.stdout
    assert "orders: no token" not in done.stdout
    assert (
        "note: orders: token, method and path scenarios skipped: the outputs lack "
        "verification.subscriptionKey, operations; only the subscription-key gate was tested"
    ) in done.stdout


@pytest.fixture
def refusing_backend():
    async def refuse(request: Request) -> JSONResponse:
        return JSONResponse({"code": 401, "message": "Unauthorized"}, status_code=401)

    app = Starlette(routes=[Route("/{path:path}", refuse, methods=["GET", "POST"])])
    with RunningServer(app) as server:
        yield server.url


def test_an_open_backend_is_named_and_a_refusing_one_passes(
    rehearsal: Served, tmp_path: Path, refusing_backend: str
):
    outputs = rehearsal.outputs()
    outputs["apis"]["orders"]["backendUrl"] = rehearsal.rehearsal.echo.url + "/api"
    outputs["apis"]["inventory"]["backendUrl"] = refusing_backend
    done = verify_cli("--outputs", str(write_json(tmp_path / "o.json", outputs)), "--skip-allowed")
    assert done.returncode == 1
    unexpected = [line for line in done.stdout.splitlines() if line.startswith("UNEXPECTED")]
    assert unexpected == [
        "UNEXPECTED orders: the backend called directly, without the gateway's token: "
        "expected 401/403, got 200: the gateway let it through"
    ]
    assert "inventory: the backend called directly, without the gateway's token" in done.stdout


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_gateway_that_does_not_answer_is_one_line_and_exit_2(rehearsal: Served, tmp_path: Path):
    outputs = rehearsal.outputs()
    dead = f"http://127.0.0.1:{_closed_port()}"
    outputs["gatewayUrl"] = dead
    for api in outputs["apis"].values():
        api["url"] = f"{dead}/{api['path']}"
    path = write_json(tmp_path / "dead.json", outputs)
    done = verify_cli("--outputs", str(path), "--skip-allowed", "--timeout", "2")
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.startswith(f"error: the gateway {dead} did not answer (")
    assert len(done.stderr.splitlines()) == 1
    with pytest.raises(SandboxError, match="did not answer"):
        run_verify(load_outputs_file(path), None, Options(timeout=2))


def test_unreadable_signing_keys_skip_only_the_entra_kid_forgeries_with_one_note(
    rehearsal: Served, tmp_path: Path
):
    outputs = rehearsal.outputs()
    outputs["openidConfigurationUrl"] = f"http://127.0.0.1:{_closed_port()}/metadata"
    report = run_verify(load_outputs_file(write_json(tmp_path / "o.json", outputs)), None)
    assert report.ok
    assert not any("Entra's kid" in r.scenario.name for r in report.results)
    (note,) = [n for n in report.notes if "signing keys" in n]
    assert note.startswith("the 'Entra's kid' forgeries skipped: the tenant's signing keys could")


class NoSignIn:
    """What DefaultAzureCredential raises on a machine with no sign-in at all."""

    def __init__(self, detail: str) -> None:
        self.detail = detail
        self.asked = 0

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        from azure.core.exceptions import ClientAuthenticationError

        self.asked += 1
        raise ClientAuthenticationError(message=self.detail)


NO_CREDENTIAL = (
    "DefaultAzureCredential failed to retrieve a token from the included credentials.\n"
    "Attempted credentials:\n"
    "\tEnvironmentCredential: EnvironmentCredential authentication unavailable. "
    "Environment variables are not fully configured.\n"
    "\tManagedIdentityCredential: ManagedIdentityCredential authentication unavailable, "
    "no response from the IMDS endpoint.\n"
    "\tAzureCliCredential: Azure CLI not found on path\n"
)


def test_no_credential_at_all_is_one_note_and_the_refusals_still_run(rehearsal: Served):
    credential = NoSignIn(NO_CREDENTIAL)
    report = run_verify(load_outputs_file(rehearsal.outputs_file), credential)
    assert report.ok
    assert credential.asked == 1  # not once per API
    assert [n for n in report.notes if "allowed" in n] == [
        "allowed calls skipped: no credential (sign in with `az login` or `azd auth login`, "
        "or pass --skip-allowed)"
    ]
    # The backends called directly need no credential either (their URLs are exported).
    assert {r.scenario.kind for r in report.results} == {"refusal", "bypass"}


def test_a_caller_not_assigned_to_an_api_gets_one_line_per_api_with_the_fix(rehearsal: Served):
    refused = "AzureCliCredential: AADSTS50105: Your administrator has configured the application"
    report = run_verify(load_outputs_file(rehearsal.outputs_file), NoSignIn(refused))
    skipped = [n for n in report.notes if "allowed calls skipped" in n]
    assert [n.split(":")[0] for n in skipped] == ["inventory", "orders"]
    assert all("AADSTS50105" in n and "\n" not in n for n in skipped)

"""The outputs contract verify reads (docs/verify.md): from `pulumi stack output` or a file,
what is required, what is optional, and one-line errors naming the key and the fix."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from sandbox.verify.outputs import (
    OutputsError,
    default_openid_configuration,
    load_outputs_file,
    parse_outputs,
    read_stack_outputs,
)
from tests.sandbox.verify.verify_helpers import Served, write_json

ROOT = Path(__file__).resolve().parents[3]


def test_the_dev_plans_outputs_parse_with_operations_and_a_masked_verification_key(dev_plan):
    target = parse_outputs(dev_plan["outputs"], "stack dev")
    assert [api.name for api in target.apis] == ["inventory", "orders"]
    orders = target.apis[1]
    assert orders.url == "https://apim-contoso-dev.azure-api.net/orders"
    assert orders.app_scope == f"api://{orders.client_id}/.default"
    assert orders.roles == ("Orders.Read", "Orders.Write")
    assert [(op.id, op.method, op.url_template) for op in orders.operations or ()] == [
        ("list-orders", "GET", "/orders"),
        ("get-order", "GET", "/orders/{orderId}"),
        ("create-order", "POST", "/orders"),
    ]
    assert orders.accepts_v1 is True
    # A plan (like `pulumi stack output` without --show-secrets) masks the key.
    assert (orders.subscription_key, orders.subscription_key_masked) == (None, True)
    assert target.openid_configuration_url == default_openid_configuration(target.tenant_id)
    assert not target.is_loopback


def _minimal(**api: Any) -> dict[str, Any]:
    return {
        "tenantId": "t",
        "gatewayUrl": "https://gw.example",
        "apis": {"orders": {"path": "orders", **api}},
    }


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "must be a JSON object"),
        ({"gatewayUrl": "https://gw.example", "apis": {}}, "tenantId: expected a non-empty"),
        ({"tenantId": "t", "gatewayUrl": "http://gw.example", "apis": {}}, "not an https URL"),
        ({"tenantId": "t", "gatewayUrl": "https://gw.example", "apis": {}}, "at least one API"),
        (_minimal(url="https://elsewhere.example/orders"), "is not on the gateway"),
        (_minimal(acceptsV1Tokens="yes"), "apis.orders.acceptsV1Tokens: expected true or false"),
        (_minimal(operations={}), "apis.orders.operations: expected a list"),
        (
            _minimal(operations=[{"id": "x", "method": "FETCH", "urlTemplate": "/", "roles": []}]),
            "apis.orders.operations[0].method: 'FETCH'",
        ),
        (
            _minimal(operations=[{"id": "x", "method": "GET", "urlTemplate": "x", "roles": []}]),
            "operations[0].urlTemplate: 'x' must be a path under the API",
        ),
        (
            _minimal(operations=[{"id": "x", "method": "GET", "urlTemplate": "/", "roles": "R"}]),
            "operations[0].roles: expected a list",
        ),
        (
            _minimal(operations=[{"id": "x", "method": "GET", "urlTemplate": "//evil.example/x"}]),
            "operations[0].urlTemplate: '//evil.example/x' must be a path under the API",
        ),
        (
            {**_minimal(), "gatewayUrl": "http://127.0.0.1:99999"},
            "gatewayUrl: 'http://127.0.0.1:99999' is not a valid URL (Port out of range",
        ),
        (
            {**_minimal(), "gatewayUrl": "http://127.0.0.1:abc"},
            "gatewayUrl: 'http://127.0.0.1:abc' is not a valid URL (Port could not be cast",
        ),
        ({**_minimal(), "gatewayUrl": "https://[::1"}, "is not a valid URL (Invalid IPv6 URL)"),
        (
            {**_minimal(), "gatewayUrl": "https://exa mple.com"},
            "has an invalid host name 'exa mple.com'",
        ),
        (_minimal(url="http://127.0.0.1:99999/orders"), "apis.orders.url: 'http://127.0.0.1:99999"),
        (_minimal(verification="key"), "apis.orders.verification: expected an object"),
        (_minimal(backendUrl="http://backend.example"), "backendUrl: 'http://backend.example'"),
    ],
)
def test_bad_outputs_are_one_line_errors_naming_the_key(data, message):
    with pytest.raises(OutputsError, match=None) as error:
        parse_outputs(data, "o.json")
    assert message in str(error.value)
    assert "\n" not in str(error.value)
    assert error.value.exit_code == 2


def test_a_masked_verification_key_counts_as_absent_and_says_why():
    target = parse_outputs(_minimal(verification={"subscriptionKey": "[secret]"}), "o.json")
    (orders,) = target.apis
    assert orders.subscription_key is None and orders.subscription_key_masked


def test_the_verification_key_never_shows_in_a_repr():
    target = parse_outputs(_minimal(verification={"subscriptionKey": "k" * 32}), "o.json")
    assert "k" * 32 not in repr(target)


def test_an_unreadable_or_non_json_file_names_it_and_the_fix(tmp_path: Path):
    with pytest.raises(OutputsError, match="cannot read it"):
        load_outputs_file(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{", encoding="utf-8")
    with pytest.raises(OutputsError, match=r"is not JSON .*pulumi stack output --json"):
        load_outputs_file(tmp_path / "bad.json")


def test_an_outputs_file_that_is_not_utf8_is_one_line_naming_it(tmp_path: Path):
    (tmp_path / "o.json").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(OutputsError, match=r"o.json is not UTF-8 text \(byte 0") as error:
        load_outputs_file(tmp_path / "o.json")
    assert "\n" not in str(error.value)


def test_a_pulumi_that_prints_bytes_that_are_not_utf8_gives_not_json_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    fake = tmp_path / "pulumi"
    fake.write_text("#!/bin/sh\nprintf '\\377\\376'\n", encoding="utf-8")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    with pytest.raises(OutputsError, match=r"output of `pulumi stack output -s dev` is not JSON"):
        read_stack_outputs("dev", tmp_path)


def test_an_unknown_api_is_bad_input_naming_the_known_ones(dev_plan):
    target = parse_outputs(dev_plan["outputs"], "stack dev")
    assert [a.name for a in target.select(["orders"]).apis] == ["orders"]
    with pytest.raises(OutputsError, match=r"--api nope: .*\(they name: inventory, orders\)"):
        target.select(["nope"])


class FakeRun:
    def __init__(self, result: Any) -> None:
        self.result = result
        self.calls: list[dict[str, Any]] = []

    def __call__(self, command: list[str], **kwargs: Any) -> Any:
        self.calls.append({"command": command, **kwargs})
        if isinstance(self.result, BaseException):
            raise self.result
        return self.result


def test_the_pulumi_cli_is_asked_for_secrets_in_the_project_folder_with_a_time_limit(dev_plan):
    done = subprocess.CompletedProcess([], 0, json.dumps(dev_plan["outputs"]), "")
    run = FakeRun(done)
    target = read_stack_outputs("dev", ROOT, run=run)
    assert target.source == "stack dev"
    (call,) = run.calls
    assert call["command"][:3] == ["pulumi", "stack", "output"]
    assert {"--json", "--show-secrets", "--non-interactive"} <= set(call["command"])
    assert call["command"][-2:] == ["--stack", "dev"]
    assert call["cwd"] == ROOT and call["timeout"] > 0


@pytest.mark.parametrize(
    ("result", "message"),
    [
        (
            FileNotFoundError("pulumi"),
            "the Pulumi CLI (`pulumi`) is not on PATH: install it, or pass --outputs FILE",
        ),
        (subprocess.TimeoutExpired("pulumi", 120), "did not answer within 120 s"),
        (
            subprocess.CompletedProcess(
                [], 255, "", "warning: x\nerror: no stack named 'qa' found\n"
            ),
            "failed: error: no stack named 'qa' found; log in (`pulumi login`)",
        ),
        (
            subprocess.CompletedProcess([], 255, "", "error: no stack named 'qa'\nsecond line\n"),
            "failed: error: no stack named 'qa'; log in",
        ),
        (subprocess.CompletedProcess([], 0, "not json", ""), "is not JSON"),
    ],
    ids=["not installed", "hangs", "fails", "fails, then a hint", "not json"],
)
def test_each_way_the_pulumi_cli_can_fail_is_one_line_with_the_fix(result, message):
    with pytest.raises(OutputsError) as error:
        read_stack_outputs("qa", ROOT, run=FakeRun(result))
    assert message in str(error.value)
    assert "\n" not in str(error.value)


def test_the_command_runs_the_pulumi_on_path_and_verifies_what_it_printed(
    rehearsal: Served, tmp_path: Path
):
    # A stand-in `pulumi` that records its arguments and prints the rehearsal's outputs.
    outputs = write_json(tmp_path / "outputs.json", rehearsal.outputs())
    fake = tmp_path / "pulumi"
    fake.write_text(
        f'#!/bin/sh\necho "$@" > {tmp_path / "args"}\ncat {outputs}\n', encoding="utf-8"
    )
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    env = {**os.environ, "PATH": f"{tmp_path}{os.pathsep}{os.environ.get('PATH', '')}"}
    done = subprocess.run(
        [sys.executable, "-m", "sandbox", "verify", "--stack", "qa", "--skip-allowed"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("verify: stack qa (http://127.0.0.1:")
    assert (tmp_path / "args").read_text().split() == [
        "stack",
        "output",
        "--json",
        "--show-secrets",
        "--non-interactive",
        "--stack",
        "qa",
    ]


def test_without_the_pulumi_cli_the_command_says_so_in_one_line(tmp_path: Path):
    env = {**os.environ, "PATH": str(tmp_path)}  # an empty folder: no pulumi on PATH
    done = subprocess.run(
        [sys.executable, "-m", "sandbox", "verify", "--stack", "dev"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert done.returncode == 2
    assert done.stderr.startswith("error: the Pulumi CLI (`pulumi`) is not on PATH")
    assert len(done.stderr.splitlines()) == 1


def test_stack_and_outputs_together_are_a_usage_error(tmp_path: Path):
    done = subprocess.run(
        [sys.executable, "-m", "sandbox", "verify", "--stack", "dev", "--outputs", "x.json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert (done.returncode, done.stderr) == (
        2,
        "error: give either --stack or --outputs, not both\n",
    )

"""The real pack process: `policies/__main__.py` started the way Pulumi starts it (from its own
folder), then asked over the analyzer gRPC protocol, exactly as `pulumi preview` asks."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from google.protobuf import empty_pb2, struct_pb2
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc

from policies.secure_api_policies import RULES

PACK = Path(__file__).resolve().parents[2] / "policies"
UNKNOWN_STRING = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"  # the engine's unknown sentinel
MANDATORY = 1  # analyzer_pb2.EnforcementLevel.MANDATORY


@pytest.fixture(scope="module")
def analyzer() -> Iterator[analyzer_pb2_grpc.AnalyzerStub]:
    proc = subprocess.Popen(
        [sys.executable, "-u", "__main__.py"],
        cwd=PACK,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        port = proc.stdout.readline().decode().strip()
        assert port.isdigit(), proc.stderr.read().decode() if proc.stderr else port
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            grpc.channel_ready_future(channel).result(timeout=20)
            yield analyzer_pb2_grpc.AnalyzerStub(channel)
    finally:
        proc.kill()
        proc.wait(timeout=10)


def struct(props: dict[str, object]) -> struct_pb2.Struct:
    s = struct_pb2.Struct()
    s.update(props)
    return s


def test_the_pack_announces_every_policy(analyzer: analyzer_pb2_grpc.AnalyzerStub) -> None:
    info = analyzer.GetAnalyzerInfo(empty_pb2.Empty())
    assert info.name == "secure-api-calls"
    assert sorted(p.name for p in info.policies) == sorted(RULES)


def test_analyze_reports_a_mandatory_violation_and_an_unverifiable_unknown(
    analyzer: analyzer_pb2_grpc.AnalyzerStub,
) -> None:
    request = analyzer_pb2.AnalyzeRequest(
        type="azure-native:web:WebApp",
        properties=struct({"httpsOnly": False, "siteConfig": {"minTlsVersion": UNKNOWN_STRING}}),
        urn="urn:pulumi:dev::secure-api-calls::azure-native:web:WebApp::orders-client",
        name="orders-client",
    )
    diagnostics = {d.policyName: d for d in analyzer.Analyze(request).diagnostics}
    https = diagnostics["webapp-https-only"]
    assert https.enforcementLevel == MANDATORY
    assert "WebApp 'orders-client' has httpsOnly=false" in https.message
    tls = diagnostics["webapp-min-tls-1-2"]
    assert tls.enforcementLevel == MANDATORY
    assert "cannot be verified" in tls.message


def test_analyze_stack_reports_against_the_resource_urn(
    analyzer: analyzer_pb2_grpc.AnalyzerStub,
) -> None:
    web = analyzer_pb2.AnalyzerResource(
        type="azure-native:web:WebApp",
        properties=struct({"name": "orders-client-app", "resourceGroupName": "rg"}),
        urn="urn:web",
        name="orders-client",
    )
    response = analyzer.AnalyzeStack(analyzer_pb2.AnalyzeStackRequest(resources=[web]))
    ftp = [d for d in response.diagnostics if d.policyName == "webapp-ftp-basic-auth-disabled"]
    assert [d.urn for d in ftp] == ["urn:web"]


def test_preflight_rules_run_in_the_pack_with_their_group_and_source(
    analyzer: analyzer_pb2_grpc.AnalyzerStub,
) -> None:
    info = analyzer.GetAnalyzerInfo(empty_pb2.Empty())
    described = {p.name: p.description for p in info.policies}
    source = RULES["preflight-apim-client-certificate"].mirrors
    assert described["preflight-apim-client-certificate"].startswith("Deployability (preflight)")
    request = analyzer_pb2.AnalyzeRequest(
        type="azure-native:apimanagement:ApiManagementService",
        properties=struct(
            {
                "serviceName": "apim-dev",
                "sku": {"name": "Developer"},
                "enableClientCertificate": False,
            }
        ),
        urn="urn:pulumi:dev::secure-api-calls::azure-native:apimanagement:ApiManagementService::gw",
        name="gw",
    )
    diagnostics = {d.policyName: d for d in analyzer.Analyze(request).diagnostics}
    flag = diagnostics["preflight-apim-client-certificate"]
    assert flag.enforcementLevel == MANDATORY
    assert flag.message.endswith(f"(source: {source})")


def test_preflight_stack_rules_run_over_the_engines_resource_graph(
    analyzer: analyzer_pb2_grpc.AnalyzerStub,
) -> None:
    def operation(name: str, template: str) -> analyzer_pb2.AnalyzerResource:
        props = {"serviceName": "apim", "apiId": "orders", "method": "GET", "urlTemplate": template}
        return analyzer_pb2.AnalyzerResource(
            type="azure-native:apimanagement:ApiOperation",
            properties=struct(props),
            urn=f"urn:{name}",
            name=name,
        )

    request = analyzer_pb2.AnalyzeStackRequest(
        resources=[operation("a", "/orders/{id}"), operation("b", "/orders/{orderId}")]
    )
    response = analyzer.AnalyzeStack(request)
    found = [d for d in response.diagnostics if d.policyName == "preflight-apim-operation-unique"]
    assert [d.urn for d in found] == ["urn:b"]

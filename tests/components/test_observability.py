"""Observability: refused calls reach Application Insights and Log Analytics with a reason."""

from __future__ import annotations

from typing import Any

from tests.plan_helpers import named, of_type


def test_each_api_logs_all_errors_to_the_apim_logger(dev_plan: dict[str, Any]) -> None:
    logger = named(dev_plan, "observability-apim-logger")
    diagnostics = of_type(dev_plan, ":ApiDiagnostic")
    assert sorted(d["inputs"]["apiId"] for d in diagnostics) == ["inventory", "orders"]
    for diagnostic in diagnostics:
        inputs = diagnostic["inputs"]
        assert inputs["loggerId"] == logger["outputs"]["name"] or inputs["loggerId"].endswith(
            "/loggers/app-insights"
        )
        assert inputs["alwaysLog"] == "allErrors"
        assert inputs["sampling"] == {"samplingType": "fixed", "percentage": 100}
        assert "frontend" not in inputs and "backend" not in inputs, "no headers or bodies"


def test_gateway_logs_with_error_reasons_go_to_the_workspace(dev_plan: dict[str, Any]) -> None:
    setting = named(dev_plan, "observability-gateway-logs")["inputs"]
    service = named(dev_plan, "gateway-service")
    workspace = named(dev_plan, "observability-workspace")
    assert setting["resourceUri"].endswith("/service/apim-contoso-dev")
    assert service["type"].endswith(":ApiManagementService")
    assert setting["workspaceId"].endswith("/workspaces/log-contoso-dev")
    assert workspace["inputs"]["retentionInDays"] == 30
    assert setting["logs"] == [{"category": "GatewayLogs", "enabled": True}]
    assert setting["logAnalyticsDestinationType"] == "Dedicated"


def test_insights_is_workspace_based_and_consumers_are_instrumented(
    dev_plan: dict[str, Any], revealed_dev: Any
) -> None:
    insights = named(dev_plan, "observability-insights")
    assert insights["inputs"]["ingestionMode"] == "LogAnalytics"
    settings = revealed_dev.sent["reporting-app-settings"]["properties"]
    assert (
        settings["APPLICATIONINSIGHTS_CONNECTION_STRING"] == insights["outputs"]["connectionString"]
    )
    assert settings["ApplicationInsightsAgent_EXTENSION_VERSION"] == "~3"


def test_the_connection_string_is_secret_wherever_it_goes(dev_plan: dict[str, Any]) -> None:
    text = str(dev_plan["resources"])
    connection = named(dev_plan, "observability-insights")["outputs"]["connectionString"]
    logger = named(dev_plan, "observability-apim-logger")["inputs"]["credentials"]
    assert logger == {"connectionString": "[secret]"}
    settings = named(dev_plan, "reporting-app-settings")["inputs"]["properties"]
    assert settings["APPLICATIONINSIGHTS_CONNECTION_STRING"] == "[secret]"
    # Only the secret value is masked: the Key Vault reference beside it stays reviewable.
    assert settings["API_ORDERS_SUBSCRIPTION_KEY"].startswith("@Microsoft.KeyVault(")
    # Only the App Insights resource's own output shows it (the provider does not mark it).
    assert text.count(connection) == 1


def test_prod_keeps_gateway_logs_longer(prod_plan: dict[str, Any]) -> None:
    assert named(prod_plan, "observability-workspace")["inputs"]["retentionInDays"] == 90

"""Make every refused call visible: workspace-based Application Insights, an APIM logger, and
the gateway's own logs (with the reason of each 401/403) in Log Analytics.

The gateway logs carry `ApimSubscriptionId`; subscriptions are named `<api>-<consumer>`, so a
rejected call maps to its caller without logging any token or key (docs/observability.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
from pulumi_azure_native import (
    apimanagement,
    applicationinsights,
    monitor,
    operationalinsights,
)

from components.outputs import text

LOGGER_ID = "app-insights"


@dataclass(frozen=True)
class ObservabilityArgs:
    workspace_name: str
    insights_name: str
    resource_group_name: str
    location: str
    retention_days: int
    service_name: str
    service_resource_id: pulumi.Input[str] | None  # None: an existing gateway, logs left alone
    tags: dict[str, str] = field(default_factory=dict)
    depends_on: tuple[pulumi.Resource, ...] = ()

    def __post_init__(self) -> None:
        if not 30 <= self.retention_days <= 730:
            raise ValueError("retention_days must be between 30 and 730")


class Observability(pulumi.ComponentResource):
    connection_string: pulumi.Output[str]
    logger_id: pulumi.Output[str]
    workspace_id: pulumi.Output[str]

    def __init__(
        self, name: str, args: ObservabilityArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("secure-api-calls:observability:Observability", name, None, opts)
        placed = pulumi.ResourceOptions(parent=self, depends_on=list(args.depends_on))
        workspace = operationalinsights.Workspace(
            f"{name}-workspace",
            workspace_name=args.workspace_name,
            resource_group_name=args.resource_group_name,
            location=args.location,
            sku=operationalinsights.WorkspaceSkuArgs(name="PerGB2018"),
            retention_in_days=args.retention_days,
            tags=args.tags,
            opts=placed,
        )
        insights = applicationinsights.Component(
            f"{name}-insights",
            resource_name_=args.insights_name,
            resource_group_name=args.resource_group_name,
            location=args.location,
            kind="web",
            application_type="web",
            ingestion_mode="LogAnalytics",
            workspace_resource_id=workspace.id,
            tags=args.tags,
            opts=pulumi.ResourceOptions(parent=self),
        )
        # Secret at the source, so every place that holds it (the logger's credentials, the
        # Web Apps' settings) is masked in previews and encrypted in state; the SDK does not
        # mark it secret itself. Microsoft does not count the ingestion key as a secret, so this
        # is defence in depth, not a key that must be rotated when seen.
        self.connection_string = pulumi.Output.secret(text(insights.connection_string))
        self.workspace_id = workspace.id
        logger = apimanagement.Logger(
            f"{name}-apim-logger",
            logger_id=LOGGER_ID,
            logger_type="applicationInsights",
            description="Gateway requests, including every 401 and 403, to Application Insights.",
            resource_id=insights.id,
            credentials={"connectionString": self.connection_string},
            resource_group_name=args.resource_group_name,
            service_name=args.service_name,
            opts=placed,
        )
        self.logger_id = logger.id
        if args.service_resource_id is not None:
            monitor.DiagnosticSetting(
                f"{name}-gateway-logs",
                name="gateway-logs-to-workspace",
                resource_uri=args.service_resource_id,
                workspace_id=workspace.id,
                # Resource-specific tables: ApiManagementGatewayLogs with LastErrorReason.
                log_analytics_destination_type="Dedicated",
                logs=[monitor.DiagnosticsLogSettingsArgs(category="GatewayLogs", enabled=True)],
                opts=pulumi.ResourceOptions(parent=self),
            )
        self.register_outputs({"connectionString": self.connection_string})


def api_diagnostic(
    name: str,
    api_id: str,
    logger_id: pulumi.Input[str],
    resource_group_name: str,
    service_name: str,
    opts: pulumi.ResourceOptions,
) -> apimanagement.ApiDiagnostic:
    """Log every failed request of one API (no headers or bodies: tokens and keys stay out)."""
    return apimanagement.ApiDiagnostic(
        name,
        api_id=api_id,
        diagnostic_id="applicationinsights",
        logger_id=logger_id,
        always_log=apimanagement.AlwaysLog.ALL_ERRORS,
        sampling=apimanagement.SamplingSettingsArgs(sampling_type="fixed", percentage=100),
        verbosity=apimanagement.Verbosity.INFORMATION,
        http_correlation_protocol=apimanagement.HttpCorrelationProtocol.W3_C,
        log_client_ip=True,
        operation_name_format=apimanagement.OperationNameFormat.NAME,
        resource_group_name=resource_group_name,
        service_name=service_name,
        opts=opts,
    )

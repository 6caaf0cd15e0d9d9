"""What an allowed call must show at the backend, from the config's intent: the route, the
gateway's own token where the API's hop is authenticated, and the caller headers the gateway
derives from the caller's token (components/caller_headers.py). The identities (client and
object IDs) are the Plan's facts about whom the intent names.
"""

from __future__ import annotations

from pathlib import Path

from components.config import DEVELOPER_TOOLS, StackConfig
from sandbox.rehearsal.report import BackendExpectation
from sandbox.rehearsal.scenarios import (
    KEPT_QUERY,
    IntendedOperation,
    Scenario,
    intended_operations,
)
from sandbox.rehearsal.tenant import Tenant


def _caller(
    scenario: Scenario, intent: StackConfig, tenant: Tenant
) -> tuple[str, str, tuple[str, ...]] | None:
    """(client ID, object ID, roles) of whoever calls, or None when it cannot be told."""
    api = scenario.api
    if scenario.kind == "developer":
        group = next(g for g in intent.developers.groups if g.name == scenario.group)
        user = {g.lower(): u for g, u in tenant.developer_by_group.items()}.get(
            group.object_id.lower()
        )
        if user is None:
            return None
        return DEVELOPER_TOOLS[scenario.tool or ""], user, group.roles.get(api, ())
    consumer = next((c for c in intent.consumers if c.name == scenario.consumer), None)
    facts = next((c for c in tenant.consumers if c.name == scenario.consumer), None)
    if consumer is None or facts is None:
        return None
    roles = next((c.roles for c in consumer.calls if c.api == api), ())
    return facts.client_id, facts.principal_id, roles


def backend_expectation(
    scenario: Scenario, intent: StackConfig, tenant: Tenant, base_dir: Path
) -> BackendExpectation:
    api = intent.api(scenario.api)
    op: IntendedOperation = next(
        o for o in intended_operations(api, base_dir) if o.id == scenario.operation
    )
    route = f"{op.method} {api.backend_path}{op.sample_path()}"
    if scenario.attack == "key-in-query":
        route += f"?{KEPT_QUERY}"  # the key removed, the rest of the query kept
    app = tenant.apis.get(api.name)
    gateway = tenant.gateway_identity
    expected = BackendExpectation(
        route=route,
        api_client_id=app.client_id if app else "",
        gateway_client_id=(gateway.client_id if gateway and api.hop_authenticated else None),
    )
    caller = _caller(scenario, intent, tenant)
    if caller is None or scenario.kind not in ("consumer", "developer", "control"):
        return expected
    client, oid, roles = caller
    version = "1.0" if api.token_version == 1 or scenario.attack == "v1-accepted" else "2.0"
    return BackendExpectation(
        route,
        expected.api_client_id,
        expected.gateway_client_id,
        {
            "X-Caller-Client-Id": client,
            "X-Caller-Object-Id": oid,
            "X-Caller-Roles": ",".join(roles),
            "X-Caller-Token-Version": version,
        },
    )

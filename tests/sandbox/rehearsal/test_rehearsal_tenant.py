"""The rehearsal's tenant and scenario matrix, built from the Plan and the config's intent
(sandbox/rehearsal/tenant.py, sandbox/rehearsal/scenarios.py), and the clock that reaches
every emulator."""

from __future__ import annotations

import copy
import threading
import time

import pytest

from components.config import DEVELOPER_TOOLS
from components.naming import gateway_role_id
from sandbox.errors import SandboxError
from sandbox.program.runner import PROJECT_DIR
from sandbox.rehearsal.emulators.directory import DEFAULT_ACCESS_ROLE_ID
from sandbox.rehearsal.scenarios import build_scenarios
from sandbox.rehearsal.session import load_intent, run_rehearsal
from sandbox.rehearsal.tenant import tenant_from_plan
from tests.fixture_stacks import DEV
from tests.plan_helpers import of_type
from tests.sandbox.rehearsal.rehearsal_helpers import LineStream


@pytest.fixture(scope="module")
def tenant(dev_plan):
    return tenant_from_plan(dev_plan)


def test_each_api_app_comes_from_its_registration_principal_roles_and_tools(dev_plan, tenant):
    outputs = dev_plan["outputs"]["apis"]["orders"]
    orders = tenant.apis["orders"]
    assert orders.client_id == outputs["clientId"]
    assert orders.identifier_uri == outputs["identifierUri"]
    assert orders.token_version == 2 and orders.assignment_required
    # The API's own roles, and the gateway's role for the backend hop.
    gateway_role = {"Gateway.Forward": gateway_role_id("dev", "orders")}
    assert dict(orders.roles) == {**outputs["roles"], **gateway_role}
    assert set(orders.pre_authorized) == set(DEVELOPER_TOOLS.values())
    assert orders.scope == "API.Access"
    (principal,) = [
        r
        for r in of_type(dev_plan, ":ServicePrincipal")
        if r["outputs"]["clientId"] == orders.client_id
    ]
    assert orders.object_id == principal["outputs"]["objectId"]


def test_web_apps_become_managed_identities_holding_their_direct_roles(dev_plan, tenant):
    storefront = tenant.consumer("storefront")
    assert storefront.principal_id == dev_plan["outputs"]["consumers"]["storefront"]["principalId"]
    directory = tenant.directory
    assert directory.principal(storefront.principal_id).kind == "ManagedIdentity"
    assert directory.direct_roles(storefront.principal_id, tenant.apis["orders"]) == (
        "Orders.Read",
        "Orders.Write",
    )
    assert storefront.subscription_by_setting == {
        "API_ORDERS_SUBSCRIPTION_KEY": "orders-storefront",
        "API_INVENTORY_SUBSCRIPTION_KEY": "inventory-storefront",
    }


def test_developer_groups_get_a_synthetic_member_and_the_rehearsals_own_actors(tenant):
    directory = tenant.directory
    group = "3b0d4e5f-6a7b-4c8d-9e0f-1a2b3c4d5e6f"
    user = tenant.developer_by_group[group]
    assert directory.principal(user).kind == "User"
    assert directory.direct_roles(user, tenant.apis["orders"]) == ("Orders.Read", "Orders.Write")
    group_only = tenant.group_only_identity
    assert directory.is_assigned(group_only, tenant.apis["orders"])
    assert directory.direct_roles(group_only, tenant.apis["orders"]) == ()
    defaults = [a for a in directory.assignments if a.principal_object_id == tenant.no_role_user]
    assert {a.role_id for a in defaults} == {DEFAULT_ACCESS_ROLE_ID}


def test_a_subscription_key_setting_that_is_not_a_key_vault_reference_is_refused(dev_plan):
    broken = copy.deepcopy(dev_plan)
    for resource in of_type(broken, ":WebAppApplicationSettings"):
        for side in ("inputs", "outputs"):
            properties = resource[side]["properties"]
            for setting in properties:
                if setting.endswith("_SUBSCRIPTION_KEY"):
                    properties[setting] = "literal-key"
    with pytest.raises(SandboxError, match="not a Key Vault reference"):
        tenant_from_plan(broken)


def test_the_settings_come_from_the_sites_settings_resource(dev_plan):
    readable = copy.deepcopy(dev_plan)
    for resource in of_type(readable, ":WebAppApplicationSettings"):
        if resource["inputs"]["name"] == "app-contoso-reporting-dev":
            for side in ("inputs", "outputs"):
                resource[side]["properties"]["EXTRA"] = "from-the-resource"
    assert tenant_from_plan(readable).consumer("reporting").app_settings["EXTRA"] == (
        "from-the-resource"
    )


def test_a_site_without_its_settings_resource_is_refused(dev_plan):
    broken = copy.deepcopy(dev_plan)
    broken["resources"] = [
        r for r in broken["resources"] if not r["type"].endswith(":WebAppApplicationSettings")
    ]
    with pytest.raises(SandboxError, match="expected one WebAppApplicationSettings"):
        tenant_from_plan(broken)


def test_managed_identities_carry_the_client_id_the_stack_deployed(dev_plan, tenant):
    for name, facts in dev_plan["outputs"]["consumers"].items():
        consumer = tenant.consumer(name)
        assert consumer.client_id == facts["clientId"]
        assert tenant.directory.principal(consumer.principal_id).client_id == facts["clientId"]


def test_a_plan_without_a_tenant_output_is_refused(dev_plan):
    broken = copy.deepcopy(dev_plan)
    del broken["outputs"]["tenantId"]
    with pytest.raises(SandboxError, match=r"outputs\.tenantId"):
        tenant_from_plan(broken)


def test_every_scenario_name_is_unique_and_expectations_follow_the_roles(tenant):
    scenarios = build_scenarios(load_intent("dev", DEV), tenant, PROJECT_DIR)
    names = [s.name for s in scenarios]
    assert len(names) == len(set(names))
    kinds = {
        kind: sum(1 for s in scenarios if s.kind == kind)
        for kind in ("consumer", "developer", "control", "attack", "bypass")
    }
    # Controls: genuine, forged caller headers, the key in the query and method overrides per
    # API, v1 accepted on orders; bypasses:
    # no token, a consumer's token, the other API's gateway token, at each API's backend.
    assert kinds == {"consumer": 8, "developer": 20, "control": 9, "attack": 44, "bypass": 6}
    forbidden = [s for s in scenarios if s.expected_status == 403 and s.kind != "bypass"]
    assert all(s.expected_words for s in forbidden)  # the gateway's 403 names the role


def test_the_gateways_identity_is_a_principal_holding_only_the_gateway_role(dev_plan, tenant):
    gateway = tenant.gateway_identity
    assert gateway is not None and gateway.kind == "ManagedIdentity"
    assert gateway.object_id == dev_plan["outputs"]["gatewayIdentity"]["principalId"]
    assert tenant.directory.principal(gateway.object_id) == gateway
    for api in ("orders", "inventory"):
        assert tenant.directory.direct_roles(gateway.object_id, tenant.apis[api]) == (
            "Gateway.Forward",
        )
    # Not mistaken for a developer group (the other kind of assignee the stack declares).
    assert gateway.object_id not in tenant.developer_by_group


def test_an_injected_clock_drives_the_issuer_and_the_gateway_together(dev_plan):
    tomorrow = lambda: time.time() + 86_400  # noqa: E731
    report = run_rehearsal("dev", copy.deepcopy(dev_plan), clock=tomorrow, config_file=DEV)
    assert report.ok


def test_rehearse_then_serve_reports_the_verdict_as_a_comment_before_the_environment(dev_plan):
    stream, stop = LineStream(), threading.Event()
    outcome: list[object] = []
    worker = threading.Thread(
        target=lambda: outcome.append(
            run_rehearsal(
                "dev", copy.deepcopy(dev_plan), serve=True, out=stream, stop=stop, config_file=DEV
            )
        )
    )
    worker.start()
    try:
        lines = stream.until("READY")
    finally:
        stop.set()
        worker.join(15)
    assert lines[0].startswith("# rehearsal: 87 scenarios (50 attacks) — all as expected")
    assert lines[1].startswith("GATEWAY_URL=")
    assert outcome and outcome[0].ok

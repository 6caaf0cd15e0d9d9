"""What the gateway sends: the SDK-filled defaults ARM refuses never leave the program."""

from __future__ import annotations

import ast
import importlib
import inspect
import re
from pathlib import Path
from typing import Any

import pulumi
import pytest
from pulumi_azure_native import apimanagement, network

from components import sdk_defaults
from components.config import Gateway as GatewayConfig
from tests.plan_helpers import named

ROOT = Path(__file__).resolve().parents[2]
# The nested argument classes a component builds, as written in its source: `web.SiteConfigArgs(`.
_ARGS_USE = re.compile(r"\b(\w+)\.([A-Z]\w*Args)\(")
_SDK_IMPORT = re.compile(r"^from pulumi_azure_native import (?:\(([^)]*)\)|(.+)$)", re.MULTILINE)


def built_args_classes(source: str) -> set[str]:
    """`module.Class` of every azure-native Args class a component's source constructs."""
    names = [group for match in _SDK_IMPORT.findall(source) for group in match if group]
    modules = {m.strip() for text in names for m in text.split(",") if m.strip()}
    return {f"{m}.{cls}" for m, cls in _ARGS_USE.findall(source) if m in modules}


def resource_class(token: str) -> type[pulumi.CustomResource]:
    """The SDK class behind a type token (azure-native:web:WebApp: web.WebApp)."""
    _, module, name = token.split(":")
    cls: type[pulumi.CustomResource] = getattr(
        importlib.import_module(f"pulumi_azure_native.{module}"), name
    )
    return cls


def args_class(name: str) -> type:
    module, cls = name.split(".")
    found: type = getattr(importlib.import_module(f"pulumi_azure_native.{module}"), cls)
    return found


_FILLED = re.compile(r"^\s*if (\w+) is None:\n\s*\1 = (.+)$", re.MULTILINE)


def sdk_filled_defaults(cls: type[pulumi.CustomResource]) -> dict[str, Any]:
    """`{prop: value}` for every `if prop is None: prop = value` in the class's _internal_init."""
    source = inspect.getsource(cls._internal_init)  # type: ignore[attr-defined]
    return {prop: ast.literal_eval(value) for prop, value in _FILLED.findall(source)}


@pytest.mark.parametrize("token", sorted(sdk_defaults.DEFAULTS))
def test_every_default_the_installed_sdk_fills_in_is_decided_in_the_table(token: str) -> None:
    found = sdk_filled_defaults(resource_class(token))
    decided = {d.prop: d.value for d in sdk_defaults.DEFAULTS[token]}
    new = {p: v for p, v in found.items() if p not in decided}
    assert not new, (
        f"the SDK now fills in {new} on {token}: decide each in components/sdk_defaults.py "
        "(does ARM accept it on every SKU the config allows?)"
    )
    changed = {p: (decided[p], v) for p, v in found.items() if decided[p] != v}
    assert not changed, f"SDK default values changed (table, SDK): {changed}"
    stale = sorted(set(decided) - set(found))
    assert not stale, f"the table decides defaults the SDK no longer fills in: {stale}"


def args_filled_defaults(cls: type) -> dict[str, Any]:
    """The same `if prop is None: prop = value` lines in a nested Args class's __init__."""
    source = inspect.getsource(cls.__init__)  # type: ignore[misc]
    return {prop: ast.literal_eval(value) for prop, value in _FILLED.findall(source)}


@pytest.mark.parametrize("name", sorted(sdk_defaults.NESTED_DEFAULTS))
def test_every_default_a_nested_argument_class_fills_in_is_decided_in_the_table(
    name: str,
) -> None:
    found = args_filled_defaults(args_class(name))
    decided = {d.prop: d.value for d in sdk_defaults.NESTED_DEFAULTS[name]}
    assert found == decided, f"{name}: the SDK fills in {found}; the table decides {decided}"


def test_the_nested_reader_finds_the_subnet_defaults() -> None:
    # Guards the reader on __init__: an empty result would make the test above vacuous.
    assert args_filled_defaults(network.SubnetArgs) == {
        "private_endpoint_network_policies": "Disabled",
        "private_link_service_network_policies": "Enabled",
    }


def test_the_source_reader_finds_the_defaults_research_listed() -> None:
    # Guards the regular expression itself: an empty result would make the test above vacuous.
    found = sdk_filled_defaults(apimanagement.ApiManagementService)
    assert found["enable_client_certificate"] is False
    assert found["legacy_portal_status"] == "Enabled"
    assert len(found) == 7


def test_every_azure_type_the_plans_send_has_its_defaults_decided(
    dev_plan: dict[str, Any], prod_plan: dict[str, Any]
) -> None:
    sent = {
        r["type"]
        for plan in (dev_plan, prod_plan)
        for r in plan["resources"]
        if r["type"].startswith("azure-native:")
    }
    missing = sorted(sent - set(sdk_defaults.DEFAULTS))
    assert not missing, f"decide the SDK defaults of {missing} in components/sdk_defaults.py"


def test_every_nested_argument_class_the_components_build_has_its_defaults_decided() -> None:
    built = set().union(
        *(
            built_args_classes(p.read_text(encoding="utf-8"))
            for p in (ROOT / "components").glob("*.py")
        )
    )
    assert "web.SiteConfigArgs" in built  # the reader finds what every Web App sends
    missing = sorted(built - set(sdk_defaults.NESTED_DEFAULTS))
    assert not missing, f"decide the SDK defaults of {missing} in components/sdk_defaults.py"


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_plan_sends_no_client_certificate_flag_nor_legacy_portal(
    stack: str, request: pytest.FixtureRequest
) -> None:
    inputs = named(request.getfixturevalue(f"{stack}_plan"), "gateway-service")["inputs"]
    assert "enableClientCertificate" not in inputs
    assert "legacyPortalStatus" not in inputs
    assert inputs["developerPortalStatus"] == "Enabled"  # classic tiers: accepted default


class _Recorder(pulumi.runtime.Mocks):
    def __init__(self) -> None:
        self.inputs: dict[str, Any] = {}

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        if args.typ == sdk_defaults.APIM_SERVICE:
            self.inputs = dict(args.inputs)
        return f"{args.name}-id", dict(args.inputs)

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:
        return {}


def _sent_for(sku: str, **extra: Any) -> dict[str, Any]:
    from components.gateway import Gateway, GatewayArgs

    mocks = _Recorder()
    pulumi.runtime.set_mocks(mocks, project="secure-api-calls", stack="unit", preview=False)
    config = GatewayConfig.model_validate(
        {"sku": sku, "publisherName": "P", "publisherEmail": "p@example.org", **extra}
    )
    gateway = Gateway(
        "gateway",
        GatewayArgs(
            config=config,
            default_name="apim-unit",
            resource_group_name="rg",
            location="westeurope",
            tenant_id="t",
        ),
    )

    @pulumi.runtime.test
    def settle() -> pulumi.Output[str]:
        return gateway.gateway_url

    settle()
    return mocks.inputs


@pytest.mark.parametrize(
    "sku", ["Developer", "Basic", "Standard", "Premium", "BasicV2", "StandardV2", "PremiumV2"]
)
def test_no_sku_sends_the_client_certificate_flag(sku: str) -> None:
    sent = _sent_for(sku)
    assert sent["sku"]["name"] == sku
    assert "enableClientCertificate" not in sent
    assert "legacyPortalStatus" not in sent
    v2 = sku in sdk_defaults.V2_SKUS
    assert ("developerPortalStatus" in sent) is not v2
    assert ("natGatewayState" in sent) is not v2
    assert sent["virtualNetworkType"] == "None"  # accepted defaults are still sent


def test_restore_is_sent_only_when_the_stack_asks_for_it() -> None:
    assert _sent_for("Developer")["restore"] is False
    assert _sent_for("Developer", restore=True)["restore"] is True


def test_a_value_the_program_chose_is_never_removed() -> None:
    transformation = sdk_defaults.without_refused_defaults(sdk_defaults.APIM_SERVICE, "Developer")
    resource = pulumi.ComponentResource("test:index:Dummy", "dummy", None, None)
    props = {"enable_client_certificate": True, "legacy_portal_status": "Enabled"}
    result = transformation(
        pulumi.ResourceTransformationArgs(
            resource, sdk_defaults.APIM_SERVICE, "x", props, pulumi.ResourceOptions()
        )
    )
    assert result is not None
    assert result.props == {"enable_client_certificate": True}

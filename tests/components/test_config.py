"""The strict config model: good stacks parse, every bad input is one line naming the key."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.config import ConfigError, parse_config
from tests.fixture_stacks import stack_document

ROOT = Path(__file__).resolve().parents[2]


def dev_raw() -> dict[str, Any]:
    document = stack_document("dev")
    prefix = "secure-api-calls:"
    return {k[len(prefix) :]: v for k, v in document["config"].items() if k.startswith(prefix)}


def error_for(mutate: Any, stack: str = "dev") -> str:
    raw = copy.deepcopy(dev_raw())
    mutate(raw)
    with pytest.raises(ConfigError) as caught:
        parse_config(raw, stack, ROOT)
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_the_dev_and_prod_fixture_stacks_parse() -> None:
    for stack in ("dev", "prod"):
        document = stack_document(stack)
        raw = {
            k.split(":", 1)[1]: v
            for k, v in document["config"].items()
            if k.startswith("secure-api-calls:")
        }
        config = parse_config(raw, stack, ROOT)
        assert [api.name for api in config.apis] == ["orders", "inventory"]


def test_structured_values_arrive_as_json_strings_from_the_engine() -> None:
    from components.config import decode_values

    raw = {
        key: json.dumps(value) if not isinstance(value, str) else value
        for key, value in dev_raw().items()
    }
    assert parse_config(decode_values(raw), "dev", ROOT).gateway.sku == "Developer"


CASES: list[tuple[str, Any, str]] = [
    (
        "a misspelled top-level key",
        lambda c: c.update(gatway=c["gateway"]),
        "config secure-api-calls:gatway: unknown key",
    ),
    (
        "a misspelled required key",
        lambda c: c.update(namePrefx=c.pop("namePrefix")),
        "config secure-api-calls:namePrefx: unknown key 'namePrefx' (did you mean 'namePrefix'?)",
    ),
    (
        "a list given as text",
        lambda c: c.update(apis="orders"),
        "config secure-api-calls:apis: should be a list, not 'orders'",
    ),
    (
        "a mapping given as text",
        lambda c: c.update(gateway="apim-contoso"),
        "config secure-api-calls:gateway: should be a mapping (key: value), not 'apim-contoso'",
    ),
    (
        "a number given as text",
        lambda c: c["gateway"].update(capacity="two"),
        "config secure-api-calls:gateway.capacity: should be a whole number, not 'two'",
    ),
    (
        "a nested key left empty",
        lambda c: c["gateway"].update(sku=None),
        "config secure-api-calls:gateway.sku: has no value; give it one",
    ),
    (
        "a misspelled nested key",
        lambda c: c["apis"][0].update(backendURL="https://x.example"),
        "config secure-api-calls:apis[0].backendURL: unknown key",
    ),
    (
        "an operation role missing from its API",
        lambda c: c["apis"][0]["operations"][0].update(roles=["Orders.Delete"]),
        "config secure-api-calls:apis[0].operations[0].roles: role 'Orders.Delete' is not defined "
        "on API 'orders'",
    ),
    (
        "a consumer naming an unknown API",
        lambda c: c["consumers"][0]["calls"][0].update(api="payments"),
        "config secure-api-calls:consumers[0].calls[0].api: unknown API 'payments'",
    ),
    (
        "an http backend",
        lambda c: c["apis"][0].update(backendUrl="http://orders.example"),
        "config secure-api-calls:apis[0].backendUrl: 'http://orders.example' must be an https://",
    ),
    (
        "a consumer role the API does not define",
        lambda c: c["consumers"][1]["calls"][0].update(roles=["Orders.Admin"]),
        "config secure-api-calls:consumers[1].calls[0].roles: role 'Orders.Admin' is not defined",
    ),
    (
        "duplicate role values",
        lambda c: c["apis"][0]["roles"].append({"value": "orders.read"}),
        "config secure-api-calls:apis[0].roles: duplicate role value 'orders.read'",
    ),
    (
        "a role value with a space",
        lambda c: c["apis"][0]["roles"][0].update(value="Orders Read"),
        "config secure-api-calls:apis[0].roles[0].value: 'Orders Read' is not allowed",
    ),
    (
        "an API name with capitals",
        lambda c: c["apis"][0].update(name="Orders"),
        "config secure-api-calls:apis[0].name: 'Orders' is not allowed: it must match",
    ),
    (
        "a missing gateway",
        lambda c: c.pop("gateway"),
        "config secure-api-calls:gateway: required key is missing",
    ),
    (
        "an unknown gateway SKU",
        lambda c: c["gateway"].update(sku="Free"),
        "config secure-api-calls:gateway.sku: 'Free' is not allowed",
    ),
    (
        "a created gateway without a publisher",
        lambda c: c["gateway"].pop("publisherEmail"),
        "config secure-api-calls:gateway: mode 'create' needs publisherName and publisherEmail",
    ),
    (
        "an existing gateway without its resource group",
        lambda c: c.update(gateway={"mode": "existing", "name": "apim-shared"}),
        "config secure-api-calls:gateway: mode 'existing' needs name and resourceGroup",
    ),
    (
        "an unknown developer tool",
        lambda c: c["developers"].update(tools=["azure-cli", "postman"]),
        "config secure-api-calls:developers.tools[1]: 'postman' is not allowed",
    ),
    (
        "a developer group whose object ID is not a GUID",
        lambda c: c["developers"]["groups"][0].update(objectId="devs"),
        "config secure-api-calls:developers.groups[0].objectId: 'devs' is not allowed: it must",
    ),
    (
        "a developer group granted a role of an unknown API",
        lambda c: c["developers"]["groups"][0]["roles"].update(billing=["Billing.Read"]),
        "config secure-api-calls:developers.groups[0].roles.billing: unknown API 'billing'",
    ),
    (
        "two APIs on the same path",
        lambda c: c["apis"][1].update(path="orders"),
        "config secure-api-calls:apis: duplicate API path 'orders'",
    ),
    (
        "an API with both operations and an OpenAPI file",
        lambda c: c["apis"][0].update(openapi={"file": "x.json", "operationRoles": {}}),
        "config secure-api-calls:apis[0]: declare exactly one of 'operations' or 'openapi'",
    ),
    (
        "an operation without roles",
        lambda c: c["apis"][0]["operations"][0].update(roles=[]),
        "config secure-api-calls:apis[0].operations[0].roles: should be a list with at least 1",
    ),
    (
        "a name prefix too long for the Key Vault name",
        lambda c: c.update(namePrefix="contosoabc"),
        "config secure-api-calls:namePrefix: Key Vault name 'kv-contosoabc-longstack12' has 25 "
        "characters; Azure allows 3-24",
    ),
    (
        "a scope value equal to a role value",
        lambda c: c["apis"][0].update(scope={"value": "Orders.Read"}),
        "config secure-api-calls:apis[0].scope.value: must differ from every app role value",
    ),
    (
        "two operations on one route",
        lambda c: c["apis"][0]["operations"].append(
            {
                "id": "fetch-order",
                "method": "GET",
                "urlTemplate": "/orders/{id}",
                "roles": ["Orders.Read"],
            }
        ),
        "config secure-api-calls:apis[0].operations: operations 'get-order' and 'fetch-order' "
        "share GET /orders/{id} (parameter names aside); APIM refuses the second one",
    ),
    (
        "a backend host with a space",
        lambda c: c["apis"][0].update(backendUrl="https://orders backend.example/api"),
        "config secure-api-calls:apis[0].backendUrl: 'https://orders backend.example/api' "
        "contains a space",
    ),
    (
        "a backend URL with credentials",
        lambda c: c["apis"][0].update(backendUrl="https://svc:pw@orders.example"),
        "config secure-api-calls:apis[0].backendUrl: 'https://svc:pw@orders.example' must not "
        "carry a user name or password",
    ),
    (
        "a backend URL with an impossible port",
        lambda c: c["apis"][0].update(backendUrl="https://orders.example:70000/api"),
        "config secure-api-calls:apis[0].backendUrl: 'https://orders.example:70000/api' port",
    ),
    (
        "a backend host that is no DNS name",
        lambda c: c["apis"][0].update(backendUrl="https://orders_backend.example"),
        "config secure-api-calls:apis[0].backendUrl: 'https://orders_backend.example' host "
        "'orders_backend.example' is not a DNS name",
    ),
    (
        "an API nobody may call",
        lambda c: (
            c["developers"].update(tools=[], groups=[]),
            c["consumers"][0]["calls"].pop(1),
        ),
        "config secure-api-calls:apis[1]: API 'inventory' has no caller",
    ),
    (
        "a resource group name ending with a period",
        lambda c: c.update(resourceGroup={"name": "rg-contoso."}),
        "config secure-api-calls:resourceGroup.name: resource group name 'rg-contoso.' must be",
    ),
    (
        "restore on an existing gateway",
        lambda c: c.update(
            gateway={"mode": "existing", "name": "apim-x", "resourceGroup": "rg", "restore": True}
        ),
        "config secure-api-calls:gateway: restore applies to mode 'create' only",
    ),
    (
        "an API with both a backend URL and a site",
        lambda c: c["apis"][0].update(backend={"appService": {"name": "a1", "resourceGroup": "r"}}),
        "config secure-api-calls:apis[0]: declare exactly one of 'backendUrl' (an external "
        "backend) or 'backend: {appService: {name, resourceGroup}}'",
    ),
    (
        "an API with no backend at all",
        lambda c: c["apis"][0].pop("backendUrl"),
        "config secure-api-calls:apis[0]: declare exactly one of 'backendUrl'",
    ),
    (
        "a site name Azure cannot hold",
        lambda c: c["apis"][1]["backend"]["appService"].update(name="-site"),
        "config secure-api-calls:apis[1].backend.appService.name: '-site' is not allowed: it must "
        "match",
    ),
    (
        "a misspelled site key",
        lambda c: c["apis"][1]["backend"]["appService"].update(resourcegroup="x"),
        "config secure-api-calls:apis[1].backend.appService.resourcegroup: unknown key",
    ),
    (
        "a site that backs two APIs",
        lambda c: (
            c["apis"][0].pop("backendUrl"),
            c["apis"][0].update(backend=copy.deepcopy(c["apis"][1]["backend"])),
        ),
        "config secure-api-calls:apis[1].backend.appService: site 'app-contoso-inventory-dev' "
        "already backs API 'orders'",
    ),
    (
        "an unauthenticated hop without a reason",
        lambda c: c["apis"][0].update(backendAuth="none"),
        "config secure-api-calls:apis[0].backendAuth: mode 'none' needs a reason",
    ),
    (
        "an unknown hop mode",
        lambda c: c["apis"][0].update(backendAuth={"mode": "certificate"}),
        "config secure-api-calls:apis[0].backendAuth.mode: 'certificate' is not allowed; "
        "expected 'managedIdentity' or 'none'",
    ),
    (
        "a reason for an authenticated hop",
        lambda c: c["apis"][0].update(backendAuth={"mode": "managedIdentity", "reason": "x"}),
        "config secure-api-calls:apis[0].backendAuth: reason applies to mode 'none' only",
    ),
    (
        "a site the stack locks that the gateway may not call",
        lambda c: c["apis"][1].update(backendAuth={"mode": "none", "reason": "legacy"}),
        "config secure-api-calls:apis[1].backendAuth: an appService backend is configured to "
        "accept only the gateway's token",
    ),
    (
        "an API declaring the gateway's role",
        lambda c: c["apis"][0]["roles"].append({"value": "Gateway.Forward"}),
        "config secure-api-calls:apis[0].roles: role 'Gateway.Forward' is reserved for the "
        "gateway's managed identity",
    ),
    (
        "an operation requiring the gateway's role",
        lambda c: c["apis"][0]["operations"][0].update(roles=["Gateway.Forward"]),
        "config secure-api-calls:apis[0].operations[0].roles: role 'Gateway.Forward' is reserved",
    ),
    (
        "a consumer granted the gateway's role",
        lambda c: c["consumers"][1]["calls"][0].update(roles=["Gateway.Forward"]),
        "config secure-api-calls:consumers[1].calls[0].roles: role 'Gateway.Forward' is "
        "reserved for the gateway's managed identity (the backend hop, docs/backend-hop.md): a "
        "consumer cannot hold it",
    ),
    (
        "a group granted the gateway's role",
        lambda c: c["developers"]["groups"][0]["roles"].update(orders=["Gateway.Forward"]),
        "config secure-api-calls:developers.groups[0].roles.orders: role 'Gateway.Forward' is "
        "reserved",
    ),
    (
        "an operation template with an unclosed parameter",
        lambda c: c["apis"][0]["operations"][0].update(urlTemplate="/orders/{id"),
        "config secure-api-calls:apis[0].operations[0].urlTemplate: urlTemplate '/orders/{id' "
        "has an unbalanced or empty {...}; write each parameter as {name}",
    ),
    (
        "an operation template with an empty segment",
        lambda c: c["apis"][0]["operations"][0].update(urlTemplate="//evil.example/x"),
        "config secure-api-calls:apis[0].operations[0].urlTemplate: urlTemplate "
        "'//evil.example/x' has an empty segment (//)",
    ),
    (
        "a soft-delete retention out of range",
        lambda c: c["keyVault"].update(softDeleteRetentionDays=3),
        "config secure-api-calls:keyVault.softDeleteRetentionDays: 3 is too small: at least 7",
    ),
]


@pytest.mark.parametrize(("case", "mutate", "expected"), CASES, ids=[c[0] for c in CASES])
def test_bad_config_is_one_line_naming_the_key(case: str, mutate: Any, expected: str) -> None:
    stack = "longstack12" if "Key Vault" in expected else "dev"
    assert error_for(mutate, stack).startswith(expected)


def test_an_openapi_operation_without_roles_is_named(tmp_path: Path) -> None:
    spec = {
        "openapi": "3.0.1",
        "paths": {"/a": {"get": {"operationId": "read-a"}, "post": {"operationId": "write-a"}}},
    }
    (tmp_path / "api.json").write_text(json.dumps(spec))
    raw = dev_raw()
    raw["apis"][0].pop("operations")
    raw["apis"][0]["openapi"] = {"file": "api.json", "operationRoles": {"read-a": ["Orders.Read"]}}
    with pytest.raises(
        ConfigError,
        match=r"apis\[0\]\.openapi\.operationRoles: operation "
        r"'write-a' has no roles",
    ):
        parse_config(raw, "dev", tmp_path)


def test_an_openapi_file_that_is_not_utf8_is_named_with_the_fix(tmp_path: Path) -> None:
    (tmp_path / "api.json").write_bytes(b'{"openapi": "3.0.1", "info": "\xff\xfe"}')
    raw = dev_raw()
    raw["apis"][0].pop("operations")
    raw["apis"][0]["openapi"] = {"file": "api.json", "operationRoles": {"read-a": ["Orders.Read"]}}
    with pytest.raises(ConfigError, match=r"'api\.json' is not UTF-8 text; save it as UTF-8"):
        parse_config(raw, "dev", tmp_path)


def test_a_stack_name_azure_names_cannot_hold_is_refused() -> None:
    with pytest.raises(ConfigError, match="stack name 'Dev-Stack' must be 1-12 lowercase"):
        parse_config(dev_raw(), "Dev-Stack", ROOT)


def test_backend_auth_takes_the_word_or_the_object_form() -> None:
    raw = dev_raw()
    raw["apis"][0]["backendAuth"] = {"mode": "none", "reason": "a legacy backend on a VPN"}
    raw["apis"][1]["backendAuth"] = "managedIdentity"
    config = parse_config(raw, "dev", ROOT)
    assert not config.apis[0].hop_authenticated
    assert config.apis[0].backend_auth.reason == "a legacy backend on a VPN"
    assert config.apis[1].hop_authenticated
    assert config.apis[1].app_service is not None
    assert config.apis[0].backend_path == "/api"


def test_the_project_file_declares_every_config_key_the_model_knows() -> None:
    from components.config import StackConfig

    declared = set(yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["config"])
    known = {field.alias or name for name, field in StackConfig.model_fields.items()}
    assert declared == known

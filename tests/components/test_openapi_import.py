"""An API whose operations come from an OpenAPI file: imported, each operation still guarded."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import yaml

from components.gateway_policy import parse_operation_policy
from sandbox.check.runner import run_check
from sandbox.plan.model import build_plan
from sandbox.program.runner import run_program
from tests.fixture_stacks import stack_document
from tests.plan_helpers import named, of_type

ROOT = Path(__file__).resolve().parents[2]
SPEC = {
    "openapi": "3.0.1",
    "info": {"title": "Customers", "version": "1"},
    "paths": {
        "/customers": {"get": {"operationId": "list-customers", "responses": {"200": {}}}},
        "/customers/{id}": {
            "delete": {"operationId": "delete-customer", "responses": {"204": {}}},
        },
    },
}


def project_with_openapi_api(tmp_path: Path) -> Path:
    shutil.copy(ROOT / "__main__.py", tmp_path / "__main__.py")
    shutil.copy(ROOT / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    (tmp_path / "customers.json").write_text(json.dumps(SPEC))
    document = stack_document("dev")
    document["config"]["secure-api-calls:apis"].append(
        {
            "name": "customers",
            "displayName": "Customers API",
            "path": "customers",
            "backendUrl": "https://customers.contoso.example",
            "roles": [{"value": "Customers.Read"}, {"value": "Customers.Admin"}],
            "openapi": {
                "file": "customers.json",
                "operationRoles": {
                    "list-customers": ["Customers.Read", "Customers.Admin"],
                    "delete-customer": ["Customers.Admin"],
                },
            },
        }
    )
    document["config"]["secure-api-calls:consumers"][1]["calls"].append(
        {"api": "customers", "roles": ["Customers.Read"]}
    )
    (tmp_path / "Pulumi.dev.yaml").write_text(yaml.safe_dump(document))
    return tmp_path


def test_openapi_operations_are_imported_and_each_gets_its_role_policy(tmp_path: Path) -> None:
    plan: dict[str, Any] = build_plan(run_program("dev", project_with_openapi_api(tmp_path)))
    api = named(plan, "customers-gateway-api")["inputs"]
    assert api["format"] == "openapi+json"
    assert json.loads(api["value"]) == SPEC
    assert not [r for r in of_type(plan, ":ApiOperation") if r["inputs"]["apiId"] == "customers"]
    policies = {
        r["inputs"]["operationId"]: parse_operation_policy(r["inputs"]["value"]).roles
        for r in of_type(plan, ":ApiOperationPolicy")
        if r["inputs"]["apiId"] == "customers"
    }
    assert policies == {
        "list-customers": ("Customers.Read", "Customers.Admin"),
        "delete-customer": ("Customers.Admin",),
    }
    assert not run_check(plan, {}).mandatory_failed

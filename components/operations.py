"""Each API's operations as a caller sees them: method, URL template and the roles (any-of).

Declared operations come from the config; imported ones from the OpenAPI document (its
`paths`, where APIM takes them from on import). Exported per API, so `secure-api-calls
verify` knows which calls a token's roles should open without reading the config.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from components.config import Api

# OpenAPI 3 path-item keys that are operations (everything else there is metadata).
_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


@dataclass(frozen=True)
class Route:
    id: str
    method: str
    url_template: str
    roles: tuple[str, ...]

    def export(self) -> dict[str, object]:
        return {
            "id": self.id,
            "method": self.method,
            "urlTemplate": self.url_template,
            "roles": list(self.roles),
        }


def routes(api: Api, base_dir: Path) -> tuple[Route, ...]:
    if api.openapi is None:
        return tuple(Route(op.id, op.method, op.url_template, op.roles) for op in api.operations)
    # The config model already read and checked this file (components/config.py).
    document = json.loads((base_dir / api.openapi.file).read_text(encoding="utf-8"))
    found = []
    for path, item in (document.get("paths") or {}).items():
        for method in _METHODS:
            operation = item.get(method) if isinstance(item, dict) else None
            if isinstance(operation, dict) and operation.get("operationId") in (
                api.openapi.operation_roles
            ):
                op_id = operation["operationId"]
                found.append(Route(op_id, method.upper(), path, api.openapi.operation_roles[op_id]))
    return tuple(found)

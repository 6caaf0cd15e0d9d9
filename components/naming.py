"""Names and stable identifiers derived from the project, stack and config.

Azure names are deterministic so that a plan is reproducible and a rename is a reviewed diff.
App-role and role-assignment IDs come from uuid5: random IDs would change on every run and
break every token that carries the role.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

PROJECT = "secure-api-calls"  # the Pulumi project name (Pulumi.yaml), the root of every ID
# A fixed namespace for this project's uuid5 identifiers; never change it (it would re-key
# every app role of every deployed stack).
ID_NAMESPACE = uuid.UUID("6f1c1c2e-5b7a-4f0e-9d8a-3c2b1a0f9e7d")


def stable_id(*parts: str) -> str:
    """A UUID derived from the parts: the same input gives the same ID on every run."""
    return str(uuid.uuid5(ID_NAMESPACE, "/".join((PROJECT, *parts))))


def app_role_id(stack: str, api: str, role: str) -> str:
    return stable_id(stack, api, "app-role", role)


# The app role the gateway's managed identity holds on every API registration whose backend
# trusts the gateway (the backend hop). Reserved: the config refuses it as a role an API
# declares or a consumer or group is granted, so only the gateway can ever hold it.
GATEWAY_ROLE = "Gateway.Forward"


def gateway_role_id(stack: str, api: str) -> str:
    """The gateway role's ID on one API: uuid5 like every other app role, never random."""
    return app_role_id(stack, api, GATEWAY_ROLE)


def scope_id(stack: str, api: str, scope: str) -> str:
    return stable_id(stack, api, "scope", scope)


def slug(text: str) -> str:
    """A Pulumi-name-friendly form of a role value: `Orders.Read` -> `orders-read`."""
    out = "".join(ch.lower() if ch.isalnum() else "-" for ch in text)
    return "-".join(part for part in out.split("-") if part)


@dataclass(frozen=True)
class Names:
    """Azure resource names for one stack; Azure's length rules are checked in config."""

    prefix: str
    stack: str

    @property
    def resource_group(self) -> str:
        return f"rg-{self.prefix}-{self.stack}"

    @property
    def api_management(self) -> str:
        return f"apim-{self.prefix}-{self.stack}"

    @property
    def app_service_plan(self) -> str:
        return f"asp-{self.prefix}-{self.stack}"

    @property
    def key_vault(self) -> str:
        return f"kv-{self.prefix}-{self.stack}"

    @property
    def log_workspace(self) -> str:
        return f"log-{self.prefix}-{self.stack}"

    @property
    def app_insights(self) -> str:
        return f"appi-{self.prefix}-{self.stack}"

    def web_app(self, consumer: str) -> str:
        return f"app-{self.prefix}-{consumer}-{self.stack}"

    def app_registration(self, api: str) -> str:
        return f"{self.prefix}-{api}-{self.stack}"


def audience_named_value(api: str) -> str:
    return f"{api}-audience"


def audience_v1_named_value(api: str) -> str:
    return f"{api}-audience-v1"


TENANT_NAMED_VALUE = "tenant-id"


def backend_id(api: str) -> str:
    return f"{api}-backend"


def subscription_id(api: str, consumer: str) -> str:
    return f"{api}-{consumer}"


# The subscription `secure-api-calls verify` calls with (a consumer may not take this name).
VERIFICATION = "verification"


def key_secret_name(api: str, consumer: str) -> str:
    return f"apim-key-{api}-{consumer}"


def client_named_value(consumer: str) -> str:
    """The gateway named value holding a consumer identity's client ID (one per consumer)."""
    return f"client-{consumer}"

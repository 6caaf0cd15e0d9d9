"""Azure's naming rules for every name the stack derives, as pure checks.

Source: learn.microsoft.com/azure/azure-resource-manager/management/resource-name-rules (and
the ARM specs' patterns, 2024-05-01). The provider checks maxLength and patterns in a real
preview; under the offline plan's mocks nothing does, so config.py runs these on every
derived name and names the config key that produced it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class NameRule:
    what: str
    low: int
    high: int
    pattern: re.Pattern[str]
    shape: str  # the pattern in words, for the message
    global_: bool = False  # unique across Azure: someone else may hold the name

    def problem(self, name: str) -> str | None:
        if not self.low <= len(name) <= self.high:
            return (
                f"{self.what} name '{name}' has {len(name)} characters; Azure allows "
                f"{self.low}-{self.high}"
            )
        if not self.pattern.fullmatch(name):
            return f"{self.what} name '{name}' must be {self.shape}"
        return None


_APIM_ID = re.compile(r"[A-Za-z][A-Za-z0-9-]*")
_APIM_ID_SHAPE = "letters, digits and hyphens, starting with a letter"

RULES: dict[str, NameRule] = {
    "resource_group": NameRule(
        "resource group",
        1,
        90,
        re.compile(r"[-\w._()]*[-\w_()]"),
        "letters, digits, '-', '_', '.', '(' or ')', not ending with a period",
    ),
    "api_management": NameRule(
        "API Management service",
        1,
        50,
        re.compile(r"[A-Za-z]([A-Za-z0-9-]*[A-Za-z0-9])?"),
        "letters, digits and hyphens, starting with a letter and ending with a letter or digit",
        global_=True,
    ),
    "key_vault": NameRule(
        "Key Vault",
        3,
        24,
        re.compile(r"[A-Za-z](?!.*--)[A-Za-z0-9-]*[A-Za-z0-9]"),
        "letters, digits and single hyphens, starting with a letter, ending with a letter or digit",
        global_=True,
    ),
    "key_vault_secret": NameRule(
        "Key Vault secret", 1, 127, re.compile(r"[A-Za-z0-9-]+"), "letters, digits and hyphens"
    ),
    "web_app": NameRule(
        "Web App",
        2,
        60,
        re.compile(r"[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?"),
        "letters, digits and hyphens, not starting or ending with a hyphen",
        global_=True,
    ),
    "app_service_plan": NameRule(
        "App Service plan", 1, 60, re.compile(r"[A-Za-z0-9-]+"), "letters, digits and hyphens"
    ),
    "log_workspace": NameRule(
        "Log Analytics workspace",
        4,
        63,
        re.compile(r"[A-Za-z0-9][A-Za-z0-9-]*[A-Za-z0-9]"),
        "letters, digits and hyphens, starting and ending with a letter or digit",
    ),
    "app_insights": NameRule(
        "Application Insights",
        1,
        260,
        re.compile(r"[^%&\\?/]*[^%&\\?/ .]"),
        "free of % & \\ ? / and not ending with a space or period",
    ),
    # APIM entity ids: ARM allows up to 256 for some, the portal and most entities 80; the
    # stricter rule holds everywhere.
    **{
        kind: NameRule(f"APIM {what}", 1, 80, _APIM_ID, _APIM_ID_SHAPE)
        for kind, what in (
            ("apim_api", "API id"),
            ("apim_operation", "operation id"),
            ("apim_backend", "backend id"),
            ("apim_named_value", "named value id"),
            ("apim_subscription", "subscription id"),
        )
    },
}


def problem(kind: str, name: str) -> str | None:
    """Why Azure would refuse `name` for a resource of this kind, or None."""
    return RULES[kind].problem(name)

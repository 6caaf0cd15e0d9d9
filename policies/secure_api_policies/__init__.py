"""The secure-api-calls policy pack's rules, importable without starting a policy server.

`policies/__main__.py` hands `all_policies()` to `PolicyPack`; `sandbox check` runs the very
same objects over an offline Plan. Only `pulumi_policy` and the standard library are used,
because the pack runs in its own virtual environment.
"""

from __future__ import annotations

from pulumi_policy import Policy

from . import (
    api_management,
    apim_injection,
    backend_hop,
    entra,
    gateway_policy_xml,
    pipeline,
    preflight,
    private_network,
    role_coverage,
    secret_lifetime,
    stack_rules,
    web_app,
)
from ._common import SECRET, UNKNOWN, StackResource, Violation
from .catalog import RULES, RuleInfo

__all__ = [
    "RULES",
    "SECRET",
    "UNKNOWN",
    "RuleInfo",
    "StackResource",
    "Violation",
    "all_policies",
]


def all_policies() -> list[Policy]:
    """Every policy of the pack, ordered by rule number (stable for reports and tests)."""
    policies: list[Policy] = [
        *web_app.policies(),
        *api_management.policies(),
        *gateway_policy_xml.policies(),
        *entra.policies(),
        *stack_rules.policies(),
        *role_coverage.policies(),
        *preflight.policies(),
        *pipeline.policies(),
        *private_network.policies(),
        *secret_lifetime.policies(),
        *apim_injection.policies(),
        *backend_hop.policies(),
    ]
    names = [p.name for p in policies]
    # A rule added in code but not in the catalogue (or the reverse) would silently lose its
    # number and mirrors in every report: fail at import time instead.
    if sorted(names) != sorted(RULES) or len(set(names)) != len(names):
        raise RuntimeError(f"policy names and catalogue differ: {sorted(set(names) ^ set(RULES))}")
    return sorted(policies, key=lambda p: (RULES[p.name].number, p.name))

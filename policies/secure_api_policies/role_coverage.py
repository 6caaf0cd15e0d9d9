"""Rule 34: roles the gateway demands and roles consumers are granted exist on the API's
own app registration.

A typo here fails closed in the worst way: the policy requires `Orders.Raed`, no token ever
carries it, and every call gets 403 in production while every unit test passes.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from pulumi_policy import StackValidationPolicy

from ._common import StackResource, Violation, show, stack_policy
from ._links import (
    API,
    API_OPERATION_POLICY,
    API_POLICY,
    arm_segment,
    client_ids,
    known,
    link,
    object_ids,
    of_type,
    refers_to_api,
    registration_ids,
    same_api,
)
from .entra import APP_ROLE, APP_ROLE_ASSIGNMENT, IDENTIFIER_URI, REGISTRATION, SERVICE_PRINCIPAL
from .gateway_policy_xml import Unreadable, parse_policy, token_validations

NAMED_VALUE = "azure-native:apimanagement:NamedValue"
_NAMED_VALUE_REF = re.compile(r"^\{\{([^{}]+)\}\}$")


class _Stack:
    """The resources rule 34 walks, indexed once."""

    def __init__(self, resources: Sequence[StackResource]) -> None:
        self.all = resources
        self.regs = of_type(resources, REGISTRATION)
        self.roles = of_type(resources, APP_ROLE)
        self.uris = of_type(resources, IDENTIFIER_URI)
        self.named_values = of_type(resources, NAMED_VALUE)
        self.by_urn = {r.urn: r for r in resources}

    def roles_of(self, reg: StackResource) -> list[StackResource] | None:
        """The registration's app roles; None if some role's link cannot be told."""
        mine = []
        for role in self.roles:
            owners = link(role, "applicationId", self.regs, registration_ids)
            if owners is None:
                return None
            if reg in owners:
                mine.append(role)
        return mine

    def regs_for_literal(self, audience: str) -> list[StackResource] | None:
        if not any(client_ids(r) for r in self.regs):
            return None  # client IDs unknown (preview): cannot be told
        matched = [
            r
            for r in self.regs
            if audience in {f for c in client_ids(r) for f in (c, f"api://{c}", f"api://{c}/")}
        ]
        for uri in self.uris:
            if known(uri.props.get("identifierUri")) == audience:
                matched += link(uri, "applicationId", self.regs, registration_ids) or []
        return list({r.urn: r for r in matched}.values())

    def regs_for_audience(self, audience: str) -> list[StackResource] | None:
        ref = _NAMED_VALUE_REF.match(audience)
        if ref is None:
            return self.regs_for_literal(audience)
        name = ref.group(1)
        named = [
            nv
            for nv in self.named_values
            if name
            in (
                nv.props.get("displayName"),
                nv.props.get("namedValueId"),
                arm_segment(nv, "namedValues"),
            )
        ]
        if not named:
            return None  # managed outside this stack
        by_value = None
        if (value := known(named[0].props.get("value"))) is not None:
            by_value = self.regs_for_literal(value)
            if by_value:
                return by_value
        # Unknown or masked value (or client IDs unknown at preview): follow what the named
        # value was computed from.
        deps = named[0].property_dependencies.get("value", ())
        sources = [self.by_urn[u] for u in deps if u in self.by_urn]
        regs = [s for s in sources if s.type == REGISTRATION]
        for uri in (s for s in sources if s.type == IDENTIFIER_URI):
            regs += link(uri, "applicationId", self.regs, registration_ids) or []
        return regs or by_value


def _audiences(policy: StackResource, stack: _Stack, own: tuple[str, ...]) -> tuple[str, ...]:
    """An operation policy may leave audiences to its API's policy."""
    if own or policy.type != API_OPERATION_POLICY:
        return own
    api_urns = {a.urn for a in of_type(stack.all, API)}
    apis = [a for a in of_type(stack.all, API) if refers_to_api(policy, a, api_urns)]
    found: list[str] = []
    for api_policy in of_type(stack.all, API_POLICY):
        belongs = any(refers_to_api(api_policy, a, api_urns) for a in apis) or same_api(
            api_policy, policy, api_urns
        )
        root = parse_policy(api_policy.props) if belongs else None
        if root is not None and not isinstance(root, Unreadable):
            found += [a for v in token_validations(root) for a in v.audiences]
    return tuple(dict.fromkeys(found))


def _policy_roles(policy: StackResource, stack: _Stack) -> list[Violation]:
    root = parse_policy(policy.props)
    if isinstance(root, Unreadable):
        return []  # rule 22 reports unreadable documents
    validations = token_validations(root)
    required = list(dict.fromkeys(r for v in validations for r in v.roles))
    if not required:
        return []
    own = tuple(dict.fromkeys(a for v in validations for a in v.audiences))
    found = []
    regs: dict[str, StackResource] = {}
    for audience in _audiences(policy, stack, own):
        matched = stack.regs_for_audience(audience)
        if matched == []:
            found.append(
                Violation(
                    f"{policy.label} accepts audience {show(audience)}, which matches no app "
                    "registration in this stack, so its roles cannot be checked: use the API "
                    "registration's client ID (or api://<clientId>)",
                    policy.urn,
                )
            )
        regs.update({r.urn: r for r in matched or []})
    for reg in regs.values():
        roles = stack.roles_of(reg)
        values = [role.props.get("value") for role in roles or []]
        if roles is None or any(known(v) is None for v in values):
            continue
        for missing in (r for r in required if r not in values):
            found.append(
                Violation(
                    f"{policy.label} requires role {show(missing)}, which {reg.label} does not "
                    f"define: add an ApplicationAppRole with value {show(missing)} to it, or "
                    "fix the policy (no token can ever carry an undefined role)",
                    policy.urn,
                )
            )
    return found


def _assignment_role(assignment: StackResource, stack: _Stack) -> list[Violation]:
    role_id = known(assignment.props.get("appRoleId"))
    if role_id is None:
        return []
    sps = link(assignment, "resourceObjectId", of_type(stack.all, SERVICE_PRINCIPAL), object_ids)
    if not sps:
        return []  # an API outside this stack (or unknown at preview)
    regs = link(sps[0], "clientId", stack.regs, client_ids)
    if not regs:
        return []
    roles = stack.roles_of(regs[0])
    ids = [role.props.get("roleId") for role in roles or []]
    if roles is None or any(known(i) is None for i in ids) or role_id in ids:
        return []
    return [
        Violation(
            f"{assignment.label} grants appRoleId {role_id}, which is not an app role of "
            f"{regs[0].label}: set app_role_id to the ApplicationAppRole's role_id",
            assignment.urn,
        )
    ]


def required_roles_defined(resources: Sequence[StackResource]) -> list[Violation]:
    stack = _Stack(resources)
    found = []
    for policy in of_type(resources, API_POLICY, API_OPERATION_POLICY):
        found += _policy_roles(policy, stack)
    for assignment in of_type(resources, APP_ROLE_ASSIGNMENT):
        found += _assignment_role(assignment, stack)
    return found


def policies() -> list[StackValidationPolicy]:
    return [stack_policy("entra-required-roles-defined", required_roles_defined)]

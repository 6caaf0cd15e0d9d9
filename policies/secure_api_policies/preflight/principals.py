"""Rules 41 and 43: who a role goes to, as far as the plan can tell.

Both rules ask the same question of an assignment: does its principal come from this stack,
and if so, what kind of principal is it? A principal comes from the stack when the assignment's
principal property was computed from a stack resource (a property dependency: a Web App's or
gateway's `identity.principalId`, a user-assigned identity, a service principal, a group), or,
when the value is known, when it equals such a resource's principal or object ID. A literal ID
that matches nothing in the stack came from configuration: a user, a group or a principal
managed elsewhere, which the pack cannot tell apart.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from .._common import StackResource, Violation, get_path, show
from .._links import known, of_type

APP_ROLE_ASSIGNMENT = "azuread:index/appRoleAssignment:AppRoleAssignment"
ROLE_ASSIGNMENT = "azure-native:authorization:RoleAssignment"
SERVICE_PRINCIPAL = "azuread:index/servicePrincipal:ServicePrincipal"
GROUP = "azuread:index/group:Group"
USER = "azuread:index/user:User"
USER_ASSIGNED_IDENTITY = "azure-native:managedidentity:UserAssignedIdentity"

Kind = Literal["ServicePrincipal", "Group", "User"]


def _kind_of(res: StackResource) -> Kind | None:
    """What kind of principal a stack resource stands for (None: it is not a principal)."""
    if res.type == GROUP:
        return "Group"
    if res.type == USER:
        return "User"
    if res.type in (SERVICE_PRINCIPAL, USER_ASSIGNED_IDENTITY):
        return "ServicePrincipal"
    # Any resource with a managed identity (WebApp, ApiManagementService, ...): a managed
    # identity is a service principal in Entra.
    return "ServicePrincipal" if isinstance(res.props.get("identity"), dict) else None


def _ids_of(res: StackResource) -> set[str]:
    ids = {
        known(get_path(res.props, "identity", "principalId")),
        known(res.props.get("objectId")),
        known(res.props.get("principalId")) if res.type == USER_ASSIGNED_IDENTITY else None,
    }
    return {i for i in ids if i}


def principal_kind(
    assignment: StackResource, prop: str, resources: Sequence[StackResource]
) -> Kind | Literal["outside", "unknown"]:
    """The kind of the principal `assignment.props[prop]` names, 'outside' the stack, or
    'unknown' when it cannot be told (an unknown value computed from nothing in the stack)."""
    by_urn = {r.urn: r for r in resources}
    for urn in assignment.property_dependencies.get(prop, ()):
        if (source := by_urn.get(urn)) is not None and (kind := _kind_of(source)) is not None:
            return kind
    value = known(assignment.props.get(prop))
    if value is None:
        return "unknown"
    for res in resources:
        if value in _ids_of(res) and (kind := _kind_of(res)) is not None:
            return kind
    return "outside"


def app_role_group_licence(resources: Sequence[StackResource]) -> list[Violation]:
    """Rule 41 (advisory): app roles on groups need Entra ID P1 or P2.

    "Assigning app roles to groups requires Microsoft Entra ID P1 or P2"
    (learn.microsoft.com/entra/identity-platform/howto-add-app-roles-in-apps). A group defined
    in the stack is certain; a literal object ID from configuration may be a group.
    """
    found = []
    for assignment in of_type(resources, APP_ROLE_ASSIGNMENT):
        kind = principal_kind(assignment, "principalObjectId", resources)
        if kind not in ("Group", "outside"):
            continue
        principal = show(known(assignment.props.get("principalObjectId")) or "computed")
        what = (
            "a group of this stack"
            if kind == "Group"
            else "a literal object ID that is no managed identity or service principal of this "
            "stack (a group, a user or an outside principal)"
        )
        found.append(
            Violation(
                f"{assignment.label} assigns an app role to {principal}, {what}: if it is a "
                "group, Graph accepts the assignment only in a tenant with Microsoft Entra ID P1 "
                "or P2, and a managed identity never receives roles through a group; check the "
                "licence, or assign the role to each user or identity directly",
                assignment.urn,
            )
        )
    return found


def role_assignment_principal_type(resources: Sequence[StackResource]) -> list[Violation]:
    """Rule 43: the principal type sent must match the principal.

    The SDK sends `principalType: "User"` when the program leaves it out
    (authorization/role_assignment.py: `if principal_type is None: principal_type = 'User'`),
    and ARM refuses a managed identity under that type: `UnmatchedPrincipalType: The
    PrincipalId '...' has type 'ServicePrincipal', which is different from specified
    PrincipalType 'User'` (Azure/modern-web-app-pattern-dotnet#129).
    """
    found = []
    for assignment in of_type(resources, ROLE_ASSIGNMENT):
        sent = known(assignment.props.get("principalType"))
        kind = principal_kind(assignment, "principalId", resources)
        if sent is None or kind in ("outside", "unknown") or sent == kind:
            continue
        found.append(
            Violation(
                f"{assignment.label} sends principalType={show(sent)} for a principal that is a "
                f"{kind} (computed from this stack): ARM answers UnmatchedPrincipalType; set "
                f'principal_type="{kind}" (the SDK sends "User" when it is left out)',
                assignment.urn,
            )
        )
    return found

"""Rules that need the whole stack: 4, 5 (publishing switches per Web App), 23 (every API
validates tokens), 32 (role uniqueness per registration) and 33 (direct role assignments).

Rule 34, which follows audiences to registrations, lives in `role_coverage`.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence

from pulumi_policy import StackValidationPolicy

from ._common import (
    StackResource,
    Violation,
    get_path,
    is_opaque,
    short_type,
    show,
    stack_policy,
    unverifiable,
)
from ._links import API, api_policies_of, known, of_type
from .entra import APP_ROLE, APP_ROLE_ASSIGNMENT
from .gateway_policy_xml import TokenValidation, Unreadable, parse_policy, token_validations
from .web_app import WEB_APP

FTP_ALLOWED = "azure-native:web:WebAppFtpAllowed"
SCM_ALLOWED = "azure-native:web:WebAppScmAllowed"


# After deployment the switch's `name` output is the ARM child name ("ftp"/"scm"), not the
# Web App's; its ID still names the site.
_SWITCH_NAMES = ("ftp", "scm")
_SITE_IN_ID = re.compile(
    r"/resourceGroups/([^/]+)/providers/Microsoft\.Web/sites/([^/]+)/"
    r"basicPublishingCredentialsPolicies/",
    re.IGNORECASE,
)


def _switch_target(switch: StackResource) -> tuple[str, str | None] | None:
    """(Web App name, resource group) a switch names by value, if it names one."""
    if (rid := known(switch.props.get("id"))) and (m := _SITE_IN_ID.search(rid)):
        return m.group(2), m.group(1)
    name = known(switch.props.get("name"))
    if name is not None and name.lower() not in _SWITCH_NAMES:
        return name, known(switch.props.get("resourceGroupName"))
    return None


def _serves(switch: StackResource, app: StackResource, app_urns: set[str]) -> bool | None:
    """Whether `switch` configures `app`; None when it cannot be told."""
    if switch.depends_on("name", app.urn):
        return True
    target = _switch_target(switch)
    if target is not None:
        name, group = known(app.props.get("name")), known(app.props.get("resourceGroupName"))
        if name is None:
            return None
        same_group = target[1] is None or group is None or target[1].lower() == group.lower()
        return target[0] == name and same_group
    # No usable value: the program's depends_on (or parent chain) still says which app it is.
    depended = app_urns.intersection(switch.dependencies)
    return app.urn in depended if depended else None


def _publishing_off(resources: Sequence[StackResource], switch_type: str) -> list[Violation]:
    kind = short_type(switch_type)
    what = "FTP" if switch_type == FTP_ALLOWED else "SCM (Kudu/zip deploy)"
    switches = of_type(resources, switch_type)
    found = []
    for s in switches:
        allow = s.props.get("allow")
        if is_opaque(allow):
            found.append(Violation(unverifiable(s.label, "allow", "set allow=False"), s.urn))
        elif allow is not False:
            found.append(
                Violation(
                    f"{s.label} has allow={show(allow)}: set allow=False so {what} publishing "
                    "with a username and password is refused",
                    s.urn,
                )
            )
    apps = of_type(resources, WEB_APP)
    app_urns = {a.urn for a in apps}
    for app in apps:
        verdicts = [_serves(s, app, app_urns) for s in switches]
        if True in verdicts or None in verdicts:
            continue  # configured, or some switch's target cannot be told: don't guess
        found.append(
            Violation(
                f"{app.label} has no {kind}: add web.{kind}(name=app.name, "
                f"resource_group_name=..., allow=False); basic-auth {what} publishing is on "
                "by default",
                app.urn,
            )
        )
    return found


def ftp_basic_auth_disabled(resources: Sequence[StackResource]) -> list[Violation]:
    return _publishing_off(resources, FTP_ALLOWED)


def scm_basic_auth_disabled(resources: Sequence[StackResource]) -> list[Violation]:
    return _publishing_off(resources, SCM_ALLOWED)


def _gaps(v: TokenValidation) -> list[str]:
    gaps = []
    if not v.tenant_id:
        gaps.append('a tenant-id (tenant-id="{{tenant-id}}")')
    if not v.client_application_ids:
        # The policy reference required at least one application-id (2022-2023) and the
        # service refused policies without it in April 2024 (MicrosoftDocs/azure-docs#121329,
        # #121338); it is also what limits a valid token to the callers the API expects.
        gaps.append("a <client-application-ids><application-id> (each allowed caller's client ID)")
    if not v.audiences:
        gaps.append("an <audiences><audience> (the API's client ID)")
    if not v.roles:
        gaps.append('a <required-claims><claim name="roles"> with at least one <value>')
    return gaps


def _token_problems(policy: StackResource) -> list[str] | None:
    """What the ApiPolicy lacks; None when it validates tokens (or cannot be told yet)."""
    root = parse_policy(policy.props)
    if isinstance(root, Unreadable):
        # An unknown document is reported by rule 22 as unverifiable; don't guess here.
        return None if root.opaque else [f"{policy.label} {root.reason}"]
    validations = token_validations(root)
    if any(not _gaps(v) for v in validations):
        return None
    if not validations:
        return [
            (
                f"{policy.label} has no validate-azure-ad-token directly in <inbound>: add one "
                "with tenant-id, the allowed client application IDs, an audience and a roles "
                "required claim"
            )
        ]
    return [
        f"{policy.label} validates tokens without {' and '.join(_gaps(v))}: add it"
        for v in validations
    ]


def api_validates_entra_token(resources: Sequence[StackResource]) -> list[Violation]:
    found = []
    for api in of_type(resources, API):
        policies, maybe = api_policies_of(api, resources)
        if not policies and not maybe:
            found.append(
                Violation(
                    f"{api.label} has no ApiPolicy: add one whose <inbound> holds "
                    "validate-azure-ad-token with tenant-id, an audience and a roles required "
                    "claim, or any identity in the tenant can call it",
                    api.urn,
                )
            )
        verdicts = [_token_problems(p) for p in policies]
        if verdicts and all(v is not None for v in verdicts):
            found.extend(Violation(f"{api.label}: {p}", api.urn) for v in verdicts for p in v or [])
    return found


def app_role_values_unique(resources: Sequence[StackResource]) -> list[Violation]:
    groups: dict[str, list[StackResource]] = defaultdict(list)
    for role in of_type(resources, APP_ROLE):
        deps = role.property_dependencies.get("applicationId", ())
        key = known(role.props.get("applicationId")) or (deps[0] if deps else None)
        if key is not None:
            groups[key].append(role)
    found = []
    for roles in groups.values():
        for prop in ("value", "roleId"):
            seen: dict[str, StackResource] = {}
            for role in roles:
                value = known(role.props.get(prop))
                if value is None:
                    continue
                if value in seen:
                    found.append(
                        Violation(
                            f"{role.label} repeats {prop}={show(value)} of {seen[value].label} "
                            f"on the same registration: give every app role its own {prop}",
                            role.urn,
                        )
                    )
                else:
                    seen[value] = role
    return found


def consumer_identity_has_direct_role(resources: Sequence[StackResource]) -> list[Violation]:
    assignments = of_type(resources, APP_ROLE_ASSIGNMENT)
    granted = {known(a.props.get("principalObjectId")) for a in assignments} - {None}
    found = []
    for app in of_type(resources, WEB_APP):
        identity_type = get_path(app.props, "identity", "type")
        if not isinstance(identity_type, str) or "systemassigned" not in identity_type.lower():
            continue  # rule 6 reports the missing identity
        if any(a.depends_on("principalObjectId", app.urn) for a in assignments):
            continue
        principal = known(get_path(app.props, "identity", "principalId"))
        if principal is None or principal in granted:
            continue
        found.append(
            Violation(
                f"{app.label} has a managed identity (principal {principal}) that holds no "
                "app-role assignment: add azuread.AppRoleAssignment(principal_object_id="
                "app.identity.principal_id, ...) per role it needs; roles held through a group "
                "never reach a managed identity's token",
                app.urn,
            )
        )
    return found


def policies() -> list[StackValidationPolicy]:
    return [
        stack_policy("webapp-ftp-basic-auth-disabled", ftp_basic_auth_disabled),
        stack_policy("webapp-scm-basic-auth-disabled", scm_basic_auth_disabled),
        stack_policy("apim-api-validates-entra-token", api_validates_entra_token),
        stack_policy("entra-app-role-values-unique", app_role_values_unique),
        stack_policy("entra-consumer-identity-has-direct-role", consumer_identity_has_direct_role),
    ]

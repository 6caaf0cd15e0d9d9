"""Rules 47-53 and 62: the hop from the gateway to the backend is authenticated, only the
gateway can make it, and the caller's credentials stop at the gateway.

- 47/48: every API policy gets the gateway's own token for the backend
  (`authentication-managed-identity`, learn.microsoft.com/azure/api-management/
  authentication-managed-identity-policy) after it has validated the caller's, unless the
  API's Backend declares why not (advisory 48 reports the reason).
- 49: a header the gateway derives for the backend (a policy expression) is first removed
  from what the caller sent, and set only after the caller's token is validated.
- 50/51: the gateway role (`Gateway.Forward`) is for applications only, held by the gateway's
  identity and nothing else, and assigned wherever a policy asks Entra for it (the API's
  service principal requires assignment: without it Entra refuses the token, AADSTS501051).
- 52/53: a backend site the stack configures (App Service authentication v2,
  learn.microsoft.com/azure/app-service/configure-authentication-provider-aad) requires
  authentication, answers 401, takes the API's registration as its audience, allows the
  gateway's identity alone, and trusts the issuer of the registration's token version.
- 62: after validating the caller, every API policy removes the caller's subscription key
  (header and query: APIM forwards both unless a policy removes them), the caller's token
  when no `authentication-managed-identity` replaces it, and method-override headers (a
  backend framework honouring one would run a method the gateway never judged).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence

from pulumi_policy import StackValidationPolicy

from ._common import StackResource, Violation, get_path, is_opaque, show, stack_policy
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
)
from .entra import APP_ROLE, APP_ROLE_ASSIGNMENT, REGISTRATION, SERVICE_PRINCIPAL
from .gateway_policy_xml import Unreadable, parse_policy

# Rule 34's index of registrations by audience: the same resolution of `{{named-value}}`,
# client ID or identifier URI to the registration it names.
from .role_coverage import _Stack as Registrations
from .web_app import WEB_APP

GATEWAY_ROLE = "Gateway.Forward"  # components/naming.py; a test keeps the two equal
# What the backend must not receive from the caller (components/caller_headers.py, kept equal
# by a test): APIM's default subscription-key names, the caller's token header, and the
# method-override headers a backend framework may honour.
SUBSCRIPTION_KEY_HEADER = "Ocp-Apim-Subscription-Key"
SUBSCRIPTION_KEY_QUERY = "subscription-key"
CALLER_TOKEN_HEADER = "Authorization"
METHOD_OVERRIDE_HEADERS = ("X-HTTP-Method-Override", "X-HTTP-Method", "X-Method-Override")
# How a Backend declares an unauthenticated hop (components/protected_api.py).
UNAUTHENTICATED_HOP = "Backend hop not authenticated: "
APIM_SERVICE = "azure-native:apimanagement:ApiManagementService"
BACKEND = "azure-native:apimanagement:Backend"
AUTH_SETTINGS = "azure-native:web:WebAppAuthSettingsV2"
_EXPRESSION = re.compile(r"^\s*@[({]")
_HOP_FIX = (
    'add <authentication-managed-identity resource="{{<api>-audience}}" /> to <inbound> after '
    "validate-azure-ad-token, so the backend receives the gateway's token and trusts exactly "
    "one caller; or declare why not (backendAuth: {mode: none, reason: ...})"
)


def _inbound(policy: StackResource) -> list[ET.Element] | None:
    root = parse_policy(policy.props)
    if isinstance(root, Unreadable):
        return None  # rule 22 reports unreadable or unknown documents
    inbound = root.find("inbound")
    return list(inbound) if inbound is not None else []


def _after_validation(statements: list[ET.Element], tag: str) -> list[ET.Element]:
    seen = False
    found = []
    for statement in statements:
        seen = seen or statement.tag == "validate-azure-ad-token"
        if statement.tag == tag and seen:
            found.append(statement)
    return found


def _backend_ids(statements: list[ET.Element]) -> list[str]:
    return [s.get("backend-id", "") for s in statements if s.tag == "set-backend-service"]


def _exception(policy: StackResource, resources: Sequence[StackResource], ids: list[str]) -> bool:
    """The Backend this policy forwards to declares, with a reason, an unauthenticated hop."""
    service = known(policy.props.get("serviceName")) or arm_segment(policy, "service")
    for backend in of_type(resources, BACKEND):
        backend_id = known(backend.props.get("backendId")) or known(backend.props.get("name"))
        theirs = known(backend.props.get("serviceName")) or arm_segment(backend, "service")
        if backend_id in ids and (service is None or theirs is None or service == theirs):
            text = known(backend.props.get("description")) or ""
            if text.startswith(UNAUTHENTICATED_HOP) and text[len(UNAUTHENTICATED_HOP) :].strip():
                return True
    return False


def hop_authenticated(resources: Sequence[StackResource]) -> list[Violation]:
    found = []
    for policy in of_type(resources, API_POLICY):
        statements = _inbound(policy)
        if statements is None:
            continue
        hops = _after_validation(statements, "authentication-managed-identity")
        lenient = [h for h in hops if h.get("ignore-error", "false").lower() == "true"]
        if lenient:
            found.append(
                Violation(
                    f"{policy.label} has authentication-managed-identity with "
                    'ignore-error="true": a failed token request forwards the call without the '
                    'gateway\'s token; remove ignore-error (its default is "false")',
                    policy.urn,
                )
            )
        if hops or _exception(policy, resources, _backend_ids(statements)):
            continue
        before = any(s.tag == "authentication-managed-identity" for s in statements)
        where = (
            "only before validate-azure-ad-token (which would then judge the gateway's token)"
            if before
            else "without the gateway's own token"
        )
        found.append(Violation(f"{policy.label} calls its backend {where}: {_HOP_FIX}", policy.urn))
    return found


def hop_exceptions(resources: Sequence[StackResource]) -> list[Violation]:
    found = []
    for backend in of_type(resources, BACKEND):
        text = known(backend.props.get("description")) or ""
        if text.startswith(UNAUTHENTICATED_HOP):
            reason = text[len(UNAUTHENTICATED_HOP) :].strip() or "(no reason given)"
            found.append(
                Violation(
                    f"{backend.label} is called without the gateway's token ({reason}): whoever "
                    "reaches it directly skips every check the gateway makes; authenticate the "
                    "hop (backendAuth managedIdentity) when the backend can check a token",
                    backend.urn,
                )
            )
    return found


def caller_headers_from_token(resources: Sequence[StackResource]) -> list[Violation]:
    found = []
    for policy in of_type(resources, API_POLICY, API_OPERATION_POLICY):
        statements = _inbound(policy)
        if statements is None:
            continue
        validated, removed = False, set()
        for statement in statements:
            name = (statement.get("name") or "").lower()
            if statement.tag == "validate-azure-ad-token":
                validated = True
            if statement.tag != "set-header":
                continue
            action = statement.get("exists-action", "override")
            if action == "delete":
                removed.add(name)
                continue
            values = [(v.text or "") for v in statement.findall("value")]
            if not any(_EXPRESSION.match(v) for v in values):
                continue  # a constant: nothing of the caller's
            problems = []
            if not validated:
                problems.append("is set before the caller's token is validated")
            if name not in removed:
                problems.append(
                    "is not removed from the caller's request first (add <set-header "
                    f'name="{statement.get("name")}" exists-action="delete" /> before it)'
                )
            if action in ("skip", "append"):
                problems.append(f'uses exists-action="{action}", which keeps a forged value')
            if problems:
                found.append(
                    Violation(
                        f"{policy.label}: header {show(statement.get('name'))} the gateway "
                        f"derives for the backend {'; '.join(problems)}: a caller could forge it",
                        policy.urn,
                    )
                )
    return found


def _api_key_names(policy: StackResource, resources: Sequence[StackResource]) -> tuple[str, str]:
    """(header, query) the policy's API takes the subscription key in: the Api's
    subscriptionKeyParameterNames, else APIM's defaults (components/caller_headers.py)."""
    api_urns = {a.urn for a in of_type(resources, API)}
    for api in of_type(resources, API):
        if refers_to_api(policy, api, api_urns):
            names = api.props.get("subscriptionKeyParameterNames")
            if isinstance(names, dict):
                return (
                    known(names.get("header")) or SUBSCRIPTION_KEY_HEADER,
                    known(names.get("query")) or SUBSCRIPTION_KEY_QUERY,
                )
    return SUBSCRIPTION_KEY_HEADER, SUBSCRIPTION_KEY_QUERY


def _removed_after_validation(statements: list[ET.Element], tag: str) -> set[str]:
    return {
        (s.get("name") or "").lower()
        for s in _after_validation(statements, tag)
        if s.get("exists-action") == "delete"
    }


def caller_credentials_stop_at_gateway(resources: Sequence[StackResource]) -> list[Violation]:
    found = []
    for policy in of_type(resources, API_POLICY):
        statements = _inbound(policy)
        if statements is None:
            continue
        header, query = _api_key_names(policy, resources)
        headers = _removed_after_validation(statements, "set-header")
        missing = [
            f'<set-header name="{name}" exists-action="delete" />'
            for name in (header, *METHOD_OVERRIDE_HEADERS)
            if name.lower() not in headers
        ]
        if query.lower() not in _removed_after_validation(statements, "set-query-parameter"):
            missing.append(f'<set-query-parameter name="{query}" exists-action="delete" />')
        replaced = _after_validation(statements, "authentication-managed-identity")
        if not replaced and CALLER_TOKEN_HEADER.lower() not in headers:
            missing.append(f'<set-header name="{CALLER_TOKEN_HEADER}" exists-action="delete" />')
        if missing:
            found.append(
                Violation(
                    f"{policy.label} forwards to its backend what the caller sent to the gateway "
                    "(its subscription key, its token or a method override): a backend holding "
                    "them can replay them at the gateway, or run a method the gateway did not "
                    f"judge; add after validate-azure-ad-token: {' '.join(missing)}",
                    policy.urn,
                )
            )
    return found


class _Gateway:
    """The gateway roles and who holds them."""

    def __init__(self, resources: Sequence[StackResource]) -> None:
        self.resources = resources
        self.roles = [
            r for r in of_type(resources, APP_ROLE) if known(r.props.get("value")) == GATEWAY_ROLE
        ]
        self.role_ids = {i for r in self.roles if (i := known(r.props.get("roleId")))}
        self.assignments = of_type(resources, APP_ROLE_ASSIGNMENT)
        self.held = [
            a for a in self.assignments if known(a.props.get("appRoleId")) in self.role_ids
        ]
        self.services = [
            s
            for s in of_type(resources, APIM_SERVICE)
            if "systemassigned" in str(get_path(s.props, "identity", "type") or "").lower()
        ]

    def principal(self, assignment: StackResource) -> str:
        """What identifies the assignee: its object ID, else the resource it came from."""
        value = known(assignment.props.get("principalObjectId"))
        deps = assignment.property_dependencies.get("principalObjectId", ())
        return value or ("|".join(sorted(deps)) if deps else "<unknown>")

    def is_service(self, assignment: StackResource) -> bool | None:
        if not self.services:
            return None  # an existing gateway: nothing in the stack to compare with
        value = known(assignment.props.get("principalObjectId"))
        for service in self.services:
            if assignment.depends_on("principalObjectId", service.urn):
                return True
            if value and value == known(get_path(service.props, "identity", "principalId")):
                return True
        return False


def _is_web_app_identity(assignment: StackResource, resources: Sequence[StackResource]) -> bool:
    value = known(assignment.props.get("principalObjectId"))
    for app in of_type(resources, WEB_APP):
        if assignment.depends_on("principalObjectId", app.urn):
            return True
        if value and value == known(get_path(app.props, "identity", "principalId")):
            return True
    return False


def gateway_role_only_gateway(resources: Sequence[StackResource]) -> list[Violation]:
    gateway = _Gateway(resources)
    found = []
    for role in gateway.roles:
        members = role.props.get("allowedMemberTypes")
        if not is_opaque(members) and members != ["Application"]:
            found.append(
                Violation(
                    f"{role.label} ({GATEWAY_ROLE}) allows member types {show(members)}: set "
                    'allowed_member_types=["Application"] so no person or group can hold it',
                    role.urn,
                )
            )
    holders = {gateway.principal(a) for a in gateway.held}
    others = {gateway.principal(a) for a in gateway.assignments if a not in gateway.held}
    for assignment in gateway.held:
        who = gateway.principal(assignment)
        wrong = None
        if _is_web_app_identity(assignment, resources):
            wrong = "a consumer Web App's identity"
        elif gateway.is_service(assignment) is False:
            wrong = "not the API Management service's identity"
        elif who in others:
            wrong = "a principal that holds other app roles too (a consumer or a group)"
        elif len(holders) > 1 and not gateway.services:
            wrong = "one of several different principals (only the one gateway may hold it)"
        if wrong:
            found.append(
                Violation(
                    f"{assignment.label} grants {GATEWAY_ROLE} to {wrong}: only the gateway's "
                    "managed identity may hold it, since the backends trust whoever does",
                    assignment.urn,
                )
            )
    return found


def _service_principals_of(
    reg: StackResource, resources: Sequence[StackResource]
) -> list[StackResource]:
    sps = of_type(resources, SERVICE_PRINCIPAL)
    return [sp for sp in sps if reg in (link(sp, "clientId", [reg], client_ids) or [])]


def gateway_role_assigned(resources: Sequence[StackResource]) -> list[Violation]:
    index = Registrations(resources)
    gateway = _Gateway(resources)
    found = []
    for policy in of_type(resources, API_POLICY):
        statements = _inbound(policy)
        if statements is None:
            continue
        audiences = [
            (a.text or "").strip()
            for s in statements
            if s.tag == "validate-azure-ad-token"
            for a in s.iter("audience")
        ]
        for hop in _after_validation(statements, "authentication-managed-identity"):
            resource = hop.get("resource", "")
            if resource not in audiences:
                found.append(
                    Violation(
                        f"{policy.label} asks Entra for {show(resource)}, which is none of the "
                        "audiences it validates: the backend would get a token for another "
                        'registration; use the API\'s own (resource="{{<api>-audience}}")',
                        policy.urn,
                    )
                )
                continue
            for reg in index.regs_for_audience(resource) or []:
                found += _role_problems(policy, reg, index, gateway, resources)
    return found


def _role_problems(
    policy: StackResource,
    reg: StackResource,
    index: Registrations,
    gateway: _Gateway,
    resources: Sequence[StackResource],
) -> list[Violation]:
    roles = index.roles_of(reg)
    if roles is None:
        return []
    mine = [r for r in roles if r in gateway.roles]
    if not mine:
        return [
            Violation(
                f"{policy.label} authenticates its backend hop for {reg.label}, which defines "
                f'no {GATEWAY_ROLE} app role: add one (allowed_member_types=["Application"]) '
                "and assign it to the gateway's identity",
                policy.urn,
            )
        ]
    ids = {known(r.props.get("roleId")) for r in mine}
    sps = _service_principals_of(reg, resources)
    for assignment in gateway.held:
        if known(assignment.props.get("appRoleId")) not in ids:
            continue
        targets = link(assignment, "resourceObjectId", sps, object_ids)
        if targets is None or targets:
            return []
    return [
        Violation(
            f"{policy.label} asks Entra for the gateway's token for {reg.label}, but nothing "
            f"assigns its {GATEWAY_ROLE} role to the gateway: the registration requires "
            "assignment, so Entra refuses the token (AADSTS501051) and every call fails; add "
            "azuread.AppRoleAssignment(principal_object_id=<the gateway's principal ID>, ...)",
            policy.urn,
        )
    ]


def _site_label(settings: StackResource) -> str:
    # Once deployed, `name` is the ARM child's ("authsettingsV2"); the ID still names the site.
    site = known(settings.props.get("name"))
    if site in (None, "authsettingsV2"):
        site = arm_segment(settings, "sites")
    return f"{settings.label} (site {show(site)})" if site else settings.label


def _site_problems(settings: StackResource, resources: Sequence[StackResource]) -> list[str]:
    props, problems = settings.props, []

    def value(*path: str) -> object:
        return get_path(props, *path)

    if value("platform", "enabled") is not True:
        problems.append("platform.enabled is not true (authentication is off)")
    if value("globalValidation", "requireAuthentication") is not True:
        problems.append("globalValidation.requireAuthentication is not true")
    action = value("globalValidation", "unauthenticatedClientAction")
    if not is_opaque(action) and action != "Return401":
        problems.append(f"unauthenticatedClientAction is {show(action)}, not Return401")
    entra = ("identityProviders", "azureActiveDirectory")
    if value(*entra, "enabled") is not True:
        problems.append("the Microsoft Entra provider is not enabled")
    client = known(value(*entra, "registration", "clientId"))
    audiences = value(*entra, "validation", "allowedAudiences")
    if isinstance(audiences, list) and client is not None:
        foreign = [a for a in audiences if known(a) and a not in (client, f"api://{client}")]
        if foreign:
            problems.append(f"allowedAudiences also admits {show(foreign[0])}")
    policy = (*entra, "validation", "defaultAuthorizationPolicy")
    apps = value(*policy, "allowedApplications")
    identities = value(*policy, "allowedPrincipals", "identities")
    if not is_opaque(apps) and (not isinstance(apps, list) or len(apps) != 1):
        problems.append(f"allowedApplications is {show(apps)}, not exactly the gateway's client ID")
    if not is_opaque(identities) and (not isinstance(identities, list) or len(identities) != 1):
        problems.append(
            f"allowedPrincipals.identities is {show(identities)}, not exactly the gateway's "
            "principal ID"
        )
    elif isinstance(identities, list) and (who := known(identities[0])) is not None:
        holders = {known(a.props.get("principalObjectId")) for a in _Gateway(resources).held}
        if holders - {None} and who not in holders:
            problems.append(f"the allowed identity {who} does not hold the {GATEWAY_ROLE} role")
    return problems


def backend_accepts_only_the_gateway(resources: Sequence[StackResource]) -> list[Violation]:
    found = []
    for settings in of_type(resources, AUTH_SETTINGS):
        problems = _site_problems(settings, resources)
        if problems:
            found.append(
                Violation(
                    f"{_site_label(settings)}: {'; '.join(problems)}: the site must require "
                    "authentication, answer 401, and allow the gateway's identity alone, or "
                    "anyone who reaches it skips the gateway",
                    settings.urn,
                )
            )
    return found


_ISSUERS = {
    1: re.compile(r"^https://sts\.windows\.net/[^/]+/$"),
    2: re.compile(r"^https://login\.microsoftonline\.com/[^/]+/v2\.0$"),
}


def backend_issuer_matches(resources: Sequence[StackResource]) -> list[Violation]:
    regs = of_type(resources, REGISTRATION)
    found = []
    for settings in of_type(resources, AUTH_SETTINGS):
        entra = ("identityProviders", "azureActiveDirectory", "registration")
        issuer = known(get_path(settings.props, *entra, "openIdIssuer"))
        client = known(get_path(settings.props, *entra, "clientId"))
        if issuer is None:
            continue
        matched = [r for r in regs if client and client in client_ids(r)]
        matched = matched or [r for r in regs if settings.depends_on("identityProviders", r.urn)]
        for reg in matched[:1]:
            version = reg.props.get("requestedAccessTokenVersion")
            version = 2 if version == 2 else 1  # unset means v1 (Microsoft Graph's default)
            if not _ISSUERS[version].match(issuer):
                wanted = (
                    "https://login.microsoftonline.com/<tenant>/v2.0"
                    if version == 2
                    else "https://sts.windows.net/<tenant>/"
                )
                found.append(
                    Violation(
                        f"{_site_label(settings)} trusts issuer {show(issuer)}, but "
                        f"{reg.label} issues v{version} tokens: set openIdIssuer to {wanted}, "
                        "or the site refuses the gateway's every token",
                        settings.urn,
                    )
                )
    return found


def policies() -> list[StackValidationPolicy]:
    return [
        stack_policy("apim-backend-hop-authenticated", hop_authenticated),
        stack_policy("apim-backend-hop-exception", hop_exceptions),
        stack_policy("apim-caller-headers-not-forgeable", caller_headers_from_token),
        stack_policy("apim-caller-credentials-stop-at-gateway", caller_credentials_stop_at_gateway),
        stack_policy("entra-gateway-role-only-gateway", gateway_role_only_gateway),
        stack_policy("entra-gateway-role-assigned", gateway_role_assigned),
        stack_policy("webapp-backend-accepts-only-the-gateway", backend_accepts_only_the_gateway),
        stack_policy("webapp-backend-issuer-matches-token-version", backend_issuer_matches),
    ]

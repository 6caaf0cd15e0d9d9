"""The gateway policy: a pure builder for APIM policy XML, and its exact inverse.

The builder turns a typed spec into the XML deployed as ApiPolicy / ApiOperationPolicy
(`format: xml`); `parse_api_policy` / `parse_operation_policy` turn such XML back into the spec
and refuse anything the builder would not emit. The generic statement tree (what the policy
pack inspects and the rehearsal gateway executes) lives in `policy_document`.

The API scope answers 401 for any token problem, removes what the backend must not receive
from the caller (its subscription key, in the header and the query; method-override headers;
its own token when the hop is not authenticated), removes the caller-identity headers a caller
may have sent and sets them from the validated token (`caller_headers`), authenticates the
backend call with the gateway's own managed identity (`authentication-managed-identity`: the
backend receives the gateway's token, not the caller's) and picks the backend.

The operation scope judges the caller's token *before* `<base />`: once the API scope has run,
the Authorization header holds the gateway's token (authentication-managed-identity sets it
there at once; learn.microsoft.com/azure/api-management/authentication-managed-identity-policy),
so a role check after `<base />` would judge the gateway instead of the caller. It therefore
repeats the API scope's 401 check first (a token problem is a 401 before any role is judged),
then answers 403 for a missing role, then runs the API scope.
"""

from __future__ import annotations

import dataclasses
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from components.caller_headers import (
    CALLER_HEADERS,
    CALLER_TOKEN_HEADER,
    METHOD_OVERRIDE_HEADERS,
    SUBSCRIPTION_KEY_HEADER,
    SUBSCRIPTION_KEY_QUERY,
    TOKEN_VARIABLE,
)
from components.policy_document import (
    SECTIONS,
    AuthenticationManagedIdentity,
    Base,
    Claim,
    PolicyDocument,
    SetBackendService,
    SetHeader,
    SetQueryParameter,
    Statement,
    UnsupportedPolicyError,
    ValidateAzureAdToken,
    is_expression,
    parse_policy,
)

__all__ = [
    "SECTIONS",
    "UNAUTHORIZED_MESSAGE",
    "ApiPolicySpec",
    "AuthenticationManagedIdentity",
    "Base",
    "Claim",
    "OperationPolicySpec",
    "PolicyDocument",
    "SetBackendService",
    "SetHeader",
    "SetQueryParameter",
    "Statement",
    "TokenCheck",
    "UnsupportedPolicyError",
    "ValidateAzureAdToken",
    "build_api_policy",
    "build_operation_policy",
    "forbidden_message",
    "parse_api_policy",
    "parse_operation_policy",
    "parse_policy",
]

SpecT = TypeVar("SpecT")

UNAUTHORIZED_MESSAGE = "Unauthorized. Access token is missing or invalid."

# XML 1.0 `Char`, minus \r: the parser turns \r into \n in element text, so it cannot round-trip.
_ILLEGAL_CHARS = re.compile("[^\t\n\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def forbidden_message(roles: Sequence[str]) -> str:
    """The 403 message of an operation: names the role(s) the caller lacks."""
    if not roles:
        raise ValueError("forbidden_message needs at least one role")
    if len(roles) == 1:
        return f"Forbidden. This operation requires the app role {roles[0]}."
    return f"Forbidden. This operation requires one of the app roles: {', '.join(roles)}."


def _check_text(field: str, value: str) -> None:
    if not value.strip():
        raise ValueError(f"{field} must not be empty or whitespace only")
    if match := _ILLEGAL_CHARS.search(value):
        raise ValueError(f"{field} contains {match.group()!r}, which XML cannot carry")
    if is_expression(value):
        raise ValueError(f"{field} must not look like a policy expression: {value!r}")


def _check_list(field: str, values: tuple[str, ...], *, required: bool) -> None:
    if required and not values:
        raise ValueError(f"{field} needs at least one entry")
    for value in values:
        _check_text(field, value)
    if len(set(values)) != len(values):
        raise ValueError(f"{field} has duplicates: {list(values)}")


# Every check names its allowed callers (`<client-application-ids>`): the policy reference
# said "At least one application-id must be specified" (2022-2023) and the service refused
# policies without it in April 2024 (MicrosoftDocs/azure-docs#121329, #121338); nothing shows
# it accepts them now, so the builder never emits a validation without it.


@dataclass(frozen=True)
class TokenCheck:
    """The API-level token validation: what makes a token a token for this API (else 401)."""

    tenant: str  # literal attribute text, e.g. "{{tenant-id}}"
    client_application_ids: tuple[str, ...]  # e.g. ("{{client-storefront}}", "<tool GUID>")
    audiences: tuple[str, ...]  # literal texts, e.g. ("{{orders-audience}}",)
    roles: tuple[str, ...]  # every role the API defines; holding none = not a client of it
    require_v2: bool  # adds ver=2.0: a v1 token whose aud happens to be the GUID is refused

    def __post_init__(self) -> None:
        _check_text("tenant", self.tenant)
        _check_list("client_application_ids", self.client_application_ids, required=True)
        _check_list("audiences", self.audiences, required=True)
        _check_list("roles", self.roles, required=False)

    def claims(self) -> tuple[Claim, ...]:
        found = []
        if self.roles:
            found.append(Claim("roles", "any", None, self.roles))
        if self.require_v2:
            found.append(Claim("ver", "all", None, ("2.0",)))
        return tuple(found)


@dataclass(frozen=True)
class ApiPolicySpec:
    token: TokenCheck
    backend_id: str
    # The `resource` the gateway asks Entra for with its managed identity: the API
    # registration's client ID as a named value (`{{orders-audience}}`), so the backend's
    # allowed audience is that client ID. None: the hop is not authenticated (backendAuth none).
    hop_resource: str | None = None

    def __post_init__(self) -> None:
        _check_text("backend_id", self.backend_id)
        if self.hop_resource is not None:
            _check_text("hop_resource", self.hop_resource)


@dataclass(frozen=True)
class OperationPolicySpec:
    token: TokenCheck  # the API's own check, repeated before the role check
    roles: tuple[str, ...]  # the operation's roles, any-of

    def __post_init__(self) -> None:
        _check_list("roles", self.roles, required=True)


# --- building ----------------------------------------------------------------------------


def _validate_token(
    check: TokenCheck,
    code: int,
    message: str,
    claims: Sequence[Claim],
    output_variable: str | None = None,
) -> ET.Element:
    attributes = {
        "tenant-id": check.tenant,
        "header-name": "Authorization",
        "failed-validation-httpcode": str(code),
        "failed-validation-error-message": message,
    }
    if output_variable:
        attributes["output-token-variable-name"] = output_variable
    element = ET.Element("validate-azure-ad-token", attributes)
    # The documented child order: client-application-ids before audiences.
    clients_element = ET.SubElement(element, "client-application-ids")
    for client in check.client_application_ids:
        ET.SubElement(clients_element, "application-id").text = client
    audiences_element = ET.SubElement(element, "audiences")
    for audience in check.audiences:
        ET.SubElement(audiences_element, "audience").text = audience
    if claims:
        claims_element = ET.SubElement(element, "required-claims")
        for claim in claims:
            claim_element = ET.SubElement(claims_element, "claim", name=claim.name)
            claim_element.set("match", claim.match)
            for value in claim.values:
                ET.SubElement(claim_element, "value").text = value
    return element


def _document(inbound: Sequence[ET.Element], *, base_first: bool = True) -> str:
    root = ET.Element("policies")
    for section in SECTIONS:
        section_element = ET.SubElement(root, section)
        if section == "inbound" and not base_first:
            section_element.extend(inbound)
            ET.SubElement(section_element, "base")
            continue
        ET.SubElement(section_element, "base")
        if section == "inbound":
            section_element.extend(inbound)
    ET.indent(root, space="    ")
    return ET.tostring(root, encoding="unicode") + "\n"


def _caller_credentials(hop_authenticated: bool) -> list[ET.Element]:
    """What the caller sent that the backend must never receive (caller_headers.py says why).
    With an authenticated hop, authentication-managed-identity replaces the caller's token."""
    headers = [SUBSCRIPTION_KEY_HEADER, *METHOD_OVERRIDE_HEADERS]
    if not hop_authenticated:
        headers.append(CALLER_TOKEN_HEADER)
    return [
        ET.Element("set-header", {"name": name, "exists-action": "delete"}) for name in headers
    ] + [
        ET.Element(
            "set-query-parameter", {"name": SUBSCRIPTION_KEY_QUERY, "exists-action": "delete"}
        )
    ]


def _caller_headers() -> list[ET.Element]:
    """Remove what the caller sent under these names, then set them from the token."""
    removed = [
        ET.Element("set-header", {"name": h.name, "exists-action": "delete"})
        for h in CALLER_HEADERS
    ]
    derived = []
    for header in CALLER_HEADERS:
        element = ET.Element("set-header", {"name": header.name, "exists-action": "override"})
        ET.SubElement(element, "value").text = header.expression
        derived.append(element)
    return removed + derived


def build_api_policy(spec: ApiPolicySpec) -> str:
    validate = _validate_token(
        spec.token, 401, UNAUTHORIZED_MESSAGE, spec.token.claims(), TOKEN_VARIABLE
    )
    hop = (
        [ET.Element("authentication-managed-identity", {"resource": spec.hop_resource})]
        if spec.hop_resource is not None
        else []
    )
    backend = ET.Element("set-backend-service", {"backend-id": spec.backend_id})
    credentials = _caller_credentials(hop_authenticated=bool(hop))
    return _document([validate, *credentials, *_caller_headers(), *hop, backend])


def build_operation_policy(spec: OperationPolicySpec) -> str:
    token = _validate_token(spec.token, 401, UNAUTHORIZED_MESSAGE, spec.token.claims())
    roles = _validate_token(
        spec.token, 403, forbidden_message(spec.roles), [Claim("roles", "any", None, spec.roles)]
    )
    return _document([token, roles], base_first=False)


# --- parsing back ------------------------------------------------------------------------


def _fail(path: str, problem: str) -> UnsupportedPolicyError:
    return UnsupportedPolicyError(f"{path}: {problem}")


def _claim_values(validate: ValidateAzureAdToken, name: str) -> tuple[str, ...]:
    return next((c.values for c in validate.required_claims if c.name == name), ())


def _token_check(validate: ValidateAzureAdToken) -> TokenCheck:
    return TokenCheck(
        tenant=validate.tenant_id,
        client_application_ids=validate.client_application_ids,
        audiences=validate.audiences,
        roles=_claim_values(validate, "roles"),
        require_v2=any(c.name == "ver" for c in validate.required_claims),
    )


def _validations(document: PolicyDocument, count: int, shape: str) -> list[ValidateAzureAdToken]:
    found = [s for s in document.inbound if isinstance(s, ValidateAzureAdToken)]
    if len(found) != count:
        raise _fail("policies/inbound", f"{shape} emits exactly {count} validate-azure-ad-token")
    return found


def _parse_spec(
    xml: str, build: Callable[[SpecT], str], make: Callable[[PolicyDocument], SpecT]
) -> SpecT:
    document = parse_policy(xml)
    shape = build.__name__
    try:
        spec = make(document)
    except UnsupportedPolicyError:
        raise
    except ValueError as error:
        raise _fail("policies/inbound", str(error)) from error
    # Rebuild and compare: whatever the spec cannot express (codes, messages, extra claims,
    # statements, their order) differs here, and the first difference is named.
    expected = parse_policy(build(spec))
    for field in dataclasses.fields(PolicyDocument):
        actual: tuple[Statement, ...] = getattr(document, field.name)
        wanted: tuple[Statement, ...] = getattr(expected, field.name)
        path = f"policies/{field.name.replace('_', '-')}"
        have_kinds = [type(s).__name__ for s in actual]
        want_kinds = [type(s).__name__ for s in wanted]
        if have_kinds != want_kinds:
            raise _fail(path, f"{shape} emits exactly {want_kinds}, not {have_kinds}")
        for mine, theirs in zip(actual, wanted, strict=True):
            for attribute in dataclasses.fields(mine):
                have, want = getattr(mine, attribute.name), getattr(theirs, attribute.name)
                if have != want:
                    raise _fail(path, f"{attribute.name} is {have!r}, {shape} emits {want!r}")
    return spec


def parse_api_policy(xml: str) -> ApiPolicySpec:
    """The inverse of build_api_policy; UnsupportedPolicyError for any other document."""

    def make(document: PolicyDocument) -> ApiPolicySpec:
        (validate,) = _validations(document, 1, "build_api_policy")
        backend = next((s for s in document.inbound if isinstance(s, SetBackendService)), None)
        if backend is None:
            raise _fail(
                "policies/inbound", "build_api_policy emits exactly one set-backend-service"
            )
        hop = next(
            (s for s in document.inbound if isinstance(s, AuthenticationManagedIdentity)), None
        )
        return ApiPolicySpec(
            _token_check(validate), backend.backend_id, hop.resource if hop else None
        )

    return _parse_spec(xml, build_api_policy, make)


def parse_operation_policy(xml: str) -> OperationPolicySpec:
    """The inverse of build_operation_policy; UnsupportedPolicyError for any other document."""

    def make(document: PolicyDocument) -> OperationPolicySpec:
        token, roles = _validations(document, 2, "build_operation_policy")
        return OperationPolicySpec(_token_check(token), _claim_values(roles, "roles"))

    return _parse_spec(xml, build_operation_policy, make)

"""The gateway policy: a pure builder and a strict parser for APIM policy XML.

The builder turns a typed spec into the XML deployed as ApiPolicy / ApiOperationPolicy
(`format: xml`). The parser turns policy XML into a small statement tree that the policy pack
inspects and the rehearsal gateway executes. It knows exactly the declarative subset the
builder emits and rejects everything else, so a policy the rehearsal cannot execute faithfully
fails loudly instead of passing silently.
"""

from __future__ import annotations

import dataclasses
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring as safe_fromstring

SpecT = TypeVar("SpecT")

UNAUTHORIZED_MESSAGE = "Unauthorized. Access token is missing or invalid."
SECTIONS = ("inbound", "backend", "outbound", "on-error")

# XML 1.0 `Char`, minus \r: the parser turns \r into \n in element text, so it cannot round-trip.
_ILLEGAL_CHARS = re.compile("[^\t\n\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _is_expression(value: str) -> bool:
    # APIM evaluates such values as C# policy expressions instead of taking them literally.
    return value.lstrip().startswith(("@(", "@{"))


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
    if _is_expression(value):
        raise ValueError(f"{field} must not look like a policy expression: {value!r}")


def _check_list(field: str, values: tuple[str, ...], *, required: bool) -> None:
    if required and not values:
        raise ValueError(f"{field} needs at least one entry")
    for value in values:
        _check_text(field, value)
    if len(set(values)) != len(values):
        raise ValueError(f"{field} has duplicates: {list(values)}")


# Every spec names its allowed callers (`<client-application-ids>`): the policy reference
# said "At least one application-id must be specified" (2022-2023) and the service refused
# policies without it in April 2024 (MicrosoftDocs/azure-docs#121329, #121338); nothing shows
# it accepts them now, so the builder never emits a validation without it.


@dataclass(frozen=True)
class ApiPolicySpec:
    tenant: str  # literal attribute text, e.g. "{{tenant-id}}"
    client_application_ids: tuple[str, ...]  # e.g. ("{{client-storefront}}", "<tool GUID>")
    audiences: tuple[str, ...]  # literal texts, e.g. ("{{orders-audience}}",)
    roles: tuple[str, ...]  # every role the API defines; holding none = not a client of it
    require_v2: bool  # adds ver=2.0: a v1 token whose aud happens to be the GUID is refused
    backend_id: str

    def __post_init__(self) -> None:
        _check_text("tenant", self.tenant)
        _check_list("client_application_ids", self.client_application_ids, required=True)
        _check_list("audiences", self.audiences, required=True)
        _check_list("roles", self.roles, required=False)
        _check_text("backend_id", self.backend_id)


@dataclass(frozen=True)
class OperationPolicySpec:
    tenant: str
    client_application_ids: tuple[str, ...]
    audiences: tuple[str, ...]
    roles: tuple[str, ...]  # the operation's roles, any-of

    def __post_init__(self) -> None:
        _check_text("tenant", self.tenant)
        _check_list("client_application_ids", self.client_application_ids, required=True)
        _check_list("audiences", self.audiences, required=True)
        _check_list("roles", self.roles, required=True)


# --- the generic parsed form -------------------------------------------------------------


@dataclass(frozen=True)
class Base:
    pass


@dataclass(frozen=True)
class Claim:
    name: str
    match: str  # "all" | "any"
    separator: str | None
    values: tuple[str, ...]


@dataclass(frozen=True)
class ValidateAzureAdToken:
    tenant_id: str
    header_name: str
    failed_validation_httpcode: int
    failed_validation_error_message: str | None
    audiences: tuple[str, ...]
    client_application_ids: tuple[str, ...]
    required_claims: tuple[Claim, ...]
    output_token_variable_name: str | None = None


@dataclass(frozen=True)
class SetBackendService:
    backend_id: str


Statement = Base | ValidateAzureAdToken | SetBackendService


@dataclass(frozen=True)
class PolicyDocument:
    inbound: tuple[Statement, ...]
    backend: tuple[Statement, ...]
    outbound: tuple[Statement, ...]
    on_error: tuple[Statement, ...]


class UnsupportedPolicyError(ValueError):
    """The XML uses something the builder never emits and the rehearsal cannot execute."""


# --- building ----------------------------------------------------------------------------


def _validate_token(
    tenant: str,
    code: int,
    message: str,
    clients: Sequence[str],
    audiences: Sequence[str],
    claims: Sequence[Claim],
) -> ET.Element:
    element = ET.Element(
        "validate-azure-ad-token",
        {
            "tenant-id": tenant,
            "header-name": "Authorization",
            "failed-validation-httpcode": str(code),
            "failed-validation-error-message": message,
        },
    )
    # The documented child order: client-application-ids before audiences.
    clients_element = ET.SubElement(element, "client-application-ids")
    for client in clients:
        ET.SubElement(clients_element, "application-id").text = client
    audiences_element = ET.SubElement(element, "audiences")
    for audience in audiences:
        ET.SubElement(audiences_element, "audience").text = audience
    if claims:
        claims_element = ET.SubElement(element, "required-claims")
        for claim in claims:
            claim_element = ET.SubElement(claims_element, "claim", name=claim.name)
            claim_element.set("match", claim.match)
            for value in claim.values:
                ET.SubElement(claim_element, "value").text = value
    return element


def _document(inbound: Sequence[ET.Element]) -> str:
    root = ET.Element("policies")
    for section in SECTIONS:
        section_element = ET.SubElement(root, section)
        ET.SubElement(section_element, "base")
        if section == "inbound":
            section_element.extend(inbound)
    ET.indent(root, space="    ")
    return ET.tostring(root, encoding="unicode") + "\n"


def build_api_policy(spec: ApiPolicySpec) -> str:
    claims = []
    if spec.roles:
        claims.append(Claim("roles", "any", None, spec.roles))
    if spec.require_v2:
        claims.append(Claim("ver", "all", None, ("2.0",)))
    validate = _validate_token(
        spec.tenant,
        401,
        UNAUTHORIZED_MESSAGE,
        spec.client_application_ids,
        spec.audiences,
        claims,
    )
    backend = ET.Element("set-backend-service", {"backend-id": spec.backend_id})
    return _document([validate, backend])


def build_operation_policy(spec: OperationPolicySpec) -> str:
    # Runs after <base />: the API scope has already answered 401 for every token problem,
    # so a failure here can only mean a missing role.
    message = forbidden_message(spec.roles)
    claims = [Claim("roles", "any", None, spec.roles)]
    validate = _validate_token(
        spec.tenant, 403, message, spec.client_application_ids, spec.audiences, claims
    )
    return _document([validate])


# --- parsing -----------------------------------------------------------------------------


def _fail(path: str, problem: str) -> UnsupportedPolicyError:
    return UnsupportedPolicyError(f"{path}: {problem}")


def _attributes(element: ET.Element, path: str, allowed: Sequence[str]) -> dict[str, str]:
    for name, value in element.attrib.items():
        if name not in allowed:
            raise _fail(f"{path}/@{name}", "unsupported attribute")
        if _is_expression(value):
            raise _fail(f"{path}/@{name}", f"policy expressions are not supported: {value!r}")
    return dict(element.attrib)


def _children(element: ET.Element, path: str, allowed: Sequence[str]) -> list[ET.Element]:
    """Children of a container; stray text is rejected, comments were dropped by the parser."""
    if (element.text or "").strip():
        raise _fail(path, f"unexpected text {element.text!r}")
    for child in element:
        if child.tag not in allowed:
            raise _fail(f"{path}/{child.tag}", "unsupported policy element")
        if (child.tail or "").strip():
            raise _fail(f"{path}/{child.tag}", f"unexpected text {child.tail!r} after it")
    return list(element)


def _leaf_texts(element: ET.Element, path: str, tag: str) -> tuple[str, ...]:
    texts = []
    for child in _children(element, path, [tag]):
        _attributes(child, f"{path}/{tag}", [])
        if len(child):
            raise _fail(f"{path}/{tag}/{child[0].tag}", "unsupported policy element")
        text = child.text or ""
        if _is_expression(text):
            raise _fail(f"{path}/{tag}", f"policy expressions are not supported: {text!r}")
        texts.append(text)
    if not texts:
        raise _fail(path, f"needs at least one <{tag}>")
    return tuple(texts)


_VALIDATE_ATTRIBUTES = (
    "tenant-id",
    "header-name",
    "failed-validation-httpcode",
    "failed-validation-error-message",
    "output-token-variable-name",
)


def _parse_claim(element: ET.Element, path: str) -> Claim:
    attributes = _attributes(element, path, ["name", "match", "separator"])
    if "name" not in attributes:
        raise _fail(path, "name is required")
    match = attributes.get("match", "all")
    if match not in ("all", "any"):
        raise _fail(f"{path}/@match", f"must be all or any, not {match!r}")
    values = _leaf_texts(element, path, "value")
    return Claim(attributes["name"], match, attributes.get("separator"), values)


def _parse_validate(element: ET.Element, path: str) -> ValidateAzureAdToken:
    attributes = _attributes(element, path, _VALIDATE_ATTRIBUTES)
    if "tenant-id" not in attributes:
        raise _fail(path, "tenant-id is required")
    code = attributes.get("failed-validation-httpcode", "401")
    if not (code.isascii() and code.isdigit() and 100 <= int(code) <= 599):
        raise _fail(f"{path}/@failed-validation-httpcode", f"not an HTTP status code: {code!r}")
    # The documented order; anything else (decryption-keys, backend-application-ids) is unknown.
    order = ["client-application-ids", "audiences", "required-claims"]
    lists: dict[str, tuple[str, ...]] = {}
    claims: list[Claim] = []
    last = -1
    for child in _children(element, path, order):
        child_path = f"{path}/{child.tag}"
        if order.index(child.tag) <= last:
            raise _fail(child_path, "duplicated or out of the documented order")
        last = order.index(child.tag)
        _attributes(child, child_path, [])
        if child.tag == "required-claims":
            claims = [
                _parse_claim(c, f"{child_path}/claim")
                for c in _children(child, child_path, ["claim"])
            ]
        else:
            tag = "application-id" if child.tag == "client-application-ids" else "audience"
            lists[child.tag] = _leaf_texts(child, child_path, tag)
    return ValidateAzureAdToken(
        tenant_id=attributes["tenant-id"],
        header_name=attributes.get("header-name", "Authorization"),
        failed_validation_httpcode=int(code),
        failed_validation_error_message=attributes.get("failed-validation-error-message"),
        audiences=lists.get("audiences", ()),
        client_application_ids=lists.get("client-application-ids", ()),
        required_claims=tuple(claims),
        output_token_variable_name=attributes.get("output-token-variable-name"),
    )


# The sections each statement may appear in (validate-azure-ad-token is inbound only).
_STATEMENTS = {
    "base": SECTIONS,
    "validate-azure-ad-token": ("inbound",),
    "set-backend-service": ("inbound", "backend"),
}


def _parse_statement(element: ET.Element, path: str) -> Statement:
    if element.tag == "validate-azure-ad-token":
        return _parse_validate(element, path)
    if element.tag == "set-backend-service":
        attributes = _attributes(element, path, ["backend-id"])
        _children(element, path, [])
        if "backend-id" not in attributes:
            raise _fail(path, "backend-id is required")
        return SetBackendService(attributes["backend-id"])
    _attributes(element, path, [])
    _children(element, path, [])
    return Base()


def parse_policy(xml: str) -> PolicyDocument:
    """The statement tree of a policy document; UnsupportedPolicyError for anything unknown."""
    try:
        # defusedxml: a plan file is user input; DTDs and entities are refused outright.
        root = safe_fromstring(xml)  # drops comments and processing instructions
    except (ET.ParseError, DefusedXmlException) as error:
        raise UnsupportedPolicyError(f"malformed XML: {error}") from error
    if root.tag != "policies":
        raise _fail(root.tag, "the root element must be <policies>")
    _attributes(root, "policies", [])
    sections: dict[str, tuple[Statement, ...]] = {}
    for section in _children(root, "policies", SECTIONS):
        path = f"policies/{section.tag}"
        if section.tag in sections:
            raise _fail(path, "duplicated section")
        _attributes(section, path, [])
        allowed = [tag for tag, where in _STATEMENTS.items() if section.tag in where]
        statements = _children(section, path, allowed)
        sections[section.tag] = tuple(_parse_statement(s, f"{path}/{s.tag}") for s in statements)
    for name in SECTIONS:
        if name not in sections:
            raise _fail(f"policies/{name}", "missing section")
    return PolicyDocument(
        sections["inbound"], sections["backend"], sections["outbound"], sections["on-error"]
    )


def _claim_values(validate: ValidateAzureAdToken, name: str) -> tuple[str, ...]:
    return next((c.values for c in validate.required_claims if c.name == name), ())


def _parse_spec(
    xml: str,
    build: Callable[[SpecT], str],
    make: Callable[[PolicyDocument, ValidateAzureAdToken], SpecT],
) -> SpecT:
    document = parse_policy(xml)
    shape = build.__name__
    validates = [s for s in document.inbound if isinstance(s, ValidateAzureAdToken)]
    if len(validates) != 1:
        raise _fail("policies/inbound", f"{shape} emits exactly one validate-azure-ad-token")
    try:
        spec = make(document, validates[0])
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

    def make(document: PolicyDocument, validate: ValidateAzureAdToken) -> ApiPolicySpec:
        backend = next((s for s in document.inbound if isinstance(s, SetBackendService)), None)
        if backend is None:
            raise _fail(
                "policies/inbound", "build_api_policy emits exactly one set-backend-service"
            )
        return ApiPolicySpec(
            tenant=validate.tenant_id,
            client_application_ids=validate.client_application_ids,
            audiences=validate.audiences,
            roles=_claim_values(validate, "roles"),
            require_v2=any(c.name == "ver" for c in validate.required_claims),
            backend_id=backend.backend_id,
        )

    return _parse_spec(xml, build_api_policy, make)


def parse_operation_policy(xml: str) -> OperationPolicySpec:
    """The inverse of build_operation_policy; UnsupportedPolicyError for any other document."""

    def make(_: PolicyDocument, validate: ValidateAzureAdToken) -> OperationPolicySpec:
        roles = _claim_values(validate, "roles")
        return OperationPolicySpec(
            validate.tenant_id, validate.client_application_ids, validate.audiences, roles
        )

    return _parse_spec(xml, build_operation_policy, make)

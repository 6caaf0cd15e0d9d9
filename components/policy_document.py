"""APIM policy XML as a small statement tree: the generic, strict parser.

It knows exactly the subset the builder (`gateway_policy`) emits and rejects everything else,
naming where: a policy the rehearsal cannot execute faithfully fails loudly instead of passing
silently. The one kind of policy expression it accepts is a caller-header template
(`caller_headers.TEMPLATES`), and only as a `set-header` value.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring as safe_fromstring

from components.caller_headers import TEMPLATES

SECTIONS = ("inbound", "backend", "outbound", "on-error")
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # an RFC 9110 token


def is_expression(value: str) -> bool:
    # APIM evaluates such values as C# policy expressions instead of taking them literally.
    return value.lstrip().startswith(("@(", "@{"))


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


@dataclass(frozen=True)
class SetHeader:
    """`exists-action` override (with one value) or delete (without)."""

    name: str
    exists_action: str
    value: str | None  # a literal, or exactly one of the caller-header templates


@dataclass(frozen=True)
class SetQueryParameter:
    """`exists-action` delete only: the one use the builder has (the caller's key)."""

    name: str
    exists_action: str = "delete"


@dataclass(frozen=True)
class AuthenticationManagedIdentity:
    """The gateway's own token for `resource`, set as the backend request's Authorization."""

    resource: str
    client_id: str | None = None  # None: the system-assigned identity
    output_token_variable_name: str | None = None
    ignore_error: bool = False


Statement = (
    Base
    | ValidateAzureAdToken
    | SetBackendService
    | SetHeader
    | SetQueryParameter
    | AuthenticationManagedIdentity
)


@dataclass(frozen=True)
class PolicyDocument:
    inbound: tuple[Statement, ...]
    backend: tuple[Statement, ...]
    outbound: tuple[Statement, ...]
    on_error: tuple[Statement, ...]


class UnsupportedPolicyError(ValueError):
    """The XML uses something the builder never emits and the rehearsal cannot execute."""


def _fail(path: str, problem: str) -> UnsupportedPolicyError:
    return UnsupportedPolicyError(f"{path}: {problem}")


def _attributes(element: ET.Element, path: str, allowed: Sequence[str]) -> dict[str, str]:
    for name, value in element.attrib.items():
        if name not in allowed:
            raise _fail(f"{path}/@{name}", "unsupported attribute")
        if is_expression(value):
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
        if is_expression(text):
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


def _parse_set_header(element: ET.Element, path: str) -> SetHeader:
    attributes = _attributes(element, path, ["name", "exists-action"])
    name = attributes.get("name", "")
    if not _HEADER_NAME.fullmatch(name):
        raise _fail(f"{path}/@name", f"not a header name: {name!r}")
    # APIM's default is override; skip and append are not emulated, so they are refused.
    action = attributes.get("exists-action", "override")
    if action not in ("override", "delete"):
        raise _fail(f"{path}/@exists-action", f"{action!r} is not emulated (override, delete)")
    values = _children(element, path, ["value"])
    if action == "delete":
        if values:
            raise _fail(f"{path}/value", "a header being deleted takes no value")
        return SetHeader(name, action, None)
    if len(values) != 1:
        raise _fail(path, "override takes exactly one <value>")
    _attributes(values[0], f"{path}/value", [])
    if len(values[0]):
        raise _fail(f"{path}/value/{values[0][0].tag}", "unsupported policy element")
    text = values[0].text or ""
    if is_expression(text) and text not in TEMPLATES:
        raise _fail(
            f"{path}/value",
            f"policy expression {text!r} is not one of the caller-header templates "
            "(components/caller_headers.py)",
        )
    return SetHeader(name, action, text)


def _parse_set_query_parameter(element: ET.Element, path: str) -> SetQueryParameter:
    # learn.microsoft.com/azure/api-management/set-query-parameter-policy: override (the
    # default), skip, append or delete; only delete is emulated, so the rest are refused.
    attributes = _attributes(element, path, ["name", "exists-action"])
    name = attributes.get("name", "")
    if not name.strip():
        raise _fail(f"{path}/@name", "name is required")
    action = attributes.get("exists-action", "override")
    if action != "delete":
        raise _fail(f"{path}/@exists-action", f"{action!r} is not emulated (delete)")
    _children(element, path, [])
    return SetQueryParameter(name, action)


def _parse_managed_identity(element: ET.Element, path: str) -> AuthenticationManagedIdentity:
    attributes = _attributes(
        element, path, ["resource", "client-id", "output-token-variable-name", "ignore-error"]
    )
    _children(element, path, [])
    if not attributes.get("resource", "").strip():
        raise _fail(path, "resource is required")
    ignore = attributes.get("ignore-error", "false")
    if ignore not in ("true", "false"):
        raise _fail(f"{path}/@ignore-error", f"must be true or false, not {ignore!r}")
    return AuthenticationManagedIdentity(
        attributes["resource"],
        attributes.get("client-id"),
        attributes.get("output-token-variable-name"),
        ignore == "true",
    )


# The sections each statement may appear in (validate-azure-ad-token and
# authentication-managed-identity are inbound only; set-header and set-query-parameter are
# emulated in inbound only).
_STATEMENTS = {
    "base": SECTIONS,
    "validate-azure-ad-token": ("inbound",),
    "set-header": ("inbound",),
    "set-query-parameter": ("inbound",),
    "authentication-managed-identity": ("inbound",),
    "set-backend-service": ("inbound", "backend"),
}


def _parse_statement(element: ET.Element, path: str) -> Statement:
    if element.tag == "validate-azure-ad-token":
        return _parse_validate(element, path)
    if element.tag == "set-header":
        return _parse_set_header(element, path)
    if element.tag == "set-query-parameter":
        return _parse_set_query_parameter(element, path)
    if element.tag == "authentication-managed-identity":
        return _parse_managed_identity(element, path)
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

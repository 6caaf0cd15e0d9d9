"""Rules 22 and 24, and the reading of `validate-azure-ad-token` that rules 23 and 34 share.

The gateway policy is the document APIM executes, so it is parsed, never pattern-matched:
a regular expression would accept `<base />` inside a comment or miss it across a line break.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring as safe_fromstring
from pulumi_policy import ResourceValidationPolicy

from ._common import Props, is_opaque, resource_policy, show, unverifiable

API_POLICY = "azure-native:apimanagement:ApiPolicy"
API_OPERATION_POLICY = "azure-native:apimanagement:ApiOperationPolicy"
POLICY_TYPES = (API_POLICY, API_OPERATION_POLICY)

SECTIONS = ("inbound", "backend", "outbound", "on-error")
# The *-link formats make APIM fetch the document from a URL at deploy time: nobody reviews it.
_INLINE_FORMATS = ("xml", "rawxml")


@dataclass(frozen=True)
class TokenValidation:
    """One `validate-azure-ad-token` element, reduced to what the rules reason about."""

    tenant_id: str
    audiences: tuple[str, ...]
    roles: tuple[str, ...]
    has_roles_claim: bool
    failed_validation_httpcode: str
    client_application_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class Unreadable:
    """Why a policy document cannot be inspected; `opaque` when it is merely unknown yet."""

    reason: str
    opaque: bool = False

    def messages(self, who: str) -> list[str]:
        if self.opaque:
            return [unverifiable(who, "value/format", "build the policy XML from literal input")]
        return [f"{who} {self.reason}"]


def parse_policy(props: Props) -> ET.Element | Unreadable:
    """The policy document's root element, or why it cannot be read."""
    fmt = props.get("format") or "xml"
    value = props.get("value")
    if is_opaque(fmt) or is_opaque(value):
        return Unreadable("is not known until deployment", opaque=True)
    if fmt not in _INLINE_FORMATS:
        return Unreadable(
            f"has format={show(fmt)}, which keeps the policy outside the program: set "
            'format="xml" and pass the document as value'
        )
    if not isinstance(value, str) or not value.strip():
        return Unreadable("has an empty value: set value to the <policies> document")
    try:
        root = safe_fromstring(value)
    except (ET.ParseError, DefusedXmlException) as err:
        return Unreadable(
            f"has a value that is not well-formed XML ({err}): build it with ElementTree and "
            'deploy it with format="xml"'
        )
    if root.tag != "policies":
        return Unreadable(
            f"has root <{root.tag}>, not <policies>: wrap the four sections in <policies>"
        )
    return root


def base_in_every_section(props: Props, who: str) -> list[str]:
    root = parse_policy(props)
    if isinstance(root, Unreadable):
        return root.messages(who)
    missing = [s for s in SECTIONS if root.find(s) is None]
    baseless = [s for s in SECTIONS if (el := root.find(s)) is not None and el.find("base") is None]
    problems = []
    if missing:
        problems.append(
            f"{who} has no {', '.join(f'<{s}>' for s in missing)} section: add every section "
            "with <base /> so global and product policies still run"
        )
    if baseless:
        problems.append(
            f"{who} has no <base /> in {', '.join(f'<{s}>' for s in baseless)}: add <base /> "
            "so the enclosing scope's policies (rate limits, logging, auth) are not skipped"
        )
    return problems


def no_wildcard_cors(props: Props, who: str) -> list[str]:
    root = parse_policy(props)
    if isinstance(root, Unreadable):
        return root.messages(who)
    problems = []
    for cors in root.iter("cors"):
        origins = [(o.text or "").strip() for o in cors.findall("allowed-origins/origin")]
        wild = [o for o in origins if "*" in o]
        if wild:
            credentials = cors.get("allow-credentials", "false").lower() == "true"
            extra = " together with allow-credentials=true" if credentials else ""
            problems.append(
                f"{who} has <cors> with origin {show(wild[0])}{extra}: list the exact "
                "origins in <allowed-origins> (or drop <cors>: service callers need none)"
            )
    return problems


def token_validations(root: ET.Element) -> list[TokenValidation]:
    """The validate-azure-ad-token elements placed directly in <inbound>.

    Nested ones (inside <choose>) are skipped on purpose: a condition can route around them,
    so they do not count as "every request is validated".
    """
    inbound = root.find("inbound")
    if inbound is None:
        return []
    found = []
    for el in inbound.findall("validate-azure-ad-token"):
        audiences = tuple(
            t for a in el.findall("audiences/audience") if (t := (a.text or "").strip())
        )
        clients = tuple(
            t
            for a in el.findall("client-application-ids/application-id")
            if (t := (a.text or "").strip())
        )
        roles_claims = [c for c in el.findall("required-claims/claim") if c.get("name") == "roles"]
        roles = tuple(
            t for c in roles_claims for v in c.findall("value") if (t := (v.text or "").strip())
        )
        found.append(
            TokenValidation(
                tenant_id=(el.get("tenant-id") or "").strip(),
                audiences=audiences,
                roles=roles,
                has_roles_claim=bool(roles_claims),
                failed_validation_httpcode=el.get("failed-validation-httpcode", "401"),
                client_application_ids=clients,
            )
        )
    return found


def policies() -> list[ResourceValidationPolicy]:
    both = dict.fromkeys(POLICY_TYPES, base_in_every_section)
    cors = dict.fromkeys(POLICY_TYPES, no_wildcard_cors)
    return [
        resource_policy("apim-policy-base-in-every-section", both),
        resource_policy("apim-policy-no-wildcard-cors", cors),
    ]

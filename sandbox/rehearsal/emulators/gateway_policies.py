"""Policy documents as the rehearsal gateway loads them: parsed by the strict parser, named
values substituted, and checked for anything whose APIM behaviour would have to be guessed.

Named values are substituted into the parsed statements (every attribute value and element
text), not into the XML text, so a value containing `<` or `&` cannot change the document's
structure; APIM substitutes at run time, but the values are constants in a Plan.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from typing import Any

from components.gateway_policy import (
    Base,
    Claim,
    PolicyDocument,
    Statement,
    UnsupportedPolicyError,
    ValidateAzureAdToken,
    parse_policy,
)

EMPTY_POLICY = PolicyDocument((), (), (), ())
MASKED = "[secret]"
_NAMED_VALUE_REF = re.compile(r"\{\{([^{}]*)\}\}")


class GatewayConfigError(ValueError):
    """The Plan asks for something the rehearsal gateway cannot execute faithfully."""


def _values(resource: Mapping[str, Any]) -> dict[str, Any]:
    # Outputs are what Azure would hold; inputs fill anything the mock did not echo.
    return {**resource.get("inputs", {}), **resource.get("outputs", {})}


def named_values(resources: list[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    # Policies reference a named value by its display name (Microsoft's docs); fall back to
    # the id when the display name is absent.
    found: dict[str, Mapping[str, Any]] = {}
    for resource in resources:
        values = _values(resource)
        name = values.get("displayName") or values.get("namedValueId")
        if not isinstance(name, str) or not name:
            raise GatewayConfigError(f"{resource['urn']}: NamedValue without a name")
        found[name] = resource
    return found


def _substitute(text: str, named: Mapping[str, Mapping[str, Any]], where: str) -> str:
    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        resource = named.get(name)
        if resource is None:
            known = ", ".join(sorted(named)) or "none"
            raise GatewayConfigError(f"{where}: unknown named value {{{{{name}}}}}; known: {known}")
        values = _values(resource)
        value = values.get("value")
        if values.get("keyVault") or value in (None, MASKED):
            raise GatewayConfigError(
                f"{where}: named value {{{{{name}}}}} is secret or in Key Vault, so the Plan "
                "masks it; the rehearsal cannot know its value"
            )
        value = str(value)
        if value.lstrip().startswith(("@(", "@{")) or "{{" in value:
            raise GatewayConfigError(
                f"{where}: named value {{{{{name}}}}} holds a policy expression or another "
                "named value; the rehearsal gateway does not evaluate those"
            )
        return value

    return _NAMED_VALUE_REF.sub(one, text)


def _substitute_all(item: Any, named: Mapping[str, Mapping[str, Any]], where: str) -> Any:
    """Named values appear in attribute values and element text, i.e. in every string field."""
    if isinstance(item, str):
        return _substitute(item, named, where)
    if isinstance(item, tuple):
        return tuple(_substitute_all(part, named, where) for part in item)
    if dataclasses.is_dataclass(item) and not isinstance(item, type):
        changes = {
            field.name: _substitute_all(getattr(item, field.name), named, where)
            for field in dataclasses.fields(item)
        }
        return dataclasses.replace(item, **changes)
    return item


def _check_statements(document: PolicyDocument, where: str) -> None:
    for section in dataclasses.fields(PolicyDocument):
        statements: tuple[Statement, ...] = getattr(document, section.name)
        if sum(1 for s in statements if isinstance(s, Base)) > 1:
            raise GatewayConfigError(f"{where}: <base /> twice in <{section.name}>")
        for statement in statements:
            if isinstance(statement, ValidateAzureAdToken):
                _check_validate(statement, where)


def _check_validate(statement: ValidateAzureAdToken, where: str) -> None:
    if statement.tenant_id.lower() in ("common", "organizations"):
        raise GatewayConfigError(
            f"{where}: tenant-id {statement.tenant_id!r} (multi-tenant) is not emulated"
        )
    if not statement.audiences:
        # Undocumented what APIM accepts then; refusing beats guessing "any audience".
        raise GatewayConfigError(f"{where}: validate-azure-ad-token without <audiences>")
    if statement.header_name == "":
        raise GatewayConfigError(f"{where}: empty header-name")
    bad: list[Claim] = [c for c in statement.required_claims if c.separator == ""]
    if bad:
        raise GatewayConfigError(f"{where}: claim {bad[0].name!r} has an empty separator")


def load_policy(
    resource: Mapping[str, Any], named: Mapping[str, Mapping[str, Any]]
) -> PolicyDocument:
    where = str(resource["urn"])
    values = _values(resource)
    policy_format = values.get("format", "xml")
    if policy_format not in ("xml", "rawxml"):
        raise GatewayConfigError(f"{where}: policy format {policy_format!r} is not emulated")
    text = values.get("value")
    if not isinstance(text, str):
        raise GatewayConfigError(f"{where}: policy has no XML value")
    try:
        document = parse_policy(text)
    except UnsupportedPolicyError as error:
        raise GatewayConfigError(f"{where}: {error}") from None
    substituted: PolicyDocument = _substitute_all(document, named, where)
    _check_statements(substituted, where)
    return substituted

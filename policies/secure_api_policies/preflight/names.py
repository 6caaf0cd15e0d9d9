"""Rule 42: names Azure refuses for their length or characters.

Limits from learn.microsoft.com/azure/azure-resource-manager/management/resource-name-rules
(the Microsoft.ApiManagement, Microsoft.KeyVault, Microsoft.Web, Microsoft.OperationalInsights,
Microsoft.Insights and Microsoft.Resources tables). For the API Management child IDs the page
says 1-80 alphanumerics and hyphens, starting with a letter and ending with an alphanumeric;
the REST specification is looser for some (apiId up to 256 characters, anything but
`*#&+:<>?`), so this rule follows the documented, stricter contract.

The provider's own `Check` validates schema patterns in a real preview, but not under mocks,
and not every limit is in the schema. Values unknown at preview are skipped: the engine runs
the rule again with the real name during `pulumi up`, before anything is sent.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from .._common import Props, is_opaque, show

_APIM = "azure-native:apimanagement:"


@dataclass(frozen=True)
class NameRule:
    prop: str
    min_len: int
    max_len: int
    valid: Callable[[str], bool]
    says: str  # the page's wording, so the message tells the fix


def _pattern(regex: str) -> Callable[[str], bool]:
    compiled = re.compile(regex)
    return lambda name: compiled.fullmatch(name) is not None


def _hostname_label(name: str) -> bool:
    # "Alphanumeric, hyphens and Unicode characters that can be mapped to Punycode. Can't start
    # or end with hyphen." Unicode letters and digits map to Punycode; underscores and dots don't.
    return (
        all(c.isalnum() or c == "-" for c in name)
        and not name.startswith("-")
        and not (name.endswith("-"))
    )


def _resource_group(name: str) -> bool:
    # "Underscores, hyphens, periods, parentheses, and letters or digits as defined by the
    # Char.IsLetterOrDigit function. Can't end with period."
    return all(c.isalnum() or c in "_-.()" for c in name) and not name.endswith(".")


_APIM_ID = NameRule(
    "",
    1,
    80,
    _pattern(r"[A-Za-z]([A-Za-z0-9-]*[A-Za-z0-9])?"),
    "alphanumerics and hyphens, starting with a letter and ending with an alphanumeric",
)


def _apim_id(prop: str) -> NameRule:
    return NameRule(prop, _APIM_ID.min_len, _APIM_ID.max_len, _APIM_ID.valid, _APIM_ID.says)


RULES_BY_TYPE: dict[str, NameRule] = {
    "azure-native:resources:ResourceGroup": NameRule(
        "resourceGroupName",
        1,
        90,
        _resource_group,
        "letters, digits, underscores, hyphens, periods and parentheses, not ending with a period",
    ),
    _APIM + "ApiManagementService": NameRule(
        "serviceName",
        1,
        50,
        _pattern(r"[A-Za-z]([A-Za-z0-9-]*[A-Za-z0-9])?"),
        "alphanumerics and hyphens, starting with a letter and ending with an alphanumeric "
        "(and unique across Azure)",
    ),
    _APIM + "Api": _apim_id("apiId"),
    _APIM + "ApiOperation": _apim_id("operationId"),
    _APIM + "Backend": _apim_id("backendId"),
    _APIM + "NamedValue": _apim_id("namedValueId"),
    _APIM + "Subscription": _apim_id("sid"),
    _APIM + "Logger": _apim_id("loggerId"),
    "azure-native:keyvault:Vault": NameRule(
        "vaultName",
        3,
        24,
        _pattern(r"[A-Za-z](?!.*--)([A-Za-z0-9-]*[A-Za-z0-9])?"),
        "alphanumerics and hyphens, starting with a letter, ending with a letter or digit, "
        "no consecutive hyphens (and unique across Azure)",
    ),
    "azure-native:keyvault:Secret": NameRule(
        "secretName", 1, 127, _pattern(r"[A-Za-z0-9-]+"), "alphanumerics and hyphens"
    ),
    "azure-native:web:WebApp": NameRule(
        "name",
        2,
        60,
        _hostname_label,
        "alphanumerics and hyphens, not starting or ending with a hyphen (and unique across Azure)",
    ),
    "azure-native:web:AppServicePlan": NameRule(
        "name",
        1,
        60,
        lambda n: all(c.isalnum() or c == "-" for c in n),
        "alphanumerics and hyphens",
    ),
    "azure-native:operationalinsights:Workspace": NameRule(
        "workspaceName",
        4,
        63,
        _pattern(r"[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?"),
        "alphanumerics and hyphens, starting and ending with an alphanumeric",
    ),
    "azure-native:applicationinsights:Component": NameRule(
        "resourceName",
        1,
        260,
        lambda n: (
            not set(n) & set("%&\\?/")
            and all(c.isprintable() for c in n)
            and not n.endswith((" ", "."))
        ),
        "no %&\\?/ or control characters, not ending with a space or period",
    ),
}


def name_limits(props: Props, who: str, resource_type: str) -> list[str]:
    rule = RULES_BY_TYPE[resource_type]
    name = props.get(rule.prop)
    # Absent: azure-native auto-names the resource from its Pulumi name; unknown or masked:
    # nothing to read yet.
    if not isinstance(name, str) or is_opaque(name):
        return []
    length_ok = rule.min_len <= len(name) <= rule.max_len
    if length_ok and rule.valid(name):
        return []
    return [
        f"{who} has {rule.prop}={show(name)} ({len(name)} characters): Azure accepts "
        f"{rule.min_len}-{rule.max_len} characters, {rule.says}, and refuses the request; "
        "shorten or rename it"
    ]


def checks() -> dict[str, Callable[[Props, str], list[str]]]:
    """One check per engine type token, for `resource_policy`."""

    def for_type(resource_type: str) -> Callable[[Props, str], list[str]]:
        return lambda props, who: name_limits(props, who, resource_type)

    return {t: for_type(t) for t in RULES_BY_TYPE}

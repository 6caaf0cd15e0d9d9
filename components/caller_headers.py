"""The caller's identity as the backend receives it: four headers the gateway derives from the
token it has just validated, from a fixed set of policy-expression templates.

The API policy first removes any incoming header of these names (a caller cannot forge them),
then sets each one from the validated token, which `validate-azure-ad-token` hands over as a
`Jwt` in the context variable TOKEN_VARIABLE (`output-token-variable-name`). These templates
are the only policy expressions the stack ever emits: the strict parser accepts exactly these
strings and the rehearsal gateway evaluates exactly these, and refuses any other expression.

APIM semantics the templates rely on (learn.microsoft.com/azure/api-management/
api-management-policy-expressions, "Context variable"): `Jwt.Claims` is an
`IReadOnlyDictionary<string, string[]>`, and `GetValueOrDefault(name, default)` on it gives the
claim's values joined with commas, or `default` when the token has no such claim.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

TOKEN_VARIABLE = "caller-token"


def _lookup(claim: str, default: str) -> str:
    return (
        f'((Jwt)context.Variables["{TOKEN_VARIABLE}"]).Claims.GetValueOrDefault("{claim}", '
        f"{default})"
    )


@dataclass(frozen=True)
class CallerHeader:
    name: str
    claims: tuple[str, ...]  # the first claim the token has gives the value
    meaning: str

    @property
    def expression(self) -> str:
        """The policy expression, e.g. `@(...GetValueOrDefault("azp", ...("appid", "")))`."""
        inner = '""'
        for claim in reversed(self.claims):
            inner = _lookup(claim, inner)
        return f"@({inner})"

    def value(self, claims: Mapping[str, Any]) -> str:
        """What APIM evaluates the expression to for a token with these claims."""
        for claim in self.claims:
            if claim in claims:
                return _joined(claims[claim])
        return ""


def _joined(value: Any) -> str:
    # A JSON array claim (`roles`) is several values; GetValueOrDefault joins them with ",".
    if isinstance(value, list):
        return ",".join(str(item) for item in value)
    return str(value)


# v2 tokens name the calling app in `azp`, v1 tokens in `appid`: one header covers both.
CALLER_HEADERS: tuple[CallerHeader, ...] = (
    CallerHeader("X-Caller-Client-Id", ("azp", "appid"), "the caller's client (application) ID"),
    CallerHeader("X-Caller-Object-Id", ("oid",), "the caller's object ID"),
    CallerHeader("X-Caller-Roles", ("roles",), "the caller's app roles, comma separated"),
    CallerHeader("X-Caller-Token-Version", ("ver",), "the caller's token version, 1.0 or 2.0"),
)
HEADER_NAMES: tuple[str, ...] = tuple(header.name for header in CALLER_HEADERS)
TEMPLATES: Mapping[str, CallerHeader] = {h.expression: h for h in CALLER_HEADERS}


# What the caller sent that the backend never receives: its subscription key (APIM forwards
# every request header and the query string unless a policy removes them) and the method
# override headers, which a backend framework may honour to run PUT or DELETE behind a
# gateway that judged a POST. With an unauthenticated hop, also the caller's own token: a
# backend holding it could replay it at the gateway (the hop's managed identity replaces it
# otherwise). APIM's default subscription-key names: learn.microsoft.com/azure/
# api-management/api-management-subscriptions ("Ocp-Apim-Subscription-Key" header,
# "subscription-key" query parameter); the stack never renames them.
SUBSCRIPTION_KEY_HEADER = "Ocp-Apim-Subscription-Key"
SUBSCRIPTION_KEY_QUERY = "subscription-key"
METHOD_OVERRIDE_HEADERS: tuple[str, ...] = (
    "X-HTTP-Method-Override",
    "X-HTTP-Method",
    "X-Method-Override",
)
CALLER_TOKEN_HEADER = "Authorization"


def caller_headers(claims: Mapping[str, Any]) -> dict[str, str]:
    """Header name -> value, as the backend receives them for a caller with these claims."""
    return {header.name: header.value(claims) for header in CALLER_HEADERS}

"""What a plan change does to callers, in plain words, and which changes are identity-critical.

A reviewer of an infrastructure pull request sees "ApplicationAppRole replaced"; what they
need to read is "reporting loses Orders.Read: its calls get 403". One rule per resource type
turns a change into such sentences: the Entra rules here, the gateway / Web App / Key Vault
rules in `sandbox/diff/impact_azure.py`, the subscription-key slots in
`sandbox/diff/impact_keys.py`, with the IDs named by `sandbox/diff_names.Names`
(principal IDs -> consumers, role IDs -> role values, who holds which role).

Critical (exit code 3): a replaced or deleted identity-critical resource, changed required
roles or audiences, or weakened token issuance. Everything else is a note.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sandbox.diff.impact_azure import AZURE_RULES
from sandbox.diff.impact_keys import KEY_RULES
from sandbox.diff.model import Change, Consequence
from sandbox.diff.names import (
    Names,
    Resource,
    Said,
    field,
    get,
    ident,
    owner,
    owner_label,
    short,
)

Triple = tuple[Change, Resource | None, Resource | None]

# Types without a rule of their own: what goes with them when replaced or deleted, and
# whether that is critical. Types in neither table (operations, backends, plans, FTP/SCM
# switches, components) only recreate plumbing and get no sentence.
_GENERIC: dict[str, tuple[bool, str]] = {
    "ResourceGroup": (True, "everything in the resource group goes with it"),
    "ApiManagementService": (
        True,
        "a new gateway URL, APIs, named values and subscription "
        "keys: every caller breaks until reconfigured",
    ),
    "Api": (True, "its operations, policies and subscriptions go with it: callers get 404/401"),
    "Vault": (True, "every stored subscription key and Key Vault reference breaks: 401"),
    "ApplicationPermissionScope": (
        True,
        "developers' delegated tokens for the scope stop "
        "working; pre-authorized tools need the new scope ID",
    ),
    "ApplicationPreAuthorized": (
        False,
        "the developer tool gets a consent prompt (or is refused) until it is pre-authorized again",
    ),
    # The private network (docs/private-network.md): a new VNet means re-injecting the gateway
    # (15-45 minutes, with downtime on the Developer tier: api-management-using-with-vnet) and
    # re-integrating every Web App.
    "VirtualNetwork": (
        True,
        "the gateway, the Web Apps' VNet integration and every private endpoint lose their "
        "network until they join the new one: calls fail meanwhile",
    ),
    "PrivateEndpoint": (
        False,
        "the service behind it is unreachable from the VNet until the new endpoint registers "
        "in its DNS zone (apps keep Key Vault values they already read)",
    ),
}
# Most telling first in the report: a new client ID explains most of what follows it.
_RANK = [
    "ApplicationRegistration",
    "ApplicationIdentifierUri",
    "ServicePrincipal",
    "ApplicationAppRole",
    "AppRoleAssignment",
    "ApiOperationPolicy",
    "ApiPolicy",
    "WebApp",
    "Subscription",
    "RandomPassword",
    "NamedValue",
    "Secret",
    "RoleAssignment",
]


def _registration(ch: Change, old: Resource | None, new: Resource | None, n: Names) -> Said:
    was, now = get(old, "outputs", "clientId"), get(new, "outputs", "clientId")
    api = owner_label(old, new)
    if ch.kind == "create":
        return [
            (f"API {api}: new app registration; callers request `api://{now}/.default`.", False)
        ]
    if ch.kind in ("delete", "replace"):
        fresh = f" ({was} → {now})" if now != was else ""
        what = (
            "is deleted: its client ID disappears"
            if ch.kind == "delete"
            else f"is replaced and gets a new client ID{fresh}"
        )
        text = (
            f"API {api}: app registration {ch.label} {what}: every caller's audience (`aud`) "
            f"and scope `api://{was}/.default` break until callers and the gateway named "
            "values are updated."
        )
        if ch.renamed:
            text += " Its URN changed: a Pulumi alias would keep the registration."
        return [(text, True)]
    said: Said = []
    if version := field(ch, "requestedAccessTokenVersion"):
        said.append(
            (
                f"API {api}: access tokens change from v{version[0]} to v{version[1]}: "
                "issuer and `aud` format change; the gateway's audience and `ver` checks "
                "must match or callers get 401.",
                True,
            )
        )
    if audience := field(ch, "signInAudience"):
        said.append(
            (
                f"API {api}: sign-in audience {audience[0]} → {audience[1]}: who can get "
                "tokens for the API changes.",
                True,
            )
        )
    return said


def _app_role(ch: Change, old: Resource | None, new: Resource | None, n: Names) -> Said:
    api, value = owner_label(old, new), get(new or old, "inputs", "value")
    holders = ", ".join(n.holding(owner(old), ident(old, "inputs", "value"))) if old else ""
    who = f" ({holders})" if holders else ""
    if ch.kind == "delete":
        return [
            (
                f"API {api}: role {value} is removed: its holders{who} lose it from their "
                "tokens and get 403 on operations that need it.",
                True,
            )
        ]
    if ch.kind == "replace":
        ids = field(ch, "roleId")
        if ids:
            return [
                (
                    f"API {api}: role {value} gets a new ID ({ids[0]} → {ids[1]}): tokens "
                    f"carrying the old role ID stop matching; reassign every holder{who}.",
                    True,
                )
            ]
        return [
            (
                f"API {api}: role {value} is recreated on a new registration: assignments to "
                f"the old one stop granting it; reassign every holder{who}.",
                True,
            )
        ]
    said: Said = []
    if renamed := field(ch, "value"):
        said.append(
            (
                f"API {api}: role {renamed[0]} is renamed {renamed[1]} (same ID): tokens "
                f"now carry `{renamed[1]}`; policies requiring `{renamed[0]}` answer 403.",
                True,
            )
        )
    kinds = get(new, "inputs", "allowedMemberTypes")
    if (
        ch.kind == "update"
        and isinstance(kinds, list)  # unknown or not a list: the plan cannot tell
        and "Application" not in kinds
        and any(f.path == "allowedMemberTypes" for f in ch.fields)
    ):
        said.append(
            (
                f"API {api}: role {value} can no longer be assigned to applications: "
                "managed identities cannot hold it.",
                True,
            )
        )
    return said


def _identifier_uri(ch: Change, old: Resource | None, new: Resource | None, n: Names) -> Said:
    if ch.kind not in ("delete", "replace"):
        return []
    was, now = get(old, "inputs", "identifierUri"), get(new, "inputs", "identifierUri")
    what = "is removed" if ch.kind == "delete" or was == now else f"is replaced by {now}"
    return [
        (
            f"API {owner_label(old, new)}: identifier URI {was} {what}: token requests for "
            f"scope `{was}/.default` fail (AADSTS500011) until callers use the new scope.",
            True,
        )
    ]


def _service_principal(ch: Change, old: Resource | None, new: Resource | None, n: Names) -> Said:
    api = owner_label(old, new)
    if ch.kind in ("delete", "replace"):
        what = "is deleted" if ch.kind == "delete" else "is recreated"
        return [
            (
                f"API {api}: service principal {what}: every app-role assignment to it is "
                "lost; callers get no roles (403) until reassigned.",
                True,
            )
        ]
    required = field(ch, "appRoleAssignmentRequired")
    if required and required[1] is not True:
        return [
            (
                f"API {api}: appRoleAssignmentRequired {required[0]} → {required[1]}: any "
                "identity in the tenant can get a token (with no roles); only the gateway's "
                "role check remains.",
                True,
            )
        ]
    if required:
        return [
            (
                f"API {api}: assignment now required: identities without an app-role "
                "assignment fail at token time (AADSTS501051).",
                True,
            )
        ]
    return []


def _assignment(ch: Change, old: Resource | None, new: Resource | None, n: Names) -> Said:
    before, after = (n.grant(old) if old else None), (n.grant(new) if new else None)
    said: Said = []
    if before and before != after:
        said.append(
            (f"{before[0]} loses role {before[2]} on {before[1]}: its calls get 401/403.", True)
        )
    if after and before != after:
        said.append(
            (
                f"{after[0]} gains role {after[2]} on {after[1]}; a managed identity sees it "
                "once its cached token expires (up to 24 h).",
                False,
            )
        )
    if before and before == after and ch.kind == "replace":
        said.append(
            (
                f"{before[0]}'s role {before[2]} on {before[1]} is re-assigned: calls may "
                "get 403 while it is gone; tokens are cached up to 24 h.",
                True,
            )
        )
    return said


Rule = Callable[[Change, Resource | None, Resource | None, Names], Said]
RULES: dict[str, Rule] = {
    "ApplicationRegistration": _registration,
    "ApplicationAppRole": _app_role,
    "ApplicationIdentifierUri": _identifier_uri,
    "ServicePrincipal": _service_principal,
    "AppRoleAssignment": _assignment,
    **AZURE_RULES,
    **KEY_RULES,
}


def consequences(
    triples: list[Triple], base: Mapping[str, Any], head: Mapping[str, Any]
) -> tuple[Consequence, ...]:
    """Consequences of each (change, old resource, new resource), critical ones first."""
    names = Names(base, head)
    found: list[tuple[int, Consequence]] = []
    for change, old, new in triples:
        kind = short(change.type)
        if kind in RULES:
            said = RULES[kind](change, old, new, names)
        elif kind in _GENERIC and change.kind in ("delete", "replace"):
            critical, what = _GENERIC[kind]
            verb = "deleted" if change.kind == "delete" else "replaced"
            said = [(f"{kind} {change.label} is {verb}: {what}.", critical)]
        else:
            said = []
        rank = _RANK.index(kind) if kind in _RANK else len(_RANK)
        found += [(rank, Consequence(change.urn, text, critical)) for text, critical in said]
    found.sort(key=lambda rc: (not rc[1].critical, rc[0]))
    return tuple(c for _, c in found)

"""What a plan change does to callers, in plain words, and which changes are identity-critical.

A reviewer of an infrastructure pull request sees "ApplicationAppRole replaced"; what they
need to read is "reporting loses Orders.Read: its calls get 403". The rules below translate
per resource type, using names both plans already hold: principal IDs -> consumers (Web App
identities), role IDs -> role values (ApplicationAppRole), service principal object IDs ->
APIs, and who holds which role (AppRoleAssignment) to name the callers a policy change hits.

Critical (exit code 3): a replaced or deleted identity-critical resource, changed required
roles or audiences, or weakened token issuance. Everything else is a note.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from components.naming import slug
from sandbox.diff_model import SECRET, Change, Consequence

Resource = Mapping[str, Any]
Triple = tuple[Change, Resource | None, Resource | None]
Said = list[tuple[str, bool]]  # (message, critical)

# Replacing or deleting these only recreates plumbing, never an identity: no generic warning.
# For the rest the generic sentence says what goes with them; (critical, consequence).
_GENERIC: dict[str, tuple[bool, str]] = {
    "ResourceGroup": (True, "everything in the resource group goes with it"),
    "ApiManagementService": (True, "a new gateway URL, APIs, named values and subscription "
                             "keys: every caller breaks until reconfigured"),
    "Api": (True, "its operations, policies and subscriptions go with it: callers get 404/401"),
    "Vault": (True, "every stored subscription key and Key Vault reference breaks: 401"),
    "ApplicationPermissionScope": (True, "developers' delegated tokens for the scope stop "
                                   "working; pre-authorized tools need the new scope ID"),
    "ApplicationPreAuthorized": (False, "the developer tool gets a consent prompt (or is "
                                 "refused) until it is pre-authorized again"),
}
# Most telling first in the report: a new client ID explains most of what follows it.
_RANK = ["ApplicationRegistration", "ApplicationIdentifierUri", "ServicePrincipal",
         "ApplicationAppRole", "AppRoleAssignment", "ApiOperationPolicy", "ApiPolicy",
         "WebApp", "Subscription", "NamedValue", "Secret", "RoleAssignment"]


def _short(token: str) -> str:
    return token.rsplit(":", 1)[-1]


def _owner(res: Resource) -> str:
    """The component a resource belongs to: the API or consumer name in this project."""
    parent = res.get("parent")
    return str(parent).rsplit("::", 1)[-1] if parent else str(res["name"])


def _api(old: Resource | None, new: Resource | None) -> str:
    """The owning API (or consumer), `old → new` when a rename moved the resource."""
    was, now = (_owner(old) if old else None), (_owner(new) if new else None)
    return f"{was} → {now}" if was and now and was != now else str(now or was)


def _get(res: Resource | None, part: str, *path: str) -> Any:
    value: Any = res.get(part, {}) if res else {}
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def _any(roles: Iterable[str]) -> str:
    items = sorted(roles)
    if not items:
        return "no role"
    return items[0] if len(items) == 1 else "any of " + ", ".join(items)


def _braces(name: str) -> str:
    return "{{" + name + "}}"


class Names:
    """IDs -> words, learned from both plans (head last, so its names win)."""

    def __init__(self, base: Mapping[str, Any], head: Mapping[str, Any]) -> None:
        self.principals: dict[str, str] = {}
        self.roles: dict[str, tuple[str, str]] = {}  # role ID -> (api, value)
        self.apis: dict[str, str] = {}  # service principal object ID -> api
        everything = [*base["resources"], *head["resources"]]
        for res in everything:
            kind, owner = _short(res["type"]), _owner(res)
            if kind == "WebApp" and _get(res, "outputs", "identity", "principalId"):
                self.principals[_get(res, "outputs", "identity", "principalId")] = (
                    f"consumer {owner}"
                )
            elif kind == "ApiManagementService" and _get(res, "outputs", "identity", "principalId"):
                self.principals[_get(res, "outputs", "identity", "principalId")] = "the gateway"
            elif kind == "ApplicationAppRole":
                self.roles[_get(res, "inputs", "roleId")] = (owner, _get(res, "inputs", "value"))
            elif kind == "ServicePrincipal" and _get(res, "outputs", "objectId"):
                self.apis[_get(res, "outputs", "objectId")] = owner
        for res in everything:  # group names need the role values learned above
            if _short(res["type"]) == "AppRoleAssignment" and ":ApiIdentity$" in res["urn"]:
                self._learn_group(res)
        self.before = self._holders(base)
        self.after = self._holders(head)

    def _learn_group(self, res: Resource) -> None:
        # ApiIdentity names developer grants f"{api}-group-{group}-{slug(role)}".
        oid = _get(res, "inputs", "principalObjectId")
        prefix, role = f"{_owner(res)}-group-", self.roles.get(_get(res, "inputs", "appRoleId"))
        name = str(res["name"])
        if oid and role and name.startswith(prefix):
            group = name[len(prefix):].removesuffix(f"-{slug(role[1] or '')}")
            self.principals.setdefault(oid, f"developer group {group}")

    def principal(self, object_id: Any) -> str:
        return self.principals.get(object_id, f"principal {object_id}")

    def grant(self, res: Resource) -> tuple[str, str, str]:
        """(principal, api, role value) of an AppRoleAssignment."""
        ins = res["inputs"]
        api, value = self.roles.get(ins.get("appRoleId"), ("?", f"role ID {ins.get('appRoleId')}"))
        return self.principal(ins.get("principalObjectId")), self.apis.get(
            ins.get("resourceObjectId"), api), value

    def _holders(self, plan: Mapping[str, Any]) -> dict[str, dict[str, set[str]]]:
        held: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
        for res in plan["resources"]:
            if _short(res["type"]) == "AppRoleAssignment":
                who, api, role = self.grant(res)
                held[api][who].add(role)
        return held

    def holding(self, api: str, role: str) -> list[str]:
        return sorted(who for who, roles in self.before.get(api, {}).items() if role in roles)

    def losing(self, api: str, old: frozenset[str], new: frozenset[str]) -> list[str]:
        return sorted(who for who, roles in self.after.get(api, {}).items()
                      if roles & old and not roles & new)


def policy_facts(xml: Any) -> tuple[frozenset[str], frozenset[str]] | None:
    """(required roles, audiences) of a gateway policy document, or None if unreadable."""
    if not isinstance(xml, str) or xml == SECRET:
        return None
    try:
        root = ET.fromstring(xml)
    except ET.ParseError:
        return None
    roles = frozenset(
        (value.text or "").strip() for claim in root.iter("claim") if claim.get("name") == "roles"
        for value in claim.iter("value") if (value.text or "").strip()
    )
    audiences = frozenset((a.text or "").strip() for a in root.iter("audience") if a.text)
    return roles, audiences


def _field(change: Change, path: str) -> tuple[Any, Any] | None:
    return next(((f.old, f.new) for f in change.fields if f.path == path), None)


def _registration(ch: Change, old: Resource | None, new: Resource | None, n: Names) -> Said:
    was, now = _get(old, "outputs", "clientId"), _get(new, "outputs", "clientId")
    api = _api(old, new)
    if ch.kind == "create":
        return [(f"API {api}: new app registration; callers request `api://{now}/.default`.", False)]
    if ch.kind in ("delete", "replace"):
        what = ("is deleted: its client ID disappears" if ch.kind == "delete" else
                "is replaced and gets a new client ID" + (f" ({was} → {now})" if now != was else ""))
        text = (f"API {api}: app registration {ch.label} {what}: every caller's audience (`aud`) "
                f"and scope `api://{was}/.default` break until callers and the gateway named "
                "values are updated.")
        if ch.renamed:
            text += " Its URN changed: a Pulumi alias would keep the registration."
        return [(text, True)]
    said: Said = []
    if version := _field(ch, "requestedAccessTokenVersion"):
        said.append((f"API {api}: access tokens change from v{version[0]} to v{version[1]}: "
                     "issuer and `aud` format change; the gateway's audience and `ver` checks "
                     "must match or callers get 401.", True))
    if audience := _field(ch, "signInAudience"):
        said.append((f"API {api}: sign-in audience {audience[0]} → {audience[1]}: who can get "
                     "tokens for the API changes.", True))
    return said


def _app_role(ch: Change, old: Resource | None, new: Resource | None, n: Names) -> Said:
    api, value = _api(old, new), _get(new or old, "inputs", "value")
    holders = ", ".join(n.holding(_owner(old), _get(old, "inputs", "value"))) if old else ""
    who = f" ({holders})" if holders else ""
    if ch.kind == "delete":
        return [(f"API {api}: role {value} is removed: its holders{who} lose it from their "
                 "tokens and get 403 on operations that need it.", True)]
    if ch.kind == "replace":
        ids = _field(ch, "roleId")
        if ids:
            return [(f"API {api}: role {value} gets a new ID ({ids[0]} → {ids[1]}): tokens "
                     f"carrying the old role ID stop matching; reassign every holder{who}.", True)]
        return [(f"API {api}: role {value} is recreated on a new registration: assignments to "
                 f"the old one stop granting it; reassign every holder{who}.", True)]
    said: Said = []
    if renamed := _field(ch, "value"):
        said.append((f"API {api}: role {renamed[0]} is renamed {renamed[1]} (same ID): tokens "
                     f"now carry `{renamed[1]}`; policies requiring `{renamed[0]}` answer 403.",
                     True))
    kinds = _get(new, "inputs", "allowedMemberTypes") or []
    if ch.kind == "update" and "Application" not in kinds and any(
            f.path == "allowedMemberTypes" for f in ch.fields):
        said.append((f"API {api}: role {value} can no longer be assigned to applications: "
                     "managed identities cannot hold it.", True))
    return said


def _identifier_uri(ch: Change, old: Resource | None, new: Resource | None, n: Names) -> Said:
    if ch.kind not in ("delete", "replace"):
        return []
    was, now = _get(old, "inputs", "identifierUri"), _get(new, "inputs", "identifierUri")
    what = "is removed" if ch.kind == "delete" or was == now else f"is replaced by {now}"
    return [(f"API {_api(old, new)}: identifier URI {was} {what}: token requests for "
             f"scope `{was}/.default` fail (AADSTS500011) until callers use the new scope.", True)]


def _service_principal(ch: Change, old: Resource | None, new: Resource | None, n: Names) -> Said:
    api = _api(old, new)
    if ch.kind in ("delete", "replace"):
        what = "is deleted" if ch.kind == "delete" else "is recreated"
        return [(f"API {api}: service principal {what}: every app-role assignment to it is "
                 "lost; callers get no roles (403) until reassigned.", True)]
    required = _field(ch, "appRoleAssignmentRequired")
    if required and required[1] is not True:
        return [(f"API {api}: appRoleAssignmentRequired {required[0]} → {required[1]}: any "
                 "identity in the tenant can get a token (with no roles); only the gateway's "
                 "role check remains.", True)]
    if required:
        return [(f"API {api}: assignment now required: identities without an app-role "
                 "assignment fail at token time (AADSTS501051).", True)]
    return []


def _assignment(ch: Change, old: Resource | None, new: Resource | None, n: Names) -> Said:
    before, after = (n.grant(old) if old else None), (n.grant(new) if new else None)
    said: Said = []
    if before and before != after:
        said.append((f"{before[0]} loses role {before[2]} on {before[1]}: its calls get 401/403.",
                     True))
    if after and before != after:
        said.append((f"{after[0]} gains role {after[2]} on {after[1]}; a managed identity sees it "
                     "once its cached token expires (up to 24 h).", False))
    if before and before == after and ch.kind == "replace":
        said.append((f"{before[0]}'s role {before[2]} on {before[1]} is re-assigned: calls may "
                     "get 403 while it is gone; tokens are cached up to 24 h.", True))
    return said


def _policy(ch: Change, old: Resource | None, new: Resource | None, n: Names) -> Said:
    res = new or old or {}
    api, op = _get(res, "inputs", "apiId"), _get(res, "inputs", "operationId")
    where = f"operation {api}/{op}" if op else f"API {api} (all operations)"
    if ch.kind == "delete":
        return [(f"{where} loses its own role check: any caller holding a role the API policy "
                 "accepts can call it." if op else
                 f"{where} loses its token validation: only operation policies still check "
                 "tokens.", True)]
    after = policy_facts(_get(new, "inputs", "value"))
    if ch.kind == "create":
        return [(f"{where} requires {_any(after[0])}.", False)] if after else []
    if not _field(ch, "value"):
        return []
    before = policy_facts(_get(old, "inputs", "value"))
    if before is None or after is None:
        return [(f"{where}: the policy XML changed and cannot be parsed; review it by hand.", True)]
    said: Said = []
    (roles0, aud0), (roles1, aud1) = before, after
    if roles0 != roles1:
        text = f"{where} now requires {_any(roles1)} instead of {_any(roles0)}"
        if roles0 - roles1:
            hit = n.losing(str(api), roles0, roles1)
            text += f": callers with only {_any(roles0 - roles1)} now get 403"
            text += f" ({', '.join(hit)})" if hit else ""
        if roles1 - roles0:
            text += f"; callers with {_any(roles1 - roles0)} are now admitted"
        said.append((text + ".", True))
    # A policy moved to another API (a rename) references that API's named values by design.
    if aud0 != aud1 and _get(old, "inputs", "apiId") == api:
        said.append((f"{where} now accepts audience {', '.join(sorted(aud1)) or 'none'} instead of "
                     f"{', '.join(sorted(aud0)) or 'none'}: tokens for "
                     f"{', '.join(sorted(aud0 - aud1)) or 'the old audience'} get 401.", True))
    return said


def _subscription(ch: Change, old: Resource | None, new: Resource | None, n: Names) -> Said:
    res = new or old or {}
    consumer = str(res["name"]).removeprefix(f"{_owner(res)}-subscription-")
    api = str(_get(res, "inputs", "scope") or "").removeprefix("/apis/") or _owner(res)
    if ch.kind == "delete":
        return [(f"{consumer} loses its subscription key for {api}: its calls get 401.", True)]
    if ch.kind == "replace":
        return [(f"{consumer}'s subscription to {api} is recreated with a new key: calls with the "
                 "old key get 401 until the Key Vault secret and the app pick up the new one.",
                 True)]
    said: Said = []
    if (state := _field(ch, "state")) and state[1] != "active":
        said.append((f"{consumer}'s subscription to {api} becomes {state[1]}: its calls get 401.",
                     True))
    if scope := _field(ch, "scope"):
        said.append((f"{consumer}'s key now opens {scope[1]} instead of {scope[0]}.", True))
    return said


def _web_app(ch: Change, old: Resource | None, new: Resource | None, n: Names) -> Said:
    consumer = _api(old, new)
    was = _get(old, "outputs", "identity", "principalId")
    now = _get(new, "outputs", "identity", "principalId")
    if ch.kind == "replace":
        ids = f" ({was} → {now})" if was and now and was != now else ""
        return [(f"consumer {consumer}: Web App replaced: new managed identity principal ID{ids}: "
                 "its role assignments must be recreated; tokens cached up to 24 h.", True)]
    if ch.kind == "delete":
        return [(f"consumer {consumer}: Web App and its managed identity are deleted, with its "
                 "role assignments and Key Vault access.", True)]
    kind = _field(ch, "identity.type")
    if kind and "SystemAssigned" not in str(kind[1]):
        return [(f"consumer {consumer}: loses its system-assigned identity: it can no longer get "
                 "tokens for any API.", True)]
    return []


def _named_value(ch: Change, old: Resource | None, new: Resource | None, n: Names) -> Said:
    name = _braces(str(_get(new or old, "inputs", "namedValueId")))
    was = _braces(str(_get(old, "inputs", "namedValueId")))
    if ch.kind == "replace" and ch.renamed and was != name:
        return [(f"gateway named value `{was}` becomes `{name}`, as the renamed API's policies "
                 "expect.", False)]
    if ch.kind in ("delete", "replace"):
        what = "is deleted" if ch.kind == "delete" else "is recreated"
        return [(f"gateway named value `{name}` {what}: policies that reference it break.", True)]
    value = _field(ch, "value")
    if value and (name.endswith("audience}}") or name.endswith("audience-v1}}")
                  or name == "{{tenant-id}}"):
        return [(f"gateway named value `{name}` changes {value[0]} → {value[1]}: tokens whose "
                 f"`aud`/`tid` is {value[0]} now get 401.", True)]
    return []


def _secret(ch: Change, old: Resource | None, new: Resource | None, n: Names) -> Said:
    name = _get(new or old, "inputs", "secretName")
    if ch.kind == "delete":
        return [(f"Key Vault secret {name} is deleted: the consumer's Key Vault reference breaks, "
                 "it has no subscription key: 401.", True)]
    if ch.kind == "replace":
        return [(f"Key Vault secret {name} is recreated: the consumer's Key Vault reference fails "
                 "until it resolves again: 401 meanwhile.", True)]
    return []


def _reader(ch: Change, old: Resource | None, new: Resource | None, n: Names) -> Said:
    if ch.kind not in ("delete", "replace"):
        return []
    target = str(_get(old, "inputs", "scope")).rsplit("/", 1)[-1]
    who = n.principal(_get(old, "inputs", "principalId"))
    if ch.kind == "delete":
        return [(f"{who} can no longer read Key Vault secret {target}: its Key Vault reference "
                 "fails and its calls get 401.", True)]
    reader = n.principal(_get(new, "inputs", "principalId"))
    now = str(_get(new, "inputs", "scope")).rsplit("/", 1)[-1]
    moved = (f" (now {reader} on {now})" if reader != who else f" (now on {now})"
             if now != target else "")
    return [(f"{who}'s read access to Key Vault secret {target} is recreated{moved}: its Key "
             "Vault reference may fail meanwhile: 401.", True)]


Rule = Callable[[Change, Resource | None, Resource | None, Names], Said]
RULES: dict[str, Rule] = {
    "ApplicationRegistration": _registration, "ApplicationAppRole": _app_role,
    "ApplicationIdentifierUri": _identifier_uri, "ServicePrincipal": _service_principal,
    "AppRoleAssignment": _assignment, "ApiPolicy": _policy, "ApiOperationPolicy": _policy,
    "Subscription": _subscription, "WebApp": _web_app, "NamedValue": _named_value,
    "Secret": _secret, "RoleAssignment": _reader,
}


def consequences(
    triples: list[Triple], base: Mapping[str, Any], head: Mapping[str, Any]
) -> tuple[Consequence, ...]:
    """Consequences of each (change, old resource, new resource), critical ones first."""
    names = Names(base, head)
    found: list[tuple[int, Consequence]] = []
    for change, old, new in triples:
        kind = _short(change.type)
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

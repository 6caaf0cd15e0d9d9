"""The vocabulary of plan diff consequences: IDs in a plan turned into names people know.

Plans are full of GUIDs. A consequence must say "consumer reporting loses Orders.Read on
orders", so both plans are read once for principal IDs (Web App and gateway identities,
developer groups), role IDs (ApplicationAppRole), service principal object IDs (-> API) and
who holds which role (AppRoleAssignment). Also the one parser of gateway policy XML the diff
needs: which roles and audiences a policy requires.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring as safe_fromstring

from components.naming import slug
from sandbox.diff.model import SECRET, UNKNOWN, Change

Resource = Mapping[str, Any]
Said = list[tuple[str, bool]]  # (message, critical) as the rules return them


def short(token: str) -> str:
    return token.rsplit(":", 1)[-1]


def owner(res: Resource) -> str:
    """The component a resource belongs to: the API or consumer name in this project."""
    parent = res.get("parent")
    return str(parent).rsplit("::", 1)[-1] if parent else str(res["name"])


def owner_label(old: Resource | None, new: Resource | None) -> str:
    """The owning API (or consumer), `old → new` when a rename moved the resource."""
    was, now = (owner(old) if old else None), (owner(new) if new else None)
    return f"{was} → {now}" if was and now and was != now else str(now or was)


def get(res: Resource | None, part: str, *path: str) -> Any:
    """The value at `part.path`, any JSON value (for display); None where the path ends."""
    value: Any = res.get(part, {}) if res else {}
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def ident(res: Resource | None, part: str, *path: str) -> str | None:
    """An ID or name the diff looks things up by, or None when the plan cannot tell: the value
    is missing, unknown (`"<unknown>"` in hand-made plans, docs/plan-format.md), masked, or not a
    string at all. Lookups never see a list or an object (they are not hashable)."""
    value = get(res, part, *path)
    if not isinstance(value, str) or not value or value in (UNKNOWN, SECRET):
        return None
    return value


def members(res: Resource | None, part: str, *path: str) -> Mapping[str, Any] | None:
    """An object-valued input (RandomPassword keepers), or None when it is unknown or not an
    object."""
    value = get(res, part, *path)
    return value if isinstance(value, dict) else None


def any_of(roles: Iterable[str]) -> str:
    items = sorted(roles)
    if not items:
        return "no role"
    return items[0] if len(items) == 1 else "any of " + ", ".join(items)


def braces(name: str) -> str:
    return "{{" + name + "}}"


class Names:
    """IDs -> words, learned from both plans (head last, so its names win)."""

    def __init__(self, base: Mapping[str, Any], head: Mapping[str, Any]) -> None:
        self.principals: dict[str, str] = {}
        self.roles: dict[str, tuple[str, str]] = {}  # role ID -> (api, value)
        self.apis: dict[str, str] = {}  # service principal object ID -> api
        everything = [*base["resources"], *head["resources"]]
        for res in everything:
            kind, whose = short(res["type"]), owner(res)
            identity = ident(res, "outputs", "identity", "principalId")
            if kind == "WebApp" and identity:
                self.principals[identity] = f"consumer {whose}"
            elif kind == "ApiManagementService" and identity:
                self.principals[identity] = "the gateway"
            elif kind == "ApplicationAppRole" and (role_id := ident(res, "inputs", "roleId")):
                self.roles[role_id] = (whose, ident(res, "inputs", "value") or "(unknown role)")
            elif kind == "ServicePrincipal" and (object_id := ident(res, "outputs", "objectId")):
                self.apis[object_id] = whose
        for res in everything:  # group names need the role values learned above
            if short(res["type"]) == "AppRoleAssignment" and ":ApiIdentity$" in res["urn"]:
                self._learn_group(res)
        self.before = self._holders(base)
        self.after = self._holders(head)
        self.slots_remade = _slots_remade(base, head)

    def _learn_group(self, res: Resource) -> None:
        # ApiIdentity names developer grants f"{api}-group-{group}-{slug(role)}".
        oid, role_id = ident(res, "inputs", "principalObjectId"), ident(res, "inputs", "appRoleId")
        prefix, role = f"{owner(res)}-group-", self.roles.get(role_id) if role_id else None
        name = str(res["name"])
        if oid and role and name.startswith(prefix):
            group = name[len(prefix) :].removesuffix(f"-{slug(role[1])}")
            self.principals.setdefault(oid, f"developer group {group}")

    def principal(self, object_id: Any) -> str:
        known = self.principals.get(object_id) if isinstance(object_id, str) else None
        return known or f"principal {object_id}"

    def grant(self, res: Resource) -> tuple[str, str, str]:
        """(principal, api, role value) of an AppRoleAssignment."""
        ins = res["inputs"]
        role_id, api_id = (
            ident(res, "inputs", "appRoleId"),
            ident(res, "inputs", "resourceObjectId"),
        )
        unknown = (
            f"service principal {ins.get('resourceObjectId')}",
            f"role ID {ins.get('appRoleId')}",
        )
        api, value = self.roles.get(role_id, unknown) if role_id else unknown
        api = self.apis.get(api_id, api) if api_id else api
        return self.principal(ins.get("principalObjectId")), api, value

    def _holders(self, plan: Mapping[str, Any]) -> dict[str, dict[str, set[str]]]:
        held: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
        for res in plan["resources"]:
            if short(res["type"]) == "AppRoleAssignment":
                who, api, role = self.grant(res)
                held[api][who].add(role)
        return held

    def holding(self, api: str, role: str | None) -> list[str]:
        if role is None:
            return []  # the role's value is unknown: nobody can be named
        return sorted(who for who, roles in self.before.get(api, {}).items() if role in roles)

    def losing(self, api: str, old: frozenset[str], new: frozenset[str]) -> list[str]:
        return sorted(
            who for who, roles in self.after.get(api, {}).items() if roles & old and not roles & new
        )


def _slots_remade(base: Mapping[str, Any], head: Mapping[str, Any]) -> dict[str, set[str]]:
    """Per subscription-key pair (the SubscriptionKeys component), the slots whose password
    changes between the plans: every input of a RandomPassword forces a new one."""

    def slots(plan: Mapping[str, Any]) -> dict[tuple[str, str], Any]:
        return {
            (owner(res), str(ident(res, "inputs", "keepers", "slot"))): res.get("inputs")
            for res in plan["resources"]
            if short(res["type"]) == "RandomPassword"
        }

    before, after = slots(base), slots(head)
    remade: dict[str, set[str]] = defaultdict(set)
    for key in sorted(before.keys() & after.keys()):
        if before[key] != after[key]:
            remade[key[0]].add(key[1])
    return dict(remade)


def policy_facts(xml: Any) -> tuple[frozenset[str], frozenset[str]] | None:
    """(required roles, audiences) of a gateway policy document, or None if unreadable."""
    if not isinstance(xml, str) or xml == SECRET:
        return None
    try:
        root = safe_fromstring(xml)
    except (ET.ParseError, DefusedXmlException):
        return None
    # The roles of the last validation: an operation policy repeats the API's own check (all
    # of the API's roles) before its role check (components/gateway_policy.py).
    validations = list(root.iter("validate-azure-ad-token")) or [root]
    roles = frozenset(
        (value.text or "").strip()
        for claim in validations[-1].iter("claim")
        if claim.get("name") == "roles"
        for value in claim.iter("value")
        if (value.text or "").strip()
    )
    audiences = frozenset((a.text or "").strip() for a in root.iter("audience") if a.text)
    return roles, audiences


def field(change: Change, path: str) -> tuple[Any, Any] | None:
    return next(((f.old, f.new) for f in change.fields if f.path == path), None)

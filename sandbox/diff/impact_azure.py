"""Consequences of gateway, Web App and Key Vault changes (the Entra rules are in
`sandbox/diff/impact.py`): policies that now demand other roles, subscription keys, managed
identities, named values for audience and tenant, and the Key Vault path of the one secret.
"""

from __future__ import annotations

from collections.abc import Callable

from sandbox.diff.model import Change
from sandbox.diff.names import (
    Names,
    Resource,
    Said,
    any_of,
    braces,
    field,
    get,
    owner,
    owner_label,
    policy_facts,
)


def _policy(ch: Change, old: Resource | None, new: Resource | None, n: Names) -> Said:
    res = new or old or {}
    api, op = get(res, "inputs", "apiId"), get(res, "inputs", "operationId")
    where = f"operation {api}/{op}" if op else f"API {api} (all operations)"
    if ch.kind == "delete":
        return [
            (
                f"{where} loses its own role check: any caller holding a role the API policy "
                "accepts can call it."
                if op
                else f"{where} loses its token validation: only operation policies still check "
                "tokens.",
                True,
            )
        ]
    after = policy_facts(get(new, "inputs", "value"))
    if ch.kind == "create":
        return [(f"{where} requires {any_of(after[0])}.", False)] if after else []
    if not field(ch, "value"):
        return []
    before = policy_facts(get(old, "inputs", "value"))
    if before is None or after is None:
        return [(f"{where}: the policy XML changed and cannot be parsed; review it by hand.", True)]
    said: Said = []
    (roles0, aud0), (roles1, aud1) = before, after
    if roles0 and not roles1:
        said.append(
            (
                f"{where} no longer checks roles (was {any_of(roles0)}): any valid token "
                "for the API is accepted.",
                True,
            )
        )
    elif roles0 != roles1:
        text = f"{where} now requires {any_of(roles1)} instead of {any_of(roles0)}"
        if roles0 - roles1:
            hit = n.losing(str(api), roles0, roles1)
            text += f": callers with only {any_of(roles0 - roles1)} now get 403"
            text += f" ({', '.join(hit)})" if hit else ""
        if roles1 - roles0:
            text += f"; callers with {any_of(roles1 - roles0)} are now admitted"
        said.append((text + ".", True))
    # A policy moved to another API (a rename) references that API's named values by design.
    if aud0 != aud1 and get(old, "inputs", "apiId") == api:
        said.append(
            (
                f"{where} now accepts audience {', '.join(sorted(aud1)) or 'none'} instead of "
                f"{', '.join(sorted(aud0)) or 'none'}: tokens for "
                f"{', '.join(sorted(aud0 - aud1)) or 'the old audience'} get 401.",
                True,
            )
        )
    return said


def _subscription(ch: Change, old: Resource | None, new: Resource | None, n: Names) -> Said:
    res = new or old or {}
    consumer = str(res["name"]).removeprefix(f"{owner(res)}-subscription-")
    api = str(get(res, "inputs", "scope") or "").removeprefix("/apis/") or owner(res)
    if ch.kind == "delete":
        return [(f"{consumer} loses its subscription key for {api}: its calls get 401.", True)]
    if ch.kind == "replace":
        return [
            (
                f"{consumer}'s subscription to {api} is recreated with a new key: calls with the "
                "old key get 401 until the Key Vault secret and the app pick up the new one.",
                True,
            )
        ]
    said: Said = []
    if (state := field(ch, "state")) and state[1] != "active":
        said.append(
            (f"{consumer}'s subscription to {api} becomes {state[1]}: its calls get 401.", True)
        )
    if scope := field(ch, "scope"):
        said.append((f"{consumer}'s key now opens {scope[1]} instead of {scope[0]}.", True))
    return said


def _web_app(ch: Change, old: Resource | None, new: Resource | None, n: Names) -> Said:
    consumer = owner_label(old, new)
    was = get(old, "outputs", "identity", "principalId")
    now = get(new, "outputs", "identity", "principalId")
    if ch.kind == "replace":
        ids = f" ({was} → {now})" if was and now and was != now else ""
        return [
            (
                f"consumer {consumer}: Web App replaced: new managed identity principal ID{ids}: "
                "its role assignments must be recreated; tokens cached up to 24 h.",
                True,
            )
        ]
    if ch.kind == "delete":
        return [
            (
                f"consumer {consumer}: Web App and its managed identity are deleted, with its "
                "role assignments and Key Vault access.",
                True,
            )
        ]
    kind = field(ch, "identity.type")
    if kind and "SystemAssigned" not in str(kind[1]):
        return [
            (
                f"consumer {consumer}: loses its system-assigned identity: it can no longer get "
                "tokens for any API.",
                True,
            )
        ]
    return []


def _named_value(ch: Change, old: Resource | None, new: Resource | None, n: Names) -> Said:
    name = braces(str(get(new or old, "inputs", "namedValueId")))
    was = braces(str(get(old, "inputs", "namedValueId")))
    if ch.kind == "replace" and ch.renamed and was != name:
        return [
            (
                f"gateway named value `{was}` becomes `{name}`, as the renamed API's policies "
                "expect.",
                False,
            )
        ]
    if ch.kind in ("delete", "replace"):
        what = "is deleted" if ch.kind == "delete" else "is recreated"
        return [(f"gateway named value `{name}` {what}: policies that reference it break.", True)]
    value = field(ch, "value")
    if value and (
        name.endswith("audience}}") or name.endswith("audience-v1}}") or name == "{{tenant-id}}"
    ):
        return [
            (
                f"gateway named value `{name}` changes {value[0]} → {value[1]}: tokens whose "
                f"`aud`/`tid` is {value[0]} now get 401.",
                True,
            )
        ]
    return []


def _secret(ch: Change, old: Resource | None, new: Resource | None, n: Names) -> Said:
    name = get(new or old, "inputs", "secretName")
    if ch.kind == "delete":
        return [
            (
                f"Key Vault secret {name} is deleted: the consumer's Key Vault reference breaks, "
                "it has no subscription key: 401.",
                True,
            )
        ]
    if ch.kind == "replace":
        return [
            (
                f"Key Vault secret {name} is recreated: the consumer's Key Vault reference fails "
                "until it resolves again: 401 meanwhile.",
                True,
            )
        ]
    return []


def _reader(ch: Change, old: Resource | None, new: Resource | None, n: Names) -> Said:
    if ch.kind not in ("delete", "replace"):
        return []
    target = str(get(old, "inputs", "scope")).rsplit("/", 1)[-1]
    who = n.principal(get(old, "inputs", "principalId"))
    if ch.kind == "delete":
        return [
            (
                f"{who} can no longer read Key Vault secret {target}: its Key Vault reference "
                "fails and its calls get 401.",
                True,
            )
        ]
    reader = n.principal(get(new, "inputs", "principalId"))
    now = str(get(new, "inputs", "scope")).rsplit("/", 1)[-1]
    moved = (
        f" (now {reader} on {now})"
        if reader != who
        else f" (now on {now})"
        if now != target
        else ""
    )
    return [
        (
            f"{who}'s read access to Key Vault secret {target} is recreated{moved}: its Key "
            "Vault reference may fail meanwhile: 401.",
            True,
        )
    ]


AZURE_RULES: dict[str, Callable[[Change, Resource | None, Resource | None, Names], Said]] = {
    "ApiPolicy": _policy,
    "ApiOperationPolicy": _policy,
    "Subscription": _subscription,
    "WebApp": _web_app,
    "NamedValue": _named_value,
    "Secret": _secret,
    "RoleAssignment": _reader,
}

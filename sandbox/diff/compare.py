"""Compare two Plans (base branch vs pull request) the way the engine would decide, offline.

Resources are matched by URN (without the stack segment, so `dev` and `prod` plans compare
too). A matched resource whose inputs differ is an update, or a replacement when one of the
inputs in `REPLACE_ON` changed. A URN that disappears while another of the same type chain
appears under the same (or likewise renamed) parent is paired as a replacement by rename:
without a Pulumi alias the engine deletes the old resource and creates a new one, which for an
app registration means a new client ID. What each change does to callers is worked out in
`sandbox/diff/impact.py`; the renderers live in `sandbox/diff/render.py`.

Exit codes (`exit_code`), for CI gates: 0 no change; 1 changes, none identity-critical;
3 identity-critical consequences (a replaced or deleted identity-critical resource, changed
required roles, weakened token issuance). 2 stays reserved for usage errors (SandboxError).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from difflib import SequenceMatcher
from typing import Any

from sandbox.diff.impact import consequences
from sandbox.diff.model import (
    ABSENT,
    SECRET,
    Change,
    Consequence,
    FieldChange,
    Kind,
    PlanDiff,
    exit_code,
)
from sandbox.diff.render import format_json, format_markdown, format_text

__all__ = [
    "REPLACE_ON",
    "Change",
    "Consequence",
    "FieldChange",
    "PlanDiff",
    "diff_plans",
    "exit_code",
    "format_json",
    "format_markdown",
    "format_text",
    "replace_keys",
]

# Inputs whose change makes the provider replace (delete + create) instead of update.
# azure-native: every property that is part of the ARM resource ID (the URL path parameters,
# see `_ARM_PATHS` in sandbox/program/mocks.py) plus `location`, which Azure never moves in place.
# Role assignments are immutable in ARM (RoleAssignmentUpdateNotPermitted), hence their body.
# azuread: the fields the provider schema marks ForceNew ("Changing this forces a new resource
# to be created" in the pulumi_azuread 6.x docstrings). ServicePrincipal.clientId says nothing
# there, but the upstream Terraform schema marks the application ID ForceNew (`application_id`,
# since renamed `client_id`). ApplicationRegistration has no ForceNew input: it is replaced
# only when its URN changes (a rename) or deleted.
_ARM_ID = frozenset(
    [
        "resourceGroupName",
        "location",
        "name",
        "serviceName",
        "vaultName",
        "secretName",
        "apiId",
        "operationId",
        "policyId",
        "backendId",
        "namedValueId",
        "sid",
        # The private network's path parameters (sandbox/program/mocks.py `_ARM_PATHS`).
        "virtualNetworkName",
        "networkSecurityGroupName",
        "publicIpAddressName",
        "privateEndpointName",
        "privateDnsZoneGroupName",
        "privateZoneName",
        "virtualNetworkLinkName",
    ]
)
# pulumi-random: every input of a RandomPassword forces a new one (terraform-provider-random
# internal/provider/resource_password.go, passwordSchemaV3: RequiresReplace on each attribute;
# keepers "when changed, will trigger recreation of resource"). A new password is a new
# subscription key: sandbox/diff/impact_keys.py says what that does.
_RANDOM_PASSWORD = frozenset(
    {
        "keepers",
        "length",
        "lower",
        "minLower",
        "minNumeric",
        "minSpecial",
        "minUpper",
        "number",
        "numeric",
        "overrideSpecial",
        "special",
        "upper",
    }
)
REPLACE_ON: dict[str, frozenset[str]] = {
    "azure-native:*": _ARM_ID,
    "azure-native:authorization:RoleAssignment": frozenset(
        {"roleAssignmentName", "scope", "principalId", "roleDefinitionId"}
    ),
    "azuread:index/applicationAppRole:ApplicationAppRole": frozenset({"applicationId", "roleId"}),
    "azuread:index/applicationIdentifierUri:ApplicationIdentifierUri": frozenset(
        {"applicationId", "identifierUri"}
    ),
    "azuread:index/servicePrincipal:ServicePrincipal": frozenset({"clientId"}),
    "azuread:index/appRoleAssignment:AppRoleAssignment": frozenset(
        {"appRoleId", "principalObjectId", "resourceObjectId"}
    ),
    "azuread:index/applicationPreAuthorized:ApplicationPreAuthorized": frozenset(
        {"applicationId", "authorizedClientId"}
    ),
    "azuread:index/applicationPermissionScope:ApplicationPermissionScope": frozenset(
        {"applicationId", "scopeId"}
    ),
    "azuread:index/applicationRegistration:ApplicationRegistration": frozenset(),
    "random:index/randomPassword:RandomPassword": _RANDOM_PASSWORD,
}
# Below this similarity a vanished and a new resource are reported as "deleted X, created Y".
_RENAME_THRESHOLD = 0.5
_KIND_ORDER = {"replace": 0, "delete": 1, "update": 2, "create": 3}


def replace_keys(type_token: str) -> frozenset[str]:
    """The inputs that force replacement for a type: its own entry, else its provider's."""
    if type_token in REPLACE_ON:
        return REPLACE_ON[type_token]
    return REPLACE_ON.get(type_token.split(":", 1)[0] + ":*", frozenset())


def _key(urn: str) -> str:
    """The URN without `urn:pulumi:<stack>`: project, type chain and name."""
    return urn.split("::", 1)[1] if "::" in urn else urn


def _type_chain(urn: str) -> str:
    parts = urn.split("::")
    return parts[2] if len(parts) > 3 else urn


def flatten(value: Any, path: str = "") -> dict[str, Any]:
    """Leaf paths of a JSON value. Lists of named objects (app settings) are keyed by name so
    that inserting one setting shows as one change, not a shift of every later index."""
    if isinstance(value, dict):
        if not value:
            return {path: {}} if path else {}
        out: dict[str, Any] = {}
        for key in sorted(value):
            out.update(flatten(value[key], f"{path}.{key}" if path else str(key)))
        return out
    if isinstance(value, list) and value and all(isinstance(item, dict) for item in value):
        names = [item.get("name") for item in value]
        keyed = all(isinstance(n, str) for n in names) and len(set(names)) == len(names)
        out = {}
        for index, item in enumerate(value):
            if keyed:  # the name is in the path already (an item of only a name stays: `{}`)
                rest = {k: v for k, v in item.items() if k != "name"}
                out.update(flatten(rest, f"{path}[name={names[index]}]"))
            else:
                out.update(flatten(item, f"{path}[{index}]"))
        return out
    return {path: value}


def _same(old: Any, new: Any) -> bool:
    # JSON `true == 1` in Python; a bool turning into a number is still a change.
    return bool(old == new) and isinstance(old, bool) == isinstance(new, bool)


def _touches(path: str, secrets: Iterable[str]) -> bool:
    """True when `path` is a secret, lies inside one, or contains one."""
    for secret in secrets:
        for inner, outer in ((path, secret), (secret, path)):
            if inner == outer or inner.startswith(outer + ".") or inner.startswith(outer + "["):
                return True
    return False


def _secret_paths(flat: Mapping[str, Any], masked: Iterable[str], prefix: str) -> set[str]:
    found = {path for path, value in flat.items() if value == SECRET}
    # `masked` is a list of strings in a loaded plan (sandbox.plan.model.validate_plan).
    found.update(m[len(prefix) :] for m in masked if isinstance(m, str) and m.startswith(prefix))
    return found


def field_changes(
    old: Mapping[str, Any],
    new: Mapping[str, Any],
    forcing: frozenset[str] = frozenset(),
    secrets: Iterable[str] = (),
) -> tuple[FieldChange, ...]:
    """Changed leaf paths, masked: a path that is secret on either side shows `[secret]` on
    both, and two masked values are never reported (they cannot be compared)."""
    before, after = flatten(dict(old)), flatten(dict(new))
    hidden = set(secrets) | _secret_paths(before, (), "") | _secret_paths(after, (), "")
    changes = []
    for path in sorted(before.keys() | after.keys()):
        was, now = before.get(path, ABSENT), after.get(path, ABSENT)
        if _same(was, now):
            continue
        if _touches(path, hidden):
            if was == SECRET and now == SECRET:
                continue
            was = ABSENT if was is ABSENT else SECRET
            now = ABSENT if now is ABSENT else SECRET
        top = path.split(".", 1)[0].split("[", 1)[0]
        changes.append(FieldChange(path, was, now, forces_replacement=top in forcing))
    return tuple(changes)


def _resource_fields(
    old: Mapping[str, Any],
    new: Mapping[str, Any],
    base: Mapping[str, Any],
    head: Mapping[str, Any],
) -> tuple[FieldChange, ...]:
    secrets = _secret_paths({}, base.get("masked", []), f"{old['urn']}#inputs.")
    secrets |= _secret_paths({}, head.get("masked", []), f"{new['urn']}#inputs.")
    return field_changes(old["inputs"], new["inputs"], replace_keys(new["type"]), secrets)


def _similarity(old: Mapping[str, Any], new: Mapping[str, Any], paired: Mapping[str, str]) -> float:
    """How likely `new` is `old` renamed. A name that follows its parent's rename (`orders-scope`
    under `orders` -> `purchases-scope` under `purchases`) is certain; otherwise half name
    likeness, half share of equal inputs, which tells `orders-role-read` -> `purchases-role-read`
    from `purchases-role-write` without knowing the naming scheme."""
    mother, father = old.get("parent"), new.get("parent")
    if mother and father and paired.get(_key(mother)) == _key(father):
        was, now = _name(mother), _name(father)
        if was and old["name"].replace(was, now, 1) == new["name"]:
            return 1.0
    name = SequenceMatcher(None, old["name"], new["name"]).ratio()
    a, b = flatten(old["inputs"]), flatten(new["inputs"])
    union = a.keys() | b.keys()
    if not union:  # components have no inputs: only the name can tell
        return name
    same = sum(1 for path in union if path in a and path in b and _same(a[path], b[path]))
    return 0.5 * name + 0.5 * same / len(union)


def _custom(res: Mapping[str, Any]) -> bool:
    # Hand-made plans may leave `custom` out (sandbox.plan.model.OPTIONAL_KEYS): assume a cloud
    # resource, the cautious reading (a lone one is never paired as a rename).
    return bool(res.get("custom", True))


def _name(urn: str) -> str:
    return urn.rsplit("::", 1)[-1]


def _pair_renames(
    gone: list[Mapping[str, Any]], born: list[Mapping[str, Any]]
) -> list[tuple[Mapping[str, Any], Mapping[str, Any]]]:
    """Greedy best-first pairing, parents before children: a child pairs only when its parent
    is the same resource or was itself paired, so grants never pair across consumers. A lone
    vanished component and a lone new one of the same type chain are taken as a rename (that
    is how renaming an API or consumer in the config looks); lone cloud resources are not,
    because "lost grant A, new grant B" must not read as one renamed grant."""
    paired: dict[str, str] = {}  # old key -> new key
    pairs = []
    for depth in sorted({_type_chain(r["urn"]).count("$") for r in gone}):
        level = [r for r in gone if _type_chain(r["urn"]).count("$") == depth]
        scored = []
        for old in level:
            for new in born:
                if _type_chain(new["urn"]) != _type_chain(old["urn"]):
                    continue
                if not _same_parent(old.get("parent"), new.get("parent"), paired):
                    continue
                score = _similarity(old, new, paired)
                if score < _RENAME_THRESHOLD and not _custom(old) and _lone(old, new, gone, born):
                    score = _RENAME_THRESHOLD
                if score >= _RENAME_THRESHOLD:
                    scored.append((score, old, new))
        used = set(paired.values())
        for _score, old, new in sorted(scored, key=lambda s: (-s[0], s[1]["urn"], s[2]["urn"])):
            if _key(old["urn"]) in paired or _key(new["urn"]) in used:
                continue
            paired[_key(old["urn"])] = _key(new["urn"])
            used.add(_key(new["urn"]))
            pairs.append((old, new))
    return pairs


def _lone(
    old: Mapping[str, Any],
    new: Mapping[str, Any],
    gone: list[Mapping[str, Any]],
    born: list[Mapping[str, Any]],
) -> bool:
    chain = _type_chain(old["urn"])
    return (
        sum(1 for r in gone if _type_chain(r["urn"]) == chain) == 1
        and sum(1 for r in born if _type_chain(r["urn"]) == chain) == 1
    )


def _same_parent(old: str | None, new: str | None, paired: Mapping[str, str]) -> bool:
    if old is None or new is None:
        return old is None and new is None
    return _key(old) == _key(new) or paired.get(_key(old)) == _key(new)


def _change(kind: Kind, res: Mapping[str, Any], **extra: Any) -> Change:
    return Change(kind, res["urn"], res["type"], res["name"], _custom(res), **extra)


def mismatch_warnings(base: Mapping[str, Any], head: Mapping[str, Any]) -> tuple[str, ...]:
    """A diff means something only between two plans of one stack: URNs carry the project
    and stack, so across them every resource looks deleted and created again."""
    found = []
    for key, what in (("project", "projects"), ("stack", "stacks")):
        if base.get(key) != head.get(key):
            found.append(
                f"the plans are of different {what} ('{base.get(key)}' and '{head.get(key)}'): "
                f"compare two plans of the same {key}"
            )
    return tuple(found)


def diff_plans(base: Mapping[str, Any], head: Mapping[str, Any]) -> PlanDiff:
    """What applying `head` over a stack deployed from `base` would do. Pure: plans in, facts
    out; both plans are assumed valid (`sandbox.plan.model.load_plan` checks files)."""
    old = {_key(r["urn"]): r for r in base["resources"]}
    new = {_key(r["urn"]): r for r in head["resources"]}
    changes: list[Change] = []
    pairs: list[tuple[Mapping[str, Any] | None, Mapping[str, Any] | None]] = []
    unchanged = 0
    for key in sorted(old.keys() & new.keys()):
        fields = _resource_fields(old[key], new[key], base, head)
        if not fields:
            unchanged += 1
            continue
        kind: Kind = "replace" if any(f.forces_replacement for f in fields) else "update"
        changes.append(_change(kind, new[key], fields=fields))
        pairs.append((old[key], new[key]))
    gone = [old[k] for k in sorted(old.keys() - new.keys())]
    born = [new[k] for k in sorted(new.keys() - old.keys())]
    renamed = _pair_renames(gone, born)
    for was, now in renamed:
        fields = _resource_fields(was, now, base, head)
        changes.append(
            _change("replace", now, fields=fields, old_urn=was["urn"], old_name=was["name"])
        )
        pairs.append((was, now))
    paired_old = {id(was) for was, _ in renamed}
    paired_new = {id(now) for _, now in renamed}
    for res in gone:
        if id(res) not in paired_old:
            changes.append(_change("delete", res))
            pairs.append((res, None))
    for res in born:
        if id(res) not in paired_new:
            changes.append(_change("create", res))
            pairs.append((None, res))
    ordered = sorted(
        zip(changes, pairs, strict=True),
        key=lambda cp: (_KIND_ORDER[cp[0].kind], cp[0].type, cp[0].name),
    )
    hidden = _secret_paths({}, base.get("masked", []), "#outputs.")
    hidden |= _secret_paths({}, head.get("masked", []), "#outputs.")
    return PlanDiff(
        warnings=mismatch_warnings(base, head),
        base_stack=str(base.get("stack", "?")),
        head_stack=str(head.get("stack", "?")),
        changes=tuple(c for c, _ in ordered),
        consequences=consequences([(c, o, n) for c, (o, n) in ordered], base, head),
        outputs=field_changes(base.get("outputs", {}), head.get("outputs", {}), secrets=hidden),
        unchanged=unchanged,
    )

"""Rule 37: Key Vault references that App Service cannot resolve when they are written.

learn.microsoft.com/azure/app-service/app-service-key-vault-references: a reference is resolved
when the settings are written; if the app's identity cannot read the secret at that moment the
setting keeps the literal `@Microsoft.KeyVault(...)` string, and the value is fetched again only
every 24 hours or on a configuration change. So the write must come after the grant:

- in a WebApp's own `siteConfig` the settings are written when the site is created, before its
  system-assigned identity exists, so no grant can precede them;
- a `web.WebAppApplicationSettings` (or `WebAppConnectionStrings`) can be ordered after the grant,
  and must be: it has to depend, directly or through other resources, on a RoleAssignment of a
  secret-read role to the site's identity whose scope covers the referenced vault or secret.
  At preview the scope (and role) may be unknown; then the dependency alone counts.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from .._common import StackResource, Violation, get_path, is_opaque
from .._links import arm_segment, known, of_type

WEB_APP = "azure-native:web:WebApp"
APP_SETTINGS = "azure-native:web:WebAppApplicationSettings"
CONNECTION_STRINGS = "azure-native:web:WebAppConnectionStrings"
ROLE_ASSIGNMENT = "azure-native:authorization:RoleAssignment"
USER_ASSIGNED_IDENTITY = "azure-native:managedidentity:UserAssignedIdentity"

# Built-in roles that can read secret values (learn.microsoft.com/azure/key-vault/general/
# rbac-guide): Key Vault Secrets User, Key Vault Secrets Officer, Key Vault Administrator.
SECRET_READ_ROLES = frozenset(
    {
        "4633458b-17de-408a-b874-0445c86b69e6",
        "b86a8fe4-44ce-4948-aee5-eccb2c155cd7",
        "00482a5a-887f-4fb3-b363-3b7fe8e74483",
    }
)
_PREFIX = "@microsoft.keyvault("


@dataclass(frozen=True)
class Reference:
    """A Key Vault reference: the setting holding it, the secret it names (None: unreadable)."""

    setting: str
    vault: str | None
    secret: str | None

    def shown(self) -> str:
        return f"{self.setting} -> {self.vault or '?'}/{self.secret or '?'}"


def parse_reference(setting: str, value: Any) -> Reference | None:
    """`@Microsoft.KeyVault(SecretUri=https://<vault>.vault.azure.net/secrets/<name>[/<v>])` or
    `@Microsoft.KeyVault(VaultName=<vault>;SecretName=<name>[;SecretVersion=<v>])`; None when
    the value is no reference (or cannot be read yet)."""
    if not isinstance(value, str) or is_opaque(value):
        return None
    text = value.strip()
    if not text.lower().startswith(_PREFIX) or not text.endswith(")"):
        return None
    parts = dict(
        (k.strip().lower(), v.strip())
        for k, _, v in (p.partition("=") for p in text[len(_PREFIX) : -1].split(";"))
    )
    if uri := parts.get("secreturi"):
        url = urlsplit(uri)
        path = [s for s in url.path.split("/") if s]
        vault = (url.hostname or "").split(".")[0] or None
        secret = path[1] if len(path) >= 2 and path[0].lower() == "secrets" else None
        return Reference(setting, vault, secret)
    return Reference(setting, parts.get("vaultname") or None, parts.get("secretname") or None)


def _pairs(items: Any, value_key: str) -> Iterator[tuple[str, Any]]:
    for item in items if isinstance(items, list) else []:
        if isinstance(item, Mapping):
            yield str(item.get("name")), item.get(value_key)


def references_of(res: StackResource) -> list[Reference]:
    """Every Key Vault reference a WebApp's siteConfig or a settings resource writes."""
    if res.type == WEB_APP:
        pairs = [
            *_pairs(get_path(res.props, "siteConfig", "appSettings"), "value"),
            *_pairs(get_path(res.props, "siteConfig", "connectionStrings"), "connectionString"),
        ]
    else:
        properties = res.props.get("properties")
        pairs = list(properties.items()) if isinstance(properties, Mapping) else []
        if res.type == CONNECTION_STRINGS:
            pairs = [(k, v.get("value") if isinstance(v, Mapping) else v) for k, v in pairs]
    found = [parse_reference(name, value) for name, value in pairs]
    return [r for r in found if r is not None]


class _Graph:
    def __init__(self, resources: Sequence[StackResource]) -> None:
        self.by_urn = {r.urn: r for r in resources}
        self.apps = of_type(resources, WEB_APP)
        self.grants = of_type(resources, ROLE_ASSIGNMENT)
        self.identities = of_type(resources, USER_ASSIGNED_IDENTITY)

    def upstream(self, res: StackResource) -> set[str]:
        """Every URN `res` waits for, directly or through the resources it waits for."""
        seen: set[str] = set()
        todo = [res]
        while todo:
            current = todo.pop()
            direct = set(current.dependencies)
            for urns in current.property_dependencies.values():
                direct.update(urns)
            for urn in direct - seen:
                seen.add(urn)
                if (nxt := self.by_urn.get(urn)) is not None:
                    todo.append(nxt)
        return seen

    def site_of(self, settings: StackResource) -> StackResource | None:
        """The WebApp a settings resource writes to (by `name` dependency, else by value)."""
        for app in self.apps:
            if settings.depends_on("name", app.urn):
                return app
        name, group = (
            known(settings.props.get("name")),
            known(settings.props.get("resourceGroupName")),
        )
        for app in self.apps:
            same_group = group is None or known(app.props.get("resourceGroupName")) in (None, group)
            if name is not None and known(app.props.get("name")) == name and same_group:
                return app
        return None

    def reader_identity(self, app: StackResource) -> tuple[set[str], str | None]:
        """(URNs the site's Key Vault identity comes from, its principal ID if known)."""
        chosen = app.props.get("keyVaultReferenceIdentity")
        if chosen in (None, "SystemAssigned"):
            return {app.urn}, known(get_path(app.props, "identity", "principalId"))
        urns = set(app.property_dependencies.get("keyVaultReferenceIdentity", ()))
        for uai in self.identities:
            if known(chosen) is not None and known(uai.props.get("id")) == chosen:
                urns.add(uai.urn)
        principals = {
            known(self.by_urn[u].props.get("principalId")) for u in urns if u in self.by_urn
        }
        return urns, next(iter(principals)) if len(principals) == 1 else None


def is_secret_reader(grant: StackResource) -> bool:
    """True when the role reads secrets, or cannot be told yet (unknown at preview)."""
    role = grant.props.get("roleDefinitionId")
    if known(role) is None:
        return True
    return str(role).rstrip("/").rsplit("/", 1)[-1].lower() in SECRET_READ_ROLES


def covers(grant: StackResource, ref: Reference, vault_groups: Mapping[str, str]) -> bool:
    """Whether the grant's scope includes the referenced secret (True when it cannot be told)."""
    scope = known(grant.props.get("scope"))
    if scope is None:
        return True
    probe = StackResource(grant.type, grant.name, grant.urn, {"id": scope})
    vault, secret = arm_segment(probe, "vaults"), arm_segment(probe, "secrets")
    if vault is not None:
        if ref.vault is not None and vault.lower() != ref.vault.lower():
            return False
        return secret is None or ref.secret is None or secret.lower() == ref.secret.lower()
    # A resource group, subscription or management group scope holds every vault below it.
    group = arm_segment(probe, "resourceGroups")
    known_group = vault_groups.get((ref.vault or "").lower())
    return group is None or known_group is None or group.lower() == known_group.lower()


def _grants_to(grant: StackResource, identity: tuple[set[str], str | None]) -> bool:
    """Whether the grant is for the site's reader identity (True when it cannot be told)."""
    sources, principal = identity
    deps = set(grant.property_dependencies.get("principalId", ()))
    if deps:
        return not sources or bool(deps & sources)
    value = known(grant.props.get("principalId"))
    return value is None or principal is None or value == principal


def _unresolved(
    res: StackResource,
    refs: list[Reference],
    app: StackResource | None,
    graph: _Graph,
    vault_groups: Mapping[str, str],
) -> list[Reference]:
    upstream = graph.upstream(res)
    identity = graph.reader_identity(app) if app is not None else (set(), None)
    grants = [
        g
        for g in graph.grants
        if g.urn in upstream and is_secret_reader(g) and _grants_to(g, identity)
    ]
    return [r for r in refs if not any(covers(g, r, vault_groups) for g in grants)]


_LITERAL_KEPT = (
    "App Service resolves references when the settings are written and keeps the literal "
    "@Microsoft.KeyVault(...) string when it cannot, until the next refresh (24 hours or a "
    "configuration change)"
)


def _site_config_finding(app: StackResource, graph: _Graph, groups: Mapping[str, str]) -> str:
    """What is wrong with references in a WebApp's own siteConfig ("" when nothing is)."""
    refs = references_of(app)
    if not refs:
        return ""
    shown = ", ".join(r.shown() for r in refs)
    if app.props.get("keyVaultReferenceIdentity") in (None, "SystemAssigned"):
        return (
            f"{app.label} writes Key Vault references in siteConfig ({shown}) with its "
            "system-assigned identity, which is created with the site and so cannot be granted "
            f"a secret-read role before the settings are written; {_LITERAL_KEPT}. Move all "
            "app settings into one web.WebAppApplicationSettings (it replaces the whole set) "
            "that depends on the Key Vault Secrets User role assignments"
        )
    missing = _unresolved(app, refs, app, graph, groups)
    if not missing:
        return ""  # a user-assigned identity, granted before the site was created
    return (
        f"{app.label} writes Key Vault references in siteConfig "
        f"({', '.join(r.shown() for r in missing)}) with its user-assigned "
        "keyVaultReferenceIdentity, but does not depend on a role assignment that lets that "
        f"identity read them; {_LITERAL_KEPT}. Add depends_on=[<that RoleAssignment>]"
    )


def _settings_finding(res: StackResource, graph: _Graph, groups: Mapping[str, str]) -> str:
    """What is wrong with references in a settings resource ("" when nothing is)."""
    refs = references_of(res)
    missing = _unresolved(res, refs, graph.site_of(res), graph, groups) if refs else []
    if not missing:
        return ""
    return (
        f"{res.label} writes Key Vault references ({', '.join(r.shown() for r in missing)}) "
        "but depends on no role assignment that lets the site's identity read them (Key Vault "
        f"Secrets User, Secrets Officer or Administrator on the vault or secret); {_LITERAL_KEPT}. "
        "Add depends_on=[<that RoleAssignment>]"
    )


def key_vault_references_resolve(resources: Sequence[StackResource]) -> list[Violation]:
    graph = _Graph(resources)
    groups = {
        v.lower(): g
        for vault in of_type(resources, "azure-native:keyvault:Vault")
        if (v := known(vault.props.get("vaultName")))
        and (g := known(vault.props.get("resourceGroupName")))
    }
    found = [(app, _site_config_finding(app, graph, groups)) for app in graph.apps]
    found += [
        (res, _settings_finding(res, graph, groups))
        for res in of_type(resources, APP_SETTINGS, CONNECTION_STRINGS)
    ]
    return [Violation(message, res.urn) for res, message in found if message]

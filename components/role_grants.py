"""App-role assignments from a consumer's managed identity to the roles it is granted.

Assigned directly to the identity: roles held through a group never reach a managed
identity's token. This is the step the article does with Graph PowerShell.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_azuread as azuread

from components import naming


@dataclass(frozen=True)
class Grant:
    api: str
    role: str
    role_id: str
    resource_object_id: pulumi.Input[str]  # the API's service principal


@dataclass(frozen=True)
class RoleGrantsArgs:
    principal_id: pulumi.Input[str]  # the Web App's system identity
    grants: tuple[Grant, ...]
    depends_on: tuple[pulumi.Resource, ...] = ()

    def __post_init__(self) -> None:
        pairs = [(grant.api, grant.role) for grant in self.grants]
        if len(pairs) != len(set(pairs)):
            raise ValueError("a role is granted twice")


class RoleGrants(pulumi.ComponentResource):
    def __init__(
        self, name: str, args: RoleGrantsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("secure-api-calls:identity:RoleGrants", name, None, opts)
        for grant in args.grants:
            azuread.AppRoleAssignment(
                f"{name}-{grant.api}-{naming.slug(grant.role)}",
                app_role_id=grant.role_id,
                principal_object_id=args.principal_id,
                resource_object_id=grant.resource_object_id,
                opts=pulumi.ResourceOptions(parent=self, depends_on=list(args.depends_on)),
            )
        self.register_outputs({"granted": [f"{g.api}/{g.role}" for g in args.grants]})

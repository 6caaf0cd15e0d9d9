"""How stack rules find which resource another one points at.

Links are made by value first (the Plan and `pulumi up` know every ID), then by property
dependency (at preview the IDs are unknown, but the engine still records that
`ApplicationAppRole.applicationId` came from a given registration). A link that neither can
establish is *unknown*, and rules skip it rather than guess.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from ._common import StackResource, is_opaque

API = "azure-native:apimanagement:Api"
API_POLICY = "azure-native:apimanagement:ApiPolicy"
API_OPERATION_POLICY = "azure-native:apimanagement:ApiOperationPolicy"


def known(value: Any) -> str | None:
    """A string value that can be compared, or None (absent, empty, unknown or masked)."""
    if isinstance(value, str) and value and not is_opaque(value):
        return value
    return None


def of_type(resources: Iterable[StackResource], *types: str) -> list[StackResource]:
    return [r for r in resources if r.type in types]


def link(
    res: StackResource,
    prop: str,
    candidates: Sequence[StackResource],
    keys: Callable[[StackResource], set[str]],
) -> list[StackResource] | None:
    """The candidates `res.props[prop]` refers to; [] if none, None if it cannot be told."""
    value = known(res.props.get(prop))
    if value is not None:
        matched = [c for c in candidates if value in keys(c)]
        if matched:
            return matched
    by_dependency = [c for c in candidates if res.depends_on(prop, c.urn)]
    if by_dependency:
        return by_dependency
    return [] if value is not None else None


def registration_ids(reg: StackResource) -> set[str]:
    """What an `applicationId` input holds: the registration's `/applications/<objectId>` ID."""
    ids = {known(reg.props.get("id"))}
    if (object_id := known(reg.props.get("objectId"))) is not None:
        ids |= {f"/applications/{object_id}", object_id}
    return {i for i in ids if i}


def client_ids(res: StackResource) -> set[str]:
    return {c} if (c := known(res.props.get("clientId"))) else set()


def object_ids(res: StackResource) -> set[str]:
    return {o} if (o := known(res.props.get("objectId"))) else set()


def arm_segment(res: StackResource, segment: str) -> str | None:
    """A name from the resource's ARM ID (`.../service/<svc>/apis/<api>/...`), if it has one.

    After deployment azure-native reports outputs only, and path parameters such as `apiId`
    or `resourceGroupName` are not outputs; the ID still carries them.
    """
    rid = known(res.props.get("id"))
    if rid is None:
        return None
    parts = rid.strip("/").split("/")
    for key, value in zip(parts[::2], parts[1::2], strict=False):
        if key.lower() == segment.lower():
            return value
    return None


_ARM_SEGMENT = {"serviceName": "service", "resourceGroupName": "resourceGroups"}


def field(res: StackResource, prop: str) -> str | None:
    """A linking property from the inputs when present, else from the ARM ID."""
    if prop == "apiId":
        if res.type == API:
            return known(res.props.get("apiId")) or known(res.props.get("name"))
        return known(res.props.get("apiId")) or arm_segment(res, "apis")
    return known(res.props.get(prop)) or arm_segment(res, _ARM_SEGMENT.get(prop, prop))


def _compatible(a: StackResource, b: StackResource, prop: str) -> bool:
    """Equal when both are known; an unknown side does not rule the link out."""
    va, vb = field(a, prop), field(b, prop)
    return va is None or vb is None or va.lower() == vb.lower()


def refers_to_api(policy: StackResource, api: StackResource, api_urns: set[str]) -> bool | None:
    """Whether an ApiPolicy/ApiOperationPolicy belongs to `api`; None when it cannot be told."""
    if not all(_compatible(policy, api, p) for p in ("serviceName", "resourceGroupName")):
        return False
    if policy.depends_on("apiId", api.urn):
        return True
    policy_api, api_id = field(policy, "apiId"), field(api, "apiId")
    if policy_api is not None and api_id is not None:
        return policy_api == api_id
    # No comparable value: the engine still records which Api the policy was created after.
    depended = api_urns.intersection(policy.dependencies)
    return api.urn in depended if depended else None


def same_api(a: StackResource, b: StackResource, api_urns: set[str]) -> bool:
    """Two policies on the same API, judged without the Api resource (it may be external)."""
    if not all(_compatible(a, b, p) for p in ("serviceName", "resourceGroupName")):
        return False
    a_apis = set(a.property_dependencies.get("apiId", ())) | api_urns.intersection(a.dependencies)
    b_apis = set(b.property_dependencies.get("apiId", ())) | api_urns.intersection(b.dependencies)
    if a_apis & b_apis:
        return True
    return field(a, "apiId") is not None and field(a, "apiId") == field(b, "apiId")


def api_policies_of(
    api: StackResource, resources: Sequence[StackResource]
) -> tuple[list[StackResource], bool]:
    """(ApiPolicies that certainly belong to `api`, whether some might but cannot be told)."""
    definite, maybe = [], False
    api_urns = {a.urn for a in of_type(resources, API)}
    for policy in of_type(resources, API_POLICY):
        verdict = refers_to_api(policy, api, api_urns)
        if verdict:
            definite.append(policy)
        elif verdict is None:
            maybe = True
    return definite, maybe

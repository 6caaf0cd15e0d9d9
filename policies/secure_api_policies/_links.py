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


def _api_id(res: StackResource) -> str | None:
    if res.type == API:
        return known(res.props.get("apiId")) or known(res.props.get("name"))
    return known(res.props.get("apiId"))


def _compatible(a: StackResource, b: StackResource, prop: str) -> bool:
    """Equal when both are known; an unknown side does not rule the link out."""
    va, vb = known(a.props.get(prop)), known(b.props.get(prop))
    return va is None or vb is None or va == vb


def refers_to_api(policy: StackResource, api: StackResource) -> bool | None:
    """Whether an ApiPolicy/ApiOperationPolicy belongs to `api`; None when it cannot be told."""
    if not all(_compatible(policy, api, p) for p in ("serviceName", "resourceGroupName")):
        return False
    if policy.depends_on("apiId", api.urn):
        return True
    policy_api, api_id = _api_id(policy), _api_id(api)
    if policy_api is None or api_id is None:
        return None
    return policy_api == api_id


def same_api(a: StackResource, b: StackResource) -> bool:
    """Two policies on the same API, judged without the Api resource (it may be external)."""
    if not all(_compatible(a, b, p) for p in ("serviceName", "resourceGroupName")):
        return False
    shared = set(a.property_dependencies.get("apiId", ())) & set(
        b.property_dependencies.get("apiId", ())
    )
    return bool(shared) or (_api_id(a) is not None and _api_id(a) == _api_id(b))


def api_policies_of(
    api: StackResource, resources: Sequence[StackResource]
) -> tuple[list[StackResource], bool]:
    """(ApiPolicies that certainly belong to `api`, whether some might but cannot be told)."""
    definite, maybe = [], False
    for policy in of_type(resources, API_POLICY):
        verdict = refers_to_api(policy, api)
        if verdict:
            definite.append(policy)
        elif verdict is None:
            maybe = True
    return definite, maybe

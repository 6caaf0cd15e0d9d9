"""Rules 36, 38 and 39: what API Management refuses at deploy time although the plan looks fine.

Each rule reads what the plan *sends*, SDK defaults included: pulumi-azure-native fills schema
defaults client-side in `_internal_init` (apimanagement/api_management_service.py:
`if enable_client_certificate is None: enable_client_certificate = False`), and the provider
plugin forwards every present key to ARM (research notes, provider.go `Check`).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence

from .._common import Props, StackResource, Violation, get_path, is_opaque, show
from .._links import field, known, of_type
from ..api_management import FIXED_CIPHER_TIERS

SERVICE = "azure-native:apimanagement:ApiManagementService"
OPERATION = "azure-native:apimanagement:ApiOperation"

CONSUMPTION = "Consumption"
_CIPHER_PREFIX = "Microsoft.WindowsAzure.ApiManagement.Gateway.Security."


def client_certificate_flag(props: Props, who: str) -> list[str]:
    """Rule 36: `enableClientCertificate: false` outside Consumption is refused.

    ARM: `Code="NotSupported" Message="Setting EnableClientCertificate flag to false is not
    supported for Developer SKU."` (pulumi/pulumi-azure-native#1741, #1865, both open); on update
    `EnableClientCertificateCannotBeChangedForSku` (pulumi/pulumi-azure#3315). Unknown values
    are skipped: the engine runs the rule again with real values during `pulumi up`.
    """
    flag, sku = props.get("enableClientCertificate"), get_path(props, "sku", "name")
    if flag is not False or is_opaque(sku) or not isinstance(sku, str) or sku == CONSUMPTION:
        return []
    return [
        f"{who} sends enableClientCertificate=false with SKU {show(sku)}; ARM answers "
        f'NotSupported "Setting EnableClientCertificate flag to false is not supported for '
        f'{sku} SKU". The SDK fills false in whenever the program leaves it out: drop it from '
        "the request (a `transformations=[...]` resource option that pops "
        "enable_client_certificate, which is what ARM and Bicep send when it is omitted); do "
        "not set True, which turns on client-certificate negotiation"
    ]


def v2_cipher_settings(props: Props, who: str) -> list[str]:
    """Rule 39: Consumption and the v2 tiers keep Microsoft's protocol and cipher defaults."""
    sku = get_path(props, "sku", "name")
    if not isinstance(sku, str) or sku not in FIXED_CIPHER_TIERS:
        return []
    custom = props.get("customProperties")
    if is_opaque(custom):
        return []  # cannot be told at preview; `pulumi up` checks the real map
    keys = sorted(k for k in custom or {} if k.startswith(_CIPHER_PREFIX))
    if not keys:
        return []
    shown = ", ".join(k.removeprefix(_CIPHER_PREFIX) for k in keys)
    return [
        f"{who} is on the {sku} tier and sets customProperties {shown}: these tiers don't "
        "support changes to the default protocol and cipher configuration (the platform's "
        "defaults apply); set custom_properties only on Developer, Basic, Standard or Premium"
    ]


_PARAMETER = re.compile(r"\{[^{}]*\}")


def template_signature(url_template: str) -> str:
    """The URL template with parameter names dropped: `/orders/{id}` == `/orders/{orderId}`.

    APIM compares operations by method and template shape, not parameter names: an import with
    `/submissions/{instruction}` and `/submissions/{dateTimeOffset}` fails with "duplicate
    signature operations" (Azure/apiops#670).
    """
    return _PARAMETER.sub("{}", url_template)


def _api_key(op: StackResource, api_urns: set[str]) -> tuple[str, ...] | None:
    """Which API an operation belongs to: (group, service, apiId), or the Api's URN."""
    service, group, api_id = (field(op, p) for p in ("serviceName", "resourceGroupName", "apiId"))
    if service is not None and api_id is not None:
        return ((group or "").lower(), service.lower(), api_id.lower())
    from_api = set(op.property_dependencies.get("apiId", ())) | api_urns.intersection(
        op.dependencies
    )
    return (sorted(from_api)[0],) if len(from_api) == 1 else None


def operations_unique(resources: Sequence[StackResource]) -> list[Violation]:
    """Rule 38: APIM refuses a second operation with the same method and URL template.

    The error the service returns: "Operation with the same method and URL template already
    exists" (ValidationError, target urlTemplate; Azure/azure-api-management-devops-resource-kit
    #346). Operations whose API, method or template cannot be told yet are skipped.
    """
    api_urns = {a.urn for a in of_type(resources, "azure-native:apimanagement:Api")}
    seen: dict[tuple[tuple[str, ...], str, str], StackResource] = {}
    found: list[Violation] = []
    by_api: dict[tuple[str, ...], list[StackResource]] = defaultdict(list)
    for op in of_type(resources, OPERATION):
        if (key := _api_key(op, api_urns)) is not None:
            by_api[key].append(op)
    for key, ops in by_api.items():
        for op in ops:
            method, template = known(op.props.get("method")), known(op.props.get("urlTemplate"))
            if method is None or template is None:
                continue
            signature = (key, method.upper(), template_signature(template))
            first = seen.setdefault(signature, op)
            if first is op:
                continue
            found.append(
                Violation(
                    f"{op.label} has {method.upper()} {show(template)}, the same method and URL "
                    f"template as {first.label} "
                    f"({show(known(first.props.get('urlTemplate')))}) in the same API: APIM "
                    'refuses it with "Operation with the same method and URL template already '
                    'exists" (parameter names do not count); merge the two operations or give '
                    "one a different path",
                    op.urn,
                )
            )
    return found

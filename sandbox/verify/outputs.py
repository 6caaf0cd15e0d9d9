"""The stack outputs verify reads (docs/verify.md, "The outputs contract"), as frozen data.

Read from `pulumi stack output --json --show-secrets` or from a file holding the same JSON.
Only `tenantId`, `gatewayUrl` and `apis.<api>.path` are required; every other key makes more
scenarios possible, and `missing_outputs` says which are absent and what they would add.
"""

from __future__ import annotations

import ipaddress
import json
import re
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sandbox.errors import SandboxError, not_utf8, reason

MASKED = "[secret]"  # what `pulumi stack output` prints for a secret without --show-secrets
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"})
PULUMI_TIMEOUT = 120.0  # the CLI may log in to its backend first; never wait for ever
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
_TEMPLATE_PARAM = re.compile(r"\{([^{}/]+)\}")
# RFC 1123 host names: labels of letters, digits and inner hyphens, at most 63 characters.
_DNS_NAME = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)(\.(?!-)[A-Za-z0-9-]{1,63}(?<!-))*\.?")


class OutputsError(SandboxError):
    """The outputs cannot be read or do not follow the contract (exit 2)."""


@dataclass(frozen=True)
class Operation:
    id: str
    method: str
    url_template: str
    roles: tuple[str, ...]

    def sample_path(self) -> str:
        """The template with each `{param}` filled, e.g. /orders/verify-orderId."""
        return _TEMPLATE_PARAM.sub(lambda m: f"verify-{m.group(1)}", self.url_template)


@dataclass(frozen=True)
class ApiTarget:
    name: str
    url: str  # gateway URL + "/" + path: the base every call to the API starts from
    path: str
    client_id: str | None = None
    identifier_uri: str | None = None
    app_scope: str | None = None
    developer_scope: str | None = None
    roles: tuple[str, ...] = ()  # every app role of the API (the API-scope any-of)
    accepts_v1: bool | None = None
    operations: tuple[Operation, ...] | None = None
    subscription_key: str | None = field(default=None, repr=False)
    subscription_key_masked: bool = False  # present but "[secret]": saved without --show-secrets
    backend_url: str | None = None

    @property
    def all_roles(self) -> tuple[str, ...]:
        """The API's roles; without a `roles` output, those its operations name."""
        if self.roles:
            return self.roles
        return tuple(sorted({role for op in self.operations or () for role in op.roles}))


@dataclass(frozen=True)
class Target:
    source: str  # "stack dev" or the file name, for the report's heading
    tenant_id: str
    gateway_url: str
    openid_configuration_url: str
    apis: tuple[ApiTarget, ...]

    @property
    def is_loopback(self) -> bool:
        return (urlsplit(self.gateway_url).hostname or "") in _LOOPBACK

    def select(self, names: Sequence[str]) -> Target:
        """Only the named APIs; an unknown name is bad input."""
        known = {api.name: api for api in self.apis}
        unknown = [name for name in names if name not in known]
        if unknown:
            raise OutputsError(
                f"--api {unknown[0]}: no such API in the outputs (they name: "
                f"{', '.join(sorted(known))})"
            )
        if not names:
            return self
        return Target(
            self.source,
            self.tenant_id,
            self.gateway_url,
            self.openid_configuration_url,
            tuple(known[name] for name in dict.fromkeys(names)),
        )


def default_openid_configuration(tenant_id: str) -> str:
    # [doc] Entra's v2 metadata document (access-tokens reference; azure-facts "Entra access
    # tokens"): its `issuer` is the v2 issuer, its `jwks_uri` the tenant's signing keys.
    return f"https://login.microsoftonline.com/{tenant_id}/v2.0/.well-known/openid-configuration"


Runner = Callable[..., "subprocess.CompletedProcess[str]"]


def read_stack_outputs(
    stack: str, project_dir: Path, *, timeout: float = PULUMI_TIMEOUT, run: Runner = subprocess.run
) -> Target:
    """`pulumi stack output --json --show-secrets -s STACK`, run in the project folder."""
    command = ["pulumi", "stack", "output", "--json", "--show-secrets", "--non-interactive"]
    command += ["--stack", stack]
    fix = "or pass --outputs FILE (saved with `pulumi stack output --json --show-secrets`)"
    try:
        done = run(
            command,
            cwd=project_dir,
            capture_output=True,
            text=True,
            # The CLI prints UTF-8 JSON; anything else must become "not JSON", not a crash.
            encoding="utf-8",
            errors="replace",
            timeout=timeout,
            check=False,
        )
    except FileNotFoundError:
        raise OutputsError(f"the Pulumi CLI (`pulumi`) is not on PATH: install it, {fix}") from None
    except subprocess.TimeoutExpired:
        raise OutputsError(
            f"`pulumi stack output --stack {stack}` did not answer within {timeout:.0f} s; "
            f"check `pulumi whoami`, {fix}"
        ) from None
    if done.returncode != 0:
        lines = [line.strip() for line in (done.stderr or "").splitlines() if line.strip()]
        # The CLI's own `error: ...` line says why; warnings and hints may follow it.
        errors = [line for line in lines if line.startswith("error:")]
        said = (errors or lines or [f"exit code {done.returncode}"])[-1]
        raise OutputsError(
            f"`pulumi stack output --stack {stack}` failed: {said}; log in (`pulumi login`) "
            f"and check the stack name, {fix}"
        )
    return parse_outputs(
        _json(done.stdout, f"the output of `pulumi stack output -s {stack}`"), f"stack {stack}"
    )


def load_outputs_file(path: Path) -> Target:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise OutputsError(f"--outputs {path}: cannot read it ({reason(error)})") from None
    except UnicodeDecodeError as error:
        raise OutputsError(f"--outputs {path} {not_utf8(error)}") from None
    return parse_outputs(_json(text, f"--outputs {path}"), path.name)


def _json(text: str, where: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as error:
        raise OutputsError(
            f"{where} is not JSON ({error}); save it with `pulumi stack output --json "
            "--show-secrets`"
        ) from None


def _string(value: Any, where: str, *, required: bool = False) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise OutputsError(f"{where}: expected a non-empty string, got {json.dumps(value)}")
    return value.strip()


def _url(value: str, where: str) -> str:
    try:
        parts = urlsplit(value)  # refuses an unclosed IPv6 bracket
        parts.port  # noqa: B018  (reading it refuses a port that is not a number in 0-65535)
    except ValueError as error:
        raise OutputsError(
            f"{where}: {value!r} is not a valid URL ({error}); give the https URL the stack "
            "outputs, e.g. https://contoso-apim.azure-api.net"
        ) from None
    loopback_http = parts.scheme == "http" and (parts.hostname or "") in _LOOPBACK
    if not (parts.scheme == "https" or loopback_http) or not parts.hostname:
        raise OutputsError(
            f"{where}: {value!r} is not an https URL (plain http only for 127.0.0.1/localhost)"
        )
    if parts.query or parts.fragment or parts.username or parts.password:
        raise OutputsError(f"{where}: {value!r} must not carry a query, fragment or credentials")
    if not _valid_host(parts.hostname):
        raise OutputsError(
            f"{where}: {value!r} has an invalid host name {parts.hostname!r}; give a DNS name "
            "(letters, digits, '-' and '.') or an IP address"
        )
    return value.rstrip("/")


def _valid_host(host: str) -> bool:
    """A DNS name (an internationalised one as its IDNA form) or an IP address: what an HTTP
    client can connect to. A space or an invalid label would otherwise be sent to the client
    and reported as a gateway that "did not answer"."""
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        pass
    try:
        ascii_host = host.encode("idna").decode("ascii")
    except UnicodeError:
        return False
    return _DNS_NAME.fullmatch(ascii_host) is not None


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    return parts.scheme, (parts.hostname or "").lower(), parts.port


def parse_outputs(data: Any, source: str) -> Target:
    if not isinstance(data, dict):
        raise OutputsError(f"{source}: the outputs must be a JSON object of the stack's outputs")
    tenant = _string(data.get("tenantId"), f"{source}: tenantId", required=True) or ""
    gateway = _url(
        _string(data.get("gatewayUrl"), f"{source}: gatewayUrl", required=True) or "",
        f"{source}: gatewayUrl",
    )
    openid = _string(data.get("openidConfigurationUrl"), f"{source}: openidConfigurationUrl")
    apis = data.get("apis")
    if not isinstance(apis, dict) or not apis:
        raise OutputsError(f"{source}: apis must be an object naming at least one API")
    targets = tuple(
        _api(name, facts, gateway, f"{source}: apis.{name}") for name, facts in sorted(apis.items())
    )
    return Target(
        source,
        tenant,
        gateway,
        _url(openid, f"{source}: openidConfigurationUrl")
        if openid
        else default_openid_configuration(tenant),
        targets,
    )


def _api(name: str, facts: Any, gateway: str, where: str) -> ApiTarget:
    if not isinstance(facts, dict):
        raise OutputsError(f"{where}: expected an object")
    path = facts.get("path")
    if not isinstance(path, str):
        raise OutputsError(f"{where}.path: expected the API's path (a string, e.g. 'orders')")
    url = _url(
        _string(facts.get("url"), f"{where}.url") or f"{gateway}/{path.strip('/')}", f"{where}.url"
    )
    if _origin(url) != _origin(gateway):
        # The verification key and the caller's token go to this URL: only ever the gateway.
        raise OutputsError(f"{where}.url: {url} is not on the gateway {gateway}")
    accepts_v1 = facts.get("acceptsV1Tokens")
    if accepts_v1 is not None and not isinstance(accepts_v1, bool):
        raise OutputsError(f"{where}.acceptsV1Tokens: expected true or false")
    roles = facts.get("roles") or {}
    if not isinstance(roles, dict | list):
        raise OutputsError(f"{where}.roles: expected an object of role -> ID")
    backend = _string(facts.get("backendUrl"), f"{where}.backendUrl")
    verification = facts.get("verification")
    return ApiTarget(
        name=name,
        url=url,
        path=path.strip("/"),
        client_id=_string(facts.get("clientId"), f"{where}.clientId"),
        identifier_uri=_string(facts.get("identifierUri"), f"{where}.identifierUri"),
        app_scope=_string(facts.get("appScope"), f"{where}.appScope"),
        developer_scope=_string(facts.get("developerScope"), f"{where}.developerScope"),
        roles=tuple(sorted(str(role) for role in roles)),
        accepts_v1=accepts_v1,
        operations=_operations(facts.get("operations"), f"{where}.operations"),
        subscription_key=_verification_key(verification, f"{where}.verification"),
        subscription_key_masked=isinstance(verification, dict)
        and verification.get("subscriptionKey") == MASKED,
        backend_url=_url(backend, f"{where}.backendUrl") if backend else None,
    )


def _operations(value: Any, where: str) -> tuple[Operation, ...] | None:
    if value is None:
        return None
    if not isinstance(value, list):
        raise OutputsError(f"{where}: expected a list of {{id, method, urlTemplate, roles}}")
    found = []
    for index, item in enumerate(value):
        at = f"{where}[{index}]"
        if not isinstance(item, dict):
            raise OutputsError(f"{at}: expected an object {{id, method, urlTemplate, roles}}")
        method = (_string(item.get("method"), f"{at}.method", required=True) or "").upper()
        if method not in METHODS:
            raise OutputsError(f"{at}.method: {method!r} is not an HTTP method APIM serves")
        template = _string(item.get("urlTemplate"), f"{at}.urlTemplate", required=True) or ""
        if not template.startswith("/") or template.startswith("//"):
            # `//host/x` is a network-path reference (RFC 3986 4.2): joined to the API's URL it
            # names another host, so the call would leave the gateway.
            raise OutputsError(
                f"{at}.urlTemplate: {template!r} must be a path under the API that starts with "
                "a single /, e.g. /orders/{id}"
            )
        roles = item.get("roles")
        if not isinstance(roles, list) or not all(isinstance(r, str) and r for r in roles):
            raise OutputsError(f"{at}.roles: expected a list of app role names")
        op_id = _string(item.get("id"), f"{at}.id", required=True) or ""
        found.append(Operation(op_id, method, template, tuple(roles)))
    return tuple(found)


def _verification_key(value: Any, where: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise OutputsError(f"{where}: expected an object {{subscriptionKey}}")
    key = value.get("subscriptionKey")
    if key is None or key == MASKED:
        return None  # the scenario builder says what is skipped without it
    return _string(key, f"{where}.subscriptionKey")

"""`python -m consumer probe`: the Kudu PowerShell check from the article, as a command.

Run it in the Web App's SSH console: it reads the same app settings the app uses, gets a
token from the same credential, shows what is inside the token, calls the API once and shows
the gateway's answer. Exit 0 on 2xx, 1 when the token or the call fails, 2 on bad settings.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any, TextIO

from azure.core.credentials import TokenCredential

from .app_settings import (
    AZURE_CLIENT_ID,
    IDENTITY_ENDPOINT,
    ApiSettings,
    configured_api_names,
    mask_secret,
    setting_names,
)
from .client import ApiClient
from .errors import (
    ConsumerConfigError,
    ConsumerError,
    GatewayError,
    TokenAcquisitionError,
    one_line,
)

_MAX_BODY = 4000
NOT_VERIFIED = "decoded only: the signature is NOT checked here; the gateway checks it"


@dataclass(frozen=True)
class ProbeRequest:
    api: str
    path: str = ""
    method: str = "GET"
    body: Any = None
    as_json: bool = False


def decode_segment(segment: str) -> dict[str, Any]:
    """Base64url-decode one JWT segment into a JSON object (JWTs drop the `=` padding)."""
    try:
        raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
        value = json.loads(raw.decode("utf-8"))
    except (binascii.Error, UnicodeDecodeError, ValueError) as error:
        raise ValueError(f"not a JWT segment: {error}") from None
    if isinstance(value, dict):
        return value
    raise ValueError("not a JWT segment: not a JSON object")


def decode_claims(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(header, claims) of a JWS compact token, WITHOUT verifying the signature."""
    parts = token.split(".")
    if len(parts) != 3:
        raise ValueError(f"not a signed JWT: {len(parts)} dot-separated parts, expected 3")
    return decode_segment(parts[0]), decode_segment(parts[1])


def key_facts(claims: Mapping[str, Any], now: float) -> list[tuple[str, str]]:
    """The claims validate-azure-ad-token looks at, in the order a reviewer reads them."""

    def show(name: str) -> str:
        value = claims.get(name)
        if value is None:
            return "(none)"
        return ", ".join(map(str, value)) if isinstance(value, list) else str(value)

    issuer = show("iss")
    if issuer.startswith("https://sts.windows.net/"):
        issuer += "  (v1 issuer)"
    elif issuer.endswith("/v2.0"):
        issuer += "  (v2 issuer)"
    client = ("azp", show("azp")) if "azp" in claims else ("appid", show("appid"))
    facts = [("aud", show("aud")), ("iss", issuer), ("ver", show("ver")), client]
    facts += [("roles", show("roles")), ("scp", show("scp")), ("oid", show("oid"))]
    facts.append(("exp", describe_expiry(claims.get("exp"), now)))
    return facts


def describe_expiry(exp: Any, now: float) -> str:
    if not isinstance(exp, (int, float)) or isinstance(exp, bool):
        return "(none)"
    when = datetime.fromtimestamp(exp, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    minutes = int((exp - now) // 60)
    return f"{when} ({minutes} min left)" if exp > now else f"{when} (EXPIRED {-minutes} min ago)"


def token_notes(
    claims: Mapping[str, Any], settings: ApiSettings, environ: Mapping[str, str], now: float
) -> list[str]:
    """Things in the token or the environment that explain a 401/403 before it happens."""
    notes = []
    in_app_service = bool(environ.get(IDENTITY_ENDPOINT))
    if "roles" not in claims and "scp" not in claims:
        notes.append(
            "no roles claim: the identity holds no app role of this API, or holds it only "
            "through a group (managed identities get no roles from groups); a new assignment "
            "can take up to 24 h to reach a managed-identity token"
        )
    resource = settings.scope.removesuffix("/.default")
    aud = str(claims.get("aud", ""))
    if aud and aud != resource and aud not in resource:
        notes.append(f"aud {aud!r} does not match the scope's resource {resource!r}")
    exp = claims.get("exp")
    if isinstance(exp, (int, float)) and exp <= now:
        notes.append("the token has expired: check the machine's clock")
    if in_app_service and not settings.scope.endswith("/.default"):
        notes.append("a managed identity can only ask for `<resource>/.default` scopes")
    if environ.get(AZURE_CLIENT_ID):
        notes.append(
            f"{AZURE_CLIENT_ID} is set; this library ignores it for managed identity and uses "
            "the system-assigned one — remove it to avoid confusion"
        )
    return notes


def gateway_hint(error: GatewayError, settings: ApiSettings, request: ProbeRequest) -> str | None:
    message = error.message.lower()
    names = setting_names(settings.api_name)
    if error.status == 401 and "missing subscription key" in message:
        return f"the key header did not arrive: check {names.subscription_key_header}"
    if error.status == 401 and "subscription key" in message:
        return (
            f"{names.subscription_key} is wrong, or its subscription is suspended or not scoped "
            "to this API: compare it with the Key Vault secret the stack wrote"
        )
    if error.status == 401:
        return "the gateway rejected the token: compare aud and iss above with the API's policy"
    if error.status == 403:
        return (
            "the token lacks the app role this operation needs: assign it to the Web App's "
            "identity directly, not through a group"
        )
    if error.status == 404 and "unable to match" in message:
        return f"no operation matches {request.method} {request.path or '/'}: check --path"
    return None


def run_probe(
    request: ProbeRequest,
    environ: Mapping[str, str],
    out: TextIO,
    err: TextIO,
    credential: TokenCredential | None = None,
) -> int:
    report: dict[str, Any] = {"api": request.api}

    def say(line: str = "") -> None:
        if not request.as_json:
            print(line, file=out)

    def fail(code: int, message: str) -> int:
        report["error"] = message
        if request.as_json:
            print(json.dumps(report, indent=2), file=out)
        print(f"error: {message}", file=err)
        return code

    try:
        client = ApiClient.from_environment(request.api, credential=credential, environ=environ)
    except ConsumerConfigError as error:
        configured = configured_api_names(environ)
        found = f" (APIs configured here: {', '.join(configured)})" if configured else ""
        return fail(2, f"{error}{found}")
    with client:
        settings = client.settings
        names = setting_names(settings.api_name)
        report["settings"] = {
            names.base_url: settings.base_url,
            names.scope: settings.scope,
            names.subscription_key: settings.masked_key,
            names.subscription_key_header: settings.subscription_key_header,
        }
        say(f"probe of API {request.api!r}: one token request, one call")
        for name, value in report["settings"].items():
            say(f"  {name:<40} {value}")
        try:
            token = client.token().token
        except TokenAcquisitionError as error:
            return fail(1, str(error))
        secrets = {settings.subscription_key: settings.masked_key, token: mask_secret(token)}
        report["credential"] = _credential_name(client)
        say(f"token from {report['credential']}")
        _report_token(token, settings, environ, report, say)

        url = client.url_for(request.path)
        report["request"] = {"method": request.method, "url": url}
        say(f"call {request.method} {url}")
        try:
            response = client.request(request.method, request.path, json=request.body)
        except GatewayError as error:
            report["response"] = {"status": error.status, "body": _redact(error.body, secrets)}
            say(f"  status  {error.status} {error.reason}")
            say(f"  body    {one_line(_redact(error.body, secrets), _MAX_BODY)}")
            hint = gateway_hint(error, settings, request)
            if hint:
                report["hint"] = hint
                say(f"hint: {hint}")
            return fail(1, str(error))
        except ConsumerError as error:
            return fail(1, str(error))
        body = _redact(response.text, secrets)
        report["response"] = {"status": response.status, "body": body}
        say(f"  status  {response.status} {_phrase(response.status)}")
        say(f"  body    {one_line(body, _MAX_BODY)}")
    if request.as_json:
        print(json.dumps(report, indent=2), file=out)
    return 0


def _report_token(
    token: str,
    settings: ApiSettings,
    environ: Mapping[str, str],
    report: dict[str, Any],
    say: Any,
) -> None:
    now = time.time()
    try:
        header, claims = decode_claims(token)
    except ValueError as error:
        report["claims"] = None
        say(f"  token is not a readable JWT ({error}); calling anyway")
        return
    report.update(header=header, claims=claims, signature_checked=False)
    report["facts"] = dict(key_facts(claims, now))
    report["notes"] = token_notes(claims, settings, environ, now)
    say(f"token header: alg {header.get('alg')}, kid {header.get('kid')}")
    say(f"claims ({NOT_VERIFIED}):")
    for line in json.dumps(claims, indent=2, sort_keys=True).splitlines():
        say(f"  {line}")
    say("key facts:")
    for name, value in report["facts"].items():
        say(f"  {name:<6} {value}")
    for note in report["notes"]:
        say(f"note: {note}")


def _credential_name(client: ApiClient) -> str:
    # DefaultAzureCredential remembers which link of its chain answered; that attribute is
    # private, so this is best effort and only ever used for display.
    credential = client.credential
    winner = getattr(credential, "_successful_credential", None) or credential
    return type(winner).__name__


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def _redact(text: str, secrets: Mapping[str, str]) -> str:
    """An echoing backend may reflect the key or the token; never print either."""
    for secret, masked in secrets.items():
        if secret:
            text = text.replace(secret, masked)
    return text

"""The one shape of backend URL the stack accepts: https://<host>[:port][/path].

APIM calls the backend at this URL (Backend.url, Api.serviceUrl); a URL it cannot call must be
a config error, not a deployment that fails or, worse, an API that answers 500 later. The host
is a DNS name (labels of letters, digits and inner hyphens, RFC 1123) or an IP address.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")
_PATH = re.compile(r"(/[A-Za-z0-9._~!$&'()*+,;=:@%-]*)*")
SHAPE = "https://<host>[:port][/path]"


def _host_ok(host: str) -> bool:
    if host.startswith("[") and host.endswith("]"):
        try:
            return ipaddress.ip_address(host[1:-1]).version == 6
        except ValueError:
            return False
    try:
        ipaddress.IPv4Address(host)
        return True
    except ValueError:
        pass
    labels = host.removesuffix(".").split(".")
    return (
        len(host) <= 253
        and all(_LABEL.fullmatch(label) for label in labels)
        and not labels[-1].isdigit()  # 10.0.0.300 is a bad address, not a name
    )


def problem(url: str) -> str | None:
    """Why `url` is not a backend URL the gateway can call, or None."""
    if any(ch.isspace() for ch in url):
        return "contains a space or other whitespace"
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. a bracketed host that is no IPv6 address
        return "is not a URL: the host in brackets is not an IPv6 address"
    if parts.scheme != "https":
        return "must be an https:// URL (the gateway never sends a caller's call in clear)"
    netloc = parts.netloc
    if "@" in netloc:
        return "must not carry a user name or password (the gateway authenticates itself)"
    host = netloc[: netloc.find("]") + 1] if netloc.startswith("[") else netloc.split(":")[0]
    if not host or not _host_ok(host):
        return f"host '{host}' is not a DNS name or an IP address"
    try:
        port = parts.port
    except ValueError:
        return f"port in '{netloc}' is not a number from 1 to 65535"
    if port == 0:
        return f"port in '{netloc}' is not a number from 1 to 65535"
    if parts.query or parts.fragment or url.endswith(("?", "#")):
        return "must not have a query or fragment (APIM appends the operation's path and query)"
    if not _PATH.fullmatch(parts.path):
        return f"path '{parts.path}' has characters a URL path cannot carry unescaped"
    return None

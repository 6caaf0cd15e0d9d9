"""`python -m consumer probe --api orders --path /orders [--method GET] [--body JSON] [-f json]`.

argparse (stdlib) rather than a CLI framework: this package deploys on its own into a Web App
with azure-identity and azure-core as its only dependencies.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

USAGE_ERROR = 2


class _Parser(argparse.ArgumentParser):
    """argparse prints usage plus `prog: error:`; the project promises one `error:` line."""

    def error(self, message: str) -> NoReturn:
        print(f"error: {message} (see `python -m consumer probe --help`)", file=sys.stderr)
        raise SystemExit(USAGE_ERROR)


def _version() -> str:
    from importlib import metadata

    try:
        return f"consumer (azure-identity {metadata.version('azure-identity')})"
    except metadata.PackageNotFoundError:
        return "consumer (azure-identity not installed)"


def _json_body(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"--body is not valid JSON: {error}") from None


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m consumer", description=__doc__)
    parser.add_argument("-V", "--version", action="version", version=_version())
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    probe = commands.add_parser(
        "probe",
        help="get a token, show its claims, call the API once",
        description="Read the API's app settings, get a token with DefaultAzureCredential, "
        "print its claims (decoded, signature not checked) and call the API once. "
        "Exit 0 on 2xx, 1 when the token or the call fails, 2 on bad settings or usage.",
    )
    probe.add_argument("--api", required=True, help="API name, e.g. orders or customer-profile")
    probe.add_argument("--path", default="", help="path after the API's base URL, e.g. /orders")
    probe.add_argument(
        "--method",
        default="GET",
        type=str.upper,
        choices=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
    )
    probe.add_argument("--body", type=_json_body, help="JSON request body, e.g. '{\"id\": 1}'")
    probe.add_argument(
        "--format", "-f", choices=["text", "json"], default="text", help="output format"
    )
    # `--json` was the flag before --format (the other commands use --format); kept for scripts.
    probe.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # Imported after parsing so `--help` and usage errors work even if azure-identity is broken.
    from .probe import ProbeRequest, run_probe

    # azure-identity logs the whole multi-line credential chain as a WARNING; with no handler
    # configured, Python would print it to stderr and break the one-line promise. The probe
    # reports the same failure itself, condensed.
    logging.getLogger("azure").addHandler(logging.NullHandler())

    as_json = args.json or args.format == "json"
    request = ProbeRequest(args.api, args.path, args.method, args.body, as_json)
    try:
        return run_probe(request, os.environ, sys.stdout, sys.stderr)
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # broad on purpose: the promise is one line, never a traceback
        print(f"error: unexpected {type(error).__name__}: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())

"""Entry point of the `secure-api-calls` console script and of `python -m sandbox`."""

from __future__ import annotations

from sandbox.cli import export, live, local, review  # noqa: F401  (importing a module registers its commands)
from sandbox.cli.app import run


def main() -> None:
    run()

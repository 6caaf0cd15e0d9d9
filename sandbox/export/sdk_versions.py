"""The Azure REST API version the installed azure-native SDK sends for each resource type.

Each resource class of pulumi-azure-native states it in its docstring ("Uses Azure REST API
version 2024-11-01. In version 2.x of the Azure Native provider, it used API version ..."),
generated from the provider schema: the version the provider calls, which an ARM export must
ask for so a scanner judges the properties of that version.
"""

from __future__ import annotations

import importlib
import inspect
import re
from functools import cache

from sandbox.errors import SandboxError
from sandbox.export.arm_types import sdk_class

_USES = re.compile(r"Uses Azure REST API version (\d{4}-\d{2}-\d{2}(?:-preview)?)\.")


def version_in(source: str) -> str | None:
    """The first API version a module's source states, or None."""
    match = _USES.search(source)
    return match.group(1) if match else None


@cache
def api_version(token: str) -> str:
    """The API version of an azure-native type token, from the installed SDK's source."""
    module_name, class_name = sdk_class(token)
    try:
        module = importlib.import_module(f"pulumi_azure_native.{module_name}")
        source = inspect.getsource(inspect.getmodule(getattr(module, class_name)) or module)
    except (ImportError, AttributeError, OSError, TypeError):
        raise SandboxError(
            f"the installed pulumi-azure-native has no {token}; run `make venv`"
        ) from None
    version = version_in(source)
    if version is None:
        raise SandboxError(f"the installed SDK's {token} names no REST API version")
    return version

"""Helpers for the verify tests: the rehearsal served in this process (its OUTPUTS_FILE is
verify's test double), and a credential that signs a developer in to the emulated Entra."""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from azure.core.credentials import AccessToken

from components.config import DEVELOPER_TOOLS
from sandbox.rehearsal.emulators.forge import claims_of
from sandbox.rehearsal.servers import Rehearsal
from sandbox.rehearsal.session import load_intent, serve_forever
from tests.fixture_stacks import stack_file
from tests.sandbox.rehearsal.rehearsal_helpers import LineStream

ORDERS_DEVELOPERS = "3b0d4e5f-6a7b-4c8d-9e0f-1a2b3c4d5e6f"  # the dev fixture's developer group


@dataclass
class Served:
    rehearsal: Rehearsal
    lines: list[str]
    outputs_file: Path

    def outputs(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.outputs_file.read_text(encoding="utf-8"))
        return data


@contextmanager
def served(plan: dict[str, Any]) -> Iterator[Served]:
    """`rehearse --serve` in a thread: what a developer runs before `verify --outputs`."""
    stream, stop = LineStream(), threading.Event()
    plan = copy.deepcopy(plan)
    with Rehearsal(plan) as rehearsal:
        worker = threading.Thread(
            target=serve_forever,
            args=(
                rehearsal,
                load_intent(plan["stack"], stack_file(plan["stack"])),
                plan["outputs"],
            ),
            kwargs={"out": stream, "stop": stop},
        )
        worker.start()
        try:
            lines = stream.until("READY")
            path = Path(next(x for x in lines if x.startswith("OUTPUTS_FILE=")).split("=", 1)[1])
            yield Served(rehearsal, lines, path)
        finally:
            stop.set()
            worker.join(15)


class DeveloperSignIn:
    """A TokenCredential standing in for `az login`: the emulated Entra's delegated token for
    a member of a developer group, through the Azure CLI's client ID. `.default` scopes only,
    as AzureCliCredential asks (it can pass only a resource)."""

    def __init__(self, rehearsal: Rehearsal, group: str = ORDERS_DEVELOPERS) -> None:
        self._issuer = rehearsal.issuer
        self._user = rehearsal.tenant.developer_by_group[group]
        self.scopes: list[str] = []

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        (scope,) = scopes
        self.scopes.append(scope)
        assert scope.endswith("/.default"), scope
        token = self._issuer.issue_user_token(
            self._user, DEVELOPER_TOOLS["azure-cli"], scope.removesuffix("/.default")
        )
        return AccessToken(token, int(claims_of(token)["exp"]))


def write_json(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path

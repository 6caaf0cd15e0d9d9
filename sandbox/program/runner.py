"""Run `__main__.py` under Pulumi mocks and record every registration the engine would see.

This is the offline stand-in for `pulumi preview`: the real program, the real SDK resource
classes, the real serialisation of inputs; only the engine and providers are mocked. The
recording monitor keeps what the plain mock monitor drops: parent, dependencies, property
dependencies, and which values are secret.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import copy
import json
import os
import runpy
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
from google.protobuf import struct_pb2  # type: ignore[import-untyped]  # no stubs pinned
from pulumi.runtime import rpc, settings
from pulumi.runtime.mocks import MockMonitor
from pulumi.runtime.stack import run_in_stack
from pulumi.runtime.sync_await import _sync_await

from sandbox.errors import SandboxError
from sandbox.program.mocks import StackMocks
from sandbox.program.stack_config import resolve_config

PROJECT_DIR = Path(__file__).resolve().parents[2]
SECRET = "[secret]"
STACK_TYPE = "pulumi:pulumi:Stack"


@dataclass
class Registration:
    urn: str
    type: str
    name: str
    parent: str | None
    custom: bool
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    dependencies: list[str]
    property_dependencies: dict[str, list[str]]


@dataclass
class ProgramRun:
    project: str
    stack: str
    resources: list[Registration] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()  # warnings about the config, to show on stderr


# The wire protocol's signature key and secret signature (sdk/go/common/resource/sig/sig.go:
# Key, Secret; the Python SDK's pulumi/runtime/rpc.py `_special_sig_key`, `_special_secret_sig`).
SIG_KEY = "4dabf18193072939515e22adb298388d"
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"


def decode(value: Any) -> Any:
    """An RPC value as plain Python, with each secret kept where it was marked.

    `rpc.deserialize_properties` pushes a nested secret up to the whole enclosing object or list
    (the Python runtime can only mark top-level outputs secret), so one secret setting would mask
    a site's every setting. The engine keeps the marker on the value itself (a PropertyValue is
    secret at any depth, sdk/go/common/resource/properties.go), and that is what a plan records.
    """
    if isinstance(value, struct_pb2.ListValue):
        return [decode(item) for item in value]
    if isinstance(value, struct_pb2.Struct):
        if SIG_KEY in value:
            if value[SIG_KEY] == SECRET_SIG:
                return rpc.wrap_rpc_secret(decode(value["value"]))
            return rpc.deserialize_properties(value, keep_unknowns=True)  # assets, references
        decoded = {key: decode(item) for key, item in value.items()}
        return {key: item for key, item in decoded.items() if item is not None}
    return rpc.deserialize_property(value, keep_unknowns=True)


def reveal(value: Any, mask: bool) -> Any:
    """Turn the RPC form into plain JSON values, masking secrets (or unwrapping them)."""
    if rpc.is_rpc_secret(value):
        return SECRET if mask else reveal(rpc.unwrap_rpc_secret(value), mask)
    if isinstance(value, dict):
        return {key: reveal(item, mask) for key, item in value.items()}
    if isinstance(value, list):
        return [reveal(item, mask) for item in value]
    return value


# The mock monitor's RPCs run on the SDK's executor threads, and each gives its thread an event
# loop of its own (pulumi/runtime/mocks.py calls sync_await._ensure_event_loop "because it's
# needed when deserializing resource references"). Nothing closes them; one collected at
# interpreter exit, after its self-pipe socket, prints "Exception ignored ... Invalid file
# descriptor: -1" on stderr now and then. So each RPC first gives its worker thread an open
# loop (the SDK's helper would keep a closed one) and notes it, and close_loops(), at exit,
# closes them all while the interpreter is still whole.
_WORKER_LOOPS: set[asyncio.AbstractEventLoop] = set()


def _open_worker_loop() -> None:
    if threading.current_thread() is threading.main_thread():
        return  # the main thread's loop is run_program's (_ensure_event_loop)
    try:
        loop = asyncio.get_event_loop()
    except RuntimeError:
        loop = None
    if loop is None or loop.is_closed():
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
    if not _WORKER_LOOPS:
        atexit.register(close_loops)
    _WORKER_LOOPS.add(loop)


def close_loops() -> None:
    """Close the worker threads' idle loops; registered with atexit, so it runs once the
    program is done and before the interpreter takes itself apart (closing them earlier, in a
    process that plans again, would strand the runtime's futures)."""
    for loop in set(_WORKER_LOOPS):
        if not loop.is_running() and not loop.is_closed():
            loop.close()
    _WORKER_LOOPS.clear()


class RecordingMonitor(MockMonitor):
    def __init__(self, mocks: StackMocks, run: ProgramRun) -> None:
        super().__init__(mocks)
        self.run = run
        self.stack_urn: str | None = None

    def make_urn(self, parent: str, type_: str, name: str) -> str:
        """URNs as the engine makes them: the stack is not part of a child's type chain, and
        the whole chain of parent types is (the plain mock keeps only the last one)."""
        if parent and parent != self.stack_urn:
            type_ = parent.split("::")[2] + "$" + type_
        return "urn:pulumi:" + "::".join([pulumi.get_stack(), pulumi.get_project(), type_, name])

    def Invoke(self, request: Any) -> Any:  # noqa: N802 (gRPC method name)
        _open_worker_loop()
        return super().Invoke(request)  # type: ignore[no-untyped-call]

    def ReadResource(self, request: Any) -> Any:  # noqa: N802
        _open_worker_loop()
        return super().ReadResource(request)  # type: ignore[no-untyped-call]

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802
        _open_worker_loop()
        response = super().RegisterResource(request)  # type: ignore[no-untyped-call]
        if request.type == STACK_TYPE:
            self.stack_urn = response.urn
            return response
        inputs = decode(request.object)
        state = self.resources[response.urn].state
        self.run.resources.append(
            Registration(
                urn=response.urn,
                type=request.type,
                name=request.name,
                parent=request.parent if request.parent != self.stack_urn else None,
                custom=bool(request.custom),
                inputs=reveal(inputs, mask=True),
                outputs=reveal(_mask_like(state, inputs), mask=True),
                dependencies=sorted(set(request.dependencies)),
                property_dependencies={
                    key: sorted(set(deps.urns))
                    for key, deps in sorted(request.propertyDependencies.items())
                    if deps.urns
                },
            )
        )
        return response

    def RegisterResourceOutputs(self, request: Any) -> Any:  # noqa: N802
        if request.urn == self.stack_urn:
            outputs = decode(request.outputs)
            self.run.outputs = reveal(outputs, mask=True)
        return super().RegisterResourceOutputs(request)  # type: ignore[no-untyped-call]


def _mask_like(state: Any, inputs: Any) -> Any:
    """Outputs echo inputs: keep an input's secrecy on the matching output value, at the same
    depth. The mock monitor hands the mocks inputs with nested secrets pushed up to their
    enclosing object, so an echoed object comes back wholly secret; where the input itself is
    not secret but holds one, unwrap it and mark only what the input marked."""
    if rpc.is_rpc_secret(inputs):
        return rpc.wrap_rpc_secret(rpc.unwrap_rpc_secret(state))
    if rpc.is_rpc_secret(state) and _holds_secret(inputs):
        state = rpc.unwrap_rpc_secret(state)
    if isinstance(state, dict) and isinstance(inputs, dict):
        return {key: _mask_like(value, inputs.get(key)) for key, value in state.items()}
    if isinstance(state, list) and isinstance(inputs, list) and len(state) == len(inputs):
        return [_mask_like(value, given) for value, given in zip(state, inputs, strict=True)]
    return state


def _holds_secret(value: Any) -> bool:
    if rpc.is_rpc_secret(value):
        return True
    if isinstance(value, dict):
        return any(_holds_secret(item) for item in value.values())
    if isinstance(value, list):
        return any(_holds_secret(item) for item in value)
    return False


def _ensure_event_loop() -> None:
    """The SDK's synchronous bridge needs a current loop; an earlier asyncio.run() in the same
    process (tests, the rehearsal) may have closed and cleared it."""
    try:
        loop = asyncio.get_event_loop()
    except RuntimeError:
        loop = None
    if loop is None or loop.is_closed():
        asyncio.set_event_loop(asyncio.new_event_loop())


def _drop_version_aliases(
    args: pulumi.ResourceTransformationArgs,
) -> pulumi.ResourceTransformationResult:
    """azure-native declares one alias per past API version of every resource type (25 for an
    APIM Api); resolving them is most of a plan's cost and changes nothing in it (aliases only
    matter for state the engine already holds, and there is none offline). The program's own
    aliases are kept."""
    aliases = [
        alias
        for alias in (args.opts.aliases or [])
        if not (
            isinstance(alias, pulumi.Alias)
            and isinstance(alias.type_, str)
            and alias.type_.startswith("azure-native:")
            and "/v" in alias.type_
        )
    ]
    opts = copy.copy(args.opts)
    opts.aliases = aliases or None
    return pulumi.ResourceTransformationResult(args.props, opts)


def _run_main(path: str) -> None:
    pulumi.runtime.register_stack_transformation(_drop_version_aliases)
    runpy.run_path(path, run_name="__main__")


def read_stack_config(
    stack: str, project_dir: Path = PROJECT_DIR, *, config_file: Path | None = None
) -> dict[str, str]:
    """The config the program gets for `stack`, decided as the Pulumi CLI decides it
    (sandbox/program/stack_config.py): namespaced keys, Go's text for scalars, JSON for
    objects and lists, project defaults applied, required and typed keys checked."""
    return resolve_config(stack, project_dir, config_file=config_file).config


@contextlib.contextmanager
def _engine_environment(config: dict[str, str], secret_keys: tuple[str, ...]) -> Iterator[None]:
    """PULUMI_CONFIG and PULUMI_CONFIG_SECRET_KEYS as the language host sets them for the
    program: the stack's config as JSON, over whatever the shell exported (pulumi/pulumi
    sdk/python/cmd/pulumi-language-python/main.go appends `PULUMI_CONFIG=<config JSON>` to the
    inherited environment; os/exec uses the last of duplicate keys). An inherited value that
    is not a JSON object would otherwise reach pulumi.runtime.get_config_env and crash."""
    saved = {key: os.environ.get(key) for key in _ENGINE_KEYS}
    os.environ["PULUMI_CONFIG"] = json.dumps(config)
    os.environ["PULUMI_CONFIG_SECRET_KEYS"] = json.dumps(list(secret_keys))
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


_ENGINE_KEYS = ("PULUMI_CONFIG", "PULUMI_CONFIG_SECRET_KEYS")


def run_program(
    stack: str, project_dir: Path = PROJECT_DIR, *, config_file: Path | None = None
) -> ProgramRun:
    """Run the real program for `stack` under mocks (preview=False, so outputs are known)."""
    from components.config import ConfigError

    resolved = resolve_config(stack, project_dir, config_file=config_file)
    _ensure_event_loop()
    run = ProgramRun(project=resolved.project, stack=stack, notes=resolved.notes)
    mocks = StackMocks(stack)
    pulumi.runtime.set_mocks(
        mocks,
        project=resolved.project,
        stack=stack,
        preview=False,
        monitor=RecordingMonitor(mocks, run),
    )
    # Always a list: a previous run's secret keys must not carry over (set_all_config keeps
    # the old set when given None).
    pulumi.runtime.set_all_config(resolved.config, list(resolved.secret_keys))
    # set_mocks opens a root stack of its own; the program gets a fresh one, as under the CLI.
    settings.ROOT.set(None)
    main = str(project_dir / "__main__.py")
    try:
        with _engine_environment(resolved.config, resolved.secret_keys):
            _sync_await(run_in_stack(lambda: _run_main(main)))
    except (pulumi.RunError, ConfigError) as error:
        refused = SandboxError(str(error))
        refused.notes = resolved.notes  # e.g. the null warning behind a value the program refuses
        raise refused from None
    return run

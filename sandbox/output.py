"""Writing what a command produces (plans, outputs files) without harming what is already there.

`-` means standard output. A regular file is replaced atomically (a temporary file in the same
folder, then a rename), so a failed run never leaves half a file behind. Anything else that
already exists at the path (a character device such as /dev/stdout or /dev/null, a FIFO) is
written in place: renaming over it would replace a device node with a regular file, which is
exactly what a run as root in a CI container must never do. A symbolic link is kept and its
target is written.
"""

from __future__ import annotations

import os
import stat
import sys
import tempfile
from pathlib import Path

from sandbox.errors import SandboxError, reason

STDOUT = "-"


def write_text(target: str | Path, text: str, *, option: str = "--out") -> str:
    """Write `text` to `target`; return how the target was written (for a progress line)."""
    if str(target) == STDOUT:
        try:
            sys.stdout.write(text)
            sys.stdout.flush()
        except BrokenPipeError:
            raise
        except OSError as error:
            raise stdout_refused(error) from None
        return "standard output"
    path = Path(target)
    try:
        mode = os.stat(path).st_mode  # follows symbolic links
    except FileNotFoundError:
        mode = None
    except OSError as error:
        raise _cannot(option, path, error) from None
    if mode is not None and stat.S_ISDIR(mode):
        raise SandboxError(
            f"{option} {path}: is a directory; give a file path such as plans/dev.json"
        )
    if mode is not None and not stat.S_ISREG(mode):
        _write_in_place(path, text, option)
        return f"{path} (in place: not a regular file)"
    real = Path(os.path.realpath(path)) if path.is_symlink() else path
    _replace_atomically(real, text, option, mode)
    return str(path)


def _write_in_place(path: Path, text: str, option: str) -> None:
    try:
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)
    except BrokenPipeError:
        raise  # `--out /dev/stdout | head`: the reader left; click exits quietly (code 1)
    except OSError as error:
        raise _cannot(option, path, error) from None


def _replace_atomically(path: Path, text: str, option: str, mode: int | None) -> None:
    try:
        # `--out plans/dev.json` in a fresh clone: make the folder, as `make plan` would.
        path.parent.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise SandboxError(f"{option} {path}: {path.parent} is not a folder") from None
    except OSError as error:
        raise _cannot(option, path, error) from None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as error:
        raise _cannot(option, path, error) from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        # mkstemp makes the file 0600; keep the permissions of the file being replaced, or
        # give a new file what open() would have given it.
        os.chmod(tmp, stat.S_IMODE(mode) if mode is not None else 0o666 & ~_umask())
        os.replace(tmp, path)
    except OSError as error:
        Path(tmp).unlink(missing_ok=True)
        raise _cannot(option, path, error) from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def stdout_refused(error: OSError) -> SandboxError:
    """Standard output refused a write (`>/dev/full`): say so once, and point stdout at
    /dev/null so the interpreter's own flush at exit does not print a second report (the
    recipe of the Python docs, "Note on SIGPIPE")."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # no real descriptor (a test's captured stdout)
        pass
    return SandboxError(f"cannot write to standard output ({reason(error)})")


def flush_stdout() -> None:
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        raise
    except OSError as error:
        raise stdout_refused(error) from None


def _cannot(option: str, path: Path, error: OSError) -> SandboxError:
    return SandboxError(f"{option} {path}: cannot write there ({reason(error)})")

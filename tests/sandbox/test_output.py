"""Writing outputs: atomic for regular files, in place for devices and FIFOs, links kept,
and one-line errors for the rest."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from sandbox.errors import SandboxError
from sandbox.output import write_text
from tests.fixture_stacks import config_file_args

ROOT = Path(__file__).resolve().parents[2]


def test_a_regular_file_is_replaced_whole_and_keeps_its_permissions(tmp_path: Path) -> None:
    target = tmp_path / "plan.json"
    target.write_text("old")
    target.chmod(0o640)
    write_text(target, "new")
    assert target.read_text() == "new"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["plan.json"]  # no temporary left behind


def test_a_symbolic_link_is_kept_and_its_target_written(tmp_path: Path) -> None:
    real = tmp_path / "real.json"
    real.write_text("old")
    link = tmp_path / "link.json"
    link.symlink_to(real)
    write_text(link, "new")
    assert link.is_symlink()
    assert real.read_text() == "new"


def test_a_fifo_is_written_in_place_never_replaced(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received: list[str] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_text()))
    reader.start()
    write_text(fifo, "through the pipe")
    reader.join(timeout=10)
    assert received == ["through the pipe"]
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)


def test_dev_null_stays_a_device(tmp_path: Path) -> None:
    write_text("/dev/null", "discarded")
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_a_missing_folder_is_made_as_make_plan_would(tmp_path: Path) -> None:
    write_text(tmp_path / "plans" / "dev.json", "{}")
    assert (tmp_path / "plans" / "dev.json").read_text() == "{}"


def test_a_directory_a_file_in_the_path_and_an_unwritable_place_are_one_line_errors(
    tmp_path: Path,
) -> None:
    with pytest.raises(SandboxError, match="is a directory; give a file path"):
        write_text(tmp_path, "x")
    (tmp_path / "file").write_text("x")
    with pytest.raises(SandboxError, match=r"cannot write there \(Not a directory\)"):
        write_text(tmp_path / "file" / "plan.json", "x")
    with pytest.raises(SandboxError, match="cannot write there"):
        write_text("/proc/plan.json", "x")


def test_plan_to_dev_stdout_prints_json_and_leaves_the_device_alone() -> None:
    # The issue's own check: `plan --out /dev/stdout | head -c 100`, run as CI runs it.
    args = " ".join(config_file_args("dev"))
    shell = f"{sys.executable} -m sandbox plan {args} --out /dev/stdout | head -c 100"
    result = subprocess.run(
        ["bash", "-c", shell], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.stdout.startswith('{\n  "format": "secure-api-calls-plan"')
    assert len(result.stdout) == 100
    kept = os.lstat("/dev/stdout").st_mode
    assert stat.S_ISLNK(kept) or stat.S_ISCHR(kept)


def test_a_link_to_a_device_stays_a_link_to_a_device(tmp_path: Path) -> None:
    # What `--out /dev/stdout` is inside a container, without touching the real one: a
    # rename over the path would turn the link into a regular file.
    link = tmp_path / "stdout"
    link.symlink_to("/dev/null")
    write_text(link, "discarded")
    assert link.is_symlink()
    assert stat.S_ISCHR(os.stat(link).st_mode)


def test_plan_to_dash_writes_only_json_to_stdout() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "sandbox", "plan", *config_file_args("dev"), "--out", "-"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("{") and result.stdout.endswith("}\n")
    assert result.stderr.startswith("wrote standard output: Resources:")

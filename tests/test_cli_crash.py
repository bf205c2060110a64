"""A crash is never a verdict: every command exits 70 on an internal error and saves the traceback."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from lab.errors import ExitCode
from lab.ui.cli import cli

# command -> (something the command calls, the arguments that reach it). A command added to the
# CLI without a line here fails test_every_command_is_covered.
CALLS: dict[str, tuple[str, tuple[str, ...]]] = {
    "scenarios": ("lab.spec.registry.scan", ()),
    "validate": ("lab.spec.registry.scan", ()),
    "plan": ("lab.ui.cli.catalogue.make_plan", ("canary-99-1",)),
    "up": ("lab.ui.cli.running.make_plan", ("canary-99-1", "--engine", "local")),
    "check": ("lab.lifecycle.running", ()),
    "traffic": ("lab.lifecycle.running", ()),
    "status": ("lab.lifecycle.status", ()),
    "get": ("lab.lifecycle.running", ("httproute",)),
    "apply": ("lab.lifecycle.apply", ("manifests/routes/canary-99-1.yaml",)),
    "down": ("lab.lifecycle.down", ()),
    "judge": ("lab.stats.verdict.judge", ("--expect", "99,1", "--observed", "990,10")),
    "sample-size": ("lab.stats.power.required_sample_size", ("--expect", "99,1")),
    "doctor": ("lab.engines.kube.doctor.run", ()),
    "prefetch": ("lab.engines.kube.prefetch.prefetch", ()),
    "kubeconfig": ("lab.engines.kube.kubeconfig.read", ()),
    "cluster": ("lab.engines.kube.cluster.prepare", ("prepare",)),
}


def test_every_command_is_covered() -> None:
    from lab.ui.cli import catalogue, cluster, host, inspect, judging, operate, running  # noqa: F401 (all of them)

    assert set(CALLS) == set(cli.list_commands(click.Context(cli))) == set(cli.commands)


def _boom(*args: object, **kwargs: object) -> None:
    raise RuntimeError("forced internal error")


@pytest.mark.parametrize("command", sorted(CALLS))
def test_an_internal_error_exits_70_never_1(
    command: str, repo_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target, args = CALLS[command]
    monkeypatch.setattr(target, _boom)
    monkeypatch.setenv("LAB_CRASH_DIR", str(tmp_path / "crashes"))
    monkeypatch.chdir(repo_root)
    state = (
        ("--state-dir", str(tmp_path / "state"))
        if command in {"check", "traffic", "status", "apply", "down", "up", "get", "cluster"}
        else ()
    )
    result = CliRunner().invoke(cli, ["--lab-dir", str(repo_root), command, *args, *state])
    assert result.exit_code == ExitCode.CRASH == 70, result.output
    assert "this is a bug in lab" in result.output
    (saved,) = (tmp_path / "crashes").iterdir()
    assert str(saved) in result.output
    text = saved.read_text()
    assert "RuntimeError: forced internal error" in text and "Traceback" in text
    assert command in text  # the command line that crashed
    assert saved.stat().st_mode & 0o077 == 0  # private: it may hold paths and arguments


def test_without_a_writable_crash_folder_the_traceback_goes_to_the_screen(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("lab.stats.power.required_sample_size", _boom)
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("LAB_CRASH_DIR", str(blocker / "sub"))
    result = CliRunner().invoke(cli, ["sample-size", "--expect", "99,1"])
    assert result.exit_code == 70, result.output
    assert "this is a bug in lab" in result.output
    assert "RuntimeError: forced internal error" in result.output


@pytest.mark.parametrize("raised", [KeyboardInterrupt, click.exceptions.Abort])
def test_ctrl_c_outside_the_traffic_run_exits_130(monkeypatch: pytest.MonkeyPatch, raised: type[BaseException]) -> None:
    """click's own Abort (a prompt's Ctrl-C or end of input) would print "Aborted!" and exit 1."""

    def interrupted(*args: object, **kwargs: object) -> None:
        raise raised

    monkeypatch.setattr("lab.stats.power.required_sample_size", interrupted)
    result = CliRunner().invoke(cli, ["sample-size", "--expect", "99,1"])
    assert result.exit_code == ExitCode.INTERRUPTED == 130, result.output
    assert "interrupted" in result.output


def test_errors_a_user_can_cause_keep_their_codes() -> None:
    result = CliRunner().invoke(cli, ["judge", "--expect", "99,1", "--observed", "x"])
    assert result.exit_code == 3, result.output
    result = CliRunner().invoke(cli, ["judge", "--no-such-option"])
    assert result.exit_code == 2, result.output


@pytest.mark.parametrize("args", [["--help"], [], ["--lab-dir", ".", "--help"]])
def test_an_internal_error_before_any_command_runs_exits_70(
    args: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`lab --help` (and `lab` alone) import every command module to list them: a bug there is a crash too."""
    from lab.ui.cli import app

    monkeypatch.setitem(app.COMMAND_MODULES, "broken", "no_such_module")  # a command whose module is gone
    monkeypatch.setenv("LAB_CRASH_DIR", str(tmp_path / "crashes"))
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 70, (result.output, result.exception)
    assert "this is a bug in lab" in result.output
    (saved,) = (tmp_path / "crashes").iterdir()
    assert "ModuleNotFoundError" in saved.read_text()


@pytest.mark.parametrize("output", ["text", "json"])
@pytest.mark.parametrize("observed", ["990,10", "900,100"])
def test_a_reader_that_goes_away_exits_141_never_1(output: str, observed: str, tmp_path: Path) -> None:
    """`lab judge ... | head -1`: rich's Console answers a broken pipe with exit 1, which means FAIL."""
    import os
    import subprocess
    import sys

    read, write = os.pipe()
    os.close(read)  # no reader at all: the first write fails with EPIPE
    try:
        done = subprocess.run(
            [sys.executable, "-m", "lab", "judge", "--expect", "99,1", "--observed", observed, "--output", output],
            stdout=write,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "LAB_CRASH_DIR": str(tmp_path)},
            check=False,
        )
    finally:
        os.close(write)
    assert done.returncode == ExitCode.BROKEN_PIPE == 141, done.stderr
    assert "Traceback" not in done.stderr and "bug" not in done.stderr, done.stderr
    assert not list(tmp_path.iterdir())  # no crash report: nothing went wrong in lab


# a `lab` command whose start-up (importing its modules, ~0.3 s on a busy machine) is interrupted
INTERRUPTED_START = """
import importlib, sys, tomllib
class Interrupt:
    def find_spec(self, name, path=None, target=None):
        if name == {module!r}:
            raise KeyboardInterrupt
        return None
sys.meta_path.insert(0, Interrupt())
entry = tomllib.load(open({pyproject!r}, "rb"))["project"]["scripts"]["lab"]
module, func = entry.split(":")
getattr(importlib.import_module(module), func)()
"""


@pytest.mark.parametrize("module", ["lab.spec.scenario", "lab.ui.cli.app", "click", "lab.ui.cli.running"])
def test_ctrl_c_while_lab_starts_exits_130_without_a_traceback(repo_root: Path, module: str) -> None:
    """Issue 11 item 1: `timeout -s INT 0.3 lab up ...` hit the imports and printed a traceback."""
    import subprocess
    import sys

    script = INTERRUPTED_START.format(module=module, pyproject=str(repo_root / "pyproject.toml"))
    done = subprocess.run(
        [sys.executable, "-c", script, "up", "canary-99-1", "--engine", "local", "--state-dir", "/nonexistent/lab"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=repo_root,
    )
    assert done.returncode == ExitCode.INTERRUPTED == 130, done.stdout + done.stderr
    assert "Traceback" not in done.stderr and "interrupted" in done.stderr, done.stderr

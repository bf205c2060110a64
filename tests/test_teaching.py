"""Teaching mode and `lab plan`: one sequence, with every step's route switch, the lab's own CA path
and port, the tutorial's curl loop beside `lab check`; teaching mode refuses without a terminal."""

from __future__ import annotations

import functools
import io
import re
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner
from rich.console import Console

from lab.errors import UsageError
from lab.spec.commands import CommandStep, Where, tutorial
from lab.spec.plan import make_plan
from lab.spec.registry import LabDir
from lab.timeouts import DEFAULT
from lab.ui.cli import cli
from lab.ui.teaching import Teacher
from tests import test_local_cli
from tests.test_local_cli import Lab

ROOT = Path(__file__).resolve().parent.parent
local = test_local_cli.local  # a real embedded lab in tmp_path, taken down after the test
ROUTE_FILES = ("canary-99-1", "canary-90-10", "split-50-50", "blue-green-green")


def lab(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def commands(out: str) -> list[str]:
    return [line.strip()[2:] for line in out.splitlines() if line.strip().startswith("$ ")]


def test_refuses_without_a_terminal() -> None:
    result = CliRunner().invoke(
        cli, ["up", "canary-99-1", "--engine", "local", "--step"], catch_exceptions=False
    )
    assert result.exit_code == 2, result.output
    assert "standard input is not a terminal" in result.output


def test_shows_each_part_of_the_sequence_and_waits() -> None:
    plan = make_plan(LabDir(ROOT), "progressive-canary")
    out = io.StringIO()
    prompts: list[str] = []
    teacher = Teacher(
        Console(file=out, width=80),
        enabled=True,
        steps=tutorial(plan, Where(), DEFAULT),
        wait=lambda p: prompts.append(p) or "",
        is_terminal=lambda: True,
    )
    teacher.before_start()
    for step in plan.steps:
        teacher.before_step(step.step.name)
        teacher.before_check(step.step.name)
    text = out.getvalue()
    assert len(prompts) == 1 + 2 * len(plan.steps)
    assert "kind create cluster --name lab" in text
    assert "helm install consul consul" in text
    assert "kubectl --kubeconfig .lab/kubeconfig apply -f manifests/routes/canary-90-10.yaml" in text
    assert "the canary looks healthy: 10%" in text
    assert "curl -sS --fail --cacert .lab/ca.pem https://localhost:8443/echo" in text
    assert commands(text) == [line for s in tutorial(plan, Where(), DEFAULT) for line in s.shell()]


def test_disabled_teacher_never_waits() -> None:
    plan = make_plan(LabDir(ROOT), "canary-99-1")
    teacher = Teacher(
        Console(file=io.StringIO()),
        enabled=False,
        steps=tutorial(plan, Where(), DEFAULT),
        wait=lambda p: (_ for _ in ()).throw(AssertionError(p)),
        is_terminal=lambda: False,
    )
    teacher.before_start()
    teacher.before_step(plan.first.step.name)
    teacher.before_check(plan.first.step.name)


def test_plan_and_teaching_mode_print_the_same_sequence_for_this_lab(
    local: Lab, monkeypatch: pytest.MonkeyPatch
) -> None:
    state, port = local.state_dir, local.port
    where = ("--state-dir", str(state), "--port", f"8443={port}")
    code, planned = lab("plan", "progressive-canary", "--engine", "local", *where)
    assert code == 0, planned
    prompts: list[str] = []
    terminal = functools.partial(Teacher, is_terminal=lambda: True, wait=lambda p: prompts.append(p) or "")
    monkeypatch.setattr("lab.ui.cli.running.Teacher", terminal)
    code, taught = lab("up", "progressive-canary", "--engine", "local", "--step", *where)
    assert code == 0, taught
    assert len(prompts) == 1 + 2 * 4

    assert commands(taught) == commands(planned)
    lines = commands(taught)
    for route in ROUTE_FILES:
        assert f"kubectl --kubeconfig {state}/kubeconfig apply -f manifests/routes/{route}.yaml" in lines
    loops = [line for line in lines if line.startswith("for i in $(seq ")]
    assert len(loops) == 4
    for loop in loops:
        assert f"curl -sS --fail --cacert {state}/ca.pem https://localhost:{port}/echo; done" in loop
        assert loop.endswith("| sort | uniq -c")
    checks = [line for line in lines if line.startswith("lab check ")]
    assert checks == [
        f"lab check progressive-canary --step-name {name} --state-dir {state}"
        for name in ("canary-1", "canary-10", "canary-50", "canary-100")
    ]
    for out in (planned, taught):
        # cluster, CRDs, Consul, CA, services, then each of the 4 route switches
        assert out.count("emulated by the embedded engine") == 5 + 4
        assert "no cluster; one background process" in out
    assert f"CA:      {state}/ca.pem" in taught  # the lab's own CA is the one the commands use
    # the summary table (the sequential any-hit rule stops at 99 answers; requests in flight are sent too)
    row = re.search(r"canary-100\W+PASS\W+(\d+)\W+0\W+[\d.]+ s", taught)
    assert row and 99 <= int(row.group(1)) <= 99 + 16, taught

    # the last loop, run as printed against the lab left at its last step: every answer from echo-2
    done = subprocess.run(
        ["bash", "-c", loops[-1]], capture_output=True, text=True, timeout=120, check=False, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["99", "echo-2"], done.stdout + done.stderr


def test_the_check_beside_the_loop_says_how_it_differs_from_the_loop() -> None:
    plan = make_plan(LabDir(ROOT), "canary-99-1")
    step = tutorial(plan, Where(), DEFAULT)[-1]
    assert step.shell()[0].startswith("for i in $(seq 757); do curl ")
    assert step.shell()[1] == "lab check canary-99-1"
    assert "stops as soon as the verdict is clear" in step.why and "`lab check --fixed` sends the loop's 757" in step.why
    fixed = tutorial(plan, Where(), DEFAULT, 200, fixed=True)[-1]
    assert fixed.shell()[0].startswith("for i in $(seq 200); do curl ")
    assert fixed.shell()[1] == "lab check canary-99-1 --requests 200 --fixed"
    assert "then `lab check --fixed`: the same 200 requests, judged against the weights" in fixed.why


def test_teaching_mode_shows_the_check_lab_up_runs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    shown: list[str] = []

    def teacher(*args: object, steps: list[CommandStep], **kwargs: object) -> Teacher:
        shown.extend(line for s in steps for line in s.shell())
        raise UsageError("stop before the lab starts")

    monkeypatch.setattr("lab.ui.cli.running.Teacher", teacher)
    code, out = lab("up", "canary-99-1", "--engine", "local", "--step", "--fixed", "--requests", "300",
                    "--state-dir", str(tmp_path))  # fmt: skip
    assert code == 2 and "stop before the lab starts" in out, out
    assert f"lab check canary-99-1 --requests 300 --fixed --state-dir {tmp_path}" in shown

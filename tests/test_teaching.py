"""Teaching mode: pauses before each step with what, why and the command; refuses without a terminal."""

from __future__ import annotations

import io
from pathlib import Path

from click.testing import CliRunner
from rich.console import Console

from lab.spec.plan import make_plan
from lab.spec.registry import LabDir
from lab.ui.cli import cli
from lab.ui.teaching import Teacher

ROOT = Path(__file__).resolve().parent.parent


def test_refuses_without_a_terminal() -> None:
    result = CliRunner().invoke(
        cli, ["up", "canary-99-1", "--engine", "local", "--step"], catch_exceptions=False
    )
    assert result.exit_code == 2, result.output
    assert "standard input is not a terminal" in result.output


def test_shows_each_step_with_why_and_command_and_waits() -> None:
    plan = make_plan(LabDir(ROOT), "progressive-canary")
    out = io.StringIO()
    prompts: list[str] = []
    teacher = Teacher(
        Console(file=out, width=200),
        enabled=True,
        wait=lambda p: prompts.append(p) or "",
        is_terminal=lambda: True,
    )
    teacher.before_start(plan)
    for step in plan.steps:
        teacher.before_step(plan, step)
        teacher.before_check(step)
    text = out.getvalue()
    assert len(prompts) == 1 + 2 * len(plan.steps)
    assert "kind create cluster --name lab" in text
    assert "helm install consul consul" in text
    assert "kubectl --kubeconfig .lab/kubeconfig apply -f manifests/routes/canary-90-10.yaml" in text
    assert "the canary looks healthy: 10%" in text
    assert "curl --cacert .lab/ca.pem https://localhost:8443/echo" in text


def test_disabled_teacher_never_waits() -> None:
    plan = make_plan(LabDir(ROOT), "canary-99-1")
    teacher = Teacher(
        Console(file=io.StringIO()),
        enabled=False,
        wait=lambda p: (_ for _ in ()).throw(AssertionError(p)),
        is_terminal=lambda: False,
    )
    teacher.before_start(plan)
    teacher.before_step(plan, plan.first)
    teacher.before_check(plan.first)

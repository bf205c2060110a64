"""Teaching mode (`lab up --step`): stop before each step, say what it does, why, and the command.

Instructors project it; it waits for Enter and refuses to run without a terminal.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from rich.console import Console
from rich.panel import Panel
from rich.text import Text

from lab.errors import UsageError
from lab.spec.commands import CommandStep, drive_step, route_step, tutorial_steps
from lab.spec.plan import Plan, StepPlan


class Teacher:
    """Pauses before each step when enabled; a no-op otherwise."""

    def __init__(
        self,
        console: Console,
        *,
        enabled: bool,
        wait: Callable[[str], str] = input,
        is_terminal: Callable[[], bool] = lambda: sys.stdin.isatty(),
    ) -> None:
        if enabled and not is_terminal():
            raise UsageError(
                "--step waits for Enter before each step, but standard input is not a terminal",
                fix="run it in a terminal, or leave out --step (`lab plan SCENARIO` prints the steps)",
            )
        self.console = console
        self.enabled = enabled
        self._wait = wait

    def _show(self, steps: list[CommandStep]) -> None:
        if not self.enabled:
            return
        for step in steps:
            body = Text(f"{step.why}\n")
            for line in step.shell():
                body.append(f"\n$ {line}", style="bold")
            self.console.print(Panel(body, title=f"next: {step.title}", title_align="left"))
        self._wait("press Enter to run it ")

    def before_start(self, plan: Plan) -> None:
        """The provision, install and base-apply steps, as the tutorial types them."""
        self._show(
            [s for s in tutorial_steps(plan) if s.stage in ("provision", "install")]
            + [tutorial_steps(plan)[3]]
        )

    def before_step(self, plan: Plan, step: StepPlan) -> None:
        """Applying one scenario step's routes."""
        self._show([route_step(plan, step)])

    def before_check(self, step: StepPlan) -> None:
        """Driving and judging the step's traffic."""
        self._show([drive_step(step)])
